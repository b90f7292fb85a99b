"""Find: every typed word anywhere in name, id, key prefix, project name and id, scope, creator
and status; a pasted full secret finds exactly its key by hash; ``apikeys list --find``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import orjson
import pytest

from conftest import OWNER, analytics_draft, fixed_clock, mobile_draft, new_owner_repo, web_draft
from store import tokens
from store.find import KeyFinder, parse_query
from store.repository import Repository
from tui.cli import main


@pytest.fixture
def owner_repo(store_target: Path | str) -> Repository:
    """The shared owner_repo, on the file store and on PostgreSQL (``store_target``)."""
    return new_owner_repo(store_target)


@pytest.fixture
def keys(owner_repo: Repository):
    """Keys of two creators in two projects; one revoked."""
    owner_repo.add_member("bob", "developer")
    owner_repo.add_project("Warehouse", deployed=True)
    bob = Repository(owner_repo.store, "bob", clock=fixed_clock)
    made = {
        "checkout": owner_repo.create_key(web_draft(name="Checkout widget")),
        "ios": owner_repo.create_key(mobile_draft(name="iOS app")),
        "export": owner_repo.create_key(analytics_draft(name="Weekly export", days=30)),
        "stock": bob.create_key(web_draft(project="Warehouse", name="Stock checker")),
        "old": bob.create_key(web_draft(project="Warehouse", name="Old stock feed")),
    }
    bob.revoke_keys([made["old"].key.id])
    return made


def names(views) -> set[str]:
    return {view.name for view in views}


def test_every_word_must_appear_somewhere(owner_repo: Repository, keys) -> None:
    assert names(owner_repo.find_keys("check")) == {"Checkout widget", "Stock checker"}
    assert names(owner_repo.find_keys("CHECK web warehouse")) == {"Stock checker"}
    assert names(owner_repo.find_keys("stock bob")) == {"Stock checker", "Old stock feed"}
    assert names(owner_repo.find_keys("stock nothing-like-this")) == set()
    assert len(owner_repo.find_keys("   ")) == 5


@pytest.mark.parametrize(
    "field", ["creator", "project name", "project id", "scope", "status", "id", "prefix"]
)
def test_each_field_is_searched(owner_repo: Repository, keys, field: str) -> None:
    stock = keys["stock"].key
    project_id = stock.project_id
    text, expected = {
        "creator": ("bob", {"Stock checker", "Old stock feed"}),
        "project name": ("wareh", {"Stock checker", "Old stock feed"}),
        "project id": (project_id, {"Stock checker", "Old stock feed"}),
        "scope": ("analytics", {"Weekly export"}),
        "status": ("revoked", {"Old stock feed"}),
        "id": (stock.id.lower(), {"Stock checker"}),
        "prefix": (stock.key_prefix, {"Stock checker"}),
    }[field]
    assert expected <= names(owner_repo.find_keys(text))
    if field in ("creator", "project name", "project id", "scope", "status"):
        assert names(owner_repo.find_keys(text)) == expected


def test_a_pasted_secret_finds_exactly_its_key_and_nothing_else(owner_repo: Repository, keys) -> None:
    secret = keys["checkout"].secret.get_secret_value()
    found = owner_repo.find_keys(secret)
    assert [view.id for view in found] == [keys["checkout"].key.id]
    # In quotes or after "key=", as pasted from a log or a config file.
    assert [v.id for v in owner_repo.find_keys(f'api_key="{secret}",')] == [keys["checkout"].key.id]
    # An analytics secret (never stored) is found by its hash too.
    export = keys["export"].secret.get_secret_value()
    assert [v.id for v in owner_repo.find_keys(export)] == [keys["export"].key.id]
    # A secret of no key, or with a broken checksum: nothing, never a word match.
    assert owner_repo.find_keys(tokens.generate_secret("web")) == []
    broken = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert owner_repo.find_keys(broken) == []
    # The query keeps the hash only.
    query = parse_query(secret)
    assert query.holds_secret and query.words == ()
    assert secret not in repr(query)


def test_a_secret_of_a_key_the_member_may_not_see_finds_nothing(
    owner_repo: Repository, store_path: Path, keys
) -> None:
    bob = Repository(store_path, "bob", clock=fixed_clock)
    assert bob.find_keys(keys["checkout"].secret.get_secret_value()) == []
    assert names(bob.find_keys("check")) == {"Stock checker"}


def test_a_previous_secret_of_a_rolled_key_finds_it(owner_repo: Repository, store_path: Path, keys) -> None:
    old_secret = tokens.generate_secret("web")
    data = orjson.loads(store_path.read_bytes())
    data["keys"][keys["stock"].key.id]["previous_secret_hash"] = tokens.hash_secret(old_secret)
    store_path.write_bytes(orjson.dumps(data))
    assert [v.id for v in owner_repo.find_keys(old_secret)] == [keys["stock"].key.id]


def test_a_key_is_found_by_its_status_once_it_expires(owner_repo: Repository, keys) -> None:
    finder = KeyFinder(owner_repo.list_keys(), "2026-12-01T09:30:00Z")
    assert [v.name for v in finder.find("expired")] == []
    later = "2027-01-01T00:00:00Z"  # after the 30 days of the export key
    assert [v.name for v in finder.find("expired", now=later)] == ["Weekly export"]
    assert [v.name for v in finder.find("active analytics", now=later)] == []


def test_positions_keep_the_callers_order(owner_repo: Repository, keys) -> None:
    views = owner_repo.list_keys()
    finder = KeyFinder(views, "2026-12-01T09:30:00Z")
    order = list(range(len(views)))[::-1]
    matched = finder.matching(parse_query("web"), order)
    assert matched == [p for p in order if views[p].scope == "web"]


# -- the command line --------------------------------------------------------------------------


def run(store_path: Path, capsys, *argv: str, login: str = OWNER):
    code = main([*argv, "--store", str(store_path)], login=login)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_find_on_the_command_line(store_path: Path, keys, capsys, monkeypatch) -> None:
    code, out, _ = run(store_path, capsys, "list", "--find", "stock", "--json", "--include-revoked")
    assert code == 0
    assert {key["name"] for key in json.loads(out)} == {"Stock checker", "Old stock feed"}
    code, out, _ = run(store_path, capsys, "list", "--find", "stock", "--json")
    assert [key["name"] for key in json.loads(out)] == ["Stock checker"]
    code, out, _ = run(store_path, capsys, "list", "--find", "check", "--scope", "web")
    assert "Checkout widget" in out and "Stock checker" in out and "iOS app" not in out
    code, out, _ = run(store_path, capsys, "list", "--find", "zebra")
    assert (code, out) == (0, "No key matches.\n")
    secret = keys["ios"].secret.get_secret_value()
    monkeypatch.setattr("sys.stdin", io.StringIO(secret + "\n"))
    code, out, _ = run(store_path, capsys, "list", "--find", "-", "--json")
    assert [key["id"] for key in json.loads(out)] == [keys["ios"].key.id]
    assert secret not in out
