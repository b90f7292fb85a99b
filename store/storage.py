"""The store file: a TinyDB storage that is safe under several processes and crashes.

TinyDB's stock ``JSONStorage`` writes in place (a crash tears the file), knows nothing of other
processes, and re-parses the whole file on every query. :class:`StoreFile` instead:

* takes an inter-process lock (``fcntl.flock`` on ``<store>.lock``) around every change,
  re-reads the file inside the lock, applies the change and writes a new file atomically
  (temp file in the same folder, fsync, ``os.replace``, fsync of the folder);
* keeps the file's mode and group across rewrites (0600, or 0660 with a group);
* serves reads without the lock from a parse cached against the file's identity (inode, size,
  mtime, ctime). It holds the cached file open, so its inode cannot be reused by a later file
  while the cache trusts it;
* refuses a file that does not parse or has an unknown schema version, and never overwrites it;
* removes temp files left by a crashed writer;
* trusts no name in the folder, which other members share (SPEC §4): a store path that is a
  symlink is resolved once, so the real file is updated in its real folder; a store that is
  not a regular file is refused at once; the lock, audit and temp files are opened with
  ``O_NOFOLLOW`` (and ``O_NONBLOCK``, so a planted FIFO cannot make a reader wait), created
  with ``O_EXCL`` and the store's mode and group, and checked to be plain files; a lock file
  replaced while held is noticed and the lock taken again; a read-only store is never
  rewritten, and a full disk fails a change with one line.

The file keeps TinyDB's layout (``{table: {doc_id: document}}``), so ``TinyDB(path,
storage=StoreFile)`` can open it; the repository works on the parsed tables directly inside
a transaction, since TinyDB's ``Table`` caches ids and query results across processes.
"""

from __future__ import annotations

import errno
import fcntl
import gc
import grp
import json
import os
import pwd
import random
import secrets
import stat as stat_module
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from .errors import StoreUnusable
from .layout import (
    NEWEST_TABLE,
    KeyPieces,
    Part,
    Progress,
    newest_records,
    read_front,
    read_head,
    read_pieces,
    serialise_reusing,
)

SCHEMA_VERSION = 2  # 2: the newest keys before the keys table (layout.py); 1 is read as well
READABLE_VERSIONS = (1, 2)
META_TABLE = "_meta"
TABLES = ("keys", "projects", "members")
LOCK_TIMEOUT = 15.0
PIECEWISE_FROM = 16 * 1024 * 1024  # bytes: ~30,000 keys

Identity = tuple[int, int, int, int]
# Flags for every file opened beside the store: never follow a planted symlink, never wait on
# a planted FIFO, never leak the descriptor into a child process.
SIBLING_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _identity(stat: os.stat_result) -> Identity:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def empty_tables(meta: dict[str, Any]) -> dict[str, Any]:
    """The contents of a new store: the meta document and the empty tables."""
    data: dict[str, Any] = {META_TABLE: {"1": {"schema_version": SCHEMA_VERSION, **meta}}}
    for table in TABLES:
        data[table] = {}
    return data


