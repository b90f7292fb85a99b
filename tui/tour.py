"""A tour of every screen: one definition of how to reach each, shared by the snapshot tests
(``tests/test_snapshots.py``) and the screenshot script (``screenshots/make_screenshots.py``).
Not used by the app itself; it lives in the package so both import it by name.

Everything a screen shows is held still: the clock (2026-12-01 09:30 UTC, as in the tests), the
login (``alice``, the owner, never whoever runs this), the demo data (``seed_demo`` with a
fixed seed), every id and secret, and the owner's display name (:func:`held_still`). So a
screen looks the same on every run and every machine, and a snapshot changes only when a
screen does. Keys are pressed through their real bindings; text is pasted into the focused
field (:func:`type_text`).
"""

from __future__ import annotations

import os
import random
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from textual import events
from textual.pilot import Pilot
from textual.widgets import Input

from store import repository, seed, tokens
from store.models import ApiKey, Scope
from store.repository import Repository
from tui.app import ApiKeysApp, make_app

TOUR_NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
LOGIN = "alice"
LOGIN_DISPLAY_NAME = "Alice Martin"
ORGANISATION = "Northwind Studio"
DEMO_KEYS = 40
DEMO_SEED = 7
ID_SEED = 2026
# Longer than any tour: no poll for other admins' changes runs while a screen is pictured.
LIVE_INTERVAL = 3600.0
SETTLE_ROUNDS = 4



def fixed_clock() -> datetime:
    """The tour's clock: always 2026-12-01 09:30 UTC (the tests' ``FIXED_NOW`` too)."""
    return TOUR_NOW


StopFlow = Callable[[Pilot[Any], Repository], Awaitable[None]]


# -- holding everything still ----------------------------------------------------------------


@contextmanager
def held_still(seed_value: int = ID_SEED) -> Iterator[None]:
    """Within this block, whatever would differ between runs or machines is fixed.

    - Key ids and secrets (``store.tokens.random_base62``) and project ids
      (``store.tokens.new_project_id``) come from ``random.Random(seed_value)``, not from
      ``secrets``; ``seed_demo`` draws its project ids from its own seeded generator.
    - A member's display name comes from the OS account's GECOS field where one exists:
      ``alice`` gets a fixed name instead, on any machine.
    - ``NO_COLOR`` in the environment would drop every colour from the picture.

    Build the store and run the app inside the block. Never use it for real keys: these
    "secrets" are predictable.
    """
    generator = random.Random(seed_value)

    def random_base62(length: int) -> str:
        return "".join(generator.choice(tokens.BASE62) for _ in range(length))

    def new_project_id() -> str:
        return f"prj_{generator.getrandbits(24):06x}"

    def display_name_of(login: str) -> str:
        return LOGIN_DISPLAY_NAME if login == LOGIN else login

    environment = {name: value for name, value in os.environ.items() if name != "NO_COLOR"}
    with mock.patch.object(tokens, "random_base62", random_base62), \
            mock.patch.object(tokens, "new_project_id", new_project_id), \
            mock.patch.object(repository, "display_name_of", display_name_of), \
            mock.patch.object(seed, "display_name_of", display_name_of), \
            mock.patch.dict(os.environ, environment, clear=True):
        yield


def seeded_store(path: Path) -> Repository:
    """The demo store most stops start from: 40 keys of every scope and state, members of
    every role, twelve projects; ``alice`` is its owner."""
    return seed.seed_demo(path, LOGIN, keys=DEMO_KEYS, seed=DEMO_SEED, clock=fixed_clock)


def empty_store(path: Path) -> Repository:
    """A new store with its organisation and its owner, and nothing else."""
    repo = Repository(path, LOGIN, clock=fixed_clock)
    repo.initialise(ORGANISATION)
    return repo


