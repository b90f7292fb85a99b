"""Key details: every field of one key, its secret (masked, or why not), its usage over the
last 30 days (a sparkline with totals, the last origin and IP) and its history. Roll, disable
and enable it from here too.

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
from textual.widgets import Footer, Header, Sparkline, Static

from store import presenter
from store.access import KeyAction
from store.errors import NotFound, StoreError
from store.models import ApiKey, AuditEvent
from store.usage import KeyUsage
from tui.clipboard import copy_text
from tui.format import short_time
from tui.text import literal, safe_text
from tui.workers import store_call

from .live import LiveScreen

HISTORY_SHOWN = 50  # the rest is on the Activity screen (l)
USAGE_DAYS = 30
ANALYTICS_SECRET_NOTE = presenter.ANALYTICS_SECRET.capitalize()
REVOKED_SECRET_NOTE = presenter.REVOKED_SECRET.capitalize()


@dataclass(frozen=True)
class KeyLoaded:
    """One key as the details show it, read in a worker, with the rule book's answers."""

    key: ApiKey
    project_name: str
    history: list[AuditEvent]
    now: datetime
    refusals: dict[KeyAction, str | None]
    members: frozenset[str] = frozenset()
    usage: KeyUsage | None = None

    @property
    def status(self) -> str:
        """active, disabled, expired or revoked, now."""
        return presenter.status_word(self.key.model_dump(), self.now)


STATUS_STYLES = {
    "active": "bold green", "revoked": "bold red", "expired": "bold yellow",
    "disabled": "bold yellow",
}
# The footer's actions and the rule book's question each asks.
ACTION_RULES = {
    "reveal": KeyAction.COPY, "copy": KeyAction.COPY, "edit": KeyAction.EDIT, "revoke": KeyAction.REVOKE,
    "roll": KeyAction.ROLL, "disable": KeyAction.DISABLE, "enable": KeyAction.ENABLE,
}


def status_text(loaded: KeyLoaded) -> Text:
    """The presenter's status phrase, its first word coloured by the state."""
    phrase = presenter.status_phrase(loaded.key.model_dump(), loaded.now)
    word = loaded.status
    text = Text(phrase)
    text.stylize(STATUS_STYLES.get(word, "bold"), 0, len(word) if phrase.startswith(word) else len(phrase))
    return text


def secret_text(loaded: KeyLoaded, revealed: SecretStr | None) -> Text:
    """The secret line: masked, revealed, or why there is none to show."""
    key = loaded.key
    if loaded.refusals.get(KeyAction.COPY) is not None or key.secret is None:
        return Text(presenter.secret_note(key.model_dump()).capitalize(), style="italic")
    if revealed is not None:
        return Text.assemble((revealed.get_secret_value(), "bold"), ("  v hides", "dim"))
    return Text.assemble(presenter.mask(key.key_prefix), ("  v reveals, c copies", "dim"))


def fact_text(fact: presenter.Fact) -> Text:
    """One fact's value: user text literal, lists one per line, ``—`` when empty."""
    if not fact.values:
        return Text(presenter.NONE, style="dim")
    text = Text("\n").join(literal(value) for value in fact.values)
    if fact.kind == presenter.NAME:
        text.stylize("bold")
    return text


def field_rows(loaded: KeyLoaded, revealed: SecretStr | None) -> list[tuple[str, Text]]:
    """Every fact of the key's scope as (label, value) rows, as the presenter words them."""
    rows: list[tuple[str, Text]] = []
    secret_shown = loaded.refusals.get(KeyAction.COPY) is None and loaded.key.secret is not None
    members = loaded.members or None  # none read: no creator is marked removed
    for fact in presenter.key_facts(loaded.key, loaded.project_name, loaded.now, members):
        if fact.kind == presenter.MASK and secret_shown:
            continue  # the Secret line shows the masked key, with reveal and copy
        if fact.kind == presenter.STATUS:
            rows.append((fact.label, status_text(loaded)))
        elif fact.kind == presenter.SECRET:
            rows.append((fact.label, secret_text(loaded, revealed)))
        else:
            rows.append((fact.label, fact_text(fact)))
    return rows


