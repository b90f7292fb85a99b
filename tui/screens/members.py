"""Members: who may use the store, and with which role.

Owners add members, change roles and remove members who leave; everyone else reads. Whether
this member may is asked of the repository (the rule book), and the store keeps the last owner
from being demoted or removed (its refusal is shown as it is).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.text import Text
from textual.binding import Binding

from store.access import OrganisationAction
from store.models import Member, Role

from ..format import short_date
from ..text import safe_text
from ..widgets.virtual_table import Column
from ..workers import store_call
from .live import ListScreen, sized_columns
from .prompts import ChoicePrompt, ConfirmDialog, TextPrompt

ROLE_CHOICES = [
    (Role.OWNER.value, "owner · manages members; edits and revokes any key"),
    (Role.SUPPORT.value, "support · sees every key; manages projects"),
    (Role.ANALYTICS.value, "analytics · sees every key"),
    (Role.DEVELOPER.value, "developer · sees and changes only their own keys"),
]
LOGIN_MAX_WIDTH = 20
YOU = " (you)"
COLUMNS = (
    Column("login", "Login", 5, priority=100),
    Column("name", "Name", 12, priority=100, flex=True),
    Column("role", "Role", 9, priority=90),
    Column("added", "Added", 10, priority=80),
)


@dataclass(frozen=True)
class MembersLoaded:
    """What the screen shows: the acting member, every member, and why this member may not
    manage members (None when they may)."""

    me: Member
    members: list[Member]
    refusal: str | None


class MembersScreen(ListScreen[MembersLoaded]):
    """The members of the organisation (``m`` from the main screen)."""

    TITLE = "Members"
    COLUMNS = COLUMNS
    LOADING = "Loading members…"
    # The table binds enter itself ("activate"), so these are priority bindings. Each action
    # has a hidden twin that runs when check_action hides it, so a non-owner is told why.
    CHANGES = ("add_member", "change_role", "remove_member")
    ROW_CHANGES = ("change_role", "remove_member")
    BINDINGS = [
        Binding("n", "add_member", "Add member"),
        Binding("n", "refuse", show=False),
        Binding("enter", "change_role", "Change role", priority=True),
        Binding("enter", "refuse", show=False, priority=True),
        Binding("d,delete", "remove_member", "Remove", key_display="d"),
        Binding("d,delete", "refuse", show=False),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.me: Member | None = None
        self.members: dict[str, Member] = {}
        self._select_after_load: str | None = None

    # -- loading ----------------------------------------------------------------------

    def fetch(self) -> MembersLoaded:
        """The acting member, every member, and the rule book's answer (worker thread)."""
        return MembersLoaded(
            me=self.repo.me(), members=self.repo.list_members(),
            refusal=self.repo.refusal(OrganisationAction.MANAGE_MEMBERS),
        )

    def show(self, data: MembersLoaded) -> None:
        """Fill the table, keeping the cursor on the same login (first time: on yours)."""
        first = self.me is None
        self.me, self.refusal = data.me, data.refusal
        self.members = {member.login: member for member in data.members}
        table = self.table
        columns = sized_columns(COLUMNS, data.members, self._plain)
        columns[0] = replace(columns[0], width=min(LOGIN_MAX_WIDTH, columns[0].most))
        table.set_columns(columns)
        table.set_rows(data.members)
        keep = self._select_after_load or (data.me.login if first else None)
        if keep:
            table.move_cursor_to_id(keep)
        self._select_after_load = None
        count = len(self.members)
        summary = f"{count} member{'s' if count != 1 else ''} · you are {data.me.role.value}"
        if not self.may_change:
            summary += " · read only: owners manage members"
        self.set_summary(summary)

    def row_id(self, member: Member) -> str:
        """A member's login."""
        return member.login

    def cell(self, member: Member, column: str) -> str | Text:
        """One cell of a member's row."""
        if column == "login" and self.me is not None and member.login == self.me.login:
            return Text.assemble(safe_text(member.login), (YOU, "bold"))
        if column == "role":
            return Text(member.role.value, style="bold" if member.role is Role.OWNER else "")
        if column == "added":
            return Text(short_date(member.added_at), style="dim")
        return self._plain(member, column)

    def _plain(self, member: Member, column: str) -> str:
        if column == "login":
            you = self.me is not None and member.login == self.me.login
            return member.login + (YOU if you else "")
        if column == "name":
            return member.display_name
        if column == "role":
            return member.role.value
        return short_date(member.added_at)

    # -- actions --------------------------------------------------------------------------

    def action_add_member(self) -> None:
        """Ask for a login, then a role; the store adds the member."""
        def check(login: str) -> str | None:
            if not login:
                return "Type the member's login (their account name on this host)."
            if login in self.members:
                return f"{login} is already a member: press enter on their row to change the role."
            return None

        prompt = TextPrompt(
            "Add a member",
            placeholder="login, e.g. jsmith",
            hint="Their account name on this host; the name comes from the account.",
            check=check,
        )
        self.app.push_screen(prompt, self._ask_role_for_new_member)

    def _ask_role_for_new_member(self, login: str | None) -> None:
        if not login:
            return

        def chosen(role: str | None) -> None:
            if role is None:
                return

            def added(member: Member) -> None:
                self._select_after_load = member.login
                self.notify(f"Added {safe_text(member.login)} as {member.role.value}", markup=False)
                self.reload()

            store_call(self, lambda: self.repo.add_member(login, role), added)

        self.app.push_screen(
            ChoicePrompt(f"Role for {login}", ROLE_CHOICES, current=Role.DEVELOPER.value), chosen
        )

    def action_change_role(self) -> None:
        """Choose a new role for the member under the cursor."""
        member = self.table.cursor_row
        if member is None:
            return

        def chosen(role: str | None) -> None:
            if role is None or role == member.role.value:
                return

            def changed(updated: Member) -> None:
                self.notify(f"{safe_text(updated.login)} is now {updated.role.value}", markup=False)
                self.reload()

            store_call(self, lambda: self.repo.set_member_role(member.login, role), changed)

        self.app.push_screen(
            ChoicePrompt(f"Role of {member.login}", ROLE_CHOICES, current=member.role.value), chosen
        )

    def action_remove_member(self) -> None:
        """Ask (Cancel focused), then remove the member under the cursor; the store refuses
        the last owner, and that refusal is shown in one line."""
        member = self.table.cursor_row
        if member is None:
            return
        login = member.login
        you = self.me is not None and login == self.me.login
        dialog = ConfirmDialog(
            f"Remove {safe_text(login)}?",
            f"{safe_text(member.display_name)} ({member.role.value}) loses access at once"
            + (", you included" if you else "")
            + ". The keys they created stay, with their creator shown as removed.",
            confirm="Remove", danger=True,
        )

        def remove() -> None:
            def removed(gone: Member) -> None:
                self.notify(f"Removed {safe_text(gone.login)}", markup=False)
                self.reload()

            store_call(self, lambda: self.repo.remove_member(login), removed,
                       failed=lambda error: self.notify(str(error), severity="warning", markup=False))

        dialog.then(self, remove)
