"""The PostgreSQL backend (psycopg 3): the store as tables of one database.

* ``init`` (:meth:`PostgresBackend.create`) makes the schema, the store's group role
  (``apikeys_<database>_members``) and its privileges, all in one transaction under an
  advisory lock. Opening an older schema runs the missing forward migrations once, under the
  same advisory lock; a newer schema is refused.
* Each change is one database transaction (:class:`PostgresTransaction`): the records it
  reads are row-locked (keys ``FOR UPDATE``, members and projects ``FOR SHARE``), a key is
  written ``WHERE revision =`` the revision read, its audit rows are inserted in the same
  transaction, and ``NOTIFY apikeys_changes`` tells listening sessions what changed.
* Reads run in autocommit on their own connection: MVCC, so they never wait for a writer.
  Verify has a connection of its own too, so a long window query never delays it.
* Identity is ``session_user``; members are database roles. Adding a member grants the group
  role to that (existing) role, removing one revokes it; owners hold it with ADMIN OPTION so
  they can add members without a DBA.

Every psycopg error leaves here as a one-line :class:`~store.errors.StoreUnusable` naming the
database (never a password).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Literal

import orjson

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg import sql
except ImportError:  # pragma: no cover - the extra is not installed
    psycopg = None  # type: ignore[assignment]

from ..backend import SCOPES_IN_ORDER, KeyQuery, KeySort, Record, UsageCount, chunks, search_text
from ..errors import Conflict, InvalidInput, ReadCancelled, StoreUnusable
from ..models import AuditEvent
from .pg_schema import (
    GRANTS,
    KEY_COLUMNS,
    KEY_INDEXES,
    KEY_SELECT,
    MIGRATIONS,
    SCHEMA_V1,
    SCHEMA_VERSION,
    TRIGRAM_INDEX,
    TRIGRAM_VERSION,
    iso_text,
)

CHANNEL = "apikeys_changes"
ADVISORY_LOCK = 0x61706B79  # "apky": serialises init and migrations of one database
LOCK_TIMEOUT = 15.0  # seconds a change waits for another session's row lock
USAGE_LOCK_TIMEOUT = "100ms"  # a verify's usage write never waits longer than this
NOTICE_LIMIT = 7000  # bytes: NOTIFY payloads must stay under 8000
ROLES = ("owner", "support", "analytics", "developer")

def group_role_for(database: str) -> str:
    """The store's group role: ``apikeys_<database>_members`` (folded to a plain identifier)."""
    plain = re.sub(r"[^a-z0-9_]", "_", database.lower())
    return f"apikeys_{plain}"[:55] + "_members"


def _require_psycopg() -> None:
    if psycopg is None:
        raise StoreUnusable(
            "PostgreSQL stores need psycopg: install apikeys with the extra, "
            "`pip install 'apikeys[postgresql]'`"
        )


Doing = Literal["change", "read", "listen"]
"""What a connection was doing when it was lost (the error says what that means)."""


