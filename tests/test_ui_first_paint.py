"""A big file store's first screen: its newest keys, read from the front of the file, shown
while the rest is parsed; keys pressed meanwhile wait and act once every key is loaded."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from textual.app import App

from conftest import OWNER, analytics_draft, fixed_clock, web_draft
from screen_harness import screen_text, settle, settle_until
from store import layout
from store.repository import Repository
from store.storage import StoreFile
from tui.app import make_app
from tui.screens import key_list


@pytest.fixture
def parse_held(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Every store file counts as big, and its full parse waits until the test releases it."""
    release = threading.Event()
    load = StoreFile._load

    def held_load(self: StoreFile) -> None:
        release.wait(timeout=30)
        load(self)

    monkeypatch.setattr(StoreFile, "_load", held_load)
    monkeypatch.setattr(key_list, "PREVIEW_FROM", 0)
    yield release
    release.set()


@pytest.fixture
def thirty_keys(owner_repo: Repository) -> list[str]:
    """Thirty keys, the newest last; names say their age."""
    return [owner_repo.create_key(web_draft(name=f"Key {number:02}")).key.id for number in range(30)]


def previewing(app) -> bool:
    return getattr(app.screen, "previewing", False)


async def until_previewing(app, pilot) -> None:
    """Pause until the preview is shown (settle_until would wait for the held load worker)."""
    for _ in range(400):
        if previewing(app):
            await pilot.pause()  # and drawn
            return
        await pilot.pause(0.05)
    raise AssertionError("no preview")


async def test_the_newest_keys_show_before_the_store_is_parsed(thirty_keys, store_path, parse_held):
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_previewing(app, pilot)
        text = screen_text(app)
        assert "newest keys · reading 30…" in text
        assert "Key 29" in text and "Key 28" in text and "Acme Studio" in text
        assert app.screen.index is None and app.focused is None
        parse_held.set()
        await settle(app, pilot)
        assert not previewing(app)
        assert "30 keys · sorted by created ↓ · row 1 of 30" in screen_text(app)
        assert app.focused is app.screen.table


async def test_keys_pressed_meanwhile_act_once_every_key_is_loaded(
    owner_repo, thirty_keys, store_path, parse_held
):
    owner_repo.create_key(web_draft(name="Xylophone"))
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_previewing(app, pilot)
        await pilot.press("end")
        assert app.screen.table.cursor_index == 0  # the preview's last row is not the store's
        await pilot.press("slash", *"Xylo")
        assert previewing(app) and app.screen.filter_text == ""
        parse_held.set()
        assert await settle_until(app, pilot, lambda: "1 of 31 keys" in screen_text(app))
        assert app.screen.filter_text == "Xylo" and "Xylophone" in screen_text(app)


async def test_q_quits_while_the_preview_is_shown(thirty_keys, store_path, parse_held):
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_previewing(app, pilot)
        await pilot.press("q")
        parse_held.set()
    assert app.return_code == 0


async def test_no_key_action_is_offered_on_the_preview(thirty_keys, store_path, parse_held):
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_previewing(app, pilot)
        screen = app.screen
        for action in ("revoke", "copy_key", "open_key", "cycle_sort", "start_filter", "reload"):
            assert not screen.check_action(action, ())
        parse_held.set()
        await settle(app, pilot)
        assert screen.check_action("copy_key", ())


async def test_a_developer_with_too_few_keys_in_the_front_waits_for_the_store(
    owner_repo, store_path, parse_held, monkeypatch
):
    parse_held.set()  # the store is made first
    owner_repo.add_member("dev1", "developer")
    Repository(store_path, "dev1", clock=fixed_clock).create_key(analytics_draft(name="Mine"))
    monkeypatch.setattr(layout, "NEWEST_COUNT", 10)  # the front holds 10 of the store's 31 keys
    for number in range(30):
        owner_repo.create_key(web_draft(name=f"Key {number:02}"))
    parse_held.clear()
    app = make_app(store_path, "dev1", clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        assert not previewing(app) and "Mine" not in screen_text(app)
        parse_held.set()
        await settle(app, pilot)
        assert "1 key · sorted by created ↓" in screen_text(app) and "your keys only" in screen_text(app)


ESCAPES = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|.)")



async def test_the_newest_keys_are_in_a_frame_textual_writes(
    thirty_keys, store_path, parse_held, monkeypatch
):
    """Textual drops a frame composed inside its start-up batch while its compositor counts
    it as drawn: the preview's rows must come in a frame that is written to the terminal,
    not wait for the next repaint after the parse (a real terminal showed them 0.1 s late)."""
    updates: list[tuple[bool, bool]] = []  # (inside a batch: dropped, holds the newest key)
    display = App._display

    def recording(app: App, screen, renderable) -> None:
        render = getattr(renderable, "render_segments", None)
        if render is not None:
            updates.append((app._batch_count > 0, "Key 29" in ESCAPES.sub("", render(app.console))))
        display(app, screen, renderable)

    monkeypatch.setattr(App, "_display", recording)
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_previewing(app, pilot)
        parse_held.set()
    dropped = next(batched for batched, newest in updates if newest)
    assert not dropped


async def test_the_expiring_count_is_read_after_the_rows_frame_and_counted_only(
    owner_repo, store_path, monkeypatch
):
    """The status line's "N expiring" is one count (no list of the keys), read once the
    frame with every key was handed to the terminal: not competing with that frame."""
    owner_repo.create_key({**web_draft(name="Soon"), "expires_at": "2026-12-06T09:30:00Z"})
    owner_repo.create_key(web_draft(name="Never"))
    frames: list[str] = []
    display = App._display

    def recording(app: App, screen, renderable) -> None:
        display(app, screen, renderable)
        render = getattr(renderable, "render_segments", None)
        if render is not None:
            frames.append(ESCAPES.sub("", render(app.console)))

    counted: list[bool] = []
    expiring_count = Repository.expiring_count

    def counting(repo: Repository, days: float | None = None) -> int:
        counted.append(any("2 keys · sorted by" in frame for frame in frames))
        return expiring_count(repo, days)

    def listing(*_args, **_kwargs):
        raise AssertionError("the keys were listed where only their count is shown")

    monkeypatch.setattr(App, "_display", recording)
    monkeypatch.setattr(Repository, "expiring_count", counting)
    monkeypatch.setattr(Repository, "expiring_within", listing)
    app = make_app(store_path, OWNER, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await settle_until(app, pilot, lambda: "1 expiring in 14d (x)" in screen_text(app))
        await pilot.press("x")
        await settle(app, pilot)
        assert [view.name for view in app.screen.table.rows] == ["Soon"]
    assert counted and all(counted)
