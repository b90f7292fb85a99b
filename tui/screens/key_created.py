"""Key created: the new key's full secret, once, with a way to copy it."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static

from store.models import CreatedKey, Scope
from tui.clipboard import copy_text
from tui.format import expiry_phrase, scope_label, short_time
from tui.text import literal

ANALYTICS_WARNING = "This secret will never be shown again. Copy it now and store it safely."
REVEAL_AGAIN = "You can reveal and copy it again from the key's details (v, c)."


class KeyCreatedScreen(ModalScreen[None]):
    """Show a new key's secret in full; ``c`` copies it, ``enter`` or ``escape`` closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "copy", "Copy"),
        Binding("enter", "done", "Done"),
        Binding("escape", "done", "Done", show=False),
    ]
    AUTO_FOCUS = "#done"

    DEFAULT_CSS = """
    KeyCreatedScreen {
        align: center middle;
    }
    KeyCreatedScreen #created-dialog {
        width: 70;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $success;
        background: $surface;
        padding: 0 1;
    }
    KeyCreatedScreen #created-title {
        text-style: bold;
        color: $text-success;
        width: 1fr;
    }
    KeyCreatedScreen #created-key {
        margin-top: 1;
    }
    KeyCreatedScreen #secret {
        border: round $accent;
        border-title-color: $text-muted;
        padding: 0 1;
        margin-top: 1;
        text-style: bold;
        width: 1fr;
    }
    KeyCreatedScreen #secret-note {
        padding: 0 1;
        color: $text-muted;
    }
    KeyCreatedScreen #secret-note.-warning {
        color: $text-warning;
        background: $warning-muted;
        text-style: bold;
    }
    KeyCreatedScreen #created-buttons {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    KeyCreatedScreen #created-buttons Button {
        margin-left: 2;
    }
    """

    def __init__(self, created: CreatedKey) -> None:
        super().__init__()
        self.created = created

    def compose(self) -> ComposeResult:
        """Title, which key, the secret in a box, the note for its scope, and buttons."""
        key = self.created.key
        analytics = key.scope is Scope.ANALYTICS
        summary = Text.assemble(
            literal(key.name, style="bold"), f"  {scope_label(key.scope.value)} key · {key.id}"
        )
        if key.expires_at:
            summary.append(
                f"\nExpires {short_time(key.expires_at)} UTC "
                f"({expiry_phrase(key.expires_at, self.app.repo.clock())})"
            )
        with Vertical(id="created-dialog"):
            yield Label("API key created", id="created-title")
            yield Static(summary, id="created-key")
            secret = Static(Text(self.created.secret.get_secret_value()), id="secret")
            secret.border_title = "Secret"
            yield secret
            yield Static(
                ANALYTICS_WARNING if analytics else REVEAL_AGAIN,
                id="secret-note", classes="-warning" if analytics else "",
            )
            with Horizontal(id="created-buttons"):
                yield Button("Copy", id="copy")
                yield Button("Done", variant="primary", id="done")
        yield Footer()

    @on(Button.Pressed, "#copy")
    def action_copy(self) -> None:
        """Copy the secret to the clipboard (or to the terminal over SSH)."""
        message = copy_text(self.app, self.created.secret.get_secret_value())
        self.notify(message)

    @on(Button.Pressed, "#done")
    def action_done(self) -> None:
        """Close: the secret of an Analytics key is gone for good after this."""
        self.dismiss(None)
