"""The audit trail: an append-only JSON Lines file beside the store.

Appending costs the same whatever the trail's length, so it never makes a write slower as it
grows. Events name the actor, the action and the key id; they never hold a secret. Reading
is incremental: only the lines appended since the last read are parsed.

The file sits in a folder other members share: it is opened with ``O_NOFOLLOW`` (a planted
symlink to someone's shell rc file is refused, never appended to) and appended one whole
line per write. An append that fails (a full disk) is cut back to where it began, and a
line torn before (by an older version or a crash) is skipped by readers, who say so, and
never glued to the next event.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .errors import StoreUnusable
from .storage import DISK_FULL, StoreFile, collector_paused, open_sibling

if TYPE_CHECKING:
    from .models import AuditEvent

TAIL_BYTES = 64 * 1024


def audit_path(store_path: Path) -> Path:
    """``store.json`` → ``store.audit.jsonl`` in the same folder."""
    return store_path.with_name(store_path.stem + ".audit.jsonl")


class AuditLog:
    """Append and read the events of one store."""

    def __init__(self, storage: StoreFile) -> None:
        self.storage = storage
        self.path = audit_path(storage.path)
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._inode: int | None = None
        self._offset = 0
        self.unreadable_lines = 0  # lines skipped since they do not parse as an event

    def check(self) -> None:
        """Refuse, before a change is made, an audit file that is not a plain file (a planted
        symlink, FIFO or directory), so the change is not saved without its audit line."""
        try:
            os.close(open_sibling(self.path, self.storage, os.O_RDONLY, create=False))
        except FileNotFoundError:
            pass

    def append(self, events: list[AuditEvent], transaction_id: str | None = None) -> None:
        """Append events; called inside the store's lock, after the store was written.

        ``transaction_id`` marks the lines so that :meth:`recover` can tell whether they
        made it to the file.
        """
        if not events:
            return
        marker = {"txn": transaction_id} if transaction_id else {}
        payload = b"".join(orjson.dumps({**event.model_dump(), **marker}) + b"\n" for event in events)
        fd = open_sibling(self.path, self.storage, os.O_RDWR | os.O_APPEND)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                payload = b"\n" + payload  # end a torn line, so it cannot swallow this event
            try:
                # One write with O_APPEND: lines never interleave.
                if os.write(fd, payload) != len(payload):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                os.fdatasync(fd)
            except OSError as error:
                _cut_back(fd, size)
                raise StoreUnusable(self._append_refusal(error)) from None
        finally:
            os.close(fd)

    def _append_refusal(self, error: OSError) -> str:
        reason = "no space left on the disk" if error.errno in DISK_FULL else error.strerror
        return (
            f"the change was saved in {self.storage.path}, but its audit line could not be "
            f"written to {self.path} ({reason}); it is kept and written with the next change"
        )

    def recover(self, pending: dict[str, Any] | None) -> None:
        """Append the last transaction's events if a crash came between the store's replace
        and their append (called inside the lock, before the next change).

        The store file carries its last transaction's events (``audit_pending``); they are
        always the last lines of the trail when they were appended.
        """
        if not pending or not pending.get("events"):
            return
        marker = f'"txn":"{pending["txn"]}"'.encode()
        if marker in self._tail():
            return
        from .models import AuditEvent  # pydantic: only a crashed writer's events need it

        events = [AuditEvent.model_validate(event) for event in pending["events"]]
        self.append(events, pending["txn"])

    def _tail(self) -> bytes:
        """The end of the trail: the last transaction's lines are there if they were written,
        perhaps followed by a torn or hand-added line (so not only the very last line)."""
        try:
            fd = open_sibling(self.path, self.storage, os.O_RDONLY, create=False)
        except FileNotFoundError:
            return b""
        with os.fdopen(fd, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - TAIL_BYTES))
            return handle.read()

    def records(self) -> list[dict[str, Any]]:
        """Every event as stored (plain dicts), oldest first.

        A line that does not parse as an event (torn by a crash, edited by hand) is skipped
        and counted in :attr:`unreadable_lines`; the lines after it are read as usual.

        Kept as dicts: validating 110,000 events costs ~0.3 s, so the repository validates
        only the ones it returns.
        """
        with self._lock:
            try:
                fd = open_sibling(self.path, self.storage, os.O_RDONLY, create=False)
            except FileNotFoundError:
                return []
            with os.fdopen(fd, "rb") as handle:
                stat = os.fstat(fd)
                if stat.st_ino != self._inode or stat.st_size < self._offset:
                    self._records, self._inode, self._offset = [], stat.st_ino, 0
                    self.unreadable_lines = 0
                if stat.st_size > self._offset:
                    handle.seek(self._offset)
                    chunk = handle.read(stat.st_size - self._offset)
                    complete = chunk.rfind(b"\n") + 1
                    with collector_paused():
                        self._read_lines(chunk[:complete])
                    self._offset += complete
            return list(self._records)

    def _read_lines(self, chunk: bytes) -> None:
        for line in chunk.splitlines():
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                record = None
            if isinstance(record, dict) and _well_formed(record):
                self._records.append(record)
            else:
                self.unreadable_lines += 1


def _cut_back(fd: int, size: int) -> None:
    """Remove the part of a failed append, so no torn line is left (best effort)."""
    try:
        os.ftruncate(fd, size)
    except OSError:
        pass


def _well_formed(record: dict[str, Any]) -> bool:
    """A line a person or a crash did not mangle: the fields every event has, as text."""
    return all(isinstance(record.get(field), str) for field in ("at", "actor", "action")) and (
        record.get("key_id") is None or isinstance(record.get("key_id"), str)
    ) and isinstance(record.get("detail", ""), str)
