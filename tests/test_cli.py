"""The command line: run in-process through ``main(argv, login=...)``; a few real processes."""

from __future__ import annotations

import grp
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import pytest

from conftest import OWNER
from store.audit import audit_path
from store.repository import Repository
from support.cli_fixtures import create_analytics, create_web
from tui import cli
from tui.cli import main

KEY_FIELDS = {
    "id", "name", "scope", "project_id", "status", "created_at", "created_by", "expires_at",
    "key_prefix",
}


# -- store creation, --store anywhere ------------------------------------------------------


def test_init_makes_the_caller_owner(ready) -> None:
    members = ready("members", "list", "--json").json()
    assert members == [{
        "login": "alice", "display_name": members[0]["display_name"], "role": "owner",
        "added_at": members[0]["added_at"], "added_by": "alice",
    }]
    again = ready("init")
    assert again.code == 2 and "already exists" in again.one_error_line()


def test_store_option_before_or_after_the_subcommand(ready, store_path: Path) -> None:
    key = create_web(ready)
    before = ready("--store", str(store_path), "list", "--json", store=False)
    after = ready("list", "--json", "--store", str(store_path), store=False)
    nested = ready("projects", "--store", str(store_path), "list", "--json", store=False)
    assert before.code == after.code == nested.code == 0
    assert [k["id"] for k in before.json()] == [k["id"] for k in after.json()] == [key["id"]]
    assert [p["name"] for p in nested.json()] == ["Kiosk beta", "Storefront"]


