"""Key details: every field of one key, its secret (masked, or why not), and its history.

Keys that do not apply to this key (edit on an Analytics key, anything but viewing on a revoked
one, changes to another member's key for a non-owner) are hidden from the footer; pressing one
anyway says why instead of doing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from pydantic import SecretStr
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from store import access, tokens
from store.errors import Forbidden, NotFound, StoreError
from store.models import ApiKey, AuditEvent, Role, Scope, Status, to_iso
from store.repository import ALL_PROJECTS
from tui.clipboard import copy_text
from tui.format import expiry_phrase, scope_label, short_time
from tui.text import literal, safe_text
from tui.workers import store_call

from .live import LiveScreen

HISTORY_SHOWN = 50  # the rest is on the Activity screen (l)
ANALYTICS_SECRET_NOTE = (
    "The secret was shown only once, at creation. Create a new key if it was lost."
)
REVOKED_SECRET_NOTE = "Revoked: the secret was wiped"


@dataclass(frozen=True)
class KeyLoaded:
    """One key as the details show it, read in a worker."""

    key: ApiKey
    project_name: str
    history: list[AuditEvent]
    role: Role
    login: str
    now: datetime

    @property
    def may_change(self) -> bool:
        """Whether the acting member may edit or revoke this key."""
        return access.can_change(self.login, self.role, {"created_by": self.key.created_by})

    @property
    def status(self) -> Status:
        """active, revoked or expired, now."""
        return self.key.effective_status(to_iso(self.now))


def _on_off(value: bool) -> str:
    return "on" if value else "off"


def _listed(values: list[str]) -> Text:
    """Values one per line, literally; ``—`` when there are none."""
    if not values:
        return Text("—", style="dim")
    return Text("\n").join(literal(value) for value in values)


def status_text(loaded: KeyLoaded) -> Text:
    """``active``, ``active · expires in 29 days``, ``expired 2026-…`` or ``revoked``."""
    key, status = loaded.key, loaded.status
    styles = {
        Status.ACTIVE: "bold green", Status.DISABLED: "bold yellow", Status.REVOKED: "bold red",
        Status.EXPIRED: "bold yellow",
    }
    text = Text(status.value, style=styles[status])
    if status is Status.ACTIVE and key.expires_at:
        text.append(f" · expires {expiry_phrase(key.expires_at, loaded.now)}")
    elif status is Status.EXPIRED and key.expires_at:
        text.append(f" · {expiry_phrase(key.expires_at, loaded.now)}")
    elif status is Status.REVOKED and key.expires_at:
        text.append(f" · would have expired {short_time(key.expires_at)}", style="dim")
    return text


def when_by(at: str | None, by: str | None) -> Text:
    """``2026-12-01 09:30 by alice`` (the login shown literally), or ``—``."""
    if not at:
        return Text("—", style="dim")
    text = Text(short_time(at))
    if by:
        text.append(" by ")
        text.append_text(literal(by))
    return text


def secret_text(loaded: KeyLoaded, revealed: SecretStr | None) -> Text:
    """The secret line: masked, revealed, or why there is none to show."""
    key = loaded.key
    if key.status == "revoked":
        return Text(REVOKED_SECRET_NOTE, style="italic")
    if key.scope is Scope.ANALYTICS:
        return Text(ANALYTICS_SECRET_NOTE, style="italic")
    if revealed is not None:
        return Text.assemble((revealed.get_secret_value(), "bold"), ("  v hides", "dim"))
    return Text.assemble(tokens.masked(key.key_prefix), ("  v reveals, c copies", "dim"))


def field_rows(loaded: KeyLoaded, revealed: SecretStr | None) -> list[tuple[str, Text]]:
    """Every field of the key's scope as (label, value) rows."""
    key = loaded.key
    project = (
        Text(ALL_PROJECTS, style="italic") if key.project_id is None
        else Text.assemble(literal(loaded.project_name), (f"  {key.project_id}", "dim"))
    )
    rows: list[tuple[str, Text]] = [
        ("Name", literal(key.name, style="bold")),
        ("ID", Text(key.id)),
        ("Scope", Text(scope_label(key.scope.value))),
        ("Project", project),
        ("Status", status_text(loaded)),
        ("Created", when_by(key.created_at, key.created_by)),
        ("Updated", when_by(key.updated_at, key.updated_by)),
        ("Revoked", when_by(key.revoked_at, key.revoked_by)),
        ("Last used", Text(short_time(key.last_used_at) if key.last_used_at else "never")),
        ("Key prefix", Text(key.key_prefix)),
        ("Secret", secret_text(loaded, revealed)),
    ]
    if key.scope is Scope.WEB and key.web is not None:
        web = key.web
        rows += [
            ("Custom UI domains", _listed(web.domains)),
            ("Developing locally", Text(_on_off(web.developing_locally))),
            ("IP networks", _listed(web.networks)),
            ("Cross page persistence", Text(_on_off(web.cross_page_persistence))),
        ]
    elif key.scope is Scope.MOBILE and key.mobile is not None:
        rows += [
            ("iOS bundle ids", _listed(key.mobile.ios_bundle_ids)),
            ("Android packages", _listed(key.mobile.android_packages)),
        ]
    elif key.scope is Scope.ANALYTICS:
        expires = Text(f"{short_time(key.expires_at)} UTC") if key.expires_at else Text("never")
        if key.expires_at:
            expires.append(f" ({expiry_phrase(key.expires_at, loaded.now)})", style="dim")
        rows.append(("Expires", expires))
    return rows


