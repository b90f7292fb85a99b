"""A terminal driver that hands ``escape`` to the app when ``ESCDELAY`` says, not 100 ms later.

A lone escape byte may be the ``escape`` key or the start of a longer sequence (an arrow,
alt+letter), so Textual's parser waits ``ESCDELAY`` ms (25 here: see
:data:`tui.cli.ESCAPE_DELAY_MS`) for more. But Textual 8.2.8's input thread only asks the
parser whether that wait is over after ``select`` returns, and ``select`` waits up to 100 ms for
the next byte: every ``escape`` (clear the filter, close a dialog, go back) reached the app
~100 ms late whatever ``ESCDELAY`` said. This driver's input loop waits only until the
parser's deadline.

``run_input_thread`` is Textual's own (``textual.drivers.linux_driver``, Textual 8.2.8, MIT
licence) with one change, marked below; ``tests/test_escape_driver.py`` notices when Textual's
copy changes, so an upgrade looks at this again.
"""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder

from textual._loop import loop_last
from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

POLL = 0.1  # seconds: how often Textual's loop looks at the exit event


def input_wait(parser: XTermParser, now: float) -> float:
    """Seconds to wait for input: until the parser's pending deadline (the escape delay),
    else the usual poll."""
    deadline: float | None = getattr(parser, "_timeout_time", None)
    if deadline is None:
        return POLL
    return max(0.0, min(POLL, deadline - now))


class QuickEscapeDriver(LinuxDriver):
    """Textual's Linux driver, with the input loop waiting no longer than the escape delay."""

    def run_input_thread(self) -> None:
        """Wait for input and dispatch events."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)

        fileno = self.fileno
        EVENT_READ = selectors.EVENT_READ  # noqa: N806 - as in Textual's copy

        parser = XTermParser(self._debug)
        feed = parser.feed
        tick = parser.tick

        utf8_decoder = getincrementaldecoder("utf-8")().decode
        decode = utf8_decoder
        read = os.read

        def process_selector_events(
            selector_events: list[tuple[selectors.SelectorKey, int]],
            final: bool = False,
        ) -> None:
            for last, (_selector_key, mask) in loop_last(selector_events):
                if mask & EVENT_READ:
                    unicode_data = decode(read(fileno, 1024 * 4), final=final and last)
                    if not unicode_data:
                        # This can occur if the stdin is piped
                        break
                    for event in feed(unicode_data):
                        self.process_message(event)
            for event in tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                # The one change: Textual waits select(0.1) here.
                process_selector_events(selector.select(input_wait(parser, get_time())))
            selector.unregister(self.fileno)
            process_selector_events(selector.select(0.1), final=True)

        finally:
            selector.close()
            try:
                for _event in feed(""):
                    pass
            except (EOFError, ParseError):
                pass
