"""Projects, Members, Activity and Help, driven with Pilot on temporary stores."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.text import Text
from textual.screen import Screen
from textual.widgets import Input, OptionList

import tui.app
from conftest import OWNER, analytics_draft, fixed_clock, new_owner_repo, web_draft
from screen_harness import screen_text, settle, wait_for_workers
from store.models import Role
from store.repository import Repository
from tui.app import ApiKeysApp, make_app
from tui.screens.activity import ActivityScreen
from tui.screens.help import HelpScreen
from tui.screens.live import ListScreen
from tui.screens.members import MembersScreen
from tui.screens.projects import ProjectsScreen
from tui.screens.prompts import ChoicePrompt, TextPrompt
from tui.widgets.virtual_table import VirtualTable

MARKUP_NAMES = ["[bold red]x[/]", "[/]", "[@click=app.quit]x"]


class Harness(ApiKeysApp):
    """The real app, without the main screen: each test pushes the screen it is about."""

    # Relative paths follow the class: point at the app's own.
    CSS_PATH = [Path(tui.app.__file__).with_name(name) for name in ApiKeysApp.CSS_PATH]

    def on_mount(self) -> None:
        pass


@pytest.fixture
def owner_repo(store_target: Path | str) -> Repository:
    """The shared owner_repo, on the file store and on PostgreSQL (``store_target``)."""
    return new_owner_repo(store_target)


def harness(store_path: Path, login: str = OWNER, live_interval: float = 60.0) -> Harness:
    """An app on ``store_path`` acting as ``login``; live checks off unless asked for."""
    return Harness(Repository(store_path, login, clock=fixed_clock), live_interval=live_interval)


async def open_screen(app, pilot, screen: Screen) -> Screen:
    """Push ``screen`` and wait until it has loaded."""
    await app.push_screen(screen)
    await settle(app, pilot)
    assert app.screen is screen
    return screen


async def wait_until(app, pilot, condition, rounds: int = 100) -> bool:
    """Pause until ``condition()`` holds (a bounded wait, not a timing assertion)."""
    for _ in range(rounds):
        if condition():
            return True
        await pilot.pause(0.05)
        await wait_for_workers(app)
    return condition()


def column(screen: ListScreen, key: str) -> list[str]:
    """The plain text of one column of the screen's table, top to bottom."""
    cells = [screen.cell(row, key) for row in screen.table.rows]
    return [cell.plain if isinstance(cell, Text) else cell for cell in cells]


def row_keys(screen: ListScreen) -> list[str]:
    """The row ids of the screen's table, top to bottom."""
    return [screen.row_id(row) for row in screen.table.rows]


def cursor_row_key(screen: ListScreen) -> str:
    """The id of the row under the cursor."""
    return screen.row_id(screen.table.cursor_row)


def messages(app) -> list[str]:
    """Every notification shown so far."""
    return [notification.message for notification in app._notifications]


async def answer_text(app, pilot, text: str) -> TextPrompt:
    """Type ``text`` into the open TextPrompt and press enter."""
    prompt = app.screen
    assert isinstance(prompt, TextPrompt)
    await pilot.press(*text)
    await pilot.press("enter")
    await settle(app, pilot)
    return prompt


def described(help_screen: HelpScreen) -> set[str]:
    """Every description the help screen lists."""
    return {description for group in help_screen.groups for _keys, description, _ in group.rows}


def add_developer(owner_repo: Repository, login: str = "dev1") -> None:
    owner_repo.add_member(login, Role.DEVELOPER, display_name="Dev One")


# -- projects ---------------------------------------------------------------------------------


async def test_projects_lists_id_name_deployed_and_key_count(owner_repo, store_target):
    owner_repo.create_key(web_draft())
    owner_repo.create_key(analytics_draft())
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, ProjectsScreen())
        assert column(screen, "name") == ["Kiosk beta", "Storefront"]
        assert column(screen, "deployed") == ["No", "Yes"]
        assert column(screen, "keys") == ["0", "2"]
        storefront = owner_repo.find_project("Storefront")
        assert storefront.id in column(screen, "id")
        text = screen_text(app)
        assert "2 projects" in text and storefront.id in text
        assert "Add project" in text and "Deploy on/off" in text  # the footer offers both


