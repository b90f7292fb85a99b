"""Key details, driven with Pilot: fields of each scope, reveal, copy, edit, revoke."""

from __future__ import annotations

from pathlib import Path

import pyperclip
import pytest

from conftest import OWNER, analytics_draft, mobile_draft, new_owner_repo, web_draft
from screen_harness import (
    MARKUP_NAMES,
    flat_text,
    harness,
    notifications,
    screen_text,
    settle,
    shown_keys,
    type_text,
)
from store import presenter
from store.repository import Repository
from tui.screens.confirm_revoke import ConfirmRevoke
from tui.screens.edit_key import EditKeyModal
from tui.screens.key_detail import (
    ANALYTICS_SECRET_NOTE,
    REVOKED_SECRET_NOTE,
    KeyDetailScreen,
)


@pytest.fixture
def owner_repo(store_target: Path | str) -> Repository:
    """The shared owner_repo, on the file store and on PostgreSQL (``store_target``)."""
    return new_owner_repo(store_target)


async def open_details(app, pilot) -> KeyDetailScreen:
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, KeyDetailScreen)
    assert screen.data is not None
    return screen


def details(store_path, key_id: str, login: str = OWNER):
    return harness(store_path, login, lambda: KeyDetailScreen(key_id))


@pytest.fixture
def web_key(owner_repo: Repository):
    """A Web key with two domains, local networks and cross page persistence."""
    return owner_repo.create_key(web_draft(
        domains=["https://shop.example.com", "https://www.example.com"],
        developing_locally=True, networks=["127.0.0.1/32", "10.0.0.0/8"],
        cross_page_persistence=True,
    ))


@pytest.fixture
def clipboard(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", calls.append)
    return calls


async def test_web_key_shows_every_field(owner_repo, store_target, web_key):
    key = web_key.key
    app = details(store_target, key.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot)
        text = screen_text(app)
        for label, value in [
            ("Name", "Checkout widget"), ("ID", key.id), ("Scope", "Web"),
            ("Project", "Storefront"), ("Status", "active"),
            ("Created", "2026-12-01 09:30 UTC by alice"), ("Updated", "2026-12-01 09:30 UTC by alice"),
            ("Last used", "never"),
            ("Secret", presenter.mask(key.key_prefix)),
            ("Custom UI domains", "https://shop.example.com"),
            ("Developing locally", "on"), ("IP networks", "127.0.0.1/32"),
        ]:
            line = next((line for line in text.splitlines() if line.strip().startswith(label)), "")
            assert value in line, f"{label}: {value!r} not in {line!r}"
        assert "Revoked" not in text  # only a revoked key has that line
        assert "https://www.example.com" in text and "10.0.0.0/8" in text
        assert web_key.secret.get_secret_value() not in text
        await pilot.press("end")  # scroll down to the rest
        await pilot.pause()
        text = screen_text(app)
        assert "Cross page persistence" in text
        assert "History" in text and "created web key 'Checkout widget'" in flat_text(app)


async def test_mobile_key_shows_its_apps(owner_repo, store_target):
    created = owner_repo.create_key(mobile_draft())
    app = details(store_target, created.key.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot)
        text = screen_text(app)
        assert "Mobile" in text
        assert "iOS bundle ids" in text and "com.example.shop" in text
        assert "Android packages" in text
        assert presenter.mask(created.key.key_prefix) in text
        assert "Custom UI domains" not in text


async def test_analytics_key_says_secret_was_shown_once(owner_repo, store_target):
    created = owner_repo.create_key(analytics_draft(project=None, days=60))
    app = details(store_target, created.key.id)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot)
        text = flat_text(app)
        assert ANALYTICS_SECRET_NOTE in text
        assert "All organization projects" in text
        assert "active, expires in 60 days" in text
        assert "Expires 2027-01-30 09:30 UTC" in text
        assert created.key.key_prefix in text
        keys = shown_keys(screen)
        assert "e" not in keys and "v" not in keys and "c" not in keys
        assert keys.get("d") == "revoke"


async def test_reveal_toggles(owner_repo, store_target, web_key):
    secret = web_key.secret.get_secret_value()
    app = details(store_target, web_key.key.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot)
        assert secret not in screen_text(app)
        await pilot.press("v")
        await settle(app, pilot)
        assert secret in screen_text(app)
        await pilot.press("v")
        await settle(app, pilot)
        assert secret not in screen_text(app)
        assert presenter.mask(web_key.key.key_prefix) in screen_text(app)


