"""The PostgreSQL backend against a real server (SPEC §10): schema and migrations, changes
with their audit rows, row locks and revisions, verify that never waits, windows, LISTEN/NOTIFY,
identity by database role, bulk seeding."""

from __future__ import annotations

import json
import os
import pwd
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support.pg_server import skip_or_fail

try:
    import psycopg  # noqa: F401
except ImportError:  # without psycopg nothing below imports; CI (APIKEYS_REQUIRE_POSTGRES=1) fails
    skip_or_fail("psycopg is not installed (pip install -e '.[test]' installs it)")

from conftest import FIXED_NOW, fixed_clock  # noqa: E402
from store.backend import KeyQuery, KeySort, UsageCount, search_text  # noqa: E402
from store.backends import is_postgres_store, open_backend  # noqa: E402
from store.backends.bulk import seed_bulk  # noqa: E402
from store.backends.file import ordered  # noqa: E402
from store.backends.postgres import (  # noqa: E402
    KEY_COLUMNS,
    SCHEMA_VERSION,
    PostgresBackend,
    group_role_for,
)
from store.errors import InvalidInput, StoreUnusable  # noqa: E402
from store.models import AuditEvent, KeyDraft, to_iso  # noqa: E402
from store.repository import ALL_PROJECTS, new_key_record, stamped  # noqa: E402

WORKERS = Path(__file__).parent / "support" / "pg_workers.py"
NOW = to_iso(FIXED_NOW)


def make_store(url: str, *, upto_version: int = SCHEMA_VERSION) -> PostgresBackend:
    """A new store owned by the connected role, with one deployed project."""
    backend = PostgresBackend(url)
    owner = backend_identity(url)
    created = backend.create(
        {"organisation": "Acme Studio", "created_at": NOW, "created_by": owner},
        {"login": owner, "role": "owner", "display_name": owner, "added_at": NOW, "added_by": owner},
        [AuditEvent(at=NOW, actor=owner, action="store.init", detail="created organisation 'Acme Studio'")],
        upto_version=upto_version,
    )
    assert created
    if upto_version == SCHEMA_VERSION:
        with backend.transaction() as transaction:
            transaction.projects["prj_000001"] = {
                "id": "prj_000001", "name": "Storefront", "deployed": True, "created_at": NOW,
                "created_by": owner,
            }
            transaction.changed()
    return backend


