"""Activity: the audit trail, newest first, for the whole store or for one key.

The trail only grows, so the table holds at most the newest ``SHOWN_LIMIT`` events that match
the filter (and says so): the stock DataTable's cost grows with every row it holds, and a
filter must repaint while the admin types. Filtering runs over text prepared once per load;
the whole of the highlighted event is shown below the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from store.models import AuditEvent

from ..format import short_time
from ..text import literal, safe_text
from .live import LiveScreen, cursor_key, flex_width, move_cursor_to

SHOWN_LIMIT = 2000
WHEN_WIDTH = 16
WHAT_WIDTH = 14
KEY_WIDTH = 14
WHO_MAX_WIDTH = 12
DETAIL_MIN_WIDTH = 12


@dataclass(frozen=True)
class ActivityLoaded:
    """The events newest first, each with the lower-cased text the filter searches."""

    events: list[AuditEvent]
    haystacks: list[str]
    key_name: str | None = None


def event_haystack(event: AuditEvent) -> str:
    """Everything a filter may match in one event, lower-cased."""
    return "\n".join(
        (short_time(event.at), event.actor, event.action, event.key_id or "", event.detail)
    ).casefold()


class ActivityScreen(LiveScreen[ActivityLoaded]):
    """The audit trail (``l`` from the main screen, or one key's from its details)."""

    AUTO_FOCUS = "DataTable"
    DEFAULT_CSS = """
    ActivityScreen > #activity-summary { height: 1; padding: 0 1; color: $text-muted; }
    ActivityScreen > #activity-filter { height: 1; border: none; padding: 0 1; }
    ActivityScreen > DataTable { height: 1fr; }
    ActivityScreen > #activity-detail {
        height: auto; min-height: 2; max-height: 4;
        padding: 0 1; background: $boost; color: $text-muted;
    }
    """
    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "back_or_clear", "Back"),
    ]

    def __init__(self, key_id: str | None = None) -> None:
        super().__init__()
        self.key_id = key_id
        self.title = f"Activity of {safe_text(key_id)}" if key_id else "Activity"
        self.events: list[AuditEvent] = []
        self._haystacks: list[str] = []
        self.shown: list[AuditEvent] = []
        self._shown_keys: list[str] = []
        self.key_name: str | None = None
        self._widths: tuple[int, int, int] = (0, 0, 0)

    def compose(self) -> ComposeResult:
        """Header, a summary line, the filter (hidden until /), the table, the row's detail."""
        yield Header()
        yield Static("Loading the activity…", id="activity-summary", classes="summary")
        field = Input(
            placeholder="Filter: any text in when, who, what, key or detail", id="activity-filter"
        )
        field.display = False
        yield field
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="activity-detail")
        yield Footer()

    # -- loading ----------------------------------------------------------------------

    def fetch(self) -> ActivityLoaded:
        """The events, newest first, and their filter text (worker thread)."""
        events = self.repo.history(self.key_id)
        key_name = self.repo.get_key(self.key_id).name if self.key_id else None
        return ActivityLoaded(events, [event_haystack(event) for event in events], key_name)

    def show(self, data: ActivityLoaded) -> None:
        """Keep the new events and show those matching the filter."""
        self.events, self._haystacks = data.events, data.haystacks
        self.key_name = data.key_name
        self.apply_filter()

    @property
    def filter_text(self) -> str:
        """What the filter holds now."""
        return self.query_one("#activity-filter", Input).value.strip()

    def apply_filter(self) -> None:
        """Show the newest events matching the filter, at most ``SHOWN_LIMIT`` of them."""
        needle = self.filter_text.casefold()
        if needle:
            matching = [
                index for index, hay in enumerate(self._haystacks) if needle in hay
            ]
        else:
            matching = list(range(len(self.events)))
        total = len(self.events)
        # The trail only grows, so counting from the oldest event gives each row a key that
        # stays the same across reloads, and the cursor stays on its event.
        self.shown = [self.events[index] for index in matching[:SHOWN_LIMIT]]
        self._shown_keys = [f"event-{total - 1 - index}" for index in matching[:SHOWN_LIMIT]]
        self._fill(cursor_key(self.query_one(DataTable)))
        self._summarise(len(matching))

    def _summarise(self, matching: int) -> None:
        total = len(self.events)
        noun = "event" if total == 1 else "events"
        if total == 0:
            text = "No activity yet." if self.key_id is None else "No activity for this key yet."
        elif self.filter_text:
            text = f"{matching:,} of {total:,} {noun} match “{self.filter_text}”"
        else:
            text = f"{total:,} {noun}, newest first"
        if matching > SHOWN_LIMIT:
            text += f" · showing the newest {SHOWN_LIMIT:,}: press / to narrow"
        summary = literal(text)
        if self.key_name is not None:
            summary = Text.assemble("Key ", literal(self.key_name, style="bold"), " · ", summary)
        self.query_one("#activity-summary", Static).update(summary)

    def _fill(self, keep: str | None) -> None:
        table: DataTable[Text] = self.query_one(DataTable)
        fallback = table.cursor_row
        self._widths = who_width, what_width, detail_width = self._wanted_widths()
        table.clear(columns=True)
        table.add_column("When", width=WHEN_WIDTH, key="when")
        table.add_column("Who", width=who_width, key="who")
        table.add_column("What", width=what_width, key="what")
        if self.key_id is None:  # one key's trail names no other key
            table.add_column("Key", width=KEY_WIDTH, key="key")
        table.add_column("Detail", width=detail_width, key="detail")
        for event, key in zip(self.shown, self._shown_keys):
            table.add_row(*self._cells(event), key=key)
        move_cursor_to(table, keep, fallback)
        self._show_detail()

    def _cells(self, event: AuditEvent) -> tuple[Text, ...]:
        key = literal(event.key_id) if event.key_id else Text("—", style="dim")
        cells = (
            Text(short_time(event.at)),
            literal(event.actor),
            literal(event.action),
            *((key,) if self.key_id is None else ()),
            literal(event.detail),
        )
        for cell in cells:
            cell.no_wrap, cell.overflow = True, "ellipsis"
        return cells

    def _wanted_widths(self) -> tuple[int, int, int]:
        actors = max((len(event.actor) for event in self.shown), default=0)
        who_width = max(len("Who"), min(WHO_MAX_WIDTH, actors))
        actions = max((len(event.action) for event in self.shown), default=0)
        what_width = max(len("What"), min(WHAT_WIDTH, actions))
        fixed = [WHEN_WIDTH, who_width, what_width]
        if self.key_id is None:
            fixed.append(KEY_WIDTH)
        return who_width, what_width, flex_width(self.size.width, fixed, DETAIL_MIN_WIDTH)

    def on_resize(self) -> None:
        """Give the detail column the room a wider (or narrower) terminal has."""
        if self.loaded and self._wanted_widths() != self._widths:
            self._fill(cursor_key(self.query_one(DataTable)))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Show the whole of the highlighted event below the table."""
        self._show_detail()

    def _show_detail(self) -> None:
        table = self.query_one(DataTable)
        detail = self.query_one("#activity-detail", Static)
        row = table.cursor_row
        if not self.shown or not 0 <= row < len(self.shown):
            detail.update("")
            return
        event = self.shown[row]
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
        self.query_one(DataTable).focus()

    def action_back_or_clear(self) -> None:
        """Escape clears the filter first; with no filter, it goes back."""
        field = self.query_one("#activity-filter", Input)
        if field.value or field.display:
            field.value = ""
            self._hide_filter()
            self.query_one(DataTable).focus()
            if self.loaded:
                self.apply_filter()
            return
        self.action_back()

    def _hide_filter(self) -> None:
        self.query_one("#activity-filter", Input).display = False

