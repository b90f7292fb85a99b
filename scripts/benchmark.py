"""Benchmark apikeys as a person sees it, next to the floor app of SPEC §7, in one run.

    python scripts/benchmark.py                          # 10k and 100k keys, 5 rounds (~3 min idle)
    python scripts/benchmark.py --sizes 10000 --rounds 3
    python scripts/benchmark.py --in-process             # also re-sort, filter, change, verify

First paint is measured in a real terminal: each program is spawned in a tmux pane of 80×24
(a private tmux server, ``tmux -L apikeys-bench-PID``), and the pane is read every ~10 ms
until the newest unrevoked key's row (its key prefix) is on it. Side by side, in the same run
and the same rounds, interleaved:

* **apikeys** itself (the installed ``apikeys`` console script, next to this interpreter);
* **the floor** (``scripts/floor_app.py``): import Textual, parse the whole store file with
  orjson, paint one screenful of the newest keys with a stock ``DataTable``;
* **the floor with the collector paused** (``floor_app.py --gc-paused``): a stricter floor;
* **the stock DataTable with every key** (``floor_app.py --every``; only up to
  ``--stock-up-to`` keys, since it grows with the whole table).

Also recorded: when the first non-blank frame appears (what an admin sees before the rows),
and apikeys' peak memory (VmHWM of the UI process itself, from /proc, not tmux's) after a
scripted session sent as keys: End, a two-word filter, escape, a re-sort. A headless column
(``App.run(headless=True)``, in-process clock from spawn to the first compositor update that
holds the row) is kept beside it, since round one reported that figure.

Every figure is a median of several rounds; on a shared machine only the ratios measured in
one run mean much. Nothing here is a pass/fail test.

Before measuring, apikeys' modules are compiled to bytecode (``compileall``), as an installed
apikeys is (pip compiles on install): a checkout run with ``PYTHONDONTWRITEBYTECODE=1``
would otherwise compile its ~60 modules at every start (~0.05–0.1 s) while Textual's and the
floor's libraries load compiled.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import hashlib
import heapq
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = {  # SPEC §7, by size where it differs
    "floor_ratio": {10_000: 1.2, 100_000: 1.0},
    "resort": 0.1,
    "filter": 0.1,
    "change": {10_000: 0.020, 100_000: 0.150},
    "verify": 50_000,
    "memory": {100_000: 200},
}
COLUMNS = ("Name", "Scope", "Project", "Key", "Created", "Created by", "Status")
WIDTH, HEIGHT = 80, 24
POLL = 0.01  # seconds between two reads of the pane
SESSION_FILTER = "checkout web"  # two words: a project and a scope
LOADED_MARKER = "· sorted by"  # apikeys' status line once every key is loaded (not the preview's)
ESCAPES = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|[P\]X^_][^\x1b]*\x1b\\|[()][0-9A-Za-z]|.)")


# -- a real terminal: tmux --------------------------------------------------------------------

class Terminal:
    """A private tmux server whose panes are 80×24, read with ``capture-pane``."""

    def __init__(self) -> None:
        if shutil.which("tmux") is None:
            raise SystemExit("benchmark.py needs tmux (apt-get install tmux)")
        self.socket = f"apikeys-bench-{os.getpid()}"
        # A keeper session starts the server once, so no round pays for the server's start.
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "keeper",
                  "-x", str(WIDTH), "-y", str(HEIGHT), "sleep 100000")
        self.socket_path = self.tmux("display-message", "-p", "#{socket_path}").strip()

    def tmux(self, *args: str) -> str:
        """Run one tmux command on this server; its output."""
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                              capture_output=True, text=True).stdout

    def spawn(self, command: list[str]) -> None:
        """Start ``command`` (exec'd: the pane's process is the program) in a new pane."""
        line = "exec " + " ".join(shlex.quote(part) for part in command)
        self.tmux("new-session", "-d", "-s", "run", "-x", str(WIDTH), "-y", str(HEIGHT), line)

    def screen(self) -> str:
        """What the pane shows now, as plain text."""
        return self.tmux("capture-pane", "-p", "-t", "run")

    def pid(self) -> int:
        """The pid of the program in the pane."""
        return int(self.tmux("display-message", "-p", "-t", "run", "#{pane_pid}").strip())

    def keys(self, *keys: str, literal: bool = False) -> None:
        """Type ``keys`` into the pane (tmux key names unless ``literal``)."""
        self.tmux("send-keys", "-t", "run", *(["-l"] if literal else []), *keys)

    def close_run(self) -> None:
        """End the program in the pane (tmux hangs it up)."""
        try:
            self.tmux("kill-session", "-t", "run")
        except subprocess.CalledProcessError:
            pass  # it had ended already

    def close(self) -> None:
        """Stop this private tmux server and everything in it; remove its socket."""
        try:
            self.tmux("kill-server")
        except subprocess.CalledProcessError:
            pass
        if self.socket_path:
            Path(self.socket_path).unlink(missing_ok=True)


@dataclass
class Paint:
    """One spawn: seconds to the first non-blank frame and to the key rows (None: never)."""

    first_frame: float | None = None
    rows: float | None = None
    loaded: float | None = None  # apikeys: every key read, sorted ("· sorted by" on the status line)
    peak_mb: float | None = None
    figures: dict[str, float] = field(default_factory=dict)


def watch(terminal: Terminal, command: list[str], needle: str, timeout: float = 120.0,
          loaded: str | None = None) -> Paint:
    """Spawn ``command`` in a fresh pane; poll the pane until ``needle`` shows (and then, if
    given, until ``loaded`` does: apikeys' status line once every key is read). Leaves it open."""
    paint = Paint()
    start = time.perf_counter()
    terminal.spawn(command)
    while True:
        text = terminal.screen()
        elapsed = time.perf_counter() - start
        if paint.first_frame is None and text.strip():
            paint.first_frame = elapsed
        if paint.rows is None and needle in text:
            paint.rows = elapsed
        if paint.rows is not None and (loaded is None or loaded in text):
            paint.loaded = elapsed
            return paint
        if elapsed > timeout:
            print(f"  no row with {needle!r} after {timeout:.0f} s; the pane shows:\n{text}",
                  file=sys.stderr)
            return paint
        time.sleep(POLL)


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of ``pid``, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_until_idle(pid: int, quiet: float = 0.4, timeout: float = 60.0) -> float:
    """Wait until ``pid`` has used (almost) no CPU for ``quiet`` seconds; the seconds waited."""
    start = time.perf_counter()
    last, since = cpu_ticks(pid), time.perf_counter()
    while time.perf_counter() - start < timeout:
        time.sleep(0.05)
        now = cpu_ticks(pid)
        if now - last > 1:  # more than ~10 ms of CPU: still working
            last, since = now, time.perf_counter()
        elif time.perf_counter() - since >= quiet:
            break
    return time.perf_counter() - start


def memory_mb(pid: int) -> dict[str, float]:
    """VmHWM (peak resident) and VmRSS of ``pid``, in MB."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            figures[name] = int(value.split()[0]) / 1024
    return figures


def scripted_session(terminal: Terminal) -> dict[str, float]:
    """End, a two-word filter, escape, a re-sort (each once the UI is idle); peak memory."""
    pid = terminal.pid()
    figures = {"settled_mb": 0.0}
    wait_until_idle(pid)
    figures["settled_mb"] = memory_mb(pid)["VmHWM"]
    for keys, literal in ((["End"], False), (["/"], True), ([SESSION_FILTER], True),
                          (["Escape"], False), (["s"], True)):
        terminal.keys(*keys, literal=literal)
        wait_until_idle(pid)
    memory = memory_mb(pid)
    figures["peak_mb"], figures["rss_mb"] = memory["VmHWM"], memory["VmRSS"]
    return figures


def newest_key_prefix(path: Path) -> str:
    """The key prefix of the newest unrevoked key: the first row of every table measured.

    Only the prefix (e.g. ``web_lvc6``): a narrow column may cut the ``•••`` after it."""
    records = orjson.loads(path.read_bytes())["keys"].values()
    shown = [r for r in records if r.get("status") != "revoked"]
    return heapq.nlargest(1, shown, key=lambda r: r["created_at"])[0]["key_prefix"]


def programs(path: Path) -> dict[str, list[str]]:
    """The command line of every program measured in the terminal."""
    apikeys = Path(sys.executable).with_name("apikeys")
    floor = [sys.executable, str(ROOT / "scripts" / "floor_app.py"), str(path)]
    return {
        "apikeys": [str(apikeys), "--store", str(path)] if apikeys.exists()
        else [sys.executable, "-c", "import sys; from tui.cli import main; sys.exit(main())",
              "--store", str(path)],
        "floor": floor,
        "floor-gc": [*floor, "--gc-paused"],
        "stock": [*floor, "--every"],
    }


def terminal_figures(terminal: Terminal, path: Path, rounds: int, with_stock: bool,
                     with_session: bool) -> dict[str, list[Paint]]:
    """Every program, ``rounds`` times, interleaved; apikeys' last round runs the session."""
    needle = newest_key_prefix(path)
    commands = programs(path)
    kinds = ["apikeys", "floor", "floor-gc"] + (["stock"] if with_stock else [])
    results: dict[str, list[Paint]] = {kind: [] for kind in kinds}
    for round_number in range(rounds):
        for kind in kinds:
            paint = watch(terminal, commands[kind], needle,
                          loaded=LOADED_MARKER if kind == "apikeys" else None)
            last = round_number == rounds - 1
            if kind == "apikeys" and last and with_session and paint.rows is not None:
                paint.figures = scripted_session(terminal)
            elif kind != "apikeys" and last and paint.rows is not None:
                pid = terminal.pid()
                wait_until_idle(pid)
                paint.figures = {"peak_mb": memory_mb(pid)["VmHWM"]}
            terminal.close_run()
            results[kind].append(paint)
            time.sleep(0.2)  # let the hung-up program go before the next spawn
    return results


# -- headless, in-process clock ----------------------------------------------------------------

def headless_child(kind: str, path: str, needle: str, t0: float) -> None:
    """Run apikeys or the floor headless; print the seconds from ``t0`` to the first update
    of the compositor that holds ``needle`` (no terminal is written headless)."""
    from textual.app import App

    display = App._display

    def watching(app: App, screen, renderable) -> None:
        display(app, screen, renderable)
        render = getattr(renderable, "render_segments", None)
        if render is not None and needle in ESCAPES.sub("", render(app.console)):
            print(json.dumps({"seconds": time.time() - t0}), flush=True)
            app.exit()

    App._display = watching  # type: ignore[method-assign]
    if kind == "apikeys":
        from tui.app import make_app

        app = make_app(path)
    else:
        sys.path.insert(0, str(ROOT / "scripts"))
        from floor_app import FloorApp, newest_rows

        app = FloorApp(newest_rows(Path(path), every=False))
    app.run(headless=True, size=(WIDTH, HEIGHT))


def headless_paint(kind: str, path: Path, needle: str) -> float | None:
    """Seconds from spawn to the row, headless; None if the child reported nothing."""
    t0 = time.time()
    output = subprocess.run(
        [sys.executable, __file__, "--headless-child", kind, str(path), needle, repr(t0)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    ).stdout
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            return json.loads(line)["seconds"]
    return None


def stock_rows(records, projects) -> list[tuple[str, ...]]:
    """The same cells our table shows, as plain strings for the stock DataTable."""
    return [
        (r["name"], r["scope"], projects.get(r.get("project_id"), "All organization projects"),
         r["key_prefix"] + "•••", r["created_at"][:10], r["created_by"], r["status"])
        for r in records
    ]


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
        screen = app.screen
        for _ in range(400):
            if screen.index is not None and screen.index.prepared:
                break
            await pilot.pause(0.05)

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
    from datetime import timedelta

    from store.repository import Repository
    from store.views import to_iso, utc_now

    repo = Repository(path, login)
    project = next(p for p, _ in repo.list_projects() if p.deployed)
    draft = {"name": "Benchmark key", "scope": "web", "project_id": project.id,
             "web": {"domains": ["https://bench.example.com"]},
             "expires_at": to_iso(utc_now() + timedelta(days=30))}  # within the demo's policy
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
    and the flush at the end cause; then one two-word find over every key (``list --find``)."""
    from store.repository import Repository

    repo = Repository(path, login)
    record = next(r for r in repo.storage.current()["keys"].values()
                  if r.get("secret") and r["scope"] == "web" and r.get("status") == "active")
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


def median(values) -> float | None:
    """The median of the values that are not None (None if there are none)."""
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def megabytes(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} MB"


def ratio(value: float | None, reference: float | None) -> str:
    return f"{value / reference:.2f}×" if value and reference else "-"


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """A plain aligned table on stdout."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{width}}}" for width in widths)
    print(line.format(*header))
    print(line.format(*("-" * width for width in widths)))
    for row in rows:
        print(line.format(*row))


def terminal_rows(size: int, results: dict[str, list[Paint]],
                  headless: dict[str, float | None]) -> list[tuple[str, ...]]:
    """The report lines of one size: first frame, rows, memory; apikeys next to the floor."""
    def paints(kind: str) -> list[Paint]:
        return results.get(kind, [])

    def figure(kind: str, name: str) -> float | None:
        return median(p.figures.get(name) for p in paints(kind))

    ours_rows = median(p.rows for p in paints("apikeys"))
    ours_loaded = median(p.loaded for p in paints("apikeys"))
    floor_rows = median(p.rows for p in paints("floor"))
    stock_rows_ = median(p.rows for p in paints("stock"))
    target = target_for("floor_ratio", size)
    n = f"{size:,}"
    rows = [
        (n, "spawn → first non-blank frame", seconds(median(p.first_frame for p in paints("apikeys"))),
         seconds(median(p.first_frame for p in paints("floor"))), "-",
         seconds(median(p.first_frame for p in paints("stock"))), "", ""),
        (n, "spawn → key rows (terminal)", seconds(ours_rows), seconds(floor_rows),
         ratio(ours_rows, floor_rows), seconds(stock_rows_), ratio(ours_rows, stock_rows_),
         f"≤ {target}× floor: " + verdict(ours_rows / floor_rows, target)
         if ours_rows and floor_rows and target else ""),
        (n, "spawn → every key loaded (sort, filter)", seconds(ours_loaded), seconds(floor_rows),
         ratio(ours_loaded, floor_rows), "", "", ""),
        (n, "  floor with the collector paused", "", seconds(median(p.rows for p in paints("floor-gc"))),
         ratio(ours_rows, median(p.rows for p in paints("floor-gc"))), "", "", ""),
        (n, "spawn → key rows (headless)", seconds(headless.get("apikeys")), seconds(headless.get("floor")),
         ratio(headless.get("apikeys"), headless.get("floor")), "-", "", ""),
    ]
    peak_target = target_for("memory", size)
    ours_peak = figure("apikeys", "peak_mb")
    rows.append((n, "peak memory after End, filter, esc, sort", megabytes(ours_peak),
                 megabytes(figure("floor", "peak_mb")), ratio(ours_peak, figure("floor", "peak_mb")),
                 megabytes(figure("stock", "peak_mb")), ratio(ours_peak, figure("stock", "peak_mb")),
                 f"≤ {peak_target} MB: " + verdict(ours_peak, peak_target)
                 if ours_peak and peak_target else ""))
    rows.append((n, "  (apikeys settled, before the keys)", megabytes(figure("apikeys", "settled_mb")),
                 "", "", "", "", ""))
    return rows


def in_process_rows(size: int, path: Path, login: str, runs: int, with_stock: bool) -> list[tuple[str, ...]]:
    """Round one's in-process figures: re-sort, filter, changes, verify, against references."""
    parse = parse_reference(path, runs)
    table = asyncio.run(table_figures(path, login, runs))
    refill = asyncio.run(stock_refill(path)) if with_stock else None
    changes = change_figures(path, login, max(runs, 11))
    tinydb = tinydb_reference(path, runs)
    verify = verify_figures(path, login)
    usage = usage_figures(path, login)
    n = f"{size:,}"
    rows = [
        (n, "reading + orjson.loads of the file", f"{parse:.3f} s", "-", "-", "-"),
        (n, "re-sort → repaint (worst)", f"{table['resort_max'] * 1000:.1f} ms", "stock clear + re-add",
         f"{refill * 1000:.0f} ms" if refill else "skipped",
         verdict(table["resort_max"], target_for("resort", size))),
        (n, "filter keystroke → repaint (worst)", f"{table['filter_max'] * 1000:.1f} ms",
         "stock clear + re-add", f"{refill * 1000:.0f} ms" if refill else "skipped",
         verdict(table["filter_max"], target_for("filter", size))),
    ]
    for change in ("create", "edit", "revoke"):
        rows.append((n, f"one {change}", f"{changes[change] * 1000:.1f} ms", "TinyDB JSONStorage update",
                     f"{tinydb * 1000:.0f} ms", verdict(changes[change], target_for("change", size))))
    rows.append((n, "verify, warm", f"{verify['ours']:,.0f}/s", "dict lookup by SHA-256",
                 f"{verify['reference']:,.0f}/s",
                 verdict(verify["ours"], target_for("verify", size), higher_is_better=True)))
    rows.append((n, f"verify one key ×{usage['count']:,}, usage counted", f"{usage['rate']:,.0f}/s",
                 "store writes (batched)", f"{usage['writes']}",
                 verdict(usage["rate"], target_for("verify", size), higher_is_better=True)))
    rows.append((n, "find keys (list --find, two words)", f"{usage['find'] * 1000:.1f} ms", "-", "-",
                 verdict(usage["find"], target_for("filter", size))))
    return rows


def main() -> int:
    """Seed stores, measure everything, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="key counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per program (median)")
    parser.add_argument("--stock-up-to", type=int, default=10_000,
                        help="run the stock DataTable with every key only up to this many keys")
    parser.add_argument("--no-session", action="store_true", help="skip the scripted memory session")
    parser.add_argument("--no-headless", action="store_true", help="skip the headless column")
    parser.add_argument("--in-process", action="store_true",
                        help="also round one's in-process figures (re-sort, filter, changes, verify)")
    parser.add_argument("--keep", metavar="FOLDER", help="seed into (and reuse stores in) FOLDER")
    parser.add_argument("--headless-child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--postgres", type=int, metavar="KEYS",
                        help="also the PostgreSQL rows at KEYS keys (scripts/benchmark_pg.py); "
                        "--sizes '' for those alone")
    args = parser.parse_args()
    if args.headless_child:
        kind, path, needle, t0 = args.headless_child
        headless_child(kind, path, needle, float(t0))
        return 0

    from store.repository import current_login
    from store.seed import seed_demo

    login = current_login()
    for package in ("store", "tui"):  # as installed (see the module docstring)
        compileall.compile_dir(ROOT / package, quiet=1)
    sizes = [int(size) for size in args.sizes.split(",") if size]
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="apikeys-bench-"))
    terminal = Terminal()
    rows: list[tuple[str, ...]] = []
    extra: list[tuple[str, ...]] = []
    try:
        for size in sizes:
            path = folder / str(size) / "store.json"
            if not path.exists():
                started = time.perf_counter()
                seed_demo(path, login, keys=size, seed=size)
                print(f"seeded {size:,} keys ({path.stat().st_size / 1e6:.1f} MB) in "
                      f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
            with_stock = size <= args.stock_up_to
            print(f"{size:,} keys: {args.rounds} rounds in tmux …", file=sys.stderr)
            results = terminal_figures(terminal, path, args.rounds, with_stock, not args.no_session)
            headless: dict[str, float | None] = {}
            if not args.no_headless:
                needle = newest_key_prefix(path)
                for kind in ("apikeys", "floor"):
                    headless[kind] = median(headless_paint(kind, path, needle) for _ in range(args.rounds))
            rows += terminal_rows(size, results, headless)
            if args.in_process:
                extra += in_process_rows(size, path, login, args.rounds, with_stock)
    finally:
        terminal.close()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    if rows:
        print_table(("keys", "what", "apikeys", "floor", "÷ floor", "stock DataTable", "÷ stock",
                     "SPEC §7"), rows)
    if extra:
        print()
        print_table(("keys", "what", "apikeys", "reference", "reference figure", "target"), extra)
    if args.postgres:
        from benchmark_pg import report  # the PostgreSQL rows (issue 10), on a throwaway server

        print()
        report(args.postgres, args.rounds)
    load = os.getloadavg()[0]
    print(f"\nmedians of {args.rounds} rounds, interleaved; {WIDTH}×{HEIGHT} tmux panes polled every "
          f"{POLL * 1000:.0f} ms; {os.cpu_count()} cores, load {load:.1f} at the end; "
          f"python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