def first_key(repo: Repository, matches: Callable[[ApiKey], bool]) -> str:
    """The id of the first active key (in store order) for which ``matches`` is true."""
    now = repo.now()
    for view in repo.list_keys(include_revoked=False):
        key = repo.get_key(view.id)
        if key.effective_status(now).value == "active" and matches(key):
            return key.id
    raise LookupError("the demo store has no such key: change the tour or the seed")


def web_key_with_networks(repo: Repository) -> str:
    """A Web key with two domains and local networks."""
    return first_key(repo, lambda key: key.scope is Scope.WEB and key.web is not None
                     and key.web.developing_locally and len(key.web.domains) > 1)


def analytics_key_of_a_project(repo: Repository) -> str:
    """An Analytics key of one project (not *All organization projects*)."""
    return first_key(repo, lambda key: key.scope is Scope.ANALYTICS and key.project_id is not None)


def disabled_key(repo: Repository) -> str:
    """The first disabled key (the demo disables a few Web and Mobile keys)."""
    for view in repo.list_keys(include_revoked=False):
        if view.record["status"] == "disabled":
            return view.id
    raise LookupError("the demo store has no disabled key: change the tour or the seed")


def busiest_key(repo: Repository) -> str:
    """The active key with the most valid answers over the last 30 days."""
    now = repo.now()
    counts = [(repo.usage(view.id).valid, view.id) for view in repo.list_keys(include_revoked=False)
              if view.status(now).value == "active"]
    best = max(counts, default=(0, ""))
    if not best[0]:
        raise LookupError("the demo store has no used key: change the tour or the seed")
    return best[1]


# -- moving around ---------------------------------------------------------------------------


async def settle(pilot: Pilot[Any], rounds: int = SETTLE_ROUNDS) -> None:
    """Let every thread worker finish and its result reach the screen."""
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def type_text(pilot: Pilot[Any], text: str) -> None:
    """Put ``text`` into the focused field as a terminal's paste does: in one event.

    Pilot waits for the app to go idle twice after every key (40 ms or more a key); the
    field gets the same text either way, and the tour stays quick enough for every test run.
    """
    pilot.app.post_message(events.Paste(text))
    await pilot.pause()


async def filter_to_key(pilot: Pilot[Any], key_id: str) -> None:
    """On the main table: ``/``, the key's id, ``enter`` (back to the table, filter kept)."""
    await pilot.press("slash")
    await type_text(pilot, key_id)
    await pilot.press("enter")
    await settle(pilot)


async def new_key_form(pilot: Pilot[Any], name: str, scope_moves: int, project: str) -> None:
    """``n``, then the name, the scope (``right`` chooses the next one) and the project
    (type part of its name, ``enter`` picks the first match)."""
    await pilot.press("n")
    await settle(pilot)
    await type_text(pilot, name)
    await pilot.press("tab", *["right"] * scope_moves, "tab")
    await type_text(pilot, project)
    await pilot.press("enter")
    await settle(pilot)


async def hold_still(pilot: Pilot[Any]) -> None:
    """The last step of every stop: workers done, no toast, no blinking cursor.

    A toast would be pictured half-faded; a blinking cursor would be on in one run and off in
    the next, so every text field keeps a steady cursor.
    """
    await settle(pilot)
    app = pilot.app
    app.clear_notifications()
    for screen in app.screen_stack:
        for field in screen.query(Input):
            field.cursor_blink = False
    # Textual scrolls a newly focused field into view a moment after the focus moves; when
    # the layout changes in that moment too (the project picker's list after a pick), the
    # scroll sometimes follows the old layout. Scroll it again now that the layout is final.
    # Always centre it (not only when hidden), so every run ends at the same scroll offset.
    # Under load the layout can still settle after one scroll: repeat until two rounds agree.
    # A focus change scrolls with an animation that may still be running (or only scheduled)
    # after the layout settles; it would land after our own scroll, so wait it out each round.
    seen: object = None
    for _ in range(6):
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        focused = app.focused
        if focused is not None:
            app.screen.scroll_to_center(focused, animate=False, origin_visible=True, immediate=True)
        await pilot.wait_for_scheduled_animations()
        offsets = [(node.scroll_offset, node.virtual_size) for node in app.screen.query("*")
                   if node.is_scrollable]
        if offsets == seen:
            break
        seen = offsets


