"""The audit trail: an append-only JSON Lines file beside the store.

Appending costs the same whatever the trail's length, so it never makes a write slower as it
grows. Events name the actor, the action and the key id; they never hold a secret. Reading
is incremental: only the lines appended since the last read are parsed.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import orjson

from .models import AuditEvent
from .storage import StoreFile, collector_paused, prepare_sibling_file


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

    def append(self, events: list[AuditEvent], transaction_id: str | None = None) -> None:
        """Append events; called inside the store's lock, after the store was written.

        ``transaction_id`` marks the lines so that :meth:`recover` can tell whether they
        made it to the file.
        """
        if not events:
            return
        if not self.path.exists():
            prepare_sibling_file(self.path, self.storage)
        marker = {"txn": transaction_id} if transaction_id else {}
        payload = b"".join(orjson.dumps({**event.model_dump(), **marker}) + b"\n" for event in events)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        try:
            os.write(fd, payload)  # one write with O_APPEND: lines never interleave
            os.fdatasync(fd)
        finally:
            os.close(fd)

    def recover(self, pending: dict[str, Any] | None) -> None:
        """Append the last transaction's events if a crash came between the store's replace
        and their append (called inside the lock, before the next change).

        The store file carries its last transaction's events (``audit_pending``); they are
        always the last lines of the trail when they were appended.
        """
        if not pending or not pending.get("events"):
            return
        marker = f'"txn":"{pending["txn"]}"'.encode()
        if marker in self._last_line():
            return
        events = [AuditEvent.model_validate(event) for event in pending["events"]]
        self.append(events, pending["txn"])

    def _last_line(self) -> bytes:
        try:
            with open(self.path, "rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - 4096))
                tail = handle.read()
        except FileNotFoundError:
            return b""
        lines = tail.rstrip(b"\n").rsplit(b"\n", 1)
        return lines[-1]

    def records(self) -> list[dict[str, Any]]:
        """Every event as stored (plain dicts), oldest first; a torn last line is skipped.

        Kept as dicts: validating 110,000 events costs ~0.3 s, so the repository validates
        only the ones it returns.
        """
        with self._lock:
            try:
                stat = os.stat(self.path)
            except FileNotFoundError:
                return []
            if stat.st_ino != self._inode or stat.st_size < self._offset:
                self._records, self._inode, self._offset = [], stat.st_ino, 0
            if stat.st_size > self._offset:
                with open(self.path, "rb") as handle:
                    handle.seek(self._offset)
                    chunk = handle.read(stat.st_size - self._offset)
                complete = chunk.rfind(b"\n") + 1
                with collector_paused():
                    for line in chunk[:complete].splitlines():
                        try:
                            record = orjson.loads(line)
                        except orjson.JSONDecodeError:
                            continue
                        if isinstance(record, dict) and _well_formed(record):
                            self._records.append(record)
                self._offset += complete
            return list(self._records)


def _well_formed(record: dict[str, Any]) -> bool:
    """A line a person or a crash did not mangle: the fields every event has, as text."""
    return all(isinstance(record.get(field), str) for field in ("at", "actor", "action")) and (
        record.get("key_id") is None or isinstance(record.get("key_id"), str)
    ) and isinstance(record.get("detail", ""), str)
