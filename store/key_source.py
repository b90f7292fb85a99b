"""The main table's data source: the keys of one sort and filter, a window at a time.

The screen asks a :class:`KeySource` for ``count()``, ``window(offset, limit)`` and
``position(key_id)`` and never holds every key. :meth:`store.repository.Repository.key_source`
gives the right one: on the file store an :class:`IndexKeySource` answers from the in-memory
:class:`~store.key_index.KeyIndex` (built once per file generation, as today); on PostgreSQL a
:class:`DatabaseKeySource` asks the database (indexed ``ORDER BY … LIMIT``; the count and a
key's position by indexed counts), so a million keys cost a window's worth of rows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, overload

from .backend import KeyQuery
from .errors import ReadCancelled, StoreError
from .find import Query
from .key_index import KeyIndex
from .lifecycle import is_expiring
from .views import KeyView


class KeySource(Protocol):
    """The keys of one sort order and filter, for one member."""

    def count(self, at_most: int | None = None, *, aside: bool = False) -> int:
        """How many keys match (with ``at_most``: no more than that, which may be cheaper).
        ``aside``: on a connection of its own, so windows can be read meanwhile."""

    def window(self, offset: int, limit: int) -> list[KeyView]:
        """``limit`` keys from position ``offset`` (0-based), in order."""

    def position(self, key_id: str) -> int | None:
        """Where ``key_id`` sits (to keep the cursor on it), or None when it does not match."""

    def cancel_count(self) -> None:
        """Stop an exact count of this source that is running in another thread (a newer
        source replaced this one); its caller gets :class:`~store.errors.ReadCancelled`."""


class IndexKeySource:
    """A :class:`KeySource` over the file store's in-memory :class:`KeyIndex`."""

    def __init__(self, index: KeyIndex, order: str, filter_text: str | Query = "", *,
                 now: str | None = None, expiring: tuple[str, str] | None = None) -> None:
        self._rows = index.rows(order, filter_text, now=now)
        if expiring is not None:  # active keys whose expiry lies in (now, until]
            self._rows = [view for view in self._rows if is_expiring(view.record, *expiring)]
        self._where: dict[str, int] | None = None

    def count(self, at_most: int | None = None, *, aside: bool = False) -> int:
        """How many keys match."""
        return len(self._rows) if at_most is None else min(len(self._rows), at_most)

    def window(self, offset: int, limit: int) -> list[KeyView]:
        """A slice of the sorted, filtered rows."""
        offset = max(0, offset)
        return self._rows[offset:offset + max(0, limit)]

    def position(self, key_id: str) -> int | None:
        """The row of ``key_id`` (a dict built on first use)."""
        if self._where is None:
            self._where = {view.id: row for row, view in enumerate(self._rows)}
        return self._where.get(key_id)

    def cancel_count(self) -> None:
        """Nothing to stop: the rows are counted already."""


class DatabaseKeySource:
    """A :class:`KeySource` answered by SQL (:class:`store.backend.Backend` windows).

    Windows and positions are read on ``backend`` (indexed: a screen may ask for windows on
    its UI thread); exact counts, which may scan a million index entries, and far windows on
    ``counting`` (a connection of their own, so a count running in a worker never holds a
    window up).
    """

    def __init__(
        self, backend: Any, query: KeyQuery, project_names: dict[str, str], all_projects: str,
        *, counting: Any = None,
    ) -> None:
        self._backend = backend
        self._counting = counting if counting is not None else backend
        self.query = query
        self._names = project_names
        self._all_projects = all_projects
        self._count: int | None = None
        self._counting_exactly = False
        self._cancelled = False

    def count(self, at_most: int | None = None, *, aside: bool = False) -> int:
        """How many keys match (an exact count is kept; ``at_most`` stops counting there, on
        the windows' connection, or with ``aside`` on the counting one, beside a window)."""
        if self._count is not None:
            return self._count if at_most is None else min(self._count, at_most)
        if at_most is not None:
            backend = self._counting if aside else self._backend
            counted: int = backend.count(self.query, at_most=at_most)
            if counted < at_most:
                self._count = counted
            return counted
        self._counting_exactly = True
        try:
            if self._cancelled:  # cancelled before it began: never start it
                raise ReadCancelled("the count was cancelled")
            self._count = self._counting.count(self.query)
        finally:
            self._counting_exactly = False
        return self._count

    def cancel_count(self) -> None:
        """Cancel the exact count running on the counting connection, if one is (an exact
        count at a million keys takes the server's cores for a few hundred ms). One asked for
        later is not started."""
        self._cancelled = True
        if self._counting_exactly:
            # Sending a cancel opens a connection to the server (a few ms): not on the
            # caller's thread, which is the UI's.
            threading.Thread(target=self._counting.cancel_counts, name="apikeys-cancel",
                             daemon=True).start()

    def window(self, offset: int, limit: int, *, after: str | None = None) -> list[KeyView]:
        """One indexed ``ORDER BY … LIMIT`` query: from ``offset`` (a scan of that many rows),
        or ``offset`` places past the key ``after`` (keyset: as cheap deep down as on top)."""
        return self._views(self._backend.window(self.query, offset, limit, after=after))

    def window_before(self, key_id: str, limit: int) -> list[KeyView]:
        """The ``limit`` keys just before ``key_id``, in order (the order read backwards)."""
        return self._views(self._backend.window_reversed(self.query, 0, limit, before=key_id))[::-1]

    def window_from_end(self, offset: int, limit: int) -> list[KeyView]:
        """``limit`` keys ending ``offset`` places before the last one, in order."""
        return self._views(self._backend.window_reversed(self.query, offset, limit))[::-1]

    def position(self, key_id: str) -> int | None:
        """How many matching keys come before ``key_id`` (indexed counts; on the windows'
        connection: an exact count running on the other never holds it up)."""
        found: int | None = self._backend.position(self.query, key_id)
        return found

    def window_far(self, offset: int, limit: int, *, length: int | None = None) -> list[KeyView]:
        """A window far from any known key (``OFFSET``: a scan of that many rows; counted
        from the end when that is shorter and ``length`` is the exact count), read on the
        counting connection, so a worker reading it never holds up the other windows."""
        if length is not None and offset > length // 2:
            end = min(length, offset + limit)
            backwards = self._counting.window_reversed(self.query, length - end, end - offset)
            return self._views(backwards)[::-1]
        return self._views(self._counting.window(self.query, offset, limit))

    def matching(self, key_ids: Iterable[str]) -> set[str]:
        """Those of ``key_ids`` this source holds (one lookup by id)."""
        ids = list(key_ids)
        if not ids:
            return set()
        found: set[str] = self._backend.matching_ids(self.query, ids)
        return found

    def _views(self, records: list[Any]) -> list[KeyView]:
        views = []
        for record in records:
            project_id = record.get("project_id")
            name = self._names.get(project_id, project_id) if project_id else self._all_projects
            views.append(KeyView(record, name))
        return views


