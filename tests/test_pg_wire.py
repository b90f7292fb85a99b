"""The product on PostgreSQL (SPEC §10): identity through the command line, members as
database roles, verify and usage, ``migrate --to`` both ways, the demo seeded in bulk.

The store and CLI suites run on both backends through ``store_target`` (conftest.py); this
module holds what only PostgreSQL has."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import OWNER, fixed_clock, new_owner_repo, web_draft
from support.pg_server import skip_or_fail

try:
    import psycopg  # noqa: F401
except ImportError:  # CI (APIKEYS_REQUIRE_POSTGRES=1) fails instead
    skip_or_fail("psycopg is not installed (pip install -e '.[test]' installs it)")

from test_pg_backend import (  # noqa: E402
    _foreign_path,
    python_for_others,
    two_os_logins,  # noqa: E402, F401 (a fixture)
)

from store.errors import Forbidden, InvalidInput  # noqa: E402
from store.lifecycle import GRACE_CHOICES  # noqa: E402
from store.repository import Repository  # noqa: E402
from tui.cli import main  # noqa: E402

SHOP = "https://shop.example.com"


@pytest.fixture
def pg_target(pg_server) -> str:
    """A fresh database on the session's server, with the suite's roles."""
    return _direct(pg_server)


def _direct(pg_server) -> str:
    from psycopg import sql

    from conftest import PG_TEST_ROLES

    with pg_server.admin() as connection:
        for role in PG_TEST_ROLES:
            if connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                connection.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    return pg_server.conninfo(pg_server.new_database())


def cli(*argv: str, login: str | None = OWNER) -> tuple[int, str, str]:
    """main() in this process; returns (status, stdout, stderr)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv), login=login)
    return code, out.getvalue(), err.getvalue()


def cli_as(user: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """The command line as another OS login (peer authentication maps it to its role)."""
    code = "import sys; from tui.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        ["runuser", "-u", user, "--", *python_for_others(), "-c", code, *argv],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **_foreign_path()},
    )


# -- identity and members ----------------------------------------------------------------------


def test_the_cli_acts_as_the_database_role_the_server_authenticated(pg_server, two_os_logins) -> None:  # noqa: F811
    alice, bob = two_os_logins
    url = pg_server.conninfo(pg_server.new_database())
    as_os_login = url.replace(f"{pg_server.superuser}@", "")  # libpq uses the OS login
    assert cli("init", "--org", "Acme", "--store", url, login=None)[0] == 0
    assert cli("projects", "add", "Storefront", "--deployed", "--store", url, login=None)[0] == 0
    assert cli("members", "add", alice, "--role", "owner", "--store", url, login=None)[0] == 0

    # Not a member yet: one line, exit 2, whatever $USER says.
    refused = cli_as(bob, "list", "--store", as_os_login)
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert "Traceback" not in refused.stderr

    made = cli_as(alice, "create", "--name", "Checkout", "--scope", "web", "--project", "Storefront",
                  "--domain", SHOP, "--json", "--store", as_os_login)
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    assert key["created_by"] == alice
    assert cli_as(alice, "members", "add", bob, "--role", "developer", "--store", as_os_login).returncode == 0

    # bob, a developer, sees none of alice's keys and may not revoke them.
    listed = cli_as(bob, "list", "--json", "--store", as_os_login)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    assert cli_as(bob, "revoke", key["id"], "--yes", "--store", as_os_login).returncode != 0

    trail = json.loads(cli_as(alice, "log", "--json", "--store", as_os_login).stdout)
    assert {(event["actor"], event["action"]) for event in trail} >= {
        (alice, "key.create"), (alice, "member.add"), (pg_server.superuser, "store.init"),
    }


def test_a_role_connection_cannot_act_as_another_login(pg_server, two_os_logins) -> None:  # noqa: F811
    alice, bob = two_os_logins
    url = pg_server.conninfo(pg_server.new_database())
    assert cli("init", "--store", url, login=None)[0] == 0
    assert cli("members", "add", alice, "--role", "owner", "--store", url, login=None)[0] == 0
    code = (
        "import sys; from store.repository import Repository\n"
        f"Repository(sys.argv[1], {bob!r})"
    )
    result = subprocess.run(
        ["runuser", "-u", alice, "--", *python_for_others(), "-c", code,
         url.replace(f"{pg_server.superuser}@", "")],
        capture_output=True, text=True, timeout=60, check=False, env={**os.environ, **_foreign_path()},
    )
    assert result.returncode != 0
    assert "cannot act as" in result.stderr and Forbidden.__name__ in result.stderr


def test_members_add_refuses_a_role_that_does_not_exist(pg_target: str) -> None:
    repo = new_owner_repo(pg_target)
    with pytest.raises(InvalidInput, match="no database role 'zz-no-such-role'"):
        repo.add_member("zz-no-such-role", "developer")
    assert [m.login for m in repo.list_members()] == [OWNER]
    code, _, err = cli("members", "add", "zz-no-such-role", "--role", "developer", "--store", pg_target)
    assert code == 2 and "CREATE ROLE" in err


def test_a_password_on_the_command_line_is_refused(pg_target: str) -> None:
    with_password = pg_target.replace("postgresql://postgres@", "postgresql://postgres:hunter2@")
    code, out, err = cli("list", "--store", with_password)
    assert code == 2 and "hunter2" not in err + out and ".pgpass" in err


# -- verify and usage --------------------------------------------------------------------------