class PostgresBackend:
    """A store in one PostgreSQL database (see the module docstring)."""

    kind = "postgresql"

    def __init__(self, conninfo: str, *, connect_timeout: int = 10, background: bool = False) -> None:
        _require_psycopg()
        self.conninfo = conninfo
        self.connect_timeout = connect_timeout
        #: Counts a screen runs in the background (``Repository``'s counting backend): one
        #: core each, never the server's parallel workers, so they leave the other cores to
        #: the windows a keystroke reads and to everyone else's verifies.
        self.background = background
        self._connections: dict[str, Any] = {}
        # "count": a background backend's exact counts, on a connection of their own, so a
        # cancel sent to it (cancel_counts) can only ever stop a count.
        self._locks = {purpose: threading.RLock() for purpose in ("read", "count", "verify", "write")}
        self._checked = False
        self._place: str | None = None
        self._identity: str | None = None
        self._superuser = False
        self.has_trigram: bool | None = None
        self._cancel_requested = threading.Event()

    def __repr__(self) -> str:
        return f"PostgresBackend({self.describe()!r})"

    # -- connections --------------------------------------------------------------------------

    def describe(self) -> str:
        """``database NAME on HOST`` (from the parsed conninfo: never the password)."""
        if self._place is None:
            try:
                params = psycopg.conninfo.conninfo_to_dict(self.conninfo)
            except psycopg.ProgrammingError:
                return "the PostgreSQL store (unreadable connection string)"
            database = params.get("dbname") or params.get("user") or "?"
            host = params.get("host") or "the local socket"
            self._place = f"database {database} on {host}"
        return self._place

    def _connect(self, *, autocommit: bool) -> Any:
        try:
            connection = psycopg.connect(
                self.conninfo, autocommit=autocommit, connect_timeout=self.connect_timeout,
                application_name="apikeys",
            )
        except psycopg.Error as error:
            raise StoreUnusable(f"cannot connect to {self.describe()}: {_first_line(error)}") from None
        if self.background:
            try:
                connection.execute("SET max_parallel_workers_per_gather = 0")
            except psycopg.Error as error:
                connection.close()
                raise StoreUnusable(f"cannot connect to {self.describe()}: {_first_line(error)}") from None
        return connection

    @contextmanager
    def _connection(self, purpose: str, *, changing: bool | None = None) -> Iterator[Any]:
        """The connection for ``purpose`` (read, verify, write), opened once and reused;
        a connection that broke is dropped so the next call opens a new one. A lost
        connection is said as a failed read, or with ``changing`` (default: on the write
        connection) as a change that was not made."""
        doing: Doing = "change" if (purpose == "write" if changing is None else changing) else "read"
        with self._locks[purpose]:
            connection = self._connections.get(purpose)
            if connection is None or connection.closed:
                connection = self._connect(autocommit=purpose != "write")
                if not self._checked and purpose != "write":
                    try:
                        with self._errors(doing=doing):
                            self._check_schema(connection)
                    except BaseException:
                        connection.close()
                        raise
                self._connections[purpose] = connection
            try:
                with self._errors(doing=doing):
                    yield connection
            finally:
                if purpose == "count":
                    self._cancel_requested.clear()
                if connection.broken:
                    self._connections.pop(purpose, None)

    @contextmanager
    def _errors(self, *, doing: Doing = "change") -> Iterator[None]:
        """Database errors as the store's: a lost connection during a ``change`` says the
        change was not made, during a ``read`` that the read failed, while listening only
        that the connection was lost."""
        try:
            yield
        except psycopg.errors.InsufficientPrivilege:
            raise StoreUnusable(
                f"{self.describe()}: permission denied for this database role; an owner adds "
                "members with `apikeys members add ROLE`"
            ) from None
        except psycopg.errors.LockNotAvailable:
            raise StoreUnusable(
                f"{self.describe()}: another session has held the key for {LOCK_TIMEOUT:.0f} s: "
                "try again, or check for a stuck session"
            ) from None
        except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
            raise StoreUnusable(
                f"{self.describe()}: another change ran at the same moment; nothing was changed: try again"
            ) from None
        except psycopg.errors.QueryCanceled as error:
            if self._cancel_requested.is_set():
                raise ReadCancelled(f"{self.describe()}: a read was cancelled") from None
            raise StoreUnusable(_cancelled(self.describe(), _first_line(error), doing)) from None
        except psycopg.OperationalError as error:
            raise StoreUnusable(_lost_connection(self.describe(), _first_line(error), doing)) from None
        except psycopg.Error as error:
            raise StoreUnusable(f"{self.describe()}: {_first_line(error)}") from None

    def cancel_counts(self) -> None:
        """Cancel the exact count running now on a background backend's count connection,
        from any thread (its caller gets :class:`ReadCancelled`; the connection stays
        usable). For a count that a newer filter made pointless: left running, it would keep
        the server's cores from the next keystroke's window."""
        connection = self._connections.get("count")
        if connection is None or connection.closed:
            return
        self._cancel_requested.set()
        try:
            getattr(connection, "cancel_safe", connection.cancel)()
        except psycopg.Error:
            pass  # the connection went meanwhile: nothing runs on it to cancel

    def close(self) -> None:
        """Close every connection of this backend."""
        for purpose, lock in self._locks.items():
            with lock:
                connection = self._connections.pop(purpose, None)
                if connection is not None:
                    connection.close()

    # -- schema -------------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether ``init`` has made the schema in this database."""
        connection = self._connect(autocommit=True)
        try:
            with self._errors(doing="read"):
                return _stored_version(connection) is not None
        finally:
            connection.close()

    def schema_version(self) -> int:
        """The schema version (after any forward migration opening ran)."""
        with self._connection("read") as connection:
            version = _stored_version(connection)
        if version is None:
            raise self._missing()
        return version

    def _missing(self) -> StoreUnusable:
        return StoreUnusable(f"no apikeys store in {self.describe()}: create one with `apikeys init`")

    def _check_schema(self, connection: Any) -> None:
        version = _stored_version(connection)
        if version is None:
            raise self._missing()
        if version > SCHEMA_VERSION:
            raise StoreUnusable(
                f"{self.describe()} has schema version {version}, but this apikeys knows only "
                f"version {SCHEMA_VERSION}: upgrade apikeys; nothing was changed"
            )
        if version < SCHEMA_VERSION:
            self.migrate()
        self._checked = True

    def migrate(self) -> list[int]:
        """Run the forward migrations the schema lacks, once, under the advisory lock;
        return the versions applied (empty if another session had already done it)."""
        connection = self._connect(autocommit=False)
        try:
            with self._errors(), connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK,))
                version = _stored_version(connection)
                if version is None:
                    raise self._missing()
                group = connection.execute("SELECT group_role FROM meta WHERE id = 1").fetchone()[0]
                applied = []
                for target in range(version + 1, SCHEMA_VERSION + 1):
                    try:
                        connection.execute(MIGRATIONS[target])
                    except psycopg.errors.InsufficientPrivilege:
                        raise StoreUnusable(
                            f"{self.describe()} has schema version {version}; this apikeys needs "
                            f"version {SCHEMA_VERSION}, which only the role that owns the tables "
                            "can make: have it open the store once"
                        ) from None
                    if target == TRIGRAM_VERSION and not _has_index(connection, TRIGRAM_INDEX[0]):
                        self.has_trigram = _try_trigram(connection)
                    _grant(connection, group, GRANTS.get(target, ()))
                    connection.execute("INSERT INTO schema_version (version) VALUES (%s)", (target,))
                    applied.append(target)
            return applied
        finally:
            connection.close()

    def create(
        self, meta: Record, owner: Record, events: list[AuditEvent], *,
        group: str | None = None, upto_version: int = SCHEMA_VERSION,
        populate: Callable[[PostgresTransaction], None] | None = None,
    ) -> bool:
        """Make the schema, the group role and its privileges, the meta row, the first member
        (who must be ``session_user``) and the first audit events, in one transaction; False
        if a store exists here. ``group`` (an OS group) means nothing to PostgreSQL and is
        refused; ``upto_version`` exists for the migration tests."""
        if group is not None:
            raise InvalidInput({"group": "--group is for file stores; a PostgreSQL store has its group role"})
        connection = self._connect(autocommit=False)
        try:
            with self._errors(), connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK,))
                if _stored_version(connection) is not None:
                    return False
                identity, superuser = connection.execute(
                    "SELECT session_user, rolsuper FROM pg_roles WHERE rolname = session_user"
                ).fetchone()
                # A superuser (whom the server lets do anything) may name the first owner.
                if owner.get("login") != identity and not superuser:
                    raise InvalidInput({"login": f"the first owner must be the connected role {identity!r}"})
                database = connection.execute("SELECT current_database()").fetchone()[0]
                group_role = group_role_for(database)
                connection.execute(SCHEMA_V1)
                for statement in KEY_INDEXES.values():
                    connection.execute(statement)
                self.has_trigram = _try_trigram(connection)
                _ensure_group_role(connection, group_role)
                _grant(connection, group_role, GRANTS[1])
                connection.execute("INSERT INTO schema_version (version) VALUES (1)")
                for target in range(2, upto_version + 1):
                    connection.execute(MIGRATIONS[target])
                    _grant(connection, group_role, GRANTS.get(target, ()))
                    connection.execute("INSERT INTO schema_version (version) VALUES (%s)", (target,))
                connection.execute(
                    "INSERT INTO meta (id, group_role, data) VALUES (1, %s, %s)",
                    (group_role, _json(meta)),
                )
                _insert_member(connection, group_role, owner)
                _insert_events(connection, events)
                if populate is not None:  # migrate: the whole store in this one transaction
                    filling = PostgresTransaction(connection)
                    populate(filling)
                    filling.finish()
                _notify(connection, "store")
            return True
        finally:
            connection.close()

    def identity(self) -> str:
        """The database role the server authenticated (``session_user``); asked once, and
        answered before the store exists (``init`` needs it)."""
        if self._identity is None:
            connection = self._connect(autocommit=True)
            try:
                with self._errors(doing="read"):
                    self._identity, self._superuser = connection.execute(
                        "SELECT session_user, rolsuper FROM pg_roles WHERE rolname = session_user"
                    ).fetchone()
            finally:
                connection.close()
        return self._identity

    def is_superuser(self) -> bool:
        """Whether the authenticated role is a superuser (whom the server lets do anything)."""
        self.identity()
        return bool(self._superuser)

    def role_exists(self, role: str) -> bool:
        """Whether a database role of that name exists (members are database roles)."""
        with self._connection("read") as connection:
            return _role_exists(connection, role)

    def snapshot(self) -> Mapping[str, Any]:
        """The store in the file layout (``_meta``, ``keys``, ``projects``, ``members``), each
        table read on first use, for read-only code written against the file store; keys are
        looked up by id (iterating them is refused: lists are windows)."""
        return _Snapshot(self)

    def group_role(self) -> str:
        """The store's group role (members are granted it)."""
        with self._connection("read") as connection:
            return connection.execute("SELECT group_role FROM meta WHERE id = 1").fetchone()[0]

    # -- reading ------------------------------------------------------------------------------

    def meta(self) -> Record:
        """The meta document."""
        with self._connection("read") as connection:
            row = connection.execute("SELECT data FROM meta WHERE id = 1").fetchone()
        return row[0] if row else {}

    def member(self, login: str) -> Record | None:
        """One member's record, or None."""
        with self._connection("read") as connection:
            row = connection.execute("SELECT data FROM members WHERE login = %s", (login,)).fetchone()
        return row[0] if row else None

    def members(self) -> dict[str, Record]:
        """Every member, login → record, by login."""
        with self._connection("read") as connection:
            rows = connection.execute("SELECT login, data FROM members ORDER BY login").fetchall()
        return dict(rows)

    def projects(self) -> dict[str, Record]:
        """Every project, id → record, in the order they were made."""
        with self._connection("read") as connection:
            rows = connection.execute(
                "SELECT id, data FROM projects ORDER BY data->>'created_at', id"
            ).fetchall()
        return dict(rows)

    def key(self, key_id: str) -> Record | None:
        """One key's record, or None."""
        with self._connection("read") as connection:
            row = connection.execute(f"SELECT {KEY_SELECT} FROM keys k WHERE k.id = %s", (key_id,)).fetchone()
        return _key_record(row) if row else None

    def key_by_hash(self, secret_hash: str) -> Record | None:
        """The key with this secret hash (or previous hash during a roll's grace): one index
        lookup on the verify connection, in autocommit, so it never waits for a writer."""
        with self._connection("verify") as connection:
            row = connection.execute(
                f"SELECT {KEY_SELECT} FROM keys k WHERE k.secret_hash = %s", (secret_hash,)
            ).fetchone()
            if row is None:
                row = connection.execute(
                    f"SELECT {KEY_SELECT} FROM keys k WHERE k.previous_secret_hash = %s LIMIT 1",
                    (secret_hash,),
                ).fetchone()
            if row is None:  # an older secret of a rolled key: refused as rolled, not unknown
                row = connection.execute(
                    f"SELECT {KEY_SELECT} FROM keys k WHERE k.extra -> 'retired_secret_hashes' ? %s LIMIT 1",
                    (secret_hash,),
                ).fetchone()
        return _key_record(row) if row else None

    def window(
        self, query: KeyQuery, offset: int, limit: int, *, after: str | None = None
    ) -> list[Record]:
        """``limit`` keys of ``query`` from position ``offset``; with ``after`` (a key id), from
        ``offset`` places past that key (keyset paging: the anchor's sort values bound an index
        scan, so a window deep down costs what one at the top does)."""
        where, params = _conditions(query)
        offset, limit = max(0, offset), max(0, limit)
        with self._connection("read") as connection:
            few = _matches_few(connection, query, where, params)
            if after is None:
                return _select_window(connection, query.sort, where, params, offset, limit, few=few)
            anchor = _anchor(connection, after)
            if anchor is None:
                return []
            rows: list[Record] = []
            for condition, values in _keyset(query.sort, anchor, after=True):
                wanted = offset + limit - len(rows)
                if wanted <= 0:
                    break
                rows += _select_window(
                    connection, query.sort, [*where, condition], [*params, *values], 0, wanted, few=few
                )
            return rows[offset:offset + limit]

    def count(self, query: KeyQuery, *, at_most: int | None = None) -> int:
        """How many keys ``query`` matches; with ``at_most``, counting stops there (a status
        line can say "10,000+" after a few ms instead of counting 500,000 matches)."""
        where, params = _conditions(query)
        purpose = "count" if at_most is None and self.background else "read"
        with self._connection(purpose) as connection:
            if at_most is None:
                return _count_rows(connection, where, params)
            statement = sql.SQL(
                "SELECT count(*) FROM (SELECT 1 FROM keys k {where} LIMIT %s) matches"
            ).format(where=_where(where))
            return int(connection.execute(statement, [*params, max(0, at_most)]).fetchone()[0])

    def position(self, query: KeyQuery, key_id: str) -> int | None:
        """How many keys of ``query`` come before ``key_id``; None if it is not among them."""
        where, params = _conditions(query)
        with self._connection("read") as connection:
            if not _count_rows(connection, [*where, sql.SQL("k.id = %s")], [*params, key_id]):
                return None
            anchor = _anchor(connection, key_id)
            if anchor is None:
                return None
            return sum(
                _count_rows(connection, [*where, condition], [*params, *values])
                for condition, values in _keyset(query.sort, anchor, after=False)
            )

    def expiring(self, query: KeyQuery, now: str, until: str) -> list[Record]:
        """The active keys of ``query`` whose expiry lies after ``now`` and no later than
        ``until``, soonest first (ties oldest first): a range of the ``keys_expiring`` index."""
        where, params = _expiring_conditions(query, now, until)
        statement = sql.SQL(
            "SELECT {columns} FROM keys k {where} ORDER BY k.expires_at, k.created_at, k.seq"
        ).format(columns=sql.SQL(KEY_SELECT), where=_where(where))
        with self._connection("read") as connection:
            rows = connection.execute(statement, params).fetchall()
        return [_key_record(row) for row in rows]

    def expiring_count(self, query: KeyQuery, now: str, until: str) -> int:
        """How many keys :meth:`expiring` lists (an index-only count)."""
        with self._connection("read") as connection:
            return _count_rows(connection, *_expiring_conditions(query, now, until))

    def lifetime_candidates(
        self, query: KeyQuery, now: str, limits: Mapping[str, int], *, rolled_only: bool = False,
        offset: int = 0, limit: int | None = None,
    ) -> list[Record]:
        """The keys of ``query`` that may break a maximum lifetime (scope → days), oldest
        first: active, not expired at ``now``, of a limited scope, and without an expiry,
        rolled, or expiring past creation + the limit. A superset: the repository's
        :func:`store.policy.violation` decides each, so the answer is the file store's.
        ``rolled_only`` keeps the rolled keys only (whose lifetime counts from the roll);
        ``offset`` and ``limit`` page through the candidates."""
        if not limits:
            return []
        where, params = _lifetime_conditions(query, now, limits, exact=False)
        if rolled_only:
            where.append(sql.SQL("k.extra ? 'rolled_at'"))
        statement = sql.SQL(
            "SELECT {columns} FROM keys k {where} ORDER BY {order} LIMIT %s OFFSET %s"
        ).format(
            columns=sql.SQL(KEY_SELECT), where=_where(where), order=sql.SQL(_ORDER[KeySort.CREATED_ASC]),
        )
        params += [limit, max(0, offset)]  # LIMIT NULL: no limit
        with self._connection("read") as connection:
            rows = connection.execute(statement, params).fetchall()
        return [_key_record(row) for row in rows]

    def unrolled_lifetime_breakers(self, query: KeyQuery, now: str, limits: Mapping[str, int]) -> int:
        """How many keys of ``query`` never rolled break a maximum lifetime (exact: their
        lifetime runs from creation); rolled ones are :meth:`lifetime_candidates`'."""
        if not limits:
            return 0
        where, params = _lifetime_conditions(query, now, limits, exact=True)
        where.append(sql.SQL("NOT (k.extra ? 'rolled_at')"))
        with self._connection("read") as connection:
            return _count_rows(connection, where, params)

    def project_key_counts(self, *, created_by: str | None = None) -> dict[str | None, int]:
        """Keys not revoked per project id (None: All organization projects)."""
        statement = "SELECT project_id, count(*) FROM keys WHERE status <> 'revoked'"
        params: list[Any] = []
        if created_by is not None:
            statement += " AND created_by = %s"
            params.append(created_by)
        with self._connection("read") as connection:
            return dict(connection.execute(statement + " GROUP BY project_id", params).fetchall())

    def change_marker(self) -> object:
        """A token that differs once any change committed (one sequence read, no lock)."""
        with self._connection("read") as connection:
            return connection.execute("SELECT last_value, is_called FROM change_seq").fetchone()

    def listen(self) -> ChangeListener:
        """A listener on its own connection for the live view."""
        self.schema_version()
        return ChangeListener(self)

    def window_reversed(
        self, query: KeyQuery, offset: int, limit: int, *, before: str | None = None
    ) -> list[Record]:
        """``limit`` keys of ``query`` counted from its end (or from just before the key
        ``before``), nearest first: the order read backwards, on the same indexes, so the last
        window of a million keys, or the one above a known window, costs what the first does."""
        where, params = _conditions(query)
        offset, limit = max(0, offset), max(0, limit)
        order = sql.SQL(_reversed_order(query.sort))
        with self._connection("read") as connection:
            if before is None:
                first = sql.SQL(
                    "SELECT {columns} FROM keys k {where} ORDER BY {order} LIMIT %s OFFSET %s"
                ).format(columns=sql.SQL(KEY_SELECT), where=_where(where), order=order)
                return [_key_record(row) for row in
                        connection.execute(first, [*params, limit, offset]).fetchall()]
            anchor = _anchor(connection, before)
            if anchor is None:
                return []
            rows: list[Record] = []
            # The conditions of the keys before the anchor, nearest part first.
            for condition, values in reversed(_preceding(query.sort, anchor)):
                wanted = offset + limit - len(rows)
                if wanted <= 0:
                    break
                statement = sql.SQL("SELECT {columns} FROM keys k {where} ORDER BY {order} LIMIT %s")
                rows += [_key_record(row) for row in connection.execute(statement.format(
                    columns=sql.SQL(KEY_SELECT), where=_where([*where, condition]), order=order),
                    [*params, *values, wanted]).fetchall()]
            return rows[offset:offset + limit]

    def matching_ids(self, query: KeyQuery, key_ids: Iterable[str]) -> set[str]:
        """Those of ``key_ids`` that ``query`` matches (one indexed lookup by id)."""
        where, params = _conditions(query)
        statement = sql.SQL("SELECT k.id FROM keys k {where}").format(
            where=_where([*where, sql.SQL("k.id = ANY(%s)")]))
        with self._connection("read") as connection:
            return {row[0] for row in connection.execute(statement, [*params, list(key_ids)]).fetchall()}

    # -- changing -----------------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, timeout: float | None = None) -> Iterator[PostgresTransaction]:
        """One change, committed when the body returns having called ``changed()``, rolled
        back otherwise; row locks are waited for at most ``timeout`` (default 15 s)."""
        wait = LOCK_TIMEOUT if timeout is None else timeout
        with self._connection("read"):
            pass  # the schema is checked (and migrated) before the first change
        with self._connection("write") as connection:
            with connection.transaction() as database_transaction:
                connection.execute(
                    sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{int(wait * 1000)}ms"))
                )
                transaction = PostgresTransaction(connection)
                yield transaction
                if transaction.dirty:
                    transaction.finish()
                else:
                    raise psycopg.Rollback(database_transaction)
            for callback in transaction.after_write if transaction.dirty else ():
                callback()

    def note_last_used(self, times: dict[str, str]) -> set[str]:
        """Store later last-used times without waiting: keys a change holds are skipped
        (``SKIP LOCKED``) and left out of the returned set, for the caller to retry."""
        if not times:
            return set()
        ids = list(times)
        with self._connection("verify", changing=True) as connection, connection.transaction():
            connection.execute(f"SET LOCAL lock_timeout = '{USAGE_LOCK_TIMEOUT}'")
            existing = {
                row[0] for row in connection.execute("SELECT id FROM keys WHERE id = ANY(%s)", (ids,))
            }
            locked = [row[0] for row in connection.execute(
                "SELECT id FROM keys WHERE id = ANY(%s) FOR UPDATE SKIP LOCKED", (ids,)
            )]
            if locked:
                connection.execute(
                    "UPDATE keys k SET last_used_at = v.at "
                    "FROM unnest(%s::text[], %s::timestamptz[]) v(id, at) "
                    "WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.at)",
                    (locked, [times[key_id] for key_id in locked]),
                )
                _notify(connection, "last_used")
        return set(locked) | (set(ids) - existing)

    def add_usage(self, counts: Iterable[UsageCount]) -> None:
        """Add per-day counters, one upsert statement per 1,000 rows."""
        with self._connection("verify", changing=True) as connection, connection.transaction():
            connection.execute(f"SET LOCAL lock_timeout = '{USAGE_LOCK_TIMEOUT}'")
            for batch in chunks(counts, 1000):
                connection.execute(
                    "INSERT INTO usage AS u (key_id, day, valid, refused, last_origin, last_ip) "
                    "SELECT * FROM unnest(%s::text[], %s::date[], %s::bigint[], %s::bigint[], "
                    "%s::text[], %s::text[]) "
                    "ON CONFLICT (key_id, day) DO UPDATE SET valid = u.valid + excluded.valid, "
                    "refused = u.refused + excluded.refused, "
                    "last_origin = coalesce(excluded.last_origin, u.last_origin), "
                    "last_ip = coalesce(excluded.last_ip, u.last_ip)",
                    [list(column) for column in zip(*(
                        (c.key_id, c.day, c.valid, c.refused, c.last_origin, c.last_ip) for c in batch
                    ), strict=True)],
                )

    def usage(self, key_id: str, since_day: str) -> list[UsageCount]:
        """The per-day counters of one key from ``since_day`` on, oldest first."""
        with self._connection("read") as connection:
            rows = connection.execute(
                "SELECT key_id, to_char(day, 'YYYY-MM-DD'), valid, refused, last_origin, last_ip "
                "FROM usage WHERE key_id = %s AND day >= %s ORDER BY day", (key_id, since_day),
            ).fetchall()
        return [UsageCount(*row) for row in rows]

    def all_usage(self) -> list[UsageCount]:
        """Every stored per-day counter (for ``migrate``), by key and day."""
        with self._connection("read") as connection:
            rows = connection.execute(
                "SELECT key_id, to_char(day, 'YYYY-MM-DD'), valid, refused, last_origin, last_ip "
                "FROM usage ORDER BY key_id, day"
            ).fetchall()
        return [UsageCount(*row) for row in rows]

    # -- audit --------------------------------------------------------------------------------

    def audit_records(
        self, key_id: str | None = None, *, visible_to: str | None = None, newest: int | None = None
    ) -> list[Record]:
        """Audit events oldest first: all, one key's, or those ``visible_to`` may see; with
        ``newest``, only the newest that many (a backward scan of the primary key)."""
        where: list[Any] = []
        params: list[Any] = []
        if key_id is not None:
            where.append(sql.SQL("a.key_id = %s"))
            params.append(key_id)
        if visible_to is not None:
            where.append(sql.SQL(
                "(a.key_id IS NULL OR EXISTS "
                "(SELECT 1 FROM keys k WHERE k.id = a.key_id AND k.created_by = %s))"
            ))
            params.append(visible_to)
        statement = sql.SQL(
            "SELECT {at}, a.actor, a.action, a.key_id, a.detail FROM audit a {where} "
            "ORDER BY a.id DESC LIMIT %s"
        ).format(at=sql.SQL(iso_text("a.at")), where=_where(where))
        with self._connection("read") as connection:
            rows = connection.execute(statement, [*params, newest]).fetchall()  # NULL: all
        return [{"at": at, "actor": actor, "action": action, "key_id": kid, "detail": detail}
                for at, actor, action, kid, detail in reversed(rows)]


