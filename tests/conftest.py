"""Shared fixtures: every test gets its own store under tmp_path and never reads the
developer's real data folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from store import repository
from store.repository import Repository

# The command line's fixtures (run, ready), shared by every CLI test module.
pytest_plugins = ["support.cli_fixtures"]

FIXED_NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
OWNER = "alice"


def fixed_clock() -> datetime:
    """The clock of tests and snapshots: always 2026-12-01 09:30 UTC."""
    return FIXED_NOW


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("APIKEYS_STORE", raising=False)
    monkeypatch.delenv("SSH_TTY", raising=False)
    monkeypatch.delenv("SSH_CONNECTION", raising=False)


@pytest.fixture(autouse=True)
def _fictional_accounts(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's members (bob, carol, dev1, ...) are fictional people, not accounts of the
    machine running it: ``members add`` accepts them. Tests marked ``real_accounts`` see the
    host's real account database."""
    if request.node.get_closest_marker("real_accounts") is None:
        monkeypatch.setattr(repository, "account_exists", lambda login: True)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Where this test's store lives (not created yet)."""
    return tmp_path / "store" / "store.json"


@pytest.fixture
def owner_repo(store_path: Path) -> Repository:
    """A new store owned by ``alice``, with a deployed and an undeployed project."""
    repo = Repository(store_path, OWNER, clock=fixed_clock)
    repo.initialise("Acme Studio")
    repo.add_project("Storefront", deployed=True)
    repo.add_project("Kiosk beta", deployed=False)
    return repo


def web_draft(project: str = "Storefront", name: str = "Checkout widget", **web: object) -> dict:
    """A valid Web key draft for ``project``."""
    settings = {"domains": ["https://shop.example.com"], **web}
    return {"name": name, "scope": "web", "project_id": project, "web": settings}


def mobile_draft(project: str = "Storefront", name: str = "iOS app") -> dict:
    """A valid Mobile key draft."""
    return {
        "name": name, "scope": "mobile", "project_id": project,
        "mobile": {"ios_bundle_ids": ["com.example.shop"], "android_packages": []},
    }


def analytics_draft(
    project: str | None = "Storefront", name: str = "Insights export", days: int = 30
) -> dict:
    """A valid Analytics key draft (``project=None`` means All organization projects)."""
    if project is None:
        return {"name": name, "scope": "analytics", "all_projects": True, "expires_days": days}
    return {"name": name, "scope": "analytics", "project_id": project, "expires_days": days}


# -- PostgreSQL (SPEC §10) ------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server():
    """One throwaway PostgreSQL server per test session (per xdist worker), stopped at the end.

    Skipped, with the reason, where PostgreSQL or psycopg is not installed; with
    ``APIKEYS_REQUIRE_POSTGRES=1`` (CI) that skip is a failure instead.
    """
    from support.pg_server import PgServer, find_bindir, postgres_unavailable_reason, skip_or_fail

    reason = postgres_unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)
    server = PgServer(find_bindir())
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """A libpq URL of a fresh, empty database on the session's server (as its superuser)."""
    return pg_server.conninfo(pg_server.new_database())


# -- one fixture, both backends (SPEC §10) ----------------------------------------------------

#: The logins the suite acts as; on PostgreSQL each is a database role (members are roles).
PG_TEST_ROLES = (
    "alice", "bob", "carol", "dave", "erin", "frank", "sam", "mallory", "dev1", "dev2", "dev3",
    "support1", "analyst", "owner2", "dana", "ana", "sup", "olga", "dev",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "file_only: a test of the file store itself; store_target gives it the file only"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that asks for ``store_target`` runs on the file store and on PostgreSQL,
    unless it is marked ``file_only`` or names ``store_path`` itself (it reads the file)."""
    if "store_target" not in metafunc.fixturenames:
        return
    import inspect

    own = set(inspect.signature(metafunc.function).parameters)
    file_only = "store_path" in own or metafunc.definition.get_closest_marker("file_only") is not None
    metafunc.parametrize("store_target", ["file"] if file_only else ["file", "postgresql"], indirect=True)


@pytest.fixture
def store_target(request: pytest.FixtureRequest, store_path: Path) -> str | Path:
    """The store a test runs against: this test's file path, or the libpq URL of a fresh
    database on the session's PostgreSQL server (connected as its superuser, which may act
    for the suite's logins: each is a database role there)."""
    if getattr(request, "param", "file") == "file":
        return store_path
    server = request.getfixturevalue("pg_server")
    if not getattr(server, "test_roles_made", False):
        from psycopg import sql

        with server.admin() as connection:
            for role in PG_TEST_ROLES:
                exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
                if exists is None:
                    connection.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        server.test_roles_made = True
    return server.conninfo(server.new_database())


def is_postgres_target(target: str | Path) -> bool:
    """Whether ``store_target`` is a PostgreSQL database."""
    return isinstance(target, str) and target.startswith("postgresql://")


def new_owner_repo(target: str | Path) -> Repository:
    """What ``owner_repo`` makes, on ``target`` (a ``store_target``): a store owned by
    ``alice`` with a deployed and an undeployed project."""
    repo = Repository(target, OWNER, clock=fixed_clock)
    repo.initialise("Acme Studio")
    repo.add_project("Storefront", deployed=True)
    repo.add_project("Kiosk beta", deployed=False)
    return repo


def stored_state(repo: Repository) -> bytes:
    """Everything the store holds, as bytes, to assert that a refused change changed nothing:
    the file and its audit trail, or every table of the PostgreSQL database."""
    if not repo.is_postgres:
        from store.audit import audit_path

        trail = audit_path(repo.path)
        return repo.path.read_bytes() + (trail.read_bytes() if trail.exists() else b"")
    import orjson

    from store.backend import KeyQuery

    backend = repo.backend
    return orjson.dumps({
        "meta": backend.meta(), "members": backend.members(), "projects": backend.projects(),
        "keys": backend.window(KeyQuery(), 0, 10**9), "audit": backend.audit_records(),
    }, option=orjson.OPT_SORT_KEYS)
