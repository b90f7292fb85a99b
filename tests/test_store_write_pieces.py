"""A change copies the keys table's unchanged pieces from the file it replaces (within the
kernel) instead of serialising every record again, and writes byte for byte what a whole
serialisation writes."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import orjson
import pytest

from conftest import OWNER, fixed_clock, web_draft
from store import layout, storage
from store.errors import StoreUnusable
from store.repository import Repository


def written_as_serialise_writes(path: Path) -> bool:
    """Whether the file is exactly what ``layout.serialise`` makes of its contents."""
    raw = path.read_bytes()
    data = orjson.loads(raw)
    del data[layout.NEWEST_TABLE]  # serialise picks the newest keys itself
    return layout.serialise(data) == raw


@pytest.fixture
def copied(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Pieces of three records; the bytes of each copy from the replaced file."""
    monkeypatch.setattr(layout, "PIECE_RECORDS", 3)
    lengths: list[int] = []
    copy_range = storage._copy_range

    def counting(source: int, target: int, offset: int, length: int) -> bool:
        lengths.append(length)
        return copy_range(source, target, offset, length)

    monkeypatch.setattr(storage, "_copy_range", counting)
    return lengths


@pytest.fixture
def ten_keys(owner_repo: Repository, copied: list[int]) -> list[str]:
    return [owner_repo.create_key(web_draft(name=f"Key {number}")).key.id for number in range(10)]


def names(store_path: Path) -> dict[str, str]:
    """Every key's name, as a new process reads the file."""
    return {view.id: view.name for view in Repository(store_path, OWNER).list_keys()}


def test_a_change_copies_the_unchanged_pieces(owner_repo, store_path, ten_keys, copied):
    copied.clear()
    owner_repo.edit_key(ten_keys[4], {"name": "Renamed"})
    owner_repo.revoke_keys([ten_keys[0]])
    added = owner_repo.create_key(web_draft(name="Added")).key.id
    size = store_path.stat().st_size
    assert sum(copied) > size  # three writes, each of which copied most of the file
    assert written_as_serialise_writes(store_path)
    assert names(store_path) == {**{key_id: f"Key {n}" for n, key_id in enumerate(ten_keys)},
                                 ten_keys[4]: "Renamed", added: "Added"}
    assert Repository(store_path, OWNER).key_view(ten_keys[0]).record["status"] == "revoked"


def test_after_another_process_changed_the_file_every_record_is_serialised(
    owner_repo, store_path, ten_keys, copied
):
    other = Repository(store_path, OWNER, clock=fixed_clock)
    other.edit_key(ten_keys[1], {"name": "Theirs"})
    copied.clear()
    owner_repo.edit_key(ten_keys[2], {"name": "Ours"})
    assert copied == []  # the pieces described the file the other process replaced
    assert written_as_serialise_writes(store_path)
    assert names(store_path)[ten_keys[1]] == "Theirs" and names(store_path)[ten_keys[2]] == "Ours"
    owner_repo.edit_key(ten_keys[3], {"name": "Ours too"})
    assert copied and written_as_serialise_writes(store_path)


def test_a_file_changed_under_the_copy_is_written_whole(owner_repo, store_path, ten_keys, monkeypatch):
    monkeypatch.setattr(storage, "_copy_range", lambda *_args: False)  # as if edited in place
    owner_repo.edit_key(ten_keys[5], {"name": "Renamed"})
    assert written_as_serialise_writes(store_path)
    assert names(store_path)[ten_keys[5]] == "Renamed"


def test_without_copy_file_range_the_pieces_are_read_and_written(
    owner_repo, store_path, ten_keys, copied, monkeypatch
):
    def unsupported(*_args: object) -> int:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "copy_file_range", unsupported)
    owner_repo.edit_key(ten_keys[6], {"name": "Renamed"})
    assert copied and written_as_serialise_writes(store_path)
    assert names(store_path)[ten_keys[6]] == "Renamed"


def test_the_first_change_after_a_read_in_pieces_copies_too(store_path, ten_keys, copied, monkeypatch):
    monkeypatch.setattr(storage, "PIECEWISE_FROM", 0)  # every store is read a block at a time
    monkeypatch.setattr(layout, "BLOCK_SIZE", 512)
    reader = Repository(store_path, OWNER, clock=fixed_clock)
    reader.list_keys()
    copied.clear()
    reader.edit_key(ten_keys[7], {"name": "Renamed"})
    assert copied and written_as_serialise_writes(store_path)
    assert names(store_path)[ten_keys[7]] == "Renamed"


def test_a_key_id_in_two_pieces_is_refused_as_a_whole_read_refuses_it(
    store_path, ten_keys, monkeypatch
):
    monkeypatch.setattr(storage, "PIECEWISE_FROM", 0)
    monkeypatch.setattr(layout, "BLOCK_SIZE", 512)
    raw = store_path.read_bytes()
    first = ten_keys[0]
    again = {**orjson.loads(raw)["keys"][first], "name": "Twice"}  # a hand edit, at the end
    store_path.write_bytes(raw[:-2] + b',"' + first.encode() + b'":' + orjson.dumps(again) + b"}}")
    with open(store_path, "rb") as handle:
        assert layout.read_pieces(handle) is None
    with pytest.raises(StoreUnusable, match="twice"):
        Repository(store_path, OWNER).list_keys()


def test_a_write_through_tinydb_which_changes_documents_in_place_copies_nothing(
    owner_repo, store_path, ten_keys, copied
):
    from store.storage import StoreDB

    database = StoreDB(store_path)
    database.storage.write(database.storage.read())  # the pieces of its own write
    copied.clear()
    database.table("keys").update({"name": "Changed in place"}, doc_ids=[ten_keys[8]])
    assert copied == [] and written_as_serialise_writes(store_path)
    assert names(store_path)[ten_keys[8]] == "Changed in place"