class _Snapshot(Mapping[str, Any]):
    """A read-only view of the store in the file layout (see :meth:`PostgresBackend.snapshot`)."""

    NAMES = ("_meta", "keys", "projects", "members", "usage")

    def __init__(self, backend: PostgresBackend) -> None:
        self._backend = backend
        self._tables: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.NAMES:
            raise KeyError(name)
        if name not in self._tables:
            backend = self._backend
            if name == "_meta":
                self._tables[name] = {"1": backend.meta()}
            elif name == "keys":
                self._tables[name] = _KeyLookup(backend)
            elif name == "projects":
                self._tables[name] = backend.projects()
            elif name == "members":
                self._tables[name] = backend.members()
            else:
                self._tables[name] = {}  # usage lives in its own table: see backend.usage()
        return self._tables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.NAMES)

    def __len__(self) -> int:
        return len(self.NAMES)


class _KeyLookup(Mapping[str, Record]):
    """Keys by id, each read when asked (one indexed lookup, remembered). Never iterated:
    listing keys goes through windows (indexed SQL), not through every row; ``len()`` is an
    indexed count."""

    def __init__(self, backend: PostgresBackend) -> None:
        self._backend = backend
        self._seen: dict[str, Record | None] = {}

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self._seen:
            self._seen[key] = self._backend.key(key) if isinstance(key, str) else None
        found = self._seen[key]
        return default if found is None else found

    def __getitem__(self, key: str) -> Record:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        raise TypeError("the keys of a PostgreSQL store are read through windows, not all at once")

    def __len__(self) -> int:
        return self._backend.count(KeyQuery())


