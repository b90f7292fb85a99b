"""A count the admin typed past is cancelled on the server (issue 10): an exact count at a
million keys holds the server's cores for a few hundred ms, and left running it slowed the
next keystroke's window. A cancel we asked for ends quietly; one we did not ask for (an
administrator's ``pg_cancel_backend``, a ``statement_timeout``) is one clear line."""

from __future__ import annotations

import threading
import time

import pytest

from store.backends import postgres
from store.errors import ReadCancelled, StoreError, StoreUnusable
from store.repository import Repository

SLEEP = "SELECT pg_sleep(30)"


def owned_store(url: str) -> Repository:
    """A store with two keys, owned by the session's role."""
    repo = Repository(url)
    repo.initialise("Acme Studio")
    repo.add_project("Storefront", deployed=True)
    for name in ("Checkout widget", "Login form"):
        repo.create_key({"name": name, "scope": "web", "project_id": "Storefront",
                         "web": {"domains": ["https://shop.example.com"]}})
    return repo


def sleeping_count(connection, where, params) -> int:  # noqa: ANN001 - as postgres._count_rows
    """An exact count that takes 30 s, as one at a million keys would on a slow server."""
    connection.execute(SLEEP)
    return 0


def wait_for_sleep(pg_server, database: str) -> int:
    """The pid of the backend running the sleeping count, once it runs."""
    with pg_server.admin() as admin:
        for _ in range(500):
            row = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND query = %s",
                (database, SLEEP),
            ).fetchone()
            if row is not None:
                return int(row[0])
            time.sleep(0.01)
    raise AssertionError("the count never started")


def count_in_thread(action) -> tuple[threading.Thread, list[BaseException]]:  # noqa: ANN001
    """Run ``action`` in a thread; what it raised lands in the list."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as error:  # noqa: BLE001 - the test reads it
            raised.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, raised


def counting_slowly(pg_server, monkeypatch, words: str):  # noqa: ANN001, ANN201
    """A store, a key source of ``words``, and its exact count running (sleeping) in a
    thread on the server: (repo, source, thread, raised, the server pid running it)."""
    database = pg_server.new_database()
    repo = owned_store(pg_server.conninfo(database))
    source = repo.key_source("created_desc", words)
    monkeypatch.setattr(postgres, "_count_rows", sleeping_count)
    thread, raised = count_in_thread(source.count)
    return repo, source, thread, raised, wait_for_sleep(pg_server, database)


def test_a_stale_exact_count_is_cancelled_and_its_connection_kept(pg_server, monkeypatch) -> None:
    repo, source, thread, raised, _pid = counting_slowly(pg_server, monkeypatch, "widget")
    started = time.monotonic()
    source.cancel_count()
    thread.join(timeout=10)
    assert not thread.is_alive() and time.monotonic() - started < 5
    assert len(raised) == 1 and isinstance(raised[0], ReadCancelled)
    monkeypatch.undo()
    # The same counting connection answers the next source's count: a cancel does not break
    # it. The cancelled source never counts again (a newer one replaced it).
    assert repo.key_source("created_desc", "widget").count() == 1
    with pytest.raises(ReadCancelled):
        source.count()
    repo.close_key_sources()


def test_a_count_cancelled_before_it_began_is_never_started(pg_url, monkeypatch) -> None:
    """The count's worker may start a moment after the admin typed on: it must not run a
    count nobody wants (it would hold the counting connection from the next keystroke)."""
    repo = owned_store(pg_url)
    source = repo.key_source("created_desc", "")
    source.cancel_count()
    started: list[object] = []
    monkeypatch.setattr(postgres, "_count_rows", lambda *args: started.append(args) or 0)
    with pytest.raises(ReadCancelled):
        source.count()
    assert started == []
    monkeypatch.undo()
    # Its windows and capped counts still answer (they are not the cancelled work).
    assert [view.record["name"] for view in source.window(0, 10)] == ["Login form", "Checkout widget"]
    assert source.count(at_most=10, aside=True) == 2
    repo.close_key_sources()


def test_a_cancel_stops_only_an_exact_count(pg_url) -> None:
    """Capped counts and far windows share the counting backend's read connection; a cancel
    goes only to the connection of its exact counts, so it cannot stop one of those."""
    repo = owned_store(pg_url)
    counting = repo._counting_backend()

    def read_slowly() -> None:
        with counting._connection("read") as connection:
            connection.execute("SELECT pg_sleep(0.5)")

    thread, raised = count_in_thread(read_slowly)
    time.sleep(0.1)
    counting.cancel_counts()
    thread.join(10)
    assert raised == []
    repo.close_key_sources()


def test_a_cancel_nobody_here_asked_for_is_one_line_saying_so(pg_server, monkeypatch) -> None:
    repo, _source, thread, raised, pid = counting_slowly(pg_server, monkeypatch, "")
    with pg_server.admin() as admin:
        admin.execute("SELECT pg_cancel_backend(%s)", (pid,))
    thread.join(timeout=10)
    assert len(raised) == 1 and isinstance(raised[0], StoreUnusable)
    message = str(raised[0])
    assert message.startswith("could not read ") and "cancelled the statement" in message
    assert message.endswith("try again")
    assert "lost the connection" not in message and "\n" not in message
    repo.close_key_sources()


async def test_a_cancelled_read_ends_quietly_in_the_ui() -> None:
    from textual.app import App

    from tui.workers import store_call

    def cancelled() -> None:
        raise ReadCancelled("a read was cancelled")

    def unusable() -> None:
        raise StoreUnusable("the store is gone")

    app: App[None] = App()
    async with app.run_test() as pilot:
        store_call(app, cancelled, lambda _: pytest.fail("a cancelled read has no answer"))
        store_call(app, unusable)
        await app.workers.wait_for_complete()
        await pilot.pause()
        messages = [notification.message for notification in app._notifications]
    assert messages == ["the store is gone"]
    assert issubclass(ReadCancelled, StoreError)


def test_beside_runs_at_once_and_hands_back_its_answer_or_error() -> None:
    from tui.workers import Beside

    started = threading.Event()
    release = threading.Event()

    def slow() -> int:
        started.set()
        release.wait(5)
        return 42

    beside = Beside(slow)
    assert started.wait(5)  # running before result() is asked for
    release.set()
    assert beside.result() == 42

    def broken() -> int:
        raise ReadCancelled("a read was cancelled")

    with pytest.raises(ReadCancelled):
        Beside(broken).result()


def test_background_counts_use_one_core_and_windows_the_server_default(pg_url) -> None:
    """The counting connection runs without parallel workers (a count a screen runs aside
    leaves the server's other cores to keystrokes and verifies); the windows' does not."""
    repo = owned_store(pg_url)
    counting = repo._counting_backend()
    with counting._connection("read") as connection:
        assert connection.execute("SHOW max_parallel_workers_per_gather").fetchone()[0] == "0"
    with repo.backend._connection("read") as connection:
        assert connection.execute("SHOW max_parallel_workers_per_gather").fetchone()[0] != "0"
    repo.close_key_sources()
