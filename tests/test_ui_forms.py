"""Create key / Edit key, Key created and the revoke question, driven with Pilot."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pyperclip
import pytest
from textual.widgets import Button, Input, Label

from conftest import OWNER, analytics_draft, fixed_clock, mobile_draft, new_owner_repo, web_draft
from screen_harness import (
    MARKUP_NAMES,
    flat_text,
    harness,
    notifications,
    screen_text,
    settle,
    type_text,
)
from store.models import ApiKey, CreatedKey
from store.repository import Repository, current_login
from tui.clipboard import COPIED
from tui.screens.confirm_revoke import ConfirmRevoke
from tui.screens.create_key import CreateKeyModal
from tui.screens.edit_key import EditKeyModal
from tui.screens.key_created import ANALYTICS_WARNING, SENT_FROM_HERE, KeyCreatedScreen
from tui.screens.key_form import KeyFormModal
from tui.screens.prompts import ConfirmDialog
from tui.widgets.project_picker import ADD_OPTION, ALL_OPTION, ProjectPicker

# -- helpers -----------------------------------------------------------------------------


@pytest.fixture
def owner_repo(store_target: Path | str) -> Repository:
    """The shared owner_repo, on the file store and on PostgreSQL (``store_target``)."""
    return new_owner_repo(store_target)


def project_id(repo: Repository, name: str) -> str:
    """The id of the project called ``name``."""
    return repo.find_project(name).id


def error_text(app, field: str) -> str:
    """The inline error under ``field``; empty when none is shown."""
    label = app.screen.query_one(f"#{field}-error", Label)
    return str(label.content) if label.display else ""


def option_ids(app) -> list[str | None]:
    """The ids of the project picker's options, in order."""
    options = app.screen.query_one(ProjectPicker).options
    return [options.get_option_at_index(index).id for index in range(options.option_count)]


async def open_form(app, pilot) -> KeyFormModal:
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, KeyFormModal)
    return screen


async def fill_start(pilot, name: str, scope_moves: int, project_text: str) -> None:
    """Type a name, move the scope right ``scope_moves`` times, search a project and pick it."""
    await type_text(pilot, name)
    await pilot.press("tab")
    for _ in range(scope_moves):
        await pilot.press("right")
    await pilot.press("tab")
    await type_text(pilot, project_text)
    await pilot.press("enter")


def developer_store(store_path, *, projects: bool = True) -> Repository:
    """A store owned by alice with a developer, dave; with or without projects."""
    repo = Repository(store_path, OWNER, clock=fixed_clock)
    repo.initialise("Acme Studio")
    repo.add_member("dave", "developer")
    if projects:
        repo.add_project("Storefront", deployed=True)
    return repo


# -- creating ----------------------------------------------------------------------------


