"""Benchmark apikeys at 1,000, 10,000 and 100,000 keys, next to the references of SPEC §7.

    python scripts/benchmark.py                 # all sizes (stock DataTable at 100k takes ~30 s)
    python scripts/benchmark.py --sizes 1000,10000 --skip-stock-above 10000

Prints one table. Every figure is a median of several runs measured in this one run, and the
references (Textual's stock DataTable filled with the same rows; reading + parsing the store
file; TinyDB's stock JSONStorage updating one document) are measured side by side, so the
ratios mean something on a noisy shared machine. Nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = {  # SPEC §7, by size where it differs
    "first_paint": {10_000: 0.4, 100_000: 1.0},
    "resort": 0.1,
    "filter": 0.1,
    "change": {10_000: 0.020, 100_000: 0.150},
    "verify": 50_000,
    "memory": {100_000: 300},
}
COLUMNS = ("Name", "Scope", "Project", "Key", "Created", "Created by", "Status")


# -- child processes: start to first painted table ---------------------------------------

def child_ours(path: str, t0: float) -> None:
    """Open apikeys headless on ``path``; report when the loaded table was first painted."""
    from tui.app import make_app
    from tui.screens.key_list import KeyListScreen

    shown = KeyListScreen.show

    def report_after_paint(screen: KeyListScreen, result: object) -> None:
        shown(screen, result)  # type: ignore[arg-type]

        def painted() -> None:
            seconds, rows = time.time() - t0, screen.table.row_count

            async def settled() -> None:
                # Peak memory with the UI open and settled: the other sort orders and the
                # filter's search texts are built in the background right after the paint.
                await screen.app.workers.wait_for_complete()
                figures = {"seconds": seconds, "rows": rows, "peak_mb": peak_memory_mb()}
                print(json.dumps(figures))
                screen.app.exit()

            screen.set_timer(0.5, settled)

        screen.call_after_refresh(painted)

    KeyListScreen.show = report_after_paint  # type: ignore[method-assign, assignment]
    make_app(path).run(headless=True, size=(80, 24))


def child_stock(path: str, t0: float) -> None:
    """Textual's stock DataTable filled with the same rows from the same file."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    class StockTable(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()

        def on_mount(self) -> None:
            data = orjson.loads(Path(path).read_bytes())
            projects = {pid: p["name"] for pid, p in data["projects"].items()}
            table = self.query_one(DataTable)
            table.add_columns(*COLUMNS)
            table.add_rows(stock_rows(data["keys"].values(), projects))
            self.call_after_refresh(self.done)

        def done(self) -> None:
            rows = self.query_one(DataTable).row_count
            print(json.dumps({"seconds": time.time() - t0, "rows": rows, "peak_mb": peak_memory_mb()}))
            self.exit()

    StockTable().run(headless=True, size=(80, 24))


def peak_memory_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB.

    Not ``ru_maxrss``: Linux carries that across fork and exec, so a child spawned by this
    benchmark (which holds a seeded 100k store) would report the parent's size.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stock_rows(records, projects) -> list[tuple[str, ...]]:
    """The same cells our table shows, as plain strings for the stock DataTable."""
    return [
        (r["name"], r["scope"], projects.get(r.get("project_id"), "All organization projects"),
         r["key_prefix"] + "•••", r["created_at"][:10], r["created_by"], r["status"])
        for r in records
    ]


def spawn(kind: str, path: Path) -> dict:
    """Run a child from a fresh interpreter; its clock starts just before the spawn."""
    t0 = time.time()
    output = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path), repr(t0)],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"child {kind} printed no figure: {output[-500:]!r}")


# -- in-process figures ----------------------------------------------------------------------