async def test_projects_add_then_toggle_deployed(owner_repo, store_target):
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, ProjectsScreen())
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, TextPrompt)
        await answer_text(app, pilot, "Point of sale")
        assert app.screen is screen
        added = owner_repo.find_project("Point of sale")
        assert added.deployed is False
        assert "Point of sale" in column(screen, "name")
        assert cursor_row_key(screen) == added.id  # the cursor lands on the new project

        await pilot.press("space")
        await settle(app, pilot)
        assert owner_repo.find_project(added.id).deployed is True
        assert cursor_row_key(screen) == added.id
        assert column(screen, "deployed")[row_keys(screen).index(added.id)] == "Yes"

        await pilot.press("space")
        await settle(app, pilot)
        assert owner_repo.find_project(added.id).deployed is False
        actions = [event.action for event in owner_repo.history()[:3]]
        assert actions == ["project.deploy", "project.deploy", "project.add"]


async def test_project_prompt_shows_errors_inline_and_stays_open(owner_repo, store_target):
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, ProjectsScreen())
        await pilot.press("n")
        await pilot.pause()
        prompt = await answer_text(app, pilot, "")
        assert app.screen is prompt and "Type a name" in prompt.error_text

        prompt.query_one(Input).value = "x" * 130  # the store refuses it
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is prompt
        assert "the limit is 128" in prompt.error_text

        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is screen
        assert len(owner_repo.list_projects()) == 2


async def test_empty_projects_say_how_to_add_one(store_path):
    Repository(store_path, OWNER, clock=fixed_clock).initialise("Acme Studio")
    app = harness(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_screen(app, pilot, ProjectsScreen())
        assert "No projects yet. Press n to add one." in screen_text(app)
        await pilot.press("space")  # nothing to toggle: nothing happens, nothing breaks
        await settle(app, pilot)
        assert app.is_running


async def test_developer_sees_projects_read_only(owner_repo, store_target):
    add_developer(owner_repo)
    app = harness(store_target, "dev1")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, ProjectsScreen())
        assert column(screen, "name") == ["Kiosk beta", "Storefront"]
        actions = {b.binding.action for b in screen.active_bindings.values() if b.binding.show}
        assert "add_project" not in actions and "toggle_deployed" not in actions
        text = screen_text(app)
        assert "Add project" not in text and "read only" in text

        await pilot.press("n")
        await settle(app, pilot)
        assert app.screen is screen  # no prompt opened
        refusal = "dev1 is developer: only an owner or support may manage projects"
        assert messages(app) == [refusal]  # the rule book's words

        await pilot.press("space")
        await settle(app, pilot)
        assert messages(app) == [refusal, refusal]
        assert owner_repo.find_project("Kiosk beta").deployed is False


# -- members ----------------------------------------------------------------------------------


async def test_members_mark_the_acting_member(owner_repo, store_target):
    add_developer(owner_repo)
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, MembersScreen())
        assert column(screen, "login") == ["alice (you)", "dev1"]
        assert column(screen, "role") == ["owner", "developer"]
        assert column(screen, "name")[1] == "Dev One"


async def test_owner_adds_a_member_with_a_role_then_changes_it(owner_repo, store_target):
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, MembersScreen())
        await pilot.press("n")
        await pilot.pause()
        await answer_text(app, pilot, "bob")
        chooser = app.screen
        assert isinstance(chooser, ChoicePrompt)
        options = chooser.query_one(OptionList)
        assert options.get_option_at_index(options.highlighted).id == "developer"
        await pilot.press("up", "enter")  # developer → analytics
        await settle(app, pilot)
        assert app.screen is screen
        assert {m.login: m.role for m in owner_repo.list_members()}["bob"] is Role.ANALYTICS
        assert cursor_row_key(screen) == "bob"
        assert "Added bob as analytics" in messages(app)

        await pilot.press("enter")
        await pilot.pause()
        chooser = app.screen
        assert isinstance(chooser, ChoicePrompt)
        options = chooser.query_one(OptionList)
        assert options.get_option_at_index(options.highlighted).id == "analytics"
        await pilot.press("up", "enter")  # analytics → support
        await settle(app, pilot)
        assert {m.login: m.role for m in owner_repo.list_members()}["bob"] is Role.SUPPORT
        assert column(screen, "role")[row_keys(screen).index("bob")] == "support"


