"""Members: who may use the store, and with which role.

Owners add members and change roles; everyone else reads. The rules and the refusals come
from :mod:`store.access`, and the store keeps the last owner from being demoted.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from store import access
from store.errors import Forbidden
from store.models import Member, Role

from ..format import short_date
from ..text import literal, safe_text
from ..workers import store_call
from .live import LiveScreen, cursor_key, flex_width, move_cursor_to
from .prompts import ChoicePrompt, TextPrompt

ROLE_CHOICES = [
    (Role.OWNER.value, "owner · manages members; edits and revokes any key"),
    (Role.SUPPORT.value, "support · sees every key; manages projects"),
    (Role.ANALYTICS.value, "analytics · sees every key"),
    (Role.DEVELOPER.value, "developer · sees and changes only their own keys"),
]
LOGIN_MAX_WIDTH = 20
ROLE_WIDTH = 9
ADDED_WIDTH = 10
NAME_MIN_WIDTH = 12
YOU = " (you)"


@dataclass(frozen=True)
class MembersLoaded:
    """What the screen shows: the acting member and every member."""

    me: Member
    members: list[Member]


class MembersScreen(LiveScreen[MembersLoaded]):
    """The members of the organisation (``m`` from the main screen)."""

    TITLE = "Members"
    AUTO_FOCUS = "DataTable"
    DEFAULT_CSS = """
    MembersScreen > #members-summary { height: 1; padding: 0 1; color: $text-muted; }
    MembersScreen > DataTable { height: 1fr; }
    """
    # The table binds enter itself ("select"), so these are priority bindings. Each action has
    # a hidden twin that runs when check_action hides it, so a non-owner is told why.
    BINDINGS = [
        Binding("n", "add_member", "Add member"),
        Binding("n", "refuse('add members')", show=False),
        Binding("enter", "change_role", "Change role", priority=True),
        Binding("enter", "refuse('change roles')", show=False, priority=True),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.me: Member | None = None
        self.members: dict[str, Member] = {}
        self._select_after_load: str | None = None
        self._widths: tuple[int, int] = (0, 0)

    def compose(self) -> ComposeResult:
        """Header, a summary line, the table, footer."""
        yield Header()
        yield Static("Loading members…", id="members-summary", classes="summary")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        yield table
        yield Footer()

    # -- loading ----------------------------------------------------------------------

    def fetch(self) -> MembersLoaded:
        """The acting member and every member (worker thread)."""
        return MembersLoaded(me=self.repo.me(), members=self.repo.list_members())

    def show(self, data: MembersLoaded) -> None:
        """Fill the table, keeping the cursor on the same login."""
        self.me = data.me
        self.members = {member.login: member for member in data.members}
        table = self.query_one(DataTable)
        keep = self._select_after_load or cursor_key(table) or data.me.login
        self._select_after_load = None
        self._fill(keep)
        count = len(self.members)
        summary = f"{count} member{'s' if count != 1 else ''} · you are {data.me.role.value}"
        if not self.is_owner:
            summary += " · read only: owners manage members"
        self.query_one("#members-summary", Static).update(literal(summary))

    def _fill(self, keep: str | None) -> None:
        table: DataTable[Text] = self.query_one(DataTable)
        fallback = table.cursor_row
        self._widths = login_width, name_width = self._wanted_widths()
        table.clear(columns=True)
        table.add_column("Login", width=login_width, key="login")
        table.add_column("Name", width=name_width, key="name")
        table.add_column("Role", width=ROLE_WIDTH, key="role")
        table.add_column("Added", width=ADDED_WIDTH, key="added")
        for member in self.members.values():
            table.add_row(*self._cells(member), key=member.login)
        move_cursor_to(table, keep, fallback)

    def _cells(self, member: Member) -> tuple[Text, ...]:
        login = literal(member.login)
        if self.me is not None and member.login == self.me.login:
            login.append(YOU, style="bold")
        name = literal(member.display_name)
        for cell in (login, name):
            cell.no_wrap, cell.overflow = True, "ellipsis"
        role = Text(member.role.value, style="bold" if member.role is Role.OWNER else "")
        return (login, name, role, Text(short_date(member.added_at), style="dim"))

    def _wanted_widths(self) -> tuple[int, int]:
        logins = max((len(login) for login in self.members), default=0) + len(YOU)
        login_width = max(len("Login"), min(LOGIN_MAX_WIDTH, logins))
        room = flex_width(self.size.width, [login_width, ROLE_WIDTH, ADDED_WIDTH], NAME_MIN_WIDTH)
        names = max((len(m.display_name) for m in self.members.values()), default=0)
        return login_width, max(NAME_MIN_WIDTH, min(room, max(names, len("Name"))))

    def on_resize(self) -> None:
        """Give the name column the room a wider (or narrower) terminal has."""
        if self.loaded and self._wanted_widths() != self._widths:
            self._fill(cursor_key(self.query_one(DataTable)))

    # -- who may do what ----------------------------------------------------------------

    @property
    def is_owner(self) -> bool:
        """Whether the acting member is an owner (only owners manage members)."""
        return self.me is not None and self.me.role is Role.OWNER

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide member changes from non-owners; grey role changes without a row."""
        if action == "add_member":
            return self.is_owner
        if action == "change_role":
            if not self.is_owner:
                return False
            return True if self.members else None
        if action == "refuse":
            return not self.is_owner
        return True

    def action_refuse(self, action: str) -> None:
        """Say why the pressed action is not available to this member."""
        if self.me is None:
            message = "The members are still loading"
        else:
            try:
                access.require_owner(self.me.login, self.me.role, action)
                return
            except Forbidden as error:
                message = str(error)
        self.notify(message, severity="warning", markup=False)

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
        login = cursor_key(self.query_one(DataTable))
        member = self.members.get(login or "")
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
