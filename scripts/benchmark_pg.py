"""The PostgreSQL rows of the benchmark (issue 10, SPEC §7 and §10): a million keys.

    python scripts/benchmark.py --postgres 1000000            # these rows, from benchmark.py
    python scripts/benchmark_pg.py --keys 1000000 [--rounds 3] [--url postgresql://…]
    python scripts/benchmark_pg.py --keys 20000 --migrate 5000  # a quick run

Without ``--url`` a throwaway server is started from the installed binaries (as the tests
do: a Unix socket, no TCP, fsync off) and removed afterwards. Measured:

* **seed**: ``apikeys demo --keys N --seed-only --store URL`` in a tmux pane (COPY, indexes
  rebuilt, ANALYZE), to the line that says it is done; whether its progress line showed.
* **first paint**: ``apikeys --store URL`` spawned in an 80×24 tmux pane (benchmark.py's
  :class:`Terminal`), to the newest unrevoked key's row on it.
* **scroll, sort, filter keystroke**: a key sent to that pane (PageDown; ``s``; each letter
  of a word after ``/``) to the moment the table on the pane changes (its rows or its
  summary line): what a person sees, whatever the UI does in between.
* **UI memory**: the UI process's peak resident size (VmHWM) after the scripted session of
  benchmark.py (End, a two-word filter, escape, a re-sort).
* **in process**: one change through the repository (row lock, update, audit row, NOTIFY,
  commit), verify with usage counted, and the SQL itself (first window per sort, a keyset
  window deep down, counts, word filters) on a connection of this process.
* **migrate**: a demo file store of ``--migrate`` keys to PostgreSQL (COPY) and back.

Nothing here is a pass/fail test; figures are medians.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))

TARGETS = {"first_paint": 1.0, "keystroke": 0.1, "memory": 150, "seed": 120.0}
ROW = re.compile(r"\b(?:web|mob|ana)_[0-9A-Za-z]{4}")
FILTER_WORD = "checkout"
WINDOW = 60  # rows: about a screenful and a half


# -- a server --------------------------------------------------------------------------------

@contextmanager
def throwaway_server() -> Iterator[Any]:
    """A PostgreSQL server in a temp folder (tests/support/pg_server.py), stopped after."""
    from support.pg_server import PgServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("no PostgreSQL server binaries (initdb) installed")
    server = PgServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def apikeys_command() -> list[str]:
    """The installed ``apikeys`` next to this interpreter (or the module through it)."""
    script = Path(sys.executable).with_name("apikeys")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from tui.cli import main; sys.exit(main())"]


# -- in the terminal -------------------------------------------------------------------------

def table_state(screen: str) -> tuple[str, ...]:
    """What of the pane belongs to the table: its rows (lines with a key prefix) and the
    summary line (``N of M keys · sorted by …``)."""
    return tuple(line for line in screen.splitlines() if ROW.search(line) or "sorted by" in line)


def until_changed(terminal: Any, send: Callable[[], None], timeout: float = 3.0) -> float | None:
    """Seconds from ``send()`` to a change of the table on the pane; None if it never changed."""
    before = table_state(terminal.screen())
    start = time.perf_counter()
    send()
    while time.perf_counter() - start < timeout:
        if table_state(terminal.screen()) != before:
            return time.perf_counter() - start
        time.sleep(0.005)
    return None


def seed_in_terminal(terminal: Any, url: str, keys: int) -> dict[str, Any]:
    """``apikeys demo --keys N --seed-only`` in a pane: seconds to its last line, and whether
    the progress line showed meanwhile."""
    import shlex

    line = " ".join(shlex.quote(part) for part in [
        *apikeys_command(), "demo", "--keys", str(keys), "--seed-only", "--store", url,
    ])
    start = time.perf_counter()
    terminal.spawn(["sh", "-c", f"{line}; echo EXIT=$?; sleep 100000"])
    progress = False
    text = ""
    try:
        while time.perf_counter() - start < 1800:
            text = terminal.screen()
            progress = progress or "Seeding the demo store:" in text
            if "EXIT=" in text:
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - start
    finally:
        terminal.close_run()
    if "EXIT=0" not in text:
        raise SystemExit(f"the demo seed failed; the pane showed:\n{text}")
    return {"seconds": seconds, "progress": progress}


def ui_figures(terminal: Any, url: str, needle: str, rounds: int) -> dict[str, Any]:
    """First paint (``rounds`` spawns); then, in the last one, scroll, sort, filter
    keystrokes and the scripted session's peak memory."""
    from benchmark import scripted_session, wait_until_idle, watch

    paints: list[float | None] = []
    frames: list[float | None] = []
    figures: dict[str, Any] = {}
    for round_number in range(rounds):
        paint = watch(terminal, [*apikeys_command(), "--store", url], needle)
        paints.append(paint.rows)
        frames.append(paint.first_frame)
        if round_number == rounds - 1 and paint.rows is not None:
            pid = terminal.pid()
            wait_until_idle(pid)
            figures.update(keystroke_figures(terminal, pid))
            terminal.close_run()
            time.sleep(0.3)
            if watch(terminal, [*apikeys_command(), "--store", url], needle).rows is not None:
                figures.update(scripted_session(terminal))
        terminal.close_run()
        time.sleep(0.3)
    figures["first_paint"] = _median(paints)
    figures["first_frame"] = _median(frames)
    return figures


