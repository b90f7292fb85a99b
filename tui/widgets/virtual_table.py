"""A virtual table: a Line API table whose cost follows the visible rows.

The stock `DataTable` measures every cell of every row when rows are added.
`VirtualTable` never looks at a row until it is on screen: `set_rows` only
stores the (already sorted / filtered) sequence and sets the virtual height,
and `render_line(y)` renders the single row at screen line `y`.

Layout of one line::

    ● name……………… type   created
    ^ gutter (mark + 1 space), then columns separated by 1-cell gaps

The header is line 0 of the widget and never scrolls; row `i` is drawn at
screen line `1 + i - scroll_y`.  The virtual height is `row_count + 1`.

Cell text is untrusted: it is never parsed as markup and is passed through
`safe_text` (control and bidi-override characters become U+FFFD).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.cells import cell_len, split_graphemes
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.color import Color
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..text import safe_text

__all__ = ["Column", "VirtualTable", "safe_text", "fit_columns"]

@dataclass(frozen=True)
class Column:
    """A column of a `VirtualTable`."""

    key: str
    """Key passed to the `cell` callback."""
    label: str
    """Header text."""
    width: int
    """Preferred width in cells (the minimum for the flexible column)."""
    priority: int = 0
    """When too narrow, the lowest priority columns are dropped first; >= 100 is never dropped."""
    flex: bool = False
    """The flexible column takes the leftover width (it is never dropped)."""
    align: str = "left"
    """"left" or "right"."""
    most: int = 0
    """The widest this column's content gets (0: unknown). Room left over is shared between
    the flexible column and the columns whose content is wider than ``width``, so that none
    is cut while another has cells to spare."""


NEVER_DROP_PRIORITY = 100
GUTTER_WIDTH = 2  # mark glyph + one space
MARK_GLYPH = "●"
ELLIPSIS = "…"


def fit_columns(
    columns: Sequence[Column], available: int
) -> list[tuple[Column, int]]:
    """Choose the columns that fit in `available` cells and their widths.

    Columns are dropped lowest priority first (among equal priorities, the
    rightmost first) until the widths plus 1-cell gaps fit. Columns with
    `priority >= 100` and flex columns are never dropped. Leftover width is
    shared a cell at a time between the columns whose content (`most`) is
    wider than their width and the flex column(s); what remains when every
    content fits goes to the flex column(s) of unknown content (else it stays
    blank at the end of the line). If even the undroppable columns
    don't fit, the flex column shrinks (down to 1 cell) and the line is
    finally cropped.
    """
    kept = list(columns)

    def needed(cols: Sequence[Column]) -> int:
        return sum(max(0, c.width) for c in cols) + max(0, len(cols) - 1)

    droppable = sorted(
        (
            (column.priority, -index, column)
            for index, column in enumerate(columns)
            if column.priority < NEVER_DROP_PRIORITY and not column.flex
        ),
        key=lambda item: (item[0], item[1]),
    )
    for _priority, _index, column in droppable:
        if needed(kept) <= available:
            break
        kept.remove(column)

    widths = [max(0, column.width) for column in kept]
    leftover = available - needed(kept)
    flex_indices = [index for index, column in enumerate(kept) if column.flex]
    if leftover > 0:
        leftover = _share_by_content(kept, widths, leftover)
        # A flex column whose content is known and fits leaves the rest of the line blank.
        flex_indices = [index for index in flex_indices if not kept[index].most] or (
            flex_indices if leftover <= 0 else [])
    if flex_indices and leftover != 0:
        if leftover > 0:
            share, extra = divmod(leftover, len(flex_indices))
            for n, index in enumerate(flex_indices):
                widths[index] += share + (1 if n < extra else 0)
        else:
            deficit = -leftover
            for index in flex_indices:
                take = min(deficit, max(0, widths[index] - 1))
                widths[index] -= take
                deficit -= take
    return list(zip(kept, widths, strict=True))


def _share_by_content(columns: Sequence[Column], widths: list[int], room: int) -> int:
    """Grow, a cell each in turn while there is room, the columns whose content is wider than
    they are (a flex column of unknown content counts as one); return the room left."""
    while room > 0:
        growing = [
            index for index, column in enumerate(columns)
            if widths[index] < column.most or (column.flex and not column.most)
        ]
        if all(columns[index].flex and not columns[index].most for index in growing):
            break  # only the flex column(s) are left: they take the rest below
        for index in growing[:room]:
            widths[index] += 1
        room -= min(room, len(growing))
    return room


_MAX_CELL_CHARS = 4096
"""Cell text beyond this many characters is never measured (it is cut with an ellipsis)."""


def _cut_point(value: str, width: int) -> tuple[int, int] | None:
    """Where to cut `value` so that it fits `width` cells with an ellipsis.

    Returns None if `value` fits in `width` cells as it is, otherwise
    `(index, cells)`: the longest prefix `value[:index]` made of whole grapheme
    clusters that fits in `width - 1` cells, and its cell length.
    """
    clipped = len(value) > _MAX_CELL_CHARS
    if clipped:
        value = value[:_MAX_CELL_CHARS]
    elif cell_len(value) <= width:
        return None
    spans, total = split_graphemes(value)
    if total <= width and not clipped:
        return None
    limit = width - 1
    cells = index = 0
    for _start, end, cell_size in spans:
        if cells + cell_size > limit:
            break
        cells += cell_size
        index = end
    return index, cells


def _fit_plain(value: str, width: int, align: str) -> str:
    """Cut (with an ellipsis) or pad an already-safe string to exactly `width` cells."""
    if width <= 0:
        return ""
    cut = _cut_point(value, width)
    if cut is None:
        length = cell_len(value)
    else:
        index, cells = cut
        value = value[:index] + ELLIPSIS
        length = cells + 1
    if length < width:
        pad = " " * (width - length)
        return pad + value if align == "right" else value + pad
    return value


class RowMessage(Message):
    """A message about one row of a `VirtualTable` (``row`` may be None: an empty table)."""

    def __init__(self, table: VirtualTable, row: Any | None, cursor_index: int) -> None:
        super().__init__()
        self.table = table
        self.row = row
        self.cursor_index = cursor_index

    @property
    def control(self) -> VirtualTable:
        """The table the message is about."""
        return self.table


class VirtualTable(ScrollView, can_focus=True):
    """A Line API table that only renders the visible rows.

    Args:
        columns: The columns, in display order.
        cell: `cell(row, column_key)` returns the text of one cell (`str` or
            `rich.text.Text`; other values are passed through `str`). Text is
            always shown literally (never parsed as markup) and sanitized.
        row_id: `row_id(row)` returns a stable, unique id string for a row.
        row_style: Optional `row_style(row)` returning a Rich style string
            (e.g. ``"dim"``, ``"bold $warning"`` - ``$name`` theme variables
            are resolved) applied to the whole row under the cursor style.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "cursor_first", "First row", show=False),
        Binding("end,G", "cursor_last", "Last row", show=False),
        Binding("enter", "activate", "Open", show=False),
        Binding("space", "toggle_mark_down", "Mark", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--marked",
    }

    DEFAULT_CSS = """
    VirtualTable {
        width: 1fr;
        height: 1fr;
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;

        & > .virtual-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .virtual-table--marked {
            background: $accent 20%;
            color: $text-accent;
        }
        & > .virtual-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .virtual-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        &:ansi > .virtual-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
    }
    """

    class CursorMoved(RowMessage):
        """The cursor row changed (different id, or a new row object after `set_rows`)."""

    class RowActivated(RowMessage):
        """Enter (or a double click) on a row."""

    class MarksChanged(Message):
        """The set of marked ids changed."""

        def __init__(self, table: VirtualTable, count: int) -> None:
            super().__init__()
            self.table = table
            self.count = count

        @property
        def control(self) -> VirtualTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column],
        cell: Callable[[Any, str], str | Text],
        *,
        row_id: Callable[[Any], str],
        row_style: Callable[[Any], str | None] | None = None,
        markable: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._columns: tuple[Column, ...] = tuple(columns)
        self._cell = cell
        self._row_id = row_id
        self._row_style = row_style
        self.markable = markable
        """Whether space marks rows; without marks, space is left to the screen."""
        self._rows: Sequence[Any] = ()
        self._cursor = 0
        self._id_index: dict[str, int] | None = None
        self.marked_ids: set[str] = set()
        """Ids of the marked rows (kept across `set_rows`, even for ids no longer shown)."""
        self._marked_rows: dict[str, Any] = {}  # each marked row as it was when marked
        self._layout: list[tuple[Column, int]] = []
        self._layout_width = -1
        self._line_cache: LRUCache[tuple, Strip] = LRUCache(256)
        self._style_cache: dict[str, Style] = {}
        self._last_cursor_key: tuple[str | None, int | None] = (None, None)
        #: ``end`` was the last move: where the rows are not all counted yet ("10,000+"), the
        #: cursor goes on to the true end once they are.
        self.asked_for_end = False

    # ------------------------------------------------------------------ data

    @property
    def columns(self) -> tuple[Column, ...]:
        """The columns, as given (some may be hidden at this width)."""
        return self._columns

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Replace the column definitions."""
        self._columns = tuple(columns)
        self._layout_width = -1
        self._invalidate()

    @property
    def rows(self) -> Sequence[Any]:
        """The current rows (the sequence given to `set_rows`)."""
        return self._rows

    @property
    def row_count(self) -> int:
        """How many rows the table holds."""
        return len(self._rows)

    @property
    def cursor_index(self) -> int:
        """Index of the cursor row (0 when the table is empty)."""
        return self._cursor

    @property
    def cursor_row(self) -> Any | None:
        """The row under the cursor, or `None` when the table is empty."""
        if 0 <= self._cursor < len(self._rows):
            return self._rows[self._cursor]
        return None

    @property
    def visible_row_count(self) -> int:
        """Number of body lines on screen (widget height minus the header)."""
        return max(0, self.scrollable_content_region.height - 1)

    def set_rows(self, rows: Sequence[Any], *, keep_cursor: bool = True) -> None:
        """Replace the rows with `rows` (already sorted / filtered by the caller).

        O(1) in the number of rows: no `cell` calls happen here. With
        `keep_cursor`, the cursor follows the id of the current cursor row if
        it is still present (found lazily: O(1) if it kept its index, else one
        pass of `row_id` calls), otherwise stays at the same index, clamped.
        Without `keep_cursor` the cursor goes to the first row.
        """
        old_id: str | None = None
        old_row: Any = None
        old_index = self._cursor
        if keep_cursor and 0 <= old_index < len(self._rows):
            old_row = self._rows[old_index]
            old_id = self._row_id(old_row)
        self._rows = rows
        self._id_index = None
        count = len(rows)
        new_index = 0
        if keep_cursor:
            new_index = old_index
            if old_id is not None:
                found = self._find_row(old_row, old_id, hint=old_index)
                if found is not None:
                    new_index = found
        self._cursor = max(0, min(new_index, count - 1)) if count else 0
        self._line_cache.clear()
        self._update_virtual_size()
        self.refresh()
        self._scroll_to_cursor()
        self._post_cursor_moved()

    def refresh_rows(self) -> None:
        """Repaint after the caller changed row objects in place."""
        self._invalidate()

    def _find_row(self, row: Any, row_id: str, hint: int) -> int | None:
        """Where ``row`` is now: the same object (a re-sort or filter of the same rows) is
        found by a C-level identity scan; a new object with the same id by the id index."""
        rows = self._rows
        if 0 <= hint < len(rows) and rows[hint] is row:
            return hint
        try:
            index = rows.index(row)
        except ValueError:
            return self._find_index(row_id, hint=hint)
        if rows[index] is row:
            return index
        return self._find_index(row_id, hint=hint)

    def _find_index(self, row_id: str, hint: int | None = None) -> int | None:
        rows = self._rows
        if hint is not None and 0 <= hint < len(rows) and self._row_id(rows[hint]) == row_id:
            return hint
        if not isinstance(rows, (list, tuple)):
            # Rows read a window at a time (a database): never walk them all; the sequence
            # knows where a row id sits (its ``index`` takes an id).
            try:
                return rows.index(row_id)
            except ValueError:
                return None
        if self._id_index is None:
            get_id = self._row_id
            self._id_index = {get_id(row): index for index, row in enumerate(rows)}
        return self._id_index.get(row_id)

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(0, len(self._rows) + 1)

    # ---------------------------------------------------------------- cursor

    def move_cursor(self, index: int) -> None:
        """Move the cursor to `index` (clamped) and scroll it into view."""
        count = len(self._rows)
        if not count:
            return
        index = max(0, min(index, count - 1))
        self.asked_for_end = False
        old = self._cursor
        self._cursor = index
        if old != index:
            self._refresh_row(old)
            self._refresh_row(index)
        self._scroll_to_cursor()
        self._post_cursor_moved()

    def move_cursor_to_id(self, row_id: str) -> bool:
        """Move the cursor to the row with `row_id`; False if it isn't present."""
        index = self._find_index(row_id, hint=self._cursor)
        if index is None:
            return False
        self.move_cursor(index)
        return True

    def _post_cursor_moved(self) -> None:
        row = self.cursor_row
        key = (None if row is None else self._row_id(row), id(row) if row is not None else None)
        if key != self._last_cursor_key:
            self._last_cursor_key = key
            self.post_message(self.CursorMoved(self, row, self._cursor))

    def _scroll_to_cursor(self) -> None:
        height = self.visible_row_count
        if height <= 0 or not self._rows:
            return
        top = self.scroll_offset.y
        cursor = self._cursor
        if cursor < top:
            new_top = cursor
        elif cursor >= top + height:
            new_top = cursor - height + 1
        else:
            return
        self.scroll_to(y=new_top, animate=False, force=True)

    def _refresh_row(self, index: int) -> None:
        screen_y = index + 1 - self.scroll_offset.y
        if 1 <= screen_y < self.size.height:
            self.refresh(Region(0, screen_y, self.size.width, 1))

    def action_cursor_up(self) -> None:
        """Move the cursor one row up."""
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        """Move the cursor one row down."""
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        """Move the cursor one screen of rows up."""
        self.move_cursor(self._cursor - max(1, self.visible_row_count))

    def action_page_down(self) -> None:
        """Move the cursor one screen of rows down."""
        self.move_cursor(self._cursor + max(1, self.visible_row_count))

    def action_cursor_first(self) -> None:
        """Move the cursor to the first row."""
        self.move_cursor(0)

    def action_cursor_last(self) -> None:
        """Move the cursor to the last row."""
        self.move_cursor(len(self._rows) - 1)
        self.asked_for_end = True

    def action_activate(self) -> None:
        """Activate the cursor row (posts RowActivated)."""
        row = self.cursor_row
        if row is not None:
            self.post_message(self.RowActivated(self, row, self._cursor))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Marking is offered only by a markable table (else the key reaches the screen)."""
        if action in ("toggle_mark", "toggle_mark_down"):
            return self.markable
        return True

    # ----------------------------------------------------------------- marks

    def toggle_mark(self) -> None:
        """Toggle the mark on the cursor row."""
        row = self.cursor_row
        if row is None:
            return
        rid = self._row_id(row)
        if rid in self.marked_ids:
            self.marked_ids.discard(rid)
            self._marked_rows.pop(rid, None)
        else:
            self.marked_ids.add(rid)
            self._marked_rows[rid] = row
        self._refresh_row(self._cursor)
        self.post_message(self.MarksChanged(self, len(self.marked_ids)))

    def clear_marks(self) -> None:
        """Unmark every row."""
        self._marked_rows.clear()
        if self.marked_ids:
            self.marked_ids.clear()
            self.refresh()
            self.post_message(self.MarksChanged(self, 0))

    def marked_row(self, row_id: str) -> Any | None:
        """The marked row ``row_id`` as it was when marked (on any page: a windowed table
        need not hold it), or None."""
        if row_id not in self.marked_ids:
            return None
        return self._marked_rows.get(row_id)

    def marked_rows(self) -> list[Any]:
        """The rows currently shown that are marked, in display order (one pass over the rows)."""
        if not self.marked_ids:
            return []
        present = getattr(self._rows, "present", None)
        if present is not None:  # rows read by windows: never walk them all; ask them
            shown = present(self.marked_ids)
            return [row for key, row in self._marked_rows.items() if key in shown]
        get_id, marked = self._row_id, self.marked_ids
        return [row for row in self._rows if get_id(row) in marked]

    def action_toggle_mark(self) -> None:
        """Mark or unmark the cursor row."""
        self.toggle_mark()

    def action_toggle_mark_down(self) -> None:
        """Mark or unmark the cursor row, then move down (like a file manager)."""
        self.toggle_mark()
        self.move_cursor(self._cursor + 1)

    # ----------------------------------------------------------------- mouse

    def on_click(self, event: events.Click) -> None:
        """A click moves the cursor to the clicked row; a double click activates it."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        index = self.scroll_offset.y + offset.y - 1
        if 0 <= index < len(self._rows):
            event.stop()
            self.move_cursor(index)
            if event.chain == 2:
                self.action_activate()

    # --------------------------------------------------------------- styling

    def _invalidate(self) -> None:
        self._line_cache.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        """Styles changed (theme, CSS): redraw from scratch."""
        super().notify_style_update()
        self._style_cache.clear()
        self._line_cache.clear()

    def on_focus(self) -> None:
        """The cursor is drawn stronger with the focus."""
        self._invalidate()

    def on_blur(self) -> None:
        """The cursor is drawn fainter without the focus."""
        self._invalidate()

    def on_resize(self) -> None:
        """A new width may show or hide columns."""
        self._line_cache.clear()
        self._scroll_to_cursor()

    def _parse_row_style(self, spec: str) -> Style:
        style = self._style_cache.get(spec)
        if style is None:
            text = spec
            if "$" in text:
                variables = self.app.theme_variables

                def resolve(match: re.Match[str]) -> str:
                    value = variables.get(match.group(1))
                    if value is None:
                        return ""
                    try:
                        return Color.parse(value).hex6
                    except Exception:
                        return ""

                text = re.sub(r"\$([A-Za-z0-9_-]+)", resolve, text)
            try:
                style = Style.parse(text)
            except Exception:  # a bad style string must not break rendering
                style = Style.null()
            if len(self._style_cache) > 256:
                self._style_cache.clear()
            self._style_cache[spec] = style
        return style

    # -------------------------------------------------------------- rendering

    def _get_layout(self, width: int) -> list[tuple[Column, int]]:
        if width != self._layout_width:
            self._layout = fit_columns(self._columns, max(0, width - GUTTER_WIDTH))
            self._layout_width = width
        return self._layout

    @property
    def visible_columns(self) -> list[Column]:
        """The columns shown at the current width."""
        return [column for column, _ in self._get_layout(self.scrollable_content_region.width)]

    def render_line(self, y: int) -> Strip:
        """The header (y == 0) or the one row at screen line ``y``: the Line API."""
        width = self.scrollable_content_region.width
        if width <= 0:
            return Strip.blank(0)
        if y == 0:
            return self._render_header(width)
        index = self.scroll_offset.y + y - 1
        if 0 <= index < len(self._rows):
            return self._render_row(index, width)
        return Strip.blank(width, self.rich_style)

    def _render_header(self, width: int) -> Strip:
        key = ("\0header", width, self.has_focus)
        strip = self._line_cache.get(key)
        if strip is not None:
            return strip
        style = self.rich_style + self.get_component_rich_style("virtual-table--header")
        parts = [" " * GUTTER_WIDTH]
        for n, (column, column_width) in enumerate(self._get_layout(width)):
            if n:
                parts.append(" ")
            parts.append(_fit_plain(safe_text(column.label), column_width, column.align))
        strip = Strip([Segment("".join(parts), style)]).adjust_cell_length(width, style)
        self._line_cache[key] = strip
        return strip

    def _render_row(self, index: int, width: int) -> Strip:
        row = self._rows[index]
        rid = self._row_id(row)
        is_cursor = index == self._cursor
        is_marked = rid in self.marked_ids
        key = (rid, width, is_cursor, is_marked, self.has_focus)
        strip = self._line_cache.get(key)
        if strip is not None:
            return strip

        style = self.rich_style
        if is_marked:
            style += self.get_component_rich_style("virtual-table--marked")
        if self._row_style is not None:
            spec = self._row_style(row)
            if spec:
                style += self._parse_row_style(spec)
        if is_cursor:
            style += self.get_component_rich_style("virtual-table--cursor")

        segments: list[Segment] = [
            Segment((MARK_GLYPH if is_marked else " ") + " ", style)
        ]
        console = self.app.console
        for n, (column, column_width) in enumerate(self._get_layout(width)):
            if n:
                segments.append(Segment(" ", style))
            segments.extend(
                self._render_cell(
                    self._cell(row, column.key), column_width, column.align, style, console
                )
            )
        strip = Strip(segments).adjust_cell_length(width, style)
        self._line_cache[key] = strip
        return strip

    @staticmethod
    def _render_cell(
        value: Any, width: int, align: str, style: Style, console: Any
    ) -> Iterable[Segment]:
        if width <= 0:
            return ()
        if isinstance(value, Text):
            text = value.copy()
            plain = text.plain
            safe = safe_text(plain)
            if safe != plain:
                text.plain = safe
            text.end = ""
            cut = _cut_point(text.plain, width)
            if cut is None:
                length = cell_len(text.plain)
            else:
                index, cells = cut
                text.right_crop(len(text.plain) - index)
                text.append(ELLIPSIS)
                length = cells + 1
            if length < width:
                pad = width - length
                if align == "right":
                    text.pad_left(pad)
                else:
                    text.pad_right(pad)
            try:
                base = style + console.get_style(text.style or "", default=Style.null())
            except Exception:
                base = style
            return Segment.apply_style(text.render(console), base)
        if value is None:
            value = ""
        elif not isinstance(value, str):
            value = str(value)
        return (Segment(_fit_plain(safe_text(value), width, align), style),)
