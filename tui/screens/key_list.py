"""The main screen: every key this member may see, in a table that costs what the screen shows."""

from __future__ import annotations

import gc
import threading
from contextlib import suppress
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

from store import lifecycle
from store.access import KeyAction
from store.errors import Forbidden, StoreError
from store.find import hide_secrets, parse_query
from store.key_index import SORT_ORDERS, KeyIndex
from store.key_source import KeySource, WindowedRows, is_pending
from store.presenter import creator_label
from store.repository import Repository
from store.tokens import VISIBLE_RANDOM_CHARS
from store.views import KeyView, NewestKeys, Role, Status

from ..clipboard import copy_text
from ..format import EXPIRY_WARNING_DAYS, days_until, expiry_phrase, scope_label, short_date
from ..text import literal, safe_text
from ..widgets.text_input import TextInput
from ..widgets.virtual_table import Column, VirtualTable
from ..workers import Beside, store_call
from .live import ListScreen

if TYPE_CHECKING:  # pydantic models: imported by the actions that use them, never at start
    from store.models import ApiKey, Member

PROGRESS_FROM = 10_000  # keys: a first load this big says what it is doing
PROGRESS_BYTES = 2_000_000  # a store file this big is announced with its size
SORT_LABELS = {"created_desc": "created ↓", "created_asc": "created ↑", "scope": "scope",
               "last_used": "last used"}
PREPARE_AFTER = 0.05  # seconds after the first frame with rows: the other orders, the finder
COUNT_CAP = 10_000  # a database count stops here at first ("10,000+ keys"); a worker counts on
PAGE = 100  # rows a database window holds: a screenful or five, one indexed query
COUNT_AFTER = 0.3  # seconds of quiet (no keystroke changing the rows) before an exact count
PREVIEW_FROM = 2_000_000  # bytes: a store file this big shows its newest keys first (~3,500 keys)
PREVIEW_WAIT = 0.5  # seconds the load waits for the newest keys' frame before parsing on
_NO_PREVIEW = threading.Event()
_NO_PREVIEW.set()  # nothing to wait for

COLUMNS = (
    Column("name", "Name", 16, priority=100, flex=True),
    Column("scope", "Scope", 9, priority=90),
    Column("project", "Project", 12, priority=80),
    Column("key", "Key", VISIBLE_RANDOM_CHARS + 7, priority=70),
    Column("created", "Created", 10, priority=60),
    Column("status", "Status", 11, priority=50),
    Column("created_by", "Created by", 12, priority=20),
    Column("last_used", "Last used", 10, priority=10),
)


@dataclass
class Window:
    """The rows of one sort and filter on a database store, as a worker read them: the
    capped count, the page the cursor is on (or the first), the cursor's place in it."""

    rows: WindowedRows
    position: int | None
    total: int
    total_exact: bool
    widest_name: int
    query: tuple[str, str, bool, bool]
    """(order, filter, show revoked, expiring only) as they were when it was read."""


@dataclass
class KeysLoaded:
    """What one load of the store brings back from the worker (``index`` on the file store,
    ``window`` on a database)."""

    index: KeyIndex | None
    organisation: str
    role: Role
    sees_every_key: bool
    project_count: int
    widest_name: int
    widest_project: int
    window: Window | None = None


@dataclass
class NotMember:
    """The acting login is not a member of the store's organisation."""

    organisation: str
    owners: list[Member]


