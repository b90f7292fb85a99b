"""How keys are used: valid and refused answers per key and UTC day, and the last origin and IP.

Verify notes each answer in memory (a few dict operations, no I/O). The notes are written in
batches: at most once a minute by a busy verifier, by the next change of this process, and by
:meth:`UsageRecorder.flush` (the command line's ``verify`` calls it before it exits). Writing
never waits for the store's lock: it is tried once, and when another process holds it the
notes stay in memory for the next try; a process about to exit appends them instead to a spool
file beside the store (``store.usage-spool.jsonl``, one whole line per write, like the audit
trail), which the next change folds in. Counts are added to what the file holds inside the
lock, and forgotten only once written, so concurrent verifiers lose no count.

The counts live in the store's ``usage`` table, keyed by key id, apart from the key records
(which stay small, and whose ``revision`` usage never bumps)::

    "usage": {"key_…": {"days": {"2026-12-01": [valid, refused], …},
                        "seen": "2026-12-01T09:30:00Z", "origin": "https://…", "ip": "…"}}

Days older than :data:`KEEP_DAYS` are dropped. The key record's ``last_used_at`` is still set,
at most once a minute per key, for lists that sort by it.

The spool is folded by offset: the store's meta document remembers which spool file (its inode
and its first line's random id) was folded up to which byte, in the same write as the counts,
so a crash between the two never counts a line twice. A spool that was wholly folded by an
earlier write is removed under an exclusive ``flock``; appenders hold a shared one, and reopen
if the file they opened was removed meanwhile.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from .errors import StoreUnusable
from .models import Verdict, from_iso, to_iso
from .storage import StoreFile, Transaction

USAGE_TABLE = "usage"
SPOOL_STATE = "usage_spool"  # in the meta document: which spool was folded up to where
PRUNED_ON = "usage_pruned_on"  # in the meta document: the UTC day old days were last dropped
KEEP_DAYS = 90
FLUSH_INTERVAL = 60.0  # seconds between the writes a busy verifier makes
LAST_USED_INTERVAL = timedelta(seconds=60)  # a key record's last_used_at moves at most this often
SPOOL_READ_LIMIT = 64 * 1024 * 1024
SPOOL_LOCK_TRIES = 200  # × 1 ms: a remover holds the spool's flock for microseconds
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_COUNT_LIMIT = 10**15


def spool_path(store_path: Path) -> Path:
    """``store.json`` → ``store.usage-spool.jsonl`` in the same folder."""
    return store_path.with_name(store_path.stem + ".usage-spool.jsonl")


class UsageDay(BaseModel):
    """One UTC day of a key's answers."""

    date: str
    valid: int = 0
    refused: int = 0


class KeyUsage(BaseModel):
    """A key's usage over a window of days (every day present, zeros included), oldest first."""

    key_id: str
    days: list[UsageDay]
    valid: int
    refused: int
    last_used_at: str | None = None
    last_used_origin: str | None = None
    last_used_ip: str | None = None

    def public_dict(self) -> dict[str, Any]:
        """The shape of ``apikeys usage --json`` (SPEC §6)."""
        return {
            "key_id": self.key_id,
            "days": [day.model_dump() for day in self.days],
            "last_used_at": self.last_used_at,
            "last_used_origin": self.last_used_origin,
            "last_used_ip": self.last_used_ip,
        }


