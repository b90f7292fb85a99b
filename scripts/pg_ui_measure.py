"""Measure the main screen on a PostgreSQL store as a person sees it (not a test).

    .venv/bin/python scripts/pg_ui_measure.py --url postgresql://… [--rounds 3]

The store must exist (e.g. ``apikeys demo --keys 1000000 --seed-only --store URL``). Each round
spawns ``apikeys --store URL`` in a private tmux pane of 80×24 (scripts/benchmark.py's
:class:`Terminal`), and prints: first paint (spawn to key rows on the terminal), then, once the
UI is idle, keystroke to repaint for a scroll (``j``, page down), a re-sort (``s``), End (``G``),
a filter keystroke and its clearing, each as the time until the table's rows last changed
(``rows``) and until the status line's exact count arrived too (``settled``); finally the UI
process's peak memory (VmHWM). Functions are importable (``keystroke``, ``session``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark import Terminal, memory_mb, wait_until_idle, watch  # noqa: E402

POLL = 0.005  # seconds between two reads of the pane
QUIET = 0.6  # seconds without a change that end one keystroke's measurement
ROWS = slice(3, 22)  # the pane's lines of table rows (80×24: header, status, filter, table)


def keystroke(terminal: Terminal, keys: list[str], *, literal: bool = False) -> tuple[float, float]:
    """Type ``keys``; the seconds until the table rows last changed and until anything on
    the pane (the status line's count too) last changed, within :data:`QUIET` of quiet."""
    before = terminal.screen().splitlines()
    start = time.perf_counter()
    terminal.keys(*keys, literal=literal)
    rows_at = settled_at = 0.0
    last_change = start
    while time.perf_counter() - last_change < QUIET:
        now_lines = terminal.screen().splitlines()
        now = time.perf_counter()
        if now_lines != before:
            settled_at = now - start
            if now_lines[ROWS] != before[ROWS]:
                rows_at = now - start
            before, last_change = now_lines, now
        time.sleep(POLL)
    return rows_at, settled_at


def session(terminal: Terminal, url: str, needle: str = "•••") -> dict[str, float]:
    """One spawn: first paint, then each keystroke once idle; peak memory. Leaves it open."""
    paint = watch(terminal, [str(Path(sys.executable).with_name("apikeys")), "--store", url], needle)
    figures = {"first_paint": paint.rows or float("nan")}
    pid = terminal.pid()
    wait_until_idle(pid)
    steps: list[tuple[str, list[str], bool]] = [
        ("scroll j", ["j"], False), ("page down", ["PageDown"], False),
        ("sort s", ["s"], False), ("end G", ["G"], False), ("home g", ["g"], False),
        ("filter /", ["/"], True), ("filter c", ["c"], True), ("filter h", ["h"], True),
        ("filter eckout", ["eckout"], True), ("clear esc", ["Escape"], False),
        ("sort s again", ["s"], False), ("end again", ["End"], False),
    ]
    for name, keys, literal in steps:
        rows, settled = keystroke(terminal, keys, literal=literal)
        figures[f"{name} rows"], figures[f"{name} settled"] = rows, settled
        wait_until_idle(pid)
    figures["VmHWM MB"] = memory_mb(pid)["VmHWM"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the PostgreSQL store (libpq URL)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    terminal = Terminal()
    rounds: list[dict[str, float]] = []
    try:
        for _ in range(args.rounds):
            rounds.append(session(terminal, args.url))
            terminal.close_run()
    finally:
        terminal.close()
    for name in rounds[0]:
        values = [figures[name] for figures in rounds]
        unit = "" if name.endswith("MB") else " ms"
        scale = 1 if name.endswith("MB") else 1000
        shown = ", ".join(f"{value * scale:.0f}" for value in values)
        print(f"{name:22} median {statistics.median(values) * scale:7.0f}{unit}   ({shown})")


if __name__ == "__main__":
    main()