def test_store_from_environment_when_not_given(ready, store_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("APIKEYS_STORE", str(store_path))
    assert ready("projects", "list", "--json", store=False).code == 0


def test_read_commands_on_a_missing_store_say_to_run_init(run, store_path: Path) -> None:
    reads = (("list",), ("show", "key_x"), ("verify", "web_x"), ("log",), ("projects", "list"),
             ("members", "list"))
    for argv in reads:
        result = run(*argv)
        assert result.code == 2, argv
        assert "apikeys init" in result.one_error_line()
    assert not store_path.exists()


def test_write_commands_create_a_missing_store(run, store_path: Path) -> None:
    assert run("projects", "add", "Storefront", "--deployed", login="carol").code == 0
    assert store_path.exists()
    assert run("members", "list", "--json", login="carol").json()[0]["role"] == "owner"


# -- JSON shapes ---------------------------------------------------------------------------


def test_create_json_shape_for_every_scope(ready) -> None:
    web = create_web(ready, "Web", OWNER, "--local-network", "10.0.0.0/8",
                     "--domain", "http://localhost:3000", "--cross-page")
    mobile = ready("create", "--name", "App", "--scope", "mobile", "--project", "Storefront",
                   "--ios", "com.example.app", "--android", "com.example.app", "--json").json()
    wide = create_analytics(ready, "Export", OWNER, "--all-projects")
    for key in (web, mobile, wide):
        assert KEY_FIELDS | {"secret"} <= key.keys()
        assert "secret_hash" not in key
        assert key["status"] == "active" and key["created_by"] == "alice"
        assert key["secret"].startswith(key["key_prefix"])
    assert web["web"] == {
        "domains": ["https://shop.example.com", "http://localhost:3000"], "developing_locally": True,
        "networks": ["10.0.0.0/8"], "cross_page_persistence": True,
    }
    assert mobile["mobile"] == {
        "ios_bundle_ids": ["com.example.app"], "android_packages": ["com.example.app"],
    }
    assert wide["project_id"] is None and wide["expires_at"] is not None
    assert web["project_id"].startswith("prj_") and web["expires_at"] is None


def test_list_and_show_json_never_hold_a_secret(ready) -> None:
    web = create_web(ready)
    wide = create_analytics(ready, "Export", OWNER, "--all-projects")
    listed = ready("list", "--json").json()
    assert [key["id"] for key in listed] == [wide["id"], web["id"]]  # newest first
    for key in listed:
        assert key.keys() >= KEY_FIELDS and "secret" not in key and "secret_hash" not in key
    shown = ready("show", wide["id"], "--json").json()
    assert shown.keys() >= KEY_FIELDS and "secret" not in shown
    assert shown["project_id"] is None
    assert web["secret"] not in ready("list", "--json").out + ready("show", web["id"], "--json").out
    assert wide["secret"] not in ready("log", "--json").out


def test_verify_log_projects_members_json_shapes(ready) -> None:
    key = create_web(ready)
    verdict = ready("verify", key["secret"], "--origin", "https://shop.example.com", "--json")
    assert verdict.code == 0
    assert verdict.json() == {"valid": True, "reason": None, "key_id": key["id"], "scope": "web"}
    events = ready("log", "--json").json()
    assert all(set(event) == {"at", "actor", "action", "key_id", "detail"} for event in events)
    assert events[0]["action"] == "key.create" and events[0]["key_id"] == key["id"]
    assert [e["action"] for e in ready("log", "--key", key["id"], "--json").json()] == ["key.create"]
    projects = ready("projects", "list", "--json").json()
    assert {p["name"]: (p["deployed"], p["active_keys"]) for p in projects} == {
        "Storefront": (True, 1), "Kiosk beta": (False, 0),
    }
    assert {"id", "name", "deployed", "created_at", "created_by"} <= projects[0].keys()
    assert ready("members", "add", "bob", "--role", "developer", "--name", "Bob B").code == 0
    members = ready("members", "list", "--json").json()
    assert [(m["login"], m["role"], m["display_name"]) for m in members] == [
        ("alice", "owner", ready("members", "list", "--json").json()[0]["display_name"]),
        ("bob", "developer", "Bob B"),
    ]


def test_verify_records_last_use(ready) -> None:
    key = create_web(ready)
    assert ready("verify", key["secret"], "--origin", "https://shop.example.com").code == 0
    assert ready("show", key["id"], "--json").json()["last_used_at"] is not None


def test_verify_reads_the_secret_from_stdin(ready, monkeypatch) -> None:
    key = create_web(ready)
    monkeypatch.setattr(sys, "stdin", io.StringIO(key["secret"] + "\n"))
    result = ready("verify", "-", "--origin", "https://shop.example.com")
    assert result.code == 0 and result.out.startswith("valid")


def test_verify_refusals_exit_1_with_the_reason(ready) -> None:
    key = create_web(ready)
    wrong_origin = ready("verify", key["secret"], "--origin", "https://evil.example.com", "--json")
    assert wrong_origin.code == 1 and wrong_origin.json()["reason"] == "origin_not_allowed"
    mangled = key["secret"][:-1] + ("A" if key["secret"][-1] != "A" else "B")
    malformed = ready("verify", mangled, "--json")
    assert malformed.code == 1
    assert malformed.json() == {"valid": False, "reason": "malformed", "key_id": None, "scope": None}
    assert mangled not in malformed.out + malformed.err
    plain = ready("verify", mangled)
    assert plain.code == 1 and plain.out == "refused: malformed\n"


# -- secrets: shown once for Analytics ----------------------------------------------------


def test_show_secret_for_web_and_refused_for_analytics(ready) -> None:
    web = create_web(ready)
    shown = ready("show", web["id"], "--secret")
    assert (shown.code, shown.out) == (0, web["secret"] + "\n")
    analytics = create_analytics(ready)
    refused = ready("show", analytics["id"], "--secret")
    assert refused.code == 2 and refused.out == ""
    assert "Analytics" in refused.one_error_line()


def test_create_prints_the_secret_once_with_a_warning_for_analytics(ready) -> None:
    result = ready("create", "--name", "Export", "--scope", "analytics", "--project", "Storefront")
    assert result.code == 0
    secret_lines = [line for line in result.out.splitlines() if line.startswith("secret")]
    assert len(secret_lines) == 1
    secret = secret_lines[0].split()[-1]
    assert secret.startswith("ana_")
    assert "never be shown again" in result.out
    web = ready("create", "--name", "W", "--scope", "web", "--project", "Storefront", "--domain", "https://a.example.com")
    assert "never be shown again" not in web.out
    secret_lines = [line for line in web.out.splitlines() if line.startswith("secret")]
    assert any(line.split()[-1].startswith("web_") for line in secret_lines)


def test_analytics_secret_verifies_until_revoked(ready) -> None:
    key = create_analytics(ready)
    valid = ready("verify", key["secret"])
    assert valid.code == 0 and valid.out.startswith("valid")
    revoked = ready("revoke", key["id"], "--yes")
    assert revoked.code == 0 and key["id"] in revoked.out
    refused = ready("verify", key["secret"], "--json")
    assert refused.code == 1
    assert refused.json() == {"valid": False, "reason": "revoked", "key_id": key["id"], "scope": "analytics"}
    assert ready("list", "--json").json() == []
    assert [k["status"] for k in ready("list", "--include-revoked", "--json").json()] == ["revoked"]


# -- untrusted text ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["[/]", "[@click=app.quit]x", "[bold]x[/]", "Caf\u00e9 \u2013 \u0431\u0435\u0442\u0430 \u6f22"]
)
def test_markup_like_names_round_trip_exactly(ready, name: str) -> None:
    created = ready("create", "--name", name, "--scope", "web", "--project", "Storefront", "--domain", "https://a.example.com")
    assert created.code == 0
    assert f"name                    {name}\n" in created.out
    key = ready("list", "--json").json()[0]
    assert key["name"] == name
    assert ready("show", key["id"], "--json").json()["name"] == name
    shown = ready("show", key["id"])
    assert f"name                    {name}\n" in shown.out
    listed = ready("list").out.splitlines()
    assert listed[1].split("  ")[1] == name


