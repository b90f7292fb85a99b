"""Key created: the new key's full secret, once, with a way to copy it. A rolled key's new
secret is shown here too, with when its previous secret stops working.

An Analytics secret is never one keystroke from gone (SPEC §5): **Copy** has the focus, and
closing before a copy asks first, with **Cancel** focused.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static

from store.models import CreatedKey, RolledKey, Scope
from store.presenter import expiry_phrase, when
from tui.clipboard import SENT_TO_TERMINAL, copy_text
from tui.format import scope_label
from tui.text import literal

from .prompts import ConfirmDialog

ANALYTICS_WARNING = "This secret will never be shown again. Copy it now and store it safely."
REVEAL_AGAIN = "You can reveal and copy it again from the key's details (v, c)."
# The clipboard's own OSC 52 message points at the details' reveal, which an Analytics key
# does not have: here the secret is on screen, so that is where to take it from.
SENT_FROM_HERE = (
    "Copy sent to your terminal (OSC 52); if nothing arrived, select the secret on screen "
    "before closing"
)
CLOSE_UNCOPIED_TITLE = "Close without copying?"
CLOSE_UNCOPIED = (
    "This Analytics secret is not stored: it can never be shown again. "
    "Without it, the key is useless and you would create a new one."
)


class KeyCreatedScreen(ModalScreen[None]):
    """Show a new key's secret in full; ``c`` copies it, ``escape`` (or Done) closes.

    ``enter`` presses the focused button: Copy at first, so it never closes by accident.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "copy", "Copy"),
        Binding("escape", "done", "Done"),
        Binding("enter", "done", "Done", show=False),  # on Copy (focused), enter copies
    ]
    AUTO_FOCUS = "#copy"
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(self, created: CreatedKey | RolledKey) -> None:
        super().__init__()
        self.created = created
        self.copied = False

    @property
    def analytics(self) -> bool:
        """Whether this secret is shown now and never again."""
        return self.created.key.scope is Scope.ANALYTICS

    def compose(self) -> ComposeResult:
        """Title, which key, the secret in a box, the note for its scope, and buttons."""
        key = self.created.key
        summary = Text.assemble(
            literal(key.name, style="bold"), f"  {scope_label(key.scope.value)} key · {key.id}"
        )
        if key.expires_at:
            now = self.app.repo.clock()  # type: ignore[attr-defined]
            summary.append(f"\nExpires {when(key.expires_at)} ({expiry_phrase(key.expires_at, now)})")
        rolled = isinstance(self.created, RolledKey)
        if isinstance(self.created, RolledKey):
            until = self.created.previous_valid_until
            now_iso = self.app.repo.now()  # type: ignore[attr-defined]
            summary.append(
                f"\nPrevious secret works until {when(until)}" if until > now_iso
                else "\nThe previous secret stopped working",
                style="bold",
            )
        with Vertical(id="created-dialog", classes="dialog -success"):
            yield Label("Key rolled: new secret" if rolled else "API key created",
                        id="created-title", classes="dialog-title")
            yield Static(summary, id="created-key")
            secret = Static(Text(self.created.secret.get_secret_value()), id="secret")
            secret.border_title = "Secret"
            yield secret
            yield Static(
                ANALYTICS_WARNING if self.analytics else REVEAL_AGAIN,
                id="secret-note", classes="dialog-warning" if self.analytics else "",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Copy", variant="primary", id="copy")
                yield Button("Done", id="done")
        yield Footer()

    @on(Button.Pressed, "#copy")
    def action_copy(self) -> None:
        """Copy the secret to the clipboard (or to the terminal over SSH)."""
        message = copy_text(self.app, self.created.secret.get_secret_value())
        self.copied = True
        self.notify(SENT_FROM_HERE if message == SENT_TO_TERMINAL else message)

    @on(Button.Pressed, "#done")
    def action_done(self) -> None:
        """Close; an Analytics secret that was not copied is asked about first."""
        if not self.analytics or self.copied:
            self.dismiss(None)
            return
        dialog = ConfirmDialog(CLOSE_UNCOPIED_TITLE, CLOSE_UNCOPIED, confirm="Close", danger=True)
        dialog.then(self, lambda: self.dismiss(None))
