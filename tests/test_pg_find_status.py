"""Status words find the same keys on PostgreSQL as on the file store (issue 10).

store/find.py matches the status a key *shows* (``active``, ``disabled``, ``revoked``,
``expired``) and ``never``/``unused`` for a key never used. The same store is built on both
backends with keys in every state (an active key whose name holds "active" but has expired, a
disabled and a revoked key past their expiry, a rolled key, used and unused keys), and the
same finds run on both: ``apikeys list --find`` (``find_keys``), the main screen's filter
(``key_source`` windows and counts, in every order, also within the expiring view), and the
store/find.py matcher as the reference.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from test_pg_sql import START, Clock

from conftest import OWNER, analytics_draft, mobile_draft, new_owner_repo, web_draft
from store.find import KeyFinder
from store.key_source import KeySource
from store.repository import Repository

# Every status word, the pieces of them an admin types, and words mixed with other fields.
# Ids and key prefixes are random (base62): a word of under four letters may sit in one of
# them, so those are compared with store/find.py on each store, the rest across the stores.
WORDS = (
    "active", "activ", "act", "ive", "inactive", "disabled", "disab", "able", "revoked", "rev",
    "ked", "expired", "expir", "exp", "red", "ed", "d", "e", "never", "unused", "used", "use",
    "nev", "active web", "expired analytics", "active export", "disabled expired", "revoked web",
    "never active", "unused expired", "active storefront", "bob active", "status",
)
ORDERS = ("created_desc", "created_asc", "scope", "last_used")


def build(target: Path | str) -> tuple[Repository, Clock]:
    """The same keys on ``target``, in every state, 31 days after they were made."""
    clock = Clock()
    new_owner_repo(target)
    repo = Repository(target, OWNER, clock=clock)
    repo.add_member("bob", "developer")

    def make(draft: dict, login: str = OWNER) -> tuple[str, str]:
        clock.now += timedelta(minutes=1)  # no ties: every order is the same on both
        created = Repository(target, login, clock=clock).create_key(draft)
        return created.key.id, created.secret.get_secret_value()

    checkout, checkout_secret = make(web_draft(name="Checkout widget"))
    make(mobile_draft(name="iOS app"))
    make(analytics_draft(name="Inactive export", days=30))  # expires: "active" only by its name
    make(analytics_draft(name="Plain export", days=30))  # expires
    make(analytics_draft(name="Soon export", days=60))
    make(analytics_draft(project=None, name="Org export", days=90))
    disabled_expired, _ = make(analytics_draft(name="Paused export", days=30))
    revoked_expired, _ = make(analytics_draft(name="Gone export", days=30))
    revoked, _ = make(web_draft(name="Revoked widget"))
    disabled, _ = make(web_draft(name="Disabled widget"))
    rolled, _ = make(web_draft(name="Rolled widget"))
    bobs, bobs_secret = make(web_draft(name="Bob's widget"), login="bob")
    make(mobile_draft(name="Bob's unused app"), login="bob")
    repo.revoke_keys([revoked, revoked_expired])
    repo.disable_keys([disabled, disabled_expired])
    repo.roll_key(rolled, timedelta(hours=1))
    for secret in (checkout_secret, bobs_secret):
        repo.verify(secret, origin="https://shop.example.com")
    repo.flush_usage()
    clock.now = START + timedelta(days=31)
    return repo, clock


def comparable(text: str) -> bool:
    """Whether ``text`` finds the same keys in two stores whatever their random ids."""
    return all(len(word) >= 4 for word in text.split())


def names(views) -> list[str]:
    return [view.name for view in views]


def every_row(source: KeySource) -> list[str]:
    count = source.count()
    rows = source.window(0, count + 5)
    assert len(rows) == count
    return names(rows)


def reference(repo: Repository, text: str) -> list[str]:
    """store/find.py over every key, oldest first."""
    now = repo.now()
    return names(KeyFinder(repo.list_keys(), now).find(text, now))


@pytest.fixture
def both(tmp_path: Path, pg_server) -> tuple[Repository, Repository]:
    from psycopg import sql

    with pg_server.admin() as connection:  # the logins are database roles (as store_target)
        for role in (OWNER, "bob"):
            if connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                connection.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    file_repo, _ = build(tmp_path / "store.json")
    database_repo, _ = build(pg_server.conninfo(pg_server.new_database()))
    assert database_repo.is_postgres and not file_repo.is_postgres
    yield file_repo, database_repo
    database_repo.close_key_sources()
    database_repo.close()


def test_every_status_word_finds_the_same_keys_on_both(both) -> None:
    file_repo, database_repo = both
    # The states themselves, as store/find.py sees them.
    assert set(reference(file_repo, "active")) == {
        "Checkout widget", "iOS app", "Inactive export", "Soon export", "Org export",
        "Rolled widget", "Bob's widget", "Bob's unused app",
    }
    assert set(reference(file_repo, "expired")) == {"Inactive export", "Plain export"}
    assert set(reference(file_repo, "disabled")) == {"Paused export", "Disabled widget"}
    assert set(reference(file_repo, "revoked")) == {"Gone export", "Revoked widget"}
    for text in WORDS:
        for repo in (file_repo, database_repo):
            expected = reference(repo, text)
            assert names(repo.find_keys(text)) == expected, text
            without_revoked = [name for name in expected if name not in {"Gone export", "Revoked widget"}]
            assert names(repo.find_keys(text, include_revoked=False)) == without_revoked, text
        if comparable(text):
            assert names(database_repo.find_keys(text)) == names(file_repo.find_keys(text)), text


def test_the_main_filter_agrees_in_every_order(both) -> None:
    file_repo, database_repo = both
    for text in WORDS:
        for order in ORDERS:
            on_file = every_row(file_repo.key_source(order, text))
            on_database = every_row(database_repo.key_source(order, text))
            assert sorted(on_file) == sorted(reference(file_repo, text)), (text, order)
            assert sorted(on_database) == sorted(reference(database_repo, text)), (text, order)
            if comparable(text):
                assert on_database == on_file, (text, order)
        if comparable(text):
            within = [
                every_row(repo.key_source("created_asc", text, expiring_days=60))
                for repo in (file_repo, database_repo)
            ]
            assert within[0] == within[1], text
    assert every_row(database_repo.key_source("created_asc", "active", expiring_days=30)) == [
        "Soon export"
    ]


def test_a_key_that_expires_later_changes_its_word_on_both(both) -> None:
    file_repo, database_repo = both
    for repo in (file_repo, database_repo):
        assert "Soon export" in names(repo.find_keys("active"))
        repo.clock.now = START + timedelta(days=61)  # type: ignore[attr-defined]
        assert "Soon export" not in names(repo.find_keys("active"))
        assert "Soon export" in names(repo.find_keys("expired"))
        assert "Soon export" in every_row(repo.key_source("created_desc", "expired"))
        assert "Soon export" not in every_row(repo.key_source("created_desc", "active"))
    assert names(file_repo.find_keys("expired")) == names(database_repo.find_keys("expired"))


def test_a_bulk_seeded_demo_store_agrees_with_the_matcher(pg_url: str) -> None:
    """``demo --store postgresql://…`` writes keys by COPY, not through the repository: its
    keys' search text must give the matcher's answers too (a few thousand keys, some
    expired, revoked, never used)."""
    from store.backends.bulk import seed_bulk

    seed_bulk(pg_url, keys=1500, seed=3).close()
    repo = Repository(pg_url)
    try:
        now = repo.now()
        finder = KeyFinder(repo.list_keys(), now)
        for text in ("active", "expired", "disabled", "revoked", "never", "unused", "active web"):
            expected = sorted(view.id for view in finder.find(text, now))
            assert sorted(view.id for view in repo.find_keys(text)) == expected, text
            source = repo.key_source("created_desc", text)
            assert source.count() == len(expected), text
        assert finder.find("expired", now) and finder.find("revoked", now)
    finally:
        repo.close_key_sources()
        repo.close()