def test_hand_edited_control_characters_are_replaced_in_plain_output(ready, store_path: Path) -> None:
    key = create_web(ready)
    data = orjson.loads(store_path.read_bytes())
    data["keys"][key["id"]]["name"] = "evil\x1b[2J\x07\u202ename"
    data["projects"][key["project_id"]]["name"] = "proj\x1b]52;c;x\x07"
    store_path.write_bytes(orjson.dumps(data))
    for output in (ready("list").out, ready("show", key["id"]).out):
        assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output
        assert "\ufffd" in output
    as_json = ready("list", "--json").out
    assert "\x1b" not in as_json and "\u202e" not in as_json
    assert ready("list", "--json").json()[0]["name"] == "evil\x1b[2J\x07\u202ename"


# -- bad input: exit 2, one line, nothing written ----------------------------------------


def _create(*options: str) -> tuple[str, ...]:
    return ("create", "--scope", "web", "--project", "Storefront", *options)


A_DOMAIN = ("--domain", "https://a.example.com")
ANALYTICS = ("create", "--name", "n", "--scope", "analytics", "--project", "Storefront")
MOBILE = ("create", "--name", "n", "--scope", "mobile", "--project", "Storefront")

BAD_INPUT = {
    "escape in name": _create("--name", "a\x1b[31mb", "--domain", "https://a.example.com"),
    "bell in name": _create("--name", "a\x07b", "--domain", "https://a.example.com"),
    "C1 in name": _create("--name", "a\x85b", "--domain", "https://a.example.com"),
    "newline in name": _create("--name", "a\nb", "--domain", "https://a.example.com"),
    "bidi override in name": _create("--name", "abc\u202etxt.exe", "--domain", "https://a.example.com"),
    "bidi isolate in name": _create("--name", "a\u2066b", "--domain", "https://a.example.com"),
    "empty name": _create("--name", "   ", "--domain", "https://a.example.com"),
    "over-long name": _create("--name", "x" * 65, "--domain", "https://a.example.com"),
    "origin not a URL": _create("--name", "n", "--domain", "shop.example.com"),
    "origin with a path": _create("--name", "n", "--domain", "https://a.example.com/path"),
    "origin bad host": _create("--name", "n", "--domain", "https://exa mple.com"),
    "origin ftp": _create("--name", "n", "--domain", "ftp://a.example.com"),
    "http origin not localhost": _create("--name", "n", "--domain", "http://a.example.com"),
    "no domain": _create("--name", "n"),
    "bad CIDR prefix": _create("--name", "n", *A_DOMAIN, "--local-network", "10.0.0.0/33"),
    "CIDR not an address": _create("--name", "n", *A_DOMAIN, "--local-network", "banana"),
    "unknown scope": ("create", "--name", "n", "--scope", "desktop", "--project", "Storefront"),
    "unknown project": ("create", "--name", "n", "--scope", "web", "--project", "Nope", *A_DOMAIN),
    "web key on undeployed project": (
        "create", "--name", "n", "--scope", "web", "--project", "Kiosk beta", *A_DOMAIN,
    ),
    "expiry 45": (*ANALYTICS, "--expires-days", "45"),
    "expiry 0": (*ANALYTICS, "--expires-days", "0"),
    "expiry not a number": (*ANALYTICS, "--expires-days", "soon"),
    "expiry on a web key": _create("--name", "n", *A_DOMAIN, "--expires-days", "30"),
    "all projects for web": ("create", "--name", "n", "--scope", "web", "--all-projects", *A_DOMAIN),
    "project and all projects": (*ANALYTICS, "--all-projects"),
    "domain on a mobile key": (*MOBILE, "--ios", "com.a.b", *A_DOMAIN),
    "mobile without apps": MOBILE,
    "bad bundle id": (*MOBILE, "--ios", "not a bundle"),
    "missing name": ("create", "--scope", "web", "--project", "Storefront"),
    "unknown option": ("list", "--colour"),
    "unknown command": ("launch",),
    "bad role": ("members", "add", "bob", "--role", "admin"),
    "bad login": ("members", "add", "bob smith", "--role", "developer"),
    "project name with control": ("projects", "add", "a\x1bb"),
    "demo keys negative": ("demo", "--keys", "-3", "--seed-only"),
    "organisation with bidi": ("init", "--org", "x\u202ey"),
}


