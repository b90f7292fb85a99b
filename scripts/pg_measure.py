"""Measure the PostgreSQL backend at scale (not a test: figures for the README and benchmark).

    .venv/bin/python scripts/pg_measure.py [--keys 1000000] [--url postgresql://…]

Without ``--url`` it starts a throwaway server from the installed binaries (as
tests/support/pg_server.py does, fsync off) and removes it afterwards. Prints one line per
figure: the bulk seed (COPY, indexes rebuilt), the first window and a deep one per sort order,
keyset paging, counts, word filters (pg_trgm) and verify lookups per second.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from benchmark_pg import timed_ms  # noqa: E402  (scripts/ is this script's folder)

from store.backend import KeyQuery, KeySort  # noqa: E402
from store.backends.bulk import seed_bulk  # noqa: E402
from store.backends.postgres import PostgresBackend  # noqa: E402

WINDOW = 60  # rows: about what one screen of the key list shows


def timed(action, repeat: int = 7) -> float:
    """The median wall time of ``action`` in milliseconds (after one warm-up run)."""
    return timed_ms(action, repeat)


def measure(url: str, keys: int) -> None:
    """Seed ``keys`` keys into the empty database at ``url`` and print the figures."""
    start = time.perf_counter()
    backend = seed_bulk(url, keys=keys, seed=1)
    seeded = time.perf_counter() - start
    print(f"seed {keys:,} keys (COPY + index rebuild + ANALYZE): {seeded:.1f} s", flush=True)

    total = backend.count(KeyQuery())
    for sort in KeySort:
        query = KeyQuery(sort=sort)
        first = timed(partial(backend.window, query, 0, WINDOW))
        deep = timed(partial(backend.window, query, total // 2, WINDOW), repeat=3)
        anchor = backend.window(query, total // 2, 1)[0]["id"]
        keyset = timed(partial(backend.window, query, 0, WINDOW, after=anchor))
        print(f"window {sort.value:<12} first {first:6.1f} ms · offset {total // 2:,} {deep:7.1f} ms · "
              f"keyset at the same place {keyset:5.1f} ms", flush=True)
    developer = KeyQuery(created_by="tnguyen")
    own = timed(lambda: backend.window(developer, 0, WINDOW))
    print(f"window developer's own keys {own:.1f} ms", flush=True)
    print(f"count all {timed(lambda: backend.count(KeyQuery()), repeat=3):.1f} ms", flush=True)
    not_revoked = KeyQuery(include_revoked=False)
    print(f"count not revoked {timed(lambda: backend.count(not_revoked), repeat=3):.1f} ms", flush=True)
    print(f"count not revoked, up to 10,000 "
          f"{timed(lambda: backend.count(not_revoked, at_most=10_000)):.1f} ms", flush=True)
    for text in ("checkout", "search bar prod", "kiosk", "key_ab", "no such thing"):
        query = KeyQuery(words=KeyQuery.words_of(text))
        window = timed(partial(backend.window, query, 0, WINDOW), repeat=3)
        count = timed(partial(backend.count, query), repeat=3)
        capped = timed(partial(backend.count, query, at_most=10_000), repeat=3)
        print(f"filter {text!r:<18} window {window:7.1f} ms · count {count:7.1f} ms · "
              f"count up to 10,000 {capped:6.1f} ms "
              f"({backend.count(query):,} keys)", flush=True)
    key_id = backend.window(KeyQuery(), total // 3, 1)[0]["id"]
    position = timed(lambda: backend.position(KeyQuery(), key_id), repeat=3)
    print(f"position of a key (cursor kept) {position:.1f} ms", flush=True)

    hashes = [r["secret_hash"] for r in backend.window(KeyQuery(sort=KeySort.LAST_USED), 0, 2000)]
    hashes += ["0" * 64] * 200  # unknown secrets cost a second lookup (the previous-hash index)
    random.Random(2).shuffle(hashes)
    start = time.perf_counter()
    for digest in hashes:
        backend.key_by_hash(digest)
    elapsed = time.perf_counter() - start
    print(f"verify lookups (one session, sequential): {len(hashes) / elapsed:,.0f} per second", flush=True)
    change_ms = timed(lambda: _one_change(backend, key_id), repeat=5)
    print(f"one change (row lock, update, audit row, NOTIFY, commit): {change_ms:.1f} ms", flush=True)


def _one_change(backend: PostgresBackend, key_id: str) -> None:
    from store.models import AuditEvent, to_iso, utc_now
    from store.repository import stamped

    now = to_iso(utc_now())
    with backend.transaction() as transaction:
        record = transaction.keys[key_id]
        transaction.keys[key_id] = stamped(record, now, "bench", name=record["name"])
        transaction.changed()
        transaction.record_events([AuditEvent(at=now, actor="bench", action="key.edit", key_id=key_id)])


def main() -> None:
    """Parse the arguments, start a server if needed, measure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--url", help="an empty database (default: a throwaway server)")
    args = parser.parse_args()
    if args.url:
        measure(args.url, args.keys)
        return
    from support.pg_server import PgServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        sys.exit("no PostgreSQL server binaries (initdb) installed")
    server = PgServer(bindir)
    try:
        server.start()
        measure(server.conninfo(server.new_database("measure")), args.keys)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
