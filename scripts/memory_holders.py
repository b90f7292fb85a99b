"""What holds apikeys' memory after real use: tracemalloc snapshots of a headless session.

    python scripts/memory_holders.py STORE.json [--top 25]

Opens the app headless at 80×24 (Textual's Pilot), waits for the keys and the background
work, then presses End, types a two-word filter, escape and s (re-sort), as
``scripts/benchmark.py`` does in a terminal. Prints the traced peak and current size, the
biggest holders by source line, and VmHWM/VmRSS of this process (which tracemalloc's own
bookkeeping inflates). A diagnosis tool, not a test.
"""

from __future__ import annotations

import asyncio
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def vm(name: str) -> float:
    """A Vm* figure of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def report(title: str, snapshot: tracemalloc.Snapshot, top: int) -> None:
    """The biggest holders of ``snapshot`` by source line."""
    stats = snapshot.statistics("lineno")
    total = sum(stat.size for stat in stats)
    print(f"\n== {title}: {total / 1e6:.1f} MB traced")
    for stat in stats[:top]:
        frame = stat.traceback[0]
        where = frame.filename.replace(str(ROOT) + "/", "").split("site-packages/")[-1]
        print(f"  {stat.size / 1e6:7.1f} MB {stat.count:9,} blocks  {where}:{frame.lineno}")


async def session(path: str, top: int) -> None:
    """The session, with snapshots after the load and after the keys."""
    from tui.app import make_app, share_one_memory_arena

    share_one_memory_arena()  # as the command line's UI does
    tracemalloc.start(1)
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(600):
            await pilot.pause(0.05)
            if getattr(app.screen, "index", None) is not None:
                break
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        current, peak = tracemalloc.get_traced_memory()
        print(f"loaded and settled: traced {current / 1e6:.0f} MB, traced peak {peak / 1e6:.0f} MB, "
              f"VmHWM {vm('VmHWM'):.0f} MB, VmRSS {vm('VmRSS'):.0f} MB")
        report("after the load", tracemalloc.take_snapshot(), top)
        for keys in (["end"], ["slash"], list("checkout") + ["space"] + list("web"), ["escape"], ["s"]):
            await pilot.press(*keys)
            await pilot.pause(0.2)
            await app.workers.wait_for_complete()
        current, peak = tracemalloc.get_traced_memory()
        print(f"\nafter End, filter, escape, re-sort: traced {current / 1e6:.0f} MB, traced peak "
              f"{peak / 1e6:.0f} MB, VmHWM {vm('VmHWM'):.0f} MB, VmRSS {vm('VmRSS'):.0f} MB")
        report("after the session", tracemalloc.take_snapshot(), top)


def main() -> int:
    """Run the session on the store named on the command line."""
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 25
    started = time.perf_counter()
    asyncio.run(session(sys.argv[1], top))
    print(f"\n({time.perf_counter() - started:.0f} s with tracemalloc on)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
