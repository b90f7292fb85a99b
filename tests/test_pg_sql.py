"""The repository's lists answered by SQL on PostgreSQL (issue 10): find, expiring soon and
policy violations give the answers of the file store's Python code, on both backends, and on
PostgreSQL never read every key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conftest import OWNER, analytics_draft, is_postgres_target, mobile_draft, new_owner_repo, web_draft
from store.find import KeyFinder
from store.lifecycle import horizon as lifecycle_horizon
from store.models import Status, to_iso
from store.policy import violation
from store.repository import Repository

START = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


class Clock:
    """A clock the test moves forward."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def build(target: object) -> tuple[Repository, Clock, dict[str, str]]:
    """A store with keys in every state: active, expiring, expired, disabled, revoked, rolled,
    used and never used, of two creators; the clock then moves 31 days on (30-day Analytics
    keys have expired, the 60-day ones expire within the warning window)."""
    clock = Clock()
    repo = new_owner_repo(target)  # type: ignore[arg-type]
    repo = Repository(target, OWNER, clock=clock)  # type: ignore[arg-type]
    repo.add_member("bob", "developer")
    secrets: dict[str, str] = {}

    def make(draft: dict, login: str = OWNER) -> str:
        created = Repository(target, login, clock=clock).create_key(draft)  # type: ignore[arg-type]
        secrets[created.key.name] = created.secret.get_secret_value()
        return created.key.id

    make(web_draft(name="Checkout widget"))
    make(mobile_draft(name="iOS app"))
    make(analytics_draft(name="Expired export", days=30))
    make(analytics_draft(name="Soon export", days=60))
    make(analytics_draft(project=None, name="Later export", days=90))
    revoked = make(web_draft(name="Revoked widget"))
    disabled = make(web_draft(name="Disabled widget"))
    rolled = make(web_draft(name="Rolled widget"))
    make(web_draft(name="Bob's widget"), login="bob")
    make(mobile_draft(name="Bob's unused app"), login="bob")
    repo.revoke_keys([revoked])
    repo.disable_keys([disabled])
    rolled_key = repo.roll_key(rolled, timedelta(hours=24))
    secrets["Rolled widget (new)"] = rolled_key.secret.get_secret_value()
    repo.verify(secrets["Checkout widget"], origin="https://shop.example.com")
    repo.verify(secrets["Bob's widget"], origin="https://shop.example.com")
    repo.flush_usage()
    repo.set_policy(max_lifetime_days={"web": 365, "analytics": 60}, warn_days=30)
    clock.now = START + timedelta(days=31)
    return repo, clock, secrets


TEXTS = (
    "widget", "WIDGET bob", "expired", "exp", "active", "act", "disabled", "revoked", "e",
    "never", "unused", "used", "storefront", "all organization", "analytics", "web alice",
    "key_", "nothing-matches", "a_b%c", "ed",
)


@pytest.fixture
def built(store_target) -> tuple[Repository, Clock, dict[str, str]]:
    return build(store_target)


def _reference_find(repo: Repository, text: str, **options: object) -> list[str]:
    """store/find.py's matcher over the listed keys: the file store's answer."""
    now = repo.now()
    views = repo.list_keys(**options)  # type: ignore[arg-type]
    return [view.id for view in KeyFinder(views, now).find(text, now)]


def test_find_gives_the_matchers_answers(built) -> None:
    repo, _clock, secrets = built
    for text in TEXTS:
        assert [v.id for v in repo.find_keys(text)] == _reference_find(repo, text), text
        assert [v.id for v in repo.find_keys(text, include_revoked=False, scope="web")] == (
            _reference_find(repo, text, include_revoked=False, scope="web")
        ), text
    assert {v.name for v in repo.find_keys("expired")} == {"Expired export"}
    assert {v.name for v in repo.find_keys("unused")} >= {"Bob's unused app", "iOS app"}
    assert "Checkout widget" not in {v.name for v in repo.find_keys("never")}


def test_find_by_pasted_secret_finds_exactly_its_key(built) -> None:
    repo, _clock, secrets = built
    for name, secret in secrets.items():
        assert [v.id for v in repo.find_keys(secret)] == _reference_find(repo, secret), name
    found = repo.find_keys(f"widget {secrets['Rolled widget (new)']}")
    assert [v.name for v in found] == ["Rolled widget"]
    both = f"{secrets['Checkout widget']} {secrets['iOS app']}"
    assert repo.find_keys(both) == []  # two keys' secrets: no key has both


def test_a_developer_finds_only_their_own_keys(built, store_target) -> None:
    repo, clock, _secrets = built
    bob = Repository(store_target, "bob", clock=clock)
    assert {v.name for v in bob.find_keys("widget")} == {"Bob's widget"}
    assert [v.id for v in bob.find_keys("app")] == _reference_find(bob, "app")