def fields_table(rows: list[tuple[str, Text]]) -> Table:
    """Labels in a dim column, values beside them."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    return table


def history_table(events: list[AuditEvent]) -> Table | Text:
    """When, who and what, newest first; ``HISTORY_SHOWN`` at most."""
    if not events:
        return Text("No recorded changes.", style="dim")
    table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False, expand=True)
    table.add_column("When", no_wrap=True, style="dim")
    table.add_column("Who", no_wrap=True, max_width=14)
    table.add_column("What", ratio=1, overflow="fold")
    for event in events[:HISTORY_SHOWN]:
        table.add_row(short_time(event.at), literal(event.actor), literal(event.detail or event.action))
    if len(events) > HISTORY_SHOWN:
        table.add_row("", "", Text(f"… {len(events) - HISTORY_SHOWN} older: press l", style="dim"))
    return table


class KeyDetailScreen(LiveScreen[KeyLoaded]):
    """Everything about one key; reveal, copy, edit and revoke it from here."""

    TITLE = "Key details"
    AUTO_FOCUS = "#detail-body"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("r", "reload", "Reload", show=False),
        Binding("v", "reveal", "Reveal"),
        Binding("v", "explain('reveal')", show=False),
        Binding("c", "copy", "Copy"),
        Binding("c", "explain('copy')", show=False),
        Binding("e", "edit", "Edit"),
        Binding("e", "explain('edit')", show=False),
        Binding("d,delete", "revoke", "Revoke", key_display="d"),
        Binding("d,delete", "explain('revoke')", show=False),
        Binding("l", "activity", "Activity"),
    ]

    DEFAULT_CSS = """
    KeyDetailScreen #detail-body {
        padding: 0 1;
    }
    KeyDetailScreen #detail-fields {
        margin-top: 1;
    }
    KeyDetailScreen .detail-heading {
        margin-top: 1;
        text-style: bold;
        color: $text-primary;
    }
    """

    def __init__(self, key_id: str) -> None:
        super().__init__()
        self.key_id = key_id
        self.data: KeyLoaded | None = None
        self.revealed: SecretStr | None = None
        self.missing: str | None = None

    def compose(self) -> ComposeResult:
        """Header, the fields and history in a scrolling body, Footer."""
        yield Header()
        with VerticalScroll(id="detail-body"):
            yield Static(Text("Loading…", style="dim"), id="detail-fields")
            yield Static("History", classes="detail-heading")
            yield Static("", id="detail-history")
        yield Footer()

    # -- loading ----------------------------------------------------------------------

    def fetch(self) -> KeyLoaded:
        """The key, its project's name, its history and who is looking (worker thread)."""
        repo = self.repo
        key = repo.get_key(self.key_id)
        return KeyLoaded(
            key=key,
            project_name=repo.project_name(key.project_id),
            history=repo.history(self.key_id),
            role=repo.me().role,
            login=repo.login,
            now=repo.clock(),
        )

    def show(self, data: KeyLoaded) -> None:
        """Show the freshly read key (a revoked key forgets a revealed secret)."""
        self.data = data
        self.missing = None
        if data.key.status == "revoked" or data.key.scope is Scope.ANALYTICS:
            self.revealed = None
        self._render_fields()
        self.query_one("#detail-history", Static).update(history_table(data.history))

    def _load_failed(self, error: StoreError) -> None:
        if isinstance(error, NotFound):
            self.data, self.revealed, self.missing = None, None, str(error)
            self.query_one("#detail-fields", Static).update(
                literal(f"{error}: it does not exist, or it is not one you may see.")
            )
            self.query_one("#detail-history", Static).update("")
            self.refresh_bindings()
        super()._load_failed(error)

    def _render_fields(self) -> None:
        if self.data is not None:
            self.query_one("#detail-fields", Static).update(
                fields_table(field_rows(self.data, self.revealed))
            )

    # -- which keys apply ---------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide reveal, copy, edit and revoke where they cannot apply to this key."""
        if action in ("reveal", "copy", "edit", "revoke"):
            return self.refusal(action) is None
        return True

    def refusal(self, action: str) -> str | None:
        """Why ``action`` cannot apply to this key now, or None when it can."""
        data = self.data
        if data is None:
            return self.missing or "The key is still loading."
        key = data.key
        if action in ("reveal", "copy"):
            if key.status == "revoked":
                return f"{key.id} is revoked: its secret was wiped."
            if key.scope is Scope.ANALYTICS:
                return (
                    f"{key.id} is an Analytics key: its secret was shown once, at creation, "
                    "and is not stored; create a new key if it was lost."
                )
            return None
        if action == "edit":
            if key.scope is Scope.ANALYTICS:
                return (
                    f"{key.id} is an Analytics key, which cannot be edited: "
                    "revoke it and create a new one."
                )
            if key.status == "revoked":
                return f"{key.id} is revoked: a revoked key cannot be edited."
        if action == "revoke" and key.status == "revoked":
            return f"{key.id} is already revoked."
        if action in ("edit", "revoke") and not data.may_change:
            try:
                access.require_change(data.login, data.role, {"created_by": key.created_by}, action)
            except Forbidden as error:
                return str(error)
        return None

    async def action_explain(self, action: str) -> None:
        """A key whose action does not apply was pressed: say why.

        For reveal and copy the store itself is asked, so the reason is the store's own.
        """
        reason = self.refusal(action)
        if reason is None:
            await self.run_action(action)
            return
        if action in ("reveal", "copy") and self.data is not None:
            store_call(
                self, lambda: self.repo.reveal_secret(self.key_id),
                done=lambda _secret: self.reload(),  # it changed meanwhile: show it as it is
                failed=lambda error: self.notify(str(error), severity="warning", markup=False),
            )
            return
        self.notify(reason, severity="warning", markup=False)

    # -- actions ------------------------------------------------------------------------

    def action_reveal(self) -> None:
        """Show the full secret, or mask it again."""
        if self.revealed is not None:
            self.revealed = None
            self._render_fields()
            return
        store_call(self, lambda: self.repo.reveal_secret(self.key_id), done=self._revealed,
                   failed=lambda error: self.notify(str(error), severity="warning", markup=False))

    def _revealed(self, secret: SecretStr) -> None:
        self.revealed = secret
        self._render_fields()

    def action_copy(self) -> None:
        """Copy the secret (Web and Mobile keys that are not revoked)."""
        store_call(
            self, lambda: self.repo.reveal_secret(self.key_id),
            done=lambda secret: self.notify(copy_text(self.app, secret.get_secret_value())),
            failed=lambda error: self.notify(str(error), severity="warning", markup=False),
        )

    def action_edit(self) -> None:
        """Edit the key's name and settings (Web and Mobile keys)."""
        from .key_form import KeyFormScreen

        if self.data is None:
            return

        def edited(result: object) -> None:
            if isinstance(result, ApiKey):
                self.notify(f"Saved {safe_text(result.name)}", markup=False)
                self.reload()

        self.app.push_screen(KeyFormScreen(self.data.key), edited)

    def action_revoke(self) -> None:
        """Ask, then revoke this key."""
        from .confirm_revoke import ConfirmRevoke

        if self.data is None:
            return
        key = self.data.key

        def confirmed(yes: bool | None) -> None:
            if yes:
                store_call(self, lambda: self.repo.revoke_keys([key.id]), done=self._revoked)

        self.app.push_screen(ConfirmRevoke([(key.id, key.name, key.scope.value)]), confirmed)

    def _revoked(self, keys: list[ApiKey]) -> None:
        self.revealed = None
        name = keys[0].name if keys else self.key_id
        self.notify(f"Revoked {safe_text(name)}", markup=False)
        self.reload()

    def action_activity(self) -> None:
        """This key's whole audit trail, with a filter."""
        from .activity import ActivityScreen

        self.app.push_screen(ActivityScreen(self.key_id))