class Tally:
    """Usage of one key not yet written: counts per day and the last valid use."""

    __slots__ = ("days", "seen", "origin", "ip")

    def __init__(self) -> None:
        self.days: dict[str, list[int]] = {}  # UTC day → [valid, refused]
        self.seen: str | None = None  # the last valid use, ISO
        self.origin: str | None = None
        self.ip: str | None = None

    def copy(self) -> Tally:
        """An independent copy."""
        other = Tally()
        other.days = {day: list(counts) for day, counts in self.days.items()}
        other.seen, other.origin, other.ip = self.seen, self.origin, self.ip
        return other

    def add(self, other: Tally) -> None:
        """Add ``other``'s counts; its last use wins if it is not older."""
        for day, (valid, refused) in other.days.items():
            counts = self.days.get(day)
            if counts is None:
                self.days[day] = [valid, refused]
            else:
                counts[0] += valid
                counts[1] += refused
        if other.seen is not None and (self.seen is None or other.seen >= self.seen):
            self.seen, self.origin, self.ip = other.seen, other.origin, other.ip

    def is_empty(self) -> bool:
        """Nothing counted and no use seen."""
        return not self.days and self.seen is None

    def as_stored(self) -> dict[str, Any]:
        """The table entry (and spool) form, without empty fields."""
        stored: dict[str, Any] = {"days": {day: list(counts) for day, counts in sorted(self.days.items())}}
        for field in ("seen", "origin", "ip"):
            value = getattr(self, field)
            if value is not None:
                stored[field] = value
        return stored

    @classmethod
    def from_stored(cls, raw: Any) -> Tally:
        """A tally from the file, which anyone in the group may have edited: what does not
        read as counts, days and times is left out, never trusted."""
        tally = cls()
        if not isinstance(raw, dict):
            return tally
        days = raw.get("days")
        if isinstance(days, dict):
            for day, counts in days.items():
                if (
                    isinstance(day, str) and _DAY.fullmatch(day) and isinstance(counts, list)
                    and len(counts) == 2
                    and all(type(n) is int and 0 <= n < _COUNT_LIMIT for n in counts)
                ):
                    tally.days[day] = [counts[0], counts[1]]
        seen = raw.get("seen")
        if isinstance(seen, str) and _MOMENT.fullmatch(seen):
            tally.seen = seen
            origin, ip = raw.get("origin"), raw.get("ip")
            tally.origin = origin if isinstance(origin, str) and len(origin) <= 300 else None
            tally.ip = ip if isinstance(ip, str) and len(ip) <= 64 else None
        return tally