class ChangeListener:
    """``LISTEN apikeys_changes`` on a dedicated connection; the UI polls or waits on it."""

    def __init__(self, backend: PostgresBackend) -> None:
        self._backend = backend
        self._connection = backend._connect(autocommit=True)
        with backend._errors(doing="listen"):
            self._connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))

    def poll(self) -> list[str]:
        """Notices received so far; never blocks."""
        return self.wait(0)

    def wait(self, timeout: float) -> list[str]:
        """Notices within ``timeout`` seconds: returns at the first batch, or empty."""
        with self._backend._errors(doing="listen"):
            notices = [notice.payload for notice in self._connection.notifies(timeout=timeout, stop_after=1)]
            if notices:  # collect whatever else has already arrived
                notices += [notice.payload for notice in self._connection.notifies(timeout=0)]
        return notices

    def close(self) -> None:
        """Stop listening and close the connection."""
        self._connection.close()


# -- the transaction ------------------------------------------------------------------------


class PostgresTransaction:
    """One change in one database transaction (see :class:`store.backend.BackendTransaction`)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.dirty = False
        self.after_write: list[Callable[[], None]] = []
        self.keys = _KeyRows(self)
        self.projects = _ProjectRows(self)
        self.members = _MemberRows(self)
        self._meta: Record | None = None
        self._meta_before: bytes | None = None
        self._events: list[AuditEvent] = []
        self.notices: set[str] = set()
        self._group_role: str | None = None

    @property
    def meta(self) -> Record:
        """The meta document, locked for this change on first use."""
        if self._meta is None:
            row = self.connection.execute("SELECT data FROM meta WHERE id = 1 FOR UPDATE").fetchone()
            self._meta = row[0] if row else {}
            self._meta_before = _json(self._meta).encode()
        return self._meta

    @property
    def data(self) -> _Tables:
        """The tables in the file store's layout, for code written against it. The meta row
        is locked only when ``data["_meta"]`` is read: most changes never touch it, and
        locking it would queue every change behind every other."""
        return _Tables(self)

    @property
    def group_role(self) -> str:
        """The store's group role."""
        if self._group_role is None:
            row = self.connection.execute("SELECT group_role FROM meta WHERE id = 1").fetchone()
            self._group_role = row[0]
        return self._group_role

    def changed(self) -> None:
        """Commit this change when the transaction ends."""
        self.dirty = True

    def record_events(self, events: list[AuditEvent]) -> None:
        """Insert ``events`` with this change: they commit with it or not at all."""
        self._events.extend(events)

    def finish(self) -> None:
        """Write what is left (meta, audit), bump the change marker and notify; the caller commits."""
        if self._meta is not None and _json(self._meta).encode() != self._meta_before:
            self.connection.execute("UPDATE meta SET data = %s WHERE id = 1", (_json(self._meta),))
            self.notices.add("meta")
        _insert_events(self.connection, self._events)
        payload = ";".join(sorted(self.notices)) or "store"
        _notify(self.connection, payload if len(payload) <= NOTICE_LIMIT else "store")


