"""Where apikeys' time to the first screen goes: a timeline of one headless start.

    python scripts/profile_start.py STORE.json                 # timeline, 3 runs
    python scripts/profile_start.py STORE.json --cprofile OUT  # also cProfile of every thread

Each run is a fresh interpreter whose clock starts just before the spawn. It wraps (by name,
without changing them) the steps of the start: imports, the app's start, the store's parse,
the list views, the first sort order, the hand-over to the UI thread, the first compositor
update that holds the newest key's row, and the background work after it. Names it cannot
find are skipped, so it survives refactoring, reporting less. A diagnosis tool, not a test.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ESCAPES = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|.)")


def child(path: str, needle: str, t0: float, cprofile_to: str | None) -> None:
    """One start, headless at 80×24; prints the timeline as JSON when the row is painted."""
    marks: list[tuple[str, float, str]] = []

    def mark(name: str) -> None:
        marks.append((name, time.time() - t0, threading.current_thread().name))

    mark("interpreter up")
    profiles = []
    if cprofile_to:
        import cProfile

        def profiled(*_args: object) -> None:  # every thread gets its own profiler
            profile = cProfile.Profile()
            profiles.append(profile)
            profile.enable()
            sys.setprofile(None)  # hand over from this bootstrap hook to cProfile
            profile.enable()

        threading.setprofile(profiled)
        main_profile = cProfile.Profile()
        profiles.append(main_profile)
        main_profile.enable()

    import tui.cli  # noqa: F401 - what the console script imports first
    mark("tui.cli imported")
    from textual.app import App
    mark("textual.app imported")
    from tui.app import make_app
    mark("tui.app imported")

    def wrap(owner: object, name: str, label: str) -> None:
        original = getattr(owner, name, None)
        if original is None:
            return

        @functools.wraps(original)
        def wrapped(*args, **kwargs):
            mark(f"{label} start")
            try:
                return original(*args, **kwargs)
            finally:
                mark(f"{label} end")

        setattr(owner, name, wrapped)

    from store.repository import Repository
    from store.storage import StoreFile

    wrap(StoreFile, "_load", "parse the store")
    wrap(Repository, "newest_keys", "preview: the newest keys from the front of the file")
    wrap(Repository, "list_keys", "list views")
    wrap(Repository, "open_or_create", "open_or_create")
    try:
        from store import key_index
    except ImportError:
        key_index = None  # type: ignore[assignment]
    index_class = getattr(key_index, "KeyIndex", None)
    if index_class is not None:
        wrap(index_class, "prepare", "background: other orders + search texts")
    try:
        from tui.screens import key_list
        mark("tui.screens.key_list imported")
        screen = key_list.KeyListScreen
        wrap(screen, "on_mount", "main screen mounted")
        wrap(screen, "_loaded", "UI thread: show the loaded keys")
    except (ImportError, AttributeError):
        pass

    display = App._display
    seen = {"first": False}

    def watching(app: App, screen, renderable) -> None:
        display(app, screen, renderable)
        render = getattr(renderable, "render_segments", None)
        if render is None:
            return
        text = ESCAPES.sub("", render(app.console))
        if not seen["first"] and text.strip():
            seen["first"] = True
            mark("first non-blank compositor update")
        if needle in text:
            # tests/test_start_imports.py keeps pydantic off the path to the first rows.
            mark("ROW PAINTED" + (" (pydantic loaded)" if "pydantic" in sys.modules else ""))
            app.set_timer(1.5, app.exit)  # the background work after the paint, then stop

    App._display = watching  # type: ignore[method-assign]
    app = make_app(path)
    mark("app built")
    app.run(headless=True, size=(80, 24))
    mark("app exited")
    if cprofile_to:
        import pstats

        threading.setprofile(None)
        for profile in profiles:
            profile.disable()
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            try:
                stats.add(profile)
            except TypeError:
                pass
        stats.dump_stats(cprofile_to)
    print(json.dumps(marks), flush=True)


def main() -> int:
    """Spawn runs, print each timeline."""
    args = sys.argv[1:]
    if args and args[0] == "--child":
        child(args[1], args[2], float(args[3]), args[4] or None)
        return 0
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    path = args[0]
    cprofile_to = args[args.index("--cprofile") + 1] if "--cprofile" in args else ""
    sys.path.insert(0, str(ROOT / "scripts"))
    from benchmark import newest_key_prefix

    needle = newest_key_prefix(Path(path))
    for run in range(1 if cprofile_to else 3):
        t0 = time.time()
        output = subprocess.run(
            [sys.executable, __file__, "--child", path, needle, repr(t0), cprofile_to],
            capture_output=True, text=True, cwd=ROOT,
        ).stdout
        lines = [line for line in output.splitlines() if line.startswith("[")]
        if not lines:
            print(f"run {run + 1}: no timeline; output: {output[-400:]!r}")
            continue
        print(f"run {run + 1} (load {os.getloadavg()[0]:.1f}):")
        for name, seconds, thread in json.loads(lines[-1]):
            where = "" if thread == "MainThread" else f"   [{thread}]"
            print(f"  {seconds:7.3f} s  {name}{where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
