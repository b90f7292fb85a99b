"""How a key reads (store/presenter.py), and the command line and the details screen agreeing."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import FIXED_NOW, OWNER, analytics_draft, mobile_draft, new_owner_repo, web_draft
from store import presenter
from store.models import to_iso
from store.repository import Repository
from tui.cli import main
from tui.cli_output import key_fields

NOW = FIXED_NOW


@pytest.fixture
def owner_repo(store_target: Path | str) -> Repository:
    """The shared owner_repo, on the file store and on PostgreSQL (``store_target``)."""
    return new_owner_repo(store_target)


def record(**fields: object) -> dict:
    """A stored key record with only what the presenter reads."""
    return {"status": "active", "scope": "web", **fields}


def iso_in(days: float) -> str:
    return to_iso(NOW + timedelta(days=days))


@pytest.mark.parametrize(("fields", "phrase"), [
    ({}, "active"),
    ({"status": "revoked"}, "revoked"),
    ({"status": "disabled"}, "disabled"),
    ({"expires_at": iso_in(29.5)}, "active, expires in 29 days"),
    ({"expires_at": iso_in(1.5)}, "active, expires tomorrow"),
    ({"expires_at": iso_in(0.5)}, "active, expires today"),
    ({"expires_at": iso_in(-1)}, "expired on 2026-11-30"),
    ({"expires_at": iso_in(10), "status": "disabled"}, "disabled, expires in 10 days"),
    ({"expires_at": iso_in(-1), "status": "revoked"}, "revoked"),
    ({"previous_valid_until": iso_in(1)}, "active; previous secret works until 2026-12-02 09:30 UTC"),
    ({"previous_valid_until": iso_in(-1)}, "active"),  # the grace is over
    ({"status": "weird"}, "weird"),  # never read as active
])
def test_status_phrase(fields: dict, phrase: str) -> None:
    assert presenter.status_phrase(record(**fields), NOW) == phrase


def test_expiry_phrase() -> None:
    assert presenter.expiry_phrase(None, NOW) == "never"
    assert presenter.expiry_phrase(iso_in(60), NOW) == "in 60 days"
    assert presenter.expiry_phrase(to_iso(NOW), NOW) == "expired on 2026-12-01"


def test_mask_shows_the_prefix_only() -> None:
    assert presenter.mask("web_AbCd") == "web_AbCd••••••"


def facts_of(repo: Repository, key_id: str) -> dict[str, tuple[str, ...]]:
    key = repo.get_key(key_id)
    facts = presenter.key_facts(key, repo.project_name(key.project_id), NOW)
    return {fact.label: fact.values for fact in facts}


def test_facts_per_scope(owner_repo: Repository) -> None:
    web = owner_repo.create_key(web_draft(developing_locally=True, networks=["10.0.0.0/8"])).key
    mobile = owner_repo.create_key(mobile_draft()).key
    analytics = owner_repo.create_key(analytics_draft(project=None, days=60)).key
    web_facts = facts_of(owner_repo, web.id)
    assert web_facts["Custom UI domains"] == ("https://shop.example.com",)
    assert web_facts["IP networks"] == ("10.0.0.0/8",)
    assert web_facts["Project"] == (f"Storefront ({web.project_id})",)
    assert web_facts["Key"] == (presenter.mask(web.key_prefix),)
    assert web_facts["Secret"] == (presenter.STORED_SECRET,)
    assert web_facts["Revision"] == ("1",)
    assert "iOS bundle ids" not in web_facts and "Expires" not in web_facts
    assert facts_of(owner_repo, mobile.id)["iOS bundle ids"] == ("com.example.shop",)
    analytics_facts = facts_of(owner_repo, analytics.id)
    assert analytics_facts["Project"] == ("All organization projects",)
    assert analytics_facts["Status"] == ("active, expires in 60 days",)
    assert analytics_facts["Expires"] == ("2027-01-30 09:30 UTC (in 60 days)",)
    assert analytics_facts["Secret"] == (presenter.ANALYTICS_SECRET,)
    owner_repo.revoke_keys([web.id])
    revoked = facts_of(owner_repo, web.id)
    assert revoked["Status"] == ("revoked",)
    assert revoked["Revoked"] == ("2026-12-01 09:30 UTC by alice",)
    assert revoked["Secret"] == (presenter.REVOKED_SECRET,)


def test_no_secret_ever_in_the_facts(owner_repo: Repository) -> None:
    created = owner_repo.create_key(web_draft())
    facts = facts_of(owner_repo, created.key.id)
    assert created.secret.get_secret_value() not in repr(facts)


# -- the command line reads keys the same way ------------------------------------------------


@pytest.fixture
def cli(capsys, owner_repo):
    """``cli(*argv, login=...)`` → (exit status, stdout, stderr) on the test's store."""

    def run(*argv: str, login: str = OWNER) -> tuple[int, str, str]:
        code = main([*argv, "--store", str(owner_repo.store)], login=login)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_show_prints_the_presenters_facts(cli, owner_repo: Repository) -> None:
    key = owner_repo.create_key(analytics_draft(days=30)).key
    code, out, _ = cli("show", key.id)
    assert code == 0
    # The command line runs on the real clock: the days left depend on today.
    assert re.search(r"^status +active, expires in \d+ days$", out, re.MULTILINE)
    assert re.search(rf"^key +{re.escape(presenter.mask(key.key_prefix))}$", out, re.MULTILINE)
    assert [label for label, _ in key_fields(owner_repo, key)][:3] == ["name", "id", "scope"]


def test_list_words_status_and_masks_as_the_presenter(cli, owner_repo: Repository) -> None:
    key = owner_repo.create_key(analytics_draft(days=30)).key
    code, out, _ = cli("list")
    assert code == 0
    assert presenter.mask(key.key_prefix) in out
    assert re.search(r"active, expires in \d+ days$", out, re.MULTILINE)


def test_show_secret_of_an_analytics_key_gives_the_rule_books_reason(cli, owner_repo: Repository) -> None:
    key = owner_repo.create_key(analytics_draft()).key
    code, out, err = cli("show", key.id, "--secret")
    assert code == 2 and out == ""
    assert err.strip() == f"apikeys: {owner_repo.refusal('copy', key)}"


def test_revoke_and_edit_refusals_come_from_the_rule_book(cli, owner_repo: Repository) -> None:
    owner_repo.add_member("sam", "support")
    key = owner_repo.create_key(web_draft()).key
    sam = Repository(owner_repo.store, "sam")
    for argv, action in ((("revoke", key.id, "--yes"), "revoke"), (("edit", key.id, "--name", "x"), "edit")):
        code, _, err = cli(*argv, login="sam")
        assert code == 2
        assert err.strip() == f"apikeys: {sam.refusal(action, key)}"
    assert owner_repo.get_key(key.id).status == "active"


def test_no_local_clears_the_networks_as_the_ui_does(cli, owner_repo: Repository) -> None:
    key = owner_repo.create_key(web_draft(developing_locally=True, networks=["10.0.0.0/8"])).key
    code, _, err = cli("edit", key.id, "--no-local")
    assert code == 0, err
    web = owner_repo.get_key(key.id).web
    assert not web.developing_locally and web.networks == []
