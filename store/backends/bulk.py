"""Demo keys by the million: store/seed.py's data, generated fast enough for COPY.

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
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import orjson

from .. import seed as demo
from .. import tokens
from ..backend import search_text
from ..models import Role, Scope, to_iso

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
        where = f"project {project_id}" if project_id else demo.ALL_PROJECTS
        events = [(created_at, creator, "key.create", key_id, f"created {scope.value} key {name!r} for {where}")]
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
                  "key_prefix": secret[:4 + tokens.VISIBLE_RANDOM_CHARS], "created_by": creator, "status": status}
        row = [
            key_id, name, scope.value, project_id, status, created_at, creator, expires_at, last_used,
            record["key_prefix"], hashlib.sha256(secret.encode()).hexdigest(), None, 1,
            search_text(record, project_names[project_id]), orjson.dumps(extra).decode(),
        ]
        yield row, events
