"""The main table's index: orders, narrowing filter, a preparation that a newer load stops,
and the loading line's progress from a store parsed in pieces."""

from __future__ import annotations

import pytest

from conftest import analytics_draft, mobile_draft, web_draft
from store import layout, storage
from store.find import hide_secrets, parse_query
from store.key_index import SORT_ORDERS, KeyIndex
from store.repository import Repository


@pytest.fixture
def index(owner_repo: Repository) -> KeyIndex:
    for number in range(6):
        owner_repo.create_key(web_draft(name=f"Shop {number}"))
        owner_repo.create_key(mobile_draft(name=f"App {number}"))
        owner_repo.create_key(analytics_draft(name=f"Export {number}"))
    return KeyIndex(owner_repo.list_keys(), owner_repo.now())


def test_every_order_holds_every_key_once(index: KeyIndex) -> None:
    for order in SORT_ORDERS:
        assert sorted(index.positions(order)) == list(range(len(index)))
    assert list(index.positions("created_asc")) == list(index.positions("created_desc"))[::-1]
    assert [view.id for view in index.newest(5)] == [view.id for view in index.rows("created_desc")[:5]]


def test_typing_on_narrows_to_what_a_fresh_search_finds(index: KeyIndex) -> None:
    for text in ("s", "sh", "shop", "shop 1", "shop 1 web", "shop", "app", "ap"):
        narrowed = [view.id for view in index.rows("scope", text)]
        fresh = [view.id for view in KeyIndex(index.views, "").rows("scope", text)]
        assert narrowed == fresh, text


def test_a_stopped_preparation_gives_up_between_steps(index: KeyIndex) -> None:
    steps: list[float] = []

    def pause(seconds: float) -> None:
        steps.append(seconds)
        index.stopped = True  # a newer load arrived

    index.prepare(pause=pause)
    assert len(steps) == 1 and not index.prepared
    fresh = KeyIndex(index.views, "")
    fresh.prepare(pause=lambda seconds: None)
    assert fresh.prepared


def test_a_pasted_secret_is_masked_and_kept_as_its_hash_only(owner_repo: Repository) -> None:
    created = owner_repo.create_key(web_draft())
    secret = created.secret.get_secret_value()
    shown, masks = hide_secrets(f"store {secret}")
    assert shown == f"store {created.key.key_prefix}…" and secret not in repr(masks)
    query = parse_query(shown, masks)
    assert query.words == ("store",) and query.holds_secret
    assert [view.id for view in owner_repo.key_finder().find(query)] == [created.key.id]


def test_a_big_store_parse_reports_its_progress(owner_repo: Repository, store_path, monkeypatch) -> None:
    for number in range(20):
        owner_repo.create_key(web_draft(name=f"Shop {number}"))
    monkeypatch.setattr(storage, "PIECEWISE_FROM", 0)
    monkeypatch.setattr(layout, "BLOCK_SIZE", 1024)
    reader = Repository(store_path, owner_repo.login)
    heard: list[tuple[int, int]] = []
    reader.report_reading(lambda done, total: heard.append((done, total)))
    assert len(reader.list_keys()) == 20
    assert heard and heard[-1][1] == 20 and all(done <= 20 for done, _ in heard)
    reader.report_reading(None)


def test_a_reload_does_not_freeze_cyclic_garbage_for_good(owner_repo: Repository, store_path) -> None:
    import gc
    import weakref

    class Node:
        pass

    owner_repo.create_key(web_draft())
    reader = Repository(store_path, owner_repo.login)
    reader.list_keys()  # a first load: its objects are frozen out of the collector's sight
    node = Node()
    node.me = node  # type: ignore[attr-defined]
    gone = weakref.ref(node)
    del node  # cyclic garbage, waiting for the collector
    owner_repo.create_key(web_draft(name="Another"))
    reader.list_keys()  # a reload, frozen in turn
    gc.collect()
    assert gone() is None
