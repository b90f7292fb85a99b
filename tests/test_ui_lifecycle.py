"""The key lifecycle in the UI (SPEC §9): roll, disable / enable, expiry, the expiring view,
the policy screen, members who leave, and usage in the details; driven with Pilot."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import Input, Sparkline

from conftest import OWNER, analytics_draft, fixed_clock, web_draft
from screen_harness import flat_text, harness, notifications, screen_text, settle
from store.repository import Repository
from tui.app import make_app
from tui.screens.create_key import CreateKeyModal
from tui.screens.disable_keys import ConfirmDisable
from tui.screens.edit_key import EditKeyModal
from tui.screens.key_created import KeyCreatedScreen
from tui.screens.key_detail import KeyDetailScreen
from tui.screens.key_list import KeyListScreen
from tui.screens.members import MembersScreen
from tui.screens.policy import PolicyForm, PolicyScreen
from tui.screens.prompts import ConfirmDialog
from tui.screens.roll_key import RollKeyModal


def app_on(store_path, login: str = OWNER):
    return make_app(store_path, login, clock=fixed_clock, live_interval=3600)


def events(repo: Repository, action: str) -> list[str]:
    return [event.detail for event in repo.history() if event.action == action]


# -- roll -------------------------------------------------------------------------------------


async def test_roll_from_the_list_with_a_chosen_grace_shows_the_new_secret(owner_repo, store_path):
    key = owner_repo.create_key(web_draft(name="Checkout widget")).key
    app = app_on(store_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("R")
        await settle(app, pilot)
        assert isinstance(app.screen, RollKeyModal)
        text = flat_text(app)
        assert "Checkout widget" in text and key.id in text
        assert "stops working at once" in text  # no grace by default, as `apikeys roll`
        await pilot.press("right", "right")  # 24 hours
        await settle(app, pilot)
        assert "keeps working until 2026-12-02 09:30 UTC" in flat_text(app)
        await pilot.press("right")  # 7 days
        await settle(app, pilot)
        assert "keeps working until 2026-12-08 09:30 UTC" in flat_text(app)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
        assert "Key rolled: new secret" in flat_text(app)
        assert "Previous secret works until 2026-12-08 09:30 UTC" in flat_text(app)
        new_secret = owner_repo.reveal_secret(key.id).get_secret_value()
        assert new_secret in flat_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, KeyListScreen)
    rolled = owner_repo.get_key(key.id)
    assert rolled.previous_valid_until == "2026-12-08T09:30:00Z"
    assert rolled.revision == key.revision + 1
    assert any("grace 7d" in detail for detail in events(owner_repo, "key.roll"))


async def test_roll_under_a_lifetime_policy_says_the_limit_and_refuses_inline(owner_repo, store_path):
    key = owner_repo.create_key(web_draft(name="Checkout widget")).key  # no expiry
    owner_repo.set_policy(max_lifetime_days={"web": 30})
    app = app_on(store_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("R")
        await settle(app, pilot)
        field = app.screen.query_one("#roll-expires", Input)
        assert "policy max 30d" in str(field.placeholder)
        await pilot.press("ctrl+s")  # keeping "never" breaks the policy: refused in the form
        await settle(app, pilot)
        assert isinstance(app.screen, RollKeyModal)
        error = str(app.screen.query_one("#roll-error").render())
        assert "web keys may live at most 30 days (policy): choose an expiry of 30d or sooner" in error
        assert "--" not in error  # the form's words, not a command-line flag
        field.value = "30d"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
    rolled = owner_repo.get_key(key.id)
    assert rolled.revision == key.revision + 1 and rolled.expires_at == "2026-12-31T09:30:00Z"


async def test_rolling_an_analytics_key_shows_the_secret_once_with_the_close_guard(owner_repo, store_path):
    key = owner_repo.create_key(analytics_draft()).key
    app = harness(store_path, OWNER, lambda: KeyDetailScreen(key.id))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("R")
        await settle(app, pilot)
        assert isinstance(app.screen, RollKeyModal)
        assert "shown once" in flat_text(app)
        await pilot.press("right", "left")  # 1 hour, then none again
        await settle(app, pilot)
        assert "stops working at once" in flat_text(app)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        created = app.screen
        assert isinstance(created, KeyCreatedScreen) and created.analytics
        assert app.focused is not None and app.focused.id == "copy"
        assert "The previous secret stopped working" in flat_text(app)
        await pilot.press("escape")  # not copied: asks first, Cancel focused
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert app.focused is not None and app.focused.id == "cancel"
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is created
    rolled = owner_repo.get_key(rolled_id := key.id)
    assert rolled.secret is None and rolled.previous_valid_until is None and rolled_id


async def test_two_admins_roll_at_once_one_wins_the_other_is_told(owner_repo, store_path):
    key = owner_repo.create_key(web_draft()).key
    app = harness(store_path, OWNER, lambda: KeyDetailScreen(key.id))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("R")
        await settle(app, pilot)
        modal = app.screen
        assert isinstance(modal, RollKeyModal)
        colleague = Repository(store_path, OWNER, clock=fixed_clock)
        winner = colleague.roll_key(key.id, timedelta(hours=1))
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is modal  # stays open, says why
        assert "was changed by alice" in modal.error_text
        assert "it was not rolled" in modal.error_text
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, KeyDetailScreen)
    assert owner_repo.reveal_secret(key.id).get_secret_value() == winner.secret.get_secret_value()
    assert len(events(owner_repo, "key.roll")) == 1


async def test_a_revoked_key_cannot_be_rolled_and_says_why(owner_repo, store_path):
    key = owner_repo.create_key(web_draft()).key
    owner_repo.revoke_keys([key.id])
    app = harness(store_path, OWNER, lambda: KeyDetailScreen(key.id))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("R")
        await settle(app, pilot)
        assert isinstance(app.screen, KeyDetailScreen)
        assert any("a revoked key cannot be rolled" in message for message in notifications(app))


# -- disable / enable -------------------------------------------------------------------------


async def test_disable_then_enable_from_the_details(owner_repo, store_path):
    key = owner_repo.create_key(web_draft(name="Paused widget")).key
    app = harness(store_path, OWNER, lambda: KeyDetailScreen(key.id))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("D")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDisable)
        assert app.focused is not None and app.focused.id == "cancel"
        assert "stops working until it is enabled again" in flat_text(app)
        await pilot.press("tab", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, KeyDetailScreen)
        assert owner_repo.get_key(key.id).status == "disabled"
        assert "disabled" in screen_text(app)
        await pilot.press("D")  # already disabled: one line, no modal
        await settle(app, pilot)
        assert isinstance(app.screen, KeyDetailScreen)
        assert any("already disabled" in message for message in notifications(app))
        await pilot.press("E")
        await settle(app, pilot)
        assert owner_repo.get_key(key.id).status == "active"
    assert len(events(owner_repo, "key.disable")) == 1 and len(events(owner_repo, "key.enable")) == 1


async def test_bulk_disable_of_marked_keys_says_how_many_the_filter_hides(owner_repo, store_path):
    ids = [owner_repo.create_key(web_draft(name=f"Widget {word}")).key.id
           for word in ("alpha", "bravo", "charlie")]
    app = app_on(store_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        table = app.screen.table
        await pilot.press("space", "space")  # the two newest
        marked = set(table.marked_ids)
        shown = next(row.name for row in table.rows if row.id in marked)
        await pilot.press("slash", *shown.split()[-1], "enter")
        await settle(app, pilot)
        await pilot.press("D")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmDisable)
        assert dialog.hidden == 1 and len(dialog.keys) == 2
        assert "Disable 2 API keys?" in flat_text(app)
        assert "stops working until they are enabled again" in flat_text(app)
        assert "1 of these 2 marked keys is hidden by the filter" in flat_text(app)
        await pilot.press("tab", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, KeyListScreen) and not table.marked_ids
    disabled = {key_id for key_id in ids if owner_repo.get_key(key_id).status == "disabled"}
    assert disabled == marked


async def test_enable_from_the_list(owner_repo, store_path):
    key = owner_repo.create_key(web_draft()).key
    owner_repo.disable_keys([key.id])
    app = app_on(store_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("E")
        await settle(app, pilot)
        assert owner_repo.get_key(key.id).status == "active"
        assert any("Enabled" in message for message in notifications(app))


# -- expiry -----------------------------------------------------------------------------------


async def test_edit_expiry_refused_by_the_policy_inline_then_saved(owner_repo, store_path):
    key = owner_repo.create_key(web_draft()).key
    owner_repo.set_policy(max_lifetime_days={"web": 30})
    app = harness(store_path, OWNER, lambda: EditKeyModal(owner_repo.get_key(key.id)))
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(app, pilot)
        field = app.screen.query_one("#expires-at", Input)
        assert field.value == ""  # no expiry
        field.value = "90d"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, EditKeyModal)
        error = str(app.screen.query_one("#expires_at-error").render())
        assert "web keys may live at most 30 days (policy)" in error
        assert app.focused is field
        field.value = "2026-12-20"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    assert owner_repo.get_key(key.id).expires_at == "2026-12-20T00:00:00Z"


async def test_create_form_refuses_an_expiry_it_cannot_read(owner_repo, store_path):
    app = harness(store_path, OWNER, CreateKeyModal)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#expires-at", Input).value = "next week"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, CreateKeyModal)
        error = str(app.screen.query_one("#expires_at-error").render())
        assert "is not an expiry: give 30d, a date such as 2027-01-31, or never" in error


async def test_expiring_count_and_the_x_view(owner_repo, store_path):
    soon = owner_repo.create_key({**web_draft(name="Soon"), "expires_at": "2026-12-06T09:30:00Z"}).key
    owner_repo.create_key({**web_draft(name="Later"), "expires_at": "2027-03-01T00:00:00Z"})
    owner_repo.create_key(web_draft(name="Never"))
    app = app_on(store_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert "1 expiring in 14d (x)" in screen_text(app)
        row = next(line for line in screen_text(app).splitlines() if "Soon" in line)
        assert "in 5 days" in row
        await pilot.press("x")
        await settle(app, pilot)
        assert [row.id for row in screen.table.rows] == [soon.id]
        assert "only expiring in 14d" in screen_text(app)
        await pilot.press("x")
        await settle(app, pilot)
        assert screen.table.row_count == 3


# -- policy -----------------------------------------------------------------------------------


async def test_owner_changes_the_policy_and_sees_the_keys_that_break_it(owner_repo, store_path):
    key = owner_repo.create_key(web_draft(name="Forever widget")).key
    app = app_on(store_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("P")
        await settle(app, pilot)
        assert isinstance(app.screen, PolicyScreen)
        assert "Web no limit" in flat_text(app) and "14 days" in flat_text(app)
        await pilot.press("e")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, PolicyForm)
        form.query_one("#max-web", Input).value = "90"
        form.query_one("#warn-days", Input).value = "400"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form and "warn" in form.error_text  # the store's refusal, inline
        form.query_one("#warn-days", Input).value = "21"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, PolicyScreen)
        assert "Web 90 days" in flat_text(app) and "21 days" in flat_text(app)
        assert [row.key.id for row in screen.table.rows] == [key.id]
        assert "1 active key breaks the policy" in flat_text(app)
        assert "no expiry (at most 90 days)" in flat_text(app)
    policy = owner_repo.get_policy()
    assert policy.max_days("web") == 90 and policy.warn_days == 21


async def test_a_non_owner_reads_the_policy_and_is_told_why_not(owner_repo, store_path):
    owner_repo.add_member("bob", "support")
    app = app_on(store_path, "bob")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("P")
        await settle(app, pilot)
        assert isinstance(app.screen, PolicyScreen)
        assert "read only: owners change the policy" in screen_text(app)
        await pilot.press("e")
        await settle(app, pilot)
        assert isinstance(app.screen, PolicyScreen)
        assert any("only an owner may change the policy" in message for message in notifications(app))


# -- members leave ----------------------------------------------------------------------------


async def test_owner_removes_a_member_whose_keys_show_the_creator_removed(owner_repo, store_path):
    owner_repo.add_member("bob", "developer")
    key = Repository(store_path, "bob", clock=fixed_clock).create_key(web_draft(name="Bob's widget")).key
    app = app_on(store_path)
    async with app.run_test(size=(130, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("m")
        await settle(app, pilot)
        members = app.screen
        assert isinstance(members, MembersScreen)
        members.table.move_cursor_to_id("bob")
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert app.focused is not None and app.focused.id == "cancel"
        assert "Remove bob?" in flat_text(app)
        await pilot.press("tab", "enter")
        await settle(app, pilot)
        assert app.screen is members and "bob" not in [row.login for row in members.table.rows]
        await pilot.press("escape")
        await settle(app, pilot)
        row = next(line for line in screen_text(app).splitlines() if "Bob's widget" in line)
        assert "bob (remove" in row  # the Created by column cuts it at 12
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, KeyDetailScreen)
        assert "by bob (removed)" in flat_text(app)
    assert "bob" not in owner_repo.member_logins()
    assert owner_repo.get_key(key.id).created_by == "bob"


async def test_the_last_owner_cannot_be_removed_and_the_store_says_so(owner_repo, store_path):
    app = app_on(store_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("m")
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("tab", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, MembersScreen)
        assert any("alice is the last owner" in message for message in notifications(app))
    assert OWNER in owner_repo.member_logins()


# -- usage ------------------------------------------------------------------------------------


async def test_details_show_usage_as_a_sparkline_with_totals(owner_repo, store_path):
    created = owner_repo.create_key(web_draft())
    secret = created.secret.get_secret_value()
    verifier = Repository(store_path, OWNER, clock=fixed_clock)
    for _ in range(3):
        assert verifier.verify(secret, origin="https://shop.example.com", ip="203.0.113.7").valid
    assert not verifier.verify(secret, origin="https://evil.example").valid
    verifier.flush_usage()
    app = harness(store_path, OWNER, lambda: KeyDetailScreen(created.key.id))
    async with app.run_test(size=(100, 50)) as pilot:
        await settle(app, pilot)
        chart = app.screen.query_one(Sparkline)
        assert len(chart.data) == 30 and sum(chart.data) == 4 and chart.data[-1] == 4
        text = flat_text(app)
        assert "3 valid · 1 refused in the last 30 days" in text
        assert "from https://shop.example.com (IP 203.0.113.7)" in text


# -- reachable ---------------------------------------------------------------------------------


async def test_every_lifecycle_action_is_in_the_palette_and_the_help(owner_repo, store_path):
    owner_repo.create_key(web_draft())
    app = app_on(store_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in ("Roll", "Disable", "Expiring soon", "Policy"):
            assert titles.count(title) == 1
        await pilot.press("question_mark")
        await settle(app, pilot)
        text = flat_text(app)
        for line in ("R Roll", "D Disable", "E Enable", "x Expiring soon", "P Policy"):
            assert line in text


async def test_an_expired_web_key_rolls_with_a_new_expiry_typed_in_the_modal(owner_repo, store_path):
    key = owner_repo.create_key({**web_draft(), "expires_at": "2026-12-02T00:00:00Z"}).key
    later = Repository(store_path, OWNER, clock=lambda: fixed_clock() + timedelta(days=3))
    app = make_app(store_path, OWNER, clock=later.clock, live_interval=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("R")
        await settle(app, pilot)
        modal = app.screen
        assert isinstance(modal, RollKeyModal)
        await pilot.press("ctrl+s")  # no new expiry: the store says what to do
        await settle(app, pilot)
        assert app.screen is modal and "give it a new expiry to roll it" in modal.error_text
        field = modal.query_one("#roll-expires", Input)
        assert app.focused is field
        field.value = "soon"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "is not an expiry" in modal.error_text
        field.value = "30d"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
    assert owner_repo.get_key(key.id).expires_at == "2027-01-03T09:30:00Z"


def test_a_large_expiring_count_is_grouped_by_thousands() -> None:
    from tui.screens.key_list import Expiring, KeyListScreen

    screen = KeyListScreen()
    screen.expiring = Expiring(warn_days=14, members=frozenset(), count=46_165)
    assert screen._expiring_summary() == ["46,165 expiring in 14d (x)"]
