"""Leak scan: real files and folders, symlinks not followed, binary and huge files skipped,
only secrets whose checksum holds, never a whole secret printed; ``apikeys scan``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import OWNER, fixed_clock, mobile_draft, new_owner_repo, web_draft
from store import tokens
from store.repository import Repository
from store.scan import MAX_FILE_SIZE, sightings_in
from tui.cli import main


@pytest.fixture
def owner_repo(store_target: Path | str) -> Repository:
    """The shared owner_repo, on the file store and on PostgreSQL (``store_target``)."""
    return new_owner_repo(store_target)


def run(store_path: Path, capsys, *argv: str, login: str = OWNER):
    code = main([*argv, "--store", str(store_path)], login=login)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def broken(secret: str) -> str:
    return secret[:-1] + ("A" if secret[-1] != "A" else "B")


@pytest.fixture
def leaky_tree(owner_repo: Repository, store_path: Path, tmp_path: Path):
    """A project tree with one leaked active secret and every kind of thing to skip."""
    web = owner_repo.create_key(web_draft())
    mobile = owner_repo.create_key(mobile_draft())
    secret, other = web.secret.get_secret_value(), mobile.secret.get_secret_value()
    tree = tmp_path / "project"
    (tree / "src" / "deep").mkdir(parents=True)
    (tree / "src" / "app.py").write_text("import os\n\nAPI_KEY = os.environ['KEY']\n")
    (tree / "src" / "deep" / "settings.py").write_text(f"DEBUG = True\n# old\nKEY = \"{secret}\"\n")
    (tree / "notes.md").write_text(f"the key {broken(other)} was rotated\n")  # checksum broken
    (tree / "image.bin").write_bytes(b"\x89PNG\0\0" + other.encode())
    with open(tree / "dump.log", "wb") as huge:
        huge.write(other.encode() + b"\n")
        huge.truncate(MAX_FILE_SIZE + 1)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(other + "\n")
    (tree / "link-out").symlink_to(outside)
    (tree / "link-file").symlink_to(outside / "secret.txt")
    os.mkfifo(tree / "a-fifo")
    return tree, web.key, mobile.key, secret


def test_only_the_valid_secret_is_found_and_everything_else_skipped(
    owner_repo: Repository, leaky_tree
) -> None:
    tree, web, _, _ = leaky_tree
    report = owner_repo.scan([str(tree)])
    assert [(f.path, f.line, f.key_id, f.name, f.status) for f in report.findings] == [
        (str(tree / "src" / "deep" / "settings.py"), 3, web.id, "Checkout widget", "active"),
    ]
    assert report.findings[0].key_prefix == web.key_prefix
    assert report.files == 3
    assert dict(report.skipped) == {"binary": 1, "large": 1, "symlink": 2, "special": 1}
    assert "Skipped 1 binary file" in report.summary()


def test_scan_on_the_command_line(store_path: Path, leaky_tree, capsys) -> None:
    tree, web, _, secret = leaky_tree
    code, out, err = run(store_path, capsys, "scan", str(tree), "--json")
    assert code == 1  # an active key was found
    assert json.loads(out) == [{
        "path": str(tree / "src" / "deep" / "settings.py"), "line": 3, "key_prefix": web.key_prefix,
        "key_id": web.id, "name": "Checkout widget", "status": "active",
    }]
    code, out, err = run(store_path, capsys, "scan", str(tree))
    assert code == 1
    assert "settings.py" in out and web.id in out and "active" in out and "Skipped" in out
    for shown in (out, err):
        assert secret not in shown and secret[8:] not in shown


def test_a_revoked_key_or_a_clean_tree_exits_0(
    owner_repo: Repository, store_path: Path, leaky_tree, capsys, tmp_path
) -> None:
    tree, web, _, _ = leaky_tree
    owner_repo.revoke_keys([web.id])
    code, out, _ = run(store_path, capsys, "scan", str(tree), "--json")
    assert code == 0 and json.loads(out)[0]["status"] == "revoked"
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "a.py").write_text("print('hello')\n")
    code, out, _ = run(store_path, capsys, "scan", str(clean), "--json")
    assert (code, json.loads(out)) == (0, [])


def test_a_missing_path_is_bad_input(store_path: Path, owner_repo, capsys, tmp_path: Path) -> None:
    code, out, err = run(store_path, capsys, "scan", str(tmp_path / "nope"))
    assert code == 2 and out == "" and "no such file or folder" in err


def test_a_secret_the_member_may_not_see_is_reported_without_its_key(
    owner_repo: Repository, store_path: Path, leaky_tree
) -> None:
    tree, *_ = leaky_tree
    owner_repo.add_member("dave", "developer")
    findings = Repository(store_path, "dave", clock=fixed_clock).scan([str(tree)]).findings
    assert [(f.key_id, f.name, f.status) for f in findings] == [(None, None, None)]
    assert findings[0].key_prefix  # where and which prefix, never whose


def test_a_secret_of_no_key_in_this_store_is_a_finding_without_a_key(owner_repo, tmp_path: Path) -> None:
    stranger = tokens.generate_secret("analytics")
    (tmp_path / "f.txt").write_text(f"x\ny\n{stranger}\n")
    findings = owner_repo.scan([str(tmp_path / "f.txt")]).findings
    assert [(f.line, f.key_id, f.key_prefix) for f in findings] == [(3, None, stranger[:8])]


def test_the_stores_own_files_are_not_reported(owner_repo: Repository, store_path: Path) -> None:
    owner_repo.create_key(web_draft())
    report = owner_repo.scan([str(store_path.parent)])
    assert report.findings == [] and report.skipped["store"] >= 1


def test_a_previous_secret_is_active_during_its_grace_then_rolled(
    owner_repo: Repository, store_path: Path, tmp_path: Path
) -> None:
    import orjson

    key = owner_repo.create_key(web_draft()).key
    old = tokens.generate_secret("web")
    data = orjson.loads(store_path.read_bytes())
    data["keys"][key.id].update(
        previous_secret_hash=tokens.hash_secret(old), previous_valid_until="2026-12-02T00:00:00Z"
    )
    store_path.write_bytes(orjson.dumps(data))
    (tmp_path / "f.txt").write_text(old)
    assert [f.status for f in owner_repo.scan([str(tmp_path / "f.txt")]).findings] == ["active"]
    later = Repository(store_path, OWNER, clock=lambda: fixed_clock().replace(day=3))
    assert [f.status for f in later.scan([str(tmp_path / "f.txt")]).findings] == ["rolled"]


def test_sightings_cover_every_line_and_shape() -> None:
    one, two = tokens.generate_secret("web"), tokens.generate_secret("mobile")
    text = f"a={one}\n\n'{two}','{one}'\nX{one}Y\n{broken(two)}\n".encode()
    found = [(s.line, s.key_prefix) for s in sightings_in(text, "f")]
    assert found == [(1, one[:8]), (3, two[:8]), (3, one[:8]), (4, one[:8])]
    assert all(one not in repr(s) and two not in repr(s) for s in sightings_in(text, "f"))


def test_disable_disables_each_active_key_found_with_the_file_and_line(
    owner_repo: Repository, store_path: Path, leaky_tree, capsys
) -> None:
    tree, web, _, secret = leaky_tree
    code, out, err = run(store_path, capsys, "scan", str(tree), "--disable")
    assert code == 1
    assert f"Disabled {web.id}" in out
    assert owner_repo.get_key(web.id).status == "disabled"
    where = f"{tree / 'src' / 'deep' / 'settings.py'}:3"
    assert any(where in event.detail for event in owner_repo.history(web.id))
    assert secret not in out + err
    code, out, _ = run(store_path, capsys, "scan", str(tree), "--json")
    assert code == 0 and json.loads(out)[0]["status"] == "disabled"


def git(folder: Path, *args: str) -> None:
    import subprocess

    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@example.com",
                        "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@example.com"})


@pytest.mark.skipif(__import__("shutil").which("git") is None, reason="git is not installed")
def test_git_history_finds_a_secret_removed_from_the_files(
    owner_repo: Repository, store_path: Path, tmp_path: Path, capsys
) -> None:
    key = owner_repo.create_key(web_draft())
    secret = key.secret.get_secret_value()
    folder = tmp_path / "repo"
    folder.mkdir()
    git(folder, "init", "-q")
    (folder / "config.py").write_text(f"KEY = '{secret}'\n")
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "add config")
    (folder / "config.py").write_text("KEY = os.environ['KEY']\n")
    git(folder, "commit", "-qam", "read the key from the environment")
    code, out, _ = run(store_path, capsys, "scan", str(folder), "--json")
    assert (code, json.loads(out)) == (0, [])
    code, out, err = run(store_path, capsys, "scan", str(folder), "--git", "--json")
    assert code == 1
    [finding] = json.loads(out)
    assert finding["path"].startswith(str(folder / "config.py") + " (git ")
    assert (finding["line"], finding["key_id"], finding["status"]) == (1, key.key.id, "active")
    assert secret not in out + err
    code, _, err = run(store_path, capsys, "scan", str(tmp_path / "repo" / ".."), "--git")
    assert code == 2 and "not a git repository" in err