@pytest.mark.parametrize("argv", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_one_line_exit_2_and_changes_nothing(ready, store_path: Path, argv) -> None:
    before = store_path.read_bytes()
    trail = audit_path(store_path).read_bytes()
    result = ready(*argv)
    assert result.code == 2
    line = result.one_error_line()
    assert "\x1b" not in line and "\u202e" not in line and "\u2066" not in line
    assert result.out == ""
    assert store_path.read_bytes() == before
    assert audit_path(store_path).read_bytes() == trail


def test_usage_errors_point_at_help(run) -> None:
    line = run("create", "--scope", "web").one_error_line()
    assert line.startswith("apikeys: error: ") and line.endswith("see apikeys create --help")


def test_help_exits_0(run, capsys) -> None:
    result = run("--help")
    assert result.code == 0 and "usage: apikeys" in result.out


# -- edit ----------------------------------------------------------------------------------


def test_edit_web_key_builds_the_new_settings_from_the_old(ready) -> None:
    key = create_web(ready, "Widget", OWNER, "--local-network", "10.0.0.0/8")
    result = ready("edit", key["id"], "--name", "Widget v2", "--add-domain", "https://b.example.com",
                   "--remove-domain", "https://SHOP.example.com/", "--cross-page",
                   "--add-network", "fd00::/8",
                   "--remove-network", "10.0.0.0/8", "--json")
    assert result.code == 0, result.err
    edited = result.json()
    assert edited["name"] == "Widget v2"
    assert edited["web"] == {
        "domains": ["https://b.example.com"], "developing_locally": True, "networks": ["fd00::/8"],
        "cross_page_persistence": True,
    }
    assert ready("verify", key["secret"], "--origin", "https://b.example.com").code == 0
    edited = ready("edit", key["id"], "--no-local", "--no-cross-page", "--json").json()
    assert edited["web"]["developing_locally"] is False
    log = ready("log", "--key", key["id"], "--json").json()
    assert [e["action"] for e in log] == ["key.edit", "key.edit", "key.create"]


def test_edit_mobile_key(ready) -> None:
    key = ready("create", "--name", "App", "--scope", "mobile", "--project", "Storefront",
                "--ios", "com.a.ios", "--json").json()
    edited = ready("edit", key["id"], "--add-android", "com.a.android", "--remove-ios", "com.a.ios",
                   "--json").json()
    assert edited["mobile"] == {"ios_bundle_ids": [], "android_packages": ["com.a.android"]}


@pytest.mark.parametrize("options, message", [
    (("--remove-domain", "https://nowhere.example.com"), "is not a domain"),
    (("--remove-domain", "https://shop.example.com"), "domain"),
    (("--add-domain", "http://a.example.com"), "https"),
    (("--add-network", "300.1.1.1"), "IP network"),
    (("--local",), "network"),
    (("--add-ios", "com.a.b"), "Mobile keys only"),
    (("--name", "a\x1bb"), "U+001B"),
    ((), "nothing to change"),
])
def test_bad_edits_change_nothing(ready, store_path: Path, options, message) -> None:
    key = create_web(ready)
    before = store_path.read_bytes()
    result = ready("edit", key["id"], *options)
    assert result.code == 2
    assert message in result.one_error_line()
    assert store_path.read_bytes() == before


def test_analytics_keys_cannot_be_edited(ready) -> None:
    key = create_analytics(ready)
    result = ready("edit", key["id"], "--name", "Renamed")
    assert result.code == 2 and "cannot be edited" in result.one_error_line()


# -- revoke --------------------------------------------------------------------------------


def test_revoke_without_yes_and_without_a_terminal_refuses(ready, store_path: Path, monkeypatch) -> None:
    key = create_web(ready)
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    before = store_path.read_bytes()
    result = ready("revoke", key["id"])
    assert result.code == 2 and "--yes" in result.one_error_line()
    assert store_path.read_bytes() == before
    assert ready("show", key["id"], "--json").json()["status"] == "active"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "answer, code, status", [("y\n", 0, "revoked"), ("n\n", 1, "active"), ("", 1, "active")]
)
def test_revoke_asks_on_a_terminal(ready, monkeypatch, answer: str, code: int, status: str) -> None:
    key = create_web(ready, "[bold]W[/]")
    monkeypatch.setattr(sys, "stdin", _Terminal(answer))
    result = ready("revoke", key["id"])
    assert result.code == code
    assert "[bold]W[/]" in result.err and "[y/N]" in result.err
    assert ready("show", key["id"], "--json").json()["status"] == status


