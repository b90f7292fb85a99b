"""Showing untrusted text: names, domains and project names come from users and from a file
anyone in the group may have edited. They are never parsed as markup and never reach the
terminal with control characters in them."""

from __future__ import annotations

import re

from rich.text import Text

REPLACEMENT = "\ufffd"

# C0 controls (tab and newline included), DEL and C1 controls, bidi marks (U+061C, U+200E,
# U+200F), line/paragraph separators, bidi embeddings/overrides/isolates, lone surrogates.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
    "\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def safe_text(value: object) -> str:
    """``value`` as a string with control and bidi-control characters replaced by U+FFFD.

    One character becomes one character, so indices (and ``Text`` spans) stay valid.
    """
    text = str(value)
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(REPLACEMENT, text)


def literal(value: object, style: str = "") -> Text:
    """User text as a ``Text`` shown exactly as written: no markup, no control characters."""
    return Text(safe_text(value), style=style, no_wrap=False)