class _Tables(Mapping[str, Any]):
    """``{"_meta": {"1": meta}, "keys": …, "projects": …, "members": …}``, each looked up on use."""

    NAMES = ("_meta", "keys", "projects", "members")

    def __init__(self, transaction: PostgresTransaction) -> None:
        self.transaction = transaction

    def __getitem__(self, name: str) -> Any:
        if name == "_meta":
            return {"1": self.transaction.meta}
        if name in self.NAMES:
            return getattr(self.transaction, name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.NAMES)

    def __len__(self) -> int:
        return len(self.NAMES)


class _Rows(MutableMapping[str, Record]):
    """Records of one table, read with a row lock on first use and written at once."""

    def __init__(self, transaction: PostgresTransaction) -> None:
        self.transaction = transaction
        self.connection = transaction.connection
        self._seen: dict[str, Record | None] = {}
        self._complete = False

    def _select(self, key: str) -> Record | None:
        raise NotImplementedError

    def _select_all(self) -> dict[str, Record]:
        raise NotImplementedError

    def _write(self, key: str, record: Record, before: Record | None) -> None:
        raise NotImplementedError

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self._seen:
            self._seen[key] = self._select(key)
        found = self._seen[key]
        return default if found is None else found

    def __getitem__(self, key: str) -> Record:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __setitem__(self, key: str, record: Record) -> None:
        before = self.get(key)
        self._write(key, record, before)
        self._seen[key] = record

    def __iter__(self) -> Iterator[str]:
        self._load_all()
        return iter([key for key, record in self._seen.items() if record is not None])

    def __len__(self) -> int:
        self._load_all()
        return sum(1 for record in self._seen.values() if record is not None)

    def _load_all(self) -> None:
        if not self._complete:
            for key, record in self._select_all().items():
                self._seen.setdefault(key, record)
            self._complete = True


