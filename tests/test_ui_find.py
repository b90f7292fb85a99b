"""The main table finds keys as ``apikeys list --find`` does (store/find.py), sorts by last
use, shows keys never used, and never shows back or keeps a pasted secret."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import OWNER, analytics_draft, fixed_clock, mobile_draft, web_draft
from screen_harness import screen_text, settle
from store.repository import Repository
from tui.app import make_app
from tui.screens.key_list import KeyListScreen

SHOP = "https://shop.example.com"


@pytest.fixture
def used(owner_repo: Repository, store_path):
    """Four keys: two used (the older key most recently), two never used."""
    made = {
        "first": owner_repo.create_key(web_draft(name="First shop")),
        "second": owner_repo.create_key(web_draft(name="Second shop")),
        "idle": owner_repo.create_key(mobile_draft(name="Idle app")),
        "export": owner_repo.create_key(analytics_draft(name="Idle export")),
    }
    for key, minutes in (("second", 5), ("first", 50)):
        at = fixed_clock() + timedelta(minutes=minutes)
        user = Repository(store_path, OWNER, clock=lambda at=at: at)
        assert user.verify(made[key].secret.get_secret_value(), origin=SHOP).valid
        user.flush_usage()
    return made


def names(app) -> list[str]:
    return [row.name for row in app.screen.table.rows]


async def test_sort_by_last_used_puts_the_latest_use_first_and_never_used_last(used, store_path):
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(130, 24)) as pilot:
        await settle(app, pilot)
        assert names(app) == ["Idle export", "Idle app", "Second shop", "First shop"]
        await pilot.press("s", "s", "s")
        await settle(app, pilot)
        assert "sorted by last used" in screen_text(app)
        assert names(app) == ["First shop", "Second shop", "Idle export", "Idle app"]
        await pilot.press("s")
        assert "sorted by created ↓" in screen_text(app)


@pytest.mark.parametrize("word", ["unused", "never"])
async def test_the_filter_finds_keys_never_used(used, store_path, word: str):
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(130, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *word)
        assert sorted(names(app)) == ["Idle app", "Idle export"]
        assert "2 of 4 keys" in screen_text(app)


async def test_the_filter_matches_creator_status_and_prefix_like_list_find(used, owner_repo, store_path):
    owner_repo.add_member("bob", "developer")
    bob = Repository(store_path, "bob", clock=fixed_clock)
    bobs = bob.create_key(web_draft(name="Bob's widget"))
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(130, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"bob")
        assert names(app) == ["Bob's widget"]
        await pilot.press(*["backspace"] * 3, *bobs.key.key_prefix.lower())
        assert names(app) == ["Bob's widget"]
        await pilot.press(*["backspace"] * len(bobs.key.key_prefix), *"active mobile")
        assert names(app) == ["Idle app"]
        expected = {view.name for view in owner_repo.find_keys("active mobile", include_revoked=False)}
        assert set(names(app)) == expected


async def test_a_pasted_secret_finds_exactly_its_key_and_is_shown_masked(used, store_path):
    secret = used["second"].secret.get_secret_value()
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(130, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash")
        box = app.screen.query_one("#filter")
        box.insert_text_at_cursor(secret)  # as a paste arrives
        await pilot.pause()
        assert names(app) == ["Second shop"]
        masked = used["second"].key.key_prefix + "…"
        assert box.value == masked
        screen = app.screen
        assert isinstance(screen, KeyListScreen)
        assert screen.filter_text == masked
        text = screen_text(app)
        assert secret not in text and secret[8:] not in text
        assert masked in text
        # Typing on narrows by words as usual; the mask still means the secret's key.
        await pilot.press(*" shop")
        assert names(app) == ["Second shop"]
        await pilot.press(*" first")
        assert names(app) == []
        # Nothing anywhere in the screen's state holds the secret.
        state = repr(vars(screen)) + repr(vars(box))
        assert secret not in state
        await pilot.press("escape")
        assert len(names(app)) == 4


async def test_a_secret_of_no_key_finds_nothing(used, store_path, owner_repo):
    other = owner_repo.create_key(web_draft(name="Soon gone"))
    secret = other.secret.get_secret_value()
    owner_repo.revoke_keys([other.key.id])
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(130, 24)) as pilot:
        await settle(app, pilot)  # revoked keys are hidden: the secret's key is not listed
        await pilot.press("slash")
        app.screen.query_one("#filter").insert_text_at_cursor(f"key={secret},")
        await pilot.pause()
        assert names(app) == []
        assert secret not in screen_text(app)


