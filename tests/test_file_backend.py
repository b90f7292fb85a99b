"""The file backend: today's store file and audit trail behind the backend interface."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import fixed_clock
from store.backend import Backend, KeyQuery, KeySort
from store.backends import open_backend
from store.backends.file import FileBackend
from store.key_index import KeyIndex
from store.models import AuditEvent
from store.repository import stamped
from store.seed import seed_demo
from store.storage import SCHEMA_VERSION

NOW = "2026-12-01T09:30:00Z"


@pytest.fixture
def demo_store(store_path: Path) -> FileBackend:
    seed_demo(store_path, "mgarcia", keys=250, seed=5, clock=fixed_clock)
    return FileBackend(store_path)


def test_a_path_opens_the_file_backend_which_is_a_backend(store_path: Path) -> None:
    backend = open_backend(store_path)
    assert isinstance(backend, FileBackend) and isinstance(backend, Backend)
    assert not backend.exists()


def test_create_then_read_meta_members_and_audit(store_path: Path) -> None:
    backend = FileBackend(store_path)
    owner = {"login": "alice", "role": "owner", "display_name": "Alice", "added_at": NOW, "added_by": "alice"}
    event = AuditEvent(at=NOW, actor="alice", action="store.init", detail="created")
    assert backend.create({"organisation": "Acme"}, owner, [event])
    assert not backend.create({"organisation": "Other"}, owner, [])
    assert backend.meta()["organisation"] == "Acme"
    assert backend.member("alice") == owner and backend.member("bob") is None
    assert backend.schema_version() == SCHEMA_VERSION
    assert [r["action"] for r in backend.audit_records()] == ["store.init"]


def test_a_change_writes_the_file_and_its_audit_events_together(demo_store: FileBackend) -> None:
    key_id = demo_store.window(KeyQuery(), 0, 1)[0]["id"]
    marker = demo_store.change_marker()
    with demo_store.transaction() as transaction:
        transaction.keys[key_id] = stamped(transaction.keys[key_id], NOW, "mgarcia", name="Renamed")
        transaction.changed()
        transaction.record_events([AuditEvent(at=NOW, actor="mgarcia", action="key.edit", key_id=key_id)])
    assert demo_store.key(key_id)["name"] == "Renamed"
    assert demo_store.audit_records(key_id)[-1]["action"] == "key.edit"
    assert demo_store.change_marker() != marker
    assert demo_store.key_by_hash(demo_store.key(key_id)["secret_hash"])["id"] == key_id


@pytest.mark.parametrize("sort", [KeySort.CREATED_DESC, KeySort.CREATED_ASC, KeySort.SCOPE])
@pytest.mark.parametrize("text", ["", "prod", "web checkout"])
def test_windows_follow_the_key_lists_order_and_filter(
    demo_store: FileBackend, sort: KeySort, text: str
) -> None:
    from store.models import KeyView
    from store.repository import ALL_PROJECTS

    data = demo_store.storage.current()
    names = {pid: p["name"] for pid, p in data["projects"].items()}
    views = [KeyView(r, names.get(r.get("project_id"), ALL_PROJECTS)) for r in data["keys"].values()]
    expected = [view.id for view in KeyIndex(views).rows(sort.value, text)]
    query = KeyQuery(sort=sort, words=KeyQuery.words_of(text))
    if text:  # the backend's filter also looks in creator, status and key prefix: a superset
        found = [r["id"] for r in demo_store.window(query, 0, 1000)]
        assert [key_id for key_id in found if key_id in set(expected)] == expected
    else:
        assert [r["id"] for r in demo_store.window(query, 0, 1000)] == expected
        assert demo_store.count(query) == len(expected)
        assert [r["id"] for r in demo_store.window(query, 0, 20, after=expected[9])] == expected[10:30]
        assert demo_store.position(query, expected[42]) == 42


def test_last_used_times_only_move_forward(demo_store: FileBackend) -> None:
    key_id = demo_store.window(KeyQuery(), 0, 1)[0]["id"]
    assert demo_store.note_last_used({key_id: "2026-12-01T09:45:00Z"}) == {key_id}
    demo_store.note_last_used({key_id: "2026-01-01T00:00:00Z"})
    assert demo_store.key(key_id)["last_used_at"] == "2026-12-01T09:45:00Z"


def test_a_developer_sees_organisation_events_and_their_own_keys_events(demo_store: FileBackend) -> None:
    visible = demo_store.audit_records(visible_to="tnguyen")
    keys = demo_store.storage.current()["keys"]
    assert visible and all(
        r.get("key_id") is None or keys[r["key_id"]]["created_by"] == "tnguyen" for r in visible
    )
    assert len(visible) < len(demo_store.audit_records())