class _KeyRows(_Rows):
    """Keys, locked ``FOR UPDATE`` when read; never iterated (use windows) nor deleted."""

    def _select(self, key: str) -> Record | None:
        row = self.connection.execute(
            f"SELECT {KEY_SELECT} FROM keys k WHERE k.id = %s FOR UPDATE", (key,)
        ).fetchone()
        return _key_record(row) if row else None

    def _select_all(self) -> dict[str, Record]:
        raise TypeError("the keys of a PostgreSQL store are read through windows, not all at once")

    def _write(self, key: str, record: Record, before: Record | None) -> None:
        if record.get("id") != key:
            raise InvalidInput({"id": f"a key record stored as {key!r} must have that id"})
        project_name = self._project_name(record.get("project_id"))
        values = _key_values(record, project_name)
        if before is None:
            columns = [*KEY_COLUMNS, "search_text", "extra"]
            self.connection.execute(
                sql.SQL("INSERT INTO keys ({}) VALUES ({})").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns)),
                    sql.SQL(", ").join(sql.Placeholder() * len(columns)),
                ),
                values,
            )
        else:
            assignments = sql.SQL(", ").join(
                sql.SQL("{} = %s").format(sql.Identifier(column))
                for column in [*KEY_COLUMNS[1:], "search_text", "extra"]
            )
            cursor = self.connection.execute(
                sql.SQL("UPDATE keys SET {} WHERE id = %s AND revision = %s").format(assignments),
                [*values[1:], key, int(before.get("revision") or 0)],
            )
            if cursor.rowcount != 1:
                raise Conflict(f"{key} was changed by someone else meanwhile: reload it and try again")
        self.transaction.notices.add(f"key:{key}")

    def _project_name(self, project_id: str | None) -> str:
        from ..repository import ALL_PROJECTS  # the repository's wording, read once per write

        if not project_id:
            return ALL_PROJECTS
        project = self.transaction.projects.get(project_id)
        return project.get("name", project_id) if project else project_id

    def __delitem__(self, key: str) -> None:
        raise TypeError("keys are never deleted: revoke them")


class _ProjectRows(_Rows):
    """Projects, locked ``FOR SHARE`` when read (a key being made keeps its project as read)."""

    def _select(self, key: str) -> Record | None:
        row = self.connection.execute("SELECT data FROM projects WHERE id = %s FOR SHARE", (key,)).fetchone()
        return row[0] if row else None

    def _select_all(self) -> dict[str, Record]:
        return dict(self.connection.execute(
            "SELECT id, data FROM projects ORDER BY data->>'created_at', id FOR SHARE"
        ).fetchall())

    def _write(self, key: str, record: Record, before: Record | None) -> None:
        self.connection.execute(
            "INSERT INTO projects (id, name, data) VALUES (%s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, data = excluded.data",
            (key, record.get("name", key), _json(record)),
        )
        if before is not None and before.get("name") != record.get("name"):
            # The word filter finds keys by project name: refold the texts of its keys.
            rows = self.connection.execute(
                f"SELECT {KEY_SELECT} FROM keys k WHERE k.project_id = %s", (key,)
            ).fetchall()
            for row in rows:
                stored = _key_record(row)
                self.connection.execute(
                    "UPDATE keys SET search_text = %s WHERE id = %s",
                    (search_text(stored, record.get("name", key)), stored["id"]),
                )
        self.transaction.notices.add("projects")

    def __delitem__(self, key: str) -> None:
        self.connection.execute("DELETE FROM projects WHERE id = %s", (key,))
        self._seen[key] = None
        self.transaction.notices.add("projects")


class _MemberRows(_Rows):
    """Members, locked ``FOR SHARE`` when read; adding one grants the store's group role to
    the database role of that name (which must exist), removing one revokes it."""

    def _select(self, key: str) -> Record | None:
        row = self.connection.execute(
            "SELECT data FROM members WHERE login = %s FOR SHARE", (key,)
        ).fetchone()
        return row[0] if row else None

    def _select_all(self) -> dict[str, Record]:
        return dict(self.connection.execute(
            "SELECT login, data FROM members ORDER BY login FOR SHARE"
        ).fetchall())

    def _write(self, key: str, record: Record, before: Record | None) -> None:
        if record.get("login") != key or record.get("role") not in ROLES:
            raise InvalidInput({
                "login": f"a member record stored as {key!r} must have that login and a role"
            })
        if not _role_exists(self.connection, key):
            raise InvalidInput({"login": (
                f"there is no database role {key!r}: members of a PostgreSQL store are database "
                f"roles; ask the DBA to create it (CREATE ROLE \"{key}\" LOGIN)"
            )})
        group_role = self.transaction.group_role
        if before is None:
            _insert_member(self.connection, group_role, record)
        else:
            self.connection.execute(
                "UPDATE members SET role = %s, data = %s WHERE login = %s",
                (record["role"], _json(record), key),
            )
            if (before.get("role") == "owner") != (record["role"] == "owner"):
                _grant_membership(self.connection, group_role, key, admin=record["role"] == "owner")
        self.transaction.notices.add("members")

    def __delitem__(self, key: str) -> None:
        if self.get(key) is None:
            raise KeyError(key)
        self.connection.execute("DELETE FROM members WHERE login = %s", (key,))
        if _role_exists(self.connection, key):
            self.connection.execute(sql.SQL("REVOKE {} FROM {}").format(
                sql.Identifier(self.transaction.group_role), sql.Identifier(key)
            ))
        self._seen[key] = None
        self.transaction.notices.add("members")


# -- helpers --------------------------------------------------------------------------------

