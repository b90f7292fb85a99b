"""The app's one-line text field: Textual's ``Input`` with its editing keys kept in order.

Textual's ``Input`` inserts a printable key as soon as it arrives, but its bound keys
(backspace, arrows, ``ctrl+u``, ``ctrl+w``, …) first bubble up to the app, which then runs the
binding. When keys arrive in one burst, as they do over a slow SSH link or from a paste
macro, a character typed after ``ctrl+u`` can land before the ``ctrl+u`` runs and be erased
with the rest (Textual issue #6605): the field then holds something the admin never typed.
:class:`TextInput` runs its own (non-priority) bindings as the key arrives, so every key acts
in the order it was typed. Keys the field does not bind bubble as before; keys that reach it
after an earlier key of the same burst moved the focus away go on to the newly focused widget.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.widgets import Input


class TextInput(Input):
    """An ``Input`` whose own editing keys act in the order they were typed.

    ``focus_on_submit``: a selector (within the screen) of the widget ``enter`` hands the focus
    to, at once, so that the keys typed right after ``enter`` go there too (a filter box hands
    it back to its table).
    """

    def __init__(self, *args: Any, focus_on_submit: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.focus_on_submit = focus_on_submit

    async def action_submit(self) -> None:
        """Submit, then (with ``focus_on_submit``) move the focus before the next key."""
        await super().action_submit()
        if self.focus_on_submit is not None and self.has_focus:
            for target in self.screen.query(self.focus_on_submit):
                if target.focusable:
                    self.screen.set_focus(target)
                break

    async def _on_key(self, event: events.Key) -> None:
        focused = self.app.focused
        if focused is not self and focused is not None and event.is_forwarded:
            # An earlier key of the same burst (enter in a filter box, tab) moved the focus on
            # after the app had already sent this one here: it belongs where the focus is now.
            event.stop()
            event.prevent_default()
            focused._forward_event(events.Key(event.key, event.character))
            return
        if event.is_printable:
            return  # Input's own handler (called next, through the class hierarchy) inserts it
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if not binding.priority and await self.app.run_action(binding.action, self):
                self._restart_blink()
                event.stop()
                event.prevent_default()  # handled: neither Input's handler nor the app's again
                return
        # A key the field does not bind (tab, ctrl+s, escape): run the bindings of the screen
        # and app now, as the app would once the key had bubbled up to it, so that a key typed
        # after it cannot overtake it (tab, then the next field's text). The app's own check
        # (App._check_bindings, Textual 8.2, pinned) walks from the focused widget up.
        if await self.app._check_bindings(event.key):
            event.stop()
            event.prevent_default()


__all__ = ["TextInput"]
