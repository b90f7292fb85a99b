"""The keys that break the policy, at any number (issue 10): the policy screen and
``apikeys policy check`` count them all but read only the first page (on PostgreSQL a count
and one page, never every key), say how many are left, and show the rest on demand. Both
backends."""

from __future__ import annotations

import pytest
from test_ui_admin import harness, open_screen, row_keys

import tui.cli
from conftest import new_owner_repo, web_draft
from screen_harness import screen_text, settle, shown_keys
from store.repository import Repository
from tui.screens import policy as policy_screen
from tui.screens.policy import PolicyScreen, violations_summary

BREAKERS = 7


@pytest.fixture
def broken(store_target) -> tuple[Repository, list[str]]:
    """A store where seven Web keys without expiry break a 90-day policy (oldest first), and
    one with an expiry keeps it."""
    repo = new_owner_repo(store_target)
    ids = [repo.create_key(web_draft(name=f"Forever {n}")).key.id for n in range(BREAKERS)]
    draft = web_draft(name="Short")
    draft["expires_at"] = "2026-12-31T00:00:00Z"
    repo.create_key(draft)
    repo.set_policy(max_lifetime_days={"web": 90})
    return repo, ids


def test_the_first_page_and_the_count(broken) -> None:
    repo, ids = broken
    assert [v.key.id for v in repo.policy_violations()] == ids
    first, total = repo.first_policy_violations(3)
    assert [v.key.id for v in first] == ids[:3] and total == BREAKERS
    every, total = repo.first_policy_violations(100)
    assert [v.key.id for v in every] == ids and total == BREAKERS
    assert repo.first_policy_violations(0) == ([], BREAKERS)


def test_the_summary_line_says_how_many_are_listed() -> None:
    assert violations_summary(0, 0, may_change=True) == "Every active key keeps the policy · e changes it"
    assert violations_summary(1, 1, may_change=True) == "1 active key breaks the policy · e changes it"
    assert violations_summary(1_234_567, 500, may_change=True) == (
        "1,234,567 active keys break the policy · first 500 listed"
    )
    assert violations_summary(3, 3, may_change=False).endswith("read only: owners change the policy")


async def test_the_screen_lists_a_page_and_more_on_demand(broken, store_target, monkeypatch) -> None:
    repo, ids = broken
    monkeypatch.setattr(policy_screen, "PAGE", 3)
    asked: list[int | None] = []
    every = Repository.policy_violations

    def counted(self: Repository, limit: int | None = None):
        asked.append(limit)
        return every(self, limit)

    if repo.is_postgres:  # the file store lists them all to count them: that is its way
        monkeypatch.setattr(Repository, "policy_violations", counted)
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, PolicyScreen())
        assert row_keys(screen) == ids[:3]
        assert "7 active keys break the policy · first 3 listed · row 1 of 3" in screen_text(app)
        assert shown_keys(screen).get("m") == "more"
        await pilot.press("G")  # the last listed key: a page more is read, the cursor stays
        await settle(app, pilot)
        assert row_keys(screen) == ids[:6]
        assert "first 6 listed · row 3 of 6" in screen_text(app)
        await pilot.press("m")
        await settle(app, pilot)
        assert row_keys(screen) == ids
        assert "7 active keys break the policy · e changes it" in screen_text(app)
        assert "m" not in shown_keys(screen)
        await pilot.press("r")  # a reload reads as many as are shown
        await settle(app, pilot)
        assert row_keys(screen) == ids
    if repo.is_postgres:
        assert asked and None not in asked  # never the whole list


async def test_a_screen_with_every_key_listed_offers_no_more(broken, store_target) -> None:
    repo, ids = broken
    app = harness(store_target)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, PolicyScreen())
        assert row_keys(screen) == ids
        assert "m" not in shown_keys(screen)


def test_policy_check_prints_the_first_and_says_how_to_see_all(ready, monkeypatch) -> None:
    monkeypatch.setattr(tui.cli, "CHECK_SHOWN", 3)
    ids = [ready("create", "--name", f"Forever {n}", "--scope", "web", "--project", "Storefront",
                 "--domain", "https://shop.example.com", "--json").json()["id"] for n in range(5)]
    assert ready("policy", "set", "--max-lifetime", "web=90").out.count("5 active keys break it") == 1
    shown = ready("policy", "show")
    assert shown.code == 0 and "5 active keys break it: see `apikeys policy check`" in shown.out

    first = ready("policy", "check")
    assert first.code == 1
    assert [i for i in ids if i in first.out] == ids[:3]
    assert first.out.splitlines()[-1] == "The first 3 of 5 (oldest first); --all lists every one"
    every = ready("policy", "check", "--all")
    assert every.code == 1 and all(i in every.out for i in ids) and "first" not in every.out
    two = ready("policy", "check", "-n", "2")
    assert [i for i in ids if i in two.out] == ids[:2] and "The first 2 of 5" in two.out
    assert [v["id"] for v in ready("policy", "check", "--json").json()] == ids  # machines: all
    limited = ready("policy", "check", "--json", "--limit", "2")
    assert limited.code == 1 and [v["id"] for v in limited.json()] == ids[:2]

    assert "give 1 or more" in ready("policy", "check", "--limit", "0").err
    assert ready("policy", "check", "--limit", "0").code == 2
    assert ready("policy", "check", "--all", "--limit", "2").code == 2
    assert ready("edit", ids[0], "--expires", "30d").code == 0
    assert "4 active keys break it" in ready("policy", "show").out
