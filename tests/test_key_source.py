"""Repository.key_source: the main table's windows, counts and positions, the same on the
file store (its in-memory index) and on PostgreSQL (SQL), through ``store_target``."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import OWNER, analytics_draft, fixed_clock, mobile_draft, new_owner_repo, web_draft
from store.repository import Repository


@pytest.fixture
def filled(store_target: Path | str) -> tuple[Repository, list[str]]:
    """Six keys by alice and two by bob (a developer); their ids, oldest first."""
    repo = new_owner_repo(store_target)
    repo.add_member("bob", "developer")
    ids = [
        repo.create_key(web_draft(name="Checkout widget")).key.id,
        repo.create_key(mobile_draft(name="iOS app")).key.id,
        repo.create_key(analytics_draft(name="Weekly export")).key.id,
        repo.create_key(web_draft(name="Admin widget")).key.id,
    ]
    bob = Repository(store_target, "bob", clock=fixed_clock)
    ids += [bob.create_key(web_draft(name="Bob widget")).key.id,
            bob.create_key(mobile_draft(name="Bob phone")).key.id]
    return repo, ids


def test_windows_are_the_sorted_keys_a_window_at_a_time(filled) -> None:
    repo, ids = filled
    source = repo.key_source("created_desc")
    assert source.count() == 6
    newest_first = ids[::-1]  # made in the same second: newest stored first
    assert [view.id for view in source.window(0, 4)] == newest_first[:4]
    assert [view.id for view in source.window(4, 4)] == newest_first[4:]
    assert source.window(10, 4) == []
    assert [v.id for v in repo.key_source("created_asc").window(0, 10)] == ids
    assert source.position(ids[0]) == 5 and source.position("key_nosuchkey") is None
    by_scope = [v.record["scope"] for v in repo.key_source("scope").window(0, 10)]
    assert by_scope == ["web"] * 3 + ["mobile"] * 2 + ["analytics"]


def test_the_filter_narrows_count_window_and_position(filled) -> None:
    repo, ids = filled
    source = repo.key_source("created_desc", "WIDGET")
    assert source.count() == 3
    names = [view.record["name"] for view in source.window(0, 10)]
    assert names == ["Bob widget", "Admin widget", "Checkout widget"]
    assert source.position(ids[1]) is None  # the iOS app does not match
    assert repo.key_source("created_desc", "bob phone").count() == 1


def test_a_developer_gets_only_their_own_keys(filled, store_target: Path | str) -> None:
    _, ids = filled
    bob = Repository(store_target, "bob", clock=fixed_clock)
    source = bob.key_source("created_desc")
    assert source.count() == 2
    assert [view.id for view in source.window(0, 10)] == [ids[5], ids[4]]
    assert source.position(ids[0]) is None


def test_windows_carry_the_project_name_and_revoked_keys_can_be_hidden(filled) -> None:
    repo, ids = filled
    repo.revoke_keys([ids[0]])
    fresh = Repository(repo.store, OWNER, clock=fixed_clock)
    assert fresh.key_source(include_revoked=False).count() == 5
    views = {view.id: view for view in fresh.key_source().window(0, 10)}
    assert views[ids[1]].project_name == "Storefront"
    assert views[ids[0]].record["status"] == "revoked"


def test_windowed_rows_read_only_the_windows_asked_for(filled) -> None:
    from store.key_source import WindowedRows

    repo, ids = filled
    calls: list[tuple[int, int]] = []
    source = repo.key_source("created_asc")
    window = source.window

    def counted(offset: int, limit: int):
        calls.append((offset, limit))
        return window(offset, limit)

    source.window = counted  # type: ignore[method-assign]
    rows = WindowedRows(source, page=2, keep=2)
    assert len(rows) == 6
    assert rows[5].id == ids[5] and rows[4].id == ids[4]
    assert calls == [(4, 2)]
    assert [view.id for view in rows[0:2]] == ids[:2]
    assert rows.index(ids[3]) == 3 and rows.index(rows[1]) == 1
    assert "key_nosuchkey" not in rows and ids[2] in rows
    with pytest.raises(IndexError):
        rows[6]