def test_revoke_several_all_or_none(ready) -> None:
    first, second = create_web(ready, "A"), create_web(ready, "B")
    missing = ready("revoke", first["id"], "key_missing", "--yes")
    assert missing.code == 1
    assert ready("show", first["id"], "--json").json()["status"] == "active"
    done = ready("revoke", first["id"], second["id"], "--yes")
    assert done.code == 0
    assert {k["status"] for k in ready("list", "--include-revoked", "--json").json()} == {"revoked"}
    again = ready("revoke", first["id"], "--yes")
    assert again.code == 0 and "already revoked" in again.out
    assert ready("show", first["id"], "--secret").code == 2


# -- roles ---------------------------------------------------------------------------------


def test_role_rules(ready) -> None:
    assert ready("members", "add", "bob", "--role", "developer").code == 0
    assert ready("members", "add", "carol", "--role", "support").code == 0
    mine = create_web(ready, "Alice key")
    bobs = create_web(ready, "Bob key", "bob")

    assert [k["id"] for k in ready("list", "--json", login="bob").json()] == [bobs["id"]]
    assert {k["id"] for k in ready("list", "--json", login="carol").json()} == {mine["id"], bobs["id"]}

    hidden = ready("show", mine["id"], login="bob")
    assert hidden.code == 1 and "no key" in hidden.one_error_line()
    assert ready("revoke", mine["id"], "--yes", login="bob").code == 1
    assert ready("log", "--key", mine["id"], login="bob").code == 1
    assert all(e["key_id"] in (None, bobs["id"]) for e in ready("log", "--json", login="bob").json())

    refused = ready("revoke", mine["id"], "--yes", login="carol")
    assert refused.code == 2 and "only an owner" in refused.one_error_line()
    assert ready("edit", mine["id"], "--name", "x", login="carol").code == 2
    assert ready("show", mine["id"], "--json").json()["status"] == "active"

    wide = ready("create", "--name", "All", "--scope", "analytics", "--all-projects", login="bob")
    assert wide.code == 2 and "developer" in wide.one_error_line()
    assert ready("members", "add", "dave", "--role", "owner", login="carol").code == 2
    assert ready("projects", "add", "New", login="bob").code == 2
    assert ready("revoke", bobs["id"], "--yes", login="bob").code == 0
    assert ready("revoke", mine["id"], "--yes").code == 0


def test_a_non_member_is_refused_in_one_line_but_may_verify(ready) -> None:
    key = create_web(ready)
    for argv in (("list",), ("show", key["id"]), ("log",), ("members", "list"),
                 ("create", "--name", "n", "--scope", "analytics", "--project", "Storefront")):
        result = ready(*argv, login="mallory")
        assert result.code == 2, argv
        assert "mallory is not a member" in result.one_error_line()
    assert ready("verify", key["secret"], "--origin", "https://shop.example.com", login="mallory").code == 0


def test_members_set_role(ready) -> None:
    assert ready("members", "add", "bob", "--role", "developer").code == 0
    assert ready("members", "set-role", "bob", "support").code == 0
    assert {m["login"]: m["role"] for m in ready("members", "list", "--json").json()}["bob"] == "support"
    last_owner = ready("members", "set-role", "alice", "developer")
    assert last_owner.code == 2 and "last owner" in last_owner.one_error_line()


def test_projects_deploy_and_undeploy_by_name(ready) -> None:
    assert ready("projects", "deploy", "kiosk beta").code == 0
    assert ready("create", "--name", "n", "--scope", "web", "--project", "Kiosk beta",
                 "--domain", "https://k.example.com").code == 0
    assert ready("projects", "undeploy", "Kiosk beta").code == 0
    deployed = {p["name"]: p["deployed"] for p in ready("projects", "list", "--json").json()}
    assert deployed["Kiosk beta"] is False


