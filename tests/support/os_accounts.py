"""Real OS logins, groups and lock holders for the tests of a store shared between people.

Creating accounts needs root (as in CI); tests that need them skip with the reason otherwise.
Every account and group made here is removed again, and named ``aks<random>`` so that it
cannot collide with a real one.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APIKEYS = [sys.executable, "-m", "tui.cli"]
CAN_MAKE_ACCOUNTS = os.geteuid() == 0 and all(
    shutil.which(tool) for tool in ("useradd", "userdel", "groupadd", "groupdel")
)
needs_root = pytest.mark.skipif(
    not CAN_MAKE_ACCOUNTS, reason="needs root with useradd and groupadd to make throwaway OS logins"
)


@contextmanager
def throwaway_group() -> Iterator[str]:
    """A new OS group, removed afterwards."""
    name = "aksg" + secrets.token_hex(3)
    subprocess.run(["groupadd", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["groupdel", name], check=False)


@contextmanager
def throwaway_login(*groups: str) -> Iterator[str]:
    """A new OS login without a home folder (``useradd -M``), in ``groups``, removed afterwards."""
    name = "aks" + secrets.token_hex(3)
    extra = ["-G", ",".join(groups)] if groups else []
    subprocess.run(["useradd", "-M", "-N", "-s", "/bin/sh", *extra, name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False)


@contextmanager
def shared_folder() -> Iterator[Path]:
    """A folder other logins can reach (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="apikeys-shared-"))
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def apikeys_as(
    login: str, *args: str, stdin: str | None = None, umask: int = 0o022
) -> subprocess.CompletedProcess[str]:
    """Run the command line in a real process of the OS login ``login`` (its uid, gid and
    groups, as ``runuser`` would set them).

    The process is forked from this one and drops root before running ``main``: the test
    interpreter may live where other logins cannot execute it (e.g. under /root).
    """
    import pwd

    account = pwd.getpwnam(login)
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    in_read, in_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become the login, then run the command line
        code = 70
        try:
            os.dup2(in_read, 0)
            os.dup2(out_write, 1)
            os.dup2(err_write, 2)
            os.initgroups(login, account.pw_gid)
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            os.umask(umask)
            os.environ["HOME"] = "/nonexistent"
            # The child's standard streams live until os._exit: no with-block could own them.
            sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
            sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
            from tui.cli import main

            code = main(list(args))
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    for fd in (in_read, out_write, err_write):
        os.close(fd)
    os.write(in_write, (stdin or "").encode())
    os.close(in_write)
    with os.fdopen(out_read, encoding="utf-8") as out, os.fdopen(err_read, encoding="utf-8") as err:
        stdout, stderr = out.read(), err.read()
    _, status = os.waitpid(pid, 0)
    return subprocess.CompletedProcess(args, os.waitstatus_to_exitcode(status), stdout, stderr)


def as_login(login: str, action: Callable[[], object]) -> None:
    """Do ``action`` in a forked process of the OS login ``login`` (e.g. plant a file)."""
    import pwd

    account = pwd.getpwnam(login)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.initgroups(login, account.pw_gid)
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            action()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def apikeys_as_uid(uid: int, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command line in a forked process with a bare ``uid`` (no account entry)."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            os.dup2(out_write, 1)
            os.dup2(err_write, 2)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            # The child's standard streams live until os._exit: no with-block could own them.
            sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
            from tui.cli import main

            code = main(list(args))
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    os.close(out_write)
    os.close(err_write)
    with os.fdopen(out_read, encoding="utf-8") as out, os.fdopen(err_read, encoding="utf-8") as err:
        stdout, stderr = out.read(), err.read()
    _, status = os.waitpid(pid, 0)
    return subprocess.CompletedProcess(args, os.waitstatus_to_exitcode(status), stdout, stderr)


def apikeys(*args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the command line as this test's own login, in a process of its own."""
    return subprocess.run(
        [*APIKEYS, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


HOLD_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()
"""


class LockHolder:
    """Another process that holds the store's lock (``flock``) until released."""

    def __init__(self, lock_path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(lock_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        """Let the process go (its lock goes with it)."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("\n")
            self.process.stdin.flush()
            self.process.wait(timeout=30)

    def __enter__(self) -> LockHolder:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