_ORDER = {
    KeySort.CREATED_DESC: "k.created_at DESC, k.seq DESC",
    KeySort.CREATED_ASC: "k.created_at ASC, k.seq ASC",
    KeySort.SCOPE: "k.scope_rank ASC, k.created_at DESC, k.seq DESC",
    KeySort.LAST_USED: "k.last_used_rank DESC, k.created_at DESC, k.seq DESC",
}
assert SCOPES_IN_ORDER == ("web", "mobile", "analytics")  # the scope_rank column's order


def _anchor(connection: Any, key_id: str) -> tuple[Any, ...] | None:
    """A key's sort values: scope rank, created at, stored order, last-used rank."""
    return connection.execute(
        "SELECT scope_rank, created_at::text, seq, last_used_rank::text FROM keys WHERE id = %s",
        (key_id,),
    ).fetchone()


def _select_window(
    connection: Any, sort: KeySort, where: list[sql.Composable], params: list[Any],
    offset: int, limit: int, *, few: bool = False,
) -> list[Record]:
    """One window. ``few``: the conditions match few keys, so they are all fetched (the
    pg_trgm index) and sorted, instead of walking the sort's index until enough match (which
    the planner may choose for a LIMIT when it overestimates how many match: two words
    that rarely meet walk the whole index)."""
    if few:
        template = (
            "WITH k AS MATERIALIZED (SELECT * FROM keys k {where}) "
            "SELECT {columns} FROM k ORDER BY {order} LIMIT %s OFFSET %s"
        )
    else:
        template = "SELECT {columns} FROM keys k {where} ORDER BY {order} LIMIT %s OFFSET %s"
    statement = sql.SQL(template).format(
        columns=sql.SQL(KEY_SELECT), where=_where(where), order=sql.SQL(_ORDER[sort])
    )
    rows = connection.execute(statement, [*params, limit, offset]).fetchall()
    return [_key_record(row) for row in rows]


FEW_MATCHES = 1000  # a filter matching fewer keys than this is fetched whole and sorted


def _matches_few(connection: Any, query: KeyQuery, where: list[sql.Composable], params: list[Any]) -> bool:
    """Whether a word filter matches fewer than :data:`FEW_MATCHES` keys (a capped count)."""
    if not query.words:
        return False
    statement = sql.SQL(
        "SELECT count(*) FROM (SELECT 1 FROM keys k {where} LIMIT %s) matches"
    ).format(where=_where(where))
    return int(connection.execute(statement, [*params, FEW_MATCHES]).fetchone()[0]) < FEW_MATCHES


def _count_rows(connection: Any, where: list[sql.Composable], params: list[Any]) -> int:
    statement = sql.SQL("SELECT count(*) FROM keys k {where}").format(where=_where(where))
    return int(connection.execute(statement, params).fetchone()[0])


Condition = tuple[sql.Composable, list[Any]]


def _keyset(sort: KeySort, anchor: tuple[Any, ...], *, after: bool) -> list[Condition]:
    """Conditions, in ``sort``'s order, that together select the keys after ``anchor`` (or,
    with ``after=False``, before it). Each bounds an index scan by constants; the scope
    order (rank ascending, then newest first) needs two."""
    rank, created, seq, last_used = anchor
    newest_first = sort is not KeySort.CREATED_ASC
    # Past the anchor in a newest-first order means older, i.e. smaller values.
    op = "<" if after == newest_first else ">"
    if sort is KeySort.SCOPE:
        same_rank: Condition = (
            sql.SQL(f"k.scope_rank = %s AND (k.created_at, k.seq) {op} (%s::timestamptz, %s)"),
            [rank, created, seq],
        )
        other_ranks: Condition = (sql.SQL("k.scope_rank > %s" if after else "k.scope_rank < %s"), [rank])
        return [same_rank, other_ranks] if after else [other_ranks, same_rank]
    if sort is KeySort.LAST_USED:
        return [(
            sql.SQL(f"(k.last_used_rank, k.created_at, k.seq) {op} (%s::timestamptz, %s::timestamptz, %s)"),
            [last_used, created, seq],
        )]
    return [(sql.SQL(f"(k.created_at, k.seq) {op} (%s::timestamptz, %s)"), [created, seq])]


def _lifetime_conditions(
    query: KeyQuery, now: str, limits: Mapping[str, int], *, exact: bool
) -> tuple[list[sql.Composable], list[Any]]:
    """Active keys, not expired at ``now``, of a limited scope, without an expiry or expiring
    on a UTC day after creation + the limit (:func:`store.policy.within_lifetime`); unless
    ``exact``, rolled keys too (their lifetime counts from the roll: decided in Python)."""
    where, params = _conditions(query)
    rolled = "" if exact else "k.extra ? 'rolled_at' OR "
    breaking = []
    for scope, days in limits.items():
        breaking.append(sql.SQL(
            "(k.scope = %s AND (k.expires_at IS NULL OR " + rolled
            + "(k.expires_at AT TIME ZONE 'UTC')::date "
            "> (k.created_at AT TIME ZONE 'UTC' + %s * interval '1 day')::date))"
        ))
        params += [scope, int(days)]
    where += [
        sql.SQL("k.status = 'active'"),
        sql.SQL("({})").format(sql.SQL(" OR ").join(breaking)),
        sql.SQL("(k.expires_at IS NULL OR k.expires_at > %s::timestamptz)"),
    ]
    return where, [*params, now]


def _preceding(sort: KeySort, anchor: tuple[Any, ...]) -> list[Condition]:
    """The keys before ``anchor`` in ``sort``, in its order (see :func:`_keyset`)."""
    return _keyset(sort, anchor, after=False)


def _expiring_conditions(query: KeyQuery, now: str, until: str) -> tuple[list[sql.Composable], list[Any]]:
    return _conditions(replace(query, expiring=(now, until)))


# What store/find.py matches beside the stored text: the status as shown at a moment, and
# "never used" / "unused" for a key never used. A word that is part of none of these is
# matched against the stored text alone, which the pg_trgm index serves.
_SHOWN_STATUSES = ("active", "disabled", "revoked", "expired")
_NEVER_USED_WORDS = ("never", "used", "unused")


def _word_condition(word: str, now: str | None) -> Condition:
    """``word`` somewhere in a key's folded text (see :class:`store.backend.KeyQuery`)."""
    pattern = "%" + _escape_like(word) + "%"
    shown = [status for status in _SHOWN_STATUSES if word in status] if now is not None else []
    never_used = any(word in text for text in _NEVER_USED_WORDS)
    if not (shown or never_used):
        # The text is folded when stored and the word here, so LIKE is exact; pg_trgm's GIN
        # index serves it where the extension exists, a scan where it does not.
        return sql.SQL("k.search_text LIKE %s"), [pattern]
    # With ``now`` the status a word meets is the one shown then: the stored text ends with
    # the stored status, so the text before it is matched and the shown status on its own.
    text = "k.search_text" if now is None else "left(k.search_text, -(length(k.status) + 1))"
    parts: list[sql.Composable] = [sql.SQL(f"{text} LIKE %s")]
    params: list[Any] = [pattern]
    for status in shown:
        if status == "active":
            parts.append(sql.SQL(
                "(k.status = 'active' AND (k.expires_at IS NULL OR k.expires_at > %s::timestamptz))"
            ))
            params.append(now)
        elif status == "expired":
            parts.append(sql.SQL("(k.status = 'active' AND k.expires_at <= %s::timestamptz)"))
            params.append(now)
        else:
            parts.append(sql.SQL("k.status = {}").format(sql.Literal(status)))
    if never_used:
        parts.append(sql.SQL("k.last_used_at IS NULL"))
    return sql.SQL("({})").format(sql.SQL(" OR ").join(parts)), params


