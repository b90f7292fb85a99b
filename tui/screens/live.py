"""Screens that show store data and keep it current, and the list screen every table is.

A :class:`LiveScreen` loads in a thread worker when it becomes the current screen (first push
and every resume), again on ``r``, and whenever another admin has changed the store. On the
file store, every ``app.live_interval`` seconds it compares ``repo.changed_marker()`` (one
``os.stat``) with the marker seen before the last load. On PostgreSQL nothing is polled: the
app's one :class:`ChangeWatch` waits on ``LISTEN`` (a connection of its own, in a thread
worker) and has the current screen reload as soon as another session's change is committed. A
subclass says what to ``fetch`` (worker thread) and how to ``show`` it.

A :class:`ListScreen` is a live screen over one Line API table (keys, projects, members,
activity): it owns the table, the status line (what is shown, then the cursor's row: "row
1,204 of 89,967"), the loading line, and the footer's extra keys on wide terminals. The
table's keys (arrows, ``j``/``k``, ``g``/``G``, page keys) are the same on every list screen
because it is the same widget.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import get_current_worker

from store.backend import ChangeNotices
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
        self._loading = False
        self._stale = False  # a change was announced while a load ran: load once more after it
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
        On PostgreSQL the app's :class:`ChangeWatch` tells the current screen instead.
        """
        if self.repo.is_postgres:
            ChangeWatch.start(self.app)
        else:
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
        self._loading, self._stale = True, False
        if not self.repo.is_postgres:
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
        self._loading = False
        self.loaded = True
        self.show(data)
        self._shown()
        self.refresh_bindings()
        if self._stale:
            self.reload()

    def _shown(self) -> None:
        """After every ``show``: a base class's own follow-up."""

    def _failed(self, number: int, error: StoreError) -> None:
        if number == self._load_number and self.is_attached:
            self._loading = False
            self._load_failed(error)

    def store_changed(self, notices: list[str]) -> None:
        """Another session changed the store (PostgreSQL notices): load again, once, keeping
        the cursor on its row; a burst of notices during a load costs one more load."""
        if self._loading:
            self._stale = True
        else:
            self.reload()

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


class ChangeWatch:
    """The app's one listener of other sessions' changes on PostgreSQL.

    A thread worker waits on ``repo.change_notices()`` (``LISTEN`` on a connection of its
    own) and, when notices arrive, has the current :class:`LiveScreen` reload (screens below
    load again when they come back on top). A lost connection is said once on one line, then
    tried again every :attr:`RETRY` seconds; when it is back, the current screen reloads (it
    may have missed changes). The listener is closed when the worker ends: the app's exit
    cancels it, and the wait returns within :attr:`WAIT` seconds to see that.
    """

    WAIT = 0.25  # seconds one wait lasts: how soon a cancelled watch notices it
    RETRY = 2.0  # seconds between attempts to listen again after the connection was lost

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.lost = False

    @classmethod
    def start(cls, app: App[Any]) -> ChangeWatch:
        """The app's watch, started on first use."""
        watch: ChangeWatch | None = getattr(app, "_change_watch", None)
        if watch is None:
            watch = cls(app)
            app._change_watch = watch  # type: ignore[attr-defined]
            app.run_worker(watch.listen, thread=True, name=WATCH_WORKER, group=WATCH_WORKER,
                           exit_on_error=False)
        return watch

    def listen(self) -> None:
        """Wait for notices until cancelled (runs in the worker's thread)."""
        worker = get_current_worker()
        listener: ChangeNotices | None = None
        try:
            while not worker.is_cancelled:
                try:
                    if listener is None:
                        listener = self.app.repo.change_notices()  # type: ignore[attr-defined]
                        if listener is None:
                            return  # not a database store: screens poll instead
                        if self.lost:
                            self.lost = False
                            self._tell(self._back)
                    notices = listener.wait(self.WAIT)
                except StoreError as error:
                    _close(listener)
                    listener = None
                    if not self.lost:
                        self.lost = True
                        self._tell(partial(self._said_lost, str(error)))
                    worker.cancelled_event.wait(self.RETRY)
                    continue
                if notices:
                    self._tell(partial(self._changed, notices))
        finally:
            _close(listener)

    def _tell(self, callback: Callable[[], None]) -> None:
        # Posted, never awaited: a worker that waits for the UI thread could hold up the exit.
        self.app.post_message(events.Callback(callback=callback))

    def _changed(self, notices: list[str]) -> None:
        screen = self.app.screen
        if isinstance(screen, LiveScreen) and screen.loaded:
            screen.store_changed(notices)

    def _said_lost(self, error: str) -> None:
        self.app.notify(
            f"Live updates paused: {error}. Trying again…", severity="warning", markup=False,
            timeout=8,
        )

    def _back(self) -> None:
        self.app.notify("Live updates are back.", markup=False)
        self._changed(["reconnected"])


WATCH_WORKER = "live-notices"
"""The name (and group) of the watch's worker: tests that wait for every worker skip it."""


def _close(listener: ChangeNotices | None) -> None:
    if listener is not None:
        try:
            listener.close()
        except Exception:  # noqa: BLE001 - a broken connection closes as well as it can
            pass
