"""Sorting and filtering keys, fast enough for 100,000: the one index of the UI's main table
and of ``apikeys list``.

Every sort order is computed once per load (the first one in the load worker, the others in a
background thread right after the first paint), as an array of positions into the loaded keys
(4 bytes a key, not a list's 8 plus a boxed int). Filtering is :mod:`store.find`'s matcher, the
same one ``apikeys list --find`` uses; a filter that only grows narrows the previous result
instead of scanning everything again.
"""

from __future__ import annotations

import heapq
import time
from array import array
from collections.abc import Callable, Sequence

from .find import KeyFinder, Query, parse_query
from .views import KeyView

SORT_ORDERS = ("created_desc", "created_asc", "scope", "last_used")
"""The orders, in the order the main screen's ``s`` cycles through them."""
SCOPES_IN_ORDER = ("web", "mobile", "analytics")
PAUSE = 0.002  # seconds a background preparation yields between steps, so frames get painted


class KeyIndex:
    """The keys of one load, in every sort order, filtered by :class:`store.find.KeyFinder`."""

    def __init__(self, views: Sequence[KeyView], now: str = "") -> None:
        # The caller's list itself (never changed here): a copy is 0.8 MB at 100,000 keys.
        self.views = views if type(views) is list else list(views)
        self.finder = KeyFinder(self.views, now)
        self._positions: dict[str, array[int]] = {}
        self._last: tuple[str, Query, array[int]] | None = None
        self.stopped = False
        """Set when the screen loads again: a preparation still running stops early."""

    def __len__(self) -> int:
        return len(self.views)

    def prepare(self, pause: Callable[[float], None] = time.sleep) -> None:
        """Compute every order and the finder's texts now (meant for a background thread).

        Each step is followed by a short ``pause`` that lets the UI thread take the GIL (a
        frame at 100,000 keys would otherwise wait for the whole preparation), and the work
        stops as soon as :attr:`stopped` is set.
        """
        for order in SORT_ORDERS:
            if self.stopped:
                return
            self.positions(order)
            pause(PAUSE)
        if not self.stopped:
            self.finder.prepare(stop=lambda: self.stopped, pause=pause)

    @property
    def prepared(self) -> bool:
        """Whether every order and the finder's texts are ready."""
        return len(self._positions) == len(SORT_ORDERS) and self.finder.prepared

    def newest(self, count: int) -> list[KeyView]:
        """The ``count`` newest keys, newest first: a first screen without a full sort."""
        views = self.views
        created = [view.record["created_at"] for view in views]
        # Ties (same second) newest stored first, as the full sort orders them.
        top = heapq.nlargest(count, range(len(views)), key=lambda p: (created[p], p))
        return [views[p] for p in top]

    def positions(self, order: str) -> array[int]:
        """Positions into ``views`` in one of :data:`SORT_ORDERS`."""
        positions = self._positions.get(order)
        if positions is None:
            positions = array("i", self._sorted(order))
            self._positions[order] = positions
        return positions

    def _sorted(self, order: str) -> Sequence[int]:
        views = self.views
        if order == "created_desc":
            # Ties (keys made in the same second) stay newest first: sort the reversed
            # list, since a stable sort keeps equal keys in their order.
            created = [view.record["created_at"] for view in views]
            return sorted(range(len(views) - 1, -1, -1), key=created.__getitem__, reverse=True)
        if order == "created_asc":
            return self.positions("created_desc")[::-1]
        if order == "scope":
            newest = self.positions("created_desc")
            scopes = [view.record["scope"] for view in views]
            positions = [p for scope in SCOPES_IN_ORDER for p in newest if scopes[p] == scope]
            known = set(SCOPES_IN_ORDER)
            return positions + [p for p in newest if scopes[p] not in known]
        if order == "last_used":
            # Most recently used first; never-used keys last, newest of them first.
            used = [view.record.get("last_used_at") or "" for view in views]
            return sorted(self.positions("created_desc"), key=used.__getitem__, reverse=True)
        raise ValueError(f"unknown sort order {order!r}")

    def rows(self, order: str, needle: str | Query = "", now: str | None = None) -> list[KeyView]:
        """The keys in ``order`` that match ``needle`` (see :mod:`store.find`: every word
        somewhere in name, id, prefix, project, scope, creator or status; a full secret finds
        exactly its key): ``web shop`` finds Web keys of the Shop project."""
        views = self.views
        query = parse_query(needle) if isinstance(needle, str) else needle
        if not query:
            self._last = None  # a cleared filter's matches are of no more use
            return [views[p] for p in self.positions(order)]
        last = self._last
        if last is not None and last[0] == order and _narrows(last[1], query):
            candidates: Sequence[int] = last[2]  # typing on only ever narrows the matches
        else:
            candidates = self.positions(order)
        matches = self.finder.matching(query, candidates, now=now)
        # Kept as an array (4 bytes a match, not 8 and a boxed int): ~3 MB less at 100,000.
        self._last = (order, query, array("i", matches))
        return [views[p] for p in matches]


def _narrows(before: Query, after: Query) -> bool:
    """Whether every key matching ``after`` also matches ``before`` (same secrets, and each
    earlier word is contained in a word typed now)."""
    if before.secret_hashes != after.secret_hashes:
        return False
    return all(any(word in longer for longer in after.words) for word in before.words)
