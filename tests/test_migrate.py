"""``migrate --to``: a demo file store of a few thousand keys into PostgreSQL (by COPY) and
back; every answer of verify, the lists, the audit trail and the usage are the same after."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.pg_server import skip_or_fail

try:
    import psycopg  # noqa: F401
except ImportError:
    skip_or_fail("psycopg is not installed (pip install -e '.[test]' installs it)")

from conftest import fixed_clock  # noqa: E402
from store import seed  # noqa: E402
from store.backends import open_backend  # noqa: E402
from store.backends.migrate import migrate  # noqa: E402
from store.errors import InvalidInput  # noqa: E402
from store.repository import Repository  # noqa: E402

KEYS = 3000
OWNER = seed.MEMBERS[0][0]


@pytest.fixture
def demo_roles(pg_server) -> None:
    """The demo's members as database roles (members of a PostgreSQL store are roles)."""
    from psycopg import sql

    with pg_server.admin() as connection:
        for login, _name, _role in seed.MEMBERS:
            if connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone() is None:
                connection.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(login)))


def _answers(store: str | Path, secrets: list[str]) -> list[tuple[object, ...]]:
    repo = Repository(store, OWNER, clock=fixed_clock)
    try:
        return [
            (verdict.valid, verdict.reason, verdict.key_id)
            for secret in secrets
            for verdict in [repo.verify(secret, origin="https://shop.example.com")]
        ]
    finally:
        repo.close()


def _picture(store: str | Path) -> dict[str, object]:
    """What an admin sees of the store: keys (as listed), members, projects, policy, trail."""
    repo = Repository(store, OWNER, clock=fixed_clock)
    try:
        views = repo.list_keys()
        return {
            "keys": sorted((v.id, v.name, v.record["status"], v.project_name, v.record.get("revision"),
                            v.record.get("last_used_at"), v.record.get("expires_at")) for v in views),
            "members": [m.model_dump() for m in repo.list_members()],
            "projects": [(p.model_dump(), count) for p, count in repo.list_projects()],
            "policy": repo.get_policy().as_json(),
            "trail": [e.model_dump() for e in repo.history()],
            # "Oldest first" is the file's stored order (the demo stores keys of random ages),
            # created_at on PostgreSQL: the sets are compared.
            "expiring": sorted((v.record["expires_at"], v.id) for v in repo.expiring_within(30)),
            "violations": sorted((v.key.id, v.problem) for v in repo.policy_violations()),
            "found": sorted(v.id for v in repo.find_keys("checkout prod")),
            "usage": [repo.usage(v.id, 90).model_dump() for v in sorted(views, key=lambda v: v.id)[:40]],
        }
    finally:
        repo.close()


def test_a_demo_store_migrates_to_postgresql_and_back_unchanged(
    tmp_path: Path, pg_server, demo_roles
) -> None:
    source = tmp_path / "demo" / "store.json"
    seed.seed_demo(source, OWNER, keys=KEYS, seed=7, clock=fixed_clock).close()
    records = Repository(source, OWNER, clock=fixed_clock).backend.storage.current()["keys"]  # type: ignore[attr-defined]
    secrets = [r["secret"] for r in records.values() if r.get("secret")][::25]
    secrets += ["web_" + "A" * 38, "not a secret"]

    url = pg_server.conninfo(pg_server.new_database())
    back = tmp_path / "back" / "store.json"
    file_backend, pg_backend = open_backend(source), open_backend(url)
    try:
        copied = migrate(file_backend, pg_backend)
        assert len(copied.keys) == KEYS
        migrate(pg_backend, open_backend(back))
        # A target that holds a store is refused; nothing is written into it.
        with pytest.raises(InvalidInput, match="already holds a store"):
            migrate(pg_backend, open_backend(source))
        with pytest.raises(InvalidInput, match="already holds a store"):
            migrate(file_backend, pg_backend)
    finally:
        pg_backend.close()
        file_backend.close()

    # Pictures first: verify notes usage, which changes them.
    picture = _picture(source)
    assert _picture(url) == picture
    assert _picture(back) == picture
    before = _answers(source, secrets)
    assert sum(1 for valid, _reason, _key in before if valid) > 10
    assert _answers(url, secrets) == before
    assert _answers(back, secrets) == before
