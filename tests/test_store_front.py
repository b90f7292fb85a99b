"""The front line of the store file: the newest keys, readable before the rest is parsed
(a first screen that costs the screen), never trusted beyond that, never a weaker store."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from conftest import OWNER, analytics_draft, fixed_clock, web_draft
from store import layout, storage
from store.errors import StoreUnusable
from store.key_index import KeyIndex
from store.repository import Repository


def front_and_rest(path: Path) -> tuple[bytes, bytes]:
    raw = path.read_bytes()
    front, newline, rest = raw.partition(b"\n")
    assert newline, "the front is a line of its own"
    return front, rest


def newest_ids(repo: Repository, count: int) -> list[str]:
    preview = repo.newest_keys(count)
    assert preview is not None
    return [view.id for view in preview.views]


def listed_ids(repo: Repository, count: int) -> list[str]:
    """The first ``count`` rows of the main list's default order, from the whole store."""
    views = Repository(repo.path, repo.login).list_keys(include_revoked=False)
    return [view.id for view in KeyIndex(views).rows("created_desc")[:count]]


def test_the_file_starts_with_a_front_line_of_the_newest_keys_without_secrets(owner_repo, store_path):
    created = [owner_repo.create_key(web_draft(name=f"key {number}")) for number in range(5)]
    front, rest = front_and_rest(store_path)
    parsed = orjson.loads(front + b"}")
    assert list(parsed) == ["_meta", "projects", "members", "_newest"]
    assert parsed["_meta"]["1"]["schema_version"] == storage.SCHEMA_VERSION == 2
    assert set(parsed["_newest"]) == {key.key.id for key in created}
    assert all("secret" not in record for record in parsed["_newest"].values())
    for key in created:
        assert key.secret.get_secret_value().encode() not in front
    assert rest.startswith(b",") and rest.rstrip().endswith(b"}}")
    assert "_newest" not in owner_repo.storage.current()  # never part of the data read


