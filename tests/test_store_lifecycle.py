"""The key lifecycle in the store: roll with a grace period, disable and enable, expiry for
Web and Mobile keys, the lifetime policy, members who leave (SPEC §9)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from conftest import (
    OWNER,
    analytics_draft,
    fixed_clock,
    mobile_draft,
    new_owner_repo,
    stored_state,
    web_draft,
)
from store import tokens
from store.audit import audit_path
from store.errors import Conflict, Forbidden, InvalidInput, NotFound, StoreUnusable
from store.lifecycle import GRACE_CHOICES, parse_expiry
from store.models import NO_EXPIRY, Status, to_iso
from store.repository import Repository
from support import lifecycle_workers
from support.store_workers import CONTEXT

ORIGIN = "https://shop.example.com"


class Clock:
    """A clock the test moves forward: grace periods and expiries end without sleeping."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture
def owner_repo(store_target: Path | str) -> Repository:
    """The shared owner_repo, on the file store and on PostgreSQL (``store_target``)."""
    return new_owner_repo(store_target)


@pytest.fixture
def clock() -> Clock:
    return Clock(fixed_clock())


@pytest.fixture
def repo(owner_repo: Repository, clock: Clock) -> Repository:
    """The owner's repository on the same store, with a clock the test moves."""
    return Repository(owner_repo.store, OWNER, clock=clock)


def audit_text(repo: Repository) -> str:
    if repo.is_postgres:
        return orjson.dumps(repo.backend.audit_records()).decode()
    return audit_path(repo.path).read_text()


# -- roll ----------------------------------------------------------------------------------


def test_roll_keeps_the_key_and_issues_a_new_stored_secret(repo: Repository) -> None:
    created = repo.create_key(web_draft(cross_page_persistence=True))
    old = created.key
    rolled = repo.roll_key(old.id, GRACE_CHOICES["24h"])
    new = rolled.key
    secret = rolled.secret.get_secret_value()
    assert secret != created.secret.get_secret_value()
    assert tokens.secret_scope(secret) == "web"
    assert (new.id, new.name, new.web, new.created_at, new.created_by) == (
        old.id, old.name, old.web, old.created_at, old.created_by
    )
    assert new.revision == old.revision + 1
    assert new.key_prefix == tokens.key_prefix(secret)
    assert repo.reveal_secret(old.id).get_secret_value() == secret  # Web secrets are stored
    assert rolled.previous_valid_until == new.previous_valid_until == "2026-12-02T09:30:00Z"
    assert len(repo.history(old.id)) == 2  # the history is the key's, kept


def test_previous_secret_works_until_the_grace_ends_then_reads_rolled(
    repo: Repository, clock: Clock
) -> None:
    created = repo.create_key(web_draft())
    old_secret = created.secret.get_secret_value()
    rolled = repo.roll_key(created.key.id, GRACE_CHOICES["1h"])
    during = repo.verify(old_secret, origin=ORIGIN)
    assert during.valid and during.rolled_until == "2026-12-01T10:30:00Z"
    assert repo.verify(rolled.secret.get_secret_value(), origin=ORIGIN).rolled_until is None
    clock.advance(minutes=59, seconds=59)
    assert repo.verify(old_secret, origin=ORIGIN).valid
    clock.advance(seconds=1)
    after = repo.verify(old_secret, origin=ORIGIN)
    assert (after.valid, after.reason, after.key_id) == (False, "rolled", created.key.id)
    assert repo.verify(rolled.secret.get_secret_value(), origin=ORIGIN).valid


def test_no_grace_refuses_the_previous_secret_at_once(repo: Repository) -> None:
    created = repo.create_key(web_draft())
    rolled = repo.roll_key(created.key.id, GRACE_CHOICES["0"])
    assert rolled.previous_valid_until == repo.now()
    assert rolled.key.previous_valid_until is None
    assert repo.verify(created.secret.get_secret_value(), origin=ORIGIN).reason == "rolled"


def test_every_earlier_secret_reads_rolled_never_unknown(repo: Repository, clock: Clock) -> None:
    created = repo.create_key(mobile_draft())
    secrets = [created.secret.get_secret_value()]
    for _ in range(3):
        secrets.append(repo.roll_key(created.key.id, GRACE_CHOICES["7d"]).secret.get_secret_value())
        clock.advance(hours=1)
    # Only the secret right before the last roll is inside a grace: a second roll ends the first.
    verdicts = [repo.verify(secret).reason for secret in secrets]
    assert verdicts == ["rolled", "rolled", None, None]
    clock.advance(days=8)
    assert [repo.verify(secret).reason for secret in secrets] == ["rolled", "rolled", "rolled", None]
    fresh = Repository(repo.store, OWNER, clock=clock)  # the hash index built from the file
    assert fresh.verify(secrets[0]).reason == "rolled"


