"""What the child processes of the usage tests do (started with ``store_workers.CONTEXT``)."""

from __future__ import annotations

from typing import Any

from store.repository import Repository
from support.store_workers import draft_for


def verify_many(path: str, secret: str, count: int, barrier: Any) -> None:
    """Verify ``secret`` ``count`` times, every third from a refused origin, trying to write
    the usage every 10 ms (so the verifiers and the writer contend for the lock), then flush
    as the command line does at exit."""
    repo = Repository(path, "a-service-without-membership")
    repo.usage_recorder.flush_interval = 0.01
    barrier.wait()
    for number in range(count):
        origin = "https://evil.example.com" if number % 3 == 2 else "https://shop.example.com"
        repo.verify(secret, origin=origin)
    repo.flush_usage()


def change_while_others_verify(path: str, login: str, count: int, barrier: Any) -> None:
    """Create ``count`` keys as ``login``: each change holds the lock the verifiers want."""
    repo = Repository(path, login)
    barrier.wait()
    for number in range(count):
        repo.create_key(draft_for(2) | {"name": f"busy {number}"})