class Transaction:
    """The parsed tables of a store, inside the lock; call :meth:`changed` to have them written."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.dirty = False
        self.after_write: list[Callable[[], None]] = []  # run inside the lock, once written

    @property
    def keys(self) -> dict[str, dict[str, Any]]:
        """The keys table: key id → record."""
        return self.data["keys"]

    @property
    def projects(self) -> dict[str, dict[str, Any]]:
        """The projects table: project id → record."""
        return self.data["projects"]

    @property
    def members(self) -> dict[str, dict[str, Any]]:
        """The members table: login → record."""
        return self.data["members"]

    @property
    def meta(self) -> dict[str, Any]:
        """The meta document (schema version, organisation)."""
        return self.data[META_TABLE]["1"]

    def changed(self) -> None:
        """Mark the tables as changed: they are written when the transaction ends."""
        self.dirty = True


class StoreFile(Storage):
    """A TinyDB storage with a lock, atomic replace, kept permissions and a cached parse."""

    def __init__(self, path: str | os.PathLike[str], **_: Any) -> None:
        self.given_path = Path(path)
        # Resolved once: a store path that is a symlink (say a private path pointing at the
        # shared store) must update the real file in its real folder, never replace the link
        # with a private copy that keeps every secret.
        self.path = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.RLock()
        self._data: dict[str, Any] | None = None
        self._identity: Identity | None = None
        self._anchor_fd: int | None = None
        self._in_transaction = False
        self._held_lock_fd: int | None = None
        self.generation = 0  # bumped whenever the cached data is replaced or changed
        # Called with the name of each step of a write; tests use it to simulate crashes.
        self.on_write_step: Callable[[str], None] = lambda step: None
        self._cleaned = False
        self.on_read_progress: Progress | None = None
        # The last front this process wrote: (the cache generation and keys table it wrote,
        # how many keys that table held, the front's key ids).
        self._front_written: tuple[int, int, int, list[str]] | None = None
        # Where the keys table's pieces sit in the cached file, as this process wrote or read
        # it in pieces: (the cache generation and keys table, the pieces; layout.KeyPieces).
        self._cached_pieces: tuple[int, int, KeyPieces] | None = None
        """Told (keys read, keys in the store) while a big store is parsed (a loading line)."""

    # -- TinyDB's Storage interface -------------------------------------------------------

    def read(self) -> dict[str, Any] | None:
        """The parsed store, re-read only if the file changed; treat it as read-only."""
        with self._thread_lock:
            return self._refresh()

    def write(self, data: dict[str, Any]) -> None:
        """Write ``data`` as a whole (TinyDB's interface), under the lock."""
        with self._thread_lock:
            self._cached_pieces = None  # TinyDB changes documents in place: copy nothing
            if self._in_transaction:
                self._data = data
                return
            with self._locked():
                self._write_atomically(data)

    def close(self) -> None:
        """Release the cached parse and the file it holds open."""
        with self._thread_lock:
            self._drop_cache()

    # -- reading --------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the store file exists (anything by its name, even a planted FIFO)."""
        return os.path.lexists(self.path)

    def current(self) -> dict[str, Any]:
        """The parsed store; raises :class:`StoreUnusable` if there is no store file."""
        with self._thread_lock:
            data = self._refresh()
            if data is None:
                raise StoreUnusable(
                    f"no store at {self.path}: create one with `apikeys init` "
                    "(or open it in the UI once)"
                )
            return data

    def check_head(self) -> None:
        """Refuse a store that is not one, or of a schema version this program does not know,
        reading only what comes before its keys (meta, projects, members) where the file has
        the layout this program writes: a check that costs the same at 100,000 keys as at 10.

        A file of another shape is parsed whole (that is where its precise error comes from);
        a keys table broken further on is found by the first full read.
        """
        with self._thread_lock:
            if self._data is not None:
                return
            fd = self._open_for_reading()
            try:
                with os.fdopen(os.dup(fd), "rb") as handle:
                    # The front line where there is one (schema version 2): its size does not
                    # grow with the usage counters that come between it and the keys.
                    head = read_front(handle)
                    if head is None:
                        handle.seek(0)
                        head = read_head(handle)
            finally:
                os.close(fd)
            if head is None:
                self.current()
            else:
                check_layout(head, self.path)

    def read_front(self) -> dict[str, Any] | None:
        """The front line of the file (see layout.py): meta, projects, members and the newest
        key records (``_newest``), read without the rest: a preview for a first screen. None
        when the store is parsed already (read it instead), or the file does not start with
        a front (schema version 1, a hand edit: it must be parsed whole).

        Refuses, as a full read does, a file that is not a regular file or not a store of a
        known schema version. The records are not checked here: they are shown as a list
        shows any record (flagged when they fail the checks) and only until the full parse.
        """
        with self._thread_lock:
            if self._data is not None:
                return None
            fd = self._open_for_reading()
        try:
            with os.fdopen(os.dup(fd), "rb") as handle:
                front = read_front(handle)
        finally:
            os.close(fd)
        if front is None:
            return None
        check_layout(front, self.path)
        return front if isinstance(front[NEWEST_TABLE], dict) else None

    def _open_for_reading(self) -> int:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise StoreUnusable(
                f"no store at {self.path}: create one with `apikeys init` "
                "(or open it in the UI once)"
            ) from None
        except OSError as error:
            raise StoreUnusable(f"cannot read {self.path}: {error.strerror}") from None
        self._refuse_unless_regular(stat)
        try:
            # O_NONBLOCK: a FIFO planted after the stat above must not make this wait.
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise StoreUnusable(f"{self.path} was replaced by a symlink: refused") from None
            raise StoreUnusable(f"cannot read {self.path}: {error.strerror}") from None
        try:
            self._refuse_unless_regular(os.fstat(fd))
        except BaseException:
            os.close(fd)
            raise
        return fd

    def identity(self) -> Identity | None:
        """The file's identity now (a stat, no parse); None if it does not exist."""
        try:
            return _identity(os.stat(self.path))
        except FileNotFoundError:
            return None

    def _refresh(self) -> dict[str, Any] | None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._drop_cache()
            return None
        except OSError as error:
            raise StoreUnusable(f"cannot read {self.path}: {error.strerror}") from None
        self._refuse_unless_regular(stat)
        identity = _identity(stat)
        if identity == self._identity and self._data is not None:
            return self._data
        self._load()
        return self._data

    def _refuse_unless_regular(self, stat: os.stat_result) -> None:
        if not stat_module.S_ISREG(stat.st_mode):
            raise StoreUnusable(
                f"{self.path} is not a regular file (it is {_file_kind(stat)}): "
                "refused; point --store at the store file"
            )

    def _load(self) -> None:
        try:
            # O_NONBLOCK: a FIFO planted after the stat above must not make this wait.
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise StoreUnusable(f"{self.path} was replaced by a symlink: refused") from None
            raise StoreUnusable(f"cannot read {self.path}: {error.strerror}") from None
        try:
            stat = os.fstat(fd)
            self._refuse_unless_regular(stat)
            identity = _identity(stat)
            with os.fdopen(os.dup(fd), "rb") as handle:
                # Small files parse faster whole; big ones in pieces, to spare the peak memory.
                read = self._parse_in_pieces(handle) if identity[1] > PIECEWISE_FROM else None
                if read is None:
                    handle.seek(0)
                    data, pieces = self._parse(handle.read()), None
                else:
                    data, pieces = read
        except BaseException:
            os.close(fd)
            raise
        self._set_cache(data, identity, fd)
        if pieces is not None:  # the first change copies what it leaves alone
            self._cached_pieces = (self.generation, id(data["keys"]), pieces)

    def _parse_in_pieces(self, handle: Any) -> tuple[dict[str, Any], KeyPieces] | None:
        """The store as this program writes it, parsed a block at a time (see layout.py),
        and where its pieces sit."""
        with collector_paused(freeze=True):
            read = read_pieces(handle, self.on_read_progress)
        if read is not None:
            check_layout(read[0], self.path)
            read[0].pop(NEWEST_TABLE, None)  # a preview for first screens; the keys decide
        _return_freed_memory()
        return read

    def _refuse_duplicate_fields(self, raw: bytes, data: dict[str, Any]) -> None:
        """Refuse a file in which an object names a field twice.

        orjson keeps the last of two equal field names silently (a hand edit could hide
        ``"status": "active"`` behind a visible ``"revoked"``). A file as this program writes
        it re-serialises to the same bytes but for the newline after its front (white space),
        which proves it has no duplicates (~0.1 s at 100,000 keys); only a file that does not
        (edited by hand, written by another tool) is parsed again with a duplicate check (~1 s
        at 100,000 keys, once per change of it).
        """
        canonical = orjson.dumps(data)
        if canonical == raw or canonical == raw.replace(b"\n", b"", 1):
            return
        _check_no_duplicate_fields(raw, self.path)

    def _parse(self, raw: bytes) -> dict[str, Any]:
        name = self.path
        if not raw.strip():
            raise StoreUnusable(
                f"{name} is empty: restore it from a backup or move it aside; it was not changed"
            )
        try:
            with collector_paused(freeze=True):
                data = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise StoreUnusable(
                f"{name} is not valid JSON ({_position(raw, error.pos)}): "
                "restore it from a backup or move it aside; it was not changed"
            ) from None
        check_layout(data, name)
        self._refuse_duplicate_fields(raw, data)
        data.pop(NEWEST_TABLE, None)  # a preview for first screens; the keys decide
        return data

    def _set_cache(self, data: dict[str, Any], identity: Identity, anchor_fd: int) -> None:
        if self._anchor_fd is not None:
            _close_in_background(self._anchor_fd)
        self._data, self._identity, self._anchor_fd = data, identity, anchor_fd
        self._cached_pieces = None  # they describe the file replaced (and hold its records)
        self.generation += 1

    def _drop_cache(self) -> None:
        if self._anchor_fd is not None:
            os.close(self._anchor_fd)
        self._data = self._identity = self._anchor_fd = None
        self._cached_pieces = None
        self.generation += 1

    # -- changing -------------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, timeout: float = LOCK_TIMEOUT) -> Iterator[Transaction]:
        """Lock, re-read, let the caller change the tables, and write them atomically.

        If the body raises, nothing is written and the cache is dropped (the body may have
        changed it half way), so the next read sees the file as it is. If another process
        holds the lock for ``timeout`` seconds, :class:`StoreUnusable` is raised.
        """
        with self._thread_lock:
            self._refuse_if_read_only()
        with self._thread_lock, self._locked(timeout):
            data = self.current()
            self._refuse_if_read_only()
            transaction = Transaction(data)
            self._in_transaction = True
            try:
                yield transaction
                if transaction.dirty:
                    self._write_atomically(transaction.data)
                    for callback in transaction.after_write:
                        callback()
            except BaseException:
                self._drop_cache()
                raise
            finally:
                self._in_transaction = False

    def create(self, data: dict[str, Any], *, group: str | None = None) -> bool:
        """Create the store file with ``data`` unless it exists; return whether it did.

        The file is 0600, or 0660 owned by ``group`` (its lock and audit files alike).
        """
        gid = _group_id(group) if group else None
        _make_folder(self.path.parent, gid)
        if gid is not None:
            _prepare_shared_file(self.lock_path, gid)
        with self._thread_lock, self._locked():
            if os.path.lexists(self.path):
                return False
            mode = 0o660 if gid is not None else 0o600
            self._write_atomically(data, mode=mode, gid=gid)
            return True

    def file_mode_and_group(self) -> tuple[int, int]:
        """The store file's permission bits and group, which sibling files copy."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return 0o600, os.getegid()
        return stat.st_mode & 0o777, stat.st_gid

    def _write_atomically(
        self, data: dict[str, Any], *, mode: int | None = None, gid: int | None = None
    ) -> None:
        # A store of an older schema version is written in the current one: the forward
        # migration from version 1 is the head of newest keys that serialise() adds.
        data[META_TABLE]["1"]["schema_version"] = SCHEMA_VERSION
        newest = self._newest_records(data["keys"])
        previous = self._pieces_to_copy(data["keys"])
        parts, pieces = serialise_reusing(data, newest, previous)
        if mode is None or gid is None:
            current_mode, current_gid = self.file_mode_and_group()
            mode = current_mode if mode is None else mode
            gid = current_gid if gid is None else gid
        temp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | SIBLING_FLAGS, 0o600)
        except OSError as error:
            raise self._write_refusal(error) from None
        try:
            # os.replace would otherwise leave this writer's umask and primary group.
            os.fchmod(fd, mode)
            if gid != os.getegid():
                os.fchown(fd, -1, gid)
            if not self._write_parts(fd, parts):
                # The file the pieces were to be copied from changed under this process
                # (edited in place, without the lock): every record is serialised instead.
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                parts, pieces = serialise_reusing(data, newest, None)
                self._write_parts(fd, parts)
            self.on_write_step("temp_written")
            os.fdatasync(fd)
            self.on_write_step("temp_fsynced")
            self.on_write_step("before_replace")
            self._refuse_if_lock_replaced()
            os.replace(temp, self.path)
            self.on_write_step("after_replace")
            _fsync_folder(self.path.parent)
        except BaseException as error:
            os.close(fd)
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
            if isinstance(error, OSError):
                raise self._write_refusal(error) from None
            raise
        # The data written is what the cache holds now; the stat is taken inside the lock,
        # so nobody else can have replaced the file since.
        anchor = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        os.close(fd)
        self._set_cache(data, _identity(os.fstat(anchor)), anchor)
        self._cached_pieces = (self.generation, id(data["keys"]), pieces)

    def _pieces_to_copy(self, keys: dict[str, Any]) -> KeyPieces | None:
        """The pieces of the cached file, as this process wrote or read it, when the keys
        table being written is that cache's (changed since only by new record objects, which
        the pieces tell apart): those of its pieces whose records are all the same are copied
        from the file, not serialised again (~85 ms of a change at 100,000 keys)."""
        written = self._cached_pieces
        if written is None or written[:2] != (self.generation, id(keys)) or self._anchor_fd is None:
            return None
        return written[2]

    def _write_parts(self, fd: int, parts: list[Part]) -> bool:
        """Write ``parts`` at ``fd``'s position: bytes as they are, (offset, length) copied
        from the cached file within the kernel. False if that file changed meanwhile."""
        source, copied = self._anchor_fd, False
        for part in parts:
            if isinstance(part, bytes):
                _write_all(fd, part)
            else:
                assert source is not None
                if not _copy_range(source, fd, *part):
                    return False
                copied = True
        return not copied or (source is not None and _identity(os.fstat(source)) == self._identity)

    def _newest_records(self, keys: dict[str, Any]) -> dict[str, Any]:
        """The front's newest keys for a write (see layout.py).

        When this process wrote the last front and the cache has not been read again since,
        they are among that front's keys (as they are now) and the keys added since: keys are
        never deleted, new ones are added last, and a change keeps a key's creation time. That
        ranks a few hundred records, not every one (~25 ms at 100,000 keys, for each change).
        """
        written = self._front_written
        if written is not None and written[:2] == (self.generation, id(keys)) and len(keys) >= written[2]:
            # Oldest first, as stored: ties of the same second keep their order.
            candidates = {key_id: keys[key_id] for key_id in reversed(written[3]) if key_id in keys}
            added = list(islice(reversed(keys), len(keys) - written[2]))
            candidates.update((key_id, keys[key_id]) for key_id in reversed(added))
            newest = newest_records(candidates)
        else:
            newest = newest_records(keys)
        # The generation the write gives the cache (_set_cache bumps it by one).
        self._front_written = (self.generation + 1, id(keys), len(keys), list(newest))
        return newest

    def _write_refusal(self, error: OSError) -> StoreUnusable:
        """One line for a write that failed; the store file is unchanged (the temp file is
        removed before this is raised)."""
        if error.errno in DISK_FULL:
            return StoreUnusable(
                f"no space left on the disk of {self.path}: the change was not saved and the "
                "store was not changed; free some space and try again"
            )
        if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return StoreUnusable(self._read_only_message())
        return StoreUnusable(f"cannot write {self.path}: {error.strerror}; it was not changed")

    def _read_only_message(self) -> str:
        return (
            f"{self.path} is read-only for {_login_of_euid()}: nothing was changed "
            "(ask the store's owner for write access, or use a writable copy)"
        )

    def _refuse_if_read_only(self) -> None:
        """Refuse a change to a store file or folder that is read-only.

        Checked before any write: ``os.replace`` needs only the folder to be writable, so a
        read-only file would otherwise be rewritten. The mode bits count too, since
        ``os.access`` answers yes to root for any file.
        """
        try:
            file_stat = os.stat(self.path)
        except FileNotFoundError:
            file_stat = None
        folder = self.path.parent
        folder_stat = os.stat(folder)
        read_only = (
            not os.access(folder, os.W_OK | os.X_OK) or not folder_stat.st_mode & 0o222
            or _on_read_only_mount(folder)
        )
        if file_stat is not None:
            read_only = read_only or not file_stat.st_mode & 0o222 or not os.access(self.path, os.W_OK)
        if read_only:
            raise StoreUnusable(self._read_only_message())

    @contextmanager
    def _locked(self, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        deadline = time.monotonic() + timeout
        fd = self._open_lock_file()
        try:
            delay = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    if self._lock_file_still_ours(fd):
                        break
                    # Replaced or deleted while we waited or held it: a lock on the old
                    # inode excludes nobody who opens the name now. Take the new one.
                    os.close(fd)
                    fd = -1
                    fd = self._open_lock_file()
                    continue
                except OSError as error:
                    if error.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                if time.monotonic() >= deadline:
                    raise StoreUnusable(
                        f"{self.path} has been locked by another apikeys process for "
                        f"{timeout:.0f} s: try again, or check for a stuck process"
                    )
                time.sleep(delay * (0.5 + random.random()))
                # A short cap keeps waiting processes in the race: with long sleeps, one
                # process doing back-to-back changes would starve the others.
                delay = min(delay * 2, 0.004)
            if not self._cleaned:
                self._remove_stale_temp_files()
            outer = self._held_lock_fd
            self._held_lock_fd = fd
            try:
                yield
            finally:
                self._held_lock_fd = outer
        finally:
            if fd >= 0:
                os.close(fd)  # closing the descriptor releases the flock

    def _refuse_if_lock_replaced(self) -> None:
        """Refuse to write if the lock file was replaced or deleted while this change held it:
        another process may have taken the new one and be changing the store right now."""
        fd = self._held_lock_fd
        if fd is not None and not self._lock_file_still_ours(fd):
            raise StoreUnusable(
                f"the lock file {self.lock_path} was replaced or deleted during this change: "
                "nothing was saved; try again (and find out who touches the store's folder)"
            )

    def _lock_file_still_ours(self, fd: int) -> bool:
        """Whether the locked descriptor is still the file the lock path names."""
        held = os.fstat(fd)
        try:
            current = os.lstat(self.lock_path)
        except FileNotFoundError:
            return False
        return (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino)

    def _open_lock_file(self) -> int:
        """Open the lock file, making it (once, never deleted) with the store's mode and group."""
        if not self.path.parent.is_dir():
            raise StoreUnusable(f"the folder of {self.path} does not exist")
        try:
            return open_sibling(self.lock_path, self, os.O_RDWR)
        except PermissionError:
            pass
        try:  # a shared lock file this login may not write still serves for flock
            return open_sibling(self.lock_path, self, os.O_RDONLY)
        except PermissionError:
            raise StoreUnusable(
                f"cannot open the lock file {self.lock_path}: permission denied"
            ) from None

    def _remove_stale_temp_files(self) -> None:
        """Inside the lock no writer is half way, so any temp file is a crashed writer's."""
        self._cleaned = True
        for stale in self.path.parent.glob(f".{self.path.name}.tmp-*"):
            try:
                stale.unlink()
            except OSError:
                pass