# -- list ----------------------------------------------------------------------------------


def test_list_filters_and_sorts(ready) -> None:
    web = create_web(ready)
    analytics = create_analytics(ready)
    mobile = ready("create", "--name", "App", "--scope", "mobile", "--project", "Storefront",
                   "--android", "com.a.b", "--json").json()
    assert [k["id"] for k in ready("list", "--json").json()] == [mobile["id"], analytics["id"], web["id"]]
    by_scope = ready("list", "--sort", "scope", "--json").json()
    assert [k["scope"] for k in by_scope] == ["web", "mobile", "analytics"]
    assert [k["id"] for k in ready("list", "--scope", "web", "--json").json()] == [web["id"]]
    plain = ready("list").out.splitlines()
    assert plain[0].split() == ["ID", "NAME", "SCOPE", "PROJECT", "KEY", "CREATED", "CREATED", "BY", "STATUS"]
    assert len(plain) == 4
    assert all(web["secret"] not in line for line in plain)
    column = plain[0].index("SCOPE")
    assert {line[column:].split()[0] for line in plain[1:]} == {"Web", "Mobile", "Analytics"}


def test_empty_list_says_how_to_create_a_key(ready) -> None:
    result = ready("list")
    assert result.code == 0 and "apikeys create" in result.out


# -- unusable stores ------------------------------------------------------------------------


def _corrupt(store_path: Path) -> bytes:
    store_path.parent.mkdir(parents=True, exist_ok=True)
    store_path.write_bytes(b'{"keys": ')
    return store_path.read_bytes()


def _future(store_path: Path) -> bytes:
    store_path.parent.mkdir(parents=True, exist_ok=True)
    future = {"_meta": {"1": {"schema_version": 99}}, "keys": {}, "projects": {}, "members": {}}
    store_path.write_bytes(orjson.dumps(future))
    return store_path.read_bytes()


@pytest.mark.parametrize("spoil", [_corrupt, _future], ids=["corrupt", "future-schema"])
@pytest.mark.parametrize("argv", [
    ("list",), ("show", "key_x"), ("log",), ("verify", "web_x"), ("init",),
    ("projects", "add", "P"), ("members", "add", "bob", "--role", "developer"),
    ("create", "--name", "n", "--scope", "analytics", "--project", "P"), ("revoke", "key_x", "--yes"),
])
def test_unusable_store_is_refused_and_left_alone(run, store_path: Path, spoil, argv) -> None:
    before = spoil(store_path)
    result = run(*argv)
    assert result.code == 2
    line = result.one_error_line()
    assert str(store_path) in line
    assert ("not valid JSON" if spoil is _corrupt else "schema version") in line
    assert store_path.read_bytes() == before


@pytest.mark.parametrize("spoil", [_corrupt, _future], ids=["corrupt", "future-schema"])
def test_ui_refuses_an_unusable_store_before_opening(run, store_path: Path, monkeypatch, spoil) -> None:
    """A store whose head is unusable (not our layout and not JSON, or a schema version from
    the future) is refused before the UI opens: one line, exit 2, nothing written."""
    monkeypatch.setattr(cli, "_has_terminal", lambda: True)
    monkeypatch.setattr(cli, "_open_app", lambda path, login: pytest.fail("the UI must not open"))
    before = spoil(store_path)
    result = run()
    assert result.code == 2 and str(store_path) in result.one_error_line()
    assert store_path.read_bytes() == before


def test_ui_ends_with_one_line_when_the_keys_table_is_broken(ready, store_path: Path, monkeypatch) -> None:
    """Only the head is checked before the UI opens (the keys are the UI's first load): a
    keys table broken further on ends the UI at its first load with the same one line and
    exit 2, and nothing is written."""
    create_web(ready)
    spoiled = store_path.read_bytes().rstrip()
    assert spoiled.endswith(b"}}")
    store_path.write_bytes(spoiled[:-2] + b',"key_"}}')
    before = store_path.read_bytes()
    from tui.app import ApiKeysApp

    headless_run = ApiKeysApp.run
    monkeypatch.setattr(cli, "_has_terminal", lambda: True)
    ran = []
    monkeypatch.setattr(
        ApiKeysApp, "run", lambda app: ran.append(app) or headless_run(app, headless=True, size=(80, 24))
    )
    result = ready()
    assert len(ran) == 1  # the UI opened; its first load refused the store
    assert result.code == 2
    assert str(store_path) in result.one_error_line() and "not valid JSON" in result.one_error_line()
    assert store_path.read_bytes() == before


