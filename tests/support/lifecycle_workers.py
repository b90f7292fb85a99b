"""What the child processes of the lifecycle tests do (started with ``store_workers.CONTEXT``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from store.errors import Conflict
from store.repository import Repository


def roll_once(path: str, login: str, key_id: str, barrier: Any, results: Any) -> None:
    """Read the key's revision, wait until every admin has read it, then roll with it.

    Reports ``("won", new key prefix)`` or ``("conflict", message)``; never the secret.
    """
    repo = Repository(path, login)
    seen = repo.get_key(key_id).revision
    barrier.wait()
    try:
        rolled = repo.roll_key(key_id, timedelta(hours=1), expected_revision=seen)
    except Conflict as error:
        results.put(("conflict", str(error)))
    else:
        results.put(("won", rolled.key.key_prefix))