def test_the_preview_is_the_top_of_the_main_list_ties_included(store_path):
    moments = iter(fixed_clock() + timedelta(seconds=second // 3) for second in range(10_000))
    repo = Repository(store_path, OWNER, clock=lambda: next(moments))
    repo.initialise("Acme")
    repo.add_project("Storefront", deployed=True)
    keys = [repo.create_key(web_draft(name=f"key {number}")).key.id for number in range(12)]
    repo.revoke_keys([keys[-2]])
    reader = Repository(store_path, OWNER)
    assert newest_ids(reader, 6) == listed_ids(reader, 6)
    assert keys[-2] not in newest_ids(reader, 6)  # revoked keys are left out, as the list does


def test_the_preview_reads_only_the_front(owner_repo, store_path, monkeypatch):
    for number in range(3):
        owner_repo.create_key(web_draft(name=f"key {number}"))

    def no_full_read(*_args: object) -> None:
        raise AssertionError("the whole store was read")

    monkeypatch.setattr(storage.StoreFile, "_load", no_full_read)
    preview = Repository(store_path, OWNER).newest_keys(2)
    assert preview is not None
    assert (preview.organisation, preview.role.value, preview.key_count) == ("Acme Studio", "owner", 3)
    assert [view.name for view in preview.views] == ["key 2", "key 1"]
    assert preview.views[0].project_name == "Storefront"


def test_a_member_who_sees_only_their_own_keys_gets_the_front_filtered(owner_repo, store_path, monkeypatch):
    owner_repo.add_member("dev1", "developer")
    developer = Repository(store_path, "dev1", clock=fixed_clock)
    mine = developer.create_key(web_draft(name="mine")).key.id
    for number in range(4):
        owner_repo.create_key(web_draft(name=f"theirs {number}"))
    preview = Repository(store_path, "dev1").newest_keys(1)
    assert preview is not None and [view.id for view in preview.views] == [mine]
    # Fewer of their keys than a screenful: all of them, as the front holds every key ...
    assert [view.id for view in Repository(store_path, "dev1").newest_keys(5).views] == [mine]
    # ... but when the store holds more than the front, they wait for the whole store.
    monkeypatch.setattr(layout, "NEWEST_COUNT", 3)
    owner_repo.create_key(web_draft(name="one more"))
    assert Repository(store_path, "dev1").newest_keys(5) is None
    assert Repository(store_path, OWNER).newest_keys(3) is not None


def test_no_preview_for_a_stranger_a_parsed_store_or_postgres_like_cases(owner_repo, store_path):
    owner_repo.create_key(web_draft())
    assert Repository(store_path, "mallory").newest_keys(5) is None
    assert owner_repo.newest_keys(5) is None  # parsed already: the caller reads the store
    assert Repository(store_path, OWNER).newest_keys(0) is None


def test_a_schema_1_store_is_read_and_moved_forward_by_its_next_change(owner_repo, store_path):
    key = owner_repo.create_key(web_draft()).key.id
    data = orjson.loads(store_path.read_bytes().replace(b"\n", b"", 1))
    del data["_newest"]
    data["_meta"]["1"]["schema_version"] = 1
    store_path.write_bytes(orjson.dumps(data))  # as round one wrote it

    old = Repository(store_path, OWNER)
    assert old.newest_keys(5) is None  # no front: the first screen waits for the whole store
    assert [view.id for view in old.list_keys()] == [key]
    old.create_key(analytics_draft())
    front, _rest = front_and_rest(store_path)
    assert orjson.loads(front + b"}")["_meta"]["1"]["schema_version"] == 2
    assert len(newest_ids(Repository(store_path, OWNER), 2)) == 2


def test_a_planted_front_is_shown_only_until_the_store_is_read(owner_repo, store_path):
    real = owner_repo.create_key(web_draft(name="real")).key.id
    owner_repo.revoke_keys([real])
    front, rest = front_and_rest(store_path)
    parsed = orjson.loads(front + b"}")
    planted = {**parsed["_newest"][real], "status": "active", "name": "looks \x1b[31mfine"}
    ghost = {**planted, "id": "key_GHOSTGHOST", "name": "ghost"}
    parsed["_newest"] = {"key_GHOSTGHOST": ghost, real: planted}
    store_path.write_bytes(orjson.dumps(parsed)[:-1] + b"\n" + rest)

    reader = Repository(store_path, OWNER)
    preview = reader.newest_keys(2)
    assert preview is not None and {view.id for view in preview.views} == {real, "key_GHOSTGHOST"}
    assert [view.id for view in reader.list_keys()] == [real]  # the keys table decides
    assert reader.list_keys()[0].record["status"] == "revoked"
    reader.create_key(web_draft(name="next"))  # and the next change writes a true front
    front, _rest = front_and_rest(store_path)
    assert set(orjson.loads(front + b"}")["_newest"]) <= set(reader.storage.current()["keys"])


def test_hand_edited_records_in_the_front_are_flagged_not_trusted(owner_repo, store_path):
    owner_repo.create_key(web_draft())
    front, rest = front_and_rest(store_path)
    parsed = orjson.loads(front + b"}")
    parsed["_newest"] = {"key_BADBADBAD1": {"id": "key_BADBADBAD1", "name": ["not", "text"],
                                            "created_at": 5, "status": "active", "scope": "web"}}
    store_path.write_bytes(orjson.dumps(parsed)[:-1] + b"\n" + rest)
    preview = Repository(store_path, OWNER).newest_keys(1)
    assert preview is not None
    assert preview.views[0].problem and isinstance(preview.views[0].name, str)


@pytest.mark.parametrize("spoil", ["not-a-table", "extra-table", "no-newline", "too-long"])
def test_a_front_of_another_shape_gives_no_preview_and_the_store_still_reads(
    owner_repo, store_path, monkeypatch, spoil
):
    key = owner_repo.create_key(web_draft()).key.id
    front, rest = front_and_rest(store_path)
    parsed = orjson.loads(front + b"}")
    if spoil == "not-a-table":
        parsed["_newest"] = ["key_x"]
    elif spoil == "extra-table":
        parsed["x"] = {}
    raw = orjson.dumps(parsed)[:-1] + (b"" if spoil == "no-newline" else b"\n") + rest
    store_path.write_bytes(raw)
    if spoil == "too-long":
        monkeypatch.setattr(layout, "FRONT_LIMIT", 16)
    reader = Repository(store_path, OWNER)
    assert reader.newest_keys(1) is None
    assert [view.id for view in reader.list_keys()] == [key]


def test_the_front_is_refused_as_the_store_is(owner_repo, store_path):
    owner_repo.create_key(web_draft())
    front, rest = front_and_rest(store_path)
    parsed = orjson.loads(front + b"}")
    parsed["_meta"]["1"]["schema_version"] = 99
    store_path.write_bytes(orjson.dumps(parsed)[:-1] + b"\n" + rest)
    with pytest.raises(StoreUnusable, match="schema version 99"):
        Repository(store_path, OWNER).newest_keys(1)
    store_path.unlink()
    os.mkfifo(store_path)
    with pytest.raises(StoreUnusable, match="FIFO"):
        Repository(store_path, OWNER).newest_keys(1)


def test_a_field_named_twice_in_the_front_refuses_the_store(owner_repo, store_path):
    owner_repo.create_key(web_draft())
    raw = store_path.read_bytes()
    doubled = raw.replace(b'"status":"active"', b'"status":"revoked","status":"active"', 1)
    assert doubled.index(b'"status":"revoked"') < doubled.index(b"\n")  # in the front
    store_path.write_bytes(doubled)
    assert Repository(store_path, OWNER).newest_keys(1) is None
    with pytest.raises(StoreUnusable, match="twice"):
        Repository(store_path, OWNER).list_keys()


def test_a_newline_elsewhere_than_after_the_front_is_read_whole(owner_repo, store_path, monkeypatch):
    key = owner_repo.create_key(web_draft()).key.id
    raw = store_path.read_bytes().replace(b"\n", b"", 1).replace(b',"keys":{', b',\n"keys":{', 1)
    store_path.write_bytes(raw)
    monkeypatch.setattr(storage, "PIECEWISE_FROM", 0)
    reader = Repository(store_path, OWNER)
    assert reader.newest_keys(1) is None
    assert [view.id for view in reader.list_keys()] == [key]


def test_the_start_check_reads_the_front_only(owner_repo, store_path, monkeypatch):
    owner_repo.create_key(web_draft())

    def no_head(*_args: object) -> None:
        raise AssertionError("read past the front")

    monkeypatch.setattr(storage, "read_head", no_head)
    Repository(store_path, OWNER).storage.check_head()  # schema and tables checked, no error


def test_fronts_written_one_change_after_another_are_as_a_full_ranking(store_path, monkeypatch):
    monkeypatch.setattr(layout, "NEWEST_COUNT", 4)
    moments = iter(fixed_clock() + timedelta(seconds=second // 2) for second in range(10_000))
    repo = Repository(store_path, OWNER, clock=lambda: next(moments))
    repo.initialise("Acme")
    repo.add_project("Storefront", deployed=True)
    keys = []
    for number in range(12):  # two keys a second: ties at the front's edge
        keys.append(repo.create_key(web_draft(name=f"key {number}")).key.id)
        if number % 3 == 2:
            repo.revoke_keys([keys[number - 1]])
        if number % 4 == 3:
            repo.edit_key(keys[number], {"name": f"edited {number}"})
        written, _rest = front_and_rest(store_path)
        stored = repo.storage.current()["keys"]
        assert orjson.loads(written + b"}")["_newest"] == layout.newest_records(stored, 4)


def test_a_front_with_odd_project_values_still_previews(owner_repo, store_path):
    key = owner_repo.create_key(web_draft()).key.id
    front, rest = front_and_rest(store_path)
    parsed = orjson.loads(front + b"}")
    parsed["_newest"][key]["project_id"] = ["not", "an", "id"]  # would not hash
    for project in parsed["projects"].values():
        project["name"] = 5
    store_path.write_bytes(orjson.dumps(parsed)[:-1] + b"\n" + rest)
    preview = Repository(store_path, OWNER).newest_keys(1)
    assert preview is not None and preview.views[0].problem
    assert all(isinstance(view.project_name, str) for view in preview.views)