# -- the stops -------------------------------------------------------------------------------


def press(*keys: str) -> StopFlow:
    """A stop reached from the loaded main screen by pressing ``keys``."""

    async def flow(pilot: Pilot[Any], repo: Repository) -> None:
        await settle(pilot)
        if keys:
            await pilot.press(*keys)

    return flow


async def _filter(pilot: Pilot[Any], repo: Repository) -> None:
    await settle(pilot)
    await pilot.press("slash")
    await type_text(pilot, "checkout")
    await pilot.press("enter")


async def _web_details(pilot: Pilot[Any], repo: Repository) -> None:
    await settle(pilot)
    await filter_to_key(pilot, web_key_with_networks(repo))
    await pilot.press("enter")


async def _analytics_details(pilot: Pilot[Any], repo: Repository) -> None:
    await settle(pilot)
    await filter_to_key(pilot, analytics_key_of_a_project(repo))
    await pilot.press("enter")


async def _create_web(pilot: Pilot[Any], repo: Repository) -> None:
    await settle(pilot)
    await new_key_form(pilot, "Checkout widget – prod", 0, "checkout")
    await type_text(pilot, "https://checkout.northwind.example")


async def _create_analytics(pilot: Pilot[Any], repo: Repository) -> None:
    await settle(pilot)
    await new_key_form(pilot, "Quarterly revenue", 2, "warehouse")
    await pilot.press("right")  # expires after 60 days


async def _create_errors(pilot: Pilot[Any], repo: Repository) -> None:
    await settle(pilot)
    await pilot.press("n")
    await settle(pilot)
    await pilot.press("ctrl+s")


async def _created(pilot: Pilot[Any], repo: Repository) -> None:
    await _create_analytics(pilot, repo)
    await pilot.press("ctrl+s")


async def _edit_web(pilot: Pilot[Any], repo: Repository) -> None:
    await settle(pilot)
    await filter_to_key(pilot, web_key_with_networks(repo))
    await pilot.press("e")


async def _roll(pilot: Pilot[Any], repo: Repository) -> None:
    await settle(pilot)
    await filter_to_key(pilot, web_key_with_networks(repo))
    await pilot.press("R")
    await settle(pilot)
    await pilot.press("right", "right")  # 24 hours


async def _disabled_details(pilot: Pilot[Any], repo: Repository) -> None:
    await settle(pilot)
    await filter_to_key(pilot, disabled_key(repo))
    await pilot.press("enter")


async def _usage_details(pilot: Pilot[Any], repo: Repository) -> None:
    await settle(pilot)
    await filter_to_key(pilot, busiest_key(repo))
    await pilot.press("enter")
    await settle(pilot)
    screen = pilot.app.screen
    screen.query_one("#detail-body").scroll_to_widget(
        screen.query_one("#detail-usage-chart"), animate=False, top=True)


@dataclass(frozen=True)
class Stop:
    """One screen of the tour."""

    name: str  # the file name of its snapshot and screenshot
    caption: str  # one line under its screenshot in the README
    screen: str  # the class of the screen on top once there
    flow: StopFlow  # how to get there from the app's first screen
    size: tuple[int, int] = (80, 24)
    store: Callable[[Path], Repository] = seeded_store


