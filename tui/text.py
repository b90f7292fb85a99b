"""Showing untrusted text: names, domains and project names come from users and from a file
anyone in the group may have edited. They are never parsed as markup and never reach the
terminal with control characters in them."""

from __future__ import annotations

import re

from rich.text import Text

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe_text(value: object) -> str:
    """``value`` as a string with control and bidi-control characters replaced by U+FFFD."""
    return _UNSAFE.sub("\ufffd", str(value))


def literal(value: object, style: str = "") -> Text:
    """User text as a ``Text`` shown exactly as written: no markup, no control characters."""
    return Text(safe_text(value), style=style, no_wrap=False)