def keystroke_figures(terminal: Any, pid: int) -> dict[str, Any]:
    """PageDown ×5, ``s`` through every order, the letters of a word after ``/``, escape:
    each to the table's change on the pane (the UI idle before each key)."""
    from benchmark import wait_until_idle

    def press(*keys: str, literal: bool = False) -> float | None:
        wait_until_idle(pid, quiet=0.3)
        return until_changed(terminal, lambda: terminal.keys(*keys, literal=literal))

    def type_letter(letter: str) -> tuple[float | None, float | None]:
        wait_until_idle(pid, quiet=0.3)
        return rows_then_count(terminal, letter)

    scroll = [press("PageDown") for _ in range(5)]
    sort = [press("s", literal=True) for _ in range(4)]
    terminal.keys("/", literal=True)
    typed = [type_letter(letter) for letter in FILTER_WORD]
    clear = press("Escape")
    return {"scroll": scroll, "sort": sort, "filter": [rows for rows, _count in typed],
            "filter_count": [count for _rows, count in typed], "clear": clear}


def rows_then_count(terminal: Any, letter: str, quiet: float = 0.6, timeout: float = 3.0,
                    ) -> tuple[float | None, float | None]:
    """Type ``letter``; the seconds until the table's rows last changed (None: the letter
    left them as they were, e.g. ``check`` → ``checko`` shows the same newest keys) and until
    the status line's count last changed (the exact count comes after typing pauses)."""
    before = terminal.screen()
    start = time.perf_counter()
    terminal.keys(letter, literal=True)
    rows_at = count_at = None
    last_change = start
    while time.perf_counter() - last_change < quiet and time.perf_counter() - start < timeout:
        now = terminal.screen()
        if now != before:
            at = time.perf_counter() - start
            if table_rows(now) != table_rows(before):
                rows_at = at
            if table_state(now) != table_state(before):
                count_at = at
            before, last_change = now, time.perf_counter()
        time.sleep(0.005)
    return rows_at, count_at


def table_rows(screen: str) -> tuple[str, ...]:
    """The pane's table rows (lines with a key prefix)."""
    return tuple(line for line in screen.splitlines() if ROW.search(line))


# -- in process ------------------------------------------------------------------------------