def test_ui_creates_a_missing_store_then_opens(run, store_path: Path, monkeypatch) -> None:
    opened = []
    monkeypatch.setattr(cli, "_has_terminal", lambda: True)
    monkeypatch.setattr(cli, "_open_app", lambda path, login: opened.append((path, login)) or 0)
    assert run(login="erin").code == 0
    assert opened == [(store_path, "erin")]
    assert Repository(store_path, "erin").me().role == "owner"


def test_ui_opens_without_the_checks_parse_still_held(ready, store_path: Path, monkeypatch) -> None:
    """The check before the UI reads the store's head only, and whatever it read must not
    live on beside the UI's own parse (at 100,000 keys a whole parse doubled the peak)."""
    checked: list[Repository] = []
    repo = cli.Command.repo

    def remembering(command):
        made = repo(command)
        checked.append(made)
        return made

    held = []
    monkeypatch.setattr(cli.Command, "repo", remembering)
    monkeypatch.setattr(cli, "_has_terminal", lambda: True)
    monkeypatch.setattr(cli, "_open_app", lambda path, login: held.append(checked[0].storage._data) or 0)
    assert ready().code == 0
    assert held == [None]


def test_no_arguments_without_a_terminal_prints_usage(run, store_path: Path) -> None:
    result = run()
    assert result.code == 2
    assert result.err.startswith("usage: apikeys")
    assert "needs a terminal" in result.err
    assert not store_path.exists()


# -- robustness ----------------------------------------------------------------------------


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_broken_pipe_exit_status(ready, store_path: Path, monkeypatch, capsys) -> None:
    create_web(ready)
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["list", "--store", str(store_path)], login=OWNER) == 141
    assert capsys.readouterr().err == ""


def test_keyboard_interrupt_exits_130_without_traceback(ready, store_path: Path, monkeypatch, capsys) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Repository, "list_keys", interrupted)
    assert main(["list", "--store", str(store_path)], login=OWNER) == 130
    err = capsys.readouterr().err
    assert err == "apikeys: interrupted\n"


def test_unexpected_errors_are_one_line(ready, store_path: Path, monkeypatch, capsys) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(Repository, "list_keys", broken)
    assert main(["list", "--store", str(store_path)], login=OWNER) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError" in err and "Traceback" not in err


# -- demo ----------------------------------------------------------------------------------