def test_grace_never_outlasts_the_keys_expiry(repo: Repository) -> None:
    created = repo.create_key({**web_draft(), "expires_at": "2026-12-01T12:00:00Z"})
    rolled = repo.roll_key(created.key.id, GRACE_CHOICES["24h"])
    assert rolled.previous_valid_until == "2026-12-01T12:00:00Z"
    assert rolled.key.expires_at == "2026-12-01T12:00:00Z"


def test_analytics_roll_shows_the_secret_once_and_never_stores_it(repo: Repository) -> None:
    created = repo.create_key(analytics_draft())
    rolled = repo.roll_key(created.key.id, GRACE_CHOICES["0"])
    assert rolled.key.secret is None
    assert rolled.key.expires_at == created.key.expires_at
    secret = rolled.secret.get_secret_value()
    assert secret.startswith("ana_")
    raw = stored_state(repo)
    assert secret.encode() not in raw
    assert created.secret.get_secret_value().encode() not in raw
    assert repo.verify(secret).valid


def test_roll_is_audited_without_the_secret(repo: Repository) -> None:
    created = repo.create_key(web_draft())
    rolled = repo.roll_key(created.key.id, GRACE_CHOICES["24h"])
    event = repo.history(created.key.id)[0]
    assert (event.action, event.key_id) == ("key.roll", created.key.id)
    assert "grace 24h" in event.detail and "2026-12-02 09:30 UTC" in event.detail
    assert rolled.secret.get_secret_value() not in audit_text(repo)
    assert rolled.secret.get_secret_value() not in repr(rolled)


def test_revoked_key_cannot_be_rolled_and_a_disabled_one_stays_disabled(repo: Repository) -> None:
    revoked = repo.create_key(web_draft(name="Old")).key
    repo.revoke_keys([revoked.id])
    with pytest.raises(Forbidden, match="revoked: a revoked key cannot be rolled"):
        repo.roll_key(revoked.id, GRACE_CHOICES["0"])
    paused = repo.create_key(web_draft(name="Paused")).key
    repo.disable_keys([paused.id])
    rolled = repo.roll_key(paused.id, GRACE_CHOICES["1h"])
    assert rolled.key.status == "disabled"
    assert repo.verify(rolled.secret.get_secret_value(), origin=ORIGIN).reason == "disabled"


def test_roll_refuses_other_grace_periods_and_other_members_keys(repo: Repository) -> None:
    key = repo.create_key(web_draft()).key
    with pytest.raises(InvalidInput, match="grace period of 0, 1h, 24h, 7d"):
        repo.roll_key(key.id, timedelta(hours=2))
    repo.add_member("bob", "developer")
    with pytest.raises(NotFound):  # a developer does not see another member's key at all
        Repository(repo.store, "bob", clock=fixed_clock).roll_key(key.id, GRACE_CHOICES["0"])
    repo.add_member("sam", "support")
    with pytest.raises(Forbidden, match="sam is support: only an owner may roll"):
        Repository(repo.store, "sam", clock=fixed_clock).roll_key(key.id, GRACE_CHOICES["0"])


def test_roll_with_a_stale_revision_is_refused_and_changes_nothing(repo: Repository) -> None:
    key = repo.create_key(web_draft()).key
    repo.roll_key(key.id, GRACE_CHOICES["0"], expected_revision=key.revision)
    before = stored_state(repo)
    with pytest.raises(Conflict, match=r"changed by alice .*revision 2; you saw 1.*not rolled"):
        repo.roll_key(key.id, GRACE_CHOICES["0"], expected_revision=key.revision)
    assert stored_state(repo) == before


