"""Snapshots of every screen at 80×24 (and the main one at 120 columns), reached as an admin
would reach them, on fixed data and a fixed clock.

The stops and how to reach each come from ``tui/tour.py``, which the screenshot
script (``screenshots/make_screenshots.py``) uses too. After a deliberate change to a screen:
``pytest tests/test_snapshots.py --snapshot-update``, then look at the new SVGs in
``tests/__snapshots__/`` before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FIXED_NOW
from tui import tour as screen_tour


@pytest.mark.parametrize("name", list(screen_tour.STOPS_BY_NAME))
def test_screen(name: str, snap_compare, tmp_path: Path) -> None:
    """The stop's screen is the one on top, and it looks as its accepted snapshot does."""
    stop = screen_tour.STOPS_BY_NAME[name]
    with screen_tour.held_still():
        visit = screen_tour.visit(stop, tmp_path)
        matches = snap_compare(visit.app, terminal_size=stop.size, run_before=visit.run_before)
    assert visit.screen_seen == stop.screen
    assert matches


def test_the_tour_is_repeatable(tmp_path: Path) -> None:
    """Two stores built alike hold the same ids and secrets: nothing random is left."""
    stores = []
    for run in ("first", "second"):
        with screen_tour.held_still():
            repo = screen_tour.seeded_store(tmp_path / run / "store.json")
            created = repo.create_key({
                "name": "Tour", "scope": "analytics", "project_id": "Storefront", "expires_days": 30,
            })
            project = repo.add_project("Tour project")
        stores.append((
            [view.record for view in repo.list_keys()], created.secret.get_secret_value(),
            project.id, [member.display_name for member in repo.list_members()],
        ))
    assert stores[0] == stores[1]
    assert "Alice Martin" in stores[0][3]


def test_the_tour_keeps_the_tests_clock() -> None:
    """Snapshots and screenshots show the same moment as every other test."""
    assert screen_tour.fixed_clock() == FIXED_NOW