def _conditions(query: KeyQuery) -> tuple[list[sql.Composable], list[Any]]:
    where: list[sql.Composable] = []
    params: list[Any] = []
    if query.created_by is not None:
        where.append(sql.SQL("k.created_by = %s"))
        params.append(query.created_by)
    if not query.include_revoked:
        where.append(sql.SQL("k.status <> 'revoked'"))
    if query.scope is not None:
        where.append(sql.SQL("k.scope = %s"))
        params.append(query.scope)
    if query.project_id is not None:
        if query.project_id == "":
            where.append(sql.SQL("k.project_id IS NULL"))
        else:
            where.append(sql.SQL("k.project_id = %s"))
            params.append(query.project_id)
    if query.expiring is not None:
        where += [
            sql.SQL("k.status = 'active'"),
            sql.SQL("k.expires_at > %s::timestamptz"), sql.SQL("k.expires_at <= %s::timestamptz"),
        ]
        params += list(query.expiring)
    for digest in query.secret_hashes:  # both unique-ish indexes, one BitmapOr
        where.append(sql.SQL("(k.secret_hash = %s OR k.previous_secret_hash = %s)"))
        params += [digest, digest]
    for word in query.words:
        condition, values = _word_condition(word.casefold(), query.now)
        where.append(condition)
        params += values
    return where, params


def _where(conditions: list[sql.Composable]) -> sql.Composable:
    if not conditions:
        return sql.SQL("")
    return sql.SQL("WHERE ") + sql.SQL(" AND ").join(conditions)


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _key_record(row: tuple[Any, ...]) -> Record:
    # The row holds the key columns, then ``extra``.
    record = {column: value for column, value in zip(KEY_COLUMNS, row, strict=False) if value is not None}
    extra = row[len(KEY_COLUMNS)]
    if extra:
        record.update(extra)
    return record


def _key_values(record: Record, project_name: str) -> list[Any]:
    values = [record.get(column) for column in KEY_COLUMNS]
    values[KEY_COLUMNS.index("revision")] = int(record.get("revision") or 0)
    extra = {
        field: value for field, value in record.items()
        if field not in KEY_COLUMNS and value is not None
    }
    return [*values, search_text(record, project_name), _json(extra)]


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _stored_version(connection: Any) -> int | None:
    if connection.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
        return None
    return connection.execute("SELECT max(version) FROM schema_version").fetchone()[0]


def _session_user(backend: PostgresBackend) -> str:
    connection = backend._connect(autocommit=True)
    try:
        return connection.execute("SELECT session_user").fetchone()[0]
    finally:
        connection.close()


def _try_trigram(connection: Any) -> bool:
    """Create pg_trgm and the search index where the server allows; False where not."""
    try:
        with connection.transaction():  # a savepoint: a refusal leaves the rest intact
            connection.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            connection.execute(TRIGRAM_INDEX[1])
        return True
    except psycopg.Error:
        return False


def _has_index(connection: Any, name: str) -> bool:
    return connection.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is not None


def _role_exists(connection: Any, role: str) -> bool:
    return connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def _ensure_group_role(connection: Any, group_role: str) -> None:
    if not _role_exists(connection, group_role):
        try:
            with connection.transaction():
                connection.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(group_role)))
        except pg_errors.InsufficientPrivilege:
            raise StoreUnusable(
                f"cannot create the store's group role {group_role}: run `apikeys init` as a role "
                "with CREATEROLE (or have the DBA create that role first)"
            ) from None


def _grant(connection: Any, group_role: str, grants: Iterable[tuple[str, str]]) -> None:
    for privileges, target in grants:
        kind, _, name = target.rpartition(" ")
        connection.execute(sql.SQL("GRANT {} ON {} {} TO {}").format(
            sql.SQL(privileges), sql.SQL(kind or "TABLE"), sql.Identifier(name), sql.Identifier(group_role),
        ))


def _grant_membership(connection: Any, group_role: str, login: str, *, admin: bool) -> None:
    """Grant the group role to ``login``; owners with ADMIN OPTION, so they can add members."""
    group, member = sql.Identifier(group_role), sql.Identifier(login)
    if admin:
        connection.execute(sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(group, member))
    else:
        connection.execute(sql.SQL("GRANT {} TO {}").format(group, member))
        if connection.execute(
            "SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles r ON r.oid = m.member WHERE g.rolname = %s AND r.rolname = %s AND m.admin_option",
            (group_role, login),
        ).fetchone():
            connection.execute(sql.SQL("REVOKE ADMIN OPTION FOR {} FROM {}").format(group, member))


def _insert_member(connection: Any, group_role: str, record: Record) -> None:
    connection.execute(
        "INSERT INTO members (login, role, data) VALUES (%s, %s, %s)",
        (record["login"], record["role"], _json(record)),
    )
    _grant_membership(connection, group_role, record["login"], admin=record["role"] == "owner")


def _insert_events(connection: Any, events: list[AuditEvent]) -> None:
    if events:
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO audit (at, actor, action, key_id, detail) VALUES (%s, %s, %s, %s, %s)",
                [(e.at, e.actor, e.action, e.key_id, e.detail) for e in events],
            )


def _notify(connection: Any, payload: str) -> None:
    connection.execute("SELECT nextval('change_seq')")
    connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))


def _reversed_order(sort: KeySort) -> str:
    """``sort``'s ORDER BY read backwards (an index serves it scanned the other way)."""
    flipped = {"ASC": "DESC", "DESC": "ASC"}
    return ", ".join(
        f"{column} {flipped[direction]}" for column, direction in
        (part.rsplit(" ", 1) for part in _ORDER[sort].split(", "))
    )


def _lost_connection(place: str, why: str, doing: str) -> str:
    """What a lost connection means for what was being done (see ``PostgresBackend._errors``)."""
    if doing == "read":
        return f"could not read {place}: lost the connection ({why}); try again"
    if doing == "listen":
        return f"lost the connection to {place} ({why})"
    return f"lost the connection to {place} ({why}); a change in progress was not made"


def _cancelled(place: str, why: str, doing: str) -> str:
    """A statement the server cancelled (``statement_timeout``, ``pg_cancel_backend``), not
    at our asking: what it means for what was being done."""
    if doing == "change":
        return f"{place}: the server cancelled the statement ({why}); nothing was changed"
    return f"could not read {place}: the server cancelled the statement ({why}); try again"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
