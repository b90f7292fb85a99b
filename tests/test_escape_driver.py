"""``escape`` reaches the app after ESCDELAY, not after Textual's 100 ms input poll
(tui/escape_driver.py)."""

from __future__ import annotations

import hashlib
import inspect
import os
import threading
from typing import Any

import pytest
from textual import events
from textual.drivers.linux_driver import LinuxDriver

from tui import escape_driver
from tui.escape_driver import QuickEscapeDriver, input_wait

#: sha256 of Textual 8.2.8's ``LinuxDriver.run_input_thread``, which escape_driver copies.
TEXTUAL_INPUT_LOOP = "d796af6d69db337d6fa6bd463984f7d17188d991dbb22f60efb92a8a9619507c"


class Deadline:
    """Stands for the parser: only its pending deadline matters."""

    def __init__(self, deadline: float | None) -> None:
        self._timeout_time = deadline


def test_the_wait_ends_at_the_parsers_deadline() -> None:
    assert input_wait(Deadline(None), now=10.0) == escape_driver.POLL  # type: ignore[arg-type]
    assert input_wait(Deadline(10.025), now=10.0) == pytest.approx(0.025)  # type: ignore[arg-type]
    assert input_wait(Deadline(9.0), now=10.0) == 0.0  # type: ignore[arg-type]
    assert input_wait(Deadline(60.0), now=10.0) == escape_driver.POLL  # type: ignore[arg-type]


def test_the_copied_input_loop_is_textuals_own() -> None:
    """The copy was taken from this exact Textual function: when an upgrade changes it,
    look at escape_driver again (and then record the new hash here)."""
    source = inspect.getsource(LinuxDriver.run_input_thread)
    assert hashlib.sha256(source.encode()).hexdigest() == TEXTUAL_INPUT_LOOP


class Collecting(QuickEscapeDriver):
    """The driver's input loop on a pipe, the keys it parses collected."""

    def __init__(self, fileno: int) -> None:
        self.fileno = fileno
        self._debug = False
        self.exit_event = threading.Event()
        self.keys: list[str] = []
        self.escape = threading.Event()

    def process_message(self, message: Any) -> None:
        if isinstance(message, events.Key):
            self.keys.append(message.key)
            if message.key == "escape":
                self.escape.set()


def test_escape_arrives_without_waiting_for_the_poll(monkeypatch) -> None:
    """With the poll at 30 s, Textual's loop would hold a lone escape for 30 s; this one
    hands it on once the escape delay is over. An arrow's sequence is still one key."""
    monkeypatch.setattr(escape_driver, "POLL", 30.0)
    read_end, write_end = os.pipe()
    driver = Collecting(read_end)
    thread = threading.Thread(target=driver.run_input_thread, daemon=True)
    thread.start()
    try:
        os.write(write_end, b"\x1b[A")  # up: one sequence, no escape
        os.write(write_end, b"\x1b")
        assert driver.escape.wait(10)
        assert driver.keys == ["up", "escape"]
    finally:
        driver.exit_event.set()
        os.write(write_end, b"x")  # wakes the loop to see the exit event
        thread.join(10)
        os.close(write_end)
        os.close(read_end)
    assert not thread.is_alive()


def test_the_app_picks_this_driver_unless_one_is_named(monkeypatch) -> None:
    from textual import constants

    from tui.app import ApiKeysApp

    app = ApiKeysApp.__new__(ApiKeysApp)
    assert app.get_driver_class() is QuickEscapeDriver
    monkeypatch.setattr(constants, "DRIVER", "textual.drivers.headless_driver:HeadlessDriver")
    assert app.get_driver_class().__name__ == "HeadlessDriver"
