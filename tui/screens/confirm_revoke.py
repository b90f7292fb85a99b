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


def key_lines(keys: list[tuple[str, str, str]], limit: int = MAX_LISTED, hidden: int = 0) -> Text:
    """One line per key (name, scope, id), at most ``limit``, then ``and N more``; first, how
    many of them the filter hides from the table (``hidden``)."""
    lines = Text()
    if hidden:
        are = "is" if hidden == 1 else "are"
        lines.append(f"{hidden} of these {len(keys)} marked keys {are} hidden by the filter.\n",
                     style="bold")
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

    DEFAULT_CSS = """
    ConfirmRevoke {
        align: center middle;
    }
    ConfirmRevoke #confirm-dialog {
        width: 64;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $error;
        background: $surface;
        padding: 0 1;
    }
    ConfirmRevoke #confirm-title {
        dock: top;
        text-style: bold;
        color: $text-error;
        width: 1fr;
        margin-bottom: 1;
    }
    ConfirmRevoke #confirm-keys {
        height: auto;
        max-height: 100%;
    }
    ConfirmRevoke #confirm-bottom {
        dock: bottom;
        height: auto;
    }
    ConfirmRevoke #confirm-warning {
        margin-top: 1;
    }
    ConfirmRevoke #confirm-buttons {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    ConfirmRevoke #confirm-buttons Button {
        margin-left: 2;
    }
    """

    def __init__(self, keys: list[tuple[str, str, str]], *, hidden: int = 0) -> None:
        super().__init__()
        self.keys = list(keys)
        self.hidden = hidden  # how many of the keys the main table's filter hides

    def compose(self) -> ComposeResult:
        """Title, the keys, what revoking means, and Cancel / Yes, Delete."""
        count = len(self.keys)
        with Vertical(id="confirm-dialog"):
            yield Label(revoke_title(count), id="confirm-title")
            with VerticalScroll(id="confirm-keys", can_focus=False):
                yield Static(key_lines(self.keys, hidden=self.hidden), id="confirm-list")
            with Vertical(id="confirm-bottom"):
                it = "it" if count == 1 else "them"
                yield Static(
                    f"Every integration using {it} stops working at once. "
                    f"A revoked key cannot be reissued: you would create a new one.",
                    id="confirm-warning",
                )
                with Horizontal(id="confirm-buttons"):
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