async def test_adding_an_existing_member_is_refused_in_the_prompt(owner_repo, store_target):
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_screen(app, pilot, MembersScreen())
        await pilot.press("n")
        await pilot.pause()
        prompt = await answer_text(app, pilot, OWNER)
        assert app.screen is prompt and "already a member" in prompt.error_text


async def test_last_owner_cannot_be_demoted(owner_repo, store_target):
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, MembersScreen())
        assert cursor_row_key(screen) == OWNER
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ChoicePrompt)
        await pilot.press("end", "enter")  # developer
        await settle(app, pilot)
        assert app.is_running and app.screen is screen
        assert "alice is the last owner: make another owner first" in " ".join(messages(app))
        assert owner_repo.me().role is Role.OWNER
        assert column(screen, "role")[0] == "owner"


async def test_developer_sees_members_read_only(owner_repo, store_target):
    add_developer(owner_repo)
    app = harness(store_target, "dev1")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, MembersScreen())
        assert column(screen, "login") == ["alice", "dev1 (you)"]
        assert "Change role" not in screen_text(app) and "Add member" not in screen_text(app)

        await pilot.press("n")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is screen
        refusal = "dev1 is developer: only an owner may manage members"  # the rule book's words
        assert messages(app) == [refusal, refusal]
        assert len(owner_repo.list_members()) == 2


# -- activity ---------------------------------------------------------------------------------


async def test_activity_lists_newest_first_and_filters(owner_repo, store_target):
    first = owner_repo.create_key(web_draft(name="Alpha widget")).key
    second = owner_repo.create_key(web_draft(name="Beta widget")).key
    owner_repo.revoke_keys([first.id])
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, ActivityScreen())
        assert screen.title == "Activity"
        expected = [event.action for event in owner_repo.history()]
        assert column(screen, "what") == expected
        assert expected[:3] == ["key.revoke", "key.create", "key.create"]
        assert column(screen, "key")[:3] == [first.id, second.id, first.id]
        assert "newest first" in screen_text(app)

        await pilot.press("slash", *"beta widget")
        await pilot.pause()
        assert column(screen, "key") == [second.id]
        assert "1 of" in screen_text(app) and "match" in screen_text(app)

        await pilot.press("enter")  # keep the filter, back to the table
        assert isinstance(app.focused, VirtualTable)
        assert column(screen, "key") == [second.id]

        await pilot.press("escape")  # clears the filter first
        await pilot.pause()
        assert screen.filter_text == ""
        assert len(column(screen, "what")) == len(expected)
        assert app.screen is screen

        await pilot.press("escape")  # then goes back
        await pilot.pause()
        assert app.screen is not screen


async def test_activity_filter_matches_every_column(owner_repo, store_target):
    add_developer(owner_repo)
    owner_repo.create_key(web_draft(name="Gamma"))
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, ActivityScreen())
        for needle, column_key in (("dev1", "detail"), ("MEMBER.ADD", "what"), ("gamma", "detail")):
            screen.query_one(Input).value = needle
            await pilot.pause()
            shown = column(screen, column_key)
            assert shown and all(needle.casefold() in cell.casefold() for cell in shown)


async def test_activity_of_one_key_shows_only_its_events(owner_repo, store_path):
    mine = owner_repo.create_key(web_draft(name="Mine")).key
    other = owner_repo.create_key(web_draft(name="Other")).key
    owner_repo.edit_key(mine.id, {"name": "Mine renamed"})
    owner_repo.revoke_keys([other.id])
    app = harness(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, ActivityScreen(mine.id))
        assert screen.title == f"Activity of {mine.id}"
        assert column(screen, "what") == ["key.edit", "key.create"]
        text = screen_text(app)
        assert "Mine renamed" in text and other.id not in text


