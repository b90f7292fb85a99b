"""The "Yes, Delete" question before one or more keys are revoked. It only asks."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static

from tui.format import scope_label
from tui.text import literal

MAX_LISTED = 8  # names listed in a bulk revoke; the rest are counted


def revoke_title(count: int) -> str:
    """``Revoke API key?`` or ``Revoke 3 API keys?``."""
    return "Revoke API key?" if count == 1 else f"Revoke {count} API keys?"


def key_lines(keys: list[tuple[str, str, str]], limit: int = MAX_LISTED) -> Text:
    """One line per key (name, scope, id), at most ``limit``, then ``and N more``."""
    lines = Text()
    for index, (key_id, name, scope) in enumerate(keys[:limit]):
        if index:
            lines.append("\n")
        lines.append("• ")
        lines.append_text(literal(name, style="bold"))
        lines.append(f"  {scope_label(scope)} · {key_id}", style="dim")
    if len(keys) > limit:
        lines.append(f"\nand {len(keys) - limit} more")
    return lines


class ConfirmRevoke(ModalScreen[bool]):
    """Ask before revoking ``keys`` (each ``(id, name, scope)``): True means revoke."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("left", "app.focus_previous", "Previous button", show=False),
        Binding("right", "app.focus_next", "Next button", show=False),
    ]
    AUTO_FOCUS = "#cancel"
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(self, keys: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.keys = list(keys)

    def compose(self) -> ComposeResult:
        """Title, the keys, what revoking means, and Cancel / Yes, Delete."""
        count = len(self.keys)
        with Vertical(id="confirm-dialog", classes="dialog -danger"):
            yield Label(revoke_title(count), id="confirm-title", classes="dialog-title dialog-header")
            with VerticalScroll(id="confirm-keys", can_focus=False):
                yield Static(key_lines(self.keys), id="confirm-list")
            with Vertical(id="confirm-bottom", classes="dialog-bottom"):
                it = "it" if count == 1 else "them"
                yield Static(
                    f"Every integration using {it} stops working at once. "
                    f"A revoked key cannot be reissued: you would create a new one.",
                    id="confirm-warning",
                )
                with Horizontal(id="confirm-buttons", classes="dialog-buttons"):
                    yield Button("Cancel", id="cancel")
                    yield Button("Yes, Delete", variant="error", id="yes")
        yield Footer()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Keep the keys."""
        self.dismiss(False)

    @on(Button.Pressed, "#yes")
    def _confirmed(self) -> None:
        self.dismiss(True)
