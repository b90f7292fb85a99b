"""People, not only processes (issue 7 class 5, store and CLI side): *developing locally*
takes only local networks, and ``verify`` reads the secret from standard input."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pytest

from conftest import OWNER, fixed_clock, web_draft
from store.errors import InvalidInput
from store.repository import Repository, current_login
from store.validation import normalise_network
from support.os_accounts import ROOT, LockHolder, apikeys
from tui.cli import build_parser, main

SHOP = "https://shop.example.com"
LOCAL = ["127.0.0.1/32", "10.1.0.0/16", "172.16.0.0/12", "192.168.1.0/24", "169.254.0.0/16",
         "::1/128", "fd12:3456::/32", "fe80::/64", "192.168.1.7"]
NOT_LOCAL = ["0.0.0.0/0", "::/0", "8.8.8.0/24", "2001:db8::/32", "100.64.0.0/10", "10.0.0.0/7",
             "192.0.2.0/24", "::ffff:10.0.0.0/104", "1.1.1.1"]


@pytest.mark.parametrize("network", LOCAL)
def test_local_networks_are_accepted(network: str) -> None:
    assert normalise_network(network)


@pytest.mark.parametrize("network", NOT_LOCAL)
def test_networks_that_reach_beyond_the_developer_are_refused_inline(
    owner_repo: Repository, network: str
) -> None:
    with pytest.raises(InvalidInput) as refusal:
        owner_repo.create_key(web_draft(developing_locally=True, networks=[network]))
    assert "networks" in refusal.value.errors
    message = refusal.value.errors["networks"]
    assert "not a local network" in message and "private" in message and "\n" not in message


def test_the_cli_refuses_a_public_network_in_one_line(
    owner_repo: Repository, store_path: Path, capsys
) -> None:
    code = main(["create", "--name", "n", "--scope", "web", "--project", "Storefront", "--domain", SHOP,
                 "--local-network", "0.0.0.0/0", "--store", str(store_path)], login=OWNER)
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "not a local network" in err


def test_a_hand_edited_public_network_never_lets_a_key_verify(
    owner_repo: Repository, store_path: Path
) -> None:
    created = owner_repo.create_key(web_draft(developing_locally=True, networks=["10.0.0.0/8"]))
    data = json.loads(store_path.read_text())
    data["keys"][created.key.id]["web"]["networks"] = ["0.0.0.0/0"]
    store_path.write_text(json.dumps(data))
    repo = Repository(store_path, OWNER, clock=fixed_clock)
    verdict = repo.verify(created.secret.get_secret_value(), origin="https://evil.example", ip="203.0.113.9")
    assert verdict.reason == "ip_not_allowed"


# -- verify reads the secret from standard input ------------------------------------------------


@pytest.fixture
def secret(owner_repo: Repository) -> str:
    return owner_repo.create_key(web_draft()).secret.get_secret_value()


@pytest.mark.parametrize("argv", [["verify", "-"], ["verify"]])
def test_verify_reads_one_line_of_stdin(
    secret: str, store_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, argv: list[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{secret}\nnot read\n"))
    assert main([*argv, "--origin", SHOP, "--json", "--store", str(store_path)], login=OWNER) == 0
    assert json.loads(capsys.readouterr().out)["valid"] is True


def test_verify_with_empty_stdin_says_how_in_one_line(
    store_path: Path, owner_repo: Repository, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["verify", "--store", str(store_path)], login=OWNER) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "standard input" in err


def test_the_positional_secret_still_works(secret: str, store_path: Path, capsys) -> None:
    assert main(["verify", secret, "--origin", SHOP, "--store", str(store_path)], login=OWNER) == 0
    assert secret not in capsys.readouterr().out


def test_help_and_readme_show_verify_reading_stdin() -> None:
    verify = next(
        action for action in build_parser()._subparsers._group_actions[0].choices.items()  # type: ignore[union-attr]
        if action[0] == "verify"
    )[1]
    assert "apikeys verify -" in verify.format_help()
    readme = (ROOT / "README.md").read_text()
    assert "| apikeys verify - --origin" in readme
    assert not re.search(r"apikeys verify (web|mob|ana)_", readme)  # no secret as an argument


def test_verify_answers_while_another_process_holds_the_lock(store_path: Path) -> None:
    """A real second process holds the store's flock; verify (stdin) still answers from the
    file as last written. Its time is measured by scripts, not asserted here."""
    repo = Repository(store_path, current_login(), clock=fixed_clock)
    repo.initialise("Acme")
    repo.add_project("Storefront", deployed=True)
    secret = repo.create_key(web_draft()).secret.get_secret_value()
    repo.verify(secret, origin=SHOP)
    repo.flush_usage()  # last use recorded now: this verify has nothing to write
    with LockHolder(store_path.with_name("store.json.lock")):
        result = apikeys("verify", "-", "--origin", SHOP, "--store", str(store_path), stdin=secret + "\n")
    assert result.returncode == 0 and result.stdout.startswith("valid"), result.stderr
