"""The backend interface: what the :class:`~store.repository.Repository` sits on.

The repository keeps the rules, validation, audit wording and verify logic, written once. A
backend keeps rows, transactions, windows and change notices. Two backends implement it:
:class:`store.backends.file.FileBackend` (today's :class:`~store.storage.StoreFile` and
:class:`~store.audit.AuditLog`, moved behind it) and
:class:`store.backends.postgres.PostgresBackend` (psycopg 3). :func:`store.backends.open_backend`
picks one from the store string: a path is the file store, ``postgresql://…`` (or any libpq
conninfo starting ``postgresql:``/``postgres:``) is PostgreSQL.

Records are the plain dicts the file store has always held (``{"id": …, "name": …,
"revision": …}``, timestamps as ISO text); a backend returns and accepts exactly those, so the
repository's code is the same over both.

How each guarantee of SPEC §3–4 is kept
----------------------------------------
==========================  ========================================  ========================================
Guarantee                   File backend                              PostgreSQL backend
==========================  ========================================  ========================================
One change is all or        lock file (``flock``), re-read, temp      one database transaction per change
nothing                     file, fsync, ``os.replace``               (``BEGIN`` … ``COMMIT``; any error rolls
                                                                      back)
Changes serialised, none    the inter-process lock around re-read     row locks: every record read inside a
lost                        and write                                 change is read ``FOR UPDATE`` (members
                                                                      ``FOR SHARE`` unless changed), so two
                                                                      changes of one key queue; writes also
                                                                      say ``WHERE revision =`` the revision
                                                                      read (belt and braces)
Lost updates between        ``revision`` compared by the repository   the same ``revision`` compare in the
people                      inside the lock (``Conflict``)            repository; the row lock makes it exact
Audit never lost or         events travel in the store file           audit rows are inserted in the change's
orphaned                    (``audit_pending``) and are appended      own transaction: both commit or neither
                            inside the lock; a crash between replace
                            and append is repaired by the next
                            change
A crash / kill -9           old or new file, never torn; stale temp   the server rolls back the dead session's
mid-change                  files removed on open                     transaction: neither the change nor its
                                                                      audit
Reads never take the lock   parse cached against (inode, size,        MVCC: plain ``SELECT`` in autocommit
                            mtime, ctime); one stat to see a change   never waits for a writer's row locks
Verify never waits on       dict lookup by hash in the cached parse;  one indexed lookup by ``secret_hash``
writers                     usage noted only when the lock is free    (unique index; ``previous_secret_hash``
                            at once                                   index for a roll's grace) in autocommit;
                                                                      last-used and usage written with ``SKIP
                                                                      LOCKED`` / ``lock_timeout``, kept for
                                                                      later otherwise
Usage batched, no write     pending last-used times written in one    ``UPDATE … FROM (VALUES …)`` for
storm                       transaction at most once a minute         last-used, ``INSERT … ON CONFLICT DO
                                                                      UPDATE`` for the per-day counters, one
                                                                      statement per batch
Schema version, forward     ``schema_version`` in the meta document;  ``schema_version`` table; migrations run
migrations                  an unknown version is refused, never      once in order under
                            overwritten                               ``pg_advisory_xact_lock`` when an older
                                                                      schema is opened; a newer one refused
Identity                    the OS account of the effective uid       ``session_user``: the role the server
                            (``pwd``), never ``$USER``                authenticated; members are database
                                                                      roles in the store's group role
                                                                      (``GRANT``/``REVOKE``)
Who can touch the data at   file mode 0600/0660 and the group         table privileges granted to the group
all                                                                   role only; audit is ``SELECT, INSERT``
                                                                      (members cannot rewrite it); no
                                                                      ``DELETE`` on keys
Live view                   ``change_marker()``: one stat             ``change_marker()``: one sequence read;
                                                                      ``NOTIFY apikeys_changes`` in every
                                                                      change, :class:`ChangeListener` on its
                                                                      own connection
Windows of keys             sorted positions and pre-folded search    indexed ``ORDER BY … LIMIT/OFFSET`` (or
                            texts in memory, per file generation      keyset ``after``) per sort; ``pg_trgm``
                                                                      GIN index on the folded search text
                                                                      where the extension exists, the same
                                                                      ``LIKE`` without it (a sequential scan,
                                                                      still correct)
Hand-edited / planted data  every record checked when read            types and constraints in the schema; the
                                                                      repository still checks every record it
                                                                      uses
==========================  ========================================  ========================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .models import AuditEvent

Record = dict[str, Any]

SCOPES_IN_ORDER = ("web", "mobile", "analytics")  # the order of the ``scope`` sort


class KeySort(StrEnum):
    """The orders the key list can be sorted in; ties are broken newest stored first."""

    CREATED_DESC = "created_desc"
    CREATED_ASC = "created_asc"
    SCOPE = "scope"  # web, mobile, analytics (then anything else), newest first within each
    LAST_USED = "last_used"  # most recently used first, never-used last, then newest first


@dataclass(frozen=True)
class KeyQuery:
    """Which keys a window shows, and in what order.

    ``words`` are matched case-insensitively (``str.casefold``), every word somewhere in the
    key's :func:`search_text`. ``created_by`` limits the keys to one creator (a developer sees
    only their own); ``include_revoked=False`` hides revoked keys; ``scope`` and
    ``project_id`` narrow further (``project_id=""`` means All organization projects).

    As :mod:`store.find` matches (``apikeys list --find`` and the main filter), a key never
    used is also found by ``never``, ``used`` and ``unused``; with ``now`` (ISO) the status a
    word meets is the one shown at ``now`` (``expired`` rather than the stored ``active``).
    ``secret_hashes`` (the hashes of pasted secrets) keep only the key whose current or
    previous secret has every one of them; ``expiring`` (``(now, until)``) only the active
    keys that expire after ``now`` and no later than ``until``. The PostgreSQL backend
    honours these; the file store's lists go through :class:`store.find.KeyFinder` and the
    repository instead.
    """

    sort: KeySort = KeySort.CREATED_DESC
    words: tuple[str, ...] = ()
    created_by: str | None = None
    include_revoked: bool = True
    scope: str | None = None
    project_id: str | None = None
    # What the main screen's filter and its ``x`` add (the file store's finder does the same):
    secret_hashes: tuple[str, ...] = ()
    """Hashes of pasted secrets: only the key holding each one (also as its previous secret
    during a roll's grace), never matched as text."""
    expiring: tuple[str, str] | None = None
    """``(now, until)`` as ISO text: only active keys whose expiry lies after ``now`` and no
    later than ``until``."""
    now: str | None = None
    """When statuses are read for the words: ``expired`` finds active keys past their expiry
    (never-used keys are found by ``never`` and ``unused`` at any time)."""

    @staticmethod
    def words_of(text: str) -> tuple[str, ...]:
        """The filter words of what someone typed: folded, split on white space."""
        return tuple(text.casefold().split())


def search_text(record: Record, project_name: str) -> str:
    """The folded text the word filter looks in: name, id, key prefix, project name and id,
    scope, creator and stored status, one per line (so a word never spans two fields)."""
    return "\n".join((
        str(record.get("name", "")), str(record.get("id", "")), str(record.get("key_prefix", "")),
        project_name, str(record.get("project_id") or ""), str(record.get("scope", "")),
        str(record.get("created_by", "")), str(record.get("status", "")),
    )).casefold()


@dataclass(frozen=True)
class UsageCount:
    """Verifications of one key on one UTC day, to be added to the stored counters."""

    key_id: str
    day: str  # YYYY-MM-DD, UTC
    valid: int = 0
    refused: int = 0
    last_origin: str | None = None
    last_ip: str | None = None


class BackendTransaction(Protocol):
    """One change, all or nothing, as the repository sees it.

    ``keys``, ``projects`` and ``members`` behave as dicts of records. Reading a record inside
    the transaction reserves it for this change (file: the whole store is locked; PostgreSQL:
    the row is locked ``FOR UPDATE``), so what is read is what the change builds on. Assigning
    stores a new record (records are never changed in place); ``del`` removes a project or a
    member (keys are never deleted). Iterating ``keys`` is refused on PostgreSQL: look keys up
    by id (``in`` and ``get`` work) and list them through windows.

    ``data`` is the same four tables in the file layout (``{"_meta": {"1": meta}, "keys": …}``)
    for code written against the file store. Nothing is written unless :meth:`changed` was
    called; :meth:`record_events` makes the audit events part of the same change.
    """

    @property
    def dirty(self) -> bool:
        """Whether the change will be written (:meth:`changed` was called)."""
    @property
    def after_write(self) -> list[Callable[[], None]]:
        """Callbacks run once the change is written."""

    @property
    def keys(self) -> MutableMapping[str, Record]: ...
    @property
    def projects(self) -> MutableMapping[str, Record]: ...
    @property
    def members(self) -> MutableMapping[str, Record]: ...
    @property
    def meta(self) -> Record: ...
    @property
    def data(self) -> Mapping[str, Any]: ...

    def changed(self) -> None:
        """Mark the transaction as a change to be written when it ends."""

    def record_events(self, events: list[AuditEvent]) -> None:
        """Make ``events`` part of this change: stored with it or not at all."""


@runtime_checkable
class Backend(Protocol):
    """Rows, transactions, windows and change notices of one store."""

    #: ``"file"`` or ``"postgresql"``
    kind: str

    # -- the store itself ---------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether the store has been created (``init``)."""

    def create(
        self, meta: Record, owner: Record, events: list[AuditEvent], *, group: str | None = None
    ) -> bool:
        """Create the store with ``meta`` (organisation, created at/by), its first member and
        its first audit events; False (and nothing changed) if it exists. ``group`` is the
        file store's OS group; PostgreSQL makes its group role instead."""

    def schema_version(self) -> int:
        """The schema version of the store as opened (after any forward migration)."""

    def identity(self) -> str:
        """Who is acting, as the store authenticated them: the OS login (file) or
        ``session_user`` (PostgreSQL)."""

    def describe(self) -> str:
        """The store for messages: a path, or ``database NAME on HOST`` (never a password)."""

    def close(self) -> None:
        """Release files, connections and listeners."""

    # -- reading (never waits for a writer) ---------------------------------------------------
    def meta(self) -> Record:
        """The meta document: organisation, created at/by, policy, …"""

    def member(self, login: str) -> Record | None:
        """One member's record, or None."""

    def members(self) -> dict[str, Record]:
        """Every member, login → record."""

    def projects(self) -> dict[str, Record]:
        """Every project, id → record."""

    def key(self, key_id: str) -> Record | None:
        """One key's record, or None."""

    def key_by_hash(self, secret_hash: str) -> Record | None:
        """The key whose ``secret_hash`` (or, during a roll's grace, ``previous_secret_hash``)
        is ``secret_hash``; one indexed lookup that never waits for a writer."""

    def window(self, query: KeyQuery, offset: int, limit: int, *, after: str | None = None) -> list[Record]:
        """``limit`` keys of ``query`` from position ``offset`` (0-based), in its order; with
        ``after`` (a key id), from ``offset`` places past that key. Scroll with ``after``
        (keyset: constant cost); a large ``offset`` costs a scan of that many rows."""

    def count(self, query: KeyQuery, *, at_most: int | None = None) -> int:
        """How many keys ``query`` matches; with ``at_most``, no more than that (cheap: the
        count stops there)."""

    def position(self, query: KeyQuery, key_id: str) -> int | None:
        """Where ``key_id`` sits in ``query``'s order (to keep the cursor on it), or None."""

    def project_key_counts(self, *, created_by: str | None = None) -> dict[str | None, int]:
        """Keys not revoked per project id (None: All organization projects)."""

    def change_marker(self) -> object:
        """A cheap token that differs whenever any change has been committed since."""

    def listen(self) -> ChangeNotices | None:
        """Notices of other sessions' changes (PostgreSQL: ``LISTEN`` on a connection of its
        own); None where polling :meth:`change_marker` is the way (the file)."""

    # -- changing -------------------------------------------------------------------------------
    def transaction(self, *, timeout: float | None = None) -> AbstractContextManager[BackendTransaction]:
        """One change: commit when the body returns with the transaction marked changed,
        roll back otherwise. ``timeout`` bounds the wait for the file lock / a row lock."""

    def note_last_used(self, times: dict[str, str]) -> set[str]:
        """Store last-used times (key id → ISO) that are later than the stored ones, without
        waiting for a writer; return the ids written (the rest stay the caller's to retry)."""

    def add_usage(self, counts: Iterable[UsageCount]) -> None:
        """Add per-day verification counters (one upsert per batch)."""

    def usage(self, key_id: str, since_day: str) -> list[UsageCount]:
        """The per-day counters of one key from ``since_day`` on, oldest first."""

    # -- audit ----------------------------------------------------------------------------------
    def audit_records(self, key_id: str | None = None, *, visible_to: str | None = None) -> list[Record]:
        """Audit events as stored (``at, actor, action, key_id, detail``), oldest first: all,
        or one key's. ``visible_to=LOGIN`` keeps organisation events and events of keys that
        LOGIN created (what a developer may see)."""


@runtime_checkable
class ChangeNotices(Protocol):
    """Notices of other sessions' changes, for the live view."""

    def poll(self) -> list[str]:
        """The notices received so far (``"keys:ID,ID"``, ``"members"``, …); never blocks."""

    def wait(self, timeout: float) -> list[str]:
        """Block up to ``timeout`` seconds for the next notices."""

    def close(self) -> None:
        """Stop listening."""


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size`` (for batched statements)."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


__all__ = [
    "Backend", "BackendTransaction", "ChangeNotices", "KeyQuery", "KeySort", "Record",
    "SCOPES_IN_ORDER", "UsageCount", "chunks", "search_text",
]
