"""Hand-edited records (issue 7 class 3): every record is checked on read; a bad one is named
(file and id), flagged in lists, never valid (``invalid_record``), and still revocable."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import OWNER, analytics_draft, fixed_clock, web_draft
from store import layout
from store.errors import InvalidRecord, StoreUnusable
from store.repository import Repository
from store.validation import record_problem
from tui.cli import main

SHOP = "https://shop.example.com"


def hand_edit(store_path: Path, key_id: str, edit: Any) -> None:
    """Change one key record as a person with an editor would (plain json, not our layout)."""
    data = json.loads(store_path.read_text())
    record = data["keys"][key_id]
    result = edit(record)
    data["keys"][key_id] = record if result is None else result
    store_path.write_text(json.dumps(data, indent=1))


@pytest.fixture
def web_key(owner_repo: Repository) -> tuple[str, str]:
    created = owner_repo.create_key(web_draft())
    return created.key.id, created.secret.get_secret_value()


def reopened(store_path: Path) -> Repository:
    return Repository(store_path, OWNER, clock=fixed_clock)


BAD_RECORDS = {
    "unknown status": (lambda r: r.update(status="paused"), "unknown status 'paused'"),
    "number for a name": (lambda r: r.update(name=42), "name 42 is not text"),
    "bad expiry date": (
        lambda r: r.update(expires_at="next tuesday"), "expires_at 'next tuesday' is not a time"
    ),
    "impossible date": (
        lambda r: r.update(created_at="2026-02-30T10:00:00Z"), "created_at '2026-02-30T10:00:00Z'"
    ),
    "missing creator": (lambda r: r.__delitem__("created_by"), "created_by is not text"),
    "domains not a list": (
        lambda r: r["web"].update(domains="https://x.example"), "web.domains is not a list"
    ),
    "revision as text": (lambda r: r.update(revision="7"), "revision '7' is not a whole number"),
    "not an object": (lambda r: ["a", "list"], "not a record"),
}


@pytest.mark.parametrize("case", BAD_RECORDS, ids=list(BAD_RECORDS))
def test_a_bad_record_is_flagged_never_valid_and_still_revocable(
    owner_repo: Repository, store_path: Path, web_key: tuple[str, str], case: str
) -> None:
    key_id, secret = web_key
    edit, reason = BAD_RECORDS[case]
    hand_edit(store_path, key_id, edit)
    repo = reopened(store_path)

    [view] = [view for view in repo.list_keys() if view.id == key_id]
    assert view.problem is not None and reason in view.problem
    view.status(repo.now())  # the list's accessors never crash on it
    assert isinstance(view.name, str) and isinstance(view.created_at, str)

    verdict = repo.verify(secret, origin=SHOP)
    # A record that is not even an object has no hash to be found by.
    expected_reason = "unknown" if case == "not an object" else "invalid_record"
    assert not verdict.valid and verdict.reason == expected_reason

    with pytest.raises(InvalidRecord) as refusal:
        repo.get_key(key_id)
    message = str(refusal.value)
    assert str(store_path) in message and key_id in message and "\n" not in message

    repo.revoke_keys([key_id])
    assert not reopened(store_path).verify(secret, origin=SHOP).valid
    stored = json.loads(store_path.read_text())["keys"][key_id]
    assert stored["status"] == "revoked" and "secret" not in stored


def test_an_id_that_differs_from_its_table_key_is_flagged_and_revocable(
    owner_repo: Repository, store_path: Path, web_key: tuple[str, str]
) -> None:
    key_id, secret = web_key
    other = owner_repo.create_key(web_draft(name="Other")).key.id
    hand_edit(store_path, key_id, lambda r: r.update(id=other))
    repo = reopened(store_path)
    flagged = {view.id: view.problem for view in repo.list_keys()}
    assert "differs from its table key" in (flagged[key_id] or "") and flagged[other] is None
    assert repo.verify(secret, origin=SHOP).reason == "invalid_record"
    repo.revoke_keys([key_id])
    data = json.loads(store_path.read_text())["keys"]
    assert data[key_id]["status"] == "revoked"
    assert data[other]["status"] == "active"  # the key its id names is untouched


def test_a_record_that_fails_full_validation_can_be_revoked_from_the_cli(
    owner_repo: Repository, store_path: Path, web_key: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    key_id, secret = web_key
    # Right types, wrong content: the cheap check passes, pydantic does not.
    hand_edit(store_path, key_id, lambda r: r["web"].update(domains=["ftp://nope"]))
    assert main(["show", key_id, "--store", str(store_path)], login=OWNER) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and key_id in err and str(store_path) in err
    assert main(["revoke", key_id, "--yes", "--store", str(store_path)], login=OWNER) == 0
    assert f"Revoked {key_id}" in capsys.readouterr().out
    assert json.loads(store_path.read_text())["keys"][key_id]["status"] == "revoked"


def test_the_cli_list_shows_a_bad_record_flagged(
    owner_repo: Repository, store_path: Path, web_key: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    key_id, _ = web_key
    owner_repo.create_key(analytics_draft())
    hand_edit(store_path, key_id, lambda r: r.update(status="active\x1b[2J", name=["x"]))
    assert main(["list", "--store", str(store_path)], login=OWNER) == 0
    captured = capsys.readouterr()
    line = next(line for line in captured.out.splitlines() if key_id in line)
    assert "invalid: name" in line and "\x1b" not in captured.out
    assert "1 key record is not valid" in captured.err
    assert main(["list", "--json", "--store", str(store_path)], login=OWNER) == 0
    listed = {item["id"]: item["problem"] for item in json.loads(capsys.readouterr().out)}
    assert listed[key_id] and sum(1 for problem in listed.values() if problem) == 1


def test_unknown_status_never_verifies_even_when_the_rest_is_fine(
    owner_repo: Repository, store_path: Path, web_key: tuple[str, str]
) -> None:
    key_id, secret = web_key
    for status in ("ACTIVE", "valid", "", None, 1, True):
        hand_edit(store_path, key_id, lambda r, status=status: r.update(status=status))
        assert reopened(store_path).verify(secret, origin=SHOP).reason == "invalid_record", status


def test_every_record_a_real_store_holds_passes(owner_repo: Repository, store_path: Path) -> None:
    owner_repo.create_key(
        web_draft(developing_locally=True, networks=["10.0.0.0/8"], cross_page_persistence=True)
    )
    owner_repo.create_key(analytics_draft(project=None))
    key = owner_repo.create_key(web_draft(name="gone")).key
    owner_repo.revoke_keys([key.id])
    keys = json.loads(store_path.read_text())["keys"]
    assert all(record_problem(record, key_id) is None for key_id, record in keys.items())


# -- duplicate object keys ------------------------------------------------------------------


def test_a_duplicate_field_is_refused_naming_the_file_and_record(
    owner_repo: Repository, store_path: Path, web_key: tuple[str, str]
) -> None:
    key_id, secret = web_key
    owner_repo.revoke_keys([key_id])
    raw = store_path.read_text()
    # The visible status says revoked; a later duplicate says active (orjson keeps the last).
    store_path.write_text(raw.replace('"status":"revoked"', '"status":"revoked","status":"active"'))
    with pytest.raises(StoreUnusable) as refusal:
        reopened(store_path).verify(secret, origin=SHOP)
    message = str(refusal.value)
    assert str(store_path) in message and "'status'" in message and key_id in message
    assert "\n" not in message


def test_a_duplicate_key_id_in_the_table_is_refused(
    owner_repo: Repository, store_path: Path, web_key: tuple[str, str]
) -> None:
    key_id, _ = web_key
    raw = store_path.read_text()
    record = json.dumps(json.loads(raw)["keys"][key_id], separators=(",", ":"))
    store_path.write_text(raw.replace('"keys":{', f'"keys":{{"{key_id}":{record},', 1))
    with pytest.raises(StoreUnusable, match=f"names the field '{key_id}'"):
        reopened(store_path).list_keys()


def test_the_piecewise_reader_leaves_a_duplicate_to_the_whole_file_check(
    owner_repo: Repository, store_path: Path, web_key: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(20):
        owner_repo.create_key(web_draft(name=f"k{number}"))
    raw = store_path.read_bytes()
    monkeypatch.setattr(layout, "BLOCK_SIZE", 1024)
    assert layout.read_in_pieces(io.BytesIO(raw)) is not None
    doubled = raw.replace(b'"status":"active"', b'"status":"revoked","status":"active"', 1)
    assert layout.read_in_pieces(io.BytesIO(doubled)) is None
