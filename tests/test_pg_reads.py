"""A lost PostgreSQL connection says what it cost (issue 10): a read that fails says the read
failed and to try again (the screens' ``r``), a change that fails says it was not made, and the
live view's listener says only that the connection was lost. The next read connects again."""

from __future__ import annotations

import pytest
from test_ui_admin import harness, open_screen

from conftest import OWNER, fixed_clock, new_owner_repo, web_draft
from screen_harness import screen_text, settle
from store.errors import StoreUnusable
from store.repository import Repository
from tui.screens.activity import ActivityScreen
from tui.screens.policy import PolicyScreen

NOT_MADE = "a change in progress was not made"


@pytest.fixture
def database(pg_server):
    """A store on a fresh database of the session's server, and a way to cut every
    connection to it (as a server restart or a network cut would)."""
    from psycopg import sql

    with pg_server.admin() as connection:
        if connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (OWNER,)).fetchone() is None:
            connection.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(OWNER)))
    name = pg_server.new_database()
    target = pg_server.conninfo(name)
    new_owner_repo(target).close()

    def cut(pid: int | None = None) -> int:
        """End every session on the database but the admin's (or the one of ``pid``)."""
        with pg_server.admin(name) as admin:
            rows = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND (%s::int IS NULL OR pid = %s::int)", (pid, pid),
            ).fetchall()
        return len(rows)

    return target, cut


def test_a_failed_read_says_the_read_failed(database) -> None:
    target, cut = database
    repo = Repository(target, OWNER, clock=fixed_clock)
    repo.add_project("Before")  # the read and the write connections are open
    assert repo.history(limit=1)
    assert cut() >= 2
    with pytest.raises(StoreUnusable) as failed:
        repo.history(limit=5)
    message = str(failed.value)
    assert message.startswith("could not read database ") and "lost the connection" in message
    assert message.endswith("; try again") and NOT_MADE not in message
    assert repo.history(limit=1)  # the next read connects again
    repo.close()


def test_a_failed_change_still_says_it_was_not_made(database) -> None:
    target, cut = database
    repo = Repository(target, OWNER, clock=fixed_clock)
    repo.add_project("Before")
    writer = repo.backend._connections["write"].info.backend_pid
    assert cut(writer) == 1  # the change's own connection: its reads before it still work
    with pytest.raises(StoreUnusable, match=NOT_MADE) as failed:
        repo.create_key(web_draft(name="Lost"))
    assert str(failed.value).startswith("lost the connection to database ")
    assert "Lost" not in {view.name for view in repo.list_keys()}
    repo.create_key(web_draft(name="Made"))  # the next change connects again
    assert [view.name for view in repo.list_keys()] == ["Made"]
    repo.close()


def test_the_listener_says_only_that_the_connection_was_lost(database) -> None:
    target, cut = database
    repo = Repository(target, OWNER, clock=fixed_clock)
    listener = repo.change_notices()
    assert listener is not None
    cut()
    with pytest.raises(StoreUnusable) as failed:
        listener.wait(1.0)
    message = str(failed.value)
    assert message.startswith("lost the connection to database ") and "read" not in message
    assert NOT_MADE not in message
    listener.close()
    repo.close()


@pytest.mark.parametrize("make_screen", [ActivityScreen, PolicyScreen])
async def test_a_screen_whose_read_fails_says_so_and_r_reads_again(database, make_screen) -> None:
    target, cut = database
    app = harness(target)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, make_screen())
        cut()
        await pilot.press("r")
        await settle(app, pilot)
        text = screen_text(app)
        assert "could not read database" in text and NOT_MADE not in text
        await pilot.press("r")  # the connection is made again
        await settle(app, pilot)
        assert "could not read" not in screen_text(app)
        assert screen.loaded
    app.repo.close()