def test_demo_seed_only_creates_a_new_seeded_store(run, tmp_path: Path) -> None:
    target = tmp_path / "demo" / "store.json"
    result = run("demo", "--seed-only", "--keys", "25", "--store", str(target), store=False, login="alice")
    assert result.code == 0 and str(target) in result.out
    repo = Repository(target, "alice")
    assert repo.me().role == "owner"
    assert len(repo.list_keys()) == 25
    assert {m.role.value for m in repo.list_members()} == {"owner", "support", "analytics", "developer"}


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_demo_shows_progress_on_a_terminal_and_clears_it(run, tmp_path: Path, monkeypatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    target = tmp_path / "demo" / "store.json"
    result = run("demo", "--seed-only", "--keys", "2000", "--store", str(target), store=False)
    assert result.code == 0
    shown = terminal.getvalue()
    assert "\rSeeding the demo store: 1,000 of 2,000 keys (50%)" in shown
    assert "2,000 keys made, writing the store" in shown
    assert shown.endswith("\r\x1b[K") and "\n" not in shown  # one line, cleared at the end
    assert result.out == f"Seeded a demo store with 2,000 keys: {target}\n"


def test_demo_progress_never_reaches_scripted_output(run, tmp_path: Path) -> None:
    target = tmp_path / "demo" / "store.json"
    result = run("demo", "--seed-only", "--keys", "2000", "--store", str(target), store=False)
    assert result.code == 0
    assert result.err == ""  # stderr is not a terminal here
    assert result.out == f"Seeded a demo store with 2,000 keys: {target}\n"


def test_demo_refuses_an_existing_store(ready, store_path: Path) -> None:
    before = store_path.read_bytes()
    trail = audit_path(store_path).read_bytes()
    result = ready("demo", "--seed-only", "--keys", "5")
    assert result.code == 2 and "already exists" in result.one_error_line()
    assert store_path.read_bytes() == before and audit_path(store_path).read_bytes() == trail


def test_demo_uses_a_temporary_store_never_the_default(run, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    default = tmp_path / "default.json"
    monkeypatch.setenv("APIKEYS_STORE", str(default))
    result = run("demo", "--seed-only", "--keys", "3", store=False)
    assert result.code == 0
    (made,) = (tmp_path / "tmp").glob("apikeys-demo-*/store.json")
    assert str(made) in result.out
    assert not default.exists()


def test_demo_without_a_terminal_refuses_before_seeding(run, tmp_path: Path) -> None:
    target = tmp_path / "demo.json"
    result = run("demo", "--store", str(target), store=False)
    assert result.code == 2 and "usage: apikeys" in result.err
    assert not target.exists()


# -- permissions ---------------------------------------------------------------------------


def test_init_group_shares_the_store_and_rewrites_keep_it(run, store_path: Path) -> None:
    group = grp.getgrgid(os.getegid()).gr_name
    assert run("init", "--group", group).code == 0
    stat = store_path.stat()
    assert (stat.st_mode & 0o777, stat.st_gid) == (0o660, os.getegid())
    assert run("projects", "add", "Storefront", "--deployed").code == 0
    create_web(run)
    stat = store_path.stat()
    assert (stat.st_mode & 0o777, stat.st_gid) == (0o660, os.getegid())


def test_init_with_an_unknown_group_is_refused(run, store_path: Path) -> None:
    result = run("init", "--group", "no-such-group-here")
    assert result.code == 2 and "no group" in result.one_error_line()
    assert not store_path.exists()


def test_store_is_private_by_default(run, store_path: Path) -> None:
    assert run("init").code == 0
    assert store_path.stat().st_mode & 0o777 == 0o600


# -- the real script -----------------------------------------------------------------------


def _script(*argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *argv], input=stdin, capture_output=True, timeout=60,
    )


def test_script_without_arguments_or_terminal_exits_2_with_usage(store_path: Path) -> None:
    done = _script("--store", str(store_path))
    assert done.returncode == 2
    assert done.stderr.startswith(b"usage: apikeys")
    assert b"Traceback" not in done.stderr
    assert not store_path.exists()


@pytest.mark.parametrize("spoil", [_corrupt, _future], ids=["corrupt", "future-schema"])
def test_script_refuses_an_unusable_store_for_reads_and_writes(store_path: Path, spoil) -> None:
    before = spoil(store_path)
    for argv in (("list", "--json"), ("projects", "add", "P")):
        done = _script(*argv, "--store", str(store_path))
        assert done.returncode == 2
        lines = done.stderr.decode().splitlines()
        assert len(lines) == 1 and str(store_path) in lines[0], done.stderr
        assert done.stdout == b""
        assert store_path.read_bytes() == before


def test_script_round_trip(store_path: Path) -> None:
    """The installed entry point end to end, as the OS account running the tests."""
    store = ("--store", str(store_path))
    assert _script("init", *store).returncode == 0
    assert _script("projects", "add", "Storefront", *store).returncode == 0
    created = _script("create", "--name", "[/]", "--scope", "analytics", "--project", "Storefront",
                      "--json", *store)
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    assert key["name"] == "[/]"
    assert _script("verify", "-", *store, stdin=key["secret"].encode()).returncode == 0
    refused = _script("revoke", key["id"], *store)
    assert refused.returncode == 2 and b"--yes" in refused.stderr
    assert _script("revoke", key["id"], "--yes", *store).returncode == 0
    verdict = _script("verify", key["secret"], "--json", *store)
    assert verdict.returncode == 1 and json.loads(verdict.stdout)["reason"] == "revoked"


@pytest.mark.parametrize(("given", "expected"), [(None, 0.025), ("", 0.025), ("80", 0.08)])
def test_the_ui_takes_escape_after_25_ms_unless_escdelay_says_otherwise(given, expected) -> None:
    """Textual reads ESCDELAY once, at import; the UI sets it before importing Textual."""
    environment = {name: value for name, value in os.environ.items() if name != "ESCDELAY"}
    if given is not None:
        environment["ESCDELAY"] = given
    probe = ("from tui import cli; cli.quick_escape(); "
             "from textual import constants; print(constants.ESCAPE_DELAY)")
    shown = subprocess.run([sys.executable, "-c", probe], env=environment, check=True,
                           capture_output=True, text=True).stdout
    assert float(shown) == expected
