"""What Create key and Edit key share: the dialog around :class:`KeyFields`, saving in a worker
with errors shown beside their fields, and ``escape`` that asks before throwing edits away.

The two forms are :class:`~tui.screens.create_key.CreateKeyModal` and
:class:`~tui.screens.edit_key.EditKeyModal`; each says what saving means (:meth:`save_call`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from store.errors import InvalidInput, StoreError
from store.repository import Repository
from tui.text import literal
from tui.widgets.key_fields import KeyFields, error_label
from tui.workers import store_call

from .prompts import ConfirmDialog

ResultT = TypeVar("ResultT")

DISCARD_TITLE = "Discard your changes?"
DISCARD_MESSAGE = "What you typed in this form is not saved and will be lost."


class KeyFormModal(ModalScreen[ResultT | None], Generic[ResultT]):
    """A form over :class:`KeyFields`; dismisses with what the store saved, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
    ]
    DEFAULT_CLASSES = "dialog-screen"
    TITLE_TEXT = ""

    def __init__(self) -> None:
        super().__init__()
        self.saving = False
        self.refusal: str | None = None  # why this form cannot save at all (the rule book's words)
        self._opened_state: tuple[tuple[str | None, object], ...] | None = None

    # -- what a form says -----------------------------------------------------------------

    def make_fields(self) -> KeyFields:
        """The fields this form shows."""
        raise NotImplementedError

    def context(self) -> Static | None:
        """A line under the title (which key is edited), or None."""
        return None

    def save_call(self) -> Callable[[], ResultT] | None:
        """What saving runs in a worker, or None when there is nothing to send (having shown
        why, if anything is wrong)."""
        raise NotImplementedError

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Title, the scrolling fields, the general error line and the buttons."""
        with Vertical(id="dialog", classes="dialog -wide"):
            with Vertical(id="form-header"):
                yield Label(self.TITLE_TEXT, id="form-title", classes="dialog-title")
                context = self.context()
                if context is not None:
                    yield context
            with VerticalScroll(id="form-body"):
                yield self.make_fields()
            with Vertical(id="form-footer"):
                yield error_label("form")
                with Horizontal(id="form-buttons", classes="dialog-buttons"):
                    yield Button("Save", variant="primary", id="save")
                    yield Button("Cancel", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        """Start on the name; remember the fields as opened, to know if anything changed."""
        self.query_one("#name", Input).focus()
        self.call_after_refresh(self._remember_opened_state)

    def _remember_opened_state(self) -> None:
        self._opened_state = self.fields.state()

    @property
    def repo(self) -> Repository:
        """The app's store, acting as the app's login."""
        return self.app.repo  # type: ignore[attr-defined]

    @property
    def fields(self) -> KeyFields:
        """The form's fields."""
        return self.query_one(KeyFields)

    @property
    def touched(self) -> bool:
        """Whether the admin changed any field since the form opened."""
        return self._opened_state is not None and self.fields.state() != self._opened_state

    # -- moving and leaving ---------------------------------------------------------------

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        """Close without saving; a form with changes asks first (Cancel focused)."""
        if not self.touched:
            self.dismiss(None)
            return
        dialog = ConfirmDialog(DISCARD_TITLE, DISCARD_MESSAGE, confirm="Discard", danger=True)
        dialog.then(self, lambda: self.dismiss(None))

    # -- saving ---------------------------------------------------------------------------

    def action_save(self) -> None:
        """Send the form to the store in a worker; errors keep the form open."""
        if self.saving or self.refusal is not None:
            return
        self.clear_errors()
        call = self.save_call()
        if call is None:
            return
        self.saving = True
        self.query_one("#save", Button).disabled = True
        store_call(self, call, done=self._saved, failed=self._refused)

    def _saved(self, result: ResultT) -> None:
        self.saving = False
        self.dismiss(result)

    def _refused(self, error: StoreError) -> None:
        self.saving = False
        self.query_one("#save", Button).disabled = False
        self.show_errors(self.errors_of(error))

    def errors_of(self, error: StoreError) -> dict[str, str]:
        """A store error as ``{field: message}``; what names no field goes on the general line."""
        if isinstance(error, InvalidInput):
            return dict(error.errors)
        return {"input": str(error)}

    def show_errors(self, errors: dict[str, str]) -> None:
        """Each message under its field (focus on the first); the rest on the general line."""
        general = self.fields.show_errors(errors)
        if general:
            self.show_form_error("; ".join(general))

    def show_form_error(self, message: str) -> None:
        """Show ``message`` on the general error line above the buttons."""
        label = self.query_one("#form-error", Label)
        label.update(literal(message))
        label.display = True

    def clear_errors(self) -> None:
        """Hide every error."""
        self.fields.clear_errors()
        label = self.query_one("#form-error", Label)
        label.update("")
        label.display = False
