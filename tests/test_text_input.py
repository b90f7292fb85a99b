"""The app's text field keeps keys in the order they were typed, even in one burst (as over a
slow SSH link): Textual's stock ``Input`` lets a character overtake a bound key (#6605)."""

from __future__ import annotations

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Input

from tui.widgets.text_input import TextInput


class OneField(App[None]):
    def __init__(self, field_class: type[Input]) -> None:
        super().__init__()
        self.field_class = field_class

    def compose(self) -> ComposeResult:
        yield self.field_class(value="old text", id="field")


async def typed_in_one_burst(field_class: type[Input], keys: list[str]) -> str:
    """The field's value after ``keys`` were posted all at once, none waiting for another."""
    app = OneField(field_class)
    async with app.run_test() as pilot:
        await pilot.pause()
        for key in keys:
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await pilot.pause()
        await pilot.pause()
        return app.query_one("#field", Input).value


BURSTS = [
    (["ctrl+u", "a", "b", "c"], "abc"),  # clear the field, then type
    (["end", "x", "backspace", "y"], "old texty"),  # a typo put right
    (["home", "ctrl+k", "n", "e", "w"], "new"),  # cut to the end, then type
    (["end", "left", "left", "left", "left", "X"], "old Xtext"),
]


@pytest.mark.parametrize("keys, expected", BURSTS)
async def test_a_burst_of_keys_acts_in_the_order_typed(keys: list[str], expected: str) -> None:
    assert await typed_in_one_burst(TextInput, keys) == expected


async def test_the_stock_input_reorders_a_burst_which_is_why_the_app_has_its_own() -> None:
    # If a Textual upgrade fixes #6605 this fails: TextInput can then go.
    assert await typed_in_one_burst(Input, ["ctrl+u", "a", "b", "c"]) != "abc"


async def test_keys_the_field_does_not_bind_still_reach_the_app() -> None:
    pressed: list[str] = []

    class WithBinding(OneField):
        BINDINGS = [("ctrl+s", "save", "Save")]

        def action_save(self) -> None:
            pressed.append(self.query_one("#field", Input).value)

    app = WithBinding(TextInput)
    async with app.run_test() as pilot:
        await pilot.press("end", "!", "ctrl+s")
    assert pressed == ["old text!"]


async def test_keys_after_a_submit_that_moves_the_focus_go_where_the_focus_went() -> None:
    from textual.widgets import Button

    pressed: list[str] = []
    submitted: list[str] = []

    class FilterThenTable(App[None]):
        BINDINGS = [("j", "down", "Down")]

        def compose(self) -> ComposeResult:
            yield TextInput(id="field", focus_on_submit="#table")
            yield Button("table", id="table")

        def on_input_submitted(self) -> None:
            submitted.append(self.query_one("#field", Input).value)

        def action_down(self) -> None:
            pressed.append("j")

    app = FilterThenTable()
    async with app.run_test() as pilot:
        await pilot.pause()
        for key in ["w", "i", "d", "enter", "j", "j"]:
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await pilot.pause()
        await pilot.pause()
        assert app.query_one("#field", Input).value == "wid"
        assert app.focused is app.query_one("#table")
    assert pressed == ["j", "j"] and submitted == ["wid"]


async def test_tab_then_typing_in_one_burst_fills_the_next_field() -> None:
    class TwoFields(App[None]):
        def compose(self) -> ComposeResult:
            yield TextInput(id="first")
            yield TextInput(id="second")

    app = TwoFields()
    async with app.run_test() as pilot:
        await pilot.pause()
        for key in ["a", "tab", "b", "c"]:
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await pilot.pause()
        await pilot.pause()
        assert app.query_one("#first", Input).value == "a"
        assert app.query_one("#second", Input).value == "bc"
