"""What the child processes of the store tests do.

Each function opens its own :class:`~store.repository.Repository` on the store it is given, as
a separate admin's process would. The tests start them with :data:`CONTEXT`: ``forkserver``
forks each child from a clean, single-threaded server that has imported this module once, so
children start in milliseconds and never inherit a lock held by a thread of the test process
(a plain ``fork`` of a process running Textual's or xdist's threads could).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from typing import Any

from store.repository import Repository

CONTEXT = multiprocessing.get_context("forkserver")
# Each child re-runs the parent's main module (pytest's, when tests run); with its package
# imported once in the server that costs nothing, instead of ~0.2 s a child.
CONTEXT.set_forkserver_preload([*(["pytest"] if "pytest" in sys.modules else []), __name__])


def draft_for(number: int, project: str = "Storefront") -> dict[str, Any]:
    """A valid draft of each scope in turn, so the stored records vary in shape."""
    name = f"key {number}"
    kind = number % 3
    if kind == 0:
        return {
            "name": name, "scope": "web", "project_id": project,
            "web": {"domains": [f"https://app{number}.example.com"]},
        }
    if kind == 1:
        return {
            "name": name, "scope": "mobile", "project_id": project,
            "mobile": {"ios_bundle_ids": [f"com.example.app{number}"]},
        }
    return {"name": name, "scope": "analytics", "project_id": project, "expires_days": 30}


def create_keys(path: str, login: str, count: int, barrier: Any, results: Any) -> None:
    """Wait for the others at ``barrier``, create ``count`` keys as ``login``, report their ids."""
    repo = Repository(path, login)
    barrier.wait()
    started = time.perf_counter()
    ids = [repo.create_key(draft_for(number)).key.id for number in range(count)]
    results.put((login, ids, time.perf_counter() - started))


def edit_and_revoke(
    path: str, login: str, key_ids: list[str], tag: str, my_turn: Any, their_turn: Any
) -> None:
    """Rename every key of ``key_ids`` to ``"<tag> <index>"`` and revoke every third one,
    taking turns with another process: each step starts once ``my_turn`` is released.

    Taking turns makes every step work from a Repository whose last read is stale (the other
    process has changed the file since), which is where a lost update would come from.
    """
    repo = Repository(path, login)
    for index, key_id in enumerate(key_ids):
        my_turn.acquire()
        repo.edit_key(key_id, {"name": f"{tag} {index}"})
        if index % 3 == 0:
            repo.revoke_keys([key_id])
        their_turn.release()


def crash_during_create(path: str, login: str, step: str) -> None:
    """Create a key, dying like ``kill -9`` (no clean-up at all) at write step ``step``."""
    repo = Repository(path, login)

    def die_at(current: str) -> None:
        if current == step:
            os._exit(137)

    repo.storage.on_write_step = die_at
    repo.create_key(draft_for(0) | {"name": "crashed create"})
    os._exit(0)  # not reached when the step exists: the parent checks the exit status


def create_until_killed(path: str, login: str, acknowledged_path: str) -> None:
    """Create keys until killed; append each id to ``acknowledged_path`` once create returned."""
    repo = Repository(path, login)
    fd = os.open(acknowledged_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    number = 0
    while True:
        created = repo.create_key(draft_for(number))
        # One write(2) is done or not done when SIGKILL lands: the parent reads whole ids only.
        os.write(fd, created.key.id.encode() + b"\n")
        number += 1


def create_one(path: str, login: str, name: str) -> None:
    """Create one Analytics key named ``name``."""
    Repository(path, login).create_key(draft_for(2) | {"name": name})


def revoke(path: str, login: str, key_id: str) -> None:
    """Revoke one key."""
    Repository(path, login).revoke_keys([key_id])