def timed_ms(action: Callable[[], object], repeat: int = 5) -> float:
    """The median wall time of ``action`` in ms, after one warm-up call."""
    action()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def sql_figures(url: str) -> list[tuple[str, str]]:
    """The SQL the UI's windows cost, on a connection of this process."""
    from store.backend import KeyQuery, KeySort
    from store.backends.postgres import PostgresBackend

    backend = PostgresBackend(url)
    try:
        total = backend.count(KeyQuery())
        lines = [("count of every key", f"{timed_ms(lambda: backend.count(KeyQuery()), 3):.0f} ms")]
        for sort in KeySort:
            query = KeyQuery(sort=sort, include_revoked=False)
            first = timed_ms(partial(backend.window, query, 0, WINDOW))
            anchor = backend.window(query, total // 2, 1)[0]["id"]
            deep = timed_ms(partial(backend.window, query, 0, WINDOW, after=anchor))
            lines.append((f"window of {WINDOW}, {sort.value}: first / keyset at the middle",
                          f"{first:.1f} / {deep:.1f} ms"))
        for text in ("checkout", "checkout prod", "kiosk web", "expired", "no such thing"):
            query = KeyQuery(words=KeyQuery.words_of(text), include_revoked=False)
            window = timed_ms(partial(backend.window, query, 0, WINDOW), 3)
            capped = timed_ms(partial(backend.count, query, at_most=10_000), 3)
            lines.append((f"filter {text!r}: window / count up to 10,000",
                          f"{window:.1f} / {capped:.1f} ms"))
        return lines
    finally:
        backend.close()


def repository_figures(url: str) -> list[tuple[str, str]]:
    """The repository's lists answered by SQL (issue 10): time and size of the answer."""
    from store.repository import Repository

    repo = Repository(url)
    try:
        lines = []
        for label, action in (
            ("expiring_count() (the main screen's count)", repo.expiring_count),
            ("expiring_within() (warning window)", repo.expiring_within),
            ("find_keys('kiosk expired') (list --find)", lambda: repo.find_keys("kiosk expired")),
            ("find_keys('checkout prod') (list --find)", lambda: repo.find_keys("checkout prod")),
            ("policy_violation_count()", repo.policy_violation_count),
            ("policy_violations()", repo.policy_violations),
        ):
            answer = action()
            size = answer if isinstance(answer, int) else len(answer)  # type: ignore[arg-type]
            lines.append((f"{label}: {size:,}", f"{timed_ms(action, 3):.0f} ms"))
        return lines
    finally:
        repo.close()


def change_and_verify(url: str) -> dict[str, float]:
    """One edit through the repository (median ms) and warm verifies a second (usage counted)."""
    from store.backend import KeyQuery
    from store.repository import Repository

    repo = Repository(url)
    try:
        records = [r for r in repo.backend.window(KeyQuery(include_revoked=False), 0, 3000)
                   if r.get("secret") and r["scope"] == "web"]
        key_id = records[0]["id"]
        names = iter(f"Benchmark rename {n}" for n in range(100))
        edit = timed_ms(lambda: repo.edit_key(key_id, {"name": next(names)}), 11)
        calls = [(r["secret"], r["web"]["domains"][0]) for r in records[:1000]]
        for secret, origin in calls:
            repo.verify(secret, origin=origin)
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < 2.0:
            for secret, origin in calls:
                repo.verify(secret, origin=origin)
            done += len(calls)
        rate = done / (time.perf_counter() - start)
        repo.flush_usage()
        return {"edit_ms": edit, "verify_rate": rate}
    finally:
        repo.close()


def migrate_figures(server: Any, keys: int) -> dict[str, float]:
    """A demo file store of ``keys`` keys into a new database (COPY) and back to a file."""
    from psycopg import sql

    from store import seed
    from store.backends import open_backend
    from store.backends.migrate import migrate

    with server.admin() as connection:  # members of a PostgreSQL store are database roles
        for login, _name, _role in seed.MEMBERS:
            if connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone() is None:
                connection.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(login)))
    folder = Path(tempfile.mkdtemp(prefix="apikeys-bench-migrate-"))
    try:
        source = folder / "store.json"
        seed.seed_demo(source, seed.MEMBERS[0][0], keys=keys, seed=keys).close()
        url = server.conninfo(server.new_database("migrate"))
        figures = {}
        for name, origin, target in (("to_pg", source, url), ("to_file", url, folder / "back.json")):
            source_backend, target_backend = open_backend(origin), open_backend(target)
            start = time.perf_counter()
            try:
                migrate(source_backend, target_backend)
            finally:
                source_backend.close()
                target_backend.close()
            figures[name] = time.perf_counter() - start
        return figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- the whole run ---------------------------------------------------------------------------

def run(keys: int, rounds: int, *, url: str | None = None, server: Any = None,
        migrate_keys: int = 0, with_ui: bool = True) -> list[tuple[str, ...]]:
    """Seed ``keys`` keys (into ``url`` or a new database of ``server``), measure, and
    return the report rows (keys, what, measured, target)."""
    from benchmark import Terminal

    from store.backend import KeyQuery
    from store.backends.postgres import PostgresBackend

    if url is None:
        url = server.conninfo(server.new_database("bench"))
    n = f"{keys:,}"
    rows: list[tuple[str, ...]] = []
    terminal = Terminal()
    try:
        print(f"PostgreSQL, {n} keys: seeding …", file=sys.stderr, flush=True)
        seeded = seed_in_terminal(terminal, url, keys)
        rows.append((n, "seed: apikeys demo (COPY, indexes, VACUUM ANALYZE)", f"{seeded['seconds']:.1f} s",
                     _verdict(seeded["seconds"], TARGETS["seed"], "s")))
        rows.append((n, "  progress line shown while seeding", "yes" if seeded["progress"] else "NO", ""))
        backend = PostgresBackend(url)
        needle = backend.window(KeyQuery(include_revoked=False), 0, 1)[0]["key_prefix"]
        backend.close()
        if with_ui:
            print(f"PostgreSQL, {n} keys: {rounds} rounds in tmux …", file=sys.stderr, flush=True)
            ui = ui_figures(terminal, url, needle, rounds)
            rows += _ui_rows(n, ui)
    finally:
        terminal.close()
    print(f"PostgreSQL, {n} keys: in process …", file=sys.stderr, flush=True)
    measured = change_and_verify(url)
    rows.append((n, "one change (edit: row lock, audit row, NOTIFY)", f"{measured['edit_ms']:.1f} ms", ""))
    # SPEC §7's 50,000/s is the file store's in-process lookup; here each verify is a round
    # trip to the server, so the rate of one process is shown without a verdict.
    rows.append((n, "verify, warm, usage counted (one process, sequential)",
                 f"{measured['verify_rate']:,.0f}/s", ""))
    rows += [(n, f"SQL {what}", figure, "") for what, figure in sql_figures(url)]
    rows += [(n, what, figure, "") for what, figure in repository_figures(url)]
    if migrate_keys and server is not None:
        print(f"migrate {migrate_keys:,} keys …", file=sys.stderr, flush=True)
        moved = migrate_figures(server, migrate_keys)
        m = f"{migrate_keys:,}"
        rows.append((m, "migrate file → PostgreSQL (COPY)", f"{moved['to_pg']:.1f} s", ""))
        rows.append((m, "migrate PostgreSQL → file", f"{moved['to_file']:.1f} s", ""))
    return rows


