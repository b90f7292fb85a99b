"""Screens that show store data and keep it current, and the list screen every table is.

A :class:`LiveScreen` loads in a thread worker when it becomes the current screen (first push
and every resume), again on ``r``, and whenever another admin has changed the store file:
every ``app.live_interval`` seconds it compares ``repo.changed_marker()`` (one ``os.stat``)
with the marker seen before the last load. A subclass says what to ``fetch`` (worker thread)
and how to ``show`` it.

A :class:`ListScreen` is a live screen over one Line API table (keys, projects, members,
activity): it owns the table, the status line (what is shown, then the cursor's row: "row
1,204 of 89,967"), the loading line, and the footer's extra keys on wide terminals. The
table's keys (arrows, ``j``/``k``, ``g``/``G``, page keys) are the same on every list screen
because it is the same widget.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from store.errors import StoreError
from store.repository import Repository

from ..text import literal, safe_text
from ..widgets.virtual_table import Column, VirtualTable
from ..workers import store_call

Loaded = TypeVar("Loaded")


class LiveScreen(Screen[None], Generic[Loaded]):
    """Base of the screens that show store data: subclasses say what to ``fetch`` and how to
    ``show`` it."""

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
            failed=lambda error: self._failed(number, error),
            group=f"load-{id(self)}",
        )

    def _loaded(self, number: int, data: Any) -> None:
        if number != self._load_number or not self.is_attached:
            return
        self.loaded = True
        self.show(data)
        self._shown()
        self.refresh_bindings()

    def _shown(self) -> None:
        """After every ``show``: a base class's own follow-up."""

    def _failed(self, number: int, error: StoreError) -> None:
        if number == self._load_number and self.is_attached:
            self._load_failed(error)

    def _load_failed(self, error: StoreError) -> None:
        """Say why the store could not be read (a notification, and on the summary lines)."""
        self.notify(str(error), title="Store error", severity="error", markup=False, timeout=10)
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