def backend_identity(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute("SELECT session_user").fetchone()[0]


def add_key(
    backend: PostgresBackend, name: str = "Checkout widget", *, login: str | None = None
) -> tuple[dict, str]:
    """Store a new Web key through a transaction (as create_key will); return record and secret."""
    login = login or backend.identity()
    draft = KeyDraft.model_validate({
        "name": name, "scope": "web", "project_id": "prj_000001", "web": {"domains": ["https://shop.example.com"]},
    })
    with backend.transaction() as transaction:
        record, secret = new_key_record(draft, "prj_000001", login, FIXED_NOW, taken=transaction.keys)
        transaction.keys[record["id"]] = record
        transaction.changed()
        transaction.record_events([AuditEvent(at=NOW, actor=login, action="key.create", key_id=record["id"])])
    return record, secret


def audit_count(backend: PostgresBackend, key_id: str | None = None) -> int:
    return len(backend.audit_records(key_id))


def run_worker(*args: str, user: str | None = None) -> object:
    """Run a pg_workers command in a new process; as OS login ``user`` when given."""
    if user is None:
        command, env = [sys.executable], None
    else:
        command, env = ["runuser", "-u", user, "--", *python_for_others()], {**os.environ, **_foreign_path()}
    result = subprocess.run(
        [*command, str(WORKERS), *args], capture_output=True, text=True, timeout=120, check=False, env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _reachable_by_others(path: Path) -> bool:
    """Whether every folder on the way to ``path`` lets other logins through."""
    path = path.resolve()
    return all(os.stat(part).st_mode & 0o001 for part in [*path.parents, path])


def python_for_others() -> list[str]:
    """An interpreter other OS logins may run: this one, or the system's of the same version
    (with this environment's packages on its path, see :func:`_foreign_path`)."""
    if _reachable_by_others(Path(sys.executable)):
        return [sys.executable]
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if system.exists() and _reachable_by_others(system):
        return [str(system)]
    skip_or_fail("no Python interpreter that other OS logins may run (this one lives in a private folder)")


def _foreign_path() -> dict[str, str]:
    import sysconfig

    paths = sysconfig.get_paths()
    folders = [paths["purelib"], paths["platlib"], str(Path(__file__).parents[1])]
    return {"PYTHONPATH": os.pathsep.join(dict.fromkeys(folders)), "HOME": "/tmp"}


# -- the store string and the schema ----------------------------------------------------------


def test_store_string_chooses_the_backend(tmp_path: Path) -> None:
    assert is_postgres_store("postgresql://db.example.com/keys")
    assert is_postgres_store("postgres:///keys?host=/run/postgresql")
    assert not is_postgres_store(str(tmp_path / "store.json"))
    assert open_backend(str(tmp_path / "store.json")).kind == "file"
    assert open_backend("postgresql:///keys").kind == "postgresql"


def test_init_makes_the_schema_the_group_role_and_the_first_audit_event(pg_url: str) -> None:
    backend = make_store(pg_url)
    assert backend.exists()
    assert backend.schema_version() == SCHEMA_VERSION
    identity = backend.identity()
    assert set(backend.members()) == {identity}
    assert backend.meta()["organisation"] == "Acme Studio"
    assert [event["action"] for event in backend.audit_records()] == ["store.init"]
    database = pg_url.split("/")[3].split("?")[0]
    assert backend.group_role() == group_role_for(database)
    # A second init changes nothing.
    again = PostgresBackend(pg_url).create(
        {"organisation": "Other"}, {"login": identity, "role": "owner"}, []
    )
    assert again is False
    assert backend.meta()["organisation"] == "Acme Studio"


def test_a_database_without_a_store_is_named_in_one_line(pg_url: str) -> None:
    backend = PostgresBackend(pg_url)
    assert not backend.exists()
    with pytest.raises(StoreUnusable, match="no apikeys store in database .*apikeys init"):
        backend.meta()


def test_a_newer_schema_is_refused_and_left_alone(pg_url: str, pg_server) -> None:
    make_store(pg_url)
    with pg_server.admin(pg_url.split("/")[3].split("?")[0]) as admin:
        admin.execute("INSERT INTO schema_version (version) VALUES (99)")
    with pytest.raises(StoreUnusable, match="schema version 99.*upgrade apikeys"):
        PostgresBackend(pg_url).meta()


def test_opening_an_older_schema_migrates_it_once(pg_url: str, pg_server) -> None:
    make_store(pg_url, upto_version=1).close()
    with pg_server.admin(pg_url.split("/")[3].split("?")[0]) as admin:
        assert admin.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 1
        assert admin.execute("SELECT to_regclass('usage')").fetchone()[0] is None
    backend = PostgresBackend(pg_url)
    assert backend.schema_version() == SCHEMA_VERSION
    assert backend.usage("key_x", "2026-01-01") == []
    assert PostgresBackend(pg_url).migrate() == []  # nothing left to do


def test_two_processes_opening_an_old_schema_migrate_it_exactly_once(
    pg_url: str, pg_server, tmp_path: Path
) -> None:
    make_store(pg_url, upto_version=1).close()
    start = tmp_path / "start"
    workers = [
        subprocess.Popen([sys.executable, str(WORKERS), "migrate", pg_url, str(start)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    start.touch()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(results) == [[], list(range(2, SCHEMA_VERSION + 1))]
    with pg_server.admin(pg_url.split("/")[3].split("?")[0]) as admin:
        versions = [row[0] for row in admin.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))


# -- changes, audit, locks and revisions --------------------------------------------------------


def test_a_change_and_its_audit_rows_commit_together_or_not_at_all(pg_url: str) -> None:
    backend = make_store(pg_url)
    record, _secret = add_key(backend)
    assert backend.key(record["id"])["name"] == "Checkout widget"
    assert audit_count(backend, record["id"]) == 1

    with pytest.raises(RuntimeError), backend.transaction() as transaction:
        current = transaction.keys[record["id"]]
        transaction.keys[record["id"]] = stamped(current, NOW, "x", name="Half done")
        transaction.changed()
        transaction.record_events([AuditEvent(at=NOW, actor="x", action="key.edit", key_id=record["id"])])
        raise RuntimeError("the body failed")
    assert backend.key(record["id"])["name"] == "Checkout widget"
    assert audit_count(backend, record["id"]) == 1

    # Not marked changed: nothing is written even though a record was assigned.
    with backend.transaction() as transaction:
        transaction.keys[record["id"]] = stamped(transaction.keys[record["id"]], NOW, "x", name="Unmarked")
    assert backend.key(record["id"])["name"] == "Checkout widget"


def test_a_record_round_trips_exactly(pg_url: str) -> None:
    backend = make_store(pg_url)
    record, _secret = add_key(backend)
    assert backend.key(record["id"]) == record
    assert backend.key_by_hash(record["secret_hash"]) == record


def test_kill_9_of_a_writer_mid_transaction_leaves_neither_change_nor_audit(pg_url: str, pg_server) -> None:
    backend = make_store(pg_url)
    record, _secret = add_key(backend)
    before = audit_count(backend)
    writer = subprocess.Popen([sys.executable, str(WORKERS), "hold", pg_url, record["id"]],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert json.loads(writer.stdout.readline()) == "ready", writer.stderr.read()
        # The key is locked and changed inside the writer's transaction, yet readers see the
        # committed row at once.
        assert backend.key(record["id"])["name"] == "Checkout widget"
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    _wait_until_no_session_holds(pg_server, pg_url)
    assert backend.key(record["id"]) == record
    assert audit_count(backend) == before
    # The key is free again: a change goes through.
    with backend.transaction(timeout=5) as transaction:
        transaction.keys[record["id"]] = stamped(transaction.keys[record["id"]], NOW, "x", name="After")
        transaction.changed()
    assert backend.key(record["id"])["revision"] == 2


def _wait_until_no_session_holds(pg_server, pg_url: str) -> None:
    """The server ends a killed client's session when it notices the closed socket."""
    database = pg_url.split("/")[3].split("?")[0]
    with pg_server.admin() as admin:
        for _ in range(3000):
            busy = admin.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = %s AND state LIKE 'idle in transaction%%'",
                (database,),
            ).fetchone()[0]
            if busy == 0:
                return
            time.sleep(0.01)
    pytest.fail("the killed writer's session never ended")


def test_concurrent_changes_of_one_key_from_several_processes_lose_nothing(pg_url: str) -> None:
    backend = make_store(pg_url)
    record, _secret = add_key(backend)
    rounds, processes = 15, 3
    workers = [
        subprocess.Popen([sys.executable, str(WORKERS), "bump", pg_url, record["id"], str(rounds)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    for worker in workers:
        _out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    assert backend.key(record["id"])["revision"] == 1 + rounds * processes
    assert audit_count(backend, record["id"]) == 1 + rounds * processes


def test_a_second_change_of_a_key_waits_for_the_first_and_builds_on_it(pg_url: str) -> None:
    backend, other = make_store(pg_url), PostgresBackend(pg_url)
    record, _secret = add_key(backend)
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        with backend.transaction() as transaction:
            transaction.keys[record["id"]] = stamped(transaction.keys[record["id"]], NOW, "a", name="First")
            transaction.changed()
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=first)
    thread.start()
    holding.wait(30)
    # While the first holds the row, a change that may not wait is refused in one line...
    with (
        pytest.raises(StoreUnusable, match="another session has held the key"),
        other.transaction(timeout=0.05) as transaction,
    ):
        transaction.keys[record["id"]]
    release.set()
    thread.join(30)
    # ...and one that waits sees the first's revision, so nothing is undone.
    with other.transaction() as transaction:
        current = transaction.keys[record["id"]]
        assert (current["name"], current["revision"]) == ("First", 2)
        transaction.keys[record["id"]] = stamped(current, NOW, "b", name="Second")
        transaction.changed()
    assert backend.key(record["id"])["revision"] == 3


def test_a_write_built_on_a_stale_revision_is_refused(pg_url: str) -> None:
    """The UPDATE names the revision it read (belt and braces to the row lock): a record
    whose stored revision moved on under it is refused with Conflict, never written."""
    from store.errors import Conflict

    backend = make_store(pg_url)
    record, _secret = add_key(backend)
    with backend.transaction() as transaction:
        stale = transaction.keys[record["id"]]
        # Someone with the same transaction bypassing the mapping (a stored procedure, a
        # DBA's UPDATE) moves the revision on.
        transaction.connection.execute("UPDATE keys SET revision = 7 WHERE id = %s", (record["id"],))
        with pytest.raises(Conflict, match="changed by someone else"):
            transaction.keys[record["id"]] = stamped(stale, NOW, "x", name="Lost")


def test_keys_are_not_listed_whole_inside_a_change(pg_url: str) -> None:
    backend = make_store(pg_url)
    with backend.transaction() as transaction, pytest.raises(TypeError, match="windows"):
        list(transaction.keys)


# -- verify and usage ---------------------------------------------------------------------------


def test_verify_lookup_answers_while_a_writer_holds_the_key(pg_url: str) -> None:
    backend, verifier = make_store(pg_url), PostgresBackend(pg_url)
    record, _secret = add_key(backend)
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with backend.transaction() as transaction:
            key = transaction.keys[record["id"]]
            transaction.keys[record["id"]] = stamped(key, NOW, "a", status="revoked")
            transaction.changed()
            holding.set()
            release.wait(60)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(30)
        answers: list = []
        lookup = threading.Thread(target=lambda: answers.append(verifier.key_by_hash(record["secret_hash"])))
        lookup.start()
        lookup.join(30)
        assert answers and answers[0]["status"] == "active"  # the committed row, not the pending one
        # Usage for a key a change holds is not waited for: kept for the next flush.
        later = "2026-12-01T09:45:00Z"
        assert verifier.note_last_used({record["id"]: later}) == set()
    finally:
        release.set()
        thread.join(30)
    assert verifier.note_last_used({record["id"]: "2026-12-01T09:45:00Z"}) == {record["id"]}
    assert verifier.key(record["id"])["last_used_at"] == "2026-12-01T09:45:00Z"
    assert verifier.key(record["id"])["revision"] == 2  # last-used is not a revision of the key
    # An earlier time never overwrites a later one.
    verifier.note_last_used({record["id"]: "2026-12-01T09:00:00Z"})
    assert verifier.key(record["id"])["last_used_at"] == "2026-12-01T09:45:00Z"


def test_verify_finds_a_rolled_keys_previous_secret_during_its_grace(pg_url: str) -> None:
    backend = make_store(pg_url)
    record, _secret = add_key(backend)
    with backend.transaction() as transaction:
        transaction.keys[record["id"]] = stamped(
            transaction.keys[record["id"]], NOW, "a", previous_secret_hash=record["secret_hash"],
            secret_hash="f" * 64, previous_valid_until="2026-12-02T09:30:00Z",
        )
        transaction.changed()
    found = backend.key_by_hash(record["secret_hash"])
    assert found["id"] == record["id"] and found["previous_valid_until"] == "2026-12-02T09:30:00Z"
    assert backend.key_by_hash("0" * 64) is None


def test_usage_counters_are_added_with_upserts(pg_url: str) -> None:
    backend = make_store(pg_url)
    batch = [UsageCount("key_a", "2026-12-01", valid=3, refused=1, last_origin="https://a.example"),
             UsageCount("key_a", "2026-12-02", valid=1)]
    backend.add_usage(batch)
    backend.add_usage([UsageCount("key_a", "2026-12-01", valid=2, last_ip="10.0.0.1")])
    assert backend.usage("key_a", "2026-11-01") == [
        UsageCount("key_a", "2026-12-01", 5, 1, "https://a.example", "10.0.0.1"),
        UsageCount("key_a", "2026-12-02", 1, 0, None, None),
    ]
    assert backend.usage("key_a", "2026-12-02") == [UsageCount("key_a", "2026-12-02", 1, 0, None, None)]


# -- windows ------------------------------------------------------------------------------------


def _seeded_store(pg_url: str, pg_server):
    backend = seed_bulk(pg_url, keys=300, seed=7, clock=fixed_clock, chunk=120)
    for name in ("Twin a", "Twin b", "Twin c"):  # same created_at: ties break newest stored first
        add_key(backend, name)
    database = pg_url.split("/")[3].split("?")[0]
    with pg_server.admin(database) as admin:
        ids = [row[0] for row in admin.execute("SELECT id FROM keys ORDER BY seq")]
    records = [backend.key(key_id) for key_id in ids]
    names = {pid: project["name"] for pid, project in backend.projects().items()}
    return backend, records, names


@pytest.fixture(scope="module")
def shared_seeded(pg_server):
    """A small demo store (bulk seeded) plus keys made in the same second, and every row as
    stored, in the order it was stored; shared by the read-only window tests."""
    return _seeded_store(pg_server.conninfo(pg_server.new_database("windows")), pg_server)


@pytest.fixture
def seeded(pg_url: str, pg_server):
    """The same as :func:`shared_seeded`, for one test that changes it."""
    return _seeded_store(pg_url, pg_server)


def _python_rows(records, names, query: KeyQuery):
    rows = [r for r in records if query.created_by is None or r["created_by"] == query.created_by]
    rows = [r for r in rows if query.include_revoked or r["status"] != "revoked"]
    rows = [r for r in rows if query.scope is None or r["scope"] == query.scope]
    rows = [r for r in rows if all(
        word in search_text(
            r, names.get(r.get("project_id"), ALL_PROJECTS) if r.get("project_id") else ALL_PROJECTS
        )
        for word in query.words
    )]
    return ordered(rows, query.sort)


QUERIES = [
    KeyQuery(sort=sort) for sort in KeySort
] + [
    KeyQuery(sort=KeySort.SCOPE, include_revoked=False),
    KeyQuery(sort=KeySort.CREATED_DESC, created_by="jchen"),
    KeyQuery(sort=KeySort.LAST_USED, scope="analytics"),
    KeyQuery(sort=KeySort.CREATED_DESC, words=KeyQuery.words_of("Checkout")),
    KeyQuery(sort=KeySort.SCOPE, words=KeyQuery.words_of("WEB prod")),
    KeyQuery(sort=KeySort.CREATED_ASC, words=KeyQuery.words_of("storefront mobile")),
    KeyQuery(sort=KeySort.CREATED_DESC, words=("twin",)),
    KeyQuery(sort=KeySort.CREATED_DESC, words=("100%",)),
    KeyQuery(sort=KeySort.CREATED_DESC, words=("a_b",)),
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: f"{q.sort}-{'+'.join(q.words) or 'all'}")
def test_windows_match_a_python_sort_of_the_same_rows(shared_seeded, query: KeyQuery) -> None:
    backend, records, names = shared_seeded
    expected = [r["id"] for r in _python_rows(records, names, query)]
    assert backend.count(query) == len(expected)
    assert backend.count(query, at_most=25) == min(25, len(expected))
    pages = []
    for offset in range(0, len(expected) + 40, 40):
        pages += [r["id"] for r in backend.window(query, offset, 40)]
    assert pages == expected
    if len(expected) > 50:
        anchor = expected[49]
        assert [r["id"] for r in backend.window(query, 0, 30, after=anchor)] == expected[50:80]
        assert backend.position(query, anchor) == 49
    assert backend.position(query, "key_missing") is None


def test_the_word_filter_is_the_same_without_pg_trgm(seeded, pg_server) -> None:
    backend, records, names = seeded
    query = KeyQuery(words=KeyQuery.words_of("dashboard qa"))
    with_index = [r["id"] for r in backend.window(query, 0, 1000)]
    assert with_index == [r["id"] for r in _python_rows(records, names, query)]
    database = backend.conninfo.split("/")[3].split("?")[0]
    with pg_server.admin(database) as admin:
        assert admin.execute("SELECT to_regclass('keys_search')").fetchone()[0] is not None
        admin.execute("DROP INDEX keys_search")
    assert [r["id"] for r in backend.window(query, 0, 1000)] == with_index


def test_project_key_counts_and_the_change_marker(seeded) -> None:
    backend, records, _names = seeded
    counts = backend.project_key_counts()
    assert sum(counts.values()) == sum(1 for r in records if r["status"] != "revoked")
    assert counts.get(None, 0) == sum(
        1 for r in records if r["status"] != "revoked" and not r.get("project_id")
    )
    marker = backend.change_marker()
    assert backend.change_marker() == marker
    add_key(backend, "One more")
    assert backend.change_marker() != marker


# -- live view ----------------------------------------------------------------------------------


def test_listen_notify_delivers_another_sessions_change(pg_url: str) -> None:
    backend = make_store(pg_url)
    listener = backend.listen()
    try:
        assert listener.poll() == []
        other = PostgresBackend(pg_url)
        record, _secret = add_key(other, "From another host")
        notices: list[str] = []
        for _ in range(100):
            notices += listener.wait(0.2)
            if notices:
                break
        assert any(f"key:{record['id']}" in notice for notice in notices)
        # A change that was rolled back is never announced.
        with pytest.raises(RuntimeError), other.transaction() as transaction:
            transaction.keys[record["id"]] = stamped(transaction.keys[record["id"]], NOW, "x", name="No")
            transaction.changed()
            raise RuntimeError
        add_key(other, "Second")
        later = []
        for _ in range(100):
            later += listener.wait(0.2)
            if later:
                break
        assert all("No" not in notice for notice in later) and len(later) == 1
    finally:
        listener.close()


# -- identity -----------------------------------------------------------------------------------


@pytest.fixture
def two_os_logins(pg_server):
    """Two throwaway OS logins with database roles of the same names (root only)."""
    if os.geteuid() != 0:
        skip_or_fail("identity tests create OS users, so they run as root (as CI does)")
    import psycopg.sql as sql

    names = [f"apk{secrets.token_hex(3)}{letter}" for letter in "ab"]
    created = []
    try:
        for name in names:
            subprocess.run(
                ["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=True, capture_output=True
            )
            created.append(name)
            with pg_server.admin() as admin:
                admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        yield names
    finally:
        for name in created:
            subprocess.run(["userdel", name], check=False, capture_output=True)


def test_identity_is_the_database_role_and_members_are_granted_the_group(
    pg_url: str, pg_server, two_os_logins
) -> None:
    alice, bob = two_os_logins
    backend = make_store(pg_url)
    as_os_login = pg_url.replace(f"{pg_server.superuser}@", "")  # libpq then uses the OS login
    assert pwd.getpwnam(alice)

    # Not yet a member: the server refuses the data to alice's role.
    outsider = run_worker("whoami", as_os_login, user=alice)
    assert "permission denied" in outsider["error"]

    # members add refuses a role that does not exist.
    with (
        backend.transaction() as transaction,
        pytest.raises(InvalidInput, match="no database role 'nobody_here'"),
    ):
        transaction.members["nobody_here"] = {"login": "nobody_here", "role": "developer"}

    assert run_worker("add_member", pg_url, alice, "owner") == {"added": alice}
    assert run_worker("whoami", as_os_login, user=alice) == {
        "identity": alice, "members": sorted([pg_server.superuser, alice]),
    }
    # alice is an owner (ADMIN OPTION on the group): she adds bob without a DBA.
    assert run_worker("add_member", as_os_login, bob, "developer", user=alice) == {"added": bob}
    assert run_worker("whoami", as_os_login, user=bob)["identity"] == bob
    # bob, a developer, cannot grant the group to anyone: the server says no.
    refused = run_worker("add_member", as_os_login, "postgres", "developer", user=bob)
    assert "error" in refused
    # alice cannot pass herself off as bob: peer authentication maps OS login to role.
    bobs_url = pg_server.conninfo(pg_url.split("/")[3].split("?")[0], user=bob)
    forged = run_worker("whoami", bobs_url, user=alice)
    assert "error" in forged and "authentication failed" in forged["error"]

    # members remove revokes the group: bob is out at once.
    with backend.transaction() as transaction:
        del transaction.members[bob]
        transaction.changed()
    assert "permission denied" in run_worker("whoami", as_os_login, user=bob)["error"]
    audit_actors = {(e["actor"], e["action"]) for e in backend.audit_records()}
    assert (alice, "member.add") in audit_actors


def test_the_audit_trail_cannot_be_rewritten_by_members(pg_url: str, pg_server, two_os_logins) -> None:
    alice, _bob = two_os_logins
    make_store(pg_url)
    run_worker("add_member", pg_url, alice, "owner")
    script = (
        "import psycopg,sys\n"
        "c = psycopg.connect(sys.argv[1], autocommit=True)\n"
        "try:\n    c.execute('DELETE FROM audit'); print('deleted')\n"
        "except psycopg.errors.InsufficientPrivilege: print('refused')\n"
    )
    as_os_login = pg_url.replace(f"{pg_server.superuser}@", "")
    result = subprocess.run(["runuser", "-u", alice, "--", *python_for_others(), "-c", script, as_os_login],
                            capture_output=True, text=True, timeout=60, check=False,
                            env={**os.environ, **_foreign_path()})
    assert result.stdout.strip() == "refused", result.stderr


# -- bulk seed ----------------------------------------------------------------------------------


def test_bulk_seed_loads_realistic_keys_with_copy(pg_url: str, pg_server) -> None:
    backend = seed_bulk(pg_url, keys=10_000, seed=3, clock=fixed_clock)
    assert backend.count(KeyQuery()) == 10_000
    assert backend.count(KeyQuery(include_revoked=False)) < 10_000  # some were revoked
    scopes = {r["scope"] for r in backend.window(KeyQuery(sort=KeySort.SCOPE), 0, 10_000)}
    assert scopes == {"web", "mobile", "analytics"}
    assert len(backend.members()) >= 5 and len(backend.projects()) == 12
    creates = [e for e in backend.audit_records() if e["action"] == "key.create"]
    assert len(creates) == 10_000
    # Every seeded record is a valid key, shaped as Repository.create_key / revoke make them.
    from store.models import ApiKey
    from store.tokens import secret_scope

    for record in backend.window(KeyQuery(sort=KeySort.SCOPE), 0, 10_000)[::97]:
        assert ApiKey.model_validate(record).id == record["id"]
        assert record["status"] in ("active", "revoked")
        if record.get("secret"):
            assert secret_scope(record["secret"]) == record["scope"]
            assert record["key_prefix"] == record["secret"][:8]
        assert {"updated_at", "updated_by", "revision"} <= set(record)
    newest = backend.window(KeyQuery(), 0, 1)[0]
    assert backend.key_by_hash(newest["secret_hash"])["id"] == newest["id"]
    database = pg_url.split("/")[3].split("?")[0]
    with pg_server.admin(database) as admin:
        rows = admin.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'keys'")
        indexes = {row[0] for row in rows}
    assert {"keys_secret_hash", "keys_created", "keys_scope", "keys_last_used", "keys_search"} <= indexes
    with pytest.raises(StoreUnusable, match="already holds a store"):
        seed_bulk(pg_url, keys=1)
    optional = {"expires_at", "last_used_at", "previous_secret_hash", "project_id"}
    assert set(KEY_COLUMNS) <= set(newest) | optional


def test_code_written_for_the_file_layout_works_inside_a_change(pg_url: str) -> None:
    """``transaction.data`` has the file store's shape, so the repository's helpers that take
    the parsed tables work unchanged; the meta row is locked only when it is read."""
    backend = make_store(pg_url)
    record, _secret = add_key(backend)
    identity = backend.identity()
    with backend.transaction() as transaction:
        data = transaction.data
        assert data["members"].get(identity)["role"] == "owner"
        assert data["keys"].get(record["id"])["id"] == record["id"]
        assert record["id"] in data["keys"] and "key_nope" not in data["keys"]
        assert transaction._meta is None  # not read, not locked
        data["_meta"]["1"]["policy"] = {"max_days": 90}
        transaction.changed()
        transaction.record_events([AuditEvent(at=NOW, actor=identity, action="policy.set")])
    assert backend.meta()["policy"] == {"max_days": 90}
    assert backend.audit_records()[-1]["action"] == "policy.set"