def test_expiring_soon_and_policy_violations(built, store_target) -> None:
    repo, clock, _secrets = built
    now = repo.now()
    soon = repo.expiring_within()
    assert [v.name for v in soon] == ["Soon export"]  # 60-day key, 29 days left; 30-day expired
    assert repo.expiring_count() == 1
    assert [v.name for v in repo.expiring_within(90)] == ["Soon export", "Later export"]
    assert repo.expiring_count(90) == 2
    assert repo.expiring_within(0.5) == [] and repo.expiring_count(0.5) == 0
    if is_postgres_target(store_target):  # the windowed screen's "expiring soon" view
        from store.backend import KeyQuery

        query = KeyQuery(now=now, expiring=(now, lifecycle_horizon(now, 90)), include_revoked=False)
        assert {r["name"] for r in repo.backend.window(query, 0, 10)} == {"Soon export", "Later export"}
        assert repo.backend.count(query) == 2

    violations = repo.policy_violations()
    reference = [
        (view.id, violation(repo.get_policy(), view.record))
        for view in repo.list_keys(include_revoked=False)
        if view.status(now) is Status.ACTIVE and violation(repo.get_policy(), view.record)
    ]
    assert [(v.key.id, v.problem) for v in violations] == reference
    assert repo.policy_violation_count() == len(reference)
    assert [(v.key.id, v.problem) for v in repo.policy_violations(limit=2)] == reference[:2]
    assert repo.policy_violations(limit=0) == []
    assert {v.key.name for v in violations} >= {"Checkout widget", "Later export"}
    assert "Disabled widget" not in {v.key.name for v in violations}
    bob = Repository(store_target, "bob", clock=clock)
    assert {v.key.name for v in bob.policy_violations()} == {"Bob's widget"}
    assert bob.policy_violation_count() == 1
    assert bob.expiring_within(90) == []


def test_the_newest_history_alone(built, store_target) -> None:
    repo, clock, _secrets = built
    everything = repo.history()
    assert len(everything) > 5
    assert repo.history(limit=3) == everything[:3]
    assert repo.history(limit=0) == []
    bob = Repository(store_target, "bob", clock=clock)
    assert bob.history(limit=2) == bob.history()[:2]


def test_the_newest_history_validates_only_what_it_returns(built, store_target, monkeypatch) -> None:
    """On the file store the whole trail is read, but only the newest events are checked and
    built (Activity opens on the newest 1,000 of a trail of any length)."""
    from store.models import AuditEvent

    repo, _clock, _secrets = built
    validated: list[object] = []
    validate = AuditEvent.model_validate

    def counted(event: object) -> AuditEvent:
        validated.append(event)
        return validate(event)

    monkeypatch.setattr(AuditEvent, "model_validate", counted)
    assert len(repo.history(limit=3)) == 3
    assert len(validated) == 3


def test_postgresql_lists_never_read_every_key(pg_url: str, monkeypatch) -> None:
    repo, _clock, _secrets = build(pg_url)
    assert is_postgres_target(repo.store)

    def every_key(*args: object, **kwargs: object) -> None:
        raise AssertionError("read every key")

    monkeypatch.setattr(Repository, "list_keys", every_key)
    monkeypatch.setattr(Repository, "_database_keys", every_key)
    assert repo.find_keys("widget")
    assert repo.expiring_within(90) and repo.expiring_count(90) == 2
    assert repo.policy_violations()
    assert repo.list_projects()


def test_rows_expiring_at_the_edges(store_target) -> None:
    """Exactly at ``now`` is expired, exactly at the horizon is still within it."""
    clock = Clock()
    repo = new_owner_repo(store_target)
    repo = Repository(store_target, OWNER, clock=clock)
    created = repo.create_key(analytics_draft(name="Edge", days=30))
    expires = datetime.fromisoformat(created.key.expires_at.replace("Z", "+00:00"))  # type: ignore[union-attr]
    clock.now = expires - timedelta(days=10)
    assert [v.name for v in repo.expiring_within(10)] == ["Edge"]
    assert repo.expiring_within(9.99) == []
    clock.now = expires
    assert repo.expiring_within(10) == []
    assert [v.name for v in repo.find_keys("expired")] == ["Edge"]
    assert [v.id for v in repo.find_keys("active")] == _reference_find(repo, "active") == []
    assert to_iso(clock.now) == repo.now()


def test_an_older_schema_gains_the_expiry_and_trigram_indexes_once(pg_url: str, pg_server) -> None:
    """Migration 4 adds keys_expiring and, where pg_trgm can be made, the search index a
    store made without it lacks; the expiring-soon list is then an index range."""
    from test_pg_backend import make_store

    make_store(pg_url, upto_version=3).close()
    database = pg_url.split("/")[3].split("?")[0]
    with pg_server.admin(database) as admin:
        admin.execute("DROP INDEX keys_search")  # as if pg_trgm had been missing at init
    repo = Repository(pg_url, clock=Clock())
    assert repo.backend.schema_version() == 4
    with pg_server.admin(database) as admin:
        rows = admin.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'keys'")
        indexes = {row[0] for row in rows}
        assert {"keys_expiring", "keys_search"} <= indexes
        admin.execute("SET enable_seqscan = off")
        plan = admin.execute(
            "EXPLAIN SELECT id FROM keys WHERE status = 'active' AND expires_at > now() "
            "AND expires_at <= now() + interval '14 days'"
        ).fetchall()
    assert "keys_expiring" in " ".join(row[0] for row in plan)
    repo.close()


def test_the_bulk_demo_seed_reports_its_progress(pg_url: str) -> None:
    """``demo --store postgresql://…`` shows a progress line: made of total after each chunk,
    then made == total before the indexes are rebuilt."""
    from store.backends.bulk import seed_bulk

    calls: list[tuple[int, int]] = []
    backend = seed_bulk(
        pg_url, keys=120, seed=3, chunk=50, progress=lambda made, total: calls.append((made, total))
    )
    backend.close()
    assert calls == [(50, 120), (100, 120), (120, 120)]
