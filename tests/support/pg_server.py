"""A throwaway PostgreSQL server for the tests, from the installed binaries.

``initdb`` into a temp folder, a Unix socket in that folder, ``listen_addresses=''`` (no TCP),
fsync off. ``initdb`` refuses to run as root, so when the tests run as root the server runs as
the ``postgres`` OS user (``runuser -u postgres --``) and root connects as the database role
``postgres`` through peer authentication with an ident map (root → postgres). Every other OS
login maps to the database role of its own name, so identity tests can log in as throwaway OS
users.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

SERVER_OS_USER = "postgres"  # who runs the server when the tests run as root
PORT = 5432  # names the socket file only: the socket lives in the server's private folder


def find_bindir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: Debian's newest /usr/lib/postgresql/N/bin,
    else the PATH's; None when PostgreSQL is not installed."""
    def version(initdb: str) -> int:
        name = Path(initdb).parent.parent.name
        return int(name) if name.isdigit() else 0

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    return None


class PgServer:
    """One server in its own folder; :meth:`start`, :meth:`new_database`, :meth:`stop`."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="apikeys-pg-"))
        os.chmod(self.root, 0o755)  # the server user and throwaway logins reach the socket
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.log = self.root / "server.log"
        self.as_root = os.geteuid() == 0
        self.superuser = SERVER_OS_USER if self.as_root else pwd.getpwuid(os.geteuid()).pw_name
        self._names = itertools.count(1)
        self.started = False

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", SERVER_OS_USER, "--"] if self.as_root else []
        return subprocess.run([*prefix, *command], capture_output=True, text=True, check=False)

    def start(self) -> None:
        """initdb, configure (socket, no TCP, no fsync, peer authentication) and start."""
        if self.as_root:
            entry = pwd.getpwnam(SERVER_OS_USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        result = self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.superuser,
            "--auth-local=peer", "--auth-host=reject", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                "\n# apikeys tests\n"
                "listen_addresses = ''\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                f"port = {PORT}\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 200\nshared_buffers = 128MB\n"
            )
        (self.data / "pg_hba.conf").write_text(
            "local all all peer map=apikeys\n", encoding="utf-8"
        )
        # root logs in as the superuser role; everyone else as the role of their own name.
        mapping = f"apikeys root {self.superuser}\n" if self.as_root else ""
        (self.data / "pg_ident.conf").write_text(mapping + "apikeys /^(.*)$ \\1\n", encoding="utf-8")
        if self.as_root:
            entry = pwd.getpwnam(SERVER_OS_USER)
            for name in ("pg_hba.conf", "pg_ident.conf"):
                os.chown(self.data / name, entry.pw_uid, entry.pw_gid)
        result = self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "start"
        )
        if result.returncode != 0:
            log = self.log.read_text(encoding="utf-8", errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {result.stderr.strip()} {log}")
        self.started = True

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        if self.started:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def conninfo(self, dbname: str = "postgres", user: str | None = None) -> str:
        """A libpq URL for ``dbname`` over the socket, as ``user`` (default: the superuser;
        ``""`` leaves the user out, so libpq uses the OS login)."""
        user = self.superuser if user is None else user
        who = f"{quote(user)}@" if user else ""
        return f"postgresql://{who}/{quote(dbname)}?host={quote(str(self.socket_dir), safe='')}&port={PORT}"

    def admin(self, dbname: str = "postgres"):  # noqa: ANN201 - a psycopg connection
        """An autocommit superuser connection."""
        import psycopg

        return psycopg.connect(self.conninfo(dbname), autocommit=True)

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database with a unique name; returns its name."""
        from psycopg import sql

        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with self.admin() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        return name


REQUIRE_VARIABLE = "APIKEYS_REQUIRE_POSTGRES"


def skip_or_fail(reason: str) -> None:
    """Skip a PostgreSQL test with ``reason``; fail it instead where CI requires them
    (``APIKEYS_REQUIRE_POSTGRES=1``), so a skip can never pass a run unnoticed."""
    import pytest

    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"PostgreSQL tests are required here ({REQUIRE_VARIABLE}=1), but {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}", allow_module_level=True)


def postgres_unavailable_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]' installs it)"
    if find_bindir() is None:
        return "no PostgreSQL server binaries (initdb) are installed; apt-get install postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_OS_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_OS_USER!r} OS user to run initdb as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing (needed to run initdb as postgres)"
    return None