STOPS: tuple[Stop, ...] = (
    Stop("key_list", "API Keys: every key, with count and sort order",
         "KeyListScreen", press()),
    Stop("key_list_wide", "Wider terminals add Created by and Last used",
         "KeyListScreen", press(), size=(120, 24)),
    Stop("key_list_empty", "A new store says how to add a project, then a key",
         "KeyListScreen", press(), store=empty_store),
    Stop("key_list_filter", "/ finds keys by name, id, prefix, project, scope, creator, status",
         "KeyListScreen", _filter),
    Stop("key_list_marks", "space marks rows for a bulk revoke",
         "KeyListScreen", press("space", "down", "space")),
    Stop("key_detail_web", "Details of a Web key: domains, local networks, history",
         "KeyDetailScreen", _web_details),
    Stop("key_detail_analytics", "Details of an Analytics key: its secret was shown once",
         "KeyDetailScreen", _analytics_details),
    # 30 rows: the whole form, no scrolling. At 24 rows the form is scrolled to the focused
    # field, and under load that scroll landed a line apart between runs now and then.
    Stop("create_web", "Create key: a Web key, its project picked by typing",
         "CreateKeyModal", _create_web, size=(80, 30)),
    Stop("create_analytics", "Create key: an Analytics key and its expiry",
         "CreateKeyModal", _create_analytics),
    Stop("create_errors", "ctrl+s on an empty form: errors beside their fields",
         "CreateKeyModal", _create_errors),
    Stop("key_created", "Key created: an Analytics secret is shown this once",
         "KeyCreatedScreen", _created),
    Stop("edit_web", "Edit key: a Web key's name, domains and toggles",
         "EditKeyModal", _edit_web),
    Stop("revoke_one", "Yes, Delete: Cancel has the focus",
         "ConfirmRevoke", press("d")),
    Stop("revoke_bulk", "Yes, Delete for three marked keys",
         "ConfirmRevoke", press("space", "space", "space", "d")),
    Stop("roll", "Roll (R): a new secret; the previous one works for the grace chosen",
         "RollKeyModal", _roll),
    Stop("key_detail_disabled", "A disabled key (D): integrations stop until it is enabled (E)",
         "KeyDetailScreen", _disabled_details),
    Stop("key_detail_usage", "Details: the last 30 days of use, with totals, origin and IP",
         "KeyDetailScreen", _usage_details),
    Stop("key_list_expiring", "x: only the keys expiring within the policy's warning window",
         "KeyListScreen", press("x")),
    Stop("policy", "Policy (P): maximum lifetimes, the warning window, keys that break it",
         "PolicyScreen", press("P")),
    Stop("projects", "Projects (p): deployed or not, and their keys",
         "ProjectsScreen", press("p")),
    Stop("members", "Members (m): roles, changed by owners",
         "MembersScreen", press("m")),
    Stop("activity", "Activity (l): the audit trail, newest first",
         "ActivityScreen", press("l")),
    Stop("help", "Help (?): every key of the screen, and notes",
         "HelpScreen", press("question_mark")),
)
STOPS_BY_NAME = {stop.name: stop for stop in STOPS}


# -- visiting a stop -------------------------------------------------------------------------


@dataclass
class Visit:
    """A stop made ready: its app on its own store, and what to do before the picture."""

    stop: Stop
    app: ApiKeysApp
    repo: Repository
    screen_seen: str | None = None

    async def run_before(self, pilot: Pilot[Any]) -> None:
        """Reach the stop's screen, then hold it still; note which screen is on top."""
        await self.stop.flow(pilot, self.repo)
        await hold_still(pilot)
        self.screen_seen = type(pilot.app.screen).__name__


def visit(stop: Stop, folder: Path) -> Visit:
    """Make ``stop``'s store in ``folder`` (which must not hold one yet) and the app on it,
    built as the command line builds it. Call, and run the app, inside :func:`held_still`."""
    path = Path(folder) / "store.json"
    repo = stop.store(path)
    app = make_app(path, LOGIN, clock=fixed_clock, live_interval=LIVE_INTERVAL)
    # Scrolls jump instead of gliding, so no picture is taken halfway through one.
    app.animation_level = "none"
    return Visit(stop, app, repo)
