"""Faults a real host has (issue 7 class 2): a full disk (a real small tmpfs as root, an
injected ENOSPC otherwise), torn audit lines, and a uid with no account entry."""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from conftest import OWNER, fixed_clock, web_draft
from store import audit as audit_module
from store.audit import audit_path
from store.errors import Forbidden, StoreUnusable
from store.repository import Repository, current_login
from support.os_accounts import apikeys, apikeys_as_uid, needs_root
from tui.cli import main

CAN_MOUNT = os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A real 512 KiB tmpfs (root only), unmounted afterwards."""
    if not CAN_MOUNT:
        pytest.skip("mounting a small tmpfs needs root; the injected-ENOSPC tests cover the rest")
    folder = Path(tempfile.mkdtemp(prefix="apikeys-full-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        folder.rmdir()


def fill(folder: Path) -> Path:
    """Fill the disk of ``folder`` to the last byte; returns the filler to remove later."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 512)
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def release_replaced_files(repo: Repository) -> None:
    """Let go of every replaced store file this process still holds open, so that no space
    is freed behind the test's back once the disk is full (the cache closes them in a
    background thread)."""
    repo.storage.close()
    for thread in threading.enumerate():
        if thread.name == "apikeys-close":
            thread.join()


def every_line_parses(trail: Path) -> None:
    for line in trail.read_bytes().splitlines():
        assert isinstance(orjson.loads(line), dict), line


def test_a_full_disk_fails_a_change_in_one_line_and_leaves_everything_whole(
    small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = small_disk / "store.json"
    repo = Repository(store, OWNER, clock=fixed_clock)
    repo.initialise("Acme")
    repo.add_project("Storefront", deployed=True)
    key = repo.create_key(web_draft()).key
    before = store.read_bytes()
    release_replaced_files(repo)
    filler = fill(small_disk)

    code = main(["projects", "add", "Kiosk", "--store", str(store)], login=OWNER)
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "no space left" in err, err
    assert "Traceback" not in err
    assert store.read_bytes() == before
    assert not list(small_disk.glob(".store.json.tmp-*"))
    every_line_parses(audit_path(store))

    filler.unlink()
    repo.revoke_keys([key.id])
    assert [event.action for event in repo.history(key.id)] == ["key.revoke", "key.create"]


def _partial_write(fd: int, data: bytes) -> int:
    """os.write on a disk that fills half way: half the bytes go, then ENOSPC."""
    written = os.write(fd, data[: len(data) // 2])
    assert written
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_an_audit_append_that_hits_a_full_disk_leaves_no_torn_line(
    owner_repo: Repository, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = owner_repo.create_key(web_draft(name="first")).key
    trail = audit_path(store_path)
    size = trail.stat().st_size

    class FullDisk:
        def __getattr__(self, name: str) -> object:
            return getattr(os, name)

        write = staticmethod(_partial_write)

    monkeypatch.setattr(audit_module, "os", FullDisk())
    with pytest.raises(StoreUnusable, match="no space left") as refusal:
        owner_repo.revoke_keys([first.id])
    assert "\n" not in str(refusal.value)
    assert trail.stat().st_size == size  # the half line was cut back
    monkeypatch.undo()

    # The store kept the change and its pending events; the next change writes them.
    owner_repo.create_key(web_draft(name="second"))
    every_line_parses(trail)
    assert [event.action for event in owner_repo.history(first.id)] == ["key.revoke", "key.create"]


def test_a_torn_line_never_hides_later_events_and_log_says_so(
    owner_repo: Repository, store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = owner_repo.create_key(web_draft()).key
    trail = audit_path(store_path)
    with open(trail, "ab") as handle:  # what an older version or a crash could leave
        handle.write(b'{"at":"2026-12-01T09:30:00Z","actor":"alice","action":"key.ed')
    owner_repo.edit_key(key.id, {"name": "Renamed"})
    owner_repo.revoke_keys([key.id])

    assert main(["log", "--key", key.id, "--json", "--store", str(store_path)], login=OWNER) == 0
    captured = capsys.readouterr()
    actions = [event["action"] for event in orjson.loads(captured.out)]
    assert actions == ["key.revoke", "key.edit", "key.create"]
    assert captured.err.count("\n") == 1 and "skipped 1 unreadable line" in captured.err


def test_a_hand_mangled_line_in_the_middle_is_skipped(owner_repo: Repository, store_path: Path) -> None:
    key = owner_repo.create_key(web_draft()).key
    trail = audit_path(store_path)
    with open(trail, "ab") as handle:
        handle.write(b"not json at all\n[1, 2]\n")
    owner_repo.revoke_keys([key.id])
    fresh = Repository(store_path, OWNER, clock=fixed_clock)
    assert [event.action for event in fresh.history(key.id)] == ["key.revoke", "key.create"]
    assert fresh.audit.unreadable_lines == 2


# -- a uid without an account entry -------------------------------------------------------


def test_current_login_of_a_uid_without_account_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(uid: int) -> pwd.struct_passwd:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", missing)
    with pytest.raises(Forbidden, match="has no account entry") as refusal:
        current_login()
    assert "\n" not in str(refusal.value)


def _unused_uid() -> int:
    uid = 61_000
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
        uid += 1


@needs_root
def test_a_real_process_of_a_uid_without_account_gets_one_line(tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="apikeys-nouid-"))
    os.chmod(folder, 0o777)
    try:
        store = folder / "store.json"
        assert apikeys("init", "--store", str(store)).returncode == 0
        os.chmod(store, 0o644)
        for command in (["list"], ["--store", str(store)], ["init"]):
            result = apikeys_as_uid(_unused_uid(), *command, "--store", str(store))
            assert result.returncode == 2, result
            assert len(result.stderr.splitlines()) == 1, result.stderr
            assert "has no account entry" in result.stderr and "Traceback" not in result.stderr
    finally:
        shutil.rmtree(folder, ignore_errors=True)
