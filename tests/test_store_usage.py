"""Usage: verify counts valid and refused answers per key and UTC day in batches, never a write
per verify and never waiting for the lock; concurrent verifiers lose no count; a process that
finds the lock busy at exit spools its counts for the next change."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from conftest import FIXED_NOW, OWNER, fixed_clock, web_draft
from store.errors import InvalidInput, NotFound
from store.repository import Repository
from store.usage import KEEP_DAYS, USAGE_TABLE, spool_path
from support import usage_workers
from support.store_workers import CONTEXT

SHOP = "https://shop.example.com"
EVIL = "https://evil.example.com"
ROOT = Path(__file__).resolve().parent.parent


class MovableClock:
    """A clock tests move forward by hand."""

    def __init__(self) -> None:
        self.now = FIXED_NOW

    def __call__(self):
        return self.now


def count_writes(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    writes = [0]
    write = repo.storage._write_atomically

    def counted(*args, **kwargs):
        writes[0] += 1
        return write(*args, **kwargs)

    monkeypatch.setattr(repo.storage, "_write_atomically", counted)
    return writes


@pytest.fixture
def shop_key(owner_repo: Repository):
    created = owner_repo.create_key(web_draft())
    return created.key.id, created.secret.get_secret_value()


def test_answers_are_counted_per_utc_day_with_the_last_origin_and_ip(
    owner_repo: Repository, store_path: Path, shop_key
) -> None:
    key_id, secret = shop_key
    clock = MovableClock()
    verifier = Repository(store_path, "a-service", clock=clock)
    clock.now = FIXED_NOW - timedelta(days=2)
    for _ in range(3):
        assert verifier.verify(secret, origin=SHOP, ip="192.0.2.7").valid
    assert not verifier.verify(secret, origin=EVIL).valid
    clock.now = FIXED_NOW
    assert verifier.verify(secret, origin=SHOP, ip="192.0.2.8").valid
    assert not verifier.verify(secret, origin=EVIL, ip="203.0.113.9").valid
    assert not verifier.verify("web_" + "A" * 38).valid  # malformed: no key to count
    verifier.flush_usage()

    usage = owner_repo.usage(key_id, days=7)
    assert [day.date for day in usage.days] == [
        "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30", "2026-12-01",
    ]
    assert [(day.valid, day.refused) for day in usage.days] == [
        (0, 0), (0, 0), (0, 0), (0, 0), (3, 1), (0, 0), (1, 1),
    ]
    assert (usage.valid, usage.refused) == (4, 2)
    assert usage.last_used_at == "2026-12-01T09:30:00Z"
    assert (usage.last_used_origin, usage.last_used_ip) == (SHOP, "192.0.2.8")  # a refusal is not a use
    assert usage.public_dict() == {
        "key_id": key_id, "days": [day.model_dump() for day in usage.days],
        "last_used_at": "2026-12-01T09:30:00Z", "last_used_origin": SHOP, "last_used_ip": "192.0.2.8",
    }
    assert len(owner_repo.usage(key_id).days) == 30


def test_usage_writes_keep_key_records_small_and_their_revision(
    owner_repo: Repository, store_path: Path, shop_key
) -> None:
    key_id, secret = shop_key
    verifier = Repository(store_path, "a-service", clock=fixed_clock)
    for _ in range(5):
        verifier.verify(secret, origin=SHOP, ip="192.0.2.7")
    verifier.flush_usage()
    data = orjson.loads(store_path.read_bytes())
    record = data["keys"][key_id]
    assert record["revision"] == 1 and record["updated_at"] == record["created_at"]
    assert set(record) - set(owner_repo.storage.current()["keys"][key_id]) == set()
    assert "days" not in record and "origin" not in record
    assert data[USAGE_TABLE][key_id]["days"] == {"2026-12-01": [5, 0]}
    assert [event.action for event in owner_repo.history(key_id)] == ["key.create"]  # not an edit


def test_ten_thousand_verifies_of_one_key_cause_two_writes(
    owner_repo: Repository, store_path: Path, shop_key, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_id, secret = shop_key
    verifier = Repository(store_path, "a-service", clock=fixed_clock)
    writes = count_writes(verifier, monkeypatch)
    for _ in range(10_000):
        verifier.verify(secret, origin=SHOP)
    # The first verify of a process writes at once; the rest wait for the next batch (a
    # minute later) or, as here, the flush a process makes before it exits.
    assert writes[0] == 1
    verifier.flush_usage()
    assert writes[0] == 2
    assert owner_repo.usage(key_id).valid == 10_000


def test_a_change_writes_the_usage_noted_before_it(
    owner_repo: Repository, store_path: Path, shop_key
) -> None:
    key_id, secret = shop_key
    repo = Repository(store_path, OWNER, clock=fixed_clock)
    repo.usage_recorder.next_flush_at = float("inf")
    for _ in range(7):
        repo.verify(secret, origin=SHOP)
    assert owner_repo.usage(key_id).valid == 0
    repo.add_project("Another")
    assert not repo.usage_recorder.pending()
    assert owner_repo.usage(key_id).valid == 7


def test_usage_rules_are_those_of_viewing_the_key(owner_repo: Repository, store_path: Path, shop_key) -> None:
    key_id, _ = shop_key
    owner_repo.add_member("dave", "developer")
    owner_repo.add_member("ann", "analytics")
    with pytest.raises(NotFound):
        Repository(store_path, "dave", clock=fixed_clock).usage(key_id)
    assert Repository(store_path, "ann", clock=fixed_clock).usage(key_id).key_id == key_id
    for days in (0, KEEP_DAYS + 1, -3):
        with pytest.raises(InvalidInput):
            owner_repo.usage(key_id, days=days)


def test_days_older_than_ninety_are_dropped(owner_repo: Repository, store_path: Path, shop_key) -> None:
    key_id, secret = shop_key
    clock = MovableClock()
    verifier = Repository(store_path, "a-service", clock=clock)
    clock.now = FIXED_NOW - timedelta(days=120)
    verifier.verify(secret, origin=SHOP)
    verifier.flush_usage()
    clock.now = FIXED_NOW
    verifier.verify(secret, origin=SHOP)
    verifier.flush_usage()
    stored = orjson.loads(store_path.read_bytes())[USAGE_TABLE][key_id]["days"]
    assert stored == {"2026-12-01": [1, 0]}


def test_a_hand_edited_usage_table_never_breaks_verify_or_usage(
    owner_repo: Repository, store_path: Path, shop_key
) -> None:
    key_id, secret = shop_key
    data = orjson.loads(store_path.read_bytes())
    days = {"2026-12-01": [True, "x"], "nonsense": [1, 2], "2026-11-30": [2, 1]}
    data[USAGE_TABLE] = {key_id: {"days": days, "seen": 5, "origin": ["x"]}, "key_gone": "junk"}
    store_path.write_bytes(orjson.dumps(data))
    verifier = Repository(store_path, "a-service", clock=fixed_clock)
    assert verifier.verify(secret, origin=SHOP).valid
    verifier.flush_usage()
    usage = owner_repo.usage(key_id, days=2)
    assert [(d.date, d.valid, d.refused) for d in usage.days] == [("2026-11-30", 2, 1), ("2026-12-01", 1, 0)]


# -- concurrency and the lock ---------------------------------------------------------------


def test_two_processes_verifying_at_once_lose_no_count(
    owner_repo: Repository, store_path: Path, shop_key
) -> None:
    key_id, secret = shop_key
    count = 6000  # each: 4,000 valid and 2,000 refused
    barrier = CONTEXT.Barrier(3)
    children = [
        CONTEXT.Process(target=usage_workers.verify_many, args=(str(store_path), secret, count, barrier))
        for _ in range(2)
    ]
    children.append(CONTEXT.Process(
        target=usage_workers.change_while_others_verify, args=(str(store_path), OWNER, 15, barrier)
    ))
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=120)
        assert child.exitcode == 0
    owner_repo.add_project("Folds any spooled counts in")
    # The children count by the real clock, so the window is the real clock's.
    usage = Repository(store_path, OWNER).usage(key_id, days=2)
    assert (usage.valid, usage.refused) == (2 * 4000, 2 * 2000)


@pytest.fixture
def stopped_lock_holder(store_path: Path):
    """Another real process that took the store's lock and was then stopped (SIGSTOP)."""
    code = (
        "import fcntl, os, signal, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGSTOP)\n"
    )
    lock = store_path.with_name(store_path.name + ".lock")
    holder = subprocess.Popen([sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)


def run_cli(store_path: Path, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *argv, "--store", str(store_path)],
        input=stdin, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )


