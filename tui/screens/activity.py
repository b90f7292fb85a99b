"""Activity: the audit trail, newest first, for the whole store or for one key.

The newest :data:`PAGE` events are read first, and a page of older ones each time the cursor
reaches the last event read or on ``m`` (see :mod:`.paged`): on PostgreSQL a trail of millions
of events is never read whole to show its top. The filter runs over the events read (the
status line says so while older ones are left), over text prepared once per load; the whole
of the highlighted event is shown below the table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from store.models import AuditEvent

from ..format import short_time
from ..text import literal, safe_text
from ..widgets.text_input import TextInput
from ..widgets.virtual_table import Column
from .live import ListScreen, sized_columns
from .paged import Pages

WHO_MAX_WIDTH = 12
WHAT_MAX_WIDTH = 14
COLUMNS = (
    Column("when", "When", 16, priority=100),
    Column("who", "Who", 3, priority=90),
    Column("what", "What", 4, priority=90),
    Column("key", "Key", 14, priority=50),
    Column("detail", "Detail", 12, priority=100, flex=True),
)

PAGE = 1000
"""Events read per page (the newest first, then a page of older ones on demand)."""

Row = tuple[str, AuditEvent]  # an event and its row id (see event_ids)


@dataclass(frozen=True)
class ActivityLoaded:
    """The newest events, newest first, each with its row id and the lower-cased text the
    filter searches; ``more`` when older events were left unread."""

    rows: list[Row]
    haystacks: list[str]
    key_name: str | None = None
    more: bool = False


def event_ids(events: list[AuditEvent]) -> list[str]:
    """A row id per event, newest first, that stays the same across reloads while newer
    events arrive and older ones are read: the event's own fields, numbered among identical
    ones counted from the oldest read (identical events in one second are rare)."""
    seen: dict[tuple[str, ...], int] = {}
    ids = []
    for event in reversed(events):
        fields = (event.at, event.actor, event.action, event.key_id or "", event.detail)
        number = seen[fields] = seen.get(fields, -1) + 1
        ids.append(f"{fields!r}#{number}")  # repr: no field's text can pass for another's
    ids.reverse()
    return ids


def event_haystack(event: AuditEvent) -> str:
    """Everything a filter may match in one event, lower-cased."""
    return "\n".join(
        (short_time(event.at), event.actor, event.action, event.key_id or "", event.detail)
    ).casefold()


class ActivityScreen(ListScreen[ActivityLoaded]):
    """The audit trail (``l`` from the main screen, or one key's from its details)."""

    CSS_PATH = "activity.tcss"
    COLUMNS = COLUMNS
    LOADING = "Loading the activity…"
    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("m", "more", "Older"),
        Binding("escape", "back_or_clear", "Back"),
    ]

    def __init__(self, key_id: str | None = None) -> None:
        super().__init__()
        self.key_id = key_id
        self.title = f"Activity of {safe_text(key_id)}" if key_id else "Activity"
        self.rows: list[Row] = []
        self._haystacks: list[str] = []
        self.shown: list[Row] = []
        self.key_name: str | None = None
        self.pages = Pages(PAGE)

    def compose_above(self) -> ComposeResult:
        """The filter, hidden until ``/``."""
        field = TextInput(
            placeholder="Filter: any text in when, who, what, key or detail", id="activity-filter",
            focus_on_submit="#rows",  # keys typed right after enter (m, j) go to the table
        )
        field.display = False
        yield field

    def compose_below(self) -> ComposeResult:
        """The whole of the highlighted event."""
        yield Static("", id="activity-detail")

    # -- loading ----------------------------------------------------------------------

    def fetch(self) -> ActivityLoaded:
        """The newest events (as many as shown before, a page at first), newest first, and
        their filter text (worker thread)."""
        wanted = self.pages.wanted
        events = self.repo.history(self.key_id, limit=wanted + 1)  # one more: are there older?
        more = len(events) > wanted
        del events[wanted:]
        key_name = self.repo.get_key(self.key_id).name if self.key_id else None
        rows = list(zip(event_ids(events), events, strict=True))
        return ActivityLoaded(rows, [event_haystack(event) for event in events], key_name, more)

    def show(self, data: ActivityLoaded) -> None:
        """Keep the new events and show those matching the filter."""
        self.rows, self._haystacks = data.rows, data.haystacks
        self.key_name = data.key_name
        self.pages.loaded(len(data.rows), data.more)
        columns = [column for column in COLUMNS if column.key != "key" or self.key_id is None]
        columns = sized_columns(columns, [event for _number, event in self.rows[:500]], _plain)
        widest = {"who": WHO_MAX_WIDTH, "what": WHAT_MAX_WIDTH}
        self.table.set_columns([
            _capped(column, widest[column.key]) if column.key in widest else column
            for column in columns
        ])
        self.apply_filter()

    @property
    def filter_text(self) -> str:
        """What the filter holds now."""
        return self.query_one("#activity-filter", Input).value.strip()

    def apply_filter(self) -> None:
        """Show the events matching the filter, newest first."""
        needle = self.filter_text.casefold()
        if needle:
            self.shown = [row for row, hay in zip(self.rows, self._haystacks, strict=True) if needle in hay]
        else:
            self.shown = self.rows
        self.table.set_rows(self.shown)
        self._summarise()
        self.cursor_moved()

    def _summarise(self) -> None:
        total, matching = len(self.rows), len(self.shown)
        noun = "event" if total == 1 else "events"
        more = self.pages.more
        if total == 0:
            text = "No activity yet." if self.key_id is None else "No activity for this key yet."
        elif self.filter_text:
            read = f"the newest {total:,} {noun}" if more else f"{total:,} {noun}"
            text = f"{matching:,} of {read} match “{self.filter_text}”" + (" · m reads older" if more else "")
        elif more:
            text = f"The newest {total:,} {noun} · m reads older"
        else:
            text = f"{total:,} {noun}, newest first"
        summary = literal(text)
        if self.key_name is not None:
            summary = Text.assemble("Key ", literal(self.key_name, style="bold"), " · ", summary)
        self.set_summary(summary)

    def row_id(self, row: Row) -> str:
        """An event's row id (see :func:`event_ids`)."""
        return row[0]

    def cell(self, row: Row, column: str) -> str | Text:
        """One cell of an event's row."""
        event = row[1]
        if column == "key" and not event.key_id:
            return Text("—", style="dim")
        return _plain(event, column)

    def cursor_moved(self) -> None:
        """Show the whole of the highlighted event below the table; reaching the last event
        read reads a page of older ones (unfiltered: a filter's last match is no end, there
        ``m`` reads older events)."""
        if self.loaded and not self.filter_text and self.pages.at_end(self.table):
            self.reload()
        detail = self.query_one("#activity-detail", Static)
        row = self.table.cursor_row
        if row is None:
            detail.update("")
            return
        event = row[1]
        detail.update(Text.assemble(
            (short_time(event.at), "bold"), " ", literal(event.actor), " ",
            literal(event.action), " ", literal(event.key_id or ""), "\n", literal(event.detail),
            overflow="ellipsis",
        ))

    # -- filter and keys ------------------------------------------------------------------

    def action_more(self) -> None:
        """Read a page of older events."""
        if self.pages.grow():
            self.set_summary(f"Reading {self.pages.wanted:,} events…")
            self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``m`` only while older events are left unread."""
        if action == "more":
            return self.pages.more
        return super().check_action(action, parameters)

    def action_filter(self) -> None:
        """Show the filter and type into it."""
        field = self.query_one("#activity-filter", Input)
        field.display = True
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Filter as the admin types."""
        if self.loaded:
            self.apply_filter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter keeps the filter and moves to the table."""
        event.stop()
        if not self.filter_text:
            self._hide_filter()
        self.table.focus()

    def action_back_or_clear(self) -> None:
        """Escape clears the filter first; with no filter, it goes back."""
        field = self.query_one("#activity-filter", Input)
        if field.value or field.display:
            field.value = ""
            self._hide_filter()
            self.table.focus()
            if self.loaded:
                self.apply_filter()
            return
        self.action_back()

    def _hide_filter(self) -> None:
        self.query_one("#activity-filter", Input).display = False


def _plain(event: AuditEvent, column: str) -> str:
    if column == "when":
        return short_time(event.at)
    if column == "who":
        return event.actor
    if column == "what":
        return event.action
    if column == "key":
        return event.key_id or "—"
    return event.detail


def _capped(column: Column, widest: int) -> Column:
    """``column`` as wide as its content, at most ``widest`` (it may still grow to ``most``)."""
    return replace(column, width=min(widest, max(column.width, column.most)))
