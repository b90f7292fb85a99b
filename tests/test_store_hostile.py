"""A shared folder is hostile (SPEC §4, issue 7 class 1): planted symlinks, FIFOs and devices,
a store path that is a symlink, a lock file replaced while held, read-only stores, and group
folders, with real OS logins where identity matters."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from conftest import OWNER, fixed_clock, web_draft
from store.audit import audit_path
from store.errors import StoreUnusable
from store.repository import Repository, current_login
from support.os_accounts import (
    LockHolder,
    apikeys,
    apikeys_as,
    needs_root,
    shared_folder,
    throwaway_group,
    throwaway_login,
)
from support.os_accounts import (
    as_login as as_developer,
)

RC_TEXT = "# alice's shell rc\nexport PATH=$HOME/bin:$PATH\n"


def victim(tmp_path: Path) -> Path:
    """A file of the owner's that a planted symlink points at (think ~/.bashrc)."""
    target = tmp_path / "home" / ".bashrc"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(RC_TEXT)
    target.chmod(0o600)
    return target


def assert_untouched(target: Path) -> None:
    assert target.read_text() == RC_TEXT
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


# -- planted symlinks -------------------------------------------------------------------------


def test_a_symlinked_audit_trail_is_refused_and_never_appended_to(
    owner_repo: Repository, store_path: Path, tmp_path: Path
) -> None:
    target = victim(tmp_path)
    trail = audit_path(store_path)
    trail.unlink()
    trail.symlink_to(target)
    before = store_path.read_bytes()
    with pytest.raises(StoreUnusable, match="symlink") as refusal:
        owner_repo.create_key(web_draft(name="$(id)"))
    assert "\n" not in str(refusal.value)
    assert_untouched(target)
    assert store_path.read_bytes() == before  # refused before anything was written


def test_a_symlinked_lock_file_is_refused_and_its_target_keeps_its_mode(
    owner_repo: Repository, store_path: Path, tmp_path: Path
) -> None:
    target = victim(tmp_path)
    lock = store_path.with_name("store.json.lock")
    lock.unlink()
    lock.symlink_to(target)
    with pytest.raises(StoreUnusable, match="symlink"):
        owner_repo.create_key(web_draft())
    assert_untouched(target)


@needs_root
def test_init_group_never_chmods_a_planted_lock_symlink(tmp_path: Path) -> None:
    """The issue's example: a developer plants store.json.lock before the owner's init --group."""
    target = victim(tmp_path)
    with throwaway_group() as group, shared_folder() as folder:
        (folder / "store.json.lock").symlink_to(target)
        result = apikeys("init", "--group", group, "--store", str(folder / "store.json"))
        assert result.returncode == 2
        assert len(result.stderr.splitlines()) == 1 and "symlink" in result.stderr
        assert_untouched(target)
        assert target.stat().st_gid == 0


def test_a_planted_temp_file_symlink_is_removed_not_followed(
    owner_repo: Repository, store_path: Path, tmp_path: Path
) -> None:
    target = victim(tmp_path)
    planted = store_path.with_name(".store.json.tmp-1-deadbeef")
    planted.symlink_to(target)
    fresh = Repository(store_path, OWNER, clock=fixed_clock)  # cleans up on its first change
    fresh.create_key(web_draft())
    assert not os.path.lexists(planted)
    assert_untouched(target)


def test_a_hard_linked_audit_trail_is_refused(
    owner_repo: Repository, store_path: Path, tmp_path: Path
) -> None:
    target = victim(tmp_path)
    trail = audit_path(store_path)
    trail.unlink()
    os.link(target, trail)
    with pytest.raises(StoreUnusable, match="hard links"):
        owner_repo.create_key(web_draft())
    assert_untouched(target)


# -- a store path that is a symlink --------------------------------------------------------------


def test_a_symlinked_store_path_updates_the_real_store_in_its_folder(
    owner_repo: Repository, store_path: Path, tmp_path: Path
) -> None:
    private = tmp_path / "private" / "store.json"
    private.parent.mkdir()
    private.symlink_to(store_path)
    through_link = Repository(private, OWNER, clock=fixed_clock)
    key = through_link.create_key(web_draft()).key
    assert private.is_symlink() and os.readlink(private) == str(store_path)
    assert not list(private.parent.glob("*.jsonl")) and not list(private.parent.glob(".*tmp*"))
    assert owner_repo.get_key(key.id).name == key.name  # the shared store has it
    through_link.revoke_keys([key.id])
    assert owner_repo.verify  # the shared key is revoked, no private copy keeps it alive
    assert owner_repo.get_key(key.id).status == "revoked"
    assert any(event.key_id == key.id for event in owner_repo.history(key.id))


