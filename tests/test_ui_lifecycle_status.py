"""Until the lifecycle screens land: a disabled key shows as disabled in the list and the
details, never as active and never a crash."""

from __future__ import annotations

from conftest import OWNER, fixed_clock, web_draft
from screen_harness import harness, screen_text, settle
from store.repository import Repository
from tui.app import make_app
from tui.screens.key_detail import KeyDetailScreen
from tui.screens.key_list import KeyListScreen


async def test_disabled_key_reads_disabled_in_list_and_details(owner_repo: Repository, store_path):
    key = owner_repo.create_key(web_draft(name="Paused widget")).key
    owner_repo.disable_keys([key.id])
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(120, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, KeyListScreen)
        row = next(line for line in screen_text(app).splitlines() if "Paused widget" in line)
        assert "disabled" in row and "active" not in row
    details = harness(store_path, OWNER, lambda: KeyDetailScreen(key.id))
    async with details.run_test(size=(80, 24)) as pilot:
        await settle(details, pilot)
        assert isinstance(details.screen, KeyDetailScreen)
        assert "disabled" in screen_text(details)
