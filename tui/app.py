"""The apikeys Textual app: thin wiring; the screens own their behaviour."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.segment import Segments
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.driver import Driver
from textual.screen import Screen

from store.repository import Repository
from store.views import utc_now


class ApiKeysApp(App[None]):
    """The API Keys console for one store and one acting login."""

    CSS_PATH = ["app.tcss", "dialogs.tcss"]
    TITLE = "API Keys"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "quit", "Quit", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]

    def __init__(self, repo: Repository, *, live_interval: float = 1.0) -> None:
        super().__init__()
        self.repo = repo
        self.live_interval = live_interval  # seconds between checks for other admins' changes

    def on_ready(self) -> None:
        """Open the main screen (it loads the store in a worker) once Textual has started.

        Not at mount: Textual composes the first frames inside its start-up batch and drops
        them while its compositor counts them as drawn, so the main screen's first rows (a big
        store's newest keys) reached the terminal only with the next repaint, after the parse.
        """
        from .screens.key_list import KeyListScreen

        self.push_screen(KeyListScreen())

    def _fatal_error(self) -> None:
        """Report a crash without local variables.

        Textual's own report shows the locals of every frame; a frame that handles a stored
        key holds its secret in a plain ``dict``, and the report must never print it.
        """
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None)
        self._exit_renderables.append(Segments(self.console.render(traceback, self.console.options)))
        self._close_messages_no_wait()

    def action_help(self) -> None:
        """Show every key of the current screen."""
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver for this terminal; on Linux and macOS one whose ``escape`` comes
        after ``ESCDELAY``, not 100 ms later (:mod:`tui.escape_driver`). A driver named in
        ``TEXTUAL_DRIVER`` is used as Textual would."""
        chosen = super().get_driver_class()
        if (chosen.__module__, chosen.__name__) != ("textual.drivers.linux_driver", "LinuxDriver"):
            return chosen  # Windows, or a driver of the admin's choosing
        from .escape_driver import QuickEscapeDriver

        return QuickEscapeDriver

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette offers every screen's actions by name, each once."""
        titles: set[str] = set()
        for command in super().get_system_commands(screen):
            titles.add(command.title)
            yield command
        offered: set[str] = set()
        for key, active in screen.active_bindings.items():
            described = active.binding
            action = described.action.removeprefix("app.")
            if (not described.description or not active.enabled or described.description in titles
                    or action in offered or action == "command_palette"):
                continue
            offered.add(action)
            titles.add(described.description)
            yield SystemCommand(
                described.description,
                f"{described.key_display or key} — on this screen",
                _run_action(active.node, described.action),
            )


def _run_action(node: DOMNode, action: str) -> Callable[[], object]:
    async def run() -> None:
        await node.app.run_action(action, node)

    return run


def share_one_memory_arena() -> None:
    """Have every thread of this process allocate from glibc's one main arena.

    glibc gives each thread that allocates its own arena, and memory freed in one (the load
    worker's parse) is not reused by another (the UI thread, the background preparation):
    measured at 100,000 keys, the peak through a session is ~10 MB lower with one arena. The
    interpreter's lock lets one thread run Python at a time, so they rarely contend for it.
    Does nothing where the C library is not glibc.
    """
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_ARENA_MAX, 1)


M_ARENA_MAX = -8  # glibc's mallopt parameter


def make_app(
    store_path: str | os.PathLike[str] | Path,
    login: str | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    live_interval: float = 1.0,
) -> ApiKeysApp:
    """Build the app the same way for the CLI, the tests and the screenshot script."""
    return ApiKeysApp(Repository(store_path, login, clock=clock), live_interval=live_interval)