# -- not a regular file -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_a_store_that_is_not_a_regular_file_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "store.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path = Path("/dev/null")
    create = ["create", "--name", "n", "--scope", "analytics", "--project", "p"]
    for command in (["list"], ["verify", "-"], create):
        # A real process with a timeout: opening a FIFO without O_NONBLOCK would hang here.
        result = apikeys(*command, "--store", str(path), stdin="web_x\n", timeout=30)
        assert result.returncode == 2, (command, result.stderr)
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert "not a regular file" in result.stderr, result.stderr


@pytest.fixture
def my_store(store_path: Path) -> Repository:
    """A store owned by the login running the tests, for the tests that run real processes."""
    repo = Repository(store_path, current_login(), clock=fixed_clock)
    repo.initialise("Acme Studio")
    repo.add_project("Storefront", deployed=True)
    return repo


def test_a_fifo_planted_as_the_audit_trail_never_blocks(my_store: Repository, store_path: Path) -> None:
    trail = audit_path(store_path)
    trail.unlink()
    os.mkfifo(trail)
    result = apikeys("log", "--store", str(store_path), timeout=30)
    assert result.returncode == 2 and "not a regular file" in result.stderr
    result = apikeys("projects", "add", "X", "--store", str(store_path), timeout=30)
    assert result.returncode == 2 and "FIFO" in result.stderr


# -- the lock file ------------------------------------------------------------------------------


def test_the_lock_file_is_made_once_with_the_stores_mode_whatever_the_umask(store_path: Path) -> None:
    old = os.umask(0o000)
    try:
        repo = Repository(store_path, OWNER, clock=fixed_clock)
        repo.initialise("Acme")
        repo.add_project("Storefront", deployed=True)
    finally:
        os.umask(old)
    lock = store_path.with_name("store.json.lock")
    inode = lock.stat().st_ino
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert stat.S_IMODE(audit_path(store_path).stat().st_mode) == 0o600
    repo.create_key(web_draft())
    assert lock.stat().st_ino == inode  # never deleted nor remade


def test_a_lock_file_replaced_during_a_change_fails_that_change(
    owner_repo: Repository, store_path: Path
) -> None:
    lock = store_path.with_name("store.json.lock")
    before = store_path.read_bytes()
    with (
        pytest.raises(StoreUnusable, match="lock file .* replaced"),
        owner_repo.storage.transaction() as transaction,
    ):
        lock.unlink()
        lock.write_text("")  # someone else's new lock file, which a newcomer could take
        transaction.projects["prj_x"] = {"id": "prj_x"}
        transaction.changed()
    assert store_path.read_bytes() == before


def test_a_waiter_whose_lock_file_was_replaced_takes_the_new_one(
    owner_repo: Repository, store_path: Path
) -> None:
    """A writer waiting on the old lock file must not go ahead once its holder lets go while a
    newcomer holds the new one: it notices the inodes differ and waits for the new lock."""
    lock = store_path.with_name("store.json.lock")
    finished = threading.Event()
    errors: list[BaseException] = []

    def change() -> None:
        try:
            Repository(store_path, OWNER, clock=fixed_clock).add_project("Waiter")
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            finished.set()

    with LockHolder(lock) as old_holder:
        waiter = threading.Thread(target=change)
        waiter.start()
        wait_until_open(lock)  # the waiter holds a descriptor of the old lock file
        lock.unlink()
        with LockHolder(lock) as new_holder:  # a newcomer makes and takes a new lock file
            old_holder.release()
            assert not finished.wait(1.0), errors  # still waiting: for the new lock now
            new_holder.release()
        assert finished.wait(30)
    waiter.join()
    assert not errors
    assert "Waiter" in [project.name for project, _ in owner_repo.list_projects()]


def wait_until_open(path: Path) -> None:
    """Wait until this process has ``path`` open (a thread of it is waiting for its lock)."""
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                    return
            except OSError:
                continue
        time.sleep(0.005)
    raise AssertionError(f"nothing opened {path}")


# -- read-only ---------------------------------------------------------------------------------