def test_verify_does_not_wait_for_a_lock_held_by_a_stopped_process_and_spools_its_count(
    owner_repo: Repository, store_path: Path, shop_key, stopped_lock_holder
) -> None:
    key_id, secret = shop_key
    for origin, answer in ((SHOP, 0), (SHOP, 0), (EVIL, 1)):
        started = time.monotonic()
        done = run_cli(store_path, "verify", "-", "--origin", origin, stdin=secret + "\n")
        # A behavioural bound, not a speed claim: each verify (a whole process, started on a
        # busy machine) is done well before one LOCK_TIMEOUT (15 s) of waiting for the lock.
        assert time.monotonic() - started < 5
        assert done.returncode == answer, done.stderr
    assert done.stdout.startswith("refused")
    spool = spool_path(store_path)
    assert len(spool.read_bytes().splitlines()) == 3
    assert secret not in spool.read_text()
    assert stat.S_IMODE(spool.stat().st_mode) == stat.S_IMODE(store_path.stat().st_mode)
    # Read from the store plus the spool not folded yet: exact already (the children count
    # by the real clock, so the window is the real clock's).
    usage = Repository(store_path, OWNER).usage(key_id, days=2)
    assert (usage.valid, usage.refused) == (2, 1)


def test_the_next_change_folds_the_spool_in_exactly_once(
    owner_repo: Repository, store_path: Path, shop_key
) -> None:
    key_id, secret = shop_key
    busy = Repository(store_path, "a-service", clock=fixed_clock)
    busy.usage_recorder.next_flush_at = float("inf")
    for _ in range(4):
        busy.verify(secret, origin=SHOP, ip="192.0.2.1")
    assert busy.usage_recorder.spool()  # what a verify at exit does when the lock is busy
    assert not busy.usage_recorder.pending()
    spool = spool_path(store_path)
    assert spool.exists()

    owner_repo.add_project("One")
    assert owner_repo.usage(key_id).valid == 4
    assert orjson.loads(store_path.read_bytes())[USAGE_TABLE][key_id]["days"] == {"2026-12-01": [4, 0]}
    owner_repo.add_project("Two")  # folded before: removed now, never counted twice
    assert not spool.exists()
    owner_repo.add_project("Three")
    assert owner_repo.usage(key_id).valid == 4
    assert owner_repo.usage(key_id).last_used_ip == "192.0.2.1"


