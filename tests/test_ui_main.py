"""The API Keys main screen, driven with Pilot on a temporary store."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pyperclip
import pytest
from textual import events
from textual.widgets import Input

from conftest import OWNER, analytics_draft, fixed_clock, mobile_draft, new_owner_repo, web_draft
from screen_harness import flat_text, screen_text, settle, settle_until, shown_keys
from store.errors import StoreError
from store.repository import Repository
from tui.app import make_app
from tui.screens import key_list
from tui.screens.key_list import KeyListScreen
from tui.screens.not_member import NotMemberScreen

MARKUP_NAMES = ["[bold red]x[/]", "[/]", "[@click=app.quit]x"]
WORDS = ("alpha", "bravo", "charlie")


def table_lines(app) -> list[str]:
    """The rendered lines of the keys table (header first)."""
    table = app.screen.table
    return [table.render_line(y).text for y in range(table.size.height)]


@pytest.fixture
def owner_repo(store_target: Path | str) -> Repository:
    """The shared owner_repo, on the file store and on PostgreSQL (``store_target``)."""
    return new_owner_repo(store_target)


@pytest.fixture
def seeded(owner_repo: Repository) -> Repository:
    """Three keys of each scope with distinct names."""
    for index in range(3):
        word = WORDS[index]  # not digits: a digit can turn up in any random key id
        owner_repo.create_key(web_draft(name=f"Web {word}"))
        owner_repo.create_key(mobile_draft(name=f"Mobile {word}"))
        owner_repo.create_key(analytics_draft(name=f"Analytics {word}"))
    return owner_repo


async def test_lists_keys_with_count_and_title(seeded, store_target):
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, KeyListScreen)
        assert screen.table.row_count == 9
        text = screen_text(app)
        assert "9 keys · sorted by created ↓" in text
        assert "Acme Studio" in text and "alice (owner)" in text
        header = table_lines(app)[0]
        for column in ("Name", "Scope", "Project", "Key", "Created"):
            assert column in header


async def test_wide_terminal_adds_columns(seeded, store_target):
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(130, 24)) as pilot:
        await settle(app, pilot)
        header = table_lines(app)[0]
        assert "Created by" in header and "Last used" in header and "Status" in header


async def test_sort_cycles_and_a_new_order_starts_at_its_top(seeded, store_target):
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.table
        names = [row.name for row in table.rows]
        assert names[0] == "Analytics charlie"  # newest first
        await pilot.press("down", "down")
        assert "row 3 of 9" in screen_text(app)
        await pilot.press("s")
        assert [row.name for row in table.rows] == list(reversed(names))
        assert table.cursor_index == 0
        assert "row 1 of 9" in screen_text(app)
        await pilot.press("s")
        scopes = [row.scope for row in table.rows]
        assert scopes == sorted(scopes, key=["web", "mobile", "analytics"].index)
        assert "sorted by scope" in screen_text(app)
        await pilot.press("s")
        assert [row.name for row in table.rows] == names


async def test_filter_as_you_type_and_escape_clears(seeded, store_target):
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"mobile")
        table = app.screen.table
        assert {row.scope for row in table.rows} == {"mobile"}
        assert "3 of 9 keys" in screen_text(app)
        await pilot.press(*" bravo")
        assert [row.name for row in table.rows] == ["Mobile bravo"]
        await pilot.press(*["backspace"] * len("mobile bravo"))
        await pilot.press(*"storefront web")  # project and scope words together
        web_rows = [row for row in table.rows if row.scope == "web"]
        assert len(web_rows) == 3
        # Any other match can only be a key whose random id happens to contain "web".
        assert all("web" in row.id.casefold() for row in table.rows if row.scope != "web")
        await pilot.press("escape")
        assert table.row_count == 9
        assert app.screen.focused is table


async def test_keys_typed_right_after_enter_in_the_filter_go_to_the_table(seeded, store_target):
    """Over a slow link ``enter`` and the keys after it arrive in one burst: they move the
    table's cursor, and never land in the filter box (Textual's stock Input let ``j`` in)."""
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"web")
        await settle(app, pilot)
        for key in ("enter", "j", "j"):
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await settle(app, pilot)
        screen = app.screen
        assert screen.query_one("#filter", Input).value == "web" and screen.filter_text == "web"
        assert screen.focused is screen.table and screen.table.cursor_index == 2


async def test_filter_without_match_says_so(seeded, store_target):
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"zzz")
        assert "No key matches “zzz”" in screen_text(app)


async def test_filter_by_id(seeded, store_target):
    key_id = seeded.list_keys()[4].id
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *key_id.lower())
        assert [row.id for row in app.screen.table.rows] == [key_id]


async def test_empty_store_tells_a_new_user_what_to_do(store_path):
    Repository(store_path, OWNER, clock=fixed_clock).initialise("Acme Studio")
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        text = screen_text(app)
        assert "No API keys yet" in text
        assert "Press n to create your first key" in text


async def test_a_new_store_is_created_with_the_login_as_owner(store_path):
    app = make_app(store_path, "carol", clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "carol (owner)" in screen_text(app)
    assert Repository(store_path, "carol").me().role.value == "owner"


async def test_markup_names_are_shown_literally(owner_repo, store_target):
    for name in MARKUP_NAMES:
        owner_repo.create_key(web_draft(name=name))
    owner_repo.add_project("[b]Proj[/b]", deployed=True)
    owner_repo.create_key(web_draft(project="[b]Proj[/b]", name="in odd project"))
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        lines = "\n".join(table_lines(app))
        for name in MARKUP_NAMES:
            assert name in lines
        assert "[b]Proj[/b]" in lines
        # Clicking the row of a name that looks like a click action runs nothing.
        await pilot.click("#rows", offset=(5, 4))
        await pilot.pause()
        assert app.is_running
        await pilot.press("slash", *"[/]")
        assert sorted(row.name for row in app.screen.table.rows) == ["[/]", "[bold red]x[/]"]


async def test_developer_sees_only_own_keys(owner_repo, store_target):
    owner_repo.create_key(web_draft(name="Owner's key"))
    owner_repo.add_member("dev1", "developer")
    developer = Repository(store_target, "dev1", clock=fixed_clock)
    developer.create_key(web_draft(name="Dev key"))
    app = make_app(store_target, "dev1", clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert [row.name for row in app.screen.table.rows] == ["Dev key"]
        assert "your keys only" in screen_text(app)


async def test_owner_key_is_read_only_for_support(owner_repo, store_target):
    owner_repo.create_key(web_draft(name="Owner's key"))
    owner_repo.add_member("sup", "support")
    app = make_app(store_target, "sup", clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert [row.name for row in screen.table.rows] == ["Owner's key"]
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, KeyListScreen)
        assert any("only an owner may edit" in n.message for n in app._notifications)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, KeyListScreen)
        assert any("only an owner may revoke" in n.message for n in app._notifications)


async def test_live_refresh_keeps_cursor_on_the_same_key(seeded, store_target):
    app = make_app(store_target, OWNER, clock=fixed_clock, live_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.table
        await pilot.press("down", "down")
        chosen = table.cursor_row.id
        other_admin = Repository(store_target, OWNER, clock=fixed_clock)
        other_admin.create_key(web_draft(name="From another admin"))
        assert await settle_until(app, pilot, lambda: table.row_count == 10)
        assert table.rows[0].name == "From another admin"
        assert table.cursor_row.id == chosen


async def test_a_store_unusable_at_the_first_load_ends_the_ui_with_the_error(store_path):
    """The command line checks only the store's head before the UI opens; whatever the
    first load cannot read ends the UI with the error, which the command line prints as one
    line with exit status 2 (tests/test_cli.py)."""
    store_path.parent.mkdir(parents=True)
    store_path.write_text('{"keys": ')
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert await settle_until(app, pilot, lambda: not app.is_running)
    assert isinstance(app.return_value, StoreError)
    assert "is not valid JSON" in str(app.return_value) and app.return_code == 2
    assert store_path.read_text() == '{"keys": '


async def test_store_corrupted_while_open_is_reported(seeded, store_path):
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        store_path.write_text("not json at all")
        await pilot.press("r")
        await settle(app, pilot)
        assert "is not valid JSON" in screen_text(app)
        assert app.is_running


@pytest.mark.parametrize("scenario", ["pyperclip", "no-clipboard", "ssh"])
async def test_copy_paths(seeded, store_target, monkeypatch, scenario):
    copied: list[str] = []
    sent: list[str] = []

    def fake_copy(text: str) -> None:
        if scenario == "no-clipboard":
            raise pyperclip.PyperclipException("no display")
        copied.append(text)

    monkeypatch.setattr(pyperclip, "copy", fake_copy)
    if scenario == "ssh":
        monkeypatch.setenv("SSH_TTY", "/dev/pts/3")
    app = make_app(store_target, OWNER, clock=fixed_clock)
    monkeypatch.setattr(app, "copy_to_clipboard", sent.append)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"web alpha", "enter")
        view = app.screen.table.cursor_row
        await pilot.press("c")
        await settle(app, pilot)
        secret = seeded.reveal_secret(view.id).get_secret_value()
        messages = [n.message for n in app._notifications]
        if scenario == "pyperclip":
            assert copied == [secret] and sent == []
            assert "Copied to the clipboard" in messages
        else:
            assert copied == [] and sent == [secret]
            assert any("sent to your terminal" in m for m in messages)
        assert not any(secret in m for m in messages)


async def test_copy_analytics_key_is_refused_with_reason(seeded, store_target, monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", sent.append)
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"analytics bravo", "enter")
        await pilot.press("c")
        await settle(app, pilot)
        assert sent == []
        assert any("shown once, at creation" in n.message for n in app._notifications)


async def test_a_store_moved_away_while_open_is_reported_not_recreated(seeded, store_path):
    app = make_app(store_path, OWNER, clock=fixed_clock, live_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        store_path.rename(store_path.with_name("moved.json"))
        assert await settle_until(app, pilot, lambda: "no store at" in screen_text(app))
        assert app.is_running
    assert not store_path.exists()


async def test_a_login_that_is_not_a_member_gets_one_screen_naming_the_owners(seeded, store_target):
    seeded.add_member("olga", "owner", display_name="Olga Owner")
    seeded.add_member("dev", "developer", display_name="Dee Developer")
    app = make_app(store_target, "mallory", clock=fixed_clock, live_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, NotMemberScreen)
        assert len(app.screen_stack) == 2  # the default screen and this one, nothing else
        text = flat_text(app)
        assert "mallory is not a member of Acme Studio" in text
        assert "• alice" in text and "• Olga Owner (olga)" in text
        assert "Dee Developer" not in text and "dev" not in text.split("apikeys")[0]
        assert "apikeys members add mallory --role developer" in text
        await pilot.press("n", "e", "p", "m", "l", "slash")
        await settle(app, pilot)
        assert isinstance(app.screen, NotMemberScreen)  # no form, no list, nothing of the store
        assert app._notifications == {} or len(list(app._notifications)) == 0
        # Once an owner adds the login, r looks again and opens the keys.
        seeded.add_member("mallory", "developer")
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, KeyListScreen)
        assert "mallory (developer)" in screen_text(app)


async def test_bulk_revoke_of_marked_keys_end_to_end(seeded, store_target):
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.table
        marked = [row.id for row in table.rows[:3]]
        await pilot.press("space", "space", "space")
        assert table.marked_ids == set(marked)
        assert "3 marked" in screen_text(app)
        await pilot.press("d")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ConfirmRevoke"
        assert "Revoke 3 API keys?" in screen_text(app)
        await pilot.press("tab", "enter")  # Cancel has the focus; tab reaches Yes, Delete
        await settle(app, pilot)
        assert isinstance(app.screen, KeyListScreen)
        assert table.row_count == 6 and not table.marked_ids
    revoked = {view.id for view in seeded.list_keys() if view.record["status"] == "revoked"}
    assert revoked == set(marked)
    for key_id in marked:
        assert seeded.get_key(key_id).secret is None


async def test_revoke_cancelled_changes_nothing(seeded, store_path):
    before = store_path.read_bytes()
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ConfirmRevoke"
        await pilot.press("enter")  # the focused button is Cancel
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, KeyListScreen)
        assert app.screen.table.row_count == 9
    assert store_path.read_bytes() == before


async def test_a_crash_report_never_shows_local_variables(seeded, store_target):
    from rich.console import Console

    secret = seeded.reveal_secret(seeded.list_keys()[0].id).get_secret_value()
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        record = {"secret": secret}  # a local of the failing frame, as in a render path
        try:
            raise RuntimeError(f"boom {len(record)}")
        except RuntimeError:
            app._fatal_error()
        console = Console(width=120, record=True, file=io.StringIO())
        for renderable in app._exit_renderables:
            console.print(renderable)
        report = console.export_text()
    assert "RuntimeError" in report and "boom 1" in report
    assert secret not in report


async def test_bulk_revoke_says_how_many_marked_keys_the_filter_hides(seeded, store_target):
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.table
        await pilot.press("space", "space", "space")  # the three newest: one of each scope
        marked = set(table.marked_ids)
        await pilot.press("slash", *"web", "enter")
        await settle(app, pilot)
        assert len(table.marked_rows()) == 1
        await pilot.press("d")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ConfirmRevoke"
        text = flat_text(app)
        assert "Revoke 3 API keys?" in text
        assert "2 of these 3 marked keys are hidden by the filter" in text
        await pilot.press("escape")
        await settle(app, pilot)
    assert all(seeded.get_key(key_id).status == "active" for key_id in marked)


async def test_a_wide_terminal_offers_more_keys_in_the_footer(seeded, store_target):
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        narrow = shown_keys(app.screen)
        assert {"n", "e", "d", "s", "slash", "p"} <= set(narrow)
        assert not {"enter", "space", "m", "l", "q"} & set(narrow)
        footer = screen_text(app).splitlines()[-1]
        assert "^p" not in footer
        await pilot.resize_terminal(130, 24)
        await settle(app, pilot)
        wide = shown_keys(app.screen)
        assert {"enter", "space", "m", "l", "q"} <= set(wide)
        footer = screen_text(app).splitlines()[-1]
        assert all(word in footer for word in ("Members", "Activity", "Quit", "^p"))
        await pilot.resize_terminal(80, 24)
        await settle(app, pilot)
        assert shown_keys(app.screen) == narrow


async def test_the_command_palette_lists_each_action_once(seeded, store_target):
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert len(titles) == len(set(titles))
        assert titles.count("Revoke") == 1  # bound to d and delete
        assert {"New", "Edit", "Revoke", "Copy", "Sort", "Members", "Activity log"} <= set(titles)


@pytest.mark.file_only  # the line names the file's size
async def test_a_loading_line_shows_while_the_store_loads(seeded, store_target, monkeypatch):
    release = threading.Event()
    list_keys = Repository.list_keys

    def slow_list_keys(self, **options):
        release.wait(timeout=30)
        return list_keys(self, **options)

    monkeypatch.setattr(Repository, "list_keys", slow_list_keys)
    monkeypatch.setattr(key_list, "PROGRESS_BYTES", 1)
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "Reading the store (0 MB)…" in screen_text(app)
        release.set()
        await settle(app, pilot)
        assert "9 keys · sorted by created ↓ · row 1 of 9" in screen_text(app)


def test_list_screens_ask_the_repository_not_the_rule_book() -> None:
    """The screens name actions (KeyAction, OrganisationAction); the answer comes from
    Repository.refusal, and no refusal wording is written in them."""
    screens = Path(key_list.__file__).parent
    for name in ("key_list", "projects", "members", "activity", "live", "not_member", "help"):
        source = (screens / f"{name}.py").read_text()
        assert "from store import access" not in source and "access." not in source, name
        assert "only an owner may" not in source, name
