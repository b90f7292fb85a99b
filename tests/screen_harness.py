"""Driving one screen of the app on its own: the form, key created, the revoke question and
the key details are pushed straight onto an empty app, and what they dismiss with is kept."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.events import Mount, Ready
from textual.screen import Screen
from textual.worker import WorkerCancelled, WorkerError, WorkerFailed

from conftest import fixed_clock
from store.repository import Repository
from tui import app as app_module
from tui.app import ApiKeysApp
from tui.screens.live import WATCH_WORKER

MARKUP_NAMES = ["[bold red]x[/]", "[/]", "[@click=app.quit]x"]


class Harness(ApiKeysApp):
    """The app with ``make_screen()`` pushed instead of the main screen; ``results`` holds
    whatever that screen dismissed with."""

    # A relative CSS_PATH is resolved beside the subclass's file: point at the app's own.
    CSS_PATH = [str(Path(app_module.__file__).with_name(name)) for name in ("app.tcss", "dialogs.tcss")]

    def __init__(self, repo: Repository, make_screen: Callable[[], Screen[Any]]) -> None:
        super().__init__(repo, live_interval=0.2)
        self.make_screen = make_screen
        self.results: list[Any] = []

    def on_mount(self, event: Mount) -> None:
        """Push the screen under test (not the main screen the real app opens with)."""
        event.prevent_default()
        self.push_screen(self.make_screen(), self.results.append)

    def on_ready(self, event: Ready) -> None:
        """Nor the main screen on top of it once Textual has started, as the real app does."""
        event.prevent_default()


def harness(store_path: Any, login: str, make_screen: Callable[[], Screen[Any]]) -> Harness:
    """A harness on the test's store, acting as ``login``, on the tests' fixed clock."""
    return Harness(Repository(store_path, login, clock=fixed_clock), make_screen)


async def wait_for_workers(app: ApiKeysApp) -> None:
    """Wait for the app's workers to end, however they end.

    ``app.workers.wait_for_complete()`` raises ``WorkerCancelled`` as soon as one of them was
    cancelled (a screen removed while its load ran, a newer load replacing an older one),
    which is the app working as meant, not a failure of the test.
    """
    for worker in list(app.workers):
        if worker.name == WATCH_WORKER:
            continue  # the live view's listener waits for notices until the app ends
        try:
            await worker.wait()
        except (WorkerCancelled, WorkerFailed, WorkerError):
            pass  # failures reach the screen as messages: the tests look there


async def settle(app: ApiKeysApp, pilot: Any, rounds: int = 3) -> None:
    """Let thread workers finish and their results reach the screen."""
    for _ in range(rounds):
        await wait_for_workers(app)
        await pilot.pause()


async def settle_until(app: ApiKeysApp, pilot: Any, condition: Callable[[], bool],
                       rounds: int = 400) -> bool:
    """Pause until ``condition()`` holds: a bounded wait (20 s at most) that a loaded
    machine cannot turn into a failure, not a timing assertion."""
    for _ in range(rounds):
        if condition():
            return True
        await pilot.pause(0.05)
        await wait_for_workers(app)
    return condition()


async def type_text(pilot: Any, text: str) -> None:
    """Type ``text`` one key at a time, as a person would."""
    await pilot.press(*text)


def screen_text(app: ApiKeysApp) -> str:
    """What the terminal shows of the current screen, as plain text."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True,
        color_system="truecolor", record=True, legacy_windows=False, safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text(styles=False)


def flat_text(app: ApiKeysApp) -> str:
    """The screen's words in reading order, one space apart: text wrapped inside a box reads
    as one sentence again."""
    return " ".join(screen_text(app).replace("│", " ").split())


def notifications(app: ApiKeysApp) -> list[str]:
    """The messages of the notifications shown so far."""
    return [notification.message for notification in app._notifications]


def shown_keys(screen: Screen[Any]) -> dict[str, str]:
    """The keys the footer offers on ``screen``, with the action each runs."""
    return {
        key: active.binding.action
        for key, active in screen.active_bindings.items()
        if active.binding.show and active.enabled
    }
