"""Demo stores by the million on PostgreSQL: store/seed.py's data, loaded with COPY.

:func:`store.seed._keys` builds each key through ``KeyDraft`` validation and
:func:`~store.repository.new_key_record` (~40 µs a key: 40 s for a million). This module
draws the same choices from the same tables (members, projects, settings, names, the
same weights and ages), but skips the validation (the settings are validated once, by
``seed._Settings``) and draws the random characters of secrets and ids a block at a time. Each
key comes out as the row the keys table stores, with its audit events.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from psycopg import sql

from .. import seed as demo  # the file store's demo data: members, projects, settings, names
from .. import tokens
from ..backend import search_text
from ..errors import StoreUnusable
from ..models import AuditEvent, Member, Role, Scope, to_iso, utc_now
from ..repository import ALL_PROJECTS
from ..storage import collector_paused
from .pg_schema import BULK_REBUILT_INDEXES, KEY_COLUMNS
from .postgres import PostgresBackend, _has_index, _json, _notify, _session_user

_BASE62_TABLE = bytes(ord(tokens.BASE62[byte % 62]) for byte in range(256))
_UNEVEN = bytes(range(248, 256))  # bytes ≥ 248 would make byte % 62 uneven: dropped
_PER_KEY = tokens.RANDOM_LENGTH + 10  # secret's random part + the key id's


def random_block(length: int) -> str:
    """``length`` uniform base62 characters from the OS's CSPRNG, drawn in one go."""
    drawn = b""
    while len(drawn) < length:
        drawn += secrets.token_bytes(length - len(drawn) + length // 30 + 16).translate(None, _UNEVEN)
    return drawn[:length].translate(_BASE62_TABLE).decode("ascii")


def demo_key_rows(
    rng: random.Random,
    count: int,
    now: datetime,
    members: list[dict[str, Any]],
    projects: list[dict[str, Any]],
    project_names: dict[str | None, str],
) -> Iterator[tuple[list[Any], list[tuple[str, str, str, str, str]]]]:
    """``count`` demo keys as (row of the keys table, audit events as rows), in the column
    order of :data:`store.backends.postgres.KEY_COLUMNS` + search text + extra (JSON)."""
    settings = demo._Settings(rng, projects)
    web = {pid: [s.model_dump() for s in choices] for pid, choices in settings.web.items()}
    mobile = {pid: [s.model_dump() for s in choices] for pid, choices in settings.mobile.items()}
    deployed = [p for p in projects if p["deployed"]]
    everyone = [m["login"] for m in members]
    wide = [m["login"] for m in members if m["role"] != Role.DEVELOPER]
    owners = [m["login"] for m in members if m["role"] == Role.OWNER]
    scopes, weights = (Scope.WEB, Scope.MOBILE, Scope.ANALYTICS), (5, 3, 2)
    block = random_block(count * _PER_KEY)
    history = demo.HISTORY_DAYS * 86400
    for index in range(count):
        scope = rng.choices(scopes, weights=weights)[0]
        creator = rng.choice(everyone)
        age = timedelta(seconds=rng.randrange(history))
        expires_days = None
        project: dict[str, Any] | None
        extra: dict[str, Any] = {}
        if scope is Scope.WEB:
            project = rng.choice(deployed)
            extra["web"] = rng.choice(web[project["id"]])
            base = rng.choice(demo.WEB_NAMES)
        elif scope is Scope.MOBILE:
            project = rng.choice(projects)
            extra["mobile"] = rng.choice(mobile[project["id"]])
            base = rng.choice(demo.MOBILE_NAMES)
        else:
            project = None if rng.random() < 0.2 else rng.choice(projects)
            if project is None:
                creator = rng.choice(wide)
            expires_days = rng.choice((30, 60, 90))
            base = rng.choice(demo.ANALYTICS_NAMES)
            roll = rng.random()
            if roll < 0.15:
                age = timedelta(days=expires_days) - timedelta(seconds=rng.randrange(60, 7 * 86400))
            elif roll < 0.30:
                age = timedelta(days=expires_days) + timedelta(seconds=rng.randrange(60, 60 * 86400))
            else:
                age = timedelta(seconds=rng.randrange(max(60, (expires_days - 8) * 86400)))
        name = f"{base} – {rng.choice(demo.ENVIRONMENTS)}"
        created = now - age
        created_at = to_iso(created)
        randoms = block[index * _PER_KEY:(index + 1) * _PER_KEY]
        body = f"{tokens.SCOPE_PREFIXES[scope.value]}_{randoms[:tokens.RANDOM_LENGTH]}"
        secret = body + tokens.checksum(body)
        key_id = "key_" + randoms[tokens.RANDOM_LENGTH:]
        expires_at = to_iso(created + timedelta(days=expires_days)) if expires_days else None
        last_used = None
        if rng.random() < 0.6:
            last_used = to_iso(created + (now - created) * rng.random())
            if expires_at is not None:
                last_used = min(last_used, expires_at)
        project_id = project["id"] if project else None
        where = f"project {project_id}" if project_id else ALL_PROJECTS
        events = [(
            created_at, creator, "key.create", key_id, f"created {scope.value} key {name!r} for {where}"
        )]
        status, updated_at, updated_by = "active", created_at, creator
        if scope is not Scope.ANALYTICS:
            extra["secret"] = secret
        if rng.random() < 0.1:  # revoked as Repository.revoke_keys does: secret wiped, hash kept
            actor = creator if rng.random() < 0.7 else rng.choice(owners)
            when = to_iso(created + (now - created) * rng.random())
            if last_used is not None and last_used > when:
                last_used = when
            extra.pop("secret", None)
            status, updated_at, updated_by = "revoked", when, actor
            extra.update(revoked_at=when, revoked_by=actor)
            events.append((when, actor, "key.revoke", key_id, f"revoked {scope.value} key {name!r}"))
        extra.update(updated_at=updated_at, updated_by=updated_by)
        record = {"id": key_id, "name": name, "scope": scope.value, "project_id": project_id,
                  "key_prefix": secret[:4 + tokens.VISIBLE_RANDOM_CHARS], "created_by": creator,
                  "status": status}
        row = [
            key_id, name, scope.value, project_id, status, created_at, creator, expires_at, last_used,
            record["key_prefix"], hashlib.sha256(secret.encode()).hexdigest(), None, 1,
            search_text(record, project_names[project_id]), orjson.dumps(extra).decode(),
        ]
        yield row, events


def seed_bulk(
    conninfo: str,
    login: str | None = None,
    *,
    keys: int,
    seed: int | None = None,
    clock: Callable[[], datetime] = utc_now,
    chunk: int = 50_000,
    progress: Callable[[int, int], None] | None = None,
) -> PostgresBackend:
    """A new PostgreSQL store full of realistic demo data (store/seed.py's members, projects
    and keys), loaded with COPY: the key indexes are dropped during the load and rebuilt
    after it. ``login`` defaults to (and must be) the connected role. Refuses a database that
    already holds a store. ``progress(made, keys)`` is called after each ``chunk`` of keys
    and once with ``made == keys`` before the indexes are rebuilt (as :func:`store.seed.seed_demo`
    calls it)."""
    if keys < 0:
        raise ValueError("keys must not be negative")
    backend = PostgresBackend(conninfo)
    identity = _session_user(backend)
    login = login or identity
    rng = random.Random(seed)
    now = clock()
    start = now - timedelta(days=demo.HISTORY_DAYS + 30)
    events: list[AuditEvent] = [AuditEvent(
        at=to_iso(start), actor=login, action="store.init",
        detail=f"created organisation {demo.ORGANISATION!r}",
    )]
    members = demo._members(login, start, events)
    projects = demo._projects(rng, login, start, events)
    owner = members[0]
    meta = {"organisation": demo.ORGANISATION, "created_at": to_iso(start), "created_by": login,
            "policy": demo.DEMO_POLICY}  # as the file demo has it
    if not backend.create(meta, owner, events):
        raise StoreUnusable(f"{backend.describe()} already holds a store: the demo seeds a new store only")
    names = {project["id"]: project["name"] for project in projects}
    connection = backend._connect(autocommit=False)
    try:
        with backend._errors(), connection.transaction():
            connection.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for project in projects:
                connection.execute(
                    "INSERT INTO projects (id, name, data) VALUES (%s, %s, %s)",
                    (project["id"], project["name"], _json(project)),
                )
            for member in members[1:]:
                # Demo members are records only: they need a database role to log in.
                connection.execute(
                    "INSERT INTO members (login, role, data) VALUES (%s, %s, %s)",
                    (member["login"], Member.model_validate(member).role.value, _json(member)),
                )
            rebuild = drop_key_indexes(connection)
            project_names: dict[str | None, str] = {**names, None: ALL_PROJECTS}
            key_events: list[tuple[str, str, str, str, str]] = []
            remaining = keys
            with collector_paused():
                while remaining > 0:
                    size = min(chunk, remaining)
                    remaining -= size
                    _copy_rows(connection, "keys", [*KEY_COLUMNS, "search_text", "extra"],
                               demo_key_rows(rng, size, now, members, projects, project_names), key_events)
                    if progress is not None:
                        progress(keys - remaining, keys)
                key_events.sort(key=lambda event: event[0])  # the trail in time order
                _copy_rows(connection, "audit", ["at", "actor", "action", "key_id", "detail"],
                           ((event, ()) for event in key_events), [])
            for statement in rebuild:
                connection.execute(statement)
            _notify(connection, "store")
        connection.autocommit = True
        vacuum_after_load(connection)
    finally:
        connection.close()
    return backend


def vacuum_after_load(connection: Any) -> None:
    """``VACUUM ANALYZE`` the tables a bulk load filled (an autocommit connection): planner
    statistics, and the visibility map that lets counts over an index (the expiring-soon
    count) skip the table."""
    for table in ("keys", "audit", "usage"):
        connection.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))


def drop_key_indexes(connection: Any) -> list[str]:
    """Drop the keys table's secondary indexes before a bulk load (inside its transaction);
    return the statements that rebuild those that existed, to run after the load (one sort
    per index instead of an index update per row)."""
    rebuild = []
    for name, statement in BULK_REBUILT_INDEXES.items():
        if _has_index(connection, name):
            connection.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
            rebuild.append(statement)
    return rebuild


def copy_rows(connection: Any, table: str, columns: list[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY ``rows`` (values in the order of ``columns``) into ``table``."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        write = copy.write_row
        for row in rows:
            write(row)


def _copy_rows(
    connection: Any, table: str, columns: list[str], rows: Iterable[tuple[Any, Any]], spill: list[Any]
) -> None:
    """COPY ``rows`` (each a (row, extras) pair) into ``table``; extras go to ``spill``."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        write = copy.write_row
        for row, extras in rows:
            write(row)
            spill.extend(extras)
