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
    rows = WindowedRows(repo.key_source("created_asc"), page=2, keep=2)
    assert len(rows) == 6
    assert rows[5].id == ids[5] and rows[4].id == ids[4]
    assert rows.fetches == 1  # one page: the last
    assert [view.id for view in rows[0:2]] == ids[:2]
    assert rows[2].id == ids[2] and rows.fetches == 3  # the page after a kept one
    assert rows.index(ids[3]) == 3 and rows.index(rows[1]) == 1
    assert "key_nosuchkey" not in rows and ids[2] in rows
    with pytest.raises(IndexError):
        rows[6]


def test_windowed_rows_read_pages_by_keyset_and_from_the_end(filled) -> None:
    """Pages next to a kept one, the last pages and a page around a known key read the same
    rows as a plain offset window would."""
    from store.key_source import WindowedRows

    repo, _ids = filled
    for order in ("created_desc", "created_asc", "scope", "last_used"):
        expected = [view.id for view in repo.key_source(order).window(0, 10)]
        rows = WindowedRows(repo.key_source(order), page=2, keep=8)
        assert [rows[i].id for i in (5, 4, 3, 2, 1, 0)] == expected[::-1]
        rows = WindowedRows(repo.key_source(order), page=2, keep=8)
        assert [view.id for view in rows] == expected
        around = WindowedRows(repo.key_source(order), page=4, length=6, exact=True)
        around.read_around(5, expected[5])
        assert around.cached(4).id == expected[4] and around.cached(5).id == expected[5]
        assert [around[i].id for i in range(6)] == expected


def test_a_pasted_secret_and_derived_words_find_keys(filled, store_target) -> None:
    """The filter as the file store's finder reads it: a full secret finds its key by hash,
    ``unused`` finds keys never used."""
    repo, _ids = filled
    created = repo.create_key(web_draft(name="Pasted one"))
    secret = created.secret.get_secret_value()
    source = repo.key_source("created_desc", secret)
    assert [view.id for view in source.window(0, 10)] == [created.key.id]
    assert repo.key_source("created_desc", "unused pasted").count() == 1
    assert repo.key_source("created_desc", "web_" + "x" * 40).count() == 0


def test_a_far_page_is_read_in_a_worker_with_stand_ins_meanwhile(filled, monkeypatch) -> None:
    """On a database, a page only OFFSET reaches reads as stand-ins and is handed to the
    screen to read elsewhere; the file store's index reads any page at once."""
    from store.key_source import WindowedRows, is_pending

    repo, ids = filled
    monkeypatch.setattr(WindowedRows, "FAR", 2)
    monkeypatch.setattr(WindowedRows, "NEAR_END", 0)
    rows = WindowedRows(repo.key_source("created_asc"), page=2, length=6)
    asked: list[int] = []
    rows.on_far_page = asked.append
    view = rows[2]
    if not repo.is_postgres:
        assert view.id == ids[2] and asked == []
        return
    assert is_pending(view) and asked == [1]
    assert is_pending(rows[3]) and asked == [1]  # asked once per page
    rows.put_page(1, rows.read_far_page(1))
    assert [rows[2].id, rows[3].id] == ids[2:4]
    assert [view.id for view in rows.read_far_page(2)] == ids[4:6]  # counted from the end
    assert rows[4].id == ids[4] and asked == [1]  # beside a kept page: by keyset, at once


def test_a_page_that_cannot_be_read_reads_as_stand_ins_and_is_told_once() -> None:
    from store.errors import StoreUnusable
    from store.key_source import WindowedRows, is_pending

    class Broken:
        def count(self, at_most=None):
            return 10

        def window(self, offset, limit, **kwargs):
            raise StoreUnusable("lost the connection")

        def position(self, key_id):
            return None

    told: list[str] = []
    rows = WindowedRows(Broken(), page=4)
    rows.on_error = lambda error: told.append(str(error))
    assert is_pending(rows[0]) and is_pending(rows[9])
    assert told == ["lost the connection"]
    bare = WindowedRows(Broken(), page=4)
    with pytest.raises(StoreUnusable):
        bare[0]
