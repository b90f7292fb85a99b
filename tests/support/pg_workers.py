"""Processes the PostgreSQL tests start: ``python pg_workers.py COMMAND URL ARGS…``.

Run as separate processes (or as other OS logins through ``runuser``) so that concurrency,
``kill -9`` and identity are tested across real sessions. Each prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from store.backends.postgres import PostgresBackend  # noqa: E402
from store.errors import StoreError  # noqa: E402
from store.models import AuditEvent, to_iso, utc_now  # noqa: E402
from store.repository import stamped  # noqa: E402


def _event(actor: str, key_id: str | None, action: str, detail: str) -> AuditEvent:
    return AuditEvent(at=to_iso(utc_now()), actor=actor, action=action, key_id=key_id, detail=detail)


def migrate(url: str, start_file: str) -> object:
    """Wait for the start file, then run the forward migrations; print what it applied."""
    while not Path(start_file).exists():
        time.sleep(0.001)
    return PostgresBackend(url).migrate()


def bump(url: str, key_id: str, times: str) -> object:
    """Rename a key ``times`` times, one change (with its audit event) each."""
    backend = PostgresBackend(url)
    actor = backend.identity()
    for round_number in range(int(times)):
        with backend.transaction() as transaction:
            record = transaction.keys[key_id]
            transaction.keys[key_id] = stamped(record, to_iso(utc_now()), actor, name=f"round {round_number}")
            transaction.changed()
            transaction.record_events([_event(actor, key_id, "key.edit", f"round {round_number}")])
    return "done"


def hold(url: str, key_id: str) -> object:
    """Change a key and write its audit rows, then wait inside the transaction for a kill."""
    backend = PostgresBackend(url)
    actor = backend.identity()
    with backend.transaction() as transaction:
        record = transaction.keys[key_id]
        transaction.keys[key_id] = stamped(record, to_iso(utc_now()), actor, name="never committed")
        transaction.changed()
        transaction.record_events([_event(actor, key_id, "key.edit", "never committed")])
        transaction.finish()  # audit rows inserted and NOTIFY queued: only COMMIT is missing
        print(json.dumps("ready"), flush=True)
        time.sleep(3600)
    return "committed"


def whoami(url: str) -> object:
    """The identity and the members this login sees, or the one-line error."""
    backend = PostgresBackend(url)
    try:
        return {"identity": backend.identity(), "members": sorted(backend.members())}
    except StoreError as error:
        return {"error": str(error)}


def add_member(url: str, login: str, role: str) -> object:
    """Add a member as the connected role (as ``members add`` will)."""
    backend = PostgresBackend(url)
    actor = backend.identity()
    now = to_iso(utc_now())
    try:
        with backend.transaction() as transaction:
            transaction.members[login] = {
                "login": login, "role": role, "display_name": login, "added_at": now, "added_by": actor,
            }
            transaction.changed()
            transaction.record_events([_event(actor, None, "member.add", f"added {login} as {role}")])
    except StoreError as error:
        return {"error": str(error)}
    return {"added": login}


COMMANDS = {"migrate": migrate, "bump": bump, "hold": hold, "whoami": whoami, "add_member": add_member}

if __name__ == "__main__":
    print(json.dumps(COMMANDS[sys.argv[1]](*sys.argv[2:])), flush=True)
