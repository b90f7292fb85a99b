"""The lifecycle commands: roll, disable, enable, expiry on create/edit/list, policy, members
remove (SPEC §6, §9). In-process through ``main(argv, login=...)``; a few real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from conftest import OWNER
from store.repository import Repository, current_login
from support.cli_fixtures import create_analytics, create_web

ORIGIN = "https://shop.example.com"


def verify(ready, secret: str, *extra: str):
    return ready("verify", secret, "--origin", ORIGIN, "--json", *extra)


# -- roll ----------------------------------------------------------------------------------


def test_roll_json_and_the_grace(ready) -> None:
    key = create_web(ready)
    rolled = ready("roll", key["id"], "--grace", "24h", "--json")
    assert rolled.code == 0, rolled.err
    body = rolled.json()
    assert body["id"] == key["id"] and body["name"] == key["name"]
    assert body["secret"] != key["secret"] and body["secret"].startswith("web_")
    rolled_at, until = (datetime.fromisoformat(body[f]) for f in ("rolled_at", "previous_valid_until"))
    assert until - rolled_at == timedelta(hours=24)
    assert body["revision"] == 2 and "secret_hash" not in body and "previous_secret_hash" not in body
    old = verify(ready, key["secret"])
    assert old.code == 0
    assert old.json() == {
        "valid": True, "reason": None, "key_id": key["id"], "scope": "web",
        "rolled_until": body["previous_valid_until"],
    }
    assert verify(ready, body["secret"]).json().keys() == {"valid", "reason", "key_id", "scope"}
    assert ready("show", key["id"], "--secret").out.strip() == body["secret"]
    shown = ready("show", key["id"]).out
    assert "previous secret" in shown and "works until" in shown
    again = ready("roll", key["id"])  # default grace 0: the previous secret stops now
    assert again.code == 0 and "stopped working now" in again.out
    assert body["secret"] not in again.out
    refused = verify(ready, body["secret"])
    assert refused.code == 1 and refused.json()["reason"] == "rolled"
    refused_old = verify(ready, key["secret"])
    assert refused_old.json()["reason"] == "rolled"


def test_roll_text_output_and_analytics_once(ready) -> None:
    key = create_analytics(ready)
    rolled = ready("roll", key["id"], "--grace", "1h")
    assert rolled.code == 0, rolled.err
    assert f"Rolled Analytics key {key['id']}" in rolled.out
    assert "never be shown again" in rolled.out
    secret = next(line.split()[-1] for line in rolled.out.splitlines() if line.startswith("secret"))
    assert secret.startswith("ana_")
    assert ready("verify", secret).code == 0
    assert ready("show", key["id"], "--secret").code == 2
    assert secret not in ready("log", "--json").out + ready("show", key["id"], "--json").out


@pytest.mark.parametrize(("argv", "message"), [
    (("--grace", "2h"), "invalid choice: '2h'"),
    (("--expires", "soon"), "expires: 'soon' is not an expiry"),
    (("--if-revision", "7"), "you saw 7"),
])
def test_roll_refusals_are_one_line(ready, argv: tuple[str, ...], message: str) -> None:
    key = create_web(ready)
    result = ready("roll", key["id"], *argv)
    assert result.code == 2 and message in result.one_error_line()


def test_revoked_key_cannot_be_rolled(ready) -> None:
    key = create_web(ready)
    assert ready("revoke", key["id"], "--yes").code == 0
    result = ready("roll", key["id"])
    assert result.code == 2
    assert "a revoked key cannot be rolled" in result.one_error_line()
    assert ready("roll", "key_missing").code == 1


def test_two_processes_roll_the_same_key_at_once(store_path: Path) -> None:
    """Two admins (here: two processes of the account running the tests) roll the key they
    both saw at revision 1: exactly one wins, the other is told in one line."""
    repo = Repository(store_path, current_login())
    repo.initialise("Acme")
    repo.add_project("Storefront", deployed=True)
    key = repo.create_key({"name": "K", "scope": "web", "project_id": "Storefront",
                           "web": {"domains": [ORIGIN]}}).key
    command = [sys.executable, "-m", "tui.cli", "roll", key.id, "--if-revision", "1",
               "--grace", "1h", "--json", "--store", str(store_path)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outcomes = sorted((p.wait(timeout=60), *p.communicate()) for p in processes)
    (won, out, _), (lost, lost_out, err) = outcomes
    assert (won, lost) == (0, 2)
    assert json.loads(out)["revision"] == 2
    assert lost_out == b""
    lines = err.decode().splitlines()
    assert len(lines) == 1 and "revision 2; you saw 1" in lines[0] and "not rolled" in lines[0]
    assert [e.action for e in repo.history(key.id)].count("key.roll") == 1


# -- disable and enable --------------------------------------------------------------------


def test_disable_and_enable(ready) -> None:
    one, two = create_web(ready, "One"), create_web(ready, "Two")
    disabled = ready("disable", one["id"], two["id"], "--note", "leaked in ticket 42")
    assert disabled.code == 0, disabled.err
    assert disabled.out.count("Disabled") == 2
    refused = verify(ready, one["secret"])
    assert refused.code == 1 and refused.json()["reason"] == "disabled"
    listed = {k["id"]: k["status"] for k in ready("list", "--json").json()}
    assert listed == {one["id"]: "disabled", two["id"]: "disabled"}
    assert "disabled" in ready("list").out
    assert "disabled " in ready("show", one["id"]).out
    assert "already disabled" in ready("disable", one["id"]).out
    log = ready("log", "--key", one["id"], "--json").json()
    assert log[0]["action"] == "key.disable" and "(leaked in ticket 42)" in log[0]["detail"]
    enabled = ready("enable", one["id"])
    assert enabled.code == 0 and f"Enabled {one['id']}" in enabled.out
    assert verify(ready, one["secret"]).code == 0
    assert "was not disabled" in ready("enable", one["id"]).out
    assert ready("revoke", two["id"], "--yes").code == 0  # revoke still works on a disabled key
    assert ready("enable", two["id"]).code == 2


def test_disable_is_all_or_none_and_by_role(ready) -> None:
    assert ready("members", "add", "bob", "--role", "developer").code == 0
    own = create_web(ready, "Bob's", "bob")
    theirs = create_web(ready, "Alice's")
    assert ready("disable", own["id"], theirs["id"], login="bob").code == 1  # not found to bob
    assert ready("members", "add", "sam", "--role", "support").code == 0
    refused = ready("disable", own["id"], theirs["id"], login="sam")
    assert refused.code == 2 and "only an owner may disable" in refused.one_error_line()
    assert {k["status"] for k in ready("list", "--json").json()} == {"active"}


# -- expiry --------------------------------------------------------------------------------


def test_create_and_edit_expiry_and_list_expiring(ready) -> None:
    soon = create_web(ready, "Soon", OWNER, "--expires", "5d")
    assert soon["expires_at"] is not None
    never = create_web(ready, "Never")
    assert never["expires_at"] is None
    dated = ready("create", "--name", "Dated", "--scope", "mobile", "--project", "Storefront",
                  "--ios", "com.example.app", "--expires", "2099-01-31", "--json")
    assert dated.code == 0 and dated.json()["expires_at"] == "2099-01-31T00:00:00Z"
    assert {k["id"]: k["expires_at"] for k in ready("list", "--json").json()}[never["id"]] is None
    expiring = ready("list", "--expiring", "14d", "--json").json()
    assert [k["id"] for k in expiring] == [soon["id"]]
    text = ready("list", "--expiring", "14").out
    assert soon["id"] in text and "active, expires in" in text and never["id"] not in text
    edited = ready("edit", never["id"], "--expires", "10d", "--json")
    assert edited.code == 0 and edited.json()["expires_at"] is not None
    assert [k["id"] for k in ready("list", "--expiring", "14d", "--json").json()] == [soon["id"], never["id"]]
    cleared = ready("edit", never["id"], "--expires", "never", "--json")
    assert cleared.json()["expires_at"] is None
    log = ready("log", "--key", never["id"], "--json").json()
    assert log[0]["action"] == "key.edit" and log[0]["detail"].startswith("expiry never (was ")
    assert "No active key expires within 1 days" in ready("list", "--expiring", "1d").out


@pytest.mark.parametrize(("argv", "message"), [
    (("create", "--name", "A", "--scope", "analytics", "--project", "Storefront", "--expires", "30d"),
     "--expires applies to Web and Mobile keys"),
    (("create", "--name", "W", "--scope", "web", "--project", "Storefront", "--domain", ORIGIN,
      "--expires", "2020-01-01"), "is not in the future"),
    (("create", "--name", "W", "--scope", "web", "--project", "Storefront", "--domain", ORIGIN,
      "--expires", "whenever"), "'whenever' is not an expiry"),
    (("list", "--expiring", "soon"), "is not a number of days"),
])
def test_bad_expiry_is_one_line(ready, argv: tuple[str, ...], message: str) -> None:
    result = ready(*argv)
    assert result.code == 2 and message in result.one_error_line()


def test_verify_refuses_an_expired_web_key(ready, store_path: Path) -> None:
    key = create_web(ready, "Short", OWNER, "--expires", "1d")
    data = orjson.loads(store_path.read_bytes())
    data["keys"][key["id"]]["expires_at"] = "2020-01-01T00:00:00Z"  # as if a day had passed
    store_path.write_bytes(orjson.dumps(data))
    refused = verify(ready, key["secret"])
    assert refused.code == 1 and refused.json()["reason"] == "expired"


# -- policy --------------------------------------------------------------------------------


def test_policy_show_set_and_check(ready) -> None:
    assert ready("policy", "show", "--json").json() == {
        "max_lifetime_days": {"web": None, "mobile": None, "analytics": None}, "warn_days": 14,
    }
    forever = create_web(ready, "Forever")
    create_web(ready, "Short", OWNER, "--expires", "30d")
    assert ready("policy", "check").code == 0
    assert ready("policy", "check", "--json").json() == []
    changed = ready(
        "policy", "set", "--max-lifetime", "web=90", "--max-lifetime", "analytics=none", "--warn-days", "7"
    )
    assert changed.code == 0, changed.err
    assert "Web: 90 days" in changed.out and "1 active key breaks it" in changed.out
    assert ready("policy", "show", "--json").json()["max_lifetime_days"]["web"] == 90
    check = ready("policy", "check")
    assert check.code == 1 and forever["id"] in check.out and "no expiry" in check.out
    listed = ready("policy", "check", "--json")
    assert listed.code == 1
    assert [(v["id"], v["problem"]) for v in listed.json()] == [
        (forever["id"], "no expiry (at most 90 days)"),
    ]
    refused = ready(
        "create", "--name", "New", "--scope", "web", "--project", "Storefront", "--domain", ORIGIN
    )
    assert refused.code == 2
    assert refused.one_error_line() == (
        "apikeys: expires at: web keys may live at most 90 days (policy): choose an expiry of 90d or sooner"
    )
    assert ready("edit", forever["id"], "--expires", "90d").code == 0
    assert ready("policy", "check").code == 0
    roll = ready("roll", forever["id"], "--expires", "never")
    assert roll.code == 2 and "web keys may live at most 90 days (policy)" in roll.one_error_line()


@pytest.mark.parametrize(("argv", "message"), [
    (("policy", "set"), "nothing to change"),
    (("policy", "set", "--max-lifetime", "desktop=9"), "SCOPE one of web, mobile, analytics"),
    (("policy", "set", "--max-lifetime", "web=ninety"), "give a number of days"),
    (("policy", "set", "--max-lifetime", "web=0"), "web must be 1–3650 days"),
    (("policy", "set", "--warn-days", "-2"), "warn days"),
])
def test_bad_policy_is_one_line(ready, argv: tuple[str, ...], message: str) -> None:
    result = ready(*argv)
    assert result.code == 2 and message in result.one_error_line()


def test_only_an_owner_sets_the_policy(ready) -> None:
    assert ready("members", "add", "sam", "--role", "support").code == 0
    refused = ready("policy", "set", "--warn-days", "3", login="sam")
    assert refused.code == 2
    assert refused.one_error_line() == "apikeys: sam is support: only an owner may change the policy"
    assert ready("policy", "show", login="sam").code == 0


# -- members leave -------------------------------------------------------------------------


def test_members_remove(ready) -> None:
    assert ready("members", "add", "bob", "--role", "developer").code == 0
    key = create_web(ready, "Bob's", "bob")
    removed = ready("members", "remove", "bob")
    assert removed.code == 0 and "Removed bob (developer)" in removed.out
    refused = ready("list", login="bob")
    assert refused.code == 2 and "bob is not a member" in refused.one_error_line()
    assert [m["login"] for m in ready("members", "list", "--json").json()] == [OWNER]
    assert "bob (removed)" in ready("list").out
    assert "by bob (removed)" in ready("show", key["id"]).out
    assert ready("show", key["id"], "--json").json()["created_by"] == "bob"
    last = ready("members", "remove", OWNER)
    assert last.code == 2 and "alice is the last owner" in last.one_error_line()
    assert ready("members", "remove", "nobody-here").code == 1


@pytest.mark.real_accounts
@pytest.mark.file_only  # members are OS logins here; database roles on PostgreSQL (test_pg_wire.py)
def test_members_add_refuses_a_login_without_an_account(ready) -> None:
    result = ready("members", "add", "zz-no-such-login", "--role", "developer")
    assert result.code == 2
    assert "zz-no-such-login has no account on this host" in result.one_error_line()
    assert ready("members", "add", "daemon", "--role", "developer").code == 0