class KeyListScreen(ListScreen["KeysLoaded | NotMember"]):
    """API Keys: the table, its count and sort order, the filter, marks and every key action."""

    CSS_PATH = "key_list.tcss"
    COLUMNS = COLUMNS
    MARKABLE = True
    LOADING = "Loading the store…"
    WIDE_KEYS = ("enter", "space", "m", "l", "q")
    WIDE_AT = 130  # every key of the footer fits from here on
    BINDINGS = [
        Binding("n", "new_key", "New"),
        Binding("enter", "open_key", "Details", show=False),
        Binding("e", "edit_key", "Edit"),
        Binding("d,delete", "revoke", "Revoke", key_display="d"),
        Binding("c", "copy_key", "Copy"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("slash", "start_filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear"),
        Binding("a", "toggle_revoked", "Show/hide revoked keys", show=False),
        Binding("p", "projects", "Projects"),
        Binding("m", "members", "Members", show=False),
        Binding("l", "activity", "Activity log", show=False),
        # Lifecycle (SPEC §9): capitals, so no lower-case key changes meaning.
        Binding("R", "roll_key", "Roll", show=False),
        Binding("D", "disable_keys", "Disable", show=False),
        Binding("E", "enable_keys", "Enable", show=False),
        Binding("x", "toggle_expiring", "Expiring soon", show=False),
        Binding("P", "policy", "Policy", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.index: KeyIndex | None = None
        self.role: Role | None = None
        self.sees_every_key = True
        self.key_order = "created_desc"
        self.filter_text = ""
        self._secret_masks: dict[str, str] = {}  # a pasted secret's mask → its hash only
        self.show_revoked = False
        self.project_count = 0
        self._pending_cursor: str | None = None
        self._first_load = True
        self._opened = False
        self._reported_tenth = -1
        # A database store (PostgreSQL): windows, never every key.
        self.windowed: WindowedRows | None = None
        self._total = 0  # keys before the filter (a lower bound until counted exactly)
        self._total_exact = True
        self._total_of = False  # whether that total counts revoked keys
        self._cursor_keys: list[str] = []  # the cursor's key, then its neighbours, at a reload
        self._querying = False
        self._query_again: bool | None = None  # a keystroke during a query: its keep_cursor
        self._widest = (0, 0)
        self._far_wanted: tuple[WindowedRows, int] | None = None
        self._count_timer: Timer | None = None

    # -- layout ---------------------------------------------------------------------------

    def compose_above(self) -> ComposeResult:
        """The filter, hidden until ``/``; ``enter`` hands the keys typed after it to the
        table at once, even those that arrive in the same burst (over a slow SSH link)."""
        yield TextInput(
            placeholder="Filter: name, id, prefix, project, scope, creator, status, unused, "
            "or a pasted secret — esc clears", id="filter", focus_on_submit="#rows")

    def compose_below(self) -> ComposeResult:
        """The empty state, shown instead of the table when there is nothing to list."""
        yield Static(id="empty", markup=False)

    def on_mount(self) -> None:
        """The title until the first load names the organisation; a big store's newest keys."""
        self.query_one("#empty", Static).display = False
        self.title = "API Keys"
        self._preview_newest()

    # -- loading --------------------------------------------------------------------------

    def load(self, cursor_to: str | None = None) -> None:
        """Reload the keys in a worker; keep the cursor on its key (or move it to ``cursor_to``)."""
        if cursor_to:
            self._pending_cursor = cursor_to
        self.reload()

    def fetch(self) -> KeysLoaded | NotMember:
        """Read the keys and sort them in the first order shown (worker thread)."""
        repo, first = self.repo, not self._opened
        # Only the first load may create the store: a load started by the live poll before
        # the first one was shown must not recreate a store moved away meanwhile.
        self._opened = True
        if first:
            # The preview's frame reaches the terminal before the parse takes the interpreter.
            self._preview_painted.wait(PREVIEW_WAIT)
            self._say_reading(repo)
            repo.report_reading(self._reading_progress)
            try:
                repo.open_or_create()  # the first login to open a new store becomes its owner
            finally:
                repo.report_reading(None)
        # Later, a store moved away is an error (organisation() says so), not a new store.
        organisation = repo.organisation()
        try:
            role = repo.role()
        except Forbidden:
            return NotMember(organisation, repo.owners())
        if repo.is_postgres:
            names = repo.project_names()
            window = self._read_window(self._query_key(), self._cursor_keys, total=True)
            return KeysLoaded(
                index=None, organisation=organisation, role=role,
                sees_every_key=repo.sees_every_key(), project_count=len(names),
                widest_name=window.widest_name,
                widest_project=max((len(name) for name in names), default=0), window=window,
            )
        views = repo.list_keys(include_revoked=self.show_revoked)
        if first and len(views) > PROGRESS_FROM:
            self.post_message(self.Progress(self._preview_text(f"Sorting {len(views):,} keys…")))
        index = KeyIndex(views, repo.now())
        index.positions(self.key_order)  # the first paint's order, sorted off the UI thread
        return KeysLoaded(
            index=index,
            organisation=organisation,
            role=role,
            sees_every_key=repo.sees_every_key(),
            project_count=repo.project_count(),
            widest_name=max((len(view.record["name"]) for view in views), default=0),
            widest_project=max((len(view.project_name) for view in views), default=0),
        )

    # -- a database store: windows --------------------------------------------------------

    def reload(self) -> None:
        """Load again; on a database the worker keeps the cursor on its key by asking for that
        key's position (or, if it went, a neighbour's)."""
        self._cursor_keys = self._cursor_candidates()
        super().reload()

    def _cursor_candidates(self) -> list[str]:
        if self._pending_cursor:
            return [self._pending_cursor]
        rows = self.windowed
        if rows is None or not self.is_mounted:
            return []
        index = self.table.cursor_index
        near = (rows.cached(i) for i in (index, index + 1, index - 1) if i >= 0)
        return [view.id for view in near if view is not None]

    def _query_key(self) -> tuple[str, str, bool, bool]:
        return (self.key_order, self.filter_text, self.show_revoked, self.expiring_only)

    def _source(self, query: tuple[str, str, bool, bool]) -> KeySource:
        """The database source of the current sort, filter, revoked and expiring choices."""
        order, text, revoked, expiring_only = query
        warn = self.expiring.warn_days if self.expiring is not None else EXPIRY_WARNING_DAYS
        return self.repo.key_source(
            order, parse_query(text, self._secret_masks), include_revoked=revoked,
            expiring_days=warn if expiring_only else None,
        )

    def _read_window(self, query: tuple[str, str, bool, bool], cursor_keys: list[str], *,
                     total: bool) -> Window:
        """Count (capped), find the cursor's key and read its page (worker thread)."""
        source = self._source(query)
        filtered = bool(query[1] or query[3])
        counted_before = self._total_exact and self._total_of == query[2]
        known = not total and not filtered and counted_before
        # A reload (another session's change) of every key counted before counts them exactly
        # at once (an index-only count), so the status line does not flicker to "10,000+".
        cap = None if total and not filtered and counted_before and self.windowed else COUNT_CAP
        # Every key counted already: no count again. Else the count runs beside the cursor's
        # page, on the counting connection: a keystroke costs the slower query only.
        counting = None if known else Beside(lambda: source.count(at_most=cap, aside=True))
        rows = WindowedRows(source, page=PAGE, length=self._total if known else COUNT_CAP,
                            exact=known)
        position = None
        for key_id in cursor_keys:
            position = source.position(key_id)
            if position is not None:
                rows.read_around(position, key_id)
                break
        if position is None and len(rows):
            with suppress(IndexError):  # nothing matches: the count says so in a moment
                rows[0]  # noqa: B018 - the first page, read here rather than on the UI thread
        if counting is None:
            counted, exact = self._total, True
        else:
            counted = counting.result()
            exact = cap is None or counted < cap
            # Past the capped count the cursor's key still shows: the table reaches it anyway.
            rows.set_length(max(counted, position + 1 if position is not None else 0),
                            exact=exact and (position is None or position < counted))
        first = [view for view in map(rows.cached, range(min(len(rows), PAGE)))
                 if view is not None] if counted else []
        widest = max((len(view.record["name"]) for view in first), default=0)
        all_total, all_exact = counted, exact
        if total and filtered:
            unfiltered = self._source((query[0], "", query[2], False))
            if counted_before and self.windowed is not None:  # a reload: as above
                all_total, all_exact = unfiltered.count(), True
            else:
                all_total = unfiltered.count(at_most=COUNT_CAP)
                all_exact = all_total < COUNT_CAP
        elif not total:
            all_total, all_exact = self._total, self._total_exact
        return Window(rows, position, all_total, all_exact, widest, query)

    def _show_window(self, window: Window, *, keep_cursor: bool) -> None:
        """Show a window read by a worker; count exactly in another when the count was capped."""
        rows, old = window.rows, self.windowed
        self.windowed = rows
        rows.on_far_page = lambda number: self._read_far_page(rows, number)
        rows.on_error = self._window_failed
        self._total, self._total_exact = window.total, window.total_exact
        self._total_of = window.query[2]
        at_end = old is not None and not old.exact and self.table.asked_for_end
        self.table.set_rows(rows, keep_cursor=False)
        if window.position is not None and keep_cursor:
            self.table.move_cursor(window.position)
        self._update_summary(len(rows))
        if not rows.exact or not window.total_exact:
            # After a pause in typing: each count may take a while, and they queue.
            if self._count_timer is not None:
                self._count_timer.stop()
            self._count_timer = self.set_timer(
                COUNT_AFTER, partial(self._count_exactly, window, at_end=at_end and keep_cursor))

    def _count_exactly(self, window: Window, *, at_end: bool = False) -> None:
        self._count_timer = None
        if window.rows is not self.windowed:
            return
        rows = window.rows
        filtered = bool(window.query[1] or window.query[3])

        known_total = self._total if self._total_exact and self._total_of == window.query[2] else None

        def count() -> tuple[int, int]:
            shown = rows.source.count()
            if not filtered:
                return shown, shown
            if known_total is not None or rows is not self.windowed:
                # Every key is counted already (a live change reads again and counts anew),
                # or the admin typed on: the count of all keys would only hold the server up.
                return shown, known_total if known_total is not None else -1
            unfiltered = self._source((window.query[0], "", window.query[2], False))
            return shown, unfiltered.count()

        def counted(answer: tuple[int, int]) -> None:
            if rows is not self.windowed:
                return  # read again since: that load counts its own
            shown, total = answer
            last = self.table.cursor_index >= len(rows) - 1
            end_wanted = not rows.exact and (self.table.asked_for_end or at_end and last)
            rows.set_length(max(shown, 0), exact=True)
            self._total, self._total_exact = total, True
            self._total_of = window.query[2]
            self.table.set_rows(rows, keep_cursor=True)
            if end_wanted:  # End was pressed on "10,000+": the true end now
                self.table.action_cursor_last()
            self._update_summary(len(rows))

        store_call(self, count, counted, group="count", exclusive=True)

    def _window_failed(self, error: StoreError) -> None:
        """A window could not be read while painting: say so once (the rows read as "…"
        until the next load: ``r``, or the live view's once the connection is back)."""
        self.notify(f"{error} — press r to read again", title="Store error", severity="error",
                    markup=False, timeout=10)

    def _read_far_page(self, rows: WindowedRows, number: int) -> None:
        """A page far from the known ones (the scroll bar dragged): read in a worker, its
        rows shown as "…" meanwhile; only the latest such read is kept waiting for."""

        wanted = self._far_wanted = (rows, number)

        def read() -> list[KeyView] | None:
            # Reads queue on one connection: one asked for before the latest is skipped.
            return rows.read_far_page(number) if self._far_wanted is wanted else None

        def done(views: list[KeyView] | None) -> None:
            rows.put_page(number, views)
            if rows is self.windowed and views is not None:
                self.table.refresh_rows()
                self._show_status()

        def failed(error: StoreError) -> None:
            rows.put_page(number, None)

        store_call(self, read, done, failed=failed, group="far-page")

    def _query_rows(self, *, keep_cursor: bool) -> None:
        """Read the current sort and filter's window in a worker; keystrokes meanwhile are
        gathered into one more read when it is back."""
        if self.windowed is not None:  # its exact count, if one runs, answers a stale question
            self.windowed.source.cancel_count()
        if self._querying:
            previous = self._query_again
            self._query_again = keep_cursor if previous is None else previous and keep_cursor
            return
        self._querying = True
        query = self._query_key()
        cursor_keys = self._cursor_candidates() if keep_cursor else []

        def done(window: Window) -> None:
            self._querying = False
            again, self._query_again = self._query_again, None
            if again is not None or window.query != self._query_key():
                self._query_rows(keep_cursor=bool(again) if again is not None else keep_cursor)
                return
            self._show_window(window, keep_cursor=keep_cursor)

        def failed(error: StoreError) -> None:
            self._querying = False
            self._query_again = None
            self._load_failed(error)

        store_call(self, lambda: self._read_window(query, cursor_keys, total=False), done,
                   failed=failed, group="window")

    def on_unmount(self) -> None:
        """Close the database connection the counts used (the app is ending)."""
        if self.repo.is_postgres:
            self.repo.close_key_sources()

    def _say_reading(self, repo: Repository) -> None:
        """On a big store, the loading line says how much there is to read (worker thread)."""
        try:
            size = repo.path.stat().st_size
        except OSError:
            return  # no store yet, or unreadable: the load says so
        if size >= PROGRESS_BYTES:
            self.post_message(self.Progress(self._preview_text(f"Reading the store ({size / 1e6:,.0f} MB)…")))

    def _reading_progress(self, done: int, total: int) -> None:
        """The loading line while a big store is parsed: every tenth of it (worker thread)."""
        if total >= PROGRESS_FROM and done < total:
            tenth = done * 10 // total
            if tenth != self._reported_tenth:
                self._reported_tenth = tenth
                self.post_message(self.Progress(self._preview_text(f"Reading {total:,} keys… {tenth * 10}%")))

    class Progress(Message):
        """A loading line from the load worker: posted, so the worker never waits for the
        UI thread to show it (``call_from_thread`` would, at every step of the parse)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        self.show_progress(message.text)

    def show(self, data: KeysLoaded | NotMember) -> None:
        """Show the keys (or, to a login that is not a member, who to ask)."""
        if isinstance(data, NotMember):
            from .not_member import NotMemberScreen

            self.app.switch_screen(NotMemberScreen(data.organisation, data.owners))
            return
        if self.index is not None:
            self.index.stopped = True  # its preparation, if still running, is of no use now
        self.index, self.role = data.index, data.role
        if self.previewing:
            self._end_preview()
        self.sees_every_key, self.project_count = data.sees_every_key, data.project_count
        self.title = f"API Keys — {safe_text(data.organisation)}"
        self.sub_title = f"{safe_text(self.repo.login)} ({data.role.value})"
        if data.window is not None:
            widest = (max(data.widest_name, self._widest[0]), data.widest_project)
            if widest != self._widest:  # the widest name seen so far: columns never shrink
                self._widest = widest
                self.table.set_columns(_sized(*widest))
            self._pending_cursor = None
            self._show_window(data.window, keep_cursor=True)
            self._first_load = False
            if data.window.query != self._query_key():  # typed while it loaded
                self._query_rows(keep_cursor=True)
            return
        self.table.set_columns(_sized(data.widest_name, data.widest_project))
        self._show_rows()
        if self._pending_cursor:
            self.table.move_cursor_to_id(self._pending_cursor)
            self._pending_cursor = None
        if self._first_load:
            # The first load's objects (millions at 100k keys) are mostly long-lived: keep the
            # cyclic collector from rescanning them during the first interactions.
            self._first_load = False
            gc.freeze()
        # The other sort orders and the finder's texts, ready before they are asked for, but
        # only once the rows are on the terminal: at 100,000 keys this holds the GIL ~0.5 s.
        index = data.index
        if index is not None:
            self.call_after_refresh(self.set_timer, PREPARE_AFTER, lambda: self._prepare(index))

    def _prepare(self, index: KeyIndex) -> None:
        if index is self.index and not index.stopped:
            # Not exclusive: a newer load stops an older preparation through its index, so no
            # worker is ever cancelled under someone waiting for it.
            self.run_worker(index.prepare, thread=True, group="prepare", exit_on_error=False)

    def _load_failed(self, error: StoreError) -> None:
        """Say that the store cannot be used, in place of the table.

        When the very first load fails the UI ends, returning the error: the command line
        prints it as one line and exits 2, as for a store refused before the UI opened.
        """
        if self._first_load and self.app.return_value is None:
            self.app.exit(error, return_code=error.exit_code)
            return
        self.index = self.windowed = None
        self.table.set_rows([])
        self.table.display = False
        empty = self.query_one("#empty", Static)
        empty.update(literal(f"The store cannot be used: {error}"))
        empty.display = True
        super()._load_failed(error)
        self.refresh_bindings()

    # -- showing --------------------------------------------------------------------------

    def _show_rows(self, *, keep_cursor: bool = True) -> None:
        if self.windowed is not None:
            self._query_rows(keep_cursor=keep_cursor)
            return
        if self.index is None:
            return
        query = parse_query(self.filter_text, self._secret_masks)
        rows = self.index.rows(self.key_order, query, now=self.repo.now())
        rows = self._expiring_rows(rows)  # x: only keys expiring within the warning window
        self.table.set_rows(rows, keep_cursor=keep_cursor)
        self._update_summary(len(rows))

    def _update_summary(self, shown: int) -> None:
        if self.windowed is not None:
            total, plus = self._total, "" if self._total_exact else "+"
            counted = f"{shown:,}" + ("" if self.windowed.exact else "+")
            filtered = bool(self.filter_text or self.expiring_only)
        else:
            assert self.index is not None
            total, plus, counted = len(self.index), "", f"{shown:,}"
            filtered = shown != total
        noun = "key" if total == 1 and not plus else "keys"
        parts = [f"{counted} of {total:,}{plus} {noun}" if filtered else f"{counted} {noun}"]
        parts.append(f"sorted by {SORT_LABELS[self.key_order]}")
        if self.show_revoked:
            parts.append("revoked shown")
        parts += self._expiring_summary()
        marked = len(self._marked_ids())
        if marked:
            parts.append(f"{marked} marked")
        if not self.sees_every_key:
            parts.append("your keys only")
        self.set_summary(" · ".join(parts))
        empty = self.query_one("#empty", Static)
        empty.display = shown == 0
        self.table.display = shown > 0
        if shown == 0:
            empty.update(self._empty_message(total))
        elif self.focused is None:
            self.table.focus()

    def _empty_message(self, total: int) -> Text:
        if total and self.expiring_only and not self.filter_text:
            return Text("No key expires within the warning window. Press x to show every key.")
        if total:
            return literal(f"No key matches “{self.filter_text}”. Press escape to clear the filter.")
        if self.project_count == 0:
            return Text(
                "No API keys yet.\n\nPress n to create your first key. Every key belongs to a "
                "project: the form lets you add the first one (or press p for Projects).\n\n"
                "Press ? for every key, q to quit."
            )
        if not self.show_revoked:
            return Text(
                "No active API keys.\n\nPress n to create a key, or a to show revoked keys too "
                "(? lists every key)."
            )
        return Text("No API keys yet.\n\nPress n to create your first key, ? for help.")

    def cell(self, view: KeyView, column: str) -> str | Text:
        """A key's cell: user text as is (the table shows it literally)."""
        record = view.record
        if is_pending(view):  # a far page being read
            return "…" if column == "name" else ""
        if column == "name":
            return record["name"]
        if column == "scope":
            return scope_label(record["scope"])
        if column == "project":
            return view.project_name
        if column == "key":
            return record["key_prefix"] + "•••"
        if column == "created":
            return short_date(record["created_at"])
        if column == "created_by":
            return self._creator(record["created_by"])
        if column == "last_used":
            return short_date(record.get("last_used_at")) if record.get("last_used_at") else "never"
        if column == "status":
            return self._status_text(view)
        return ""

    def _status_text(self, view: KeyView) -> Text:
        status = view.status(self.repo.now())
        if status is Status.REVOKED:
            return Text("revoked", style="dim")
        if status is Status.EXPIRED:
            return Text("expired", style="red")
        if status is Status.DISABLED:
            return Text("disabled", style="yellow")
        expires_at = view.record.get("expires_at")
        if expires_at:
            phrase = expiry_phrase(expires_at, self.repo.clock())
            soon = days_until(expires_at, self.repo.clock()) <= EXPIRY_WARNING_DAYS
            return Text(phrase, style="bold yellow" if soon else "")
        return Text("active", style="green")

    def row_id(self, view: KeyView) -> str:
        """A key's id."""
        return view.record["id"]

    def row_style(self, view: KeyView) -> str:
        """Dim a key that no longer verifies; bold one that expires soon."""
        if is_pending(view):
            return "dim"
        status = view.status(self.repo.now())
        if status is not Status.ACTIVE:
            return "dim"
        expires_at = view.record.get("expires_at")
        if expires_at and days_until(expires_at, self.repo.clock()) <= EXPIRY_WARNING_DAYS:
            return "bold"
        return ""

    # -- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide key actions while there is no key under the cursor.

        Where a key is selected but the action does not apply to it (an Analytics key cannot
        be edited, another member's key is read-only), the action stays available and says
        why when pressed, rather than silently doing nothing.
        """
        if self.previewing:
            return False  # a preview is not acted on: keys wait for the whole store
        view = self.table.cursor_row if self.is_mounted else None
        if is_pending(view):
            view = None  # its page is being read: no key to act on yet
        if action in ("edit_key", "copy_key", "open_key", "roll_key") and view is None:
            return False
        if action in ("revoke", "disable_keys", "enable_keys") and view is None and not self._marked_ids():
            return False
        # Escape clears a filter, or else the marks: without either it does nothing.
        return action != "clear_filter" or bool(
            self.filter_text or self._filter_visible() or self._marked_ids()
        )

    @on(VirtualTable.MarksChanged)
    def _marks_changed(self) -> None:
        if self.index is not None or self.windowed is not None:
            self._update_summary(self.table.row_count)
        self.refresh_bindings()

    @on(VirtualTable.RowActivated)
    def _row_activated(self) -> None:
        if not self.previewing:  # a click on the preview waits too
            self.action_open_key()

    def action_open_key(self) -> None:
        """Open the details of the key under the cursor."""
        from .key_detail import KeyDetailScreen

        view = self.table.cursor_row
        if view is not None:
            self.app.push_screen(KeyDetailScreen(view.id))

    def action_new_key(self) -> None:
        """Open the create form; then show the new secret once."""
        from .create_key import CreateKeyModal

        self.app.push_screen(CreateKeyModal(), self._key_created)

    def _key_created(self, created: Any) -> None:
        from store.models import CreatedKey

        from .key_created import KeyCreatedScreen

        if isinstance(created, CreatedKey):
            self._pending_cursor = created.key.id
            self.app.push_screen(KeyCreatedScreen(created), lambda _: self.load(created.key.id))

    def _refused(self, reason: str) -> None:
        self.notify(safe_text(reason), severity="warning", markup=False)

    def action_edit_key(self) -> None:
        """Edit the key under the cursor, when the rule book allows it."""
        from store.models import ApiKey

        from .edit_key import EditKeyModal

        view = self.table.cursor_row
        if view is None:
            return
        repo = self.repo

        def read() -> tuple[ApiKey, str | None]:
            key = repo.get_key(view.id)
            return key, repo.refusal(KeyAction.EDIT, key)

        def edited(result: object) -> None:
            if isinstance(result, ApiKey):
                self.notify(f"Saved {safe_text(result.name)}", markup=False)
                self.load(result.id)

        def ready(answer: tuple[ApiKey, str | None]) -> None:
            key, refusal = answer
            if refusal is not None:
                self._refused(refusal)
            else:
                self.app.push_screen(EditKeyModal(key), edited)

        store_call(self, read, ready)

    def action_revoke(self) -> None:
        """Ask, then revoke the marked keys, or the key under the cursor."""
        from .confirm_revoke import ConfirmRevoke

        views, hidden = self._acted_on()
        repo = self.repo

        def refusals() -> list[tuple[KeyView, str | None]]:
            return [(view, repo.refusal(KeyAction.REVOKE, view)) for view in views]

        def ask(answers: list[tuple[KeyView, str | None]]) -> None:
            allowed = [view for view, reason in answers if reason is None]
            # A key revoked already is left out; any other refusal stops the whole revoke.
            refused = [reason for view, reason in answers
                       if reason is not None and view.record.get("status") != "revoked"]
            if refused or not allowed:
                reasons = refused or [reason for _view, reason in answers if reason] or [
                    "nothing to revoke"]
                more = len(reasons) - 1
                self._refused(reasons[0] + (f" (and {more} more keys refused)" if more else ""))
                return
            ids = [view.id for view in allowed]

            def confirmed(yes: bool | None) -> None:
                if yes:
                    store_call(self, lambda: repo.revoke_keys(ids), self._revoked)

            keys = [(view.id, view.name, view.scope) for view in allowed]
            self.app.push_screen(ConfirmRevoke(keys, hidden=hidden), confirmed)

        store_call(self, refusals, ask)

    def _revoked(self, keys: list[ApiKey]) -> None:
        self.table.clear_marks()
        if len(keys) == 1:
            self.notify(f"Revoked {safe_text(keys[0].name)}", markup=False)
        else:
            self.notify(f"Revoked {len(keys)} keys")
        self.load()

    def action_copy_key(self) -> None:
        """Copy the secret of the key under the cursor (never for Analytics keys)."""
        view = self.table.cursor_row
        if view is None:
            return
        repo = self.repo

        def read() -> tuple[str | None, str | None]:
            refusal = repo.refusal(KeyAction.COPY, view)
            if refusal is not None:
                return refusal, None
            return None, repo.reveal_secret(view.id).get_secret_value()

        def copy(answer: tuple[str | None, str | None]) -> None:
            refusal, secret = answer
            if refusal is not None or secret is None:
                self._refused(refusal or "")
            else:
                self.notify(copy_text(self.app, secret))

        store_call(self, read, copy)

    def action_cycle_sort(self) -> None:
        """Created ↓ → created ↑ → scope → last used → created ↓."""
        position = SORT_ORDERS.index(self.key_order)
        self.key_order = SORT_ORDERS[(position + 1) % len(SORT_ORDERS)]
        self._show_rows(keep_cursor=False)  # a new order starts at its top

    def action_toggle_revoked(self) -> None:
        """Show or hide revoked keys."""
        self.show_revoked = not self.show_revoked
        self.load()

    def action_start_filter(self) -> None:
        """Show the filter box and type into it."""
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        """Clear and hide the filter (or, with no filter, clear the marks)."""
        box = self.query_one("#filter", Input)
        if not box.display and not self.filter_text:
            self.table.clear_marks()
            return
        box.value = ""
        box.display = False
        self.table.focus()

    def _filter_visible(self) -> bool:
        return self.query_one("#filter", Input).display

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        shown, masks = hide_secrets(event.value)
        if masks:
            # A pasted secret is matched by its hash and shown as its prefix only: the box
            # (and so the screen, and anything that keeps the box's text) never holds it.
            self._secret_masks.update(masks)
            box = event.input
            with box.prevent(Input.Changed):
                box.value = shown
            box.cursor_position = len(shown)
        words = shown.split()
        self._secret_masks = {mask: digest for mask, digest in self._secret_masks.items()
                              if mask in words}
        self.filter_text = shown
        self._show_rows()

    def action_projects(self) -> None:
        """Open Projects."""
        from .projects import ProjectsScreen

        self.app.push_screen(ProjectsScreen())

    def action_members(self) -> None:
        """Open Members."""
        from .members import MembersScreen

        self.app.push_screen(MembersScreen())

    def action_activity(self) -> None:
        """Open the audit trail."""
        from .activity import ActivityScreen

        self.app.push_screen(ActivityScreen())

    def _marked_ids(self) -> set[str]:
        if not self.is_mounted:
            return set()
        return self.table.marked_ids

    # -- lifecycle (SPEC §9): roll, disable / enable, expiring soon, policy -----------------

    expiring_only = False
    expiring: Expiring | None = None

    def _acted_on(self) -> tuple[list[KeyView], int]:
        """The marked keys (and how many of them the filter hides), or the cursor's key."""
        marked = self._marked_ids()
        if marked and self.windowed is not None:
            # Marked rows are kept by the table as they were marked, on any page; how many the
            # filter hides is one lookup by id.
            views = [view for view in map(self.table.marked_row, marked) if view is not None]
            views.sort(key=lambda view: view.record.get("created_at", ""))  # oldest first
            return views, len(views) - len(self.windowed.present(marked))
        if marked:
            views = [view for view in self.index.views if view.id in marked] if self.index else []
            return views, len(views) - len(self.table.marked_rows())
        view = self.table.cursor_row if self.is_mounted else None
        return ([view] if view is not None else []), 0

    def action_roll_key(self) -> None:
        """Roll the key under the cursor: a grace period, then its new secret."""
        from .roll_key import roll_key

        view = self.table.cursor_row
        if view is not None:
            roll_key(self, view.id, lambda rolled: self.load(rolled.key.id))

    def action_disable_keys(self) -> None:
        """Ask, then disable the marked keys, or the key under the cursor."""
        from .disable_keys import disable_keys

        views, hidden = self._acted_on()
        if views:
            disable_keys(self, views, self._disabled, hidden=hidden)

    def _disabled(self, keys: list[ApiKey]) -> None:
        from .disable_keys import said_done

        self.table.clear_marks()
        said_done(self, "Disabled", keys)
        self.load()

    def action_enable_keys(self) -> None:
        """Enable the marked keys, or the key under the cursor."""
        from .disable_keys import enable_keys, said_done

        views, _hidden = self._acted_on()

        def enabled(keys: list[ApiKey]) -> None:
            self.table.clear_marks()
            said_done(self, "Enabled", keys)
            self.load()

        if views:
            enable_keys(self, views, enabled)

    def action_toggle_expiring(self) -> None:
        """Show only the keys expiring within the policy's warning window, or every key again."""
        self.expiring_only = not self.expiring_only
        if self.expiring is not None or self.windowed is not None:
            self._show_rows(keep_cursor=False)

    def action_policy(self) -> None:
        """Open the key policy."""
        from .policy import PolicyScreen

        self.app.push_screen(PolicyScreen())

    def _shown(self) -> None:
        super()._shown()
        if self.index is not None or self.windowed is not None:
            # Once the rows are on the terminal: the count reads the policy (and, at first,
            # imports pydantic for it) and walks every key, which would hold up their frame.
            self.call_after_refresh(self._read_expiring)

    def _read_expiring(self) -> None:
        """How many keys expire within the policy's warning window (a worker: one count,
        indexed on a database), and who the members are now."""
        repo = self.repo

        def read() -> Expiring:
            warn_days = repo.get_policy().warn_days
            return Expiring(warn_days, repo.member_logins(), repo.expiring_count(warn_days))

        store_call(self, read, self._expiring_read, group="expiring", exclusive=True)

    def _expiring_read(self, expiring: Expiring) -> None:
        changed = self.expiring is None or self.expiring.members != expiring.members
        self.expiring = expiring
        if self.expiring_only and self.windowed is None:
            self._show_rows()
        elif self.index is not None or self.windowed is not None:
            self._update_summary(self.table.row_count)
            if changed:
                self.table.refresh_rows()

    def _expiring_rows(self, rows: list[KeyView]) -> list[KeyView]:
        """The file store's rows, only the active keys expiring within the warning window
        while ``x`` is on (a database answers that itself)."""
        if not self.expiring_only or self.expiring is None:
            return rows
        now = self.repo.now()
        until = lifecycle.horizon(now, self.expiring.warn_days)
        return [view for view in rows if lifecycle.is_expiring(view.record, now, until)]

    def _expiring_summary(self) -> list[str]:
        expiring = self.expiring
        if expiring is None:
            return []
        count = expiring.count
        if self.expiring_only:
            return [f"only expiring in {expiring.warn_days}d"]
        if not count:
            return []
        return [f"{count:,} expiring in {expiring.warn_days}d (x)"]

    def _creator(self, login: str) -> str:
        members = self.expiring.members if self.expiring is not None else None
        return creator_label(login, members)


    # -- a big file store: its newest keys before the rest (first-paint) ------------------------

    previewing = False
    """Showing the newest keys from the front of the store file while the rest is read: a
    preview nobody acts on. Keys pressed meanwhile wait, and act once every key is loaded."""
    _held_keys: list[tuple[str, str | None]] | None = None

    _preview_painted = _NO_PREVIEW

    def _preview_newest(self) -> None:
        """On a big store file, show its newest keys in the first frame: a screenful read from
        the front of the file (~100 kB, a few milliseconds, never more than a megabyte) while
        the load worker reads the rest once that frame is drawn."""
        self._preview_painted = threading.Event()
        repo = self.repo
        try:
            if repo.is_postgres or repo.path.stat().st_size < PREVIEW_FROM:
                preview = None
            else:
                preview = repo.newest_keys(max(self.app.size.height, 1))
        except (OSError, StoreError):
            preview = None  # the full read says what is wrong
        if preview is None or not preview.views:
            self._preview_painted.set()
            return
        self._show_preview(preview)
        self.call_after_refresh(self._preview_painted.set)

    def _show_preview(self, preview: NewestKeys) -> None:
        self.previewing, self._held_keys = True, []
        self.title = f"API Keys — {safe_text(preview.organisation)}"
        self.sub_title = f"{safe_text(self.repo.login)} ({preview.role.value})"
        views = preview.views
        self.table.set_columns(_sized(max(len(view.record["name"]) for view in views),
                                      max(len(view.project_name) for view in views)))
        self.table.set_rows(views)
        self.table.can_focus = False  # keys wait for every key: none reaches the table meanwhile
        self.set_focus(None)
        self.set_summary(f"newest keys · reading {preview.key_count:,}…")
        self.refresh_bindings()

    def _preview_text(self, text: str) -> str:
        """A loading line, said after the preview's "newest keys" while one is shown."""
        return f"newest keys · {text[0].lower()}{text[1:]}" if self.previewing else text

    def on_key(self, event: events.Key) -> None:
        """While the preview is shown, keys wait for the whole store (q still quits)."""
        held = self._held_keys
        if not self.previewing or held is None or (not held and event.key in ("q", "question_mark")):
            return
        event.stop()
        event.prevent_default()
        held.append((event.key, event.character))

    def _end_preview(self) -> None:
        """Every key is loaded: the keys pressed meanwhile act once its frame is drawn."""
        held, self._held_keys = self._held_keys or [], None
        self.previewing = False
        self.table.can_focus = True
        if held:
            self.table.focus()
            self.call_after_refresh(self._press_held, held)

    def _press_held(self, held: list[tuple[str, str | None]]) -> None:
        """Press the held keys in order, each once the one before has acted (``/`` moves the
        focus to the filter, where the letters after it belong), as Textual's Pilot does."""
        self.app.run_worker(self.app._press_keys([key for key, _character in held]),
                            group="held-keys")


@dataclass(frozen=True)
class Expiring:
    """Read after each load: the warning window's days, the current members (a creator who
    left reads ``login (removed)``) and how many keys expire within the window (``x`` lists
    them: the file store filters its rows, a database is asked)."""

    warn_days: int
    members: frozenset[str]
    count: int


def _sized(widest_name: int, widest_project: int) -> list[Column]:
    """The columns, Name and Project told how wide their content gets."""
    wants = {"name": widest_name, "project": widest_project}
    return [replace(column, most=wants[column.key]) if column.key in wants else column
            for column in COLUMNS]

