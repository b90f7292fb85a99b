"""What a failed change keeps: last-used times noted by verify, and an unknown schema type."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

from conftest import FIXED_NOW, OWNER, web_draft
from store.errors import InvalidInput, StoreUnusable
from store.repository import Repository


def test_usage_noted_before_a_failed_change_is_written_by_the_next_one(owner_repo, store_path):
    created = owner_repo.create_key(web_draft())
    clock = [FIXED_NOW]
    verifier = Repository(store_path, OWNER, clock=lambda: clock[0])
    verifier.usage_recorder.next_flush_at = float("inf")  # keep the use noted, not written yet
    assert verifier.verify(created.secret.get_secret_value(), origin="https://shop.example.com").valid
    assert verifier.usage_recorder.pending()

    with pytest.raises(InvalidInput):
        verifier.edit_key(created.key.id, {"name": "x" * 65})
    assert verifier.usage_recorder.pending(), "a refused change must not throw the noted use away"

    verifier.add_project("Another")
    assert not verifier.usage_recorder.pending()
    assert owner_repo.get_key(created.key.id).last_used_at == "2026-12-01T09:30:00Z"


def test_usage_is_recorded_at_most_once_a_minute(owner_repo, store_path):
    created = owner_repo.create_key(web_draft())
    clock = [FIXED_NOW]
    verifier = Repository(store_path, OWNER, clock=lambda: clock[0])
    secret = created.secret.get_secret_value()
    verifier.verify(secret, origin="https://shop.example.com")
    first = owner_repo.get_key(created.key.id).last_used_at
    clock[0] = FIXED_NOW + timedelta(seconds=30)
    verifier.verify(secret, origin="https://shop.example.com")
    verifier.flush_usage()
    assert owner_repo.get_key(created.key.id).last_used_at == first
    clock[0] = FIXED_NOW + timedelta(seconds=61)
    verifier.verify(secret, origin="https://shop.example.com")
    verifier.flush_usage()
    assert owner_repo.get_key(created.key.id).last_used_at == "2026-12-01T09:31:01Z"


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_a_schema_version_of_another_type_is_refused(owner_repo, store_path, version):
    data = orjson.loads(store_path.read_bytes())
    data["_meta"]["1"]["schema_version"] = version
    store_path.write_bytes(orjson.dumps(data))
    before = store_path.read_bytes()
    with pytest.raises(StoreUnusable, match="schema version"):
        Repository(store_path, OWNER).list_keys()
    assert store_path.read_bytes() == before
