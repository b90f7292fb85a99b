"""Several processes changing one store at once: no change is ever lost.

Run with ``-s`` to see the figures (seconds, creates a second).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from conftest import OWNER, fixed_clock, web_draft
from store.audit import audit_path
from store.repository import Repository
from store.storage import check_layout
from support import store_workers
from support.store_workers import CONTEXT

WORKERS = 8
KEYS_EACH = 200


def audit_lines(store_path: Path) -> list[dict]:
    """Every line of the audit trail, each of which must be one whole JSON object."""
    return [orjson.loads(line) for line in audit_path(store_path).read_bytes().splitlines()]


def test_eight_processes_creating_keys_lose_nothing(
    owner_repo: Repository, store_path: Path
) -> None:
    logins = [f"dev{number}" for number in range(WORKERS)]
    for number, login in enumerate(logins):
        owner_repo.add_member(login, "developer" if number % 2 else "support")
    barrier = CONTEXT.Barrier(WORKERS + 1)
    results = CONTEXT.Queue()
    processes = [
        CONTEXT.Process(target=store_workers.create_keys,
                        args=(str(store_path), login, KEYS_EACH, barrier, results))
        for login in logins
    ]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    reported = [results.get(timeout=120) for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    total = WORKERS * KEYS_EACH
    acknowledged = {login: ids for login, ids, _ in reported}
    all_ids = [key_id for ids in acknowledged.values() for key_id in ids]
    assert len(all_ids) == total
    assert len(set(all_ids)) == total

    data = orjson.loads(store_path.read_bytes())  # the file parses as a whole
    check_layout(data, store_path)
    assert set(data["keys"]) == set(all_ids)
    for login, ids in acknowledged.items():
        assert {data["keys"][key_id]["created_by"] for key_id in ids} == {login}
    assert len(Repository(store_path, OWNER, clock=fixed_clock).list_keys()) == total

    creates = [line for line in audit_lines(store_path) if line["action"] == "key.create"]
    assert len(creates) == total
    assert Counter(line["key_id"] for line in creates) == Counter(all_ids)

    seconds = sorted(seconds for *_, seconds in reported)
    print(
        f"\nconcurrency: {WORKERS} processes × {KEYS_EACH} creates = {total} keys in "
        f"{elapsed:.2f} s ({total / elapsed:.0f} creates/s); processes took "
        f"{seconds[0]:.2f}–{seconds[-1]:.2f} s each"
    )


@pytest.mark.parametrize("taking_turns", [True, False], ids=["taking-turns", "free-running"])
def test_interleaved_edits_and_revokes_on_different_keys_are_all_kept(
    owner_repo: Repository, store_path: Path, taking_turns: bool
) -> None:
    owner_repo.add_member("bob", "developer")
    bob = Repository(store_path, "bob", clock=fixed_clock)
    mine = [owner_repo.create_key(web_draft(name=f"alice {n}")).key.id for n in range(20)]
    bobs = [bob.create_key(web_draft(name=f"bob {n}")).key.id for n in range(60)]
    # The owner changes her keys and some of bob's; bob changes the rest of his.
    plans = [(OWNER, mine + bobs[:20], "A"), ("bob", bobs[20:], "B")]
    if taking_turns:
        turns = [CONTEXT.Semaphore(1), CONTEXT.Semaphore(0)]
    else:
        turns = [CONTEXT.Semaphore(10**6), CONTEXT.Semaphore(10**6)]
    processes = [
        CONTEXT.Process(target=store_workers.edit_and_revoke, args=(
            str(store_path), login, ids, tag, turns[number], turns[1 - number]
        ))
        for number, (login, ids, tag) in enumerate(plans)
    ]
    started = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    elapsed = time.perf_counter() - started

    keys = Repository(store_path, OWNER, clock=fixed_clock).storage.current()["keys"]
    changes = 0
    for _, ids, tag in plans:
        for index, key_id in enumerate(ids):
            record = keys[key_id]
            assert record["name"] == f"{tag} {index}"
            assert record["status"] == ("revoked" if index % 3 == 0 else "active")
            assert (record.get("secret") is None) == (index % 3 == 0)
            changes += 2 if index % 3 == 0 else 1
    lines = audit_lines(store_path)
    actions = Counter(line["action"] for line in lines)
    assert actions["key.edit"] == 80
    assert actions["key.revoke"] == changes - 80
    actors = [line["actor"] for line in lines if line["action"] in ("key.edit", "key.revoke")]
    turns_taken = [
        actor for number, actor in enumerate(actors) if number == 0 or actors[number - 1] != actor
    ]
    if taking_turns:
        assert turns_taken == [OWNER, "bob"] * 40  # every step followed the other's
    print(
        f"\ninterleaved ({'taking turns' if taking_turns else 'free-running'}): 2 processes, "
        f"{changes} edits and revokes in {elapsed:.2f} s, none lost; "
        f"the trail switches process {len(turns_taken) - 1} times"
    )
