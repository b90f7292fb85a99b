"""The floor app of SPEC §7: the least any Textual program must do to show a store's keys.

    python scripts/floor_app.py STORE.json            # one screenful of the newest keys
    python scripts/floor_app.py STORE.json --every    # the stock DataTable with every key
    python scripts/floor_app.py STORE.json --gc-paused  # parse with the cyclic collector paused

It imports Textual, parses the whole store file with ``orjson`` and paints one screenful of
its newest unrevoked keys (what apikeys shows first) with Textual's stock ``DataTable``. With
``--every`` it adds every unrevoked key instead, newest first: the stock table's own cost.
With ``--gc-paused`` the parse runs with the cyclic garbage collector paused (the plain
floor pays for the collector rescanning millions of new objects: ~3× the parse at 100k keys),
a stricter floor. ``scripts/benchmark.py`` runs them in a real terminal next to apikeys. Press q to quit.
"""

from __future__ import annotations

import gc
import heapq
import sys
from pathlib import Path

import orjson
from textual.app import App, ComposeResult
from textual.widgets import DataTable

COLUMNS = ("Name", "Scope", "Project", "Key", "Created", "Status")
SCREENFUL = 24


def newest_rows(path: Path, every: bool, gc_paused: bool = False) -> list[tuple[str, ...]]:
    """Parse the whole store; the newest unrevoked keys as plain cells (a screenful, or all)."""
    if gc_paused:
        gc.disable()
    data = orjson.loads(path.read_bytes())
    if gc_paused:
        gc.freeze()  # the parsed store is long-lived: no collection rescans it later
        gc.enable()
    projects = {pid: p.get("name", pid) for pid, p in data["projects"].items()}
    shown = (r for r in data["keys"].values() if r.get("status") != "revoked")
    created = lambda record: record["created_at"]  # noqa: E731 - a sort key
    if every:
        records = sorted(shown, key=created, reverse=True)
    else:
        records = heapq.nlargest(SCREENFUL, shown, key=created)
    return [
        (r["name"], r["scope"], projects.get(r.get("project_id"), "All organization projects"),
         r["key_prefix"] + "•••", r["created_at"][:10], r["status"])
        for r in records
    ]


class FloorApp(App[None]):
    """A stock DataTable of the given rows."""

    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, rows: list[tuple[str, ...]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        """Only the table."""
        yield DataTable()

    def on_mount(self) -> None:
        """Fill the table."""
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        table.add_rows(self.rows)


def main() -> int:
    """Parse the store named on the command line and show it."""
    arguments = sys.argv[1:]
    flags = {"--every", "--gc-paused"}
    paths = [argument for argument in arguments if argument not in flags]
    if len(paths) != 1:
        print("usage: floor_app.py STORE.json [--every] [--gc-paused]", file=sys.stderr)
        return 2
    FloorApp(newest_rows(Path(paths[0]), "--every" in arguments, "--gc-paused" in arguments)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
