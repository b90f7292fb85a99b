"""No lost edits between people (issue 7 class 4): ``edit_key`` with the revision the admin
saw merges non-overlapping changes and refuses overlapping ones, naming who changed what;
``apikeys edit --if-revision N`` for scripts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import OWNER, fixed_clock, new_owner_repo, web_draft
from store.errors import Conflict
from store.models import KeyChanges, WebSettings
from store.repository import Repository
from tui.cli import main

COLLEAGUE = "bob"


@pytest.fixture
def colleague(owner_repo: Repository) -> Repository:
    owner_repo.add_member(COLLEAGUE, "owner", display_name="Bob")
    return Repository(owner_repo.store, COLLEAGUE, clock=fixed_clock)


@pytest.fixture
def owner_repo(store_target: Path | str) -> Repository:
    """The shared owner_repo, on the file store and on PostgreSQL (``store_target``)."""
    return new_owner_repo(store_target)


def seen_when_opened(repo: Repository, key_id: str) -> tuple[int, KeyChanges]:
    """What an edit form remembers when it opens: the revision and the values shown."""
    key = repo.get_key(key_id)
    return key.revision, KeyChanges(name=key.name, web=key.web, mobile=key.mobile)


def with_domains(web: WebSettings, *domains: str) -> WebSettings:
    return WebSettings.model_validate({**web.model_dump(), "domains": [*web.domains, *domains]})


def test_a_rename_keeps_the_domain_a_colleague_added_meanwhile(
    owner_repo: Repository, colleague: Repository
) -> None:
    key = owner_repo.create_key(web_draft()).key
    revision, base = seen_when_opened(owner_repo, key.id)
    assert revision == 1

    colleague.edit_key(key.id, {"web": with_domains(key.web, "https://b.example.com")})  # from the CLI

    saved = owner_repo.edit_key(
        key.id, KeyChanges(name="Renamed", web=base.web), expected_revision=revision, base=base
    )
    assert saved.name == "Renamed"
    assert saved.web.domains == ["https://shop.example.com", "https://b.example.com"]
    assert saved.revision == 3 and saved.updated_by == OWNER


def test_separate_subfields_of_the_web_settings_merge(owner_repo: Repository, colleague: Repository) -> None:
    key = owner_repo.create_key(web_draft()).key
    revision, base = seen_when_opened(owner_repo, key.id)
    colleague.edit_key(key.id, {"web": with_domains(key.web, "https://b.example.com")})
    mine = WebSettings.model_validate({**base.web.model_dump(), "cross_page_persistence": True})
    saved = owner_repo.edit_key(key.id, KeyChanges(web=mine), expected_revision=revision, base=base)
    assert saved.web.cross_page_persistence
    assert "https://b.example.com" in saved.web.domains


def test_overlapping_changes_are_refused_naming_who_changed_what(
    owner_repo: Repository, colleague: Repository
) -> None:
    key = owner_repo.create_key(web_draft()).key
    revision, base = seen_when_opened(owner_repo, key.id)
    colleague.edit_key(key.id, {"web": with_domains(key.web, "https://b.example.com")})
    stored = owner_repo.get_key(key.id)

    mine = with_domains(base.web, "https://c.example.com")
    with pytest.raises(Conflict) as refusal:
        owner_repo.edit_key(key.id, KeyChanges(web=mine), expected_revision=revision, base=base)
    message = str(refusal.value)
    assert COLLEAGUE in message and "+https://b.example.com" in message and "the domains" in message
    assert "revision 1, now 2" in message and "\n" not in message
    assert owner_repo.get_key(key.id) == stored  # nothing was written


def test_the_same_change_by_both_is_no_conflict(owner_repo: Repository, colleague: Repository) -> None:
    key = owner_repo.create_key(web_draft()).key
    revision, base = seen_when_opened(owner_repo, key.id)
    colleague.edit_key(key.id, {"name": "Same"})
    saved = owner_repo.edit_key(key.id, KeyChanges(name="Same"), expected_revision=revision, base=base)
    assert saved.name == "Same"


def test_a_stale_revision_without_a_base_is_refused(owner_repo: Repository, colleague: Repository) -> None:
    key = owner_repo.create_key(web_draft()).key
    colleague.edit_key(key.id, {"name": "Theirs"})
    with pytest.raises(Conflict, match=f"{COLLEAGUE} at .*renamed"):
        owner_repo.edit_key(key.id, {"name": "Mine"}, expected_revision=1)
    assert owner_repo.get_key(key.id).name == "Theirs"
    assert owner_repo.edit_key(key.id, {"name": "Mine"}, expected_revision=2).name == "Mine"


# -- the command line -----------------------------------------------------------------------


def cli(store_path: Path, *args: str, login: str = OWNER) -> int:
    return main([*args, "--store", str(store_path)], login=login)


def test_cli_edit_if_revision_refuses_a_changed_key(
    owner_repo: Repository, colleague: Repository, store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = owner_repo.create_key(web_draft()).key
    assert cli(store_path, "show", key.id, "--json") == 0
    assert json.loads(capsys.readouterr().out)["revision"] == 1

    assert cli(store_path, "edit", key.id, "--add-domain", "https://b.example.com", login=COLLEAGUE) == 0
    capsys.readouterr()
    assert cli(store_path, "edit", key.id, "--name", "Mine", "--if-revision", "1") == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "revision 2, not 1" in err and COLLEAGUE in err
    assert owner_repo.get_key(key.id).name == key.name

    assert cli(store_path, "edit", key.id, "--name", "Mine", "--if-revision", "2", "--json") == 0
    edited = json.loads(capsys.readouterr().out)
    assert edited["name"] == "Mine" and edited["revision"] == 3


def test_cli_edit_never_undoes_a_change_made_between_its_read_and_its_save(
    owner_repo: Repository, colleague: Repository, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`edit --add-domain` computes the new list from the key it read; a rename by a colleague
    landing in between must survive (the CLI passes what it read as the base)."""
    key = owner_repo.create_key(web_draft()).key
    original = Repository.edit_key

    def colleague_first(self: Repository, *args: object, **kwargs: object) -> object:
        if self.login == OWNER:
            colleague.edit_key(key.id, {"name": "Theirs"})
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Repository, "edit_key", colleague_first)
    assert cli(store_path, "edit", key.id, "--add-domain", "https://c.example.com") == 0
    monkeypatch.undo()
    stored = owner_repo.get_key(key.id)
    assert stored.name == "Theirs" and "https://c.example.com" in stored.web.domains
