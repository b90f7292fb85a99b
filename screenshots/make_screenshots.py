"""Write one SVG per screen into this folder, from the same tour as the snapshot tests.

    python screenshots/make_screenshots.py            # every screen
    python screenshots/make_screenshots.py help members   # only these
    python screenshots/make_screenshots.py --readme   # also print the README's Screens list

Each screen is reached with the keys an admin would press, on its own temporary demo store,
with the fixed clock, ids and login of ``tui/tour.py``: running this twice writes the same
files. Run it with the project installed (``pip install -e .``).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from tui import tour as screen_tour

HERE = Path(__file__).resolve().parent

WINDOW_TITLE = "apikeys"


async def picture(stop: screen_tour.Stop) -> str:
    """The SVG of ``stop``'s screen, reached on a fresh store."""
    with tempfile.TemporaryDirectory(prefix="apikeys-tour-") as folder, screen_tour.held_still():
        visit = screen_tour.visit(stop, Path(folder))
        async with visit.app.run_test(size=stop.size) as pilot:
            await visit.run_before(pilot)
            await pilot.wait_for_scheduled_animations()
            await pilot.pause()
            if visit.screen_seen != stop.screen:
                raise RuntimeError(f"{stop.name}: reached {visit.screen_seen}, not {stop.screen}")
            return visit.app.export_screenshot(title=WINDOW_TITLE, simplify=True)


def readme_lines(stops: tuple[screen_tour.Stop, ...]) -> list[str]:
    """The README's list of screenshots: each image with its caption."""
    lines: list[str] = []
    for stop in stops:
        lines += [f"**{stop.caption}**", "", f"![{stop.caption}](screenshots/{stop.name}.svg)", ""]
    return lines[:-1]


def main(argv: list[str] | None = None) -> int:
    """Write the SVGs asked for (all by default); return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"stops to picture: {', '.join(screen_tour.STOPS_BY_NAME)}")
    parser.add_argument("--readme", action="store_true", help="print the README's Screens list")
    arguments = parser.parse_args(argv)
    unknown = [name for name in arguments.names if name not in screen_tour.STOPS_BY_NAME]
    if unknown:
        parser.error(f"no such screen: {', '.join(unknown)}")
    stops = [screen_tour.STOPS_BY_NAME[name] for name in arguments.names] or list(screen_tour.STOPS)
    for stop in stops:
        target = HERE / f"{stop.name}.svg"
        target.write_text(asyncio.run(picture(stop)), encoding="utf-8")
        print(f"wrote {target.relative_to(HERE.parent)}")
    if arguments.readme:
        print("\n".join(readme_lines(screen_tour.STOPS)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
