"""Who may see and change what (SPEC §1), with real different logins on one store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import OWNER, analytics_draft, fixed_clock, mobile_draft, new_owner_repo, web_draft
from store import tokens
from store.audit import audit_path
from store.errors import Forbidden, InvalidInput, NotFound
from store.models import Role
from store.repository import Repository

MEMBERS = {"bob": "developer", "dana": "developer", "sam": "support", "ana": "analytics"}
Team = dict[str, Repository]  # login → a repository acting as that login
Keys = dict[str, str]  # login → the id of the key that login made


@pytest.fixture
def owner_repo(store_target: Path | str) -> Repository:
    """The shared owner_repo, on the file store and on PostgreSQL (``store_target``)."""
    return new_owner_repo(store_target)


@pytest.fixture
def team(owner_repo: Repository, store_target: Path | str) -> Team:
    """The owner alice and one repository per other member, each acting as that login."""
    for login, role in MEMBERS.items():
        owner_repo.add_member(login, role)
    repos = {login: Repository(store_target, login, clock=fixed_clock) for login in MEMBERS}
    return {OWNER: owner_repo, **repos}


@pytest.fixture
def keys(team: Team) -> Keys:
    """One key made by each member: login → key id."""
    return {
        OWNER: team[OWNER].create_key(web_draft(name="alice's web key")).key.id,
        "bob": team["bob"].create_key(mobile_draft(name="bob's mobile key")).key.id,
        "dana": team["dana"].create_key(web_draft(name="dana's web key")).key.id,
        "sam": team["sam"].create_key(analytics_draft(name="sam's export")).key.id,
        "ana": team["ana"].create_key(analytics_draft(project=None, name="ana's org export")).key.id,
    }


def snapshot(store_path: Path) -> tuple[bytes, bytes]:
    """The bytes of the store and of its audit trail."""
    return store_path.read_bytes(), audit_path(store_path).read_bytes()


def test_a_developer_sees_only_their_own_keys(team: Team, keys: Keys) -> None:
    bob = team["bob"]
    assert [view.id for view in bob.list_keys()] == [keys["bob"]]
    assert bob.get_key(keys["bob"]).name == "bob's mobile key"
    for other in (OWNER, "dana", "sam", "ana"):
        with pytest.raises(NotFound):
            bob.get_key(keys[other])
        with pytest.raises(NotFound):
            bob.history(keys[other])
        with pytest.raises(NotFound):
            bob.reveal_secret(keys[other])
    assert {event.key_id for event in bob.history() if event.key_id} == {keys["bob"]}
    assert [count for project, count in bob.list_projects() if project.name == "Storefront"] == [1]


@pytest.mark.parametrize("login", [OWNER, "sam", "ana"])
def test_owner_support_and_analytics_see_every_key(team: Team, keys: Keys, login: str) -> None:
    repo = team[login]
    assert {view.id for view in repo.list_keys()} == set(keys.values())
    for key_id in keys.values():
        assert repo.get_key(key_id).id == key_id
    assert {event.key_id for event in repo.history() if event.key_id} == set(keys.values())


@pytest.mark.parametrize("login", ["sam", "ana", "bob"])
def test_only_the_owner_changes_another_members_key(
    team: Team, keys: Keys, store_path: Path, login: str
) -> None:
    repo, role = team[login], MEMBERS[login]
    target = keys["dana"]
    before = snapshot(store_path)
    if role == "developer":  # dana's key is not even visible to bob
        expected: type[Exception] = NotFound
    else:
        expected = Forbidden
        assert not repo.can_change(repo.get_key(target))
    with pytest.raises(expected) as edit_refused:
        repo.edit_key(target, {"name": "taken over"})
    with pytest.raises(expected) as revoke_refused:
        repo.revoke_keys([target])
    if expected is Forbidden:
        for refused in (edit_refused, revoke_refused):
            assert f"{login} is {role}" in str(refused.value)
            assert "only an owner" in str(refused.value)
    assert snapshot(store_path) == before

    owner = team[OWNER]
    assert owner.can_change(owner.get_key(target))
    assert owner.edit_key(target, {"name": "renamed by the owner"}).updated_by == OWNER
    assert [key.id for key in owner.revoke_keys([target])] == [target]


def test_a_bulk_revoke_with_one_forbidden_key_revokes_nothing(
    team: Team, keys: Keys, store_path: Path
) -> None:
    sam = team["sam"]
    before = snapshot(store_path)
    with pytest.raises(Forbidden):
        sam.revoke_keys([keys["sam"], keys["dana"]])
    assert snapshot(store_path) == before
    assert sam.get_key(keys["sam"]).status == "active"


@pytest.mark.parametrize("login", ["bob", "dana", "sam", "ana"])
def test_a_member_may_edit_and_revoke_their_own_key(team: Team, keys: Keys, login: str) -> None:
    repo = team[login]
    key = repo.get_key(keys[login])
    assert repo.can_change(key)
    if key.scope != "analytics":
        assert repo.edit_key(key.id, {"name": f"{login} renamed"}).name == f"{login} renamed"
    revoked = repo.revoke_keys([key.id])
    assert [(k.id, k.status, k.revoked_by) for k in revoked] == [(key.id, "revoked", login)]


@pytest.mark.parametrize("login", ["bob", "sam", "ana"])
def test_only_the_owner_manages_members(team: Team, store_path: Path, login: str) -> None:
    repo = team[login]
    before = snapshot(store_path)
    with pytest.raises(Forbidden, match=f"{login} is {MEMBERS[login]}: only an owner"):
        repo.add_member("eve", "owner")
    with pytest.raises(Forbidden, match="only an owner"):
        repo.set_member_role(login, "owner")
    with pytest.raises(Forbidden, match="only an owner"):
        repo.set_member_role(OWNER, "developer")
    assert snapshot(store_path) == before
    assert {member.login for member in repo.list_members()} == {OWNER, *MEMBERS}  # reading is fine
    team[OWNER].set_member_role(login, "owner")
    assert team[login].me().role is Role.OWNER


@pytest.mark.parametrize("login", [OWNER, "sam"])
def test_owner_and_support_add_projects(team: Team, login: str) -> None:
    project = team[login].add_project(f"Added by {login}", deployed=True)
    assert project.created_by == login
    assert team[login].set_project_deployed(project.id, False).deployed is False


@pytest.mark.parametrize("login", ["bob", "ana"])
def test_developers_and_analytics_do_not_manage_projects(
    team: Team, store_path: Path, login: str
) -> None:
    repo = team[login]
    before = snapshot(store_path)
    with pytest.raises(Forbidden, match=f"{login} is {MEMBERS[login]}: only an owner or support"):
        repo.add_project("Mine")
    with pytest.raises(Forbidden, match="only an owner or support"):
        repo.set_project_deployed(repo.find_project("Kiosk beta").id, True)
    assert snapshot(store_path) == before


@pytest.mark.parametrize("login", [OWNER, "sam", "ana"])
def test_all_organization_projects_for_owner_support_and_analytics(team: Team, login: str) -> None:
    key = team[login].create_key(analytics_draft(project=None)).key
    assert key.project_id is None


def test_a_developer_may_not_make_an_all_projects_key(team: Team, store_path: Path) -> None:
    before = snapshot(store_path)
    with pytest.raises(Forbidden, match="bob is developer: only an owner, support or analytics"):
        team["bob"].create_key(analytics_draft(project=None))
    assert snapshot(store_path) == before


NON_MEMBER_CALLS: dict[str, Callable[[Repository, str], object]] = {
    "me": lambda repo, key_id: repo.me(),
    "list_keys": lambda repo, key_id: repo.list_keys(),
    "get_key": lambda repo, key_id: repo.get_key(key_id),
    "reveal_secret": lambda repo, key_id: repo.reveal_secret(key_id),
    "project_name": lambda repo, key_id: repo.project_name("prj_000000"),
    "create_key": lambda repo, key_id: repo.create_key(web_draft()),
    "edit_key": lambda repo, key_id: repo.edit_key(key_id, {"name": "mine now"}),
    "revoke_keys": lambda repo, key_id: repo.revoke_keys([key_id]),
    "list_projects": lambda repo, key_id: repo.list_projects(),
    "find_project": lambda repo, key_id: repo.find_project("Storefront"),
    "add_project": lambda repo, key_id: repo.add_project("Intruder"),
    "set_project_deployed": lambda repo, key_id: repo.set_project_deployed("Kiosk beta", True),
    "list_members": lambda repo, key_id: repo.list_members(),
    "add_member": lambda repo, key_id: repo.add_member("mallory", "owner"),
    "set_member_role": lambda repo, key_id: repo.set_member_role("mallory", "owner"),
    "history": lambda repo, key_id: repo.history(),
    "key history": lambda repo, key_id: repo.history(key_id),
}


def test_a_non_member_is_refused_everything_but_verify(
    owner_repo: Repository, store_path: Path
) -> None:
    created = owner_repo.create_key(web_draft())
    mallory = Repository(store_path, "mallory", clock=fixed_clock)
    before = snapshot(store_path)
    for name, call in NON_MEMBER_CALLS.items():
        with pytest.raises(Forbidden) as refused:
            call(mallory, created.key.id)
        message = str(refused.value)
        assert "mallory is not a member of 'Acme Studio'" in message, name
        assert "\n" not in message, name
    assert snapshot(store_path) == before
    # verify answers anyone: it is how services check a key.
    verdict = mallory.verify(created.secret.get_secret_value(), origin="https://shop.example.com")
    assert verdict.valid and verdict.key_id == created.key.id
    assert not mallory.verify(tokens.generate_secret("web")).valid


def test_the_last_owner_cannot_be_demoted(team: Team, store_path: Path) -> None:
    owner = team[OWNER]
    before = snapshot(store_path)
    with pytest.raises(InvalidInput) as refused:
        owner.set_member_role(OWNER, "support")
    assert "last owner" in refused.value.errors["role"]
    assert snapshot(store_path) == before
    owner.set_member_role("sam", "owner")
    assert owner.set_member_role(OWNER, "support").role is Role.SUPPORT
    with pytest.raises(InvalidInput, match="last owner"):
        team["sam"].set_member_role("sam", "developer")


def test_a_demoted_member_loses_access_at_once(team: Team, keys: Keys) -> None:
    sam = team["sam"]
    assert len(sam.list_keys()) == len(keys)
    team[OWNER].set_member_role("sam", "developer")
    assert [view.id for view in sam.list_keys()] == [keys["sam"]]
    with pytest.raises(NotFound):
        sam.get_key(keys["bob"])
