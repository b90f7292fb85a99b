"""How long one revoke takes on a store of many keys (a figure, not a test).

    python scripts/measure_revoke.py [--keys 10000] [--repeat 5]

Builds a store in a temporary folder: one key made through the API, then copies of its record
with new ids, secrets and hashes, written in one transaction. Then it times ``revoke_keys`` of
single keys in a warm, long-lived Repository (as the UI holds one) and prints the median.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from store import tokens
from store.repository import Repository


def build_store(path: Path, count: int) -> list[str]:
    """A store of ``count`` Web keys owned by ``alice``; returns their ids."""
    repo = Repository(path, "alice")
    repo.initialise("Measurement Org")
    repo.add_project("Storefront", deployed=True)
    template = repo.create_key({
        "name": "template", "scope": "web", "project_id": "Storefront",
        "web": {"domains": ["https://shop.example.com"]},
    }).key.id
    with repo.storage.transaction() as transaction:
        record = transaction.keys[template]
        for number in range(count - 1):
            secret = tokens.generate_secret("web")
            key_id = tokens.new_key_id()
            transaction.keys[key_id] = {
                **record, "id": key_id, "name": f"key {number}", "secret": secret,
                "secret_hash": tokens.hash_secret(secret), "key_prefix": tokens.key_prefix(secret),
            }
        transaction.changed()
        return list(transaction.keys)


def main(argv: list[str] | None = None) -> None:
    """Build the store, time the revokes, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store.json"
        started = time.perf_counter()
        ids = build_store(path, args.keys)
        built = time.perf_counter() - started
        repo = Repository(path, "alice")
        repo.list_keys()  # warm, as the UI is once it shows the table
        timings = []
        for key_id in random.sample(ids, args.repeat):
            started = time.perf_counter()
            repo.revoke_keys([key_id])
            timings.append(time.perf_counter() - started)
        size = path.stat().st_size
    ms = sorted(seconds * 1000 for seconds in timings)
    print(
        f"revoke of one key at {args.keys:,} keys ({size / 1e6:.1f} MB store, built in "
        f"{built:.2f} s): median {statistics.median(ms):.1f} ms over {args.repeat} "
        f"(min {ms[0]:.1f}, max {ms[-1]:.1f}) on Python {sys.version.split()[0]}"
    )


if __name__ == "__main__":
    main()
