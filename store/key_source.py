"""The main table's data source: the keys of one sort and filter, a window at a time.

The screen asks a :class:`KeySource` for ``count()``, ``window(offset, limit)`` and
``position(key_id)`` and never holds every key. :meth:`store.repository.Repository.key_source`
gives the right one: on the file store an :class:`IndexKeySource` answers from the in-memory
:class:`~store.key_index.KeyIndex` (built once per file generation, as today); on PostgreSQL a
:class:`DatabaseKeySource` asks the database (indexed ``ORDER BY … LIMIT``; the count and a
key's position by indexed counts), so a million keys cost a window's worth of rows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol, overload

from .backend import KeyQuery
from .key_index import KeyIndex
from .models import KeyView


class KeySource(Protocol):
    """The keys of one sort order and filter, for one member."""

    def count(self) -> int:
        """How many keys match."""

    def window(self, offset: int, limit: int) -> list[KeyView]:
        """``limit`` keys from position ``offset`` (0-based), in order."""

    def position(self, key_id: str) -> int | None:
        """Where ``key_id`` sits (to keep the cursor on it), or None when it does not match."""


class IndexKeySource:
    """A :class:`KeySource` over the file store's in-memory :class:`KeyIndex`."""

    def __init__(self, index: KeyIndex, order: str, filter_text: str = "") -> None:
        self._rows = index.rows(order, filter_text)
        self._where: dict[str, int] | None = None

    def count(self) -> int:
        """How many keys match."""
        return len(self._rows)

    def window(self, offset: int, limit: int) -> list[KeyView]:
        """A slice of the sorted, filtered rows."""
        offset = max(0, offset)
        return self._rows[offset:offset + max(0, limit)]

    def position(self, key_id: str) -> int | None:
        """The row of ``key_id`` (a dict built on first use)."""
        if self._where is None:
            self._where = {view.id: row for row, view in enumerate(self._rows)}
        return self._where.get(key_id)


class DatabaseKeySource:
    """A :class:`KeySource` answered by SQL (:class:`store.backend.Backend` windows)."""

    def __init__(
        self, backend: Any, query: KeyQuery, project_names: dict[str, str], all_projects: str
    ) -> None:
        self._backend = backend
        self.query = query
        self._names = project_names
        self._all_projects = all_projects
        self._count: int | None = None

    def count(self) -> int:
        """How many keys match (counted once per source)."""
        if self._count is None:
            self._count = self._backend.count(self.query)
        return self._count

    def window(self, offset: int, limit: int) -> list[KeyView]:
        """One indexed ``ORDER BY … LIMIT/OFFSET`` query."""
        views = []
        for record in self._backend.window(self.query, offset, limit):
            project_id = record.get("project_id")
            name = self._names.get(project_id, project_id) if project_id else self._all_projects
            views.append(KeyView(record, name))
        return views

    def position(self, key_id: str) -> int | None:
        """How many matching keys come before ``key_id`` (indexed counts)."""
        return self._backend.position(self.query, key_id)


class WindowedRows(Sequence[KeyView]):
    """A :class:`KeySource` as the read-only sequence a virtual table takes: ``len()`` is the
    count, ``rows[i]`` fetches the window of ``page`` rows around ``i`` (a few windows are
    kept), ``rows.index(view)`` asks the source for the key's position. Only the rows the
    screen shows are ever read."""

    def __init__(self, source: KeySource, *, page: int = 200, keep: int = 8) -> None:
        self.source = source
        self.page = page
        self._keep = keep
        self._pages: OrderedDict[int, list[KeyView]] = OrderedDict()
        self._length: int | None = None

    def __len__(self) -> int:
        if self._length is None:
            self._length = self.source.count()
        return self._length

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
            rows = self.source.window(number * self.page, self.page)
            self._pages[number] = rows
            while len(self._pages) > self._keep:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(number)
        offset = index - number * self.page
        if offset >= len(rows):  # the store shrank since the count: the row is gone
            raise IndexError(index)
        return rows[offset]

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        """The position of the key ``value`` (a view, or a key id) in this order."""
        key_id = value if isinstance(value, str) else getattr(value, "id", None)
        found = self.source.position(key_id) if isinstance(key_id, str) else None
        if found is None or found < start or (stop is not None and found >= stop):
            raise ValueError(f"{key_id!r} is not among these keys")
        return found

    def __contains__(self, value: object) -> bool:
        try:
            self.index(value)
        except ValueError:
            return False
        return True


__all__ = ["DatabaseKeySource", "IndexKeySource", "KeySource", "WindowedRows"]
