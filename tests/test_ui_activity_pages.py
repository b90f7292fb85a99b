"""The audit trail at any length (issue 10): the activity screen reads the newest page of
events and older ones on demand, the key details read only the events they show, and
``apikeys log --limit N`` only the newest N. Both backends."""

from __future__ import annotations

import pytest
from test_ui_admin import column, harness, open_screen, row_keys

from conftest import OWNER, fixed_clock, new_owner_repo, web_draft
from screen_harness import harness as detail_harness
from screen_harness import screen_text, settle, shown_keys
from store.repository import Repository
from tui.screens import activity
from tui.screens import key_detail as key_detail_screen
from tui.screens.activity import ActivityScreen, event_ids
from tui.screens.key_detail import KeyDetailScreen

EVENTS = 9  # a store (1), two projects (2) and six more projects


@pytest.fixture
def owner_repo(store_target) -> Repository:
    repo = new_owner_repo(store_target)
    for number in range(EVENTS - 3):
        repo.add_project(f"Project {number}")
    return repo


class Counting:
    """``Repository.history`` that records the limit of every read."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.limits: list[int | None] = []
        original = Repository.history

        def history(repo: Repository, key_id: str | None = None, *, limit: int | None = None):
            self.limits.append(limit)
            return original(repo, key_id, limit=limit)

        monkeypatch.setattr(Repository, "history", history)


async def test_the_newest_page_then_older_ones(owner_repo, store_target, monkeypatch) -> None:
    monkeypatch.setattr(activity, "PAGE", 4)
    everything = [event.detail for event in owner_repo.history()]
    assert len(everything) == EVENTS
    reads = Counting(monkeypatch)
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, ActivityScreen())
        assert column(screen, "detail") == everything[:4]
        assert "The newest 4 events · m reads older · row 1 of 4" in screen_text(app)
        assert shown_keys(screen).get("m") == "more"
        await pilot.press("G")  # the last event read: a page of older ones, the cursor stays
        await settle(app, pilot)
        assert column(screen, "detail") == everything[:8]
        assert "The newest 8 events · m reads older · row 4 of 8" in screen_text(app)

        owner_repo.add_project("Newest project")  # another admin's change: the cursor stays
        await pilot.press("r")
        await settle(app, pilot)
        assert column(screen, "detail")[0].startswith("added project 'Newest project'")
        assert "row 5 of 8" in screen_text(app)

        await pilot.press("m")
        await settle(app, pilot)
        assert len(row_keys(screen)) == EVENTS + 1
        assert f"{EVENTS + 1} events, newest first" in screen_text(app)
        assert "m" not in shown_keys(screen)
    assert reads.limits and None not in reads.limits  # never the whole trail


async def test_the_filter_says_it_searched_the_events_read(owner_repo, store_target, monkeypatch) -> None:
    monkeypatch.setattr(activity, "PAGE", 4)
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, ActivityScreen())
        await pilot.press("slash", *"project 0")
        await pilot.pause()
        assert row_keys(screen) == []
        assert "0 of the newest 4 events match “project 0” · m reads older" in screen_text(app)
        await pilot.press("enter", "m")  # older events, the filter kept
        await settle(app, pilot)
        assert [detail.split(" (")[0] for detail in column(screen, "detail")] == ["added project 'Project 0'"]
        assert "1 of the newest 8 events match" in screen_text(app)


def test_row_ids_stay_while_newer_events_arrive(owner_repo) -> None:
    before = owner_repo.history(limit=5)
    owner_repo.add_project("Later")
    after = owner_repo.history(limit=6)
    assert event_ids(after)[1:] == event_ids(before)
    assert len(set(event_ids(after))) == 6
    twins = [before[0], before[0]]  # identical events (the same second) still differ
    assert len(set(event_ids(twins))) == 2


async def test_key_details_read_only_the_history_they_show(store_target, monkeypatch) -> None:
    monkeypatch.setattr(key_detail_screen, "HISTORY_SHOWN", 2)
    repo = new_owner_repo(store_target)
    key = repo.create_key(web_draft(name="Renamed often")).key
    for number in range(3):
        repo.edit_key(key.id, {"name": f"Name {number}"})
    reads = Counting(monkeypatch)
    app = detail_harness(store_target, OWNER, lambda: KeyDetailScreen(key.id))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        text = screen_text(app)
        assert "Name 1" in text and "… older events: press l" in text
    assert reads.limits == [3]


def test_log_limit_reads_the_newest_only(ready, monkeypatch) -> None:
    reads = Counting(monkeypatch)
    everything = ready("log", "--json").json()
    newest = ready("log", "--json", "--limit", "2")
    assert newest.code == 0 and newest.json() == everything[:2]
    text = ready("log", "-n", "1")
    assert text.code == 0 and len(text.out.splitlines()) == 2  # the header and one event
    assert reads.limits == [None, 2, 1]
    assert ready("log", "--limit", "none").code == 2


def test_a_developer_reads_only_what_they_may_see(owner_repo, store_target) -> None:
    owner_repo.add_member("bob", "developer")
    bob = Repository(store_target, "bob", clock=fixed_clock)
    mine = bob.create_key(web_draft(name="Bob's widget")).key
    owner_repo.create_key(web_draft(name="Alice's widget"))
    newest = bob.history(limit=3)
    assert newest == bob.history()[:3]
    assert all(event.key_id in (None, mine.id) for event in bob.history())