def median_time(function, runs: int) -> float:
    """Median wall time of ``function()`` over ``runs`` runs."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def parse_reference(path: Path, runs: int) -> float:
    """Reading + ``orjson.loads`` of the store file."""
    return median_time(lambda: orjson.loads(path.read_bytes()), runs)


async def table_figures(path: Path, login: str, runs: int) -> dict:
    """Re-sort and filter-as-you-type on the running app, each until the next repaint."""
    from tui.app import make_app

    app = make_app(path, login)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(200):
            await pilot.pause(0.05)
            if getattr(app.screen, "index", None) is not None:
                break
        # An admin reads the first screen before pressing a key: by then the other sort
        # orders and the search texts are ready (they are prepared right after the paint).
        await app.workers.wait_for_complete()
        screen = app.screen

        async def until_painted(action) -> float:
            painted = asyncio.get_running_loop().create_future()
            start = time.perf_counter()
            action()
            screen.call_after_refresh(lambda: painted.done() or painted.set_result(None))
            await painted
            return time.perf_counter() - start

        resort = []
        for _ in range(runs * 3):  # each press moves to the next order: every order, cold and warm
            resort.append(await until_painted(screen.action_cycle_sort))
        screen.action_start_filter()
        box = screen.query_one("#filter")
        keystrokes = []
        for _ in range(runs):
            for text in ("c", "ch", "che", "chec", "check", "checko", "checkout", "checkout w"):
                keystrokes.append(await until_painted(lambda text=text: setattr(box, "value", text)))
            keystrokes.append(await until_painted(lambda: setattr(box, "value", "")))
            keystrokes.append(await until_painted(lambda: setattr(box, "value", "analytics")))
            keystrokes.append(await until_painted(lambda: setattr(box, "value", "")))
        return {"resort_max": max(resort), "resort_median": statistics.median(resort),
                "filter_max": max(keystrokes), "filter_median": statistics.median(keystrokes)}


async def stock_refill(path: Path) -> float:
    """The stock DataTable's clear + re-add of every row (what a re-sort or filter costs it)."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    data = orjson.loads(path.read_bytes())
    projects = {pid: p["name"] for pid, p in data["projects"].items()}
    rows = stock_rows(data["keys"].values(), projects)

    class StockTable(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()

    app = StockTable()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(DataTable)
        table.add_columns(*COLUMNS)
        table.add_rows(rows)
        await pilot.pause()
        start = time.perf_counter()
        table.clear()
        table.add_rows(list(reversed(rows)))
        await pilot.pause()
        return time.perf_counter() - start


def change_figures(path: Path, login: str, runs: int) -> dict:
    """One create, edit and revoke through the repository (lock, re-read check, atomic write)."""
    from store.repository import Repository

    repo = Repository(path, login)
    project = next(p for p, _ in repo.list_projects() if p.deployed)
    draft = {"name": "Benchmark key", "scope": "web", "project_id": project.id,
             "web": {"domains": ["https://bench.example.com"]}}
    repo.list_keys()  # warm: the running app has the store parsed already
    repo.add_project("Benchmark warm-up")  # the first write also creates the lock file
    created = []
    create = median_time(lambda: created.append(repo.create_key(draft)), runs)
    ids = iter([c.key.id for c in created])
    edit = median_time(lambda: repo.edit_key(next(ids), {"name": "Benchmark key (edited)"}), runs)
    ids = iter([c.key.id for c in created])
    revoke = median_time(lambda: repo.revoke_keys([next(ids)]), runs)
    return {"create": create, "edit": edit, "revoke": revoke}


def tinydb_reference(path: Path, runs: int) -> float:
    """TinyDB's stock JSONStorage updating one document of a copy of the same store."""
    from tinydb import TinyDB
    from tinydb.storages import JSONStorage
    from tinydb.table import Table

    class StringIdTable(Table):
        document_id_class = str

    class StockTinyDB(TinyDB):
        table_class = StringIdTable

    copy = path.with_name("tinydb-copy.json")
    shutil.copyfile(path, copy)
    db = StockTinyDB(copy, storage=JSONStorage)
    table = db.table("keys", cache_size=0)
    some_id = next(iter(orjson.loads(copy.read_bytes())["keys"]))
    result = median_time(lambda: table.update({"name": "renamed"}, doc_ids=[some_id]), runs)
    db.close()
    copy.unlink()
    return result


def verify_figures(path: Path, login: str, seconds: float = 1.5) -> dict:
    """Warm verifications a second, against a plain dict lookup by SHA-256 hex."""
    from store.repository import Repository

    repo = Repository(path, login)
    records = [r for r in repo.storage.current()["keys"].values() if r.get("secret")][:5000]
    calls = [(r["secret"], (r.get("web") or {}).get("domains", [None])[0]) for r in records]
    for secret, origin in calls:  # warm: index built, last-used noted and flushed once
        repo.verify(secret, origin=origin)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for secret, origin in calls:
            repo.verify(secret, origin=origin)
        done += len(calls)
    ours = done / (time.perf_counter() - start)
    index = {r["secret_hash"]: r["id"] for r in repo.storage.current()["keys"].values()}
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.5:
        for secret, _ in calls:
            index.get(hashlib.sha256(secret.encode()).hexdigest())
        done += len(calls)
    return {"ours": ours, "reference": done / (time.perf_counter() - start)}


def usage_figures(path: Path, login: str, count: int = 10_000) -> dict:
    """Verifies of one key with usage counting on (SPEC §9), and how many store writes they
    and the flush at the end cause; then one find over every key (``list --find``)."""
    from store.repository import Repository

    repo = Repository(path, login)
    record = next(r for r in repo.storage.current()["keys"].values() if r.get("secret") and r["scope"] == "web")
    secret, origin = record["secret"], record["web"]["domains"][0]
    repo.verify(secret, origin=origin)  # warm: the index built, the first batch written
    writes = [0]
    write = repo.storage._write_atomically

    def counted(*args, **kwargs):
        writes[0] += 1
        return write(*args, **kwargs)

    repo.storage._write_atomically = counted  # type: ignore[method-assign]
    start = time.perf_counter()
    for _ in range(count):
        repo.verify(secret, origin=origin)
    rate = count / (time.perf_counter() - start)
    repo.flush_usage()
    repo.key_finder().prepare()  # the UI prepares it in the background after the first paint
    find = median_time(lambda: repo.find_keys("checkout w"), 3)
    return {"rate": rate, "writes": writes[0], "count": count, "find": find}


# -- the report ------------------------------------------------------------------------------

def target_for(name: str, size: int):
    """The SPEC §7 target of ``name`` at ``size`` (None where it sets none)."""
    target = TARGETS[name]
    if isinstance(target, dict):
        return target.get(size)
    return target


def verdict(value: float, target, higher_is_better: bool = False) -> str:
    """``met``/``MISSED`` against a target, or ``-`` where there is none."""
    if target is None:
        return "-"
    ok = value >= target if higher_is_better else value <= target
    return "met" if ok else "MISSED"


def main() -> int:
    """Seed stores, measure everything, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--skip-stock-above", type=int, default=10**9,
                        help="skip the stock DataTable references above this many keys")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path, t0 = args.child
        (child_ours if kind == "ours" else child_stock)(path, float(t0))
        return 0

    from store.repository import current_login
    from store.seed import seed_demo

    login = current_login()
    sizes = [int(size) for size in args.sizes.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="apikeys-bench-"))
    rows: list[tuple[str, ...]] = []
    try:
        for size in sizes:
            path = folder / str(size) / "store.json"
            started = time.perf_counter()
            seed_demo(path, login, keys=size, seed=size)
            seeded = time.perf_counter() - started
            megabytes = path.stat().st_size / 1e6
            print(f"seeded {size:,} keys ({megabytes:.1f} MB) in {seeded:.1f} s", file=sys.stderr)
            with_stock = size <= args.skip_stock_above

            ours = [spawn("ours", path) for _ in range(args.runs)]
            paint = statistics.median(r["seconds"] for r in ours)
            peak = max(r["peak_mb"] for r in ours)
            stock_runs = 1 if size > 10_000 else args.runs
            stock = [spawn("stock", path) for _ in range(stock_runs)] if with_stock else []
            stock_paint = statistics.median(r["seconds"] for r in stock) if stock else None
            stock_peak = max(r["peak_mb"] for r in stock) if stock else None
            parse = parse_reference(path, args.runs)
            table = asyncio.run(table_figures(path, login, args.runs))
            refill = asyncio.run(stock_refill(path)) if with_stock else None
            changes = change_figures(path, login, max(args.runs, 11))
            tinydb = tinydb_reference(path, args.runs)
            verify = verify_figures(path, login)
            usage = usage_figures(path, login)

            def ratio(value, reference):
                return f"{value / reference:.2f}×" if reference else "-"

            n = f"{size:,}"
            rows += [
                (n, "start → first painted table", f"{paint:.3f} s", "stock DataTable",
                 f"{stock_paint:.3f} s" if stock_paint else "skipped", ratio(paint, stock_paint),
                 verdict(paint, target_for("first_paint", size))),
                (n, "start → first painted table", f"{paint:.3f} s", "reading + orjson.loads of the file",
                 f"{parse:.3f} s", ratio(paint, parse), "-"),
                (n, "re-sort → repaint (worst)", f"{table['resort_max'] * 1000:.1f} ms",
                 "stock clear + re-add", f"{refill * 1000:.0f} ms" if refill else "skipped",
                 ratio(table["resort_max"], refill),
                 verdict(table["resort_max"], target_for("resort", size))),
                (n, "filter keystroke → repaint (worst)", f"{table['filter_max'] * 1000:.1f} ms",
                 "stock clear + re-add", f"{refill * 1000:.0f} ms" if refill else "skipped",
                 ratio(table["filter_max"], refill),
                 verdict(table["filter_max"], target_for("filter", size))),
            ]
            for change in ("create", "edit", "revoke"):
                rows.append((n, f"one {change}", f"{changes[change] * 1000:.1f} ms",
                             "TinyDB JSONStorage update",
                             f"{tinydb * 1000:.0f} ms", ratio(changes[change], tinydb),
                             verdict(changes[change], target_for("change", size))))
            rows += [
                (n, "verify, warm", f"{verify['ours']:,.0f}/s", "dict lookup by SHA-256",
                 f"{verify['reference']:,.0f}/s", ratio(verify["ours"], verify["reference"]),
                 verdict(verify["ours"], target_for("verify", size), higher_is_better=True)),
                (n, f"verify one key ×{usage['count']:,}, usage counted", f"{usage['rate']:,.0f}/s",
                 "store writes they cause (+ the flush at exit)", f"{usage['writes']}", "-",
                 verdict(usage["rate"], target_for("verify", size), higher_is_better=True)),
                (n, "find keys (list --find, two words)", f"{usage['find'] * 1000:.1f} ms", "-", "-", "-",
                 verdict(usage["find"], target_for("filter", size))),
                (n, "peak memory, UI open", f"{peak:.0f} MB", "stock DataTable app",
                 f"{stock_peak:.0f} MB" if stock_peak else "skipped", ratio(peak, stock_peak),
                 verdict(peak, target_for("memory", size))),
            ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    header = ("keys", "what", "apikeys", "reference", "reference figure", "ratio", "target")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))
    print(f"\n{os.cpu_count()} cores; medians of {args.runs} runs; python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