class StoreTable(Table):
    """A TinyDB table of a store: its document ids are strings (``key_…``, ``prj_…``, logins)."""

    document_id_class = str  # type: ignore[assignment]  # TinyDB types it for int ids only


class StoreDB(TinyDB):
    """The way to open a store with TinyDB, to read it: ``StoreDB(path).table("keys").all()``.

    TinyDB's stock ``Table`` turns document ids into ``int``, which fails on ``key_…``. Change
    the store through :class:`store.repository.Repository` only: a TinyDB ``Table`` caches ids
    and query results that another process's change makes stale.
    """

    table_class = StoreTable
    default_storage_class = StoreFile  # type: ignore[assignment]  # a Storage, not a JSONStorage


@contextmanager
def collector_paused(*, freeze: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects at once.

    Parsing 100,000 keys builds millions of objects; without this the collector would scan
    them again and again while they are being built (measured: 0.32 s of 0.35 s to build
    the list views of 100,000 keys). The data is acyclic, so nothing is left uncollected.

    With ``freeze``, what exists at the end is moved out of the collector's sight
    (``gc.freeze``) before it runs again: otherwise its first full pass rescans the millions
    of new objects (0.19–0.35 s at 100,000 keys, measured; 2–3 ms frozen). Frozen objects are
    still freed by reference counting when the store is read again; only cyclic garbage that
    happens to exist at that moment would stay: a load after the first collects it first.
    """
    if freeze and gc.get_freeze_count():
        # A reload: collect the cyclic garbage of before it, or it would be frozen for good.
        # Cheap, since what was frozen before is not scanned (the first load skips this:
        # with nothing frozen yet it would scan every module's objects before first paint).
        gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()


def check_layout(data: Any, name: object) -> None:
    """Refuse data that is not a store of a schema version this program knows."""
    if not isinstance(data, dict):
        raise StoreUnusable(f"{name} is not an apikeys store (no tables): it was not changed")
    meta = data.get(META_TABLE, {}).get("1") if isinstance(data.get(META_TABLE), dict) else None
    if not isinstance(meta, dict) or "schema_version" not in meta:
        raise StoreUnusable(f"{name} is not an apikeys store (no schema version): it was not changed")
    version = meta["schema_version"]
    if type(version) is not int or version not in READABLE_VERSIONS:  # True == 1 and 1.0 == 1
        raise StoreUnusable(
            f"{name} has schema version {version!r}, but this apikeys knows versions up to "
            f"{SCHEMA_VERSION}: upgrade apikeys; the file was not changed"
        )
    for table in TABLES:
        if not isinstance(data.get(table), dict):
            raise StoreUnusable(f"{name} has no valid {table!r} table: it was not changed")


def _return_freed_memory() -> None:
    """Give the memory a big parse used and freed back to the system (glibc's
    ``malloc_trim``; ~2 ms). glibc keeps freed blocks for later use otherwise: ~25 MB at
    100,000 keys that would count towards the process's size for as long as it runs."""
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)


