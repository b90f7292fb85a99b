"""The store is written so it can be read a block at a time; any other shape is read whole."""

from __future__ import annotations

import io

import orjson
import pytest

from conftest import OWNER, web_draft
from store import layout
from store.repository import Repository


def stored_bytes(repo: Repository) -> bytes:
    return repo.path.read_bytes()


@pytest.mark.parametrize("block_size", [7, 64, 4096])
def test_pieces_give_exactly_what_a_whole_parse_gives(owner_repo, monkeypatch, block_size):
    for index in range(40):
        owner_repo.create_key(web_draft(name=f'tricky }},"key_AAAAAAAAAA":{{ {index} \\"'))
    raw = stored_bytes(owner_repo)
    monkeypatch.setattr(layout, "BLOCK_SIZE", block_size)
    assert layout.read_in_pieces(io.BytesIO(raw)) == orjson.loads(raw)


def test_keys_table_is_last_and_counted(owner_repo):
    owner_repo.create_key(web_draft())
    data = orjson.loads(stored_bytes(owner_repo))
    assert list(data)[-1] == "keys"
    assert data["_meta"]["1"]["key_count"] == 1


def test_an_empty_keys_table_reads_in_pieces(owner_repo):
    raw = stored_bytes(owner_repo)
    assert layout.read_in_pieces(io.BytesIO(raw))["keys"] == {}


@pytest.mark.parametrize("reshape", ["indented", "keys-first", "count-off"])
def test_other_shapes_are_refused_by_the_reader_and_read_whole(owner_repo, store_path, reshape):
    created = owner_repo.create_key(web_draft())
    data = orjson.loads(stored_bytes(owner_repo))
    if reshape == "indented":
        raw = orjson.dumps(data, option=orjson.OPT_INDENT_2)
    elif reshape == "keys-first":
        raw = orjson.dumps({"keys": data["keys"], **{k: v for k, v in data.items() if k != "keys"}})
    else:
        data["_meta"]["1"]["key_count"] = 5
        raw = orjson.dumps(data)
    assert layout.read_in_pieces(io.BytesIO(raw)) is None
    store_path.write_bytes(raw)
    reader = Repository(store_path, OWNER)
    assert [view.id for view in reader.list_keys()] == [created.key.id]


def test_a_hand_edited_record_with_a_key_like_field_is_still_read_right(owner_repo, store_path):
    first = owner_repo.create_key(web_draft(name="first"))
    owner_repo.create_key(web_draft(name="second"))
    data = orjson.loads(stored_bytes(owner_repo))
    # A field shaped like a record id holding an object, inside a record: the reader must not
    # cut there (if it did, the piece would not parse and the file would be read whole).
    data["keys"][first.key.id]["key_BBBBBBBBBB"] = {"x": 1}
    raw = orjson.dumps(data)
    expected = orjson.loads(raw)
    got = layout.read_in_pieces(io.BytesIO(raw))
    assert got in (None, expected)
    store_path.write_bytes(raw)
    assert {view.name for view in Repository(store_path, OWNER).list_keys()} == {"first", "second"}


def test_a_big_store_is_read_in_pieces_and_a_small_one_whole(owner_repo, store_path, monkeypatch):
    from store import storage

    for index in range(5):
        owner_repo.create_key(web_draft(name=f"key {index}"))
    calls = []
    real = storage.read_pieces
    monkeypatch.setattr(storage, "read_pieces",
                        lambda handle, progress=None: calls.append(1) or real(handle, progress))

    small = Repository(store_path, OWNER)
    assert len(small.list_keys()) == 5 and calls == []

    monkeypatch.setattr(storage, "PIECEWISE_FROM", 0)
    big = Repository(store_path, OWNER)
    assert sorted(view.name for view in big.list_keys()) == [f"key {i}" for i in range(5)]
    assert calls == [1]


def test_the_head_is_read_without_the_keys(owner_repo, monkeypatch):
    for index in range(30):
        owner_repo.create_key(web_draft(name=f"key {index}"))
    raw = stored_bytes(owner_repo)
    monkeypatch.setattr(layout, "BLOCK_SIZE", 256)
    handle = io.BytesIO(raw)
    head = layout.read_head(handle)
    assert head is not None and head["keys"] == {}
    assert head["members"] == orjson.loads(raw)["members"]
    assert handle.tell() <= raw.index(b',"keys":{') + 2 * 256  # it stopped soon after the keys began
    assert layout.read_head(io.BytesIO(b'{"keys": ')) is None


def test_pieces_report_progress_and_share_equal_values(owner_repo, monkeypatch):
    for index in range(30):
        owner_repo.create_key(web_draft(name="same name" if index % 2 else f"key {index}"))
    raw = stored_bytes(owner_repo)
    monkeypatch.setattr(layout, "BLOCK_SIZE", 512)
    heard: list[tuple[int, int]] = []
    data = layout.read_in_pieces(io.BytesIO(raw), lambda done, total: heard.append((done, total)))
    assert data == orjson.loads(raw)
    assert len(heard) > 3 and all(total == 30 for _, total in heard)
    assert [done for done, _ in heard] == sorted(done for done, _ in heard)
    records = list(data["keys"].values())
    same = [record["name"] for record in records if record["name"] == "same name"]
    assert len(same) == 15 and all(name is same[0] for name in same)
    assert all(record["web"] is records[0]["web"] for record in records)  # equal settings
    assert len({id(record["created_by"]) for record in records}) == 1