async def test_copy_from_details(owner_repo, store_target, web_key, clipboard):
    app = details(store_target, web_key.key.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        assert clipboard == [web_key.secret.get_secret_value()]
        assert "Copied to the clipboard" in notifications(app)


async def test_copy_analytics_key_from_details_is_refused_with_reason(
    owner_repo, store_target, clipboard, monkeypatch
):
    created = owner_repo.create_key(analytics_draft())
    app = details(store_target, created.key.id)
    osc52: list[str] = []
    monkeypatch.setattr(app, "copy_to_clipboard", osc52.append)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        assert clipboard == [] and osc52 == []
        messages = notifications(app)
        assert any("is an Analytics key: its secret was shown once, at creation" in m for m in messages)
        await pilot.press("v")
        await settle(app, pilot)
        assert created.secret.get_secret_value() not in screen_text(app)


async def test_edit_analytics_key_is_refused_with_reason(owner_repo, store_target):
    created = owner_repo.create_key(analytics_draft())
    app = details(store_target, created.key.id)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        assert app.screen is screen, "no form for an Analytics key"
        assert any("cannot be edited" in message for message in notifications(app))


async def test_revoke_from_details(owner_repo, store_target, web_key):
    key = web_key.key
    app = details(store_target, key.id)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot)
        await pilot.press("v")
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmRevoke)
        assert "Checkout widget" in screen_text(app)
        await pilot.press("tab", "enter")
        await settle(app, pilot)
        assert app.screen is screen
        text = flat_text(app)
        assert "Status revoked" in text
        assert REVOKED_SECRET_NOTE in text
        assert web_key.secret.get_secret_value() not in text
        assert "Revoked 2026-12-01 09:30 UTC by alice" in text
        assert "Revoked Checkout widget" in notifications(app)
        keys = shown_keys(screen)
        assert not {"e", "d", "v", "c"} & set(keys)
        await pilot.press("e")
        await settle(app, pilot)
        assert any("a revoked key cannot be edited" in m for m in notifications(app))
        await pilot.press("d")
        await settle(app, pilot)
        assert app.screen is screen
        assert any("already revoked" in m for m in notifications(app))
    assert owner_repo.get_key(key.id).status == "revoked"
    verdict = owner_repo.verify(web_key.secret.get_secret_value(), origin="https://shop.example.com")
    assert verdict.reason == "revoked"


async def test_revoke_cancelled_keeps_the_key(owner_repo, store_target, web_key):
    app = details(store_target, web_key.key.id)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot)
        await pilot.press("delete")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmRevoke)
        await pilot.press("enter")  # Cancel is focused
        await settle(app, pilot)
        assert app.screen is screen
    assert owner_repo.get_key(web_key.key.id).status == "active"


async def test_edit_from_details_reloads(owner_repo, store_target, web_key):
    app = details(store_target, web_key.key.id)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        assert isinstance(app.screen, EditKeyModal)
        await type_text(pilot, "Renamed widget")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen
        assert "Renamed widget" in screen_text(app)
        assert "Saved Renamed widget" in notifications(app)
    assert owner_repo.get_key(web_key.key.id).name == "Renamed widget"


async def test_another_members_key_is_read_only_for_support(owner_repo, store_target, web_key):
    owner_repo.add_member("sam", "support")
    app = details(store_target, web_key.key.id, login="sam")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot)
        keys = shown_keys(screen)
        assert "e" not in keys and "d" not in keys
        assert keys.get("v") == "reveal" and keys.get("c") == "copy"
        await pilot.press("e")
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        assert app.screen is screen
        messages = notifications(app)
        assert any("only an owner may edit a key created by alice" in m for m in messages)
        assert any("only an owner may revoke a key created by alice" in m for m in messages)


async def test_escape_goes_back(owner_repo, store_target, web_key):
    app = details(store_target, web_key.key.id)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is not screen
        assert app.results == [None]


async def test_unknown_key_says_so(owner_repo, store_target):
    app = harness(store_target, OWNER, lambda: KeyDetailScreen("key_missing"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "no key 'key_missing'" in screen_text(app)
        assert not {"e", "d", "v", "c"} & set(shown_keys(app.screen))
        await pilot.press("v")
        await settle(app, pilot)
        assert app.is_running


async def test_another_admins_change_appears(owner_repo, store_target, web_key):
    app = details(store_target, web_key.key.id)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot)
        owner_repo.edit_key(web_key.key.id, {"name": "Changed elsewhere"})
        screen.action_reload()
        await settle(app, pilot)
        assert "Changed elsewhere" in screen_text(app)


@pytest.mark.parametrize("name", MARKUP_NAMES)
async def test_markup_names_are_literal(owner_repo, store_target, name):
    owner_repo.add_project(name, deployed=True)
    created = owner_repo.create_key(web_draft(project=name, name=name))
    owner_repo.edit_key(created.key.id, {"web": {"domains": ["https://a.example.com"]}})
    app = details(store_target, created.key.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot)
        text = screen_text(app)
        name_line = next(line for line in text.splitlines() if line.strip().startswith("Name"))
        project_line = next(line for line in text.splitlines() if line.strip().startswith("Project"))
        assert name in name_line and name in project_line
        for column in range(0, 40, 2):  # clicking [@click=…] text must not run it
            await pilot.click("#detail-fields", offset=(column, 0))
        await pilot.press("end")
        await pilot.pause()
        assert f"'{name}'" in flat_text(app)  # the history's "created web key '…'"
        assert app.is_running and app.return_code is None
