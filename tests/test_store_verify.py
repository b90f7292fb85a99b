"""verify(): every refusal names its reason, never echoes the secret, sees another process's
revoke at once, and records use at most once a minute."""

from __future__ import annotations

import errno
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conftest import FIXED_NOW, OWNER, analytics_draft, fixed_clock, mobile_draft, new_owner_repo, web_draft
from store import tokens
from store.models import Verdict
from store.repository import Repository
from support import store_workers
from support.store_workers import CONTEXT

SHOP = "https://shop.example.com"


@pytest.fixture
def owner_repo(store_target: Path | str) -> Repository:
    """The shared owner_repo, on the file store and on PostgreSQL (``store_target``)."""
    return new_owner_repo(store_target)


def secret_of(created) -> str:
    """The plain secret of a CreatedKey."""
    return created.secret.get_secret_value()


def assert_refused(verdict: Verdict, reason: str, secret: str) -> None:
    """A refusal with this reason that shows the secret nowhere."""
    assert (verdict.valid, verdict.reason) == (False, reason)
    for shown in (repr(verdict), str(verdict), verdict.model_dump_json(), str(verdict.model_dump())):
        assert secret not in shown
        assert secret[4:-6] not in shown  # not even the random part


def flip(char: str) -> str:
    """Another base62 character."""
    return "B" if char == "A" else "A"


def test_malformed_secrets(owner_repo: Repository) -> None:
    secret = secret_of(owner_repo.create_key(web_draft()))
    bad_checksum = secret[:-1] + flip(secret[-1])
    bad_body = secret[:10] + flip(secret[10]) + secret[11:]
    for bad in (
        bad_checksum, bad_body, secret[:-1], secret + "A", "", "web_",
        "ana" + secret[3:],  # a valid body under another prefix fails the checksum
        "xyz" + secret[3:], secret.replace("_", "-", 1), secret[:20] + "é" + secret[21:],
        secret.upper() if secret != secret.upper() else secret.lower(),
    ):
        assert_refused(owner_repo.verify(bad, origin=SHOP), "malformed", secret)
    assert tokens.secret_scope(secret) == "web"


def test_a_well_formed_secret_that_is_not_in_the_store_is_unknown(owner_repo: Repository) -> None:
    owner_repo.create_key(web_draft())
    for scope in ("web", "mobile", "analytics"):
        stranger = tokens.generate_secret(scope)
        assert tokens.secret_scope(stranger) == scope  # the checksum is valid
        verdict = owner_repo.verify(stranger, origin=SHOP)
        assert_refused(verdict, "unknown", stranger)
        assert verdict.key_id is None


@pytest.mark.parametrize(
    "draft", [web_draft(), mobile_draft(), analytics_draft()], ids=["web", "mobile", "analytics"]
)
def test_a_revoked_key_no_longer_verifies(owner_repo: Repository, draft: dict) -> None:
    created = owner_repo.create_key(draft)
    secret = secret_of(created)
    assert owner_repo.verify(secret, origin=SHOP, app_id="com.example.shop").valid
    owner_repo.revoke_keys([created.key.id])
    verdict = owner_repo.verify(secret, origin=SHOP, app_id="com.example.shop")
    assert_refused(verdict, "revoked", secret)
    assert verdict.key_id == created.key.id


def test_an_expired_key_no_longer_verifies(owner_repo: Repository, store_path: Path) -> None:
    created = owner_repo.create_key(analytics_draft(days=30))
    secret = secret_of(created)

    def later(days: float):
        return lambda: FIXED_NOW + timedelta(days=days)

    assert Repository(store_path, OWNER, clock=later(29.9)).verify(secret).valid
    for days in (30, 31, 3650):
        verdict = Repository(store_path, OWNER, clock=later(days)).verify(secret)
        assert_refused(verdict, "expired", secret)
        assert verdict.key_id == created.key.id


def test_a_web_key_is_valid_from_its_domains_only(owner_repo: Repository) -> None:
    created = owner_repo.create_key(web_draft(domains=[SHOP, "https://admin.example.com:8443"]))
    secret = secret_of(created)
    for origin in (SHOP, "HTTPS://Shop.Example.com:443", "https://admin.example.com:8443"):
        assert owner_repo.verify(secret, origin=origin).valid, origin
    for origin in (None, "https://evil.example.com", "http://shop.example.com",
                   "https://admin.example.com", "not an origin", "https://shop.example.com.evil.io"):
        assert_refused(owner_repo.verify(secret, origin=origin), "origin_not_allowed", secret)


def test_developing_locally_allows_ips_inside_the_networks_only(owner_repo: Repository) -> None:
    created = owner_repo.create_key(
        web_draft(developing_locally=True, networks=["192.168.2.0/24", "fd00:db8::/32"])
    )
    secret = secret_of(created)
    for ip in ("192.168.2.1", "192.168.2.255", "fd00:db8::1", " 192.168.2.7 "):
        assert owner_repo.verify(secret, origin="http://localhost:3000", ip=ip).valid, ip
    for ip in ("192.168.3.1", "10.0.0.1", "fd00:db9::1", "not an ip", "192.168.2.1/24"):
        verdict = owner_repo.verify(secret, origin="http://localhost:3000", ip=ip)
        assert_refused(verdict, "ip_not_allowed", secret)
    assert owner_repo.verify(secret, origin=SHOP, ip="10.0.0.1").valid  # its domain still counts