def _close_in_background(fd: int) -> None:
    """Close a replaced file's anchor off the caller's path.

    The file was unlinked by the replace, so this close frees all its blocks: ~5 ms at
    10,000 keys, ~50 ms at 100,000, that a change need not wait for.
    """
    threading.Thread(target=os.close, args=(fd,), name="apikeys-close", daemon=True).start()


def _position(raw: bytes, position: int) -> str:
    line = raw.count(b"\n", 0, position) + 1
    column = position - (raw.rfind(b"\n", 0, position) + 1) + 1
    return f"line {line}, column {column}"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _copy_range(source: int, target: int, offset: int, length: int) -> bool:
    """Copy ``length`` bytes at ``offset`` of ``source`` to ``target``'s position, within the
    kernel (``copy_file_range``; read and written where it cannot); False if ``source``
    ends before."""
    try:
        while length:
            copied = os.copy_file_range(source, target, length, offset)
            if copied == 0:
                return False
            offset, length = offset + copied, length - copied
        return True
    except OSError as error:
        if error.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
    while length:
        block = os.pread(source, min(length, 1024 * 1024), offset)
        if not block:
            return False
        _write_all(target, block)
        offset, length = offset + len(block), length - len(block)
    return True


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _group_id(group: str) -> int:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise StoreUnusable(f"there is no group named {group!r} on this host") from None