def _ui_rows(n: str, ui: dict[str, Any]) -> list[tuple[str, ...]]:
    def worst(values: list[float | None] | float | None) -> tuple[str, float | None]:
        present = [v for v in (values if isinstance(values, list) else [values]) if v is not None]
        if not present:
            return "-", None
        missing = (len(values) - len(present)) if isinstance(values, list) else 0
        note = f" ({missing} key{'s' if missing != 1 else ''} left the table as it was)" if missing else ""
        middle, slowest = statistics.median(present) * 1000, max(present) * 1000
        return f"median {middle:.0f} ms, worst {slowest:.0f} ms{note}", max(present)

    rows = [
        (n, "spawn → first non-blank frame (terminal)", _seconds(ui.get("first_frame")), ""),
        (n, "spawn → key rows (terminal)", _seconds(ui.get("first_paint")),
         _verdict(ui.get("first_paint"), TARGETS["first_paint"], "s")),
    ]
    for name, label in (("scroll", "scroll: PageDown → table changed"), ("sort", "sort: s → table changed"),
                        ("filter", f"filter: each letter of {FILTER_WORD!r} → its rows on the pane"),
                        ("clear", "filter cleared: escape → table changed")):
        text, slowest = worst(ui.get(name))
        rows.append((n, label, text, _verdict(slowest, TARGETS["keystroke"], "s")))
        if name == "filter" and ui.get(name):
            each = " · ".join(f"{letter} {'=' if value is None else f'{value * 1000:.0f}'}"
                              for letter, value in zip(FILTER_WORD, ui[name], strict=False))
            rows.append((n, "  letter by letter (ms; =: the rows stayed as they were)", each, ""))
            text, _slowest = worst(ui.get("filter_count"))
            rows.append((n, "  … and its exact count on the status line (typing paused)", text, ""))
    peak = ui.get("peak_mb")
    rows.append((n, "UI peak memory after End, filter, esc, sort", f"{peak:.0f} MB" if peak else "-",
                 _verdict(peak, TARGETS["memory"], "MB")))
    return rows


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _verdict(value: float | None, target: float, unit: str, *, higher: bool = False) -> str:
    if value is None:
        return ""
    ok = value >= target if higher else value <= target
    shown = f"{target:,.0f}" if target >= 10 else f"{target:g}"
    return f"{'≥' if higher else '≤'} {shown} {unit}: {'met' if ok else 'MISSED'}"


def report(keys: int, rounds: int, *, url: str | None = None, migrate_keys: int = 100_000,
           with_ui: bool = True) -> None:
    """Measure (on a throwaway server unless ``url``) and print the PostgreSQL table."""
    from benchmark import print_table

    if url:
        rows = run(keys, rounds, url=url, with_ui=with_ui)
    else:
        with throwaway_server() as server:
            rows = run(keys, rounds, server=server, migrate_keys=migrate_keys, with_ui=with_ui)
    print_table(("keys", "what (PostgreSQL)", "measured", "target"), rows)


def main() -> int:
    """Measure, print the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", help="an empty database (default: a throwaway server)")
    parser.add_argument("--migrate", type=int, default=100_000, metavar="KEYS",
                        help="also migrate a demo file store of KEYS keys and back (0: skip)")
    parser.add_argument("--no-ui", action="store_true", help="skip the terminal (UI) rows")
    args = parser.parse_args()
    report(args.keys, args.rounds, url=args.url, migrate_keys=args.migrate, with_ui=not args.no_ui)
    return 0


if __name__ == "__main__":
    sys.exit(main())
