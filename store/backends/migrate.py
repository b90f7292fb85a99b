"""``apikeys migrate --to STORE``: copy a whole store between backends, file ↔ PostgreSQL.

Everything travels: the meta document (organisation, policy), members, projects, every key
record as stored (hashes, stored secrets, retired hashes of rolled keys, revisions), the audit
trail in its order with its original times and actors, and the usage counters. The target
must not hold a store yet; it is written all at once (PostgreSQL: one transaction, the keys,
audit trail and usage loaded by COPY with the key indexes rebuilt after; file: the usual temp
file and rename, then the trail), so a failed migrate leaves no half store behind. The source
is only read.
"""

from __future__ import annotations

from typing import Any

from ..backend import KeyQuery, KeySort, Record, UsageCount
from ..errors import InvalidInput, StoreUnusable
from ..models import AuditEvent
from ..storage import collector_paused
from .bulk import copy_rows, drop_key_indexes, vacuum_after_load
from .file import FileBackend
from .pg_schema import KEY_COLUMNS
from .postgres import PostgresBackend, PostgresTransaction, _key_values

# Bookkeeping of the file store that means nothing elsewhere.
FILE_ONLY_META = ("schema_version", "audit_pending", "usage_spool", "usage_pruned_on")
EVERY_KEY = 2**62


class Contents:
    """A whole store in memory, as the migrate reads it from its source."""

    def __init__(
        self, meta: Record, members: dict[str, Record], projects: dict[str, Record],
        keys: list[Record], events: list[AuditEvent], usage: list[UsageCount],
    ) -> None:
        self.meta, self.members, self.projects, self.keys = meta, members, projects, keys
        self.events, self.usage = events, usage


def read_store(source: Any) -> Contents:
    """Everything ``source`` (a file or PostgreSQL backend) holds."""
    meta = {field: value for field, value in source.meta().items() if field not in FILE_ONLY_META}
    keys = source.window(KeyQuery(sort=KeySort.CREATED_ASC), 0, EVERY_KEY)
    events = [AuditEvent.model_validate(record) for record in source.audit_records()]
    if isinstance(source, FileBackend):
        usage = _file_usage(source.storage.current().get("usage"))
    else:
        usage = source.all_usage()
    return Contents(meta, dict(source.members()), dict(source.projects()), keys, events, usage)


def write_store(target: Any, contents: Contents) -> None:
    """Create ``target`` holding ``contents``; refuses a target that already holds a store."""
    if target.exists():
        raise _occupied(target)
    if isinstance(target, PostgresBackend):
        _write_postgres(target, contents)
    else:
        _write_file(target, contents)


def _write_postgres(target: PostgresBackend, contents: Contents) -> None:
    identity = target.identity()
    owners = [m for m in contents.members.values() if m.get("role") == "owner"]
    owner = contents.members.get(identity)
    if owner is None or owner.get("role") != "owner":
        if not target.is_superuser() or not owners:
            raise InvalidInput({"to": (
                f"the connected role {identity!r} is not an owner of this store: connect as one "
                "of its owners (or as a superuser)"
            )})
        owner = owners[0]
    missing = [login for login in contents.members if not _role_exists(target, login)]
    if missing:
        raise InvalidInput({"to": (
            "members of a PostgreSQL store are database roles, and these have none: "
            + ", ".join(sorted(missing)[:20]) + "; have the DBA create them (CREATE ROLE … LOGIN) first"
        )})

    def populate(transaction: PostgresTransaction) -> None:
        for login, member in contents.members.items():
            if login != owner["login"]:
                transaction.members[login] = member
        for project_id, project in contents.projects.items():
            transaction.projects[project_id] = project
        _copy_contents(transaction.connection, contents)
        transaction.dirty = True

    # The audit trail goes in by COPY with the keys (in its order, after the owner's row).
    created = target.create(contents.meta, owner, [], populate=populate)
    if not created:
        raise _occupied(target)
    connection = target._connect(autocommit=True)
    try:
        with target._errors():
            vacuum_after_load(connection)
    finally:
        connection.close()


