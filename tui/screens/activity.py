"""Activity: the audit trail, newest first, for the whole store or for one key.

Every event is in the table (a Line API table costs what the screen shows, however long the
trail grows); the filter runs over text prepared once per load, and the whole of the
highlighted event is shown below the table.
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

WHO_MAX_WIDTH = 12
WHAT_MAX_WIDTH = 14
COLUMNS = (
    Column("when", "When", 16, priority=100),
    Column("who", "Who", 3, priority=90),
    Column("what", "What", 4, priority=90),
    Column("key", "Key", 14, priority=50),
    Column("detail", "Detail", 12, priority=100, flex=True),
)

Row = tuple[int, AuditEvent]  # an event and its number, counted from the oldest


@dataclass(frozen=True)
class ActivityLoaded:
    """The events newest first (numbered from the oldest), each with the lower-cased text the
    filter searches."""

    rows: list[Row]
    haystacks: list[str]
    key_name: str | None = None


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

    def compose_above(self) -> ComposeResult:
        """The filter, hidden until ``/``."""
        field = TextInput(
            placeholder="Filter: any text in when, who, what, key or detail", id="activity-filter"
        )
        field.display = False
        yield field

    def compose_below(self) -> ComposeResult:
        """The whole of the highlighted event."""
        yield Static("", id="activity-detail")

    # -- loading ----------------------------------------------------------------------

    def fetch(self) -> ActivityLoaded:
        """The events, newest first, and their filter text (worker thread)."""
        events = self.repo.history(self.key_id)
        key_name = self.repo.get_key(self.key_id).name if self.key_id else None
        total = len(events)
        # The trail only grows, so counting from the oldest event gives each row an id that
        # stays the same across reloads, and the cursor stays on its event.
        rows = [(total - 1 - index, event) for index, event in enumerate(events)]
        return ActivityLoaded(rows, [event_haystack(event) for event in events], key_name)

    def show(self, data: ActivityLoaded) -> None:
        """Keep the new events and show those matching the filter."""
        self.rows, self._haystacks = data.rows, data.haystacks
        self.key_name = data.key_name
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
        if total == 0:
            text = "No activity yet." if self.key_id is None else "No activity for this key yet."
        elif self.filter_text:
            text = f"{matching:,} of {total:,} {noun} match “{self.filter_text}”"
        else:
            text = f"{total:,} {noun}, newest first"
        summary = literal(text)
        if self.key_name is not None:
            summary = Text.assemble("Key ", literal(self.key_name, style="bold"), " · ", summary)
        self.set_summary(summary)

    def row_id(self, row: Row) -> str:
        """An event's number, counted from the oldest."""
        return f"event-{row[0]}"

    def cell(self, row: Row, column: str) -> str | Text:
        """One cell of an event's row."""
        event = row[1]
        if column == "key" and not event.key_id:
            return Text("—", style="dim")
        return _plain(event, column)

    def cursor_moved(self) -> None:
        """Show the whole of the highlighted event below the table."""
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
