"""A crash or ``kill -9`` at any instant leaves the old or the new store, never a torn one; a
store that does not parse or comes from a future version is refused and never overwritten.

Run with ``-s`` to see the figures of the SIGKILL test.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from conftest import OWNER, fixed_clock, web_draft
from store import tokens
from store.audit import audit_path
from store.errors import StoreUnusable
from store.repository import Repository
from store.storage import check_layout
from support import store_workers
from support.store_workers import CONTEXT

WRITE_STEPS = ["temp_written", "temp_fsynced", "before_replace", "after_replace"]


def temp_files(store_path: Path) -> list[Path]:
    """Temp files a writer of this store leaves while (or if it died while) writing."""
    return sorted(store_path.parent.glob(f".{store_path.name}.tmp-*"))


def parsed(store_path: Path) -> dict:
    """The store file parsed and checked as a store, as a new process would read it."""
    data = orjson.loads(store_path.read_bytes())
    check_layout(data, store_path)
    return data


def run_child(target: Callable[..., None], *args: object) -> int:
    """Run ``target`` in a forked child process and return its exit status."""
    process = CONTEXT.Process(target=target, args=args)
    process.start()
    process.join(timeout=60)
    return process.exitcode


@pytest.mark.parametrize("step", WRITE_STEPS)
def test_a_crash_at_any_write_step_leaves_the_old_or_the_new_store(
    owner_repo: Repository, store_path: Path, step: str
) -> None:
    owner_repo.create_key(web_draft(name="made before the crash"))
    old_bytes = store_path.read_bytes()
    old = parsed(store_path)
    old_trail = audit_path(store_path).read_bytes()

    assert run_child(store_workers.crash_during_create, str(store_path), OWNER, step) == 137

    new = parsed(store_path)
    if step == "after_replace":
        added = set(new["keys"]) - set(old["keys"])
        assert len(added) == 1
        assert new["keys"][added.pop()]["name"] == "crashed create"
        assert {key: new["keys"][key] for key in old["keys"]} == old["keys"]
        assert temp_files(store_path) == []
    else:
        assert store_path.read_bytes() == old_bytes
        assert audit_path(store_path).read_bytes() == old_trail  # no event for what never was
        assert len(temp_files(store_path)) == 1  # the dead writer's, until the next change

    # The next process reads the store as it is, and its first change removes the temp file.
    after = Repository(store_path, OWNER, clock=fixed_clock)
    assert {view.id for view in after.list_keys()} == set(new["keys"])
    created = after.create_key(web_draft(name="made after the crash"))
    assert temp_files(store_path) == []
    assert set(parsed(store_path)["keys"]) == set(new["keys"]) | {created.key.id}
    # Every key in the store has its create event, the crashed one included (its event
    # travelled in the store file and was appended by the next change), and only once.
    creates = [event.key_id for event in after.history() if event.action == "key.create"]
    assert sorted(creates) == sorted(set(new["keys"]) | {created.key.id})


def test_sigkill_at_random_moments_never_loses_an_acknowledged_key(
    owner_repo: Repository, store_path: Path, tmp_path: Path
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    kills = 18
    acknowledged: set[str] = set()
    unacknowledged_writes = 0
    for kill in range(kills):
        before = set(parsed(store_path)["keys"])
        acknowledgements = tmp_path / f"acknowledged-{kill}.txt"
        child = CONTEXT.Process(
            target=store_workers.create_until_killed,
            args=(str(store_path), OWNER, str(acknowledgements)),
        )
        child.start()
        time.sleep(rng.uniform(0.03, 0.2))
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
        assert child.exitcode == -signal.SIGKILL
        this_round = set(acknowledgements.read_text().split()) if acknowledgements.exists() else set()

        stored = set(parsed(store_path)["keys"])  # parses: never torn
        acknowledged |= this_round
        assert acknowledged <= stored, f"seed {seed}"
        # The kill may land after the file was replaced but before create returned.
        extra = len(stored - before) - len(this_round)
        assert extra in (0, 1), f"seed {seed}"
        unacknowledged_writes += extra

    repo = Repository(store_path, OWNER, clock=fixed_clock)
    repo.create_key(web_draft(name="after the kills"))
    assert temp_files(store_path) == []
    assert len(repo.list_keys()) == len(acknowledged) + unacknowledged_writes + 1
    for line in audit_path(store_path).read_bytes().splitlines():
        orjson.loads(line)  # the trail has no torn line
    print(
        f"\nsigkill: {kills} kills, {len(acknowledged)} keys acknowledged and all present, "
        f"{unacknowledged_writes} written but killed before acknowledging (seed {seed})"
    )


# -- a store that cannot be used ---------------------------------------------------------

def _future_store(store_path: Path) -> bytes:
    data = parsed(store_path)
    data["_meta"]["1"]["schema_version"] = 99
    return orjson.dumps(data)


UNUSABLE: dict[str, Callable[[Path], bytes]] = {
    "not-json": lambda _: b'{"_meta": {"1": {"schema_version": 1}},\n "keys": {oops',
    "not-utf8": lambda _: b"\xff\xfe\x00{",
    "empty": lambda _: b"",
    "blank": lambda _: b" \n\t\n",
    "json-list": lambda _: b"[]",
    "json-null": lambda _: b"null",
    "json-string": lambda _: b'"store"',
    "other-json-object": lambda _: b'{"_default": {"1": {"name": "a TinyDB file"}}}',
    "no-keys-table": lambda _: b'{"_meta": {"1": {"schema_version": 1}}, "projects": {}, "members": {}}',
    "future-version": _future_store,
}

OPERATIONS: dict[str, Callable[[Repository], object]] = {
    "list_keys": lambda repo: repo.list_keys(),
    "verify": lambda repo: repo.verify(tokens.generate_secret("web"), origin="https://a.example"),
    "get_key": lambda repo: repo.get_key("key_0000000000"),
    "history": lambda repo: repo.history(),
    "list_projects": lambda repo: repo.list_projects(),
    "create_key": lambda repo: repo.create_key(web_draft()),
    "add_project": lambda repo: repo.add_project("Another"),
    "revoke_keys": lambda repo: repo.revoke_keys(["key_0000000000"]),
    "add_member": lambda repo: repo.add_member("bob", "developer"),
    "open_or_create": lambda repo: repo.open_or_create(),
}


@pytest.mark.parametrize("content", UNUSABLE)
def test_an_unusable_store_is_refused_in_one_line_and_left_as_it_is(
    owner_repo: Repository, store_path: Path, content: str
) -> None:
    bad = UNUSABLE[content](store_path)
    store_path.write_bytes(bad)
    trail = audit_path(store_path).read_bytes()
    for name, operation in OPERATIONS.items():
        # A fresh process, and the long-lived one that had the good file cached.
        for repo in (Repository(store_path, OWNER, clock=fixed_clock), owner_repo):
            with pytest.raises(StoreUnusable) as refused:
                operation(repo)
            message = str(refused.value)
            assert "\n" not in message, name
            assert str(store_path) in message, name
            assert "not changed" in message, name
            assert store_path.read_bytes() == bad, name
    assert audit_path(store_path).read_bytes() == trail
    assert temp_files(store_path) == []


def test_the_refusals_say_what_is_wrong(owner_repo: Repository, store_path: Path) -> None:
    future = _future_store(store_path)
    cases = {
        b'{"_meta": {\n  "1": oops}': "is not valid JSON (line 2, column 8)",
        b"": "is empty",
        b"[]": "is not an apikeys store",
        future: "has schema version 99, but this apikeys knows versions up to 2: upgrade apikeys",
    }
    for content, expected in cases.items():
        store_path.write_bytes(content)
        with pytest.raises(StoreUnusable, match=expected.replace("(", r"\(").replace(")", r"\)")):
            Repository(store_path, OWNER).list_keys()