class ListScreen(LiveScreen[Loaded]):
    """Base of every list screen: a live screen over one table; subclasses give the table's
    ``COLUMNS``, ``cell`` and ``row_id``, and set the status line's ``set_summary``."""

    # The same keys on every list screen: r and q work everywhere, the footer keeps its room
    # for the screen's own keys (and shows q when wide).
    BINDINGS = [
        Binding("r", "reload", "Reload", show=False),
        Binding("q", "app.quit", "Quit", show=False),
    ]
    AUTO_FOCUS = "#rows"
    COLUMNS: ClassVar[Sequence[Column]] = ()
    MARKABLE: ClassVar[bool] = False
    LOADING: ClassVar[str] = "Loading…"
    WIDE_KEYS: ClassVar[Collection[str]] = ("q",)
    """Keys bound with ``show=False`` that the footer shows on a wide terminal."""
    WIDE_AT: ClassVar[int] = 100
    """How many columns make a terminal wide enough for ``WIDE_KEYS`` and ``ctrl+p``."""

    CHANGES: ClassVar[Collection[str]] = ()
    """Actions that change the organisation, offered only when the repository's rule book
    allows them (``refusal`` is None); each has a hidden ``refuse`` twin on the same key that
    says why when it does not."""
    ROW_CHANGES: ClassVar[Collection[str]] = ()
    """Those of ``CHANGES`` that act on the row under the cursor (greyed without one)."""

    def __init__(self) -> None:
        super().__init__()
        self._summary: Text = Text(self.LOADING)
        self._wide: bool | None = None
        self.refusal: str | None = "the list is still loading"
        """Why this member may not make the screen's ``CHANGES`` (set by ``show``)."""

    # -- what a subclass gives ------------------------------------------------------------

    def cell(self, row: Any, column: str) -> str | Text:
        """The text of one cell."""
        raise NotImplementedError

    def row_id(self, row: Any) -> str:
        """A row's stable id (the cursor and the marks follow it across loads)."""
        raise NotImplementedError

    def row_style(self, row: Any) -> str:
        """A style for a whole row ("" for none)."""
        return ""

    def compose_above(self) -> ComposeResult:
        """Widgets between the status line and the table (a filter)."""
        yield from ()

    def compose_below(self) -> ComposeResult:
        """Widgets between the table and the footer (an empty state, a detail line)."""
        yield from ()

    def cursor_moved(self) -> None:
        """The cursor is on another row (or the rows changed): a subclass may show more."""

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Header, the status line, the table, the footer."""
        yield Header()
        yield Static(self._summary, id="summary", classes="summary", markup=False)
        yield from self.compose_above()
        yield VirtualTable(
            self.COLUMNS, self.cell, row_id=self.row_id, row_style=self.row_style,
            markable=self.MARKABLE, id="rows",
        )
        yield from self.compose_below()
        yield Footer(compact=True, show_command_palette=False)

    @property
    def table(self) -> VirtualTable:
        """The screen's table."""
        return self.query_one("#rows", VirtualTable)

    # -- the status line ------------------------------------------------------------------

    def set_summary(self, summary: str | Text) -> None:
        """What the status line says before the cursor's position."""
        self._summary = literal(summary) if isinstance(summary, str) else summary
        self._show_status()

    def show_progress(self, text: str) -> None:
        """A loading line (meant for ``call_from_thread`` from a worker)."""
        if self.is_attached and not self.loaded:
            self.set_summary(text)

    def _shown(self) -> None:
        self._show_status()

    def _show_status(self) -> None:
        status = self._summary.copy()
        if self.loaded and self.is_mounted and self.table.row_count:
            table = self.table
            status.append(f" · row {table.cursor_index + 1:,} of {table.row_count:,}")
        self.query_one("#summary", Static).update(status)

    @on(VirtualTable.CursorMoved)
    def _cursor_moved(self) -> None:
        self._show_status()
        self.cursor_moved()
        self.refresh_bindings()

    def _load_failed(self, error: StoreError) -> None:
        """Say why the store could not be read (on the status line and in a notification)."""
        self.notify(str(error), title="Store error", severity="error", markup=False, timeout=10)
        self.set_summary(literal(str(error)))

    # -- who may change what ----------------------------------------------------------

    @property
    def may_change(self) -> bool:
        """Whether the rule book lets this member make the screen's ``CHANGES``."""
        return self.loaded and self.refusal is None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide changes from members who may not make them; grey row changes without a row."""
        if action in self.CHANGES:
            if not self.may_change:
                return False
            return None if action in self.ROW_CHANGES and self.table.cursor_row is None else True
        if action == "refuse":
            return not self.may_change
        return True

    def action_refuse(self) -> None:
        """Say why the pressed action is not available to this member (the rule book's words)."""
        self.notify(safe_text(self.refusal or ""), severity="warning", markup=False)

    # -- wide terminals -------------------------------------------------------------------

    def on_resize(self) -> None:
        """On a wide terminal the footer offers more keys (and ``ctrl+p``)."""
        wide = self.size.width >= self.WIDE_AT
        if wide == self._wide:
            return
        self._wide = wide
        show_bindings(self, self.WIDE_KEYS, wide)
        for table in self.query(VirtualTable):
            show_bindings(table, self.WIDE_KEYS, wide)
        for footer in self.query(Footer):
            footer.show_command_palette = wide
        self.refresh_bindings()


def show_bindings(node: DOMNode, keys: Collection[str], show: bool) -> None:
    """Show (or hide) ``node``'s bindings of ``keys`` in the footer, on this node only."""
    bound = node._bindings.key_to_bindings
    for key in keys:
        if key in bound:  # a new list: the class's lists are shared by every instance
            bound[key] = [dataclasses.replace(binding, show=show) for binding in bound[key]]


def sized_columns(columns: Sequence[Column], rows: Sequence[Any],
                  text: Callable[[Any, str], str]) -> list[Column]:
    """``columns`` with ``most`` set to their widest content among ``rows`` (for small lists:
    it reads every cell of the measured columns)."""
    sized = []
    for column in columns:
        widest = max((len(text(row, column.key)) for row in rows), default=0)
        sized.append(dataclasses.replace(column, most=max(widest, len(column.label))))
    return sized
