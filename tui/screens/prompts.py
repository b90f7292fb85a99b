"""Small modal questions: a line of text, one choice from a short list, or yes / no."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from store.errors import StoreError

from ..text import literal
from ..widgets.text_input import TextInput
from ..workers import store_call


class TextPrompt(ModalScreen[str | None]):
    """Ask for one line of text; dismiss with it (trimmed), or ``None`` on escape.

    ``check`` refuses a value before anything is done (return the reason, or ``None``).
    ``apply`` runs the value against the store in a worker: a :class:`StoreError` is shown in
    the prompt, which stays open so the admin can correct the text; on success the prompt
    dismisses and ``applied`` holds what ``apply`` returned.
    """

    DEFAULT_CLASSES = "dialog-screen"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        *,
        placeholder: str = "",
        value: str = "",
        hint: str = "",
        check: Callable[[str], str | None] | None = None,
        apply: Callable[[str], Any] | None = None,
    ) -> None:
        super().__init__()
        self.prompt_title = title
        self.placeholder = placeholder
        self.initial_value = value
        self.hint = hint
        self.check = check
        self.apply = apply
        self.applied: Any = None
        self._busy = False

    def compose(self) -> ComposeResult:
        """A title, the input, a line for errors, and what the keys do."""
        with Vertical(id="dialog", classes="dialog"):
            yield Static(literal(self.prompt_title), classes="dialog-title")
            yield TextInput(value=self.initial_value, placeholder=self.placeholder, id="answer")
            error = Static("", classes="dialog-error", id="error")
            error.display = False
            yield error
            if self.hint:
                yield Static(literal(self.hint), classes="dialog-hint")
            yield Static(Text("enter OK · escape Cancel"), classes="dialog-keys")

    def on_input_changed(self, event: Input.Changed) -> None:
        """An edited answer clears the last error."""
        self.show_error("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Check, then apply (in a worker) or answer."""
        event.stop()
        if self._busy:
            return
        value = event.value.strip()
        if self.check is not None:
            problem = self.check(value)
            if problem:
                self.show_error(problem)
                return
        if self.apply is None:
            self.dismiss(value)
            return
        self._busy = True
        apply = self.apply
        store_call(
            self, lambda: apply(value), lambda result: self._applied(value, result),
            failed=self._refused,
        )

    def _applied(self, value: str, result: Any) -> None:
        self._busy = False
        self.applied = result
        self.dismiss(value)

    def _refused(self, error: StoreError) -> None:
        self._busy = False
        self.show_error(str(error))
        self.query_one(Input).focus()

    def show_error(self, message: str) -> None:
        """Show ``message`` (one line, plain text) under the input."""
        error = self.query_one("#error", Static)
        error.update(literal(message))
        error.display = bool(message)

    @property
    def error_text(self) -> str:
        """The error shown now ('' when none)."""
        return str(self.query_one("#error", Static).render())

    def action_cancel(self) -> None:
        """Close without an answer."""
        self.dismiss(None)


class ChoicePrompt(ModalScreen[str | None]):
    """Pick one of a few choices: dismiss with its value, or ``None`` on escape.

    ``choices`` are ``(value, label)`` pairs; the ``current`` value starts highlighted.
    """

    DEFAULT_CLASSES = "dialog-screen"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        choices: Sequence[tuple[str, str]],
        *,
        current: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__()
        self.prompt_title = title
        self.choices = list(choices)
        self.current = current
        self.hint = hint

    def compose(self) -> ComposeResult:
        """A title, the choices and what the keys do."""
        with Vertical(id="dialog", classes="dialog"):
            yield Static(literal(self.prompt_title), classes="dialog-title")
            options = []
            for value, label in self.choices:
                text = literal(label)
                if value == self.current:
                    text.append(" (current)", style="dim")
                options.append(Option(text, id=value))
            yield OptionList(*options)
            if self.hint:
                yield Static(literal(self.hint), classes="dialog-hint")
            yield Static(Text("↑↓ choose · enter OK · escape Cancel"), classes="dialog-keys")

    def on_mount(self) -> None:
        """Start on the current choice."""
        options = self.query_one(OptionList)
        values = [value for value, _label in self.choices]
        options.highlighted = values.index(self.current) if self.current in values else 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Answer with the chosen value."""
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        """Close without an answer."""
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """Ask before something that cannot be undone: True means go ahead.

    **Cancel** has the focus, so ``enter`` on its own never does the irreversible thing;
    ``tab`` (or ``→``) moves to the other button, ``escape`` cancels.
    """

    DEFAULT_CLASSES = "dialog-screen"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("left", "app.focus_previous", "Previous button", show=False),
        Binding("right", "app.focus_next", "Next button", show=False),
    ]
    AUTO_FOCUS = "#cancel"

    def __init__(self, title: str, message: str, *, confirm: str, danger: bool = False) -> None:
        super().__init__()
        self.question = title
        self.message = message
        self.confirm_label = confirm
        self.danger = danger

    def compose(self) -> ComposeResult:
        """The question, what it means, and Cancel / the confirming button."""
        with Vertical(classes="dialog -danger" if self.danger else "dialog"):
            yield Static(literal(self.question), classes="dialog-title")
            yield Static(literal(self.message), id="confirm-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(self.confirm_label, variant="error" if self.danger else "primary", id="confirm")
        yield Footer()

    def then(self, over: Screen[Any], confirmed: Callable[[], object]) -> None:
        """Ask over the screen ``over``; run ``confirmed`` only if the answer is yes."""
        def answered(yes: bool | None) -> None:
            if yes:
                confirmed()

        over.app.push_screen(self, answered)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Do nothing."""
        self.dismiss(False)

    @on(Button.Pressed, "#confirm")
    def _confirmed(self) -> None:
        self.dismiss(True)