class UsageRecorder:
    """Notes each verify answer in memory and writes the notes in batches, never waiting.

    Owned by a :class:`~store.repository.Repository`: ``now`` is its clock (ISO), ``guard`` its
    lock, which a change of this process holds while it waits for the store's: a flush that
    finds it busy keeps its notes rather than wait.
    """

    def __init__(self, storage: StoreFile, guard: threading.RLock, now: Callable[[], str]) -> None:
        self.storage = storage
        self._now = now
        self.spool_path = spool_path(storage.path)
        self._guard = guard
        self._notes_lock = threading.Lock()
        self._pending: dict[str, Tally] = {}
        self._threshold_for = self._threshold = ""
        self.flush_interval = FLUSH_INTERVAL
        # When (time.monotonic()) a verify next writes the batch: at once for a new process.
        self.next_flush_at = 0.0

    # -- noting (the verify path: memory only) ----------------------------------------------

    def note(self, verdict: Verdict, now: str, origin: str | None, ip: str | None) -> None:
        """Count one answer of verify at the ISO time ``now``; write the batch when due."""
        key_id = verdict.key_id
        if key_id is None:
            return  # malformed or unknown: no key to count it against
        with self._notes_lock:
            tally = self._pending.get(key_id)
            if tally is None:
                tally = self._pending[key_id] = Tally()
            counts = tally.days.get(now[:10])
            if counts is None:
                counts = tally.days[now[:10]] = [0, 0]
            if verdict.valid:
                counts[0] += 1
                tally.seen, tally.origin, tally.ip = now, origin, ip
            else:
                counts[1] += 1
        if time.monotonic() >= self.next_flush_at:
            self.flush(spool=False)

    def pending(self) -> dict[str, Tally]:
        """A copy of the notes not written yet (key id → tally)."""
        with self._notes_lock:
            return {key_id: tally.copy() for key_id, tally in self._pending.items()}

    # -- writing ----------------------------------------------------------------------------

    def flush(self, *, spool: bool = True) -> bool:
        """Write the notes (and any spooled ones) in one transaction if the lock is free now.

        When it is not (another process is changing the store, or stopped while doing so),
        nothing waits: the notes stay noted, or with ``spool`` (a process about to exit) are
        appended to the spool file for the next change to fold in. Returns whether they were
        written to the store. Recording use never fails a verify: errors are swallowed.
        """
        self.next_flush_at = time.monotonic() + self.flush_interval
        with self._notes_lock:
            if not self._pending:
                return True
        if self._guard.acquire(blocking=False):
            try:
                with self.storage.transaction(timeout=0) as transaction:
                    self.apply(transaction)
                return True
            except (StoreUnusable, OSError):
                pass  # locked, read-only, full disk: keep the notes
            finally:
                self._guard.release()
        if spool:
            self.spool()
        return False

    def spool(self) -> bool:
        """Append the notes to the spool file as one line; forget them once appended."""
        snapshot = self.pending()
        if not snapshot:
            return True
        line = orjson.dumps({
            "id": secrets.token_hex(8),
            "usage": {key_id: tally.as_stored() for key_id, tally in snapshot.items()},
        }) + b"\n"
        try:
            appended = self._append_to_spool(line)
        except OSError:
            appended = False
        if appended:
            self._forget(snapshot)
        return appended

    def apply(self, transaction: Transaction) -> None:
        """Add the notes and the unfolded spool lines to the store, inside its lock.

        Called by every change (so a change also writes the usage noted before it) and by
        :meth:`flush`. The notes are forgotten only once the store is written.
        """
        snapshot = self.pending()
        meta = transaction.meta
        spooled, spool_state = self._read_spool(meta.get(SPOOL_STATE), fold=True)
        combined: dict[str, Tally] = {}
        for source in (spooled, snapshot):
            for key_id, tally in source.items():
                combined.setdefault(key_id, Tally()).add(tally)
        today = self._now()[:10]
        usage = transaction.data.get(USAGE_TABLE)
        if not isinstance(usage, dict):
            usage = None
        if combined:
            if usage is None:
                usage = transaction.data[USAGE_TABLE] = {}
            oldest = _oldest_kept(today)
            for key_id, tally in combined.items():
                record = transaction.keys.get(key_id)
                if not isinstance(record, dict):
                    continue  # a key that is not in the store (a spool planted or stale)
                entry = Tally.from_stored(usage.get(key_id))
                entry.add(tally)
                entry.days = {day: counts for day, counts in entry.days.items() if day >= oldest}
                usage[key_id] = entry.as_stored()  # a new dict: readers may hold the old one
                if tally.seen is not None and self._last_used_is_stale(record, tally.seen):
                    # No revision bump: use is not an edit.
                    transaction.keys[key_id] = {**record, "last_used_at": tally.seen}
            transaction.changed()
        if spool_state is not None:
            meta[SPOOL_STATE] = spool_state
            transaction.changed()
        if transaction.dirty and usage is not None and meta.get(PRUNED_ON) != today:
            _prune(usage, _oldest_kept(today))
            meta[PRUNED_ON] = today
        if not snapshot:
            return
        if transaction.dirty:
            transaction.after_write.append(lambda: self._forget(snapshot))
        else:
            self._forget(snapshot)  # only keys the store does not hold: nothing to write

    def _last_used_is_stale(self, record: dict[str, Any], seen: str) -> bool:
        stored = record.get("last_used_at")
        if not isinstance(stored, str):
            return True
        if self._threshold_for != seen:
            self._threshold_for = seen
            self._threshold = to_iso(from_iso(seen) - LAST_USED_INTERVAL)
        return stored <= self._threshold

    def _forget(self, written: dict[str, Tally]) -> None:
        """Subtract what was written (or spooled) from the notes; newer notes stay."""
        with self._notes_lock:
            for key_id, done in written.items():
                tally = self._pending.get(key_id)
                if tally is None:
                    continue
                for day, (valid, refused) in done.days.items():
                    counts = tally.days.get(day)
                    if counts is None:
                        continue
                    counts[0] -= valid
                    counts[1] -= refused
                    if counts == [0, 0]:
                        del tally.days[day]
                if tally.seen == done.seen:
                    tally.seen = tally.origin = tally.ip = None
                if tally.is_empty():
                    del self._pending[key_id]

    # -- reading ----------------------------------------------------------------------------

    def usage_of(
        self, data: dict[str, Any], key_id: str, record: dict[str, Any], days: int, today: date
    ) -> KeyUsage:
        """A key's usage over the ``days`` UTC days up to ``today``: what the store holds, the
        spooled lines not folded yet and this process's notes not written yet."""
        table = data.get(USAGE_TABLE)
        tally = Tally.from_stored(table.get(key_id) if isinstance(table, dict) else None)
        spooled, _ = self._read_spool(data["_meta"]["1"].get(SPOOL_STATE), fold=False)
        for extra in (spooled.get(key_id), self.pending().get(key_id)):
            if extra is not None:
                tally.add(extra)
        window = [(today - timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]
        listed = [UsageDay(date=day, valid=tally.days.get(day, [0, 0])[0],
                           refused=tally.days.get(day, [0, 0])[1]) for day in window]
        stored_last = record.get("last_used_at") if isinstance(record.get("last_used_at"), str) else None
        last_used = max(filter(None, (stored_last, tally.seen)), default=None)
        return KeyUsage(
            key_id=key_id, days=listed,
            valid=sum(day.valid for day in listed), refused=sum(day.refused for day in listed),
            last_used_at=last_used, last_used_origin=tally.origin, last_used_ip=tally.ip,
        )

    # -- the spool file ---------------------------------------------------------------------

    def _read_spool(self, state: Any, *, fold: bool) -> tuple[dict[str, Tally], dict[str, Any] | None]:
        """The spooled tallies past the folded offset, and the new fold state (None: unchanged).

        With ``fold`` (inside the store's lock), a spool that an earlier write folded wholly is
        removed, so the file stays small.
        """
        try:
            fd = os.open(self.spool_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return {}, None  # none, or not a file we follow (a planted symlink)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return {}, None
            raw = _read_up_to(fd, SPOOL_READ_LIMIT)
            complete = raw[: raw.rfind(b"\n") + 1]
            if not complete:
                return {}, None
            first_id = _line_id(complete[: complete.find(b"\n")])
            start = 0
            if (
                isinstance(state, dict) and state.get("inode") == info.st_ino
                and state.get("first") == first_id and type(state.get("offset")) is int
                and 0 <= state["offset"] <= len(complete)
            ):
                start = state["offset"]
            if start == len(complete):
                if fold and len(complete) == len(raw):
                    self._remove_folded_spool(fd, info, len(raw))
                return {}, None
            tallies: dict[str, Tally] = {}
            for line in complete[start:].splitlines():
                for key_id, tally in _line_tallies(line).items():
                    tallies.setdefault(key_id, Tally()).add(tally)
            return tallies, {"inode": info.st_ino, "first": first_id, "offset": len(complete)}
        finally:
            os.close(fd)

    def _remove_folded_spool(self, fd: int, info: os.stat_result, size: int) -> None:
        """Remove a spool whose every line is in the store already, unless someone is appending."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # an appender is writing: remove it another time
        try:
            if os.fstat(fd).st_size == size and os.lstat(self.spool_path).st_ino == info.st_ino:
                os.unlink(self.spool_path)
        except OSError:
            pass
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _append_to_spool(self, line: bytes) -> bool:
        """One whole line appended with ``O_APPEND|O_NOFOLLOW``; the file gets the store's mode
        and group. Returns False when there is no regular spool file to append to."""
        mode, gid = self.storage.file_mode_and_group()
        flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        for _ in range(5):
            try:
                fd = os.open(self.spool_path, flags | os.O_CREAT | os.O_EXCL, mode)
                created = True
            except FileExistsError:
                try:
                    fd = os.open(self.spool_path, flags)
                except FileNotFoundError:
                    continue  # removed between the two opens: create it
                created = False
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    return False
                if created:
                    os.fchmod(fd, mode)  # never the umask's
                    if gid != os.getegid():
                        os.fchown(fd, -1, gid)
                _shared_lock(fd)
                if os.lstat(self.spool_path).st_ino != info.st_ino:
                    continue  # folded and removed while we opened it: append to the new one
                written = os.write(fd, line)  # one write with O_APPEND: lines never interleave
                if written != len(line):
                    os.write(fd, b"\n")  # end a torn line (full disk) so it hides no later line
                    return False
                return True
            finally:
                os.close(fd)
        return False


def _shared_lock(fd: int) -> None:
    """Hold the spool's shared flock while appending (a remover needs it exclusively)."""
    for _ in range(SPOOL_LOCK_TRIES):
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                return
        time.sleep(0.001)


def _read_up_to(fd: int, limit: int) -> bytes:
    chunks = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(1 << 20, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _line_id(line: bytes) -> str | None:
    try:
        parsed = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    value = parsed.get("id") if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else None


def _line_tallies(line: bytes) -> dict[str, Tally]:
    try:
        parsed = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {}  # a torn or hand-made line: skipped
    usage = parsed.get("usage") if isinstance(parsed, dict) else None
    if not isinstance(usage, dict):
        return {}
    return {key_id: Tally.from_stored(raw) for key_id, raw in usage.items() if isinstance(key_id, str)}


def _oldest_kept(today: str) -> str:
    return (date.fromisoformat(today) - timedelta(days=KEEP_DAYS - 1)).isoformat()


def _prune(usage: dict[str, Any], oldest: str) -> None:
    """Drop the days before ``oldest`` from every key (once a day, with a write)."""
    for key_id, raw in list(usage.items()):
        tally = Tally.from_stored(raw)
        kept = {day: counts for day, counts in tally.days.items() if day >= oldest}
        if len(kept) != len(tally.days) or not isinstance(raw, dict) or raw != tally.as_stored():
            tally.days = kept
            if tally.is_empty():
                del usage[key_id]
            else:
                usage[key_id] = tally.as_stored()



class DatabaseUsageRecorder:
    """Usage on PostgreSQL: verify notes answers in memory (as :class:`UsageRecorder` does)
    and a flush writes them with one upsert of per-day counters (``backend.add_usage``) and
    one ``UPDATE … FROM`` of last-used times (``backend.note_last_used``), neither waiting for a
    writer. A flush that fails keeps the notes for the next one; there is no spool file: the
    database takes the counts from every host at once."""

    def __init__(self, backend: Any, now: Callable[[], str]) -> None:
        self.backend = backend
        self._now = now
        self._notes = UsageRecorder.__new__(UsageRecorder)  # its in-memory notes only
        self._notes._notes_lock = threading.Lock()
        self._notes._pending = {}
        self.flush_interval = FLUSH_INTERVAL
        self.next_flush_at = 0.0

    def note(self, verdict: Verdict, now: str, origin: str | None, ip: str | None) -> None:
        """Count one answer of verify; write the batch when due."""
        self._notes.next_flush_at = float("inf")  # the notes' own flush never runs
        self._notes.note(verdict, now, origin, ip)
        if time.monotonic() >= self.next_flush_at:
            self.flush(spool=False)

    def pending(self) -> dict[str, Tally]:
        """A copy of the notes not written yet (key id → tally)."""
        return self._notes.pending()

    def flush(self, *, spool: bool = True) -> bool:
        """Write the notes now; False (notes kept) if the database could not take them."""
        from .backend import UsageCount

        self.next_flush_at = time.monotonic() + self.flush_interval
        snapshot = self.pending()
        if not snapshot:
            return True
        counts = []
        for key_id, tally in snapshot.items():
            for day, (valid, refused) in sorted(tally.days.items()):
                seen_today = tally.seen is not None and tally.seen[:10] == day
                counts.append(UsageCount(
                    key_id, day, valid, refused,
                    tally.origin if seen_today else None, tally.ip if seen_today else None,
                ))
        try:
            self.backend.add_usage(counts)
            counted = {key_id: Tally() for key_id in snapshot}
            for key_id, tally in snapshot.items():
                counted[key_id].days = tally.days
            self._notes._forget(counted)
            seen = {key_id: tally.seen for key_id, tally in snapshot.items() if tally.seen is not None}
            written = self.backend.note_last_used(seen) if seen else set()
        except StoreUnusable:
            return False
        done = {key_id: Tally() for key_id in written}
        for key_id in written:
            done[key_id].seen = snapshot[key_id].seen
        self._notes._forget(done)
        return True

    def apply(self, transaction: Any) -> None:
        """Nothing to fold into a change: the counters have their own table."""

    def usage_of(
        self, data: Any, key_id: str, record: dict[str, Any], days: int, today: date
    ) -> KeyUsage:
        """A key's usage over the ``days`` UTC days up to ``today``: the stored counters plus
        this process's notes not written yet."""
        since = (today - timedelta(days=days - 1)).isoformat()
        tally = Tally()
        origin = ip = None
        for row in self.backend.usage(key_id, since):
            tally.days[row.day] = [row.valid, row.refused]
            if row.last_origin is not None or row.last_ip is not None:
                origin, ip = row.last_origin, row.last_ip
        stored_last = record.get("last_used_at") if isinstance(record.get("last_used_at"), str) else None
        tally.seen, tally.origin, tally.ip = stored_last, origin, ip
        extra = self.pending().get(key_id)
        if extra is not None:
            tally.add(extra)
        window = [(today - timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]
        listed = [UsageDay(date=day, valid=tally.days.get(day, [0, 0])[0],
                           refused=tally.days.get(day, [0, 0])[1]) for day in window]
        return KeyUsage(
            key_id=key_id, days=listed,
            valid=sum(day.valid for day in listed), refused=sum(day.refused for day in listed),
            last_used_at=tally.seen, last_used_origin=tally.origin, last_used_ip=tally.ip,
        )
