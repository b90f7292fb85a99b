"""Running store work off the event loop, and turning its errors into messages."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from textual.dom import DOMNode
from textual.worker import Worker

from store.errors import ReadCancelled, StoreError

T = TypeVar("T")


def store_call(
    node: DOMNode,
    call: Callable[[], T],
    done: Callable[[T], Any] | None = None,
    *,
    failed: Callable[[StoreError], Any] | None = None,
    group: str = "store",
    exclusive: bool = False,
) -> Worker[None]:
    """Run ``call`` in a thread worker; then ``done(result)`` on the UI thread.

    A :class:`StoreError` goes to ``failed`` (or becomes an error notification); any other
    exception becomes a one-line notification too, never a traceback on the admin's screen.
    A :class:`ReadCancelled` read ends quietly: it was stopped because nobody wants it.
    """
    app = node.app

    def work() -> None:
        try:
            result = call()
        except ReadCancelled:
            return
        except StoreError as error:
            if failed is not None:
                app.call_from_thread(failed, error)
            else:
                app.call_from_thread(app.notify, str(error), severity="error", markup=False, timeout=8)
            return
        except Exception as error:  # noqa: BLE001 - shown to the admin, never raised into Textual
            message = f"Unexpected error: {type(error).__name__}: {error}"
            app.call_from_thread(app.notify, message, severity="error", markup=False, timeout=8)
            return
        if done is not None:
            app.call_from_thread(done, result)

    return node.run_worker(work, thread=True, group=group, exclusive=exclusive, exit_on_error=False)


class Beside(Generic[T]):
    """``call`` run in a thread of its own from now on, beside what the caller does next
    (from a worker thread: two queries on two connections take the longer one's time, not
    the sum); :meth:`result` waits for it and returns its answer or raises its error."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._call = call
        self._answer: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="apikeys-beside", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._answer = self._call()
        except BaseException as error:  # noqa: BLE001 - handed to the caller of result()
            self._error = error

    def result(self) -> T:
        """The call's answer, once it has one (its exception raised here instead)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._answer  # type: ignore[return-value]
