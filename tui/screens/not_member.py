"""The one screen a login that is not a member of the store's organisation sees: who to ask."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from store.models import Member

from ..text import literal, safe_text


def not_member_text(login: str, organisation: str, owners: list[Member]) -> Text:
    """What the screen says: the login is not a member, the owners to ask, the command."""
    text = Text()
    text.append_text(literal(f"{login} is not a member of {organisation}.", style="bold"))
    text.append("\n\nAn owner can add you. Ask ")
    text.append("one of them:" if len(owners) > 1 else "them:")
    for owner in owners:
        text.append("\n  • ")
        text.append_text(literal(owner.display_name, style="bold"))
        if owner.display_name != owner.login:
            text.append_text(literal(f" ({owner.login})"))
    if not owners:
        text.append("\n  (the store names no owner: ask whoever keeps the store)")
    text.append("\n\nThe command for them: ")
    text.append_text(literal(f"apikeys members add {login} --role developer", style="bold"))
    text.append("\n\nPress r to look again once they have, q to quit.")
    return text


class NotMemberScreen(Screen[None]):
    """Says that the acting login is not a member and names the owners to ask; nothing else
    of the store is shown or offered."""

    CSS_PATH = "not_member.tcss"
    BINDINGS = [
        Binding("r", "look_again", "Look again"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, organisation: str, owners: list[Member]) -> None:
        super().__init__()
        self.organisation = organisation
        self.owners = owners

    def compose(self) -> ComposeResult:
        """Header, the message, footer."""
        yield Header()
        with Vertical(id="not-member"):
            login = self.app.repo.login  # type: ignore[attr-defined]
            yield Static(not_member_text(login, self.organisation, self.owners), id="not-member-text")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        """The title names the organisation, as the main screen's does."""
        self.title = f"API Keys — {safe_text(self.organisation)}"
        self.sub_title = f"{safe_text(self.app.repo.login)} (not a member)"  # type: ignore[attr-defined]

    def action_look_again(self) -> None:
        """Open the main screen again: it shows the keys if the login was added meanwhile."""
        from .key_list import KeyListScreen

        self.app.switch_screen(KeyListScreen())
