"""The main screen on PostgreSQL reads windows, never every key, and follows other sessions'
changes by LISTEN/NOTIFY (issue 10). Driven with Pilot on a bulk-seeded database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from conftest import OWNER, analytics_draft, fixed_clock, is_postgres_target, new_owner_repo, web_draft
from screen_harness import screen_text, settle, settle_until
from store.errors import StoreUnusable
from store.repository import Repository
from tui.app import make_app
from tui.screens import key_list
from tui.screens.key_list import KeyListScreen

SEEDED = 2_000


@pytest.fixture
def seeded_url(pg_url: str) -> str:
    """A store of 2,000 demo keys (some revoked), loaded with COPY, owned by the connection's
    role."""
    from store.backends.bulk import seed_bulk

    seed_bulk(pg_url, keys=SEEDED, seed=11, clock=fixed_clock).close()
    return pg_url


class Spy:
    """Counts the calls of some methods of an object (and still makes them)."""

    def __init__(self, target: Any, *names: str) -> None:
        self.calls: dict[str, int] = dict.fromkeys(names, 0)
        for name in names:
            setattr(target, name, self._counted(name, getattr(target, name)))

    def _counted(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return method(*args, **kwargs)
        return counted


def shown_total(repo: Repository) -> int:
    return repo.key_source(include_revoked=False).count()


async def test_the_key_list_reads_a_few_windows_never_every_key(seeded_url: str) -> None:
    app = make_app(seeded_url, clock=fixed_clock, live_interval=3600)
    repo = app.repo
    spy = Spy(repo.backend, "window", "window_reversed")
    listed = Spy(repo, "list_keys", "expiring_within")
    total = shown_total(Repository(seeded_url, clock=fixed_clock))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, KeyListScreen) and screen.windowed is not None
        assert screen.table.row_count == total
        assert f"{total:,} keys · sorted by created ↓" in screen_text(app)
        await pilot.press("pagedown", "pagedown", "end", "home")
        await settle(app, pilot)
    assert listed.calls == {"list_keys": 0, "expiring_within": 0}
    reads = spy.calls["window"] + spy.calls["window_reversed"]
    assert 0 < reads <= 8, spy.calls  # the first page, the last, and pages beside them


async def test_end_sort_filter_and_the_cursor_kept_on_its_key(seeded_url: str) -> None:
    app = make_app(seeded_url, clock=fixed_clock, live_interval=3600)
    reference = Repository(seeded_url, clock=fixed_clock)
    oldest = reference.key_source("created_asc", include_revoked=False).window(0, 1)[0]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.table
        await pilot.press("G")
        assert table.cursor_row.id == oldest.id  # End: the last key, read from the end
        assert f"row {table.row_count:,} of {table.row_count:,}" in screen_text(app)
        await pilot.press("k", "k")
        kept = table.cursor_row.id
        await pilot.press("r")
        await settle(app, pilot)
        assert table.cursor_row.id == kept and table.cursor_index == table.row_count - 3
        await pilot.press("s")  # created ↑: a new order starts at its top
        await settle(app, pilot)
        assert table.cursor_row.id == oldest.id and table.cursor_index == 0
        await pilot.press("slash", *"storefront")
        await settle(app, pilot)
        wanted = reference.key_source("created_asc", "storefront", include_revoked=False)
        assert table.row_count == wanted.count() > 0
        assert [table.rows[i].id for i in range(3)] == [v.id for v in wanted.window(0, 3)]
        assert f"{wanted.count():,} of " in screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert table.row_count == shown_total(reference)


async def test_a_capped_count_then_the_exact_one(seeded_url: str, monkeypatch) -> None:
    monkeypatch.setattr(key_list, "COUNT_CAP", 500)
    app = make_app(seeded_url, clock=fixed_clock, live_interval=3600)
    total = shown_total(Repository(seeded_url, clock=fixed_clock))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_until(app, pilot, lambda: app.screen.loaded)
        screen = app.screen
        assert screen.table.row_count >= 500  # "500+ keys" until the exact count is back
        await pilot.press("end")  # on "500+": the true end once it is known
        assert await settle_until(app, pilot, lambda: screen.windowed.exact)
        await settle(app, pilot)
        assert screen.table.row_count == total
        assert f"{total:,} keys" in screen_text(app)
        assert screen.table.cursor_index == total - 1


async def test_a_reload_past_the_capped_count_keeps_the_cursor(seeded_url: str, monkeypatch) -> None:
    """A filter's matches are counted capped at a reload; the cursor's key lies past the cap
    ("301+ of …"): when the exact count comes back, the cursor stays on its key (only End goes
    on to the true end)."""
    monkeypatch.setattr(key_list, "COUNT_CAP", 100)
    app = make_app(seeded_url, clock=fixed_clock, live_interval=3600)
    matches = Repository(seeded_url, clock=fixed_clock).key_source(
        "created_desc", "web", include_revoked=False).count()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_until(app, pilot, lambda: app.screen.loaded)
        screen = app.screen
        await pilot.press("slash", *"web", "enter")
        assert await settle_until(app, pilot, lambda: screen.windowed.exact and screen.filter_text == "web")
        await settle(app, pilot)
        await pilot.press(*["pagedown"] * 10)
        kept, index = screen.table.cursor_row.id, screen.table.cursor_index
        assert index > 100
        await pilot.press("r")
        assert await settle_until(app, pilot, lambda: screen.windowed.exact)
        await settle(app, pilot)
        assert screen.table.row_count == matches
        assert (screen.table.cursor_row.id, screen.table.cursor_index) == (kept, index)


async def test_a_reload_counts_every_key_at_once(seeded_url: str, monkeypatch) -> None:
    """Another session's change reloads the table: every key was counted before, so the new
    total is exact at once (no "100+ keys" between)."""
    monkeypatch.setattr(key_list, "COUNT_CAP", 100)
    app = make_app(seeded_url, clock=fixed_clock, live_interval=3600)
    total = shown_total(Repository(seeded_url, clock=fixed_clock))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_until(app, pilot, lambda: app.screen.loaded)
        screen = app.screen
        assert await settle_until(app, pilot, lambda: screen.windowed.exact)
        await settle(app, pilot)
        before = screen.windowed
        Repository(seeded_url, clock=fixed_clock).revoke_keys([screen.table.cursor_row.id])
        await pilot.press("r")
        assert await settle_until(app, pilot, lambda: screen.windowed is not before)
        assert screen.windowed.exact and screen.table.row_count == total - 1
        assert f"{total - 1:,} keys · sorted by" in screen_text(app)


async def test_a_filter_counts_its_matches_but_not_every_key_again(seeded_url: str, monkeypatch) -> None:
    """The exact count of a filter's matches runs once typing pauses; the count of every key
    (for "N of M keys") is known from before and not asked of the server again."""
    monkeypatch.setattr(key_list, "COUNT_CAP", 100)
    app = make_app(seeded_url, clock=fixed_clock, live_interval=3600)
    reference = Repository(seeded_url, clock=fixed_clock)
    total = shown_total(reference)
    matches = reference.key_source("created_desc", "web", include_revoked=False).count()
    assert matches > 100  # capped at first, so counted exactly after the pause
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_until(app, pilot, lambda: app.screen.loaded)
        screen = app.screen
        assert await settle_until(app, pilot, lambda: screen.windowed.exact)
        await settle(app, pilot)
        counting = app.repo._counting_backend()
        capped_or_exact: list[int | None] = []
        count = counting.count

        def noted(query: Any, *, at_most: int | None = None) -> int:
            capped_or_exact.append(at_most)
            return count(query, at_most=at_most)

        counting.count = noted
        await pilot.press("slash", *"web")
        assert await settle_until(app, pilot, lambda: screen.windowed.exact and screen.filter_text == "web")
        await settle(app, pilot)
        assert f"{matches:,} of {total:,} keys" in screen_text(app)
    assert capped_or_exact.count(None) == 1  # one exact count: the matches, not every key


async def test_marks_across_windows_are_acted_on_together(seeded_url: str) -> None:
    app = make_app(seeded_url, clock=fixed_clock, live_interval=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.table
        await pilot.press("space")
        first = next(iter(table.marked_ids))
        await pilot.press("end", "space")
        assert len(table.marked_ids) == 2
        marked = {first, table.cursor_row.id}
        assert "2 marked" in screen_text(app)
        views, hidden = app.screen._acted_on()
        assert {view.id for view in views} == marked and hidden == 0
        await pilot.press("slash", *"nosuchword")
        await settle(app, pilot)
        views, hidden = app.screen._acted_on()
        assert {view.id for view in views} == marked and hidden == 2


async def test_another_sessions_change_shows_without_reload(store_target) -> None:
    """PostgreSQL: a notice on the listening connection; the file store: its one-stat poll."""
    pg_url = store_target
    repo = new_owner_repo(pg_url)
    ids = [repo.create_key(web_draft(name=f"Key {word}")).key.id for word in ("one", "two", "three")]
    # On PostgreSQL nothing polls whatever the interval: the notice alone brings the change.
    interval = 3600 if is_postgres_target(pg_url) else 0.05
    app = make_app(pg_url, OWNER, clock=fixed_clock, live_interval=interval)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.table
        await pilot.press("j")
        kept = table.cursor_row.id
        assert kept == ids[1]
        other = Repository(pg_url, OWNER, clock=fixed_clock)  # another connection
        added = other.create_key(web_draft(name="From elsewhere")).key
        assert await settle_until(app, pilot, lambda: table.row_count == 4)
        assert table.cursor_row.id == kept  # the new key is on top; the cursor stayed
        assert table.rows[0].id == added.id and "From elsewhere" in screen_text(app)
        other.revoke_keys([ids[2]])
        assert await settle_until(app, pilot, lambda: table.row_count == 3)
        assert table.cursor_row.id == kept
        other.close()


async def test_a_lost_listener_is_said_once_and_tried_again(pg_url: str, monkeypatch) -> None:
    from tui.screens.live import ChangeWatch

    monkeypatch.setattr(ChangeWatch, "RETRY", 0.05)
    Repository(pg_url, clock=fixed_clock).initialise("Acme Studio")  # owned by the connection's role
    app = make_app(pg_url, clock=fixed_clock, live_interval=3600)
    listen = app.repo.change_notices
    failures = [StoreUnusable("lost the connection to the test database")] * 2

    def flaky() -> Any:
        if failures:
            raise failures.pop()
        return listen()

    app.repo.change_notices = flaky  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        said = lambda: [n.message for n in app._notifications]  # noqa: E731
        assert await settle_until(app, pilot, lambda: any("are back" in m for m in said()))
        paused = [m for m in said() if "Live updates paused" in m]
        assert len(paused) == 1 and "lost the connection" in paused[0]
        other = Repository(pg_url, clock=fixed_clock)
        other.add_project("Storefront", deployed=True)
        other.create_key(web_draft(name="After the retry"))
        assert await settle_until(app, pilot, lambda: app.screen.table.row_count == 1)
        other.close()


async def test_filter_by_pasted_secret_unused_and_expiring_only(store_target) -> None:
    """The filter reads the same on both backends: a pasted full secret finds exactly its key
    (shown masked), ``unused`` finds keys never used, ``x`` only keys expiring soon."""
    repo = new_owner_repo(store_target)
    soon = repo.create_key(analytics_draft(name="Soon gone", days=30)).key
    repo.create_key(analytics_draft(name="Later gone", days=60))
    pasted = repo.create_key(web_draft(name="Pasted"))
    secret = pasted.secret.get_secret_value()
    used = repo.create_key(web_draft(name="Used one"))
    assert repo.verify(used.secret.get_secret_value(), origin="https://shop.example.com").valid
    repo.usage_recorder.flush()

    def twenty_days_on() -> datetime:  # the 30-day key expires within the warning window
        return fixed_clock() + timedelta(days=20)

    app = make_app(store_target, OWNER, clock=twenty_days_on, live_interval=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen, table = app.screen, app.screen.table
        assert table.row_count == 4
        await pilot.press("slash")
        screen.query_one("#filter").insert_text_at_cursor(secret)
        await settle(app, pilot)
        assert [table.rows[i].id for i in range(table.row_count)] == [pasted.key.id]
        assert secret not in screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("slash", *"unused")
        await settle(app, pilot)
        names = {table.rows[i].name for i in range(table.row_count)}
        assert names == {"Soon gone", "Later gone", "Pasted"}
        await pilot.press("escape", "x")
        await settle(app, pilot)
        assert [table.rows[i].id for i in range(table.row_count)] == [soon.id]
        assert "only expiring in" in screen_text(app)


async def test_the_projects_screen_follows_another_sessions_change(store_target) -> None:
    """Every list screen is live: Projects shows a project another session adds."""
    from tui.screens.projects import ProjectsScreen

    new_owner_repo(store_target)
    interval = 3600 if is_postgres_target(store_target) else 0.05
    app = make_app(store_target, OWNER, clock=fixed_clock, live_interval=interval)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        assert isinstance(app.screen, ProjectsScreen)
        count = app.screen.table.row_count
        other = Repository(store_target, OWNER, clock=fixed_clock)
        other.add_project("Made elsewhere", deployed=True)
        assert await settle_until(app, pilot, lambda: app.screen.table.row_count == count + 1)
        assert "Made elsewhere" in screen_text(app)
        other.close()
