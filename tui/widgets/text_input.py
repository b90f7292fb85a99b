"""The app's one-line text field: Textual's ``Input`` with its editing keys kept in order.

Textual's ``Input`` inserts a printable key as soon as it arrives, but its bound keys
(backspace, arrows, ``ctrl+u``, ``ctrl+w``, …) first bubble up to the app, which then runs the
binding. When keys arrive in one burst, as they do over a slow SSH link or from a paste
macro, a character typed after ``ctrl+u`` can land before the ``ctrl+u`` runs and be erased
with the rest (Textual issue #6605): the field then holds something the admin never typed.
:class:`TextInput` runs its own (non-priority) bindings as the key arrives, so every key acts
in the order it was typed. Keys the field does not bind bubble as before.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class TextInput(Input):
    """An ``Input`` whose own editing keys act in the order they were typed."""

    async def _on_key(self, event: events.Key) -> None:
        if event.is_printable:
            return  # Input's own handler (called next, through the class hierarchy) inserts it
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if not binding.priority and await self.app.run_action(binding.action, self):
                self._restart_blink()
                event.stop()
                event.prevent_default()  # handled: neither Input's handler nor the app's again
                return


__all__ = ["TextInput"]