class WindowedRows(Sequence[KeyView]):
    """A :class:`KeySource` as the read-only sequence a virtual table takes: ``len()`` is the
    count, ``rows[i]`` fetches the page of ``page`` rows holding ``i`` (the last ``keep``
    pages are kept), ``rows.index(view)`` asks the source for the key's position. Only the
    rows the screen shows are ever read.

    A page next to a kept one is read by keyset from that page's edge key (as cheap at row
    900,000 as at row 0); a page near the end from the end (the order read backwards); only a
    jump far from both reads ``OFFSET`` rows. ``len()`` may be a lower bound at first
    (:attr:`exact` False: "10,000+"), until :meth:`set_length` gives the exact count.
    """

    NEAR_END = 4  # pages: that close to the end, a page is read from the end
    FAR = 5_000  # rows: a page this deep with no kept neighbour is read in a worker if it can

    def __init__(self, source: KeySource, *, page: int = 100, keep: int = 16,
                 length: int | None = None, exact: bool = True) -> None:
        self.source = source
        self.page = page
        self._keep = keep
        self._pages: OrderedDict[int, list[KeyView]] = OrderedDict()
        self._length = length
        self.exact = exact or length is None
        """Whether ``len()`` is the exact count (else it is at least that)."""
        self.fetches = 0
        """How many windows were read (for tests and measurements)."""
        self.on_far_page: Callable[[int], None] | None = None
        """Set by a screen: a far page (one only ``OFFSET`` reaches, e.g. a scroll bar
        dragged to the middle) is then not read on the spot; its rows read as
        :func:`pending_view` placeholders and ``on_far_page(number)`` is called once, to read
        it in a worker (:meth:`read_far_page`) and hand it back (:meth:`put_page`)."""
        self._asked: set[int] = set()
        self.on_error: Callable[[StoreError], None] | None = None
        """Set by a screen: a page that cannot be read (a lost connection) then reads as
        stand-ins, ``on_error`` is told once, and no page is read again (a reload makes new
        rows) — rather than an error raised into the middle of a frame."""
        self.failed: StoreError | None = None

    def __len__(self) -> int:
        if self._length is None:
            self._length = self.source.count()
            self.exact = True
        return self._length

    def set_length(self, length: int, *, exact: bool = True) -> None:
        """The count, now known (pages read so far stay)."""
        self._length, self.exact = length, exact

    @overload
    def __getitem__(self, index: int) -> KeyView: ...
    @overload
    def __getitem__(self, index: slice) -> list[KeyView]: ...
    def __getitem__(self, index: int | slice) -> KeyView | list[KeyView]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        number = index // self.page
        rows = self._pages.get(number)
        if rows is None:
            if self.failed is not None:
                return pending_view(index)
            if self.on_far_page is not None and self._far(number):
                if number not in self._asked:
                    self._asked.add(number)
                    self.on_far_page(number)
                return pending_view(index)
            try:
                rows = self._read_page(number)
            except StoreError as error:
                if self.on_error is None:
                    raise
                self.failed = error
                self.on_error(error)
                return pending_view(index)
            self._keep_page(number, rows)
        else:
            self._pages.move_to_end(number)
        offset = index - number * self.page
        if offset >= len(rows):  # the store shrank since the count: the row is gone
            raise IndexError(index)
        return rows[offset]

    def cached(self, index: int) -> KeyView | None:
        """The row at ``index`` if its page was read already (never reads)."""
        rows = self._pages.get(index // self.page)
        offset = index % self.page
        return rows[offset] if rows is not None and offset < len(rows) else None

    def read_around(self, index: int, key_id: str) -> None:
        """Read the page holding ``index``, where the key ``key_id`` is known to sit, by keyset
        from that key (meant for a worker: the screen then shows it without a query)."""
        number = index // self.page
        start = number * self.page
        source: Any = self.source
        if not hasattr(source, "window_before"):
            self._keep_page(number, self.source.window(start, self.page))
            return
        # Two queries at most (one when the key starts its page), each one indexed range:
        # the keys before it on its page, then from it to the page's end.
        before = source.window_before(key_id, index - start) if index > start else []
        rest = source.window(0, start + self.page - index, after=before[-1].id) if before \
            else source.window(start, self.page)
        self.fetches += 2 if before else 1
        if before and (not rest or rest[0].id != key_id):  # moved meanwhile: read it plainly
            self._keep_page(number, source.window(start, self.page))
            return
        self._keep_page(number, [*before, *rest])

    def _far(self, number: int) -> bool:
        start = number * self.page
        if start < self.FAR or number - 1 in self._pages or number + 1 in self._pages:
            return False
        near_end = self.exact and len(self) - start <= self.NEAR_END * self.page
        return not near_end and hasattr(self.source, "window_far")

    def read_far_page(self, number: int) -> list[KeyView]:
        """Read a far page (meant for a worker; changes nothing here: see :meth:`put_page`)."""
        source: Any = self.source
        length = len(self) if self.exact else None
        return list(source.window_far(number * self.page, self.page, length=length))

    def put_page(self, number: int, rows: list[KeyView] | None) -> None:
        """A page read in a worker (UI thread); None: not read after all (asked again when
        shown again)."""
        self._asked.discard(number)
        if rows is not None:
            self._keep_page(number, rows)

    def _read_page(self, number: int) -> list[KeyView]:
        source: Any = self.source
        start = number * self.page
        self.fetches += 1
        keyset = hasattr(source, "window_before")
        previous, following = self._pages.get(number - 1), self._pages.get(number + 1)
        if keyset and previous and len(previous) == self.page:
            return list(source.window(0, self.page, after=previous[-1].id))
        if keyset and following:
            return list(source.window_before(following[0].id, self.page))
        length = len(self)
        if keyset and self.exact and length - start <= self.NEAR_END * self.page:
            end = min(length, start + self.page)
            return list(source.window_from_end(length - end, end - start))
        return self.source.window(start, self.page)

    def _keep_page(self, number: int, rows: list[KeyView]) -> None:
        self._pages[number] = rows
        self._pages.move_to_end(number)
        while len(self._pages) > self._keep:
            self._pages.popitem(last=False)

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        """The position of the key ``value`` (a view, or a key id) in this order."""
        key_id = value if isinstance(value, str) else getattr(value, "id", None)
        found = None
        if isinstance(key_id, str):
            found = self._kept_position(key_id)
            if found is None:
                found = self.source.position(key_id)
        if found is None or found < start or (stop is not None and found >= stop):
            raise ValueError(f"{key_id!r} is not among these keys")
        return found

    def __contains__(self, value: object) -> bool:
        try:
            self.index(value)
        except ValueError:
            return False
        return True

    def _kept_position(self, key_id: str) -> int | None:
        """Where ``key_id`` sits if a page read already holds it (no query)."""
        for number, rows in self._pages.items():
            for offset, view in enumerate(rows):
                if view.id == key_id:
                    return number * self.page + offset
        return None

    def present(self, key_ids: Iterable[str]) -> set[str]:
        """Those of ``key_ids`` among these rows (one lookup by id on a database)."""
        ids = set(key_ids)
        matching = getattr(self.source, "matching", None)
        if matching is not None:
            found: set[str] = matching(ids)
            return found
        return {key_id for key_id in ids if self.__contains__(key_id)}


def pending_view(index: int) -> KeyView:
    """A stand-in for row ``index`` while its page is read (``record["pending"]`` is True)."""
    record = {"id": f"\0pending{index}", "pending": True, "name": "…", "scope": "",
              "project_id": None, "status": "active", "created_at": "", "created_by": "",
              "key_prefix": ""}
    return KeyView(record, "", problem=None)


def is_pending(view: Any) -> bool:
    """Whether ``view`` is a :func:`pending_view` stand-in."""
    return isinstance(view, KeyView) and view.record.get("pending") is True


__all__ = ["DatabaseKeySource", "IndexKeySource", "KeySource", "WindowedRows", "is_pending",
           "pending_view"]