@pytest.mark.file_only  # appends to the audit file directly
async def test_activity_shows_every_event_and_the_cursor_row(owner_repo, store_target):
    owner_repo.audit.append([
        owner_repo._event("project.add", None, f"added project 'Project {index}'")
        for index in range(2500)
    ])
    total = len(owner_repo.history())
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, ActivityScreen())
        assert len(row_keys(screen)) == 1000 < total  # the newest page; older on demand
        assert column(screen, "detail")[0] == "added project 'Project 2499'"
        assert "The newest 1,000 events · m reads older · row 1 of 1,000" in screen_text(app)
        for before, shown in ((1000, 2000), (2000, total)):  # the end reads a page of older events
            await pilot.press("G")
            await settle(app, pilot)
            assert len(row_keys(screen)) == shown
            assert f"row {before:,} of {shown:,}" in screen_text(app)  # the cursor stays
        assert f"{total:,} events, newest first" in screen_text(app)
        await pilot.press("G")
        assert f"row {total:,} of {total:,}" in screen_text(app)
        await pilot.press("g", "j", "j", "k")
        assert f"row 2 of {total:,}" in screen_text(app)
        assert "added project 'Project 2498'" in screen_text(app)  # the detail line below


# -- help -------------------------------------------------------------------------------------


async def test_help_lists_the_bindings_of_the_screen_it_was_opened_on(owner_repo, store_target):
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        projects = await open_screen(app, pilot, ProjectsScreen())
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen) and help_screen.for_screen is projects
        listed = described(help_screen)
        assert {"Add project", "Deploy on/off", "Reload", "Back", "Quit", "Help"} <= listed
        assert "Change role" not in listed
        on_screen = help_screen.groups[0]
        assert on_screen.title == "On this screen"
        assert ("space", "Deploy on/off", True) in on_screen.rows
        text = screen_text(app)
        assert "Help for Projects" in text and "Add project" in text

        await pilot.press("q")  # closes help, does not quit
        await pilot.pause()
        assert app.is_running and app.screen is projects

        members = await open_screen(app, pilot, MembersScreen())
        await pilot.press("question_mark")
        await pilot.pause()
        listed = described(app.screen)
        assert {"Change role", "Add member"} <= listed and "Add project" not in listed
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is members


async def test_help_has_the_notes_and_scrolls(owner_repo, store_target):
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_screen(app, pilot, ActivityScreen())
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("end")  # the notes are at the bottom
        assert await wait_until(app, pilot, lambda: "OSC 52" in screen_text(app))
        text = screen_text(app)
        assert "set -g set-clipboard on" in text and "press v" in text and "ctrl+p" in text
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, ActivityScreen)


async def test_help_leaves_out_actions_a_developer_cannot_use(owner_repo, store_target):
    add_developer(owner_repo)
    app = harness(store_target, "dev1")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_screen(app, pilot, MembersScreen())
        await pilot.press("question_mark")
        await pilot.pause()
        listed = described(app.screen)
        assert "Change role" not in listed and "Add member" not in listed
        assert "Reload" in listed


# -- untrusted text ---------------------------------------------------------------------------


@pytest.mark.file_only  # its members are not database roles
async def test_markup_like_names_appear_literally(owner_repo, store_target):
    for index, name in enumerate(MARKUP_NAMES):
        owner_repo.add_project(name)
        owner_repo.add_member(f"user{index}", Role.DEVELOPER, display_name=name)
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        for screen in (ProjectsScreen(), MembersScreen(), ActivityScreen()):
            await open_screen(app, pilot, screen)
            text = screen_text(app)
            if not isinstance(screen, ActivityScreen):
                for name in MARKUP_NAMES:
                    assert name in text, (type(screen).__name__, name)
            else:
                await pilot.press("slash", *"[bold")
                await pilot.pause()
                assert "'[bold red]x[/]'" in screen_text(app)
            await pilot.press("question_mark")
            await pilot.pause()
            await pilot.press("escape")
            await pilot.press("escape", "escape")
            await pilot.pause()
        assert app.is_running and app.return_code is None


async def test_a_markup_like_name_can_be_typed_into_the_prompt(owner_repo, store_target):
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, ProjectsScreen())
        await pilot.press("n")
        await pilot.pause()
        await answer_text(app, pilot, "[@click=app.quit]x")
        assert "[@click=app.quit]x" in column(screen, "name")
        assert "[@click=app.quit]x" in screen_text(app)
        assert app.is_running


