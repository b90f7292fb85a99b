"""The "Yes, Delete" question before one or more keys are revoked. It only asks."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Label, Static

from tui.format import scope_label
from tui.text import literal

from .prompts import ConfirmDialog

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


class ConfirmRevoke(ConfirmDialog):
    """Ask before revoking ``keys`` (each ``(id, name, scope)``): True means revoke."""

    def __init__(self, keys: list[tuple[str, str, str]], *, hidden: int = 0) -> None:
        count = len(keys)
        it = "it" if count == 1 else "them"
        super().__init__(
            revoke_title(count),
            f"Every integration using {it} stops working at once. "
            "A revoked key cannot be reissued: you would create a new one.",
            confirm="Yes, Delete", danger=True,
        )
        self.keys = list(keys)
        self.hidden = hidden  # how many of the keys the main table's filter hides

    def compose(self) -> ComposeResult:
        """Title, the keys, what revoking means, and Cancel / Yes, Delete."""
        with Vertical(id="confirm-dialog", classes="dialog -danger"):
            yield Label(self.question, id="confirm-title", classes="dialog-title dialog-header")
            with VerticalScroll(id="confirm-keys", can_focus=False):
                yield Static(key_lines(self.keys, hidden=self.hidden), id="confirm-list")
            with Vertical(id="confirm-bottom", classes="dialog-bottom"):
                yield Static(self.message, id="confirm-warning")
                with Horizontal(id="confirm-buttons", classes="dialog-buttons"):
                    yield Button("Cancel", id="cancel")
                    yield Button(self.confirm_label, variant="error", id="yes")
        yield Footer()

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)