def _prepare_shared_file(path: Path, gid: int) -> None:
    """Make the lock file of a group store 0660 with ``gid`` (never following a symlink)."""
    fd = open_sibling(path, None, os.O_RDWR, mode=0o660, gid=gid)
    try:
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, 0o660)
            os.fchown(fd, -1, gid)
    finally:
        os.close(fd)


def prepare_sibling_file(path: Path, storage: StoreFile) -> None:
    """Create ``path`` (e.g. the audit trail) with the store file's mode and group."""
    os.close(open_sibling(path, storage, os.O_WRONLY | os.O_APPEND))


def open_sibling(
    path: Path,
    storage: StoreFile | None,
    flags: int,
    *,
    create: bool = True,
    mode: int | None = None,
    gid: int | None = None,
) -> int:
    """Open a file beside the store (lock, audit) without trusting its name.

    Never follows a symlink nor waits on a FIFO (``O_NOFOLLOW | O_NONBLOCK``); a file it
    makes is made with ``O_EXCL`` and given the store's mode and group (or ``mode``/``gid``),
    never the umask's; whatever it opens must be a regular file with one link, owned by this
    login or root or in the store's group. Refusals are :class:`StoreUnusable`, one line.
    """
    if mode is None or gid is None:
        store_mode, store_gid = storage.file_mode_and_group() if storage else (0o600, os.getegid())
        mode = store_mode if mode is None else mode
        gid = store_gid if gid is None else gid
    fd = -1
    if create:
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL | SIBLING_FLAGS, 0o600)
        except FileExistsError:
            pass
        except OSError as error:
            if error.errno in DISK_FULL:
                raise StoreUnusable(f"no space left to create {path}: nothing was changed") from None
            if error.errno in (errno.EROFS,):
                raise StoreUnusable(f"{path.parent} is read-only: nothing was changed") from None
            raise
        else:
            try:
                os.fchmod(fd, mode)
                if gid != os.getegid():
                    os.fchown(fd, -1, gid)
            except BaseException:
                os.close(fd)
                raise
            return fd
    try:
        fd = os.open(path, flags | SIBLING_FLAGS)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise StoreUnusable(
                f"{path} is a symlink, which apikeys never follows: refused; remove it "
                "(someone with write access to the folder may have planted it)"
            ) from None
        if error.errno == errno.ENXIO:  # a FIFO with no writer, opened for writing
            raise StoreUnusable(f"{path} is not a regular file (it is a FIFO): refused; remove it") from None
        raise
    try:
        _check_sibling(fd, path, gid)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_sibling(fd: int, path: Path, store_gid: int) -> None:
    stat = os.fstat(fd)
    if not stat_module.S_ISREG(stat.st_mode):
        raise StoreUnusable(f"{path} is not a regular file (it is {_file_kind(stat)}): refused; remove it")
    if stat.st_nlink != 1:
        raise StoreUnusable(
            f"{path} has {stat.st_nlink} hard links (another file's contents): refused; remove it"
        )
    if stat.st_uid not in (os.geteuid(), 0) and stat.st_gid != store_gid:
        raise StoreUnusable(
            f"{path} belongs to uid {stat.st_uid} and not to the store's group: refused; remove it"
        )


