"""A one-line choice of a few fixed options, chosen with the arrow keys."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import RadioButton, RadioSet


class ChoiceSet(RadioSet):
    """A horizontal :class:`RadioSet` whose arrow keys choose at once.

    The stock set only moves a highlight with the arrows and needs ``enter`` or ``space`` to
    choose; in a form that hides the effect of a choice (other fields appear) until a second
    key, so here moving is choosing. Each option's ``RadioButton`` id names its value.
    """

    INHERIT_BINDINGS = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right,down", "choose_next", "Next choice", show=False),
        Binding("left,up", "choose_previous", "Previous choice", show=False),
        Binding("enter,space", "toggle_button", "Choose", show=False),
    ]

    DEFAULT_CSS = """
    ChoiceSet {
        layout: horizontal;
        width: 1fr;
        & > RadioButton {
            width: auto;
            margin-right: 3;
        }
    }
    """

    def __init__(self, *choices: tuple[str, str], value: str | None = None, id: str | None = None) -> None:
        buttons = [
            RadioButton(label, value=choice == value, id=f"choice-{choice}")
            for choice, label in choices
        ]
        super().__init__(*buttons, id=id)

    def on_mount(self) -> None:
        """Start the highlight on the chosen option, not on the first one."""
        # RadioSet's own mount handler (which may run after this one) highlights the first
        # option and notes the chosen one: correct the highlight once both have run.
        self.call_later(self._highlight_chosen)

    def _highlight_chosen(self) -> None:
        if self.pressed_index >= 0:
            self._selected = self.pressed_index

    @property
    def value(self) -> str | None:
        """The chosen option's value, or None when nothing is chosen."""
        button = self.pressed_button
        if button is None or button.id is None:
            return None
        return button.id.removeprefix("choice-")

    def action_choose_next(self) -> None:
        """Move to the next option and choose it."""
        self.action_next_button()
        self.action_toggle_button()

    def action_choose_previous(self) -> None:
        """Move to the previous option and choose it."""
        self.action_previous_button()
        self.action_toggle_button()
