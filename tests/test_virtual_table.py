"""Tests for tui.widgets.virtual_table.VirtualTable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.app import App, ComposeResult

from tui.widgets.virtual_table import Column, VirtualTable, fit_columns, safe_text

FFFD = "\ufffd"


@dataclass(frozen=True)
class Key:
    id: str
    name: str
    kind: str = "live"
    owner: str = "ops"
    status: str = "active"


COLUMNS = [
    Column("name", "Name", 12, priority=100, flex=True),
    Column("kind", "Kind", 6, priority=50),
    Column("owner", "Owner", 8, priority=10),
    Column("status", "Status", 8, priority=30, align="right"),
]


def make_rows(n: int) -> list[Key]:
    return [Key(f"k{i:06d}", f"key-{i:06d}") for i in range(n)]


class CountingCell:
    """A `cell` callback that records which rows it was asked about."""

    def __init__(self) -> None:
        self.calls = 0
        self.row_ids: set[str] = set()

    def __call__(self, row: Any, key: str) -> Any:
        self.calls += 1
        self.row_ids.add(row.id)
        return getattr(row, key)

    def reset(self) -> None:
        self.calls = 0
        self.row_ids.clear()


class TableApp(App):
    def __init__(self, rows: list[Any], *, columns=COLUMNS, cell=None, row_style=None) -> None:
        super().__init__()
        self.initial_rows = rows
        self.columns = columns
        self.cell = cell or (lambda row, key: getattr(row, key))
        self.row_style = row_style
        self.row_id_calls = 0
        self.messages: list[Any] = []

    def _row_id(self, row: Any) -> str:
        self.row_id_calls += 1
        return row.id

    def compose(self) -> ComposeResult:
        yield VirtualTable(
            self.columns, self.cell, row_id=self._row_id, row_style=self.row_style, id="table"
        )

    def on_mount(self) -> None:
        table = self.query_one(VirtualTable)
        table.set_rows(self.initial_rows)
        table.focus()

    def on_virtual_table_cursor_moved(self, message: VirtualTable.CursorMoved) -> None:
        self.messages.append(message)

    def on_virtual_table_row_activated(self, message: VirtualTable.RowActivated) -> None:
        self.messages.append(message)

    def on_virtual_table_marks_changed(self, message: VirtualTable.MarksChanged) -> None:
        self.messages.append(message)


def lines(table: VirtualTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


def first_style(table: VirtualTable, y: int):
    return list(table.render_line(y))[0].style


def last_style(table: VirtualTable, y: int):
    return list(table.render_line(y))[-1].style


def assert_cursor_visible(table: VirtualTable) -> None:
    top = table.scroll_offset.y
    assert top <= table.cursor_index < top + table.visible_row_count
    screen_y = table.cursor_index - top + 1
    assert table.cursor_row.name in table.render_line(screen_y).text


# --------------------------------------------------------------- helpers


def test_safe_text_replaces_controls_and_bidi() -> None:
    unsafe = "a\x00b\x1b[31mc\td\ne\x7ff\x85g\x9bh\u202ei\u202aj\u2066k\u2069l\u2028m"
    result = safe_text(unsafe)
    assert len(result) == len(unsafe)  # one-for-one replacement
    assert result == (
        f"a{FFFD}b{FFFD}[31mc{FFFD}d{FFFD}e{FFFD}f{FFFD}g{FFFD}h{FFFD}i{FFFD}j{FFFD}k{FFFD}l{FFFD}m"
    )
    assert safe_text("a\u200eb\u200fc\u061cd\ud800e") == f"a{FFFD}b{FFFD}c{FFFD}d{FFFD}e"
    plain = "[bold red]x[/] 漢字 😀 é"
    assert safe_text(plain) is plain


def test_fit_columns_drops_lowest_priority_first() -> None:
    # all: 12 + 6 + 8 + 8 + 3 gaps = 37
    assert [c.key for c, _ in fit_columns(COLUMNS, 37)] == ["name", "kind", "owner", "status"]
    assert [c.key for c, _ in fit_columns(COLUMNS, 36)] == ["name", "kind", "status"]
    assert [c.key for c, _ in fit_columns(COLUMNS, 28)] == ["name", "kind", "status"]
    assert [c.key for c, _ in fit_columns(COLUMNS, 27)] == ["name", "kind"]
    assert [c.key for c, _ in fit_columns(COLUMNS, 19)] == ["name", "kind"]
    assert [c.key for c, _ in fit_columns(COLUMNS, 18)] == ["name"]
    # The flex column is never dropped; it shrinks when nothing else can go.
    assert fit_columns(COLUMNS, 5) == [(COLUMNS[0], 5)]
    # Leftover width goes to the flex column.
    widths = dict((c.key, w) for c, w in fit_columns(COLUMNS, 50))
    assert widths == {"name": 25, "kind": 6, "owner": 8, "status": 8}
    assert sum(widths.values()) + 3 == 50


def test_fit_columns_never_drops_priority_100() -> None:
    columns = [
        Column("a", "A", 10, priority=100),
        Column("b", "B", 10, priority=1),
        Column("c", "C", 10, priority=0, flex=True),
    ]
    assert [c.key for c, _ in fit_columns(columns, 15)] == ["a", "c"]


# ------------------------------------------------------------ performance


async def test_100k_rows_only_visible_rows_are_rendered() -> None:
    cell = CountingCell()
    rows = make_rows(100_000)
    app = TableApp([], cell=cell)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        cell.reset()
        app.row_id_calls = 0

        table.set_rows(rows)
        # set_rows itself touches no cell and O(1) row ids.
        assert cell.calls == 0
        assert app.row_id_calls <= 2
        assert table.row_count == 100_000
        assert table.virtual_size.height == 100_001

        await pilot.pause()
        # Painting the screen asked only about the rows on screen.
        assert 0 < len(cell.row_ids) <= 24
        assert cell.row_ids <= {f"k{i:06d}" for i in range(24)}
        assert cell.calls <= 24 * len(COLUMNS)

        cell.reset()
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_index == 99_999
        assert_cursor_visible(table)
        assert 0 < len(cell.row_ids) <= 24
        assert "k099999" in cell.row_ids
        assert all(int(rid[1:]) >= 99_999 - 24 for rid in cell.row_ids)

        # Replacing 100k rows with 100k fresh rows where the cursor row kept
        # its index: still O(1) row_id calls and no cells.
        cell.reset()
        app.row_id_calls = 0
        table.set_rows(make_rows(100_000))
        assert cell.calls == 0
        assert app.row_id_calls <= 3
        assert table.cursor_index == 99_999


# ---------------------------------------------------------------- cursor


async def test_cursor_keys_and_scrolling_keep_cursor_visible() -> None:
    app = TableApp(make_rows(1000))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        page = table.visible_row_count
        assert page == 23  # 24 lines minus the header

        assert table.cursor_index == 0
        await pilot.press("up")
        assert table.cursor_index == 0
        await pilot.press("down", "down", "down")
        assert table.cursor_index == 3
        assert table.cursor_row.id == "k000003"
        await pilot.press("up")
        assert table.cursor_index == 2

        await pilot.press("pagedown")
        assert table.cursor_index == 2 + page
        await pilot.pause()
        assert_cursor_visible(table)
        assert table.scroll_offset.y > 0

        await pilot.press("pagedown", "pagedown")
        assert table.cursor_index == 2 + 3 * page
        await pilot.pause()
        assert_cursor_visible(table)

        await pilot.press("pageup")
        assert table.cursor_index == 2 + 2 * page
        await pilot.pause()
        assert_cursor_visible(table)

        await pilot.press("end")
        assert table.cursor_index == 999
        await pilot.pause()
        assert_cursor_visible(table)
        assert table.scroll_offset.y == table.max_scroll_y == 1001 - 24
        assert lines(table)[-1].split()[0] == "key-000999"
        await pilot.press("down", "pagedown")
        assert table.cursor_index == 999

        await pilot.press("home")
        assert table.cursor_index == 0
        await pilot.pause()
        assert table.scroll_offset.y == 0
        assert_cursor_visible(table)
        await pilot.press("pageup")
        assert table.cursor_index == 0


async def test_header_stays_visible_while_scrolling() -> None:
    app = TableApp(make_rows(500))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.press("end")
        await pilot.pause()
        assert table.scroll_offset.y > 0
        header = table.render_line(0).text
        assert header.split() == ["Name", "Kind", "Owner", "Status"]
        assert table.render_line(1).text.split()[0] == f"key-{500 - 23:06d}"


async def test_cursor_moved_messages() -> None:
    app = TableApp(make_rows(50))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        moved = [m for m in app.messages if isinstance(m, VirtualTable.CursorMoved)]
        assert [m.row.id for m in moved] == ["k000000"]  # initial set_rows
        await pilot.press("down", "down", "up", "up", "up")
        await pilot.pause()
        moved = [m for m in app.messages if isinstance(m, VirtualTable.CursorMoved)]
        assert [m.row.id for m in moved] == ["k000000", "k000001", "k000002", "k000001", "k000000"]
        assert moved[-1].control is table


async def test_click_moves_cursor() -> None:
    app = TableApp(make_rows(200))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        await pilot.click(VirtualTable, offset=(5, 4))
        assert table.cursor_index == 3
        table.scroll_to(y=100, animate=False)
        await pilot.pause()
        await pilot.click(VirtualTable, offset=(5, 2))
        assert table.cursor_index == 101
        assert table.cursor_row.id == "k000101"
        await pilot.click(VirtualTable, offset=(5, 0))  # header: no change
        assert table.cursor_index == 101


# ------------------------------------------------------------ keep cursor


async def test_keep_cursor_by_id_across_set_rows() -> None:
    rows = make_rows(300)
    app = TableApp(rows)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        assert table.move_cursor_to_id("k000050")
        assert table.cursor_index == 50
        assert not table.move_cursor_to_id("nope")
        assert table.cursor_index == 50

        # The row moves to another index (reverse order).
        table.set_rows(list(reversed(rows)))
        assert table.cursor_row.id == "k000050"
        assert table.cursor_index == 249
        await pilot.pause()
        assert_cursor_visible(table)

        # The row disappears: cursor stays at the same index, clamped.
        without = [r for r in reversed(rows) if r.id != "k000050"]
        table.set_rows(without)
        assert table.cursor_index == 249
        assert table.cursor_row.id == "k000049"

        table.set_rows(without[:10])
        assert table.cursor_index == 9
        await pilot.pause()
        assert_cursor_visible(table)

        # keep_cursor=False goes back to the first row.
        table.set_rows(rows, keep_cursor=False)
        assert table.cursor_index == 0
        await pilot.pause()
        assert table.scroll_offset.y == 0


async def test_set_rows_posts_cursor_moved_when_row_changes() -> None:
    rows = make_rows(20)
    app = TableApp(rows)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        app.messages.clear()
        table.set_rows(rows)  # same objects, same cursor row: nothing to say
        await pilot.pause()
        assert not app.messages
        table.set_rows(rows[1:])  # cursor row removed -> new row at index 0
        await pilot.pause()
        assert [m.row.id for m in app.messages] == ["k000001"]
        app.messages.clear()
        table.set_rows([])
        await pilot.pause()
        assert [m.row for m in app.messages] == [None]
        assert table.cursor_row is None


# ------------------------------------------------------ marks & activation


async def test_space_marks_and_moves_down() -> None:
    app = TableApp(make_rows(10))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        await pilot.press("space")
        assert table.marked_ids == {"k000000"}
        assert table.cursor_index == 1
        await pilot.press("space", "space")
        assert table.marked_ids == {"k000000", "k000001", "k000002"}
        assert table.cursor_index == 3
        await pilot.pause()
        text = lines(table)
        assert text[1].startswith("● key-000000")
        assert text[3].startswith("● key-000002")
        assert text[4].startswith("  key-000003")
        # The marked style differs from an unmarked row.
        assert last_style(table, 1) != last_style(table, 5)

        await pilot.press("up", "space")  # unmark k000002, move down
        assert table.marked_ids == {"k000000", "k000001"}
        assert table.cursor_index == 3
        assert table.marked_rows() == [table.rows[0], table.rows[1]]

        counts = [m.count for m in app.messages if isinstance(m, VirtualTable.MarksChanged)]
        assert counts == [1, 2, 3, 2]

        table.clear_marks()
        await pilot.pause()
        assert table.marked_ids == set()
        assert not lines(table)[1].startswith("●")
        counts = [m.count for m in app.messages if isinstance(m, VirtualTable.MarksChanged)]
        assert counts[-1] == 0

        # Space on the last row marks it and stays there.
        await pilot.press("end", "space")
        assert table.marked_ids == {"k000009"}
        assert table.cursor_index == 9


async def test_enter_posts_row_activated() -> None:
    app = TableApp(make_rows(10))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        activated = [m for m in app.messages if isinstance(m, VirtualTable.RowActivated)]
        assert len(activated) == 1
        assert activated[0].row.id == "k000002"
        assert activated[0].control is table


async def test_empty_table_renders_header_only() -> None:
    app = TableApp([])
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        text = lines(table)
        assert text[0].split() == ["Name", "Kind", "Owner", "Status"]
        assert all(line.strip() == "" for line in text[1:])
        assert table.cursor_row is None
        assert table.row_count == 0
        await pilot.press("down", "end", "space", "enter")
        await pilot.pause()
        assert table.marked_ids == set()
        assert not [m for m in app.messages if not isinstance(m, VirtualTable.CursorMoved)]


# ------------------------------------------------------------ width & text


async def test_narrow_width_drops_columns_by_priority() -> None:
    app = TableApp(make_rows(5))
    async with app.run_test(size=(30, 10)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        width = table.scrollable_content_region.width
        assert width == 30
        # 30 - 2 gutter = 28 available: name(12) kind(6) status(8) + 2 gaps = 28
        assert [c.key for c in table.visible_columns] == ["name", "kind", "status"]
        assert table.render_line(0).text.split() == ["Name", "Kind", "Status"]
        for y in range(table.size.height):
            assert table.render_line(y).cell_length == width

    app = TableApp(make_rows(5))
    async with app.run_test(size=(12, 10)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        # Only the flex column survives; it shrinks to fit and text is cut.
        assert [c.key for c in table.visible_columns] == ["name"]
        assert table.render_line(0).text == "  Name      "
        assert table.render_line(1).text == "  key-000000"  # exactly fits

    app = TableApp(make_rows(5))
    async with app.run_test(size=(11, 10)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        assert table.render_line(0).text == "  Name     "
        assert table.render_line(1).text == "  key-0000…"

    app = TableApp(make_rows(5))
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        assert [c.key for c in table.visible_columns] == ["name", "kind", "owner", "status"]
        # Flex column gets the leftover: 80 - 2 - (6 + 8 + 8 + 3) = 53
        line = table.render_line(1).text
        assert line == "  " + "key-000000".ljust(53) + " " + "live  " + " " + "ops     " + " " + "  active"


async def test_long_text_is_cut_with_ellipsis_and_right_align() -> None:
    rows = [Key("a", "x" * 200, kind="abcdefghij", status="ok")]
    app = TableApp(rows)
    async with app.run_test(size=(40, 5)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        widths = {c.key: w for c, w in table._get_layout(40)}
        strip = table.render_line(1)
        assert strip.cell_length == 40
        text = strip.text
        name = text[2 : 2 + widths["name"]]
        assert name == "x" * (widths["name"] - 1) + "…"
        start = 2 + widths["name"] + 1
        assert text[start : start + 6] == "abcde…"
        assert text.endswith("      ok")  # right-aligned status


async def test_markup_like_text_is_shown_literally() -> None:
    names = ["[bold red]x[/]", "[/]", "[@click=app.quit]x", "[link=https://evil]y[/link]"]
    rows = [Key(f"m{i}", name, owner=name) for i, name in enumerate(names)]
    styled = Text("[b]ok[/b]", style="green")

    def cell(row: Key, key: str) -> Any:
        return styled if key == "status" else getattr(row, key)

    columns = [
        Column("name", "Name", 30, priority=100, flex=True),
        Column("owner", "Owner", 30),
        Column("status", "Status", 12),
    ]
    app = TableApp(rows, cell=cell, columns=columns)
    async with app.run_test(size=(100, 10)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        for y, name in enumerate(names, start=1):
            strip = table.render_line(y)
            assert strip.text[2:].startswith(name + " ")
            assert strip.text.count(name) == 2
            assert "[b]ok[/b]" in strip.text
            for segment in strip:
                style = segment.style
                assert style is None or (not style.meta and style.link is None)
        # The real screen output shows the same literal text.
        svg = app.export_screenshot()
        assert "[@click=app.quit]x" in svg
        assert svg.count("[/]") >= 2
        # The app is still alive after clicking on the "[@click=app.quit]" row.
        await pilot.click(VirtualTable, offset=(4, 3))
        await pilot.pause()
        assert app.is_running
        assert table.cursor_index == 2


async def test_control_and_bidi_chars_replaced_in_cells_and_text() -> None:
    evil = "a\x1b[2Jb\u202ec\u2066d\ne\x07"
    styled = Text("x\x1by\u202ez", style="bold")
    styled.stylize("red", 0, 1)

    def cell(row: Key, key: str) -> Any:
        return styled if key == "status" else getattr(row, key)

    app = TableApp([Key("a", evil)], cell=cell)
    async with app.run_test(size=(80, 5)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        strip = table.render_line(1)
        text = strip.text
        assert f"a{FFFD}[2Jb{FFFD}c{FFFD}d{FFFD}e{FFFD}" in text
        assert f"x{FFFD}y{FFFD}z" in text
        for ch in "\x1b\u202e\u2066\n\x07":
            assert ch not in text
        assert strip.cell_length == 80
        # The caller's Text styles are kept (and the caller's Text untouched).
        x_segment = next(s for s in strip if s.text.startswith("x"))
        assert x_segment.style.color.name == "red"
        assert x_segment.style.bold
        assert styled.plain == "x\x1by\u202ez"


async def test_wide_characters_never_overflow_a_column() -> None:
    columns = [
        Column("name", "Name", 10, priority=100, flex=True),
        Column("kind", "Kind", 5, priority=50),
        Column("owner", "Owner", 7, priority=40),
    ]
    rows = [
        Key("cjk", "漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字", kind="日本語です", owner="漢字x"),
        Key("emoji", "🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑", kind="a🔑b🔑", owner="🔑🔑🔑🔑"),
        Key("mixed", "a漢b字c漢d字e漢f字g漢h字i漢j字k漢", kind="ab漢", owner="x"),
    ]
    app = TableApp(rows, columns=columns)
    async with app.run_test(size=(30, 6)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        layout = table._get_layout(30)
        assert [(c.key, w) for c, w in layout] == [("name", 14), ("kind", 5), ("owner", 7)]
        for y in range(1, 4):
            strip = table.render_line(y)
            assert strip.cell_length == 30
            x = 2
            for n, (column, width) in enumerate(layout):
                piece = strip.crop(x, x + width).text
                assert cell_len(piece) == width
                assert table.rows[y - 1].__getattribute__(column.key)[0] in piece[:2]
                x += width
                if n < len(layout) - 1:
                    assert strip.crop(x, x + 1).text == " "  # the gap is intact
                    x += 1
        cjk = table.render_line(1).text
        assert "  漢字漢字漢字… " in cjk  # 12 cells + "…" + 1 pad cell (no half glyph)
        assert "日本…" in cjk
        assert "漢字x" in cjk
        assert "a🔑b…" in table.render_line(2).text


# ---------------------------------------------------------------- styling


async def test_row_style_and_cursor_style() -> None:
    def row_style(row: Key) -> str | None:
        if row.status == "revoked":
            return "dim"
        if row.status == "expiring":
            return "bold $warning"
        return None

    rows = [Key("a", "alpha"), Key("b", "beta", status="revoked"), Key("c", "gamma", status="expiring")]
    app = TableApp(rows, row_style=row_style)
    async with app.run_test(size=(60, 6)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.pause()
        assert table.has_focus
        cursor_style = first_style(table, 1)
        beta = first_style(table, 2)
        gamma = first_style(table, 3)
        assert beta.dim and not cursor_style.dim
        assert gamma.bold and gamma.color is not None
        assert gamma.color.triplet.hex.lower() == app.theme_variables["warning"].lower()
        assert cursor_style.bgcolor != beta.bgcolor  # cursor highlighted

        # Under the cursor the row style is still applied, cursor colours win.
        await pilot.press("down")
        await pilot.pause()
        beta_cursor = first_style(table, 2)
        assert beta_cursor.dim
        assert beta_cursor.bgcolor == cursor_style.bgcolor

        # Without focus the cursor is drawn with the (weaker) blurred style.
        focused = first_style(table, 2)
        table.blur()
        await pilot.pause()
        blurred = first_style(table, 2)
        assert blurred.bgcolor != focused.bgcolor


def test_fit_columns_shares_room_with_a_column_whose_content_is_cut() -> None:
    """Project is not cut while Name has cells to spare: both grow in turn toward their
    content; what is left after that stays blank (Name's content is known and fits)."""
    columns = [
        Column("name", "Name", 10, priority=100, flex=True, most=14),
        Column("scope", "Scope", 6, priority=90),
        Column("project", "Project", 8, priority=80, most=20),
    ]
    widths = {column.key: width for column, width in fit_columns(columns, 50)}
    assert widths == {"name": 14, "scope": 6, "project": 20}  # both whole
    tight = {column.key: width for column, width in fit_columns(columns, 30)}
    assert tight == {"name": 12, "scope": 6, "project": 10}  # the 4 spare cells, in turn
    # Without a `most`, the flexible column takes every spare cell (as before).
    plain = [Column("name", "Name", 10, flex=True), Column("kind", "Kind", 6)]
    assert [width for _column, width in fit_columns(plain, 30)] == [23, 6]


async def test_j_k_g_and_shift_g_move_like_the_arrows_and_home_end() -> None:
    app = TableApp(make_rows(200))
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.press("j", "j", "j")
        assert table.cursor_index == 3
        await pilot.press("k")
        assert table.cursor_index == 2
        await pilot.press("G")
        assert table.cursor_index == 199
        assert_cursor_visible(table)
        await pilot.press("g")
        assert table.cursor_index == 0
        assert_cursor_visible(table)


async def test_a_table_without_marks_leaves_space_to_the_screen() -> None:
    class Unmarked(TableApp):
        BINDINGS = [("space", "pressed_space", "Space")]
        spaces = 0

        def compose(self) -> ComposeResult:
            yield VirtualTable(self.columns, self.cell, row_id=self._row_id, markable=False)

        def action_pressed_space(self) -> None:
            self.spaces += 1

    app = Unmarked(make_rows(5))
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.press("space")
        assert app.spaces == 1 and not table.marked_ids and table.cursor_index == 0
