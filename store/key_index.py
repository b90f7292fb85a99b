"""Sorting and filtering keys, fast enough for 100,000: the one index of the UI's main table
and of ``apikeys list``.

Every sort order is computed once per load (the first one in the load worker, the others in a
background thread right after the first paint), as a list of positions into the loaded keys.
The filter tests one pre-folded search string per key (a C-level substring test each), and a
filter that only grows narrows the previous result instead of scanning everything again.
"""

from __future__ import annotations

from collections.abc import Sequence

from .models import KeyView

SORT_ORDERS = ("created_desc", "created_asc", "scope")
"""The orders, in the order the main screen's ``s`` cycles through them."""
SCOPES_IN_ORDER = ("web", "mobile", "analytics")


class KeyIndex:
    """The keys of one load, in every sort order, with a filter over name, id, project, scope."""

    def __init__(self, views: Sequence[KeyView]) -> None:
        self.views = list(views)
        self._positions: dict[str, list[int]] = {}
        self._texts: list[str] | None = None
        self._last: tuple[str, str, list[int]] | None = None

    def __len__(self) -> int:
        return len(self.views)

    def prepare(self) -> None:
        """Compute every order and the search texts now (meant for a background thread)."""
        for order in SORT_ORDERS:
            self.positions(order)
        self._search_texts()

    def positions(self, order: str) -> list[int]:
        """Positions into ``views`` in ``created_desc``, ``created_asc`` or ``scope`` order."""
        positions = self._positions.get(order)
        if positions is None:
            views = self.views
            if order == "created_desc":
                # Ties (keys made in the same second) stay newest first: sort the reversed
                # list, since a stable sort keeps equal keys in their order.
                created = [view.record["created_at"] for view in views]
                positions = sorted(range(len(views) - 1, -1, -1), key=created.__getitem__, reverse=True)
            elif order == "created_asc":
                positions = self.positions("created_desc")[::-1]
            elif order == "scope":
                newest = self.positions("created_desc")
                scopes = [view.record["scope"] for view in views]
                positions = [p for scope in SCOPES_IN_ORDER for p in newest if scopes[p] == scope]
                known = set(SCOPES_IN_ORDER)
                positions += [p for p in newest if scopes[p] not in known]
            else:
                raise ValueError(f"unknown sort order {order!r}")
            self._positions[order] = positions
        return positions

    def rows(self, order: str, needle: str = "") -> list[KeyView]:
        """The keys in ``order`` whose name, id, project or scope contain every word of
        ``needle`` (case-insensitive): ``web shop`` finds Web keys of the Shop project."""
        views = self.views
        needle = " ".join(needle.casefold().split())
        if not needle:
            return [views[p] for p in self.positions(order)]
        last = self._last
        if last is not None and last[0] == order and needle.startswith(last[1]):
            candidates = last[2]  # typing on only ever narrows the previous matches
        else:
            candidates = self.positions(order)
        matches = self.matching(candidates, needle)
        self._last = (order, needle, matches)
        return [views[p] for p in matches]

    def matching(self, candidates: list[int], needle: str) -> list[int]:
        """The positions among ``candidates`` whose key matches ``needle`` (folded, one space
        between words): the filter's one matching rule."""
        texts = self._search_texts()
        words = needle.split(" ")
        if len(words) == 1:
            return [p for p in candidates if needle in texts[p]]
        return [p for p in candidates if all(word in texts[p] for word in words)]

    def _search_texts(self) -> list[str]:
        texts = self._texts
        if texts is None:
            texts = [_search_text(view) for view in self.views]
            self._texts = texts
        return texts


def _search_text(view: KeyView) -> str:
    record = view.record
    return f"{record['name']}\n{record['id']}\n{view.project_name}\n{record['scope']}".casefold()