def test_a_spool_folded_but_not_removed_before_a_crash_is_not_counted_again(
    owner_repo: Repository, store_path: Path, shop_key, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_id, secret = shop_key
    busy = Repository(store_path, "a-service", clock=fixed_clock)
    busy.usage_recorder.next_flush_at = float("inf")
    busy.verify(secret, origin=SHOP)
    busy.usage_recorder.spool()
    owner_repo.add_project("Folds it")
    # Appended after the fold: only this line is new to the store.
    busy.verify(secret, origin=SHOP)
    busy.usage_recorder.spool()
    fresh = Repository(store_path, OWNER, clock=fixed_clock)  # another process, say after a crash
    fresh.add_project("Folds the rest")
    assert owner_repo.usage(key_id).valid == 2


def test_a_planted_symlink_is_never_followed_by_the_spool(
    owner_repo: Repository, store_path: Path, shop_key, tmp_path: Path
) -> None:
    key_id, secret = shop_key
    target = tmp_path / "victim.rc"
    target.write_text("precious\n")
    spool_path(store_path).symlink_to(target)
    busy = Repository(store_path, "a-service", clock=fixed_clock)
    busy.usage_recorder.next_flush_at = float("inf")
    busy.verify(secret, origin=SHOP)
    assert not busy.usage_recorder.spool()
    assert target.read_text() == "precious\n"
    assert busy.usage_recorder.pending()  # kept for a later write to the store
    busy.flush_usage()
    assert owner_repo.usage(key_id).valid == 1
    assert target.read_text() == "precious\n"


def test_a_read_only_store_never_fails_a_verify(owner_repo: Repository, store_path: Path, shop_key) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    _, secret = shop_key
    store_path.parent.chmod(0o500)
    try:
        verifier = Repository(store_path, "a-service", clock=fixed_clock)
        assert verifier.verify(secret, origin=SHOP).valid
        assert verifier.flush_usage() is False
    finally:
        store_path.parent.chmod(0o700)
