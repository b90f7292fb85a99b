"""A screen that shows store data and keeps it current.

It loads in a thread worker when it becomes the current screen (first push and every resume),
again on ``r``, and whenever another admin has changed the store file: every
``app.live_interval`` seconds it compares ``repo.changed_marker()`` (one ``os.stat``) with the
marker seen before the last load.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from store.errors import StoreError
from store.repository import Repository

from ..text import literal
from ..workers import store_call

Loaded = TypeVar("Loaded")

SCROLLBAR_WIDTH = 2  # reserved beside a DataTable so its columns never shift when it scrolls


class LiveScreen(Screen[None], Generic[Loaded]):
    """Base of the admin screens: subclasses say what to ``fetch`` and how to ``show`` it."""

    BINDINGS = [Binding("r", "reload", "Reload")]

    def __init__(self) -> None:
        super().__init__()
        self._seen_marker: object = object()  # matches nothing until the first load starts
        self._load_number = 0
        self.loaded = False

    @property
    def repo(self) -> Repository:
        """The app's store, acting as the app's login."""
        return self.app.repo  # type: ignore[attr-defined]

    def fetch(self) -> Loaded:
        """Read what the screen shows (runs in a thread; may raise :class:`StoreError`)."""
        raise NotImplementedError

    def show(self, data: Loaded) -> None:
        """Display freshly loaded data (runs on the UI thread)."""
        raise NotImplementedError

    def on_mount(self) -> None:
        """Start watching the store for other admins' changes.

        Textual calls this as well as a subclass's own ``on_mount``: do not call it again.
        """
        self.set_interval(self.app.live_interval, self._poll)  # type: ignore[attr-defined]

    def on_screen_resume(self) -> None:
        """Load on first show and after every screen or modal on top of it closes."""
        self.reload()

    def action_reload(self) -> None:
        """Read the store again."""
        self.reload()

    def reload(self) -> None:
        """Load in a worker; an older load that finishes late is ignored."""
        self._load_number += 1
        number = self._load_number
        self._seen_marker = self._marker()
        store_call(
            self,
            self.fetch,
            lambda data: self._loaded(number, data),
            failed=self._load_failed,
            group=f"load-{id(self)}",
        )

    def _loaded(self, number: int, data: Any) -> None:
        if number != self._load_number or not self.is_attached:
            return
        self.loaded = True
        self.show(data)
        self.refresh_bindings()

    def _load_failed(self, error: StoreError) -> None:
        self.notify(str(error), severity="error", markup=False, timeout=8)
        for summary in self.query(".summary").results(Static):
            summary.update(literal(str(error)))

    def _marker(self) -> object:
        try:
            return self.repo.changed_marker()
        except OSError as error:  # a vanished or unreadable folder: the next load says why
            return repr(error)

    def _poll(self) -> None:
        # Only the screen on top reloads; one below catches up when it is resumed.
        if self.is_current and self._marker() != self._seen_marker:
            self.reload()

    def action_back(self) -> None:
        """Close this screen and return to the one below."""
        if len(self.app.screen_stack) > 1:
            self.dismiss()


def cursor_key(table: DataTable[Any]) -> str | None:
    """The key of the row under the table's cursor, if any."""
    if table.row_count == 0:
        return None
    try:
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
    except Exception:  # noqa: BLE001 - a cursor outside the rows means no row
        return None
    return key.value


def move_cursor_to(table: DataTable[Any], key: str | None, fallback_row: int = 0) -> None:
    """Put the cursor back on the row with ``key`` (or the nearest row when it went away)."""
    if table.row_count == 0:
        return
    row = fallback_row
    if key is not None:
        try:
            row = table.get_row_index(key)
        except Exception:  # noqa: BLE001 - the row is gone (filtered out or deleted)
            row = fallback_row
    table.move_cursor(row=max(0, min(row, table.row_count - 1)), animate=False)


def flex_width(total: int, fixed: list[int], minimum: int, padding: int = 1) -> int:
    """Width left for the one flexible column of a DataTable ``total`` cells wide.

    ``fixed`` are the other columns' content widths; every column also takes ``padding`` cells
    each side, and a scrollbar's width is kept free.
    """
    columns = len(fixed) + 1
    left = total - SCROLLBAR_WIDTH - sum(fixed) - 2 * padding * columns
    return max(minimum, left)