def _file_kind(stat: os.stat_result) -> str:
    mode = stat.st_mode
    for test, kind in (
        (stat_module.S_ISDIR, "a directory"), (stat_module.S_ISFIFO, "a FIFO"),
        (stat_module.S_ISCHR, "a character device"), (stat_module.S_ISBLK, "a block device"),
        (stat_module.S_ISSOCK, "a socket"), (stat_module.S_ISLNK, "a symlink"),
    ):
        if test(mode):
            return kind
    return "not a plain file"


def _make_folder(folder: Path, gid: int | None) -> None:
    """Create the store's folder if missing: 0700, or 2770 with ``gid`` for a group store
    (setgid, so files made in it get the group whatever the maker's primary group)."""
    if folder.is_dir():
        return
    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        return
    if gid is not None:
        os.chown(folder, -1, gid)
        os.chmod(folder, 0o2770)  # after the chown, which may clear the setgid bit


def _on_read_only_mount(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _login_of_euid() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


class _DuplicateField(Exception):
    def __init__(self, field: str, record_id: object) -> None:
        super().__init__(field)
        self.field = field
        self.record_id = record_id


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for field, _ in pairs:
            if field in seen:
                raise _DuplicateField(field, result.get("id"))
            seen.add(field)
    return result


def _check_no_duplicate_fields(raw: bytes, name: object) -> None:
    """Refuse a store in which an object names a field twice (json's slower parser sees it)."""
    try:
        json.loads(raw, object_pairs_hook=_refuse_duplicates)
    except _DuplicateField as duplicate:
        where = f" of record {duplicate.record_id!r}" if isinstance(duplicate.record_id, str) else ""
        raise StoreUnusable(
            f"{name} names the field {duplicate.field[:64]!r}{where} twice, so it is ambiguous: "
            "remove one of them by hand; the file was not changed"
        ) from None
    except ValueError:
        pass  # orjson accepted it; json's stricter limits are not this check's business