def _copy_contents(connection: Any, contents: Contents) -> None:
    """Keys, audit trail and usage counters by COPY, the key indexes dropped meanwhile and
    rebuilt after (all inside the migrate's one transaction)."""
    connection.execute("SET LOCAL maintenance_work_mem = '512MB'")
    rebuild = drop_key_indexes(connection)
    names = {pid: project.get("name", pid) for pid, project in contents.projects.items()}
    with collector_paused():
        copy_rows(connection, "keys", [*KEY_COLUMNS, "search_text", "extra"], (
            _key_values(record, _project_name(record.get("project_id"), names))
            for record in contents.keys
        ))
        copy_rows(connection, "audit", ["at", "actor", "action", "key_id", "detail"], (
            (event.at, event.actor, event.action, event.key_id, event.detail)
            for event in contents.events
        ))
        copy_rows(connection, "usage", ["key_id", "day", "valid", "refused", "last_origin", "last_ip"], (
            (c.key_id, c.day, c.valid, c.refused, c.last_origin, c.last_ip) for c in contents.usage
        ))
    for statement in rebuild:
        connection.execute(statement)


def _project_name(project_id: str | None, names: dict[str, str]) -> str:
    """The project name a key's search text holds (as :class:`PostgresTransaction` writes it)."""
    from ..repository import ALL_PROJECTS

    return names.get(project_id, project_id) if project_id else ALL_PROJECTS


def _occupied(target: Any) -> InvalidInput:
    return InvalidInput({"to": (
        f"{target.describe()} already holds a store: migrate writes only into an empty one"
    )})


def _role_exists(target: PostgresBackend, login: str) -> bool:
    import psycopg

    with psycopg.connect(target.conninfo, autocommit=True) as connection:
        found = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone()
    return found is not None


def _write_file(target: FileBackend, contents: Contents) -> None:
    from ..storage import empty_tables

    data = empty_tables(contents.meta)
    data["members"].update(contents.members)
    data["projects"].update(contents.projects)
    data["keys"].update((record["id"], record) for record in contents.keys)
    if contents.usage:
        data["usage"] = _usage_table(contents.usage, contents.keys)
    if not target.storage.create(data):
        raise StoreUnusable(f"{target.describe()} appeared while migrating: it was not changed")
    target.audit.append(contents.events)


def _file_usage(table: Any) -> list[UsageCount]:
    """The file store's usage table as per-day counters (the last origin and IP on the day
    of the last use)."""
    from ..usage import Tally

    counts = []
    for key_id, raw in (table or {}).items() if isinstance(table, dict) else ():
        tally = Tally.from_stored(raw)
        for day, (valid, refused) in sorted(tally.days.items()):
            last = tally.seen is not None and tally.seen[:10] == day
            counts.append(UsageCount(key_id, day, valid, refused,
                                     tally.origin if last else None, tally.ip if last else None))
    return counts


def _usage_table(usage: list[UsageCount], keys: list[Record]) -> dict[str, Any]:
    """Per-day counters as the file store's usage table."""
    seen = {record["id"]: record.get("last_used_at") for record in keys}
    table: dict[str, Any] = {}
    for count in usage:
        entry = table.setdefault(count.key_id, {"days": {}})
        entry["days"][count.day] = [count.valid, count.refused]
        if count.last_origin is not None or count.last_ip is not None:
            if seen.get(count.key_id):
                entry["seen"] = seen[count.key_id]
            for field, value in (("origin", count.last_origin), ("ip", count.last_ip)):
                if value is not None:
                    entry[field] = value
    return table


def migrate(source: Any, target: Any) -> Contents:
    """Copy the store of ``source`` into the new store ``target``; return what was copied."""
    contents = read_store(source)
    write_store(target, contents)
    return contents


__all__ = ["Contents", "migrate", "read_store", "write_store"]