def fields_table(rows: list[tuple[str, Text]]) -> Table:
    """Labels in a dim column, values beside them."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    return table


def usage_totals(usage: KeyUsage | None) -> Text:
    """``1,204 valid · 3 refused · last used … from ORIGIN (IP)``, or why there is nothing."""
    if usage is None:
        return Text("Usage could not be read.", style="dim")
    text = Text.assemble(
        (f"{usage.valid:,}", "bold green"), " valid · ",
        (f"{usage.refused:,}", "bold red" if usage.refused else "bold"),
        f" refused in the last {len(usage.days)} days",
    )
    if usage.last_used_at:
        text.append(f"\nLast used {presenter.when(usage.last_used_at)}")
        if usage.last_used_origin:
            text.append(" from ")
            text.append_text(literal(usage.last_used_origin))
        if usage.last_used_ip:
            text.append(" (IP ")
            text.append_text(literal(usage.last_used_ip))
            text.append(")")
    else:
        text.append("\nNever used", style="dim")
    return text


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
    if len(events) > HISTORY_SHOWN:  # the screen reads one event more than it shows
        table.add_row("", "", Text("… older events: press l", style="dim"))
    return table


class KeyDetailScreen(LiveScreen[KeyLoaded]):
    """Everything about one key; reveal, copy, edit and revoke it from here."""

    TITLE = "Key details"
    CSS_PATH = "key_detail.tcss"
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
        Binding("R", "roll", "Roll"),
        Binding("R", "explain('roll')", show=False),
        Binding("D", "disable", "Disable"),
        Binding("D", "explain('disable')", show=False),
        Binding("E", "enable", "Enable"),
        Binding("E", "explain('enable')", show=False),
        Binding("l", "activity", "Activity"),
    ]

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
            yield Static(f"Usage, last {USAGE_DAYS} days (UTC)", classes="detail-heading")
            yield Sparkline([], id="detail-usage-chart")
            yield Static("", id="detail-usage")
            yield Static("History", classes="detail-heading")
            yield Static("", id="detail-history")
        yield Footer(compact=True)  # room for every key of the screen at 80 columns

    # -- loading ----------------------------------------------------------------------

    def fetch(self) -> KeyLoaded:
        """The key, its project's name, its history and who is looking (worker thread)."""
        repo = self.repo
        key = repo.get_key(self.key_id)
        return KeyLoaded(
            key=key,
            project_name=repo.project_name(key.project_id),
            history=repo.history(self.key_id, limit=HISTORY_SHOWN + 1),  # one more: any older?
            now=repo.clock(),
            refusals={action: repo.refusal(action, key) for action in set(ACTION_RULES.values())},
            members=repo.member_logins(),
            usage=self._usage(),
        )

    def _usage(self) -> KeyUsage | None:
        """The key's last 30 days (None when the usage table cannot be read: the rest shows)."""
        try:
            return self.repo.usage(self.key_id, USAGE_DAYS)
        except StoreError:
            return None

    def show(self, data: KeyLoaded) -> None:
        """Show the freshly read key (a revoked key forgets a revealed secret)."""
        self.data = data
        self.missing = None
        if data.refusals[KeyAction.COPY] is not None:
            self.revealed = None
        self._render_fields()
        usage = data.usage
        self.query_one("#detail-usage-chart", Sparkline).data = (
            [day.valid + day.refused for day in usage.days] if usage else []
        )
        self.query_one("#detail-usage", Static).update(usage_totals(usage))
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
        if action in ACTION_RULES:
            return self.refusal(action) is None
        return True

    def refusal(self, action: str) -> str | None:
        """Why ``action`` cannot apply to this key now (the rule book's words), or None."""
        data = self.data
        if data is None:
            return self.missing or "The key is still loading."
        return data.refusals.get(ACTION_RULES[action])

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
        from .edit_key import EditKeyModal

        if self.data is None:
            return

        def edited(result: object) -> None:
            if isinstance(result, ApiKey):
                self.notify(f"Saved {safe_text(result.name)}", markup=False)
                self.reload()

        self.app.push_screen(EditKeyModal(self.data.key), edited)

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

    def action_roll(self) -> None:
        """Roll this key: choose a grace period, then see the new secret."""
        from .roll_key import roll_key

        def rolled(_result: object) -> None:
            self.revealed = None
            self.reload()

        roll_key(self, self.key_id, rolled)

    def action_disable(self) -> None:
        """Ask, then disable this key (enable it again with E)."""
        from .disable_keys import disable_keys

        if self.data is not None:
            disable_keys(self, [self.data.key], lambda keys: self._changed("Disabled", keys))

    def action_enable(self) -> None:
        """Enable this disabled key."""
        from .disable_keys import enable_keys

        if self.data is not None:
            enable_keys(self, [self.data.key], lambda keys: self._changed("Enabled", keys))

    def _changed(self, verb: str, keys: list[ApiKey]) -> None:
        from .disable_keys import said_done

        said_done(self, verb, keys)
        self.reload()

    def action_activity(self) -> None:
        """This key's whole audit trail, with a filter."""
        from .activity import ActivityScreen

        self.app.push_screen(ActivityScreen(self.key_id))