async def test_create_web_key_end_to_end(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        assert form.focused.id == "name"
        await fill_start(pilot, "Checkout widget", 0, "store")
        await settle(app, pilot)
        assert app.focused.id == "domains"  # picking a project moves on to the scope's fields
        await type_text(pilot, "https://shop.example.com, https://www.example.com")
        await pilot.press("tab", "space")  # I'm developing locally
        await pilot.press("tab")
        await type_text(pilot, "127.0.0.1/32 10.0.0.0/8")
        await pilot.press("tab", "space")  # cross page persistence
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert len(app.results) == 1
        created = app.results[0]
        assert isinstance(created, CreatedKey)
        assert app.screen is not form
    key = owner_repo.get_key(created.key.id)
    assert key.name == "Checkout widget" and key.scope.value == "web"
    assert key.project_id == project_id(owner_repo, "Storefront")
    assert key.web.domains == ["https://shop.example.com", "https://www.example.com"]
    assert key.web.developing_locally and key.web.networks == ["127.0.0.1/32", "10.0.0.0/8"]
    assert key.web.cross_page_persistence
    assert owner_repo.reveal_secret(key.id).get_secret_value() == created.secret.get_secret_value()


async def test_create_mobile_key_picking_project_by_id(owner_repo, store_target):
    storefront = project_id(owner_repo, "Storefront")
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        await fill_start(pilot, "iOS and Android", 1, storefront[:7])
        await settle(app, pilot)
        assert app.focused.id == "ios"
        await type_text(pilot, "com.example.shop")
        await pilot.press("tab")
        await type_text(pilot, "com.example.shop, com.example.shop.beta")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        created = app.results[0]
    assert isinstance(created, CreatedKey)
    key = owner_repo.get_key(created.key.id)
    assert key.scope.value == "mobile" and key.project_id == storefront
    assert key.mobile.ios_bundle_ids == ["com.example.shop"]
    assert key.mobile.android_packages == ["com.example.shop", "com.example.shop.beta"]


async def test_create_analytics_key_for_one_project(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        await fill_start(pilot, "Insights", 2, "kiosk")  # undeployed is fine for Analytics
        await settle(app, pilot)
        assert app.focused.id == "expires"
        await pilot.press("right", "right")  # 90 days
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        created = app.results[0]
    assert isinstance(created, CreatedKey)
    key = owner_repo.get_key(created.key.id)
    assert key.scope.value == "analytics" and key.project_id == project_id(owner_repo, "Kiosk beta")
    assert key.expires_at == "2027-03-01T09:30:00Z"  # 90 days after the fixed clock
    assert key.secret is None  # never stored


async def test_owner_may_choose_all_organization_projects(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        assert ALL_OPTION not in option_ids(app)  # not for a Web key
        await type_text(pilot, "Everything")
        await pilot.press("tab", "right", "right")
        await settle(app, pilot)
        assert option_ids(app)[0] == ALL_OPTION
        await pilot.press("tab", "enter")  # the highlighted first option
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        created = app.results[0]
    key = owner_repo.get_key(created.key.id)
    assert key.project_id is None and key.expires_at == "2026-12-31T09:30:00Z"


async def test_developer_is_not_offered_all_organization_projects(store_path):
    developer_store(store_path)
    app = harness(store_path, "dave", CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        await pilot.press("tab", "right", "right")
        await settle(app, pilot)
        ids = option_ids(app)
        assert ALL_OPTION not in ids and len(ids) == 1
        assert "All organization projects" not in screen_text(app)


async def test_enter_in_a_field_moves_to_the_next(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        await type_text(pilot, "x")
        await pilot.press("enter")
        assert app.focused.id == "scope"


async def test_down_from_the_search_moves_into_the_matches(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await pilot.press("tab", "tab")
        picker = form.query_one(ProjectPicker)
        assert app.focused is picker.search
        await pilot.press("down")
        assert app.focused is picker.options
        await pilot.press("down", "enter")  # Kiosk beta, then Storefront (sorted by name)
        await settle(app, pilot)
        assert picker.project_id == project_id(owner_repo, "Storefront")
        assert picker.search.value == "Storefront"


async def test_typing_after_a_pick_drops_the_choice(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await fill_start(pilot, "x", 0, "store")
        picker = form.query_one(ProjectPicker)
        assert picker.choice == project_id(owner_repo, "Storefront")
        picker.search.focus()
        await pilot.press("end", "z")
        assert picker.choice is None and picker.project_id is None


async def test_matches_show_only_while_choosing_a_project(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        picker = form.query_one(ProjectPicker)
        assert not picker.options.display  # the name field has the focus
        await type_text(pilot, "x")
        await pilot.press("tab", "tab")
        assert picker.options.display
        await type_text(pilot, "store")
        await pilot.press("enter")
        await settle(app, pilot)
        assert picker.choice == project_id(owner_repo, "Storefront")
        assert not picker.options.display  # picked: focus moved on, the list folded away
        picker.search.focus()
        await pilot.pause()
        assert picker.options.display


async def test_the_focused_field_is_always_visible_at_80x24(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await pilot.press("tab", "tab", "tab", "tab")  # scope, search, matches, domains
        await pilot.press("tab", "space")  # developing locally on
        assert app.focused.id == "developing-locally" and app.focused.value
        body = form.query_one("#form-body").region
        seen = []
        for _ in range(12):
            await pilot.press("tab")
            await pilot.pause()
            focused = app.focused
            seen.append(focused.id)
            if focused.id in ("save", "cancel"):
                continue
            assert body.contains_region(focused.region), f"{focused.id} is scrolled out of view"
        assert {"networks", "cross-page", "save", "cancel"} <= set(seen)


# -- inline errors -----------------------------------------------------------------------


async def save_and_expect_errors(app, pilot, form, owner_repo) -> None:
    await pilot.press("ctrl+s")
    await settle(app, pilot)
    assert app.screen is form, "the form stays open"
    assert app.results == []
    assert owner_repo.list_keys() == [], "nothing was written"


async def test_empty_name_is_shown_under_the_name(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await fill_start(pilot, "", 0, "store")
        await type_text(pilot, "https://shop.example.com")
        await save_and_expect_errors(app, pilot, form, owner_repo)
        assert "name must not be empty" in error_text(app, "name")
        assert app.focused.id == "name"
        assert error_text(app, "domains") == ""


@pytest.mark.parametrize(
    ("domains", "expected"),
    [
        ("not-an-origin", "is not an origin"),
        ("http://shop.example.com", "must use https"),
        ("", "add at least one custom UI domain"),
    ],
)
async def test_bad_domains_are_shown_under_the_domains(owner_repo, store_target, domains, expected):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await fill_start(pilot, "Widget", 0, "store")
        await type_text(pilot, domains)
        await save_and_expect_errors(app, pilot, form, owner_repo)
        assert expected in error_text(app, "domains")
        assert error_text(app, "name") == ""
        assert app.focused.id == "domains"


async def test_undeployed_project_for_web_offers_to_deploy_and_cancel_says_why(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await fill_start(pilot, "Widget", 0, "kiosk")
        await type_text(pilot, "https://kiosk.example.com")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "Deploy project Kiosk beta?" in flat_text(app)
        assert app.focused.id == "cancel"
        await pilot.press("enter")  # Cancel
        await settle(app, pilot)
        assert app.screen is form
        assert "is not deployed" in error_text(app, "project")
        assert app.focused.id == "project-search"
    assert owner_repo.list_keys() == []
    assert not owner_repo.find_project("Kiosk beta").deployed


async def test_undeployed_project_for_web_deployed_from_the_form(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        await fill_start(pilot, "Widget", 0, "kiosk")
        await type_text(pilot, "https://kiosk.example.com")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        await pilot.press("tab", "enter")  # Deploy
        await settle(app, pilot)
        created = app.results[0]
    assert isinstance(created, CreatedKey)
    kiosk = owner_repo.find_project("Kiosk beta")
    assert kiosk.deployed and created.key.project_id == kiosk.id


async def test_developer_is_not_offered_to_deploy(store_path):
    repo = developer_store(store_path)
    repo.add_project("Kiosk beta", deployed=False)
    app = harness(store_path, "dave", CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await fill_start(pilot, "Widget", 0, "kiosk")
        await type_text(pilot, "https://kiosk.example.com")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form  # the store's refusal, inline
        assert "is not deployed" in error_text(app, "project")


async def test_several_errors_at_once_focus_the_first(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await fill_start(pilot, "", 0, "kiosk")
        await type_text(pilot, "http://kiosk.example.com")
        await save_and_expect_errors(app, pilot, form, owner_repo)
        assert "name must not be empty" in error_text(app, "name")
        assert "is not deployed" in error_text(app, "project")
        assert "must use https" in error_text(app, "domains")
        assert app.focused.id == "name"


async def test_developing_locally_needs_networks(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        assert not form.query_one("#networks-field").display
        await fill_start(pilot, "Widget", 0, "store")
        await type_text(pilot, "https://shop.example.com")
        await pilot.press("tab", "space")
        await settle(app, pilot)
        assert form.query_one("#networks-field").display
        await save_and_expect_errors(app, pilot, form, owner_repo)
        assert "add at least one IP network" in error_text(app, "networks")
        assert app.focused.id == "networks"


async def test_bad_network_is_shown_under_the_networks(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await fill_start(pilot, "Widget", 0, "store")
        await type_text(pilot, "https://shop.example.com")
        await pilot.press("tab", "space", "tab")
        await type_text(pilot, "10.0.0.0/33")
        await save_and_expect_errors(app, pilot, form, owner_repo)
        assert "is not an IP network" in error_text(app, "networks")


async def test_mobile_needs_an_app(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await fill_start(pilot, "Phone", 1, "store")
        await save_and_expect_errors(app, pilot, form, owner_repo)
        assert "add an iOS bundle id or an Android package name" in error_text(app, "platforms")
        assert app.focused.id == "ios"


async def test_bad_app_ids_are_shown_under_their_platform(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await fill_start(pilot, "Phone", 1, "store")
        await type_text(pilot, "nodots")
        await pilot.press("tab")
        await type_text(pilot, "1bad.package")
        await save_and_expect_errors(app, pilot, form, owner_repo)
        assert "is not an iOS bundle id" in error_text(app, "ios_bundle_ids")
        assert "is not an Android package name" in error_text(app, "android_packages")


async def test_no_project_chosen(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await fill_start(pilot, "Widget", 0, "nothing like it")
        assert ADD_OPTION not in option_ids(app)  # only offered while there is no project
        assert "No project matches “nothing like it”" in screen_text(app)
        await save_and_expect_errors(app, pilot, form, owner_repo)
        assert "no project matches" in error_text(app, "project")
    assert len(owner_repo.list_projects()) == 2


async def test_errors_clear_once_fixed(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await fill_start(pilot, "", 0, "store")
        await type_text(pilot, "https://shop.example.com")
        await save_and_expect_errors(app, pilot, form, owner_repo)
        assert app.focused.id == "name"
        await type_text(pilot, "Fixed")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.results[0], CreatedKey)
    assert [view.name for view in owner_repo.list_keys()] == ["Fixed"]


async def test_escape_on_an_untouched_form_closes_at_once(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.results == [None]


async def test_escape_with_changes_asks_before_discarding(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await fill_start(pilot, "Widget", 0, "store")
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "Discard your changes?" in flat_text(app)
        assert app.focused.id == "cancel"
        await pilot.press("enter")  # Cancel: back to the form, nothing lost
        await settle(app, pilot)
        assert app.screen is form and app.results == []
        assert form.query_one("#name", Input).value == "Widget"
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("escape")  # escape on the question is Cancel too
        await settle(app, pilot)
        assert app.screen is form
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("tab", "enter")  # Discard
        await settle(app, pilot)
        assert app.results == [None]
    assert owner_repo.list_keys() == []


async def test_edit_form_escape_asks_only_after_a_change(owner_repo, store_target):
    key = owner_repo.create_key(web_draft()).key
    app = harness(store_target, OWNER, lambda: EditKeyModal(key))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await pilot.press("end")
        await type_text(pilot, "x")
        await pilot.press("backspace")  # back as it was: nothing to lose
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.results == [None] and app.screen is not form


async def test_save_button_saves(owner_repo, store_target):
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await fill_start(pilot, "Widget", 0, "store")
        await type_text(pilot, "https://shop.example.com")
        form.query_one("#save", Button).press()
        await settle(app, pilot)
        assert isinstance(app.results[0], CreatedKey)


# -- no project yet ----------------------------------------------------------------------


async def test_no_project_offers_to_add_one(store_path):
    repo = Repository(store_path, OWNER, clock=fixed_clock)
    repo.initialise("Acme Studio")
    app = harness(store_path, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        assert option_ids(app) == [ADD_OPTION]
        assert "No projects yet" in screen_text(app)
        await type_text(pilot, "Widget")
        await pilot.press("tab", "tab")
        await type_text(pilot, "New shop")
        assert "+ Add project “New shop”" in screen_text(app)
        await pilot.press("enter")
        await settle(app, pilot)
        projects = [project for project, _count in repo.list_projects()]
        # Not deployed, as from the Projects screen or `apikeys projects add` without --deployed.
        assert [(p.name, p.deployed) for p in projects] == [("New shop", False)]
        picker = app.screen.query_one(ProjectPicker)
        assert picker.project_id == projects[0].id
        assert app.focused.id == "domains"
        await type_text(pilot, "https://shop.example.com")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)  # a Web key needs it deployed
        await pilot.press("tab", "enter")
        await settle(app, pilot)
        created = app.results[0]
    assert repo.get_key(created.key.id).project_id == projects[0].id
    assert repo.find_project("New shop").deployed


async def test_add_project_option_names_what_was_typed(store_path):
    repo = Repository(store_path, OWNER, clock=fixed_clock)
    repo.initialise("Acme Studio")
    app = harness(store_path, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        await pilot.press("tab", "tab")
        await type_text(pilot, "[bold]Shop[/]")
        text = screen_text(app)
        assert "+ Add project “[bold]Shop[/]”" in text


async def test_add_project_without_a_name_asks_for_one(store_path):
    Repository(store_path, OWNER, clock=fixed_clock).initialise("Acme Studio")
    app = harness(store_path, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        await pilot.press("tab", "tab", "enter")
        await settle(app, pilot)
        assert "Type the new project's name" in error_text(app, "project")
        assert app.focused.id == "project-search"


async def test_developer_adding_a_project_gets_the_refusal_inline(store_path):
    repo = developer_store(store_path, projects=False)
    app = harness(store_path, "dave", CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await fill_start(pilot, "Widget", 0, "New shop")
        await settle(app, pilot)
        assert "only an owner or support may add projects" in error_text(app, "project")
        assert app.screen is form
    assert repo.list_projects() == []


# -- editing -----------------------------------------------------------------------------


async def test_edit_web_key_rename_and_add_domain(owner_repo, store_path):
    created = owner_repo.create_key(web_draft())
    key = owner_repo.get_key(created.key.id)
    app = harness(store_path, OWNER, lambda: EditKeyModal(key))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        text = screen_text(app)
        assert "Edit key" in text and "Storefront" in text
        assert not form.query("#scope") and not form.query(ProjectPicker)
        assert form.query_one("#name", Input).value == "Checkout widget"
        assert form.query_one("#domains", Input).value == "https://shop.example.com"
        await type_text(pilot, "Checkout v2")  # the name is selected on focus: typing replaces it
        await pilot.press("tab", "end")
        await type_text(pilot, ", https://new.example.com")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        result = app.results[0]
    assert isinstance(result, ApiKey)
    stored = owner_repo.get_key(key.id)
    assert stored.name == "Checkout v2"
    assert stored.web.domains == ["https://shop.example.com", "https://new.example.com"]
    assert owner_repo.reveal_secret(key.id).get_secret_value() == created.secret.get_secret_value()
    assert stored.key_prefix == key.key_prefix and stored.secret_hash == key.secret_hash


async def test_edit_mobile_key_shows_its_fields(owner_repo, store_target):
    key = owner_repo.create_key(mobile_draft()).key
    app = harness(store_target, OWNER, lambda: EditKeyModal(key))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        assert not form.query("#domains") and not form.query("#expires")
        assert form.query_one("#ios", Input).value == "com.example.shop"
        await pilot.press("tab", "tab")
        await type_text(pilot, "com.example.droid")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.results[0], ApiKey)
    assert owner_repo.get_key(key.id).mobile.android_packages == ["com.example.droid"]


async def test_edit_errors_are_inline_and_nothing_changes(owner_repo, store_target):
    key = owner_repo.create_key(web_draft()).key
    app = harness(store_target, OWNER, lambda: EditKeyModal(key))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await pilot.press("tab", "end")
        await type_text(pilot, " http://evil.example.com")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form and app.results == []
        assert "must use https" in error_text(app, "domains")
    assert owner_repo.get_key(key.id).web.domains == ["https://shop.example.com"]


async def test_analytics_key_cannot_be_edited(owner_repo, store_target):
    key = owner_repo.create_key(analytics_draft()).key
    app = harness(store_target, OWNER, lambda: EditKeyModal(key))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        assert "cannot be edited" in error_text(app, "form")
        assert not form.fields.display
        assert form.query_one("#save", Button).disabled
        assert app.focused.id == "cancel"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form
        await pilot.press("escape")
        assert app.results == [None]
    assert owner_repo.get_key(key.id).updated_at == key.updated_at


async def test_edit_refused_by_the_store_shows_the_reason(owner_repo, store_target):
    owner_repo.add_member("sam", "support")
    key = owner_repo.create_key(web_draft()).key
    app = harness(store_target, "sam", lambda: EditKeyModal(key))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await type_text(pilot, "Taken over")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form
        assert "only an owner may edit a key created by alice" in error_text(app, "form")
    assert owner_repo.get_key(key.id).name == "Checkout widget"


# -- key created -------------------------------------------------------------------------


async def test_key_created_shows_full_secret_and_analytics_warning(owner_repo, store_target):
    created = owner_repo.create_key(analytics_draft(name="Insights export"))
    app = harness(store_target, OWNER, lambda: KeyCreatedScreen(created))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        text = screen_text(app)
        assert created.secret.get_secret_value() in text
        assert "Insights export" in text and "Analytics" in text
        assert ANALYTICS_WARNING in flat_text(app)
        assert "reveal" not in flat_text(app)


async def test_key_created_web_says_it_can_be_revealed_again(owner_repo, store_target):
    created = owner_repo.create_key(web_draft())
    app = harness(store_target, OWNER, lambda: KeyCreatedScreen(created))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        text = screen_text(app)
        assert created.secret.get_secret_value() in text
        assert "never be shown again" not in text
        assert "reveal" in text and "details" in text
        await pilot.press("escape")
        assert app.results == [None]


@pytest.fixture
def clipboard(monkeypatch):
    """Record what pyperclip and OSC 52 were asked to copy."""
    calls: dict[str, list[str]] = {"pyperclip": [], "osc52": []}
    monkeypatch.setattr(pyperclip, "copy", lambda text: calls["pyperclip"].append(text))
    return calls


def record_osc52(monkeypatch, app, calls) -> None:
    monkeypatch.setattr(app, "copy_to_clipboard", lambda text: calls["osc52"].append(text))


async def test_copy_with_pyperclip(owner_repo, store_target, monkeypatch, clipboard):
    created = owner_repo.create_key(analytics_draft())
    app = harness(store_target, OWNER, lambda: KeyCreatedScreen(created))
    record_osc52(monkeypatch, app, clipboard)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        assert clipboard == {"pyperclip": [created.secret.get_secret_value()], "osc52": []}
        assert COPIED in notifications(app)
        assert created.secret.get_secret_value() not in " ".join(notifications(app))


async def test_copy_falls_back_to_osc52_without_a_clipboard(owner_repo, store_target, monkeypatch, clipboard):
    def no_clipboard(text: str) -> None:
        raise pyperclip.PyperclipException("no copy/paste mechanism")

    monkeypatch.setattr(pyperclip, "copy", no_clipboard)
    created = owner_repo.create_key(web_draft())
    app = harness(store_target, OWNER, lambda: KeyCreatedScreen(created))
    record_osc52(monkeypatch, app, clipboard)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#copy", Button).press()
        await settle(app, pilot)
        assert clipboard["osc52"] == [created.secret.get_secret_value()]
        assert SENT_FROM_HERE in notifications(app)
        assert "sent to your terminal" in SENT_FROM_HERE and "press v" not in SENT_FROM_HERE


async def test_copy_over_ssh_uses_osc52_only(owner_repo, store_target, monkeypatch, clipboard):
    monkeypatch.setenv("SSH_TTY", "/dev/pts/1")
    created = owner_repo.create_key(web_draft())
    app = harness(store_target, OWNER, lambda: KeyCreatedScreen(created))
    record_osc52(monkeypatch, app, clipboard)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        assert clipboard == {"pyperclip": [], "osc52": [created.secret.get_secret_value()]}
        assert SENT_FROM_HERE in notifications(app)
        assert not any("press v" in message for message in notifications(app))


# -- Yes, Delete -------------------------------------------------------------------------


def one_key() -> list[tuple[str, str, str]]:
    return [("key_abc", "Checkout widget", "web")]


async def test_confirm_revoke_cancel_is_focused_and_escape_cancels(store_target, owner_repo):
    app = harness(store_target, OWNER, lambda: ConfirmRevoke(one_key()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.focused.id == "cancel"
        text = flat_text(app)
        assert "Revoke API key?" in text
        assert "Checkout widget" in text and "Web" in text
        assert "stops working at once" in text and "cannot be reissued" in text
        assert "Yes, Delete" in text
        await pilot.press("escape")
        assert app.results == [False]


async def test_confirm_revoke_enter_on_cancel_keeps_the_key(store_target, owner_repo):
    app = harness(store_target, OWNER, lambda: ConfirmRevoke(one_key()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        assert app.results == [False]


async def test_confirm_revoke_tab_then_enter_confirms(store_target, owner_repo):
    app = harness(store_target, OWNER, lambda: ConfirmRevoke(one_key()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("tab")
        assert app.focused.id == "yes"
        assert app.focused.variant == "error"
        await pilot.press("enter")
        assert app.results == [True]


async def test_confirm_revoke_bulk_lists_count_and_names(store_target, owner_repo):
    keys = [(f"key_{index:02d}", f"Key number {index}", "mobile") for index in range(12)]
    app = harness(store_target, OWNER, lambda: ConfirmRevoke(keys))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "Revoke 12 API keys?" in text
        for index in range(8):
            assert f"Key number {index} " in text
        assert "Key number 8 " not in text
        assert "and 4 more" in text
        assert "Yes, Delete" in text and "Cancel" in text


# -- untrusted text ----------------------------------------------------------------------


@pytest.mark.parametrize("name", MARKUP_NAMES)
async def test_markup_names_are_literal_on_every_modal(owner_repo, store_target, name):
    owner_repo.add_project(name, deployed=True)
    created = owner_repo.create_key(web_draft(project=name, name=name))
    key = owner_repo.get_key(created.key.id)

    for make_screen, name_at in (
        (lambda: EditKeyModal(key), "#form-context"),
        (lambda: KeyCreatedScreen(created), "#created-key"),
        (lambda: ConfirmRevoke([(key.id, name, "web")]), "#confirm-list"),
    ):
        app = harness(store_target, OWNER, make_screen)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            if isinstance(app.screen, KeyFormModal):
                assert app.screen.query_one("#name", Input).value == name
                assert f"project {name}" in screen_text(app)
            else:
                assert name in screen_text(app)
            for column in range(0, 30, 3):  # a click on [@click=…] text must not run it
                await pilot.click(name_at, offset=(column, 0))
            assert app.is_running and app.return_code is None


async def test_markup_in_project_search_and_errors_is_literal(owner_repo, store_target):
    owner_repo.add_project("[bold red]x[/]", deployed=True)
    app = harness(store_target, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await fill_start(pilot, "[/]", 0, "[bold")
        await settle(app, pilot)
        assert "[bold red]x[/]" in screen_text(app)
        await type_text(pilot, "[@click=app.quit]x")
        await save_and_expect_errors(app, pilot, form, owner_repo)
        assert "'[@click=app.quit]x' is not an origin" in error_text(app, "domains")
        assert app.is_running


# -- an Analytics secret is never one keystroke from gone (SPEC §5) ----------------------


async def test_key_created_copy_has_the_focus(owner_repo, store_target, clipboard, monkeypatch):
    created = owner_repo.create_key(analytics_draft())
    app = harness(store_target, OWNER, lambda: KeyCreatedScreen(created))
    record_osc52(monkeypatch, app, clipboard)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.focused.id == "copy"
        await pilot.press("enter")  # presses the focused Copy, never closes
        await settle(app, pilot)
        assert clipboard["pyperclip"] == [created.secret.get_secret_value()]
        assert app.results == []


async def test_closing_an_uncopied_analytics_secret_asks_first(owner_repo, store_target):
    created = owner_repo.create_key(analytics_draft())
    app = harness(store_target, OWNER, lambda: KeyCreatedScreen(created))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        shown = app.screen
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        text = flat_text(app)
        assert "Close without copying?" in text and "can never be shown again" in text
        assert "reveal" not in text
        assert app.focused.id == "cancel"
        await pilot.press("enter")  # Cancel: the secret stays on screen
        await settle(app, pilot)
        assert app.screen is shown and app.results == []
        assert created.secret.get_secret_value() in screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("tab", "enter")  # Close
        await settle(app, pilot)
        assert app.results == [None]


async def test_a_copied_analytics_secret_closes_at_once(owner_repo, store_target, clipboard):
    created = owner_repo.create_key(analytics_draft())
    app = harness(store_target, OWNER, lambda: KeyCreatedScreen(created))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.results == [None]


async def test_a_web_secret_closes_at_once(owner_repo, store_target):
    created = owner_repo.create_key(web_draft())
    app = harness(store_target, OWNER, lambda: KeyCreatedScreen(created))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.results == [None]


# -- no lost edits between people (issue 7 item 4) ---------------------------------------


def edit_merges_colleagues_changes() -> bool:
    """Whether this branch's store merges an edit against the values the form opened with."""
    return "base" in inspect.signature(Repository.edit_key).parameters


needs_merge = pytest.mark.skipif(
    not edit_merges_colleagues_changes(), reason="Repository.edit_key(..., base=) not on this branch"
)


def colleague_edits(store_path, *argv: str) -> None:
    """A colleague's change from another process: the real command line, on the same store
    (acting as this OS account, made an owner of the store)."""
    colleague = current_login()
    repo = Repository(store_path, OWNER, clock=fixed_clock)
    if colleague not in {member.login for member in repo.list_members()}:
        repo.add_member(colleague, "owner")
    env = {**os.environ, "APIKEYS_STORE": str(store_path)}
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "edit", *argv], env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@needs_merge
async def test_a_colleagues_change_survives_my_rename(owner_repo, store_path):
    key = owner_repo.create_key(web_draft()).key
    app = harness(store_path, OWNER, lambda: EditKeyModal(key))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        colleague_edits(store_path, key.id, "--add-domain", "https://colleague.example.com")
        await pilot.press("ctrl+a", "ctrl+k")
        await type_text(pilot, "Renamed by alice")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        saved = app.results[0]
    assert isinstance(saved, ApiKey)
    stored = owner_repo.get_key(key.id)
    assert stored.name == "Renamed by alice"
    assert stored.web.domains == ["https://shop.example.com", "https://colleague.example.com"]
    assert stored.revision == key.revision + 2


@needs_merge
@pytest.mark.file_only  # the colleague is this OS login
async def test_different_settings_of_one_key_merge(owner_repo, store_target):
    key = owner_repo.create_key(web_draft()).key
    app = harness(store_target, OWNER, lambda: EditKeyModal(key))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        colleague_edits(store_target, key.id, "--add-domain", "https://colleague.example.com")
        form.query_one("#cross-page").focus()
        await pilot.press("space")  # cross page persistence on
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.results[0], ApiKey)
    web = owner_repo.get_key(key.id).web
    assert web.cross_page_persistence
    assert web.domains == ["https://shop.example.com", "https://colleague.example.com"]


@needs_merge
@pytest.mark.file_only  # the colleague is this OS login
async def test_overlapping_changes_are_refused_with_who_changed_what(owner_repo, store_target):
    key = owner_repo.create_key(web_draft()).key
    app = harness(store_target, OWNER, lambda: EditKeyModal(key))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        colleague_edits(store_target, key.id, "--name", "Renamed by a colleague")
        await pilot.press("ctrl+a", "ctrl+k")
        await type_text(pilot, "Renamed by alice")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form and app.results == []  # the form stays open
        message = error_text(app, "form")
        assert "name" in message and current_login() in message  # who changed what
        assert form.query_one("#name", Input).value == "Renamed by alice"  # nothing typed is lost
    assert owner_repo.get_key(key.id).name == "Renamed by a colleague"


async def test_edit_sends_only_what_changed_with_the_revision(owner_repo, store_target, monkeypatch):
    key = owner_repo.create_key(web_draft(developing_locally=True, networks=["10.0.0.0/8"])).key
    calls = []
    monkeypatch.setattr(
        Repository, "edit_key", lambda self, key_id, changes, **kw: calls.append((changes, kw)) or key
    )
    app = harness(store_target, OWNER, lambda: EditKeyModal(key))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        await pilot.press("end")
        await type_text(pilot, " v2")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [(changes, keywords)] = calls
    assert changes == {"name": "Checkout widget v2"}  # the settings were not touched
    assert keywords["expected_revision"] == key.revision
    assert keywords["base"].name == "Checkout widget" and keywords["base"].web == key.web


async def test_turning_developing_locally_off_clears_the_networks(owner_repo, store_target):
    key = owner_repo.create_key(web_draft(developing_locally=True, networks=["10.0.0.0/8"])).key
    app = harness(store_target, OWNER, lambda: EditKeyModal(key))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        form.query_one("#developing-locally").focus()
        await pilot.press("space")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.results[0], ApiKey)
    web = owner_repo.get_key(key.id).web
    assert not web.developing_locally and web.networks == []