def test_a_read_only_store_file_refuses_changes_and_is_never_rewritten(
    owner_repo: Repository, store_path: Path
) -> None:
    store_path.chmod(0o440)
    before, inode = store_path.read_bytes(), store_path.stat().st_ino
    with pytest.raises(StoreUnusable, match="read-only") as refusal:
        owner_repo.create_key(web_draft())
    assert "\n" not in str(refusal.value)
    assert store_path.read_bytes() == before and store_path.stat().st_ino == inode
    assert owner_repo.list_keys() == []  # reading still works


def test_a_read_only_folder_refuses_changes(my_store: Repository, store_path: Path) -> None:
    store_path.parent.chmod(0o555)
    try:
        before = store_path.read_bytes()
        result = apikeys("projects", "add", "X", "--store", str(store_path))
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
        assert "read-only" in result.stderr
        assert store_path.read_bytes() == before
    finally:
        store_path.parent.chmod(0o700)


@needs_root
def test_a_member_with_read_access_only_is_refused_in_one_line() -> None:
    with throwaway_group() as group, throwaway_login() as reader, shared_folder() as folder:
        store = folder / "team" / "store.json"
        assert apikeys("init", "--group", group, "--store", str(store)).returncode == 0
        assert apikeys("members", "add", reader, "--role", "owner", "--store", str(store)).returncode == 0
        os.chmod(store.parent, 0o2775)
        store.chmod(0o644)  # the reader is not in the group: can read, cannot write
        before = store.read_bytes()
        result = apikeys_as(reader, "projects", "add", "X", "--store", str(store))
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.splitlines()) == 1 and "read-only" in result.stderr
        assert store.read_bytes() == before


# -- group folders, real logins -----------------------------------------------------------------


@needs_root
def test_init_group_makes_a_2770_folder_and_members_keep_the_group() -> None:
    with throwaway_group() as group, throwaway_login(group) as owner, throwaway_login(group) as colleague, \
            shared_folder() as folder:
        os.chmod(folder, 0o777)
        store = folder / "team" / "store.json"
        result = apikeys_as(owner, "init", "--group", group, "--store", str(store), umask=0o077)
        assert result.returncode == 0, result.stderr
        import grp

        gid = grp.getgrnam(group).gr_gid
        info = store.parent.stat()
        assert stat.S_IMODE(info.st_mode) == 0o2770 and info.st_gid == gid
        added = apikeys_as(owner, "members", "add", colleague, "--role", "developer", "--store", str(store))
        assert added.returncode == 0, added.stderr
        project = apikeys_as(owner, "projects", "add", "Shop", "--deployed", "--store", str(store))
        assert project.returncode == 0, project.stderr
        # The colleague's umask and primary group must not leak into the shared files.
        result = apikeys_as(colleague, "create", "--name", "w", "--scope", "web", "--project", "Shop",
                            "--domain", "https://shop.example.com", "--store", str(store), umask=0o077)
        assert result.returncode == 0, result.stderr
        for name in ("store.json", "store.json.lock", "store.audit.jsonl"):
            info = (store.parent / name).stat()
            assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o660, gid), name


@needs_root
def test_a_member_cannot_turn_the_audit_trail_against_the_owner(tmp_path: Path) -> None:
    """A developer in the group replaces the trail by a symlink to the owner's rc file; the
    owner's next change is refused and the rc file never gets a line."""
    with throwaway_group() as group, throwaway_login(group) as owner, throwaway_login(group) as developer, \
            shared_folder() as folder:
        os.chmod(folder, 0o777)
        store = folder / "team" / "store.json"
        rc = folder / "owner-rc"
        rc.write_text(RC_TEXT)
        import pwd

        os.chown(rc, pwd.getpwnam(owner).pw_uid, -1)
        rc.chmod(0o600)
        assert apikeys_as(owner, "init", "--group", group, "--store", str(store)).returncode == 0
        added = apikeys_as(owner, "members", "add", developer, "--role", "developer", "--store", str(store))
        assert added.returncode == 0, added.stderr
        trail = audit_path(store)
        as_developer(developer, lambda: (os.unlink(trail), os.symlink(rc, trail)))
        result = apikeys_as(owner, "projects", "add", "$(id)", "--store", str(store))
        assert result.returncode == 2 and "symlink" in result.stderr
        assert rc.read_text() == RC_TEXT
