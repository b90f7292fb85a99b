"""Long lists read a page at a time (the policy's violations, the audit trail).

A screen over such a list reads the first page, and a page more each time the admin reaches
its last row (``G``, ``End`` or scrolling down) or presses ``m``: on PostgreSQL at a million
keys or events it never reads the whole list to show the top of it. Reloads (``r``, another
admin's change) read as many rows as were shown before, so the cursor keeps its row.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..widgets.virtual_table import VirtualTable


@dataclass
class Pages:
    """How many rows a screen reads now, and whether the store holds more."""

    size: int
    """Rows per page."""
    wanted: int = 0
    """Rows the next load reads (a page at first, then a page more each time)."""
    more: bool = False
    """Whether the last load left rows unread."""
    _grown_at: int = -1  # how many rows were shown when more were last asked for

    def __post_init__(self) -> None:
        self.wanted = self.wanted or self.size

    def loaded(self, shown: int, more: bool) -> None:
        """What a load brought: ``shown`` rows, and whether the store holds more."""
        self.more = more
        if not more:
            self._grown_at = -1

    def grow(self) -> bool:
        """Read a page more on the next load; False when there is nothing more to read."""
        if not self.more:
            return False
        self.wanted += self.size
        return True

    def at_end(self, table: VirtualTable) -> bool:
        """Whether the admin just moved the cursor to the last of the rows while more are
        unread (once per length of the list, so a filter that leaves few rows does not read
        on and on; never while they type in a filter)."""
        count = table.row_count
        if not self.more or count == 0 or table.cursor_index < count - 1 or count == self._grown_at:
            return False
        if not table.has_focus:
            return False
        self._grown_at = count
        return self.grow()
