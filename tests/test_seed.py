"""The demo seed: realistic, complete, deterministic, and built exactly as creates build keys."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import orjson
import pytest

from conftest import FIXED_NOW, fixed_clock
from store import tokens
from store.errors import StoreUnusable
from store.models import ApiKey, Role, to_iso
from store.repository import Repository
from store.seed import seed_demo

NOW = to_iso(FIXED_NOW)
# From store.tokens, not the seed (a rolled key's earlier hashes too).
VARIABLE_FIELDS = (
    "id", "key_prefix", "secret_hash", "secret", "previous_secret_hash", "retired_secret_hashes",
)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Repository:
    """One seeded store shared by the read-only tests of this module."""
    path = tmp_path_factory.mktemp("seed") / "store.json"
    return seed_demo(path, "alice", keys=400, seed=7, clock=fixed_clock)


def records(repo: Repository) -> list[dict]:
    return list(repo.storage.current()["keys"].values())


def test_owner_and_every_role(seeded: Repository) -> None:
    members = {member.login: member.role for member in seeded.list_members()}
    assert members["alice"] is Role.OWNER
    assert set(members.values()) == set(Role)
    assert len(members) >= 6


def test_projects_realistic_some_not_deployed(seeded: Repository) -> None:
    projects = [project for project, _count in seeded.list_projects()]
    assert 10 <= len(projects) <= 14
    deployed = [project for project in projects if project.deployed]
    assert len(projects) / 2 < len(deployed) < len(projects)
    assert all(project.id.startswith("prj_") and len(project.id) == 10 for project in projects)


def test_every_scope_and_state(seeded: Repository) -> None:
    keys = [ApiKey.model_validate(record) for record in records(seeded)]
    assert len(keys) == 400
    assert Counter(key.scope.value for key in keys).keys() == {"web", "mobile", "analytics"}
    statuses = Counter(key.effective_status(NOW).value for key in keys)
    assert statuses.keys() == {"active", "revoked", "expired", "disabled"}
    assert 0.04 <= statuses["revoked"] / len(keys) <= 0.18

    analytics = [key for key in keys if key.scope == "analytics"]
    assert {(key.expires_at is not None) for key in analytics} == {True}
    soon = to_iso(FIXED_NOW + timedelta(days=7))
    assert any(key.effective_status(NOW) == "active" and key.expires_at <= soon for key in analytics)
    assert any(key.project_id is None for key in analytics)
    assert all(key.project_id is not None for key in keys if key.scope != "analytics")

    web = [key.web for key in keys if key.web is not None]
    assert any(settings.developing_locally and settings.networks for settings in web)
    assert any(any(d.startswith("http://localhost:") for d in settings.domains) for settings in web)
    assert any(settings.cross_page_persistence for settings in web)
    assert all(
        all(d.startswith("https://") or "localhost" in d for d in settings.domains) for settings in web
    )

    mobile = [key.mobile for key in keys if key.mobile is not None]
    assert any(settings.ios_bundle_ids and not settings.android_packages for settings in mobile)
    assert any(settings.android_packages and not settings.ios_bundle_ids for settings in mobile)
    assert any(settings.ios_bundle_ids and settings.android_packages for settings in mobile)


def test_web_keys_only_on_deployed_projects(seeded: Repository) -> None:
    deployed = {project.id for project, _ in seeded.list_projects() if project.deployed}
    assert all(r["project_id"] in deployed for r in records(seeded) if r["scope"] == "web")


def test_history_and_creators_are_spread(seeded: Repository) -> None:
    keys = records(seeded)
    created = sorted(record["created_at"] for record in keys)
    assert created[-1] <= NOW
    assert created[-1] > to_iso(FIXED_NOW - timedelta(days=30))
    assert created[0] < to_iso(FIXED_NOW - timedelta(days=120))
    assert len({record["created_by"] for record in keys}) >= 6
    developer = Repository(seeded.path, "tnguyen", clock=fixed_clock)
    own = developer.list_keys()
    assert 0 < len(own) < len(keys)
    assert {view.created_by for view in own} == {"tnguyen"}


def test_all_projects_keys_only_by_roles_allowed_to(seeded: Repository) -> None:
    roles = {member.login: member.role for member in seeded.list_members()}
    wide = [r for r in records(seeded) if r.get("project_id") is None]
    assert wide and all(roles[r["created_by"]] is not Role.DEVELOPER for r in wide)


def test_stored_secrets_verify_and_analytics_secrets_are_absent(seeded: Repository) -> None:
    checked = 0
    for record in records(seeded):
        if record["scope"] == "analytics" or record["status"] == "revoked":
            assert record.get("secret") is None
            continue
        if record["status"] == "disabled":
            assert seeded.verify(record["secret"]).reason == "disabled"
            continue
        secret = record["secret"]
        assert tokens.secret_scope(secret) == record["scope"]
        assert tokens.hash_secret(secret) == record["secret_hash"]
        assert tokens.key_prefix(secret) == record["key_prefix"]
        if record["scope"] == "web":
            verdict = seeded.verify(secret, origin=record["web"]["domains"][0])
        else:
            mobile = record["mobile"]
            app_id = [*mobile["ios_bundle_ids"], *mobile["android_packages"]][0]
            verdict = seeded.verify(secret, app_id=app_id)
        assert (verdict.valid, verdict.key_id) == (True, record["id"])
        checked += 1
    assert checked > 100


def test_audit_trail_records_every_create_and_revoke_without_secrets(seeded: Repository) -> None:
    events = seeded.history()
    actions = Counter(event.action for event in events)
    keys = records(seeded)
    assert actions["key.create"] == len(keys)
    assert actions["key.revoke"] == sum(record["status"] == "revoked" for record in keys)
    assert actions["store.init"] == 1 and actions["project.add"] >= 10 and actions["member.add"] >= 5
    assert [event.at for event in events] == sorted((event.at for event in events), reverse=True)
    trail = seeded.audit.path.read_text(encoding="utf-8")
    assert all(record["secret"] not in trail for record in keys if record.get("secret"))


def test_deterministic_with_a_seed(tmp_path) -> None:
    def content(path) -> tuple:
        repo = seed_demo(path, "alice", keys=60, seed=42, clock=fixed_clock)
        data = repo.storage.current()
        keys = [{k: v for k, v in r.items() if k not in VARIABLE_FIELDS} for r in data["keys"].values()]
        return keys, data["projects"], data["members"]

    first = content(tmp_path / "a" / "store.json")
    assert first == content(tmp_path / "b" / "store.json")
    other = seed_demo(tmp_path / "c" / "store.json", "alice", keys=60, seed=43, clock=fixed_clock)
    other_keys = [{k: v for k, v in r.items() if k not in VARIABLE_FIELDS}
                  for r in other.storage.current()["keys"].values()]
    assert other_keys != first[0]


def test_refuses_an_existing_store_and_leaves_it_alone(owner_repo: Repository) -> None:
    before = owner_repo.path.read_bytes()
    with pytest.raises(StoreUnusable, match="already exists"):
        seed_demo(owner_repo.path, "alice", keys=5, seed=1, clock=fixed_clock)
    assert owner_repo.path.read_bytes() == before


def test_login_that_is_also_a_demo_member_is_the_owner_once(tmp_path) -> None:
    repo = seed_demo(tmp_path / "store.json", "jchen", keys=0, seed=1, clock=fixed_clock)
    logins = [member.login for member in repo.list_members()]
    assert logins.count("jchen") == 1
    assert repo.me().role is Role.OWNER
    assert repo.list_keys() == []


def test_store_file_is_private_and_parses(tmp_path) -> None:
    repo = seed_demo(tmp_path / "store.json", "alice", keys=10, seed=3, clock=fixed_clock)
    assert repo.path.stat().st_mode & 0o777 == 0o600
    data = orjson.loads(repo.path.read_bytes())
    assert data["_meta"]["1"]["organisation"]


@pytest.mark.parametrize("keys", [0, 7, 250, 1055])
def test_progress_reports_made_keys_in_order_and_ends_once_at_the_total(tmp_path, keys: int) -> None:
    reports: list[tuple[int, int]] = []
    seed_demo(tmp_path / "store.json", "alice", keys=keys, seed=1, clock=fixed_clock,
              progress=lambda made, total: reports.append((made, total)))
    made = [report[0] for report in reports]
    assert made == sorted(set(made)) and made[-1] == keys
    assert {total for _, total in reports} == {keys}
    assert len(reports) <= 101
    assert len(Repository(tmp_path / "store.json", "alice").list_keys()) == keys


def test_the_lifecycle_shows_disabled_rolled_expiring_keys_a_policy_and_usage(seeded: Repository) -> None:
    keys = [ApiKey.model_validate(record) for record in records(seeded)]
    now = to_iso(FIXED_NOW)
    disabled = [key for key in keys if key.status == "disabled"]
    assert disabled and all(key.scope != "analytics" and key.disabled_by for key in disabled)
    in_grace = [key for key in keys if key.previous_valid_until and key.previous_valid_until > now]
    assert in_grace and all(key.rolled_at and key.previous_secret_hash for key in in_grace)
    assert any(key.scope != "analytics" and key.expires_at for key in keys)
    assert any(view.scope != "analytics" for view in seeded.expiring_within())
    assert seeded.get_policy().max_days("web") == 365 and seeded.policy_violations()
    actions = {event.action for event in seeded.history()}
    assert {"key.disable", "key.roll"} <= actions
    table = seeded.storage.current()["usage"]
    # (other tests of this module verify against the same store, adding entries of their own)
    assert any(entry.get("ip") and len(entry["days"]) > 5 for entry in table.values())
    assert any(seeded.usage(key_id).valid for key_id in table)
