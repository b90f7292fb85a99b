"""The file backend: today's :class:`~store.storage.StoreFile` and :class:`~store.audit.AuditLog`
behind the :class:`~store.backend.Backend` interface, with as little change as possible.

Reads answer from the cached parse (one stat when nothing changed); windows sort and filter
the cached records in memory, once per file generation and order. A transaction is the
store file's locked transaction; its audit events travel in the file (``audit_pending``) and
are appended inside the lock once the file is written, as the repository did before.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..audit import AuditLog
from ..backend import SCOPES_IN_ORDER, KeyQuery, KeySort, Record, UsageCount, search_text
from ..storage import LOCK_TIMEOUT, StoreFile, Transaction, collector_paused, empty_tables

if TYPE_CHECKING:
    from ..models import AuditEvent


class FileTransaction:
    """A store file transaction plus the audit events that go with it."""

    def __init__(self, inner: Transaction, audit: AuditLog) -> None:
        self.inner = inner
        self._audit = audit

    keys = property(lambda self: self.inner.keys, doc="The keys table: key id → record.")
    projects = property(lambda self: self.inner.projects, doc="The projects table.")
    members = property(lambda self: self.inner.members, doc="The members table.")
    meta = property(lambda self: self.inner.meta, doc="The meta document.")
    data = property(lambda self: self.inner.data, doc="The parsed tables in the file layout.")

    @property
    def dirty(self) -> bool:
        """Whether the tables will be written."""
        return self.inner.dirty

    @property
    def after_write(self) -> list[Callable[[], None]]:
        """Callbacks run inside the lock once the file is written."""
        return self.inner.after_write

    def changed(self) -> None:
        """Have the tables written when the transaction ends."""
        self.inner.changed()

    def record_events(self, events: list[AuditEvent]) -> None:
        """Carry ``events`` in the file and append them to the trail once it is written: if
        this process dies in between, the next change appends them (``AuditLog.recover``)."""
        if not events:
            return
        transaction_id = secrets.token_hex(8)
        self.inner.meta["audit_pending"] = {
            "txn": transaction_id, "events": [event.model_dump() for event in events],
        }
        self.inner.after_write.append(lambda: self._audit.append(events, transaction_id))


class FileBackend:
    """One store file and its audit trail (see the module docstring)."""

    kind = "file"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.storage = StoreFile(path)
        self.audit = AuditLog(self.storage)
        self._orders: dict[tuple[int, KeySort, str | None, bool], list[Record]] = {}
        self._texts: tuple[int, dict[str, str]] | None = None
        self._hashes: tuple[int, dict[str, str]] | None = None

    @property
    def path(self) -> Path:
        """The store file."""
        return self.storage.path

    def describe(self) -> str:
        """The store file's path."""
        return str(self.path)

    def exists(self) -> bool:
        """Whether the store file exists."""
        return self.storage.exists()

    def create(
        self, meta: Record, owner: Record, events: list[AuditEvent], *, group: str | None = None
    ) -> bool:
        """Create the file (0600, or 0660 with ``group``) and append the first events."""
        data = empty_tables(meta)
        data["members"][owner["login"]] = owner
        created = self.storage.create(data, group=group)
        if created:
            self.audit.append(events)
        return created

    def schema_version(self) -> int:
        """The file's schema version (only the known one is ever opened)."""
        return int(self.storage.current()["_meta"]["1"]["schema_version"])

    def identity(self) -> str:
        """The OS account of the effective uid."""
        from ..repository import current_login

        return current_login()

    def close(self) -> None:
        """Release the cached parse."""
        self.storage.close()

    # -- reading ------------------------------------------------------------------------------

    def meta(self) -> Record:
        """The meta document."""
        return self.storage.current()["_meta"]["1"]

    def member(self, login: str) -> Record | None:
        """One member's record, or None."""
        return self.storage.current()["members"].get(login)

    def members(self) -> dict[str, Record]:
        """Every member, login → record."""
        return self.storage.current()["members"]

    def projects(self) -> dict[str, Record]:
        """Every project, id → record."""
        return self.storage.current()["projects"]

    def key(self, key_id: str) -> Record | None:
        """One key's record, or None."""
        return self.storage.current()["keys"].get(key_id)

    def key_by_hash(self, secret_hash: str) -> Record | None:
        """The key whose current or previous (roll grace) secret hash is ``secret_hash``,
        from a hash index built once per file generation."""
        data = self.storage.current()
        generation = self.storage.generation
        if self._hashes is None or self._hashes[0] != generation:
            index: dict[str, str] = {}
            for key_id, record in data["keys"].items():
                previous = record.get("previous_secret_hash")
                if isinstance(previous, str):
                    index[previous] = key_id
            for key_id, record in data["keys"].items():
                index[record.get("secret_hash")] = key_id  # a current hash wins over a previous one
            self._hashes = (generation, index)
        key_id = self._hashes[1].get(secret_hash)
        return data["keys"].get(key_id) if key_id else None

    def window(self, query: KeyQuery, offset: int, limit: int, *, after: str | None = None) -> list[Record]:
        """``limit`` keys of ``query`` from ``offset`` (or after the key ``after``)."""
        rows = self._matching(query)
        if after is not None:
            ids = [record["id"] for record in rows]
            offset = ids.index(after) + 1 + offset if after in ids else len(rows)
        return rows[max(0, offset):max(0, offset) + max(0, limit)]

    def count(self, query: KeyQuery, *, at_most: int | None = None) -> int:
        """How many keys ``query`` matches (at most ``at_most``)."""
        total = len(self._matching(query))
        return total if at_most is None else min(total, max(0, at_most))

    def position(self, query: KeyQuery, key_id: str) -> int | None:
        """Where ``key_id`` sits in ``query``'s order, or None."""
        for index, record in enumerate(self._matching(query)):
            if record["id"] == key_id:
                return index
        return None

    def project_key_counts(self, *, created_by: str | None = None) -> dict[str | None, int]:
        """Keys not revoked per project id."""
        counts: dict[str | None, int] = {}
        for record in self.storage.current()["keys"].values():
            if record.get("status") == "revoked":
                continue
            if created_by is not None and record.get("created_by") != created_by:
                continue
            counts[record.get("project_id")] = counts.get(record.get("project_id"), 0) + 1
        return counts

    def change_marker(self) -> object:
        """The file's identity (one stat)."""
        return self.storage.identity()

    def listen(self) -> None:
        """No notices for a file: the live view polls :meth:`change_marker` (one stat)."""
        return None

    def _matching(self, query: KeyQuery) -> list[Record]:
        data = self.storage.current()
        generation = self.storage.generation
        cache_key = (generation, query.sort, query.created_by, query.include_revoked)
        rows = self._orders.get(cache_key)
        if rows is None:
            self._orders = {k: v for k, v in self._orders.items() if k[0] == generation}
            records: Iterable[Record] = data["keys"].values()
            if query.created_by is not None:
                records = [r for r in records if r.get("created_by") == query.created_by]
            if not query.include_revoked:
                records = [r for r in records if r.get("status") != "revoked"]
            with collector_paused():
                rows = ordered(list(records), query.sort)
            self._orders[cache_key] = rows
        if query.scope is not None:
            rows = [r for r in rows if r.get("scope") == query.scope]
        if query.project_id is not None:
            wanted = query.project_id or None
            rows = [r for r in rows if r.get("project_id") == wanted]
        if query.words:
            texts = self._search_texts(data, generation)
            rows = [r for r in rows if all(word in texts[r["id"]] for word in query.words)]
        return rows

    def _search_texts(self, data: dict[str, Any], generation: int) -> dict[str, str]:
        if self._texts is None or self._texts[0] != generation:
            from ..repository import ALL_PROJECTS

            names = {pid: p.get("name", pid) for pid, p in data["projects"].items()}
            texts = {
                key_id: search_text(record, names.get(record.get("project_id"), record.get("project_id"))
                                    if record.get("project_id") else ALL_PROJECTS)
                for key_id, record in data["keys"].items()
            }
            self._texts = (generation, texts)
        return self._texts[1]

    # -- changing -----------------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, timeout: float | None = None) -> Iterator[FileTransaction]:
        """The store file's locked transaction; a crashed writer's audit events are appended
        first (``AuditLog.recover``)."""
        with self.storage.transaction(timeout=LOCK_TIMEOUT if timeout is None else timeout) as inner:
            self.audit.check()  # a planted audit file is refused before anything is written
            self.audit.recover(inner.meta.get("audit_pending"))
            yield FileTransaction(inner, self.audit)

    def note_last_used(self, times: dict[str, str]) -> set[str]:
        """Write later last-used times in one transaction if the lock is free soon."""
        from ..errors import StoreUnusable

        try:
            with self.storage.transaction(timeout=0.1) as transaction:
                for key_id, when in times.items():
                    record = transaction.keys.get(key_id)
                    if record is not None and (record.get("last_used_at") or "") < when:
                        transaction.keys[key_id] = {**record, "last_used_at": when}
                        transaction.changed()
        except StoreUnusable:
            return set()
        return set(times)

    def add_usage(self, counts: Iterable[UsageCount]) -> None:
        """Usage counters of the file store live in store/usage.py (usage-scan helper)."""
        raise NotImplementedError("file usage counters are kept by store/usage.py")

    def usage(self, key_id: str, since_day: str) -> list[UsageCount]:
        """See :meth:`add_usage`."""
        raise NotImplementedError("file usage counters are kept by store/usage.py")

    # -- audit --------------------------------------------------------------------------------

    def audit_records(self, key_id: str | None = None, *, visible_to: str | None = None) -> list[Record]:
        """Events oldest first, as the trail holds them."""
        records = self.audit.records()
        if key_id is not None:
            records = [r for r in records if r.get("key_id") == key_id]
        if visible_to is not None:
            keys = self.storage.current()["keys"]
            records = [
                r for r in records
                if r.get("key_id") is None or keys.get(r["key_id"], {}).get("created_by") == visible_to
            ]
        return records


def ordered(records: list[Record], sort: KeySort) -> list[Record]:
    """``records`` (in the order they were stored) in ``sort``'s order; ties newest stored
    first. The reference order both backends follow."""
    newest = sorted(reversed(records), key=lambda r: r["created_at"], reverse=True)
    if sort is KeySort.CREATED_DESC:
        return newest
    if sort is KeySort.CREATED_ASC:
        return newest[::-1]
    if sort is KeySort.SCOPE:
        rank: dict[str | None, int] = {scope: index for index, scope in enumerate(SCOPES_IN_ORDER)}
        return sorted(newest, key=lambda r: rank.get(r.get("scope"), len(rank)))
    return sorted(
        newest, key=lambda r: (r.get("last_used_at") is not None, r.get("last_used_at") or ""), reverse=True
    )