def test_verify_and_usage_on_postgresql(pg_target: str) -> None:
    repo = new_owner_repo(pg_target)
    created = repo.create_key(web_draft())
    secret = created.secret.get_secret_value()
    assert repo.verify(secret, origin=SHOP).valid
    assert repo.verify(secret, origin="https://evil.example").reason == "origin_not_allowed"
    assert repo.flush_usage()
    fresh = Repository(pg_target, OWNER, clock=fixed_clock)
    usage = fresh.usage(created.key.id, days=7)
    assert (usage.valid, usage.refused) == (1, 1)
    assert usage.last_used_origin == SHOP
    rolled = fresh.roll_key(created.key.id, GRACE_CHOICES["0"])
    assert fresh.verify(secret, origin=SHOP).reason == "rolled"  # never "unknown"
    assert fresh.verify(rolled.secret.get_secret_value(), origin=SHOP).valid


# -- migrate -----------------------------------------------------------------------------------


def _answers(store: str | Path, secrets: list[str]) -> list[tuple]:
    repo = Repository(store, OWNER, clock=fixed_clock)
    answers = []
    for secret in secrets:
        for origin in (SHOP, "https://other.example"):
            verdict = repo.verify(secret, origin=origin, app_id="com.example.shop")
            answers.append((verdict.valid, verdict.reason, verdict.key_id))
    return answers


def test_migrate_to_postgresql_and_back_keeps_every_answer_of_verify(
    store_path: Path, tmp_path: Path, pg_target: str,
) -> None:
    repo = new_owner_repo(store_path)
    repo.add_member("bob", "developer")
    secrets = []
    for name in ("kept", "revoked", "disabled", "rolled"):
        created = repo.create_key(web_draft(name=name))
        secrets.append(created.secret.get_secret_value())
        if name == "revoked":
            repo.revoke_keys([created.key.id])
        if name == "disabled":
            repo.disable_keys([created.key.id])
        if name == "rolled":
            rolled = repo.roll_key(created.key.id, timedelta(hours=1))
            secrets.append(rolled.secret.get_secret_value())
    analytics = repo.create_key(
        {"name": "export", "scope": "analytics", "all_projects": True, "expires_days": 30}
    )
    secrets.append(analytics.secret.get_secret_value())
    secrets.append("web_" + "A" * 38)  # no such key
    repo.verify(secrets[0], origin=SHOP)
    repo.flush_usage()
    trail = [event.model_dump() for event in repo.history()]
    first = repo.list_keys()[0].id
    usage = Repository(store_path, OWNER, clock=fixed_clock).usage(first).model_dump()
    assert usage["days"][-1]["valid"] == 1

    code, out, err = cli("migrate", "--to", pg_target, "--store", str(store_path))
    assert code == 0, err
    assert "Migrated 5 keys" in out
    on_pg = Repository(pg_target, OWNER, clock=fixed_clock)
    assert [e.model_dump() for e in on_pg.history()] == trail
    assert on_pg.usage(first).model_dump() == usage
    assert [m.login for m in on_pg.list_members()] == ["alice", "bob"]
    before = _answers(store_path, secrets)
    assert _answers(pg_target, secrets) == before

    back = tmp_path / "back" / "store.json"
    code, _, err = cli("migrate", "--to", str(back), "--store", pg_target)
    assert code == 0, err
    assert _answers(back, secrets) == before
    assert [e.model_dump() for e in Repository(back, OWNER).history()] == trail

    # A target that holds a store is refused and left alone.
    code, _, err = cli("migrate", "--to", pg_target, "--store", str(back))
    assert code == 2 and "already holds a store" in err
    code, _, err = cli("migrate", "--to", str(store_path), "--store", pg_target)
    assert code == 2 and "already holds a store" in err


# -- demo --------------------------------------------------------------------------------------


def test_demo_seeds_a_postgresql_store_in_bulk(pg_server) -> None:
    url = pg_server.conninfo(pg_server.new_database())
    code, out, err = cli("demo", "--keys", "500", "--seed-only", "--store", url, login=None)
    assert code == 0, err
    assert "500 keys" in out
    assert len(Repository(url).list_keys()) == 500  # list hides revoked keys; every key is there
    listed = cli("list", "--json", "--store", url, login=None)
    assert listed[0] == 0 and 0 < len(json.loads(listed[1])) < 500
    code, _, err = cli("demo", "--keys", "10", "--seed-only", "--store", url, login=None)
    assert code == 2 and len(err.splitlines()) == 1


# -- the main screen and the live view ---------------------------------------------------------


async def test_the_main_screen_lists_a_postgresql_store(pg_target: str) -> None:
    from screen_harness import screen_text, settle
    from tui.app import make_app
    from tui.screens.key_list import KeyListScreen

    repo = new_owner_repo(pg_target)
    for index in range(3):
        repo.create_key(web_draft(name=f"Web {index}"))
    app = make_app(pg_target, OWNER, clock=fixed_clock)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, KeyListScreen)
        assert app.screen.table.row_count == 3
        assert "3 keys" in screen_text(app) and "Acme Studio" in screen_text(app)


def test_change_notices_tell_the_live_view_of_another_sessions_change(pg_target: str) -> None:
    repo = new_owner_repo(pg_target)
    notices = repo.change_notices()
    assert notices is not None
    marker = repo.changed_marker()
    other = Repository(pg_target, OWNER, clock=fixed_clock)
    key = other.create_key(web_draft()).key
    received = notices.wait(5.0)
    assert any(key.id in notice for notice in received), received
    assert repo.changed_marker() != marker
    notices.close()
    assert Repository(new_file_store(), OWNER).change_notices() is None


def new_file_store() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp()) / "store.json"