def test_two_processes_rolling_the_same_key_at_once_exactly_one_wins(
    owner_repo: Repository, store_path: Path
) -> None:
    key = owner_repo.create_key(web_draft()).key
    owner_repo.add_member("carol", "owner")
    barrier = CONTEXT.Barrier(2)
    results = CONTEXT.Queue()
    processes = [
        CONTEXT.Process(target=lifecycle_workers.roll_once,
                        args=(str(store_path), login, key.id, barrier, results))
        for login in (OWNER, "carol")
    ]
    for process in processes:
        process.start()
    outcomes = sorted(results.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    (lost, message), (won, prefix) = outcomes
    assert (lost, won) == ("conflict", "won")
    assert "you saw 1" in message and "not rolled" in message
    stored = owner_repo.get_key(key.id)
    assert stored.revision == 2 and stored.key_prefix == prefix
    rolls = [e for e in owner_repo.history(key.id) if e.action == "key.roll"]
    assert len(rolls) == 1


def test_expired_key_rolls_only_with_a_new_expiry(repo: Repository, clock: Clock) -> None:
    key = repo.create_key({**web_draft(), "expires_at": "2026-12-02T00:00:00Z"}).key
    clock.advance(days=2)
    with pytest.raises(InvalidInput, match="expired 2026-12-02: give it a new expiry"):
        repo.roll_key(key.id, GRACE_CHOICES["0"])
    rolled = repo.roll_key(key.id, GRACE_CHOICES["0"], expires_at=parse_expiry("30d", clock()))
    assert rolled.key.expires_at == "2027-01-02T09:30:00Z"
    assert repo.verify(rolled.secret.get_secret_value(), origin=ORIGIN).valid


# -- disable and enable --------------------------------------------------------------------


def test_disable_refuses_verify_and_enable_restores_it(repo: Repository) -> None:
    created = repo.create_key(web_draft())
    key_id, secret = created.key.id, created.secret.get_secret_value()
    [disabled] = repo.disable_keys([key_id], note="found in app.js:12")
    assert (disabled.status, disabled.disabled_by, disabled.revision) == ("disabled", OWNER, 2)
    assert disabled.effective_status(repo.now()) is Status.DISABLED
    assert disabled.public_dict(repo.now())["status"] == "disabled"
    [view] = repo.list_keys()
    assert view.status(repo.now()) is Status.DISABLED
    verdict = repo.verify(secret, origin=ORIGIN)
    assert (verdict.valid, verdict.reason, verdict.key_id) == (False, "disabled", key_id)
    assert repo.disable_keys([key_id]) == []  # already disabled: left as it is
    [enabled] = repo.enable_keys([key_id])
    assert enabled.status == "active" and enabled.disabled_at is None
    assert repo.verify(secret, origin=ORIGIN).valid
    assert repo.enable_keys([key_id]) == []
    actions = [(e.action, e.detail) for e in repo.history(key_id)[:2]]
    assert actions[0] == ("key.enable", "enabled web key 'Checkout widget'")
    assert actions[1] == ("key.disable", "disabled web key 'Checkout widget' (found in app.js:12)")


def test_disable_is_all_or_none(repo: Repository) -> None:
    repo.add_member("bob", "developer")
    bob = Repository(repo.store, "bob", clock=fixed_clock)
    own = bob.create_key(web_draft(name="Bob's")).key
    theirs = repo.create_key(web_draft(name="Alice's")).key
    before = stored_state(repo)
    with pytest.raises(NotFound):  # bob does not even see alice's key
        bob.disable_keys([own.id, theirs.id])
    revoked = repo.create_key(web_draft(name="Gone")).key
    repo.revoke_keys([revoked.id])
    before = stored_state(repo)
    with pytest.raises(Forbidden, match="a revoked key cannot be disabled"):
        repo.disable_keys([theirs.id, revoked.id])
    assert stored_state(repo) == before
    repo.disable_keys([own.id, theirs.id])
    assert {v.id: v.record["status"] for v in repo.list_keys(include_revoked=False)} == {
        own.id: "disabled", theirs.id: "disabled",
    }


def test_support_may_not_disable_others_keys_even_when_already_disabled(repo: Repository) -> None:
    key = repo.create_key(web_draft()).key
    repo.disable_keys([key.id])
    repo.add_member("sam", "support")
    sam = Repository(repo.store, "sam", clock=fixed_clock)
    with pytest.raises(Forbidden, match="only an owner may enable"):
        sam.disable_keys([key.id])
    with pytest.raises(Forbidden, match="only an owner may enable"):
        sam.enable_keys([key.id])


def test_revoke_still_works_on_a_disabled_key(repo: Repository) -> None:
    created = repo.create_key(web_draft())
    repo.disable_keys([created.key.id])
    [revoked] = repo.revoke_keys([created.key.id])
    assert revoked.status == "revoked" and revoked.secret is None
    assert repo.verify(created.secret.get_secret_value(), origin=ORIGIN).reason == "revoked"
    with pytest.raises(Forbidden, match="cannot be enabled"):
        repo.enable_keys([created.key.id])


# -- expiry for Web and Mobile keys ---------------------------------------------------------


def test_web_key_with_expiry_verifies_until_then_and_reads_expired_after(
    repo: Repository, clock: Clock
) -> None:
    created = repo.create_key({**web_draft(), "expires_at": parse_expiry("30d", clock())})
    assert created.key.expires_at == "2026-12-31T09:30:00Z"
    secret = created.secret.get_secret_value()
    clock.advance(days=29)
    assert repo.verify(secret, origin=ORIGIN).valid
    clock.advance(days=1)
    verdict = repo.verify(secret, origin=ORIGIN)
    assert (verdict.valid, verdict.reason) == (False, "expired")
    assert repo.get_key(created.key.id).effective_status(repo.now()) is Status.EXPIRED


def test_keys_have_no_expiry_unless_asked(repo: Repository) -> None:
    assert repo.create_key(web_draft()).key.expires_at is None
    assert repo.create_key(mobile_draft()).key.expires_at is None


@pytest.mark.parametrize(("text", "stored"), [
    ("30d", "2026-12-31T09:30:00Z"),
    ("2027-01-31", "2027-01-31T00:00:00Z"),
    ("2027-01-31T12:00:00Z", "2027-01-31T12:00:00Z"),
    ("never", NO_EXPIRY),
    ("None", NO_EXPIRY),
])
def test_parse_expiry(text: str, stored: str) -> None:
    assert parse_expiry(text, fixed_clock()) == stored


@pytest.mark.parametrize("text", ["30", "0d", "tomorrow", "2027-02-30", "99999d", "-3d"])
def test_parse_expiry_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_expiry(text, fixed_clock())


def test_expiry_in_the_past_or_on_analytics_is_refused(repo: Repository) -> None:
    with pytest.raises(InvalidInput, match="not in the future"):
        repo.create_key({**web_draft(), "expires_at": "2026-11-30T00:00:00Z"})
    with pytest.raises(InvalidInput, match="Analytics keys expire after 30, 60 or 90 days"):
        repo.create_key({**analytics_draft(), "expires_at": "2027-01-01T00:00:00Z"})
    with pytest.raises(InvalidInput, match="not an expiry time"):
        repo.create_key({**web_draft(), "expires_at": "next week"})


def test_edit_sets_and_removes_the_expiry_with_an_audit_event(repo: Repository) -> None:
    key = repo.create_key(mobile_draft()).key
    edited = repo.edit_key(key.id, {"expires_at": "2027-01-31T00:00:00Z"})
    assert edited.expires_at == "2027-01-31T00:00:00Z" and edited.revision == 2
    event = repo.history(key.id)[0]
    assert (event.action, event.detail) == ("key.edit", "expiry 2027-01-31 00:00 UTC (was never)")
    cleared = repo.edit_key(key.id, {"expires_at": NO_EXPIRY})
    assert cleared.expires_at is None and cleared.revision == 3
    assert "expires_at" not in repo.backend.key(key.id)
    assert repo.edit_key(key.id, {"expires_at": NO_EXPIRY}).revision == 3  # nothing changed
    with pytest.raises(InvalidInput, match="not in the future"):
        repo.edit_key(key.id, {"expires_at": "2026-01-01T00:00:00Z"})


def test_expiring_within_counts_active_keys_in_the_window(repo: Repository, clock: Clock) -> None:
    soon = repo.create_key({**web_draft(name="Soon"), "expires_at": parse_expiry("3d", clock())}).key
    later = repo.create_key({**web_draft(name="Later"), "expires_at": parse_expiry("20d", clock())}).key
    repo.create_key(web_draft(name="Never"))
    paused = repo.create_key({**mobile_draft(name="Paused"), "expires_at": parse_expiry("2d", clock())}).key
    repo.disable_keys([paused.id])
    analytics = repo.create_key(analytics_draft()).key  # 30 days
    assert [v.id for v in repo.expiring_within()] == [soon.id]  # the policy's 14 days
    assert [v.id for v in repo.expiring_within(30)] == [soon.id, later.id, analytics.id]
    clock.advance(days=4)
    assert [v.id for v in repo.expiring_within(30)] == [later.id, analytics.id]


# -- policy --------------------------------------------------------------------------------


def test_default_policy_and_owner_sets_it(repo: Repository) -> None:
    policy = repo.get_policy()
    assert policy.as_json() == {
        "max_lifetime_days": {"web": None, "mobile": None, "analytics": None}, "warn_days": 14,
    }
    changed = repo.set_policy(max_lifetime_days={"web": 90, "analytics": 60}, warn_days=7)
    assert changed.as_json() == {
        "max_lifetime_days": {"web": 90, "mobile": None, "analytics": 60}, "warn_days": 7,
    }
    assert Repository(repo.store, OWNER).get_policy() == changed
    event = repo.history()[0]
    assert event.action == "policy.set"
    assert event.detail == (
        "web max lifetime 90 days (was none); analytics max lifetime 60 days (was none); "
        "warn 7 days before expiry (was 14)"
    )
    repo.set_policy(max_lifetime_days={"web": None})
    assert repo.get_policy().max_days("web") is None


@pytest.mark.parametrize("role", ["support", "analytics", "developer"])
def test_only_an_owner_changes_the_policy(repo: Repository, role: str) -> None:
    repo.add_member("sam", role)
    sam = Repository(repo.store, "sam", clock=fixed_clock)
    assert sam.get_policy().warn_days == 14  # any member may read it
    with pytest.raises(Forbidden, match=f"sam is {role}: only an owner may change the policy"):
        sam.set_policy(warn_days=3)


@pytest.mark.parametrize(("change", "message"), [
    ({"max_lifetime_days": {"web": 0}}, "web must be 1–3650 days"),
    ({"max_lifetime_days": {"analytics": 20}}, "below 30 days would forbid every Analytics key"),
    ({"max_lifetime_days": {"desktop": 9}}, "'desktop' is not a scope"),
    ({"warn_days": -1}, "warn days"),
])
def test_bad_policy_values_are_refused(repo: Repository, change: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        repo.set_policy(**change)
    assert repo.get_policy().as_json()["warn_days"] == 14


def test_create_edit_and_roll_refuse_what_breaks_the_policy(repo: Repository, clock: Clock) -> None:
    repo.set_policy(max_lifetime_days={"web": 90, "mobile": 30, "analytics": 60})
    with pytest.raises(InvalidInput) as refused:
        repo.create_key(web_draft())
    assert str(refused.value) == (
        "expires at: web keys may live at most 90 days (policy): choose an expiry of 90d or sooner"
    )
    with pytest.raises(InvalidInput, match=r"web keys may live at most 90 days \(policy\)"):
        repo.create_key({**web_draft(), "expires_at": parse_expiry("91d", clock())})
    with pytest.raises(InvalidInput, match="analytics keys may live at most 60 days .*60 days or fewer"):
        repo.create_key(analytics_draft(days=90))
    key = repo.create_key({**web_draft(), "expires_at": parse_expiry("90d", clock())}).key
    clock.advance(days=60)
    with pytest.raises(InvalidInput, match="secret was issued 2026-12-01: choose an expiry of 30d or sooner"):
        repo.edit_key(key.id, {"expires_at": parse_expiry("60d", clock())})
    with pytest.raises(InvalidInput, match="web keys may live at most 90 days"):
        repo.edit_key(key.id, {"expires_at": NO_EXPIRY})
    assert repo.edit_key(key.id, {"name": "Renamed"}).name == "Renamed"  # no expiry change
    # A roll starts a new lifetime: the same 60 days are fine with a new secret.
    rolled = repo.roll_key(key.id, GRACE_CHOICES["0"], expires_at=parse_expiry("60d", clock()))
    assert rolled.key.rolled_at == to_iso(clock())
    assert repo.edit_key(key.id, {"expires_at": parse_expiry("90d", clock())}).expires_at
    mobile = repo.create_key({**mobile_draft(), "expires_at": parse_expiry("30d", clock())}).key
    repo.set_policy(max_lifetime_days={"mobile": None})
    repo.edit_key(mobile.id, {"expires_at": NO_EXPIRY})
    repo.set_policy(max_lifetime_days={"mobile": 30})
    with pytest.raises(InvalidInput, match="mobile keys may live at most 30 days"):
        repo.roll_key(mobile.id, GRACE_CHOICES["0"])


def test_policy_violations_name_active_keys_that_break_it(repo: Repository, clock: Clock) -> None:
    forever = repo.create_key(web_draft(name="Forever")).key
    long = repo.create_key({**web_draft(name="Long"), "expires_at": parse_expiry("200d", clock())}).key
    repo.create_key({**web_draft(name="Short"), "expires_at": parse_expiry("30d", clock())})
    gone = repo.create_key(web_draft(name="Gone")).key
    repo.revoke_keys([gone.id])
    repo.create_key(mobile_draft())
    assert repo.policy_violations() == []
    repo.set_policy(max_lifetime_days={"web": 90})
    found = {v.key.id: v.problem for v in repo.policy_violations()}
    assert found == {
        forever.id: "no expiry (at most 90 days)",
        long.id: "lives 200 days, to 2027-06-19 (at most 90)",
    }


@pytest.mark.file_only  # edits the file by hand
def test_a_hand_edited_policy_that_does_not_validate_is_refused(repo: Repository) -> None:
    data = orjson.loads(repo.path.read_bytes())
    data["_meta"]["1"]["policy"] = {"max_lifetime_days": {"web": "ninety"}, "warn_days": 14}
    repo.path.write_bytes(orjson.dumps(data))
    with pytest.raises(StoreUnusable, match="key policy in .* is not valid.*apikeys policy set"):
        repo.get_policy()
    with pytest.raises(StoreUnusable):
        repo.create_key(web_draft())
    assert repo.list_keys() == []  # everything else still works


# -- members leave -------------------------------------------------------------------------


def test_removed_member_is_refused_at_once_and_their_keys_stay(repo: Repository) -> None:
    repo.add_member("bob", "developer")
    bob = Repository(repo.store, "bob", clock=fixed_clock)
    key = bob.create_key(web_draft(name="Bob's")).key
    assert bob.list_keys()  # bob's repository is open, as in a running UI
    removed = repo.remove_member("bob")
    assert removed.login == "bob"
    with pytest.raises(Forbidden, match="bob is not a member"):
        bob.list_keys()
    with pytest.raises(Forbidden, match="bob is not a member"):
        bob.revoke_keys([key.id])
    stored = repo.get_key(key.id)
    assert stored.created_by == "bob" and stored.status == "active"
    assert repo.member_logins() == frozenset({OWNER})
    event = repo.history()[0]
    assert (event.action, event.detail) == (
        "member.remove", "removed bob (developer); the 1 key they created stay"
    )


def test_last_owner_cannot_be_removed_and_only_owners_remove(repo: Repository) -> None:
    with pytest.raises(InvalidInput, match="alice is the last owner"):
        repo.remove_member(OWNER)
    repo.add_member("sam", "support")
    with pytest.raises(Forbidden, match="sam is support: only an owner may manage members"):
        Repository(repo.store, "sam", clock=fixed_clock).remove_member(OWNER)
    with pytest.raises(NotFound, match="no member 'zoe'"):
        repo.remove_member("zoe")
    repo.add_member("carol", "owner")
    repo.remove_member(OWNER)  # another owner remains: alice may leave
    with pytest.raises(Forbidden):
        repo.list_keys()
    carol = Repository(repo.store, "carol", clock=fixed_clock)
    with pytest.raises(InvalidInput, match="carol is the last owner"):
        carol.remove_member("carol")


@pytest.mark.real_accounts
@pytest.mark.file_only  # members are OS logins here; on PostgreSQL see test_pg_wire.py
def test_members_add_refuses_a_login_without_an_account_here(repo: Repository) -> None:
    before = stored_state(repo)
    with pytest.raises(InvalidInput, match="zz-no-such-login has no account on this host"):
        repo.add_member("zz-no-such-login", "developer")
    assert stored_state(repo) == before
    assert repo.add_member("daemon", "developer").login == "daemon"  # a real account


def test_policy_counts_whole_days(repo: Repository, clock: Clock) -> None:
    """``--expires 90d`` on a key made minutes ago keeps a 90-day rule; a day later it does not."""
    repo.set_policy(max_lifetime_days={"web": 90})
    key = repo.create_key({**web_draft(), "expires_at": parse_expiry("30d", clock())}).key
    clock.advance(minutes=10)
    assert repo.edit_key(key.id, {"expires_at": parse_expiry("90d", clock())}).expires_at
    assert repo.policy_violations() == []
    clock.advance(days=1)
    with pytest.raises(InvalidInput, match="issued 2026-12-01: choose an expiry of 89d or sooner"):
        repo.edit_key(key.id, {"expires_at": parse_expiry("90d", clock())})