# -- live view --------------------------------------------------------------------------------


async def test_projects_follow_another_admins_changes(owner_repo, store_target):
    other_admin = Repository(store_target, OWNER, clock=fixed_clock)
    app = harness(store_target, live_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, ProjectsScreen())
        await pilot.press("down")  # Storefront
        storefront = owner_repo.find_project("Storefront").id
        assert cursor_row_key(screen) == storefront

        added = other_admin.add_project("Another admin's project")
        other_admin.set_project_deployed(owner_repo.find_project("Kiosk beta").id, True)
        assert await wait_until(app, pilot, lambda: added.id in row_keys(screen))
        assert column(screen, "deployed")[row_keys(screen).index(added.id)] == "No"
        assert column(screen, "name").index("Another admin's project") == 0  # sorted by name
        assert cursor_row_key(screen) == storefront  # the cursor stayed on its project
        assert column(screen, "deployed")[row_keys(screen).index(storefront)] == "Yes"


async def test_members_and_activity_follow_another_admins_changes(owner_repo, store_target):
    other_admin = Repository(store_target, OWNER, clock=fixed_clock)
    app = harness(store_target, live_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        members = await open_screen(app, pilot, MembersScreen())
        other_admin.add_member("carol", Role.SUPPORT, display_name="Carol")
        assert await wait_until(app, pilot, lambda: "carol" in row_keys(members))
        assert cursor_row_key(members) == OWNER

        activity = await open_screen(app, pilot, ActivityScreen())
        before = len(row_keys(activity))
        other_admin.create_key(web_draft(name="Made elsewhere"))
        assert await wait_until(app, pilot, lambda: len(row_keys(activity)) == before + 1)
        assert column(activity, "what")[0] == "key.create"


async def test_a_screen_below_catches_up_when_it_is_resumed(owner_repo, store_target):
    other_admin = Repository(store_target, OWNER, clock=fixed_clock)
    app = harness(store_target)  # live checks effectively off: only the resume reloads
    async with app.run_test(size=(80, 24)) as pilot:
        projects = await open_screen(app, pilot, ProjectsScreen())
        await pilot.press("question_mark")
        await pilot.pause()
        added = other_admin.add_project("While help was open")
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is projects and added.id in row_keys(projects)


async def test_reload_key_reads_the_store_again(owner_repo, store_target):
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        projects = await open_screen(app, pilot, ProjectsScreen())
        added = Repository(store_target, OWNER, clock=fixed_clock).add_project("Reloaded")
        await pilot.press("r")
        await settle(app, pilot)
        assert added.id in row_keys(projects)


# -- from the main screen ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "screen_class"),
    [("p", ProjectsScreen), ("m", MembersScreen), ("l", ActivityScreen)],
)
async def test_main_screen_opens_each_admin_screen_and_escape_returns(
    owner_repo, store_target, key, screen_class
):
    app = make_app(store_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        main = app.screen
        await pilot.press(key)
        await settle(app, pilot)
        assert isinstance(app.screen, screen_class)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is main


async def test_activity_of_a_key_the_member_may_not_see_says_so(owner_repo, store_target):
    hidden = owner_repo.create_key(web_draft(name="Owner's key")).key
    add_developer(owner_repo)
    app = harness(store_target, "dev1")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_screen(app, pilot, ActivityScreen(hidden.id))
        assert f"no key '{hidden.id}'" in messages(app)
        assert f"no key '{hidden.id}'" in screen_text(app)
        assert app.is_running


async def test_long_names_are_cut_at_80_columns_and_shown_whole_when_wider(owner_repo, store_target):
    long_name = "A project name long enough to need more than eighty columns of terminal"
    owner_repo.add_project(long_name)
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_screen(app, pilot, ProjectsScreen())
        text = screen_text(app)
        assert long_name not in text and long_name[:30] in text and "…" in text
        assert all(len(line) <= 80 for line in text.splitlines())
        await pilot.resize_terminal(160, 30)
        await settle(app, pilot)
        assert long_name in screen_text(app)
