"""Copying a secret to the admin's clipboard, honestly.

Over SSH the admin's clipboard is on their own machine: the copy goes to their terminal as
OSC 52 (``App.copy_to_clipboard``). Locally it goes through pyperclip, and falls back to OSC 52
when pyperclip has no clipboard (no display). OSC 52 gets no acknowledgement, so the message
says the copy was *sent* — the secret can always be revealed on screen instead.
"""

from __future__ import annotations

import os
from typing import Protocol

import pyperclip

SENT_TO_TERMINAL = "Copy sent to your terminal (OSC 52); if nothing arrived, press v to reveal it"
COPIED = "Copied to the clipboard"


class SupportsOsc52(Protocol):
    """Anything with Textual's ``copy_to_clipboard`` (the App)."""

    def copy_to_clipboard(self, text: str) -> None: ...


def over_ssh() -> bool:
    """Whether this process runs in an SSH session."""
    return bool(os.environ.get("SSH_TTY") or os.environ.get("SSH_CONNECTION"))


def copy_text(app: SupportsOsc52, text: str) -> str:
    """Copy ``text`` the best way available and return the message to show (never the text)."""
    if not over_ssh():
        try:
            pyperclip.copy(text)
            return COPIED
        except pyperclip.PyperclipException:
            pass
    app.copy_to_clipboard(text)
    return SENT_TO_TERMINAL
