"""Running store work off the event loop, and turning its errors into messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

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
