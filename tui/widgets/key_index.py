"""Sorting and filtering the keys of the main table, fast enough for 100,000 keys.

Each sort order is computed once per load and kept; a filter scans a list of pre-folded
search strings aligned with that order (one C-level substring test per key), and a filter
that only grows narrows the previous result instead of scanning everything again.
"""

from __future__ import annotations

from collections.abc import Sequence

from store.models import KeyView

SCOPE_RANK = {"web": 0, "mobile": 1, "analytics": 2}


class KeyIndex:
    """The keys of one load, in every sort order, with a filter over name, id, project, scope."""

    def __init__(self, views: Sequence[KeyView]) -> None:
        self.views = list(views)
        self._orders: dict[str, list[KeyView]] = {}
        self._haystacks: dict[str, list[str]] = {}
        self._last: tuple[str, str, list[tuple[str, KeyView]]] | None = None

    def __len__(self) -> int:
        return len(self.views)

    def ordered(self, order: str) -> list[KeyView]:
        """The keys in ``created_desc``, ``created_asc`` or ``scope`` order (cached)."""
        if order not in self._orders:
            if order == "created_desc":
                # Reversed first, so keys created in the same second stay newest first.
                rows = sorted(reversed(self.views), key=_created, reverse=True)
            elif order == "created_asc":
                rows = sorted(self.views, key=_created)
            elif order == "scope":
                rows = sorted(self.ordered("created_desc"), key=_scope_rank)
            else:
                raise ValueError(f"unknown sort order {order!r}")
            self._orders[order] = rows
        return self._orders[order]

    def rows(self, order: str, needle: str = "") -> list[KeyView]:
        """The keys in ``order`` whose name, id, project or scope contain every word of
        ``needle`` (case-insensitive): ``web shop`` finds Web keys of the Shop project."""
        base = self.ordered(order)
        needle = " ".join(needle.casefold().split())
        if not needle:
            return base
        last = self._last
        if last is not None and last[0] == order and needle.startswith(last[1]):
            candidates = last[2]  # typing on only ever narrows the previous matches
        else:
            candidates = list(zip(self._haystack(order), base))
        words = needle.split(" ")
        if len(words) == 1:
            matches = [pair for pair in candidates if needle in pair[0]]
        else:
            matches = [pair for pair in candidates if all(word in pair[0] for word in words)]
        self._last = (order, needle, matches)
        return [view for _, view in matches]

    def _haystack(self, order: str) -> list[str]:
        if order not in self._haystacks:
            self._haystacks[order] = [_search_text(view) for view in self.ordered(order)]
        return self._haystacks[order]


def _created(view: KeyView) -> str:
    return view.record["created_at"]


def _scope_rank(view: KeyView) -> int:
    return SCOPE_RANK.get(view.record["scope"], 3)


def _search_text(view: KeyView) -> str:
    record = view.record
    return f"{record['name']}\n{record['id']}\n{view.project_name}\n{record['scope']}".casefold()