def test_a_web_key_not_developing_locally_ignores_the_ip(owner_repo: Repository) -> None:
    secret = secret_of(owner_repo.create_key(web_draft()))
    assert_refused(owner_repo.verify(secret, ip="127.0.0.1"), "origin_not_allowed", secret)


def test_a_mobile_key_is_valid_for_its_apps_only(owner_repo: Repository) -> None:
    created = owner_repo.create_key({
        **mobile_draft(),
        "mobile": {"ios_bundle_ids": ["com.example.shop"], "android_packages": ["com.example.android"]},
    })
    secret = secret_of(created)
    for app_id in ("com.example.shop", "com.example.android", None):
        assert owner_repo.verify(secret, app_id=app_id).valid, app_id
    for app_id in ("com.example.other", "COM.EXAMPLE.SHOP", ""):
        assert_refused(owner_repo.verify(secret, app_id=app_id), "app_not_allowed", secret)


def test_a_valid_verdict_names_the_key_and_never_the_secret(owner_repo: Repository) -> None:
    created = owner_repo.create_key(web_draft())
    secret = secret_of(created)
    verdict = owner_repo.verify(secret, origin=SHOP)
    assert (verdict.valid, verdict.reason) == (True, None)
    assert (verdict.key_id, verdict.scope) == (created.key.id, "web")
    for shown in (repr(verdict), verdict.model_dump_json(), repr(created), str(created)):
        assert secret not in shown


def test_another_processs_revoke_stops_a_long_lived_verifier_at_once(
    owner_repo: Repository, store_path: Path
) -> None:
    created = owner_repo.create_key(web_draft())
    secret = secret_of(created)
    verifier = Repository(store_path, "a-service-without-membership", clock=fixed_clock)
    for _ in range(3):
        assert verifier.verify(secret, origin=SHOP).valid
    child = CONTEXT.Process(target=store_workers.revoke, args=(str(store_path), OWNER, created.key.id))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert_refused(verifier.verify(secret, origin=SHOP), "revoked", secret)


class MovableClock:
    """A clock tests move forward by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def count_writes(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the store writes ``repo`` makes; returns a one-element counter."""
    writes = [0]
    write = repo.storage._write_atomically

    def counted(*args, **kwargs):
        writes[0] += 1
        return write(*args, **kwargs)

    monkeypatch.setattr(repo.storage, "_write_atomically", counted)
    return writes


def test_use_is_recorded_at_most_once_a_minute(
    owner_repo: Repository, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = owner_repo.create_key(web_draft())
    secret = secret_of(created)
    clock = MovableClock(FIXED_NOW)
    verifier = Repository(store_path, OWNER, clock=clock)
    writes = count_writes(verifier, monkeypatch)
    file_before = store_path.stat().st_ino

    for _ in range(100):
        assert verifier.verify(secret, origin=SHOP).valid
    assert writes[0] == 1
    assert store_path.stat().st_ino != file_before
    assert owner_repo.get_key(created.key.id).last_used_at == "2026-12-01T09:30:00Z"
    clock.now = FIXED_NOW + timedelta(seconds=30)
    assert verifier.verify(secret, origin=SHOP).valid
    verifier.flush_usage()
    assert writes[0] == 2  # the counts of the later verifies, in one write
    assert owner_repo.get_key(created.key.id).last_used_at == "2026-12-01T09:30:00Z"
    assert owner_repo.get_key(created.key.id).revision == 1  # use is not an edit

    clock.now = FIXED_NOW + timedelta(seconds=61)
    assert verifier.verify(secret, origin=SHOP).valid
    verifier.flush_usage()
    assert writes[0] == 3
    assert owner_repo.get_key(created.key.id).last_used_at == "2026-12-01T09:31:01Z"
    assert owner_repo.usage(created.key.id).valid == 102


def test_a_failed_verify_is_counted_as_refused_and_records_no_use(
    owner_repo: Repository, store_path: Path
) -> None:
    created = owner_repo.create_key(web_draft())
    assert not owner_repo.verify(secret_of(created), origin="https://evil.example.com").valid
    owner_repo.flush_usage()
    assert owner_repo.get_key(created.key.id).last_used_at is None
    usage = owner_repo.usage(created.key.id)
    assert (usage.valid, usage.refused, usage.last_used_at) == (0, 1, None)


def test_a_store_that_cannot_be_written_does_not_fail_a_verify(
    owner_repo: Repository, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = owner_repo.create_key(web_draft())
    verifier = Repository(store_path, OWNER, clock=fixed_clock)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(verifier.storage, "_write_atomically", disk_full)
    assert verifier.verify(secret_of(created), origin=SHOP).valid
