"""Policy (``P`` from the main screen): the organisation's maximum key lifetime per scope and
its expiry warning window, and the active keys that break the policy (``policy check``).

Owners change the policy in a small form (:class:`PolicyForm`); everyone else reads it, and a
key that would change it says why (the rule book's words). ``enter`` on a listed key opens it.

At a million keys many may break a new rule: the screen counts them all but lists the first
:data:`PAGE` (oldest first), and a page more when the cursor reaches the last listed key or on
``m`` (see :mod:`.paged`); ``apikeys policy check`` prints every one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from store.access import OrganisationAction
from store.errors import InvalidInput, StoreError
from store.models import Scope
from store.policy import LIFETIME_MAX_DAYS, Policy, PolicyViolation

from ..format import scope_label
from ..text import literal
from ..widgets.text_input import TextInput
from ..widgets.virtual_table import Column
from ..workers import store_call
from .live import ListScreen
from .paged import Pages

COLUMNS = (
    Column("name", "Name", 20, priority=100),
    Column("scope", "Scope", 9, priority=90),
    Column("problem", "Breaks the policy", 24, priority=95, flex=True),
    Column("id", "ID", 12, priority=60),
)
NO_LIMIT = "none"
PAGE = 500
"""Keys that break the policy read per page (the first page, then more on demand)."""


def lifetime_text(days: int | None) -> str:
    """``90 days`` or ``no limit``."""
    return "no limit" if days is None else f"{days} days"


def policy_text(policy: Policy) -> Text:
    """The policy as the screen's top lines say it."""
    text = Text("Maximum lifetime  ", style="dim")
    text.append(" · ".join(
        f"{scope_label(scope.value)} {lifetime_text(policy.max_days(scope))}" for scope in Scope
    ))
    text.append("\nWarn before expiry  ", style="dim")
    text.append(f"{policy.warn_days} days")
    return text


@dataclass(frozen=True)
class PolicyLoaded:
    """What the screen shows: the policy, the first keys that break it (oldest first), how
    many break it in all, and why this member may not change it (None when they may)."""

    policy: Policy
    violations: list[PolicyViolation]
    refusal: str | None
    total: int = 0


class PolicyScreen(ListScreen[PolicyLoaded]):
    """The key policy and the keys that break it."""

    TITLE = "Key policy"
    CSS_PATH = "policy.tcss"
    COLUMNS = COLUMNS
    LOADING = "Loading the policy…"
    CHANGES = ("change_policy",)
    BINDINGS = [
        Binding("e", "change_policy", "Change policy"),
        Binding("e", "refuse", show=False),
        Binding("enter", "open_key", "Details", show=False),
        Binding("m", "more", "More"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.policy: Policy | None = None
        self.pages = Pages(PAGE)
        self.total = 0

    def compose_above(self) -> ComposeResult:
        """The policy itself, above the keys that break it."""
        yield Static(Text("Loading…", style="dim"), id="policy-rules")

    # -- loading ----------------------------------------------------------------------

    def fetch(self) -> PolicyLoaded:
        """The policy, how many keys break it, the first of them and the rule book's answer
        (worker thread; on PostgreSQL a count and a page, never every key)."""
        repo = self.repo
        violations, total = repo.first_policy_violations(self.pages.wanted)
        return PolicyLoaded(
            policy=repo.get_policy(), violations=violations,
            refusal=repo.refusal(OrganisationAction.SET_POLICY), total=total,
        )

    def show(self, data: PolicyLoaded) -> None:
        """The policy on top, the keys that break it in the table."""
        self.policy, self.refusal = data.policy, data.refusal
        self.query_one("#policy-rules", Static).update(policy_text(data.policy))
        listed = len(data.violations)
        # The count and the page are two reads: a key changed between them shows in the next.
        self.total = max(data.total, listed)
        self.pages.loaded(listed, more=listed < self.total)
        self.table.set_rows(data.violations)
        self.set_summary(violations_summary(self.total, listed, may_change=self.may_change))

    def cursor_moved(self) -> None:
        """Reaching the last listed key reads a page more."""
        if self.loaded and self.pages.at_end(self.table):
            self.reload()

    def action_more(self) -> None:
        """List a page more of the keys that break the policy."""
        if self.pages.grow():
            wanted = min(self.pages.wanted, self.total)
            self.set_summary(f"Listing {wanted:,} of {self.total:,} keys that break the policy…")
            self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``m`` only while keys are left unlisted."""
        if action == "more":
            return self.pages.more
        return super().check_action(action, parameters)

    def row_id(self, row: PolicyViolation) -> str:
        """A key's id."""
        return row.key.id

    def cell(self, row: PolicyViolation, column: str) -> str | Text:
        """One cell of a key that breaks the policy (user text as is)."""
        if column == "name":
            return row.key.name
        if column == "scope":
            return scope_label(row.key.scope)
        if column == "problem":
            return row.problem
        return row.key.id

    # -- actions --------------------------------------------------------------------------

    def action_open_key(self) -> None:
        """Open the details of the key under the cursor."""
        from .key_detail import KeyDetailScreen

        row = self.table.cursor_row
        if row is not None:
            self.app.push_screen(KeyDetailScreen(row.key.id))

    def action_change_policy(self) -> None:
        """Change the policy (owners): a small form."""
        if self.policy is None:
            return

        def saved(policy: Policy | None) -> None:
            if policy is not None:
                self.notify("Policy saved")
                self.reload()

        self.app.push_screen(PolicyForm(self.policy), saved)


def violations_summary(total: int, listed: int, *, may_change: bool) -> str:
    """The status line: how many active keys break the policy, how many are listed (when not
    all), and whether this member may change it."""
    if not total:
        summary = "Every active key keeps the policy"
    else:
        summary = f"{total:,} active key{'s break' if total != 1 else ' breaks'} the policy"
    if listed < total:  # the rest is said by the footer (m More, e Change policy)
        return summary + f" · first {listed:,} listed"
    return summary + (" · e changes it" if may_change else " · read only: owners change the policy")


def parse_days(text: str, *, allow_none: bool) -> int | None:
    """``90`` or ``90d`` → 90; empty or ``none`` → None (where allowed); ValueError otherwise."""
    cleaned = text.strip().lower().removesuffix("d").strip()
    if allow_none and cleaned in ("", NO_LIMIT, "never"):
        return None
    if not cleaned.isdigit():
        raise ValueError("a number of days" + (", or none for no limit" if allow_none else ""))
    return int(cleaned)


class PolicyForm(ModalScreen[Policy | None]):
    """The policy's four numbers; ``ctrl+s`` saves through the store (owners only), whose
    refusals show under the field they concern."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
    ]
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.policy = policy
        self.saving = False

    def compose(self) -> ComposeResult:
        """One field per scope, the warning window, errors and buttons."""
        with Vertical(id="policy-dialog", classes="dialog"):
            yield Label("Key policy", classes="dialog-title")
            for scope in Scope:
                days = self.policy.max_days(scope)
                field = TextInput(value="" if days is None else str(days), placeholder="none (no limit)",
                              id=f"max-{scope.value}")
                field.border_title = f"{scope_label(scope.value)} keys live at most (days)"
                yield field
            warn = TextInput(value=str(self.policy.warn_days), id="warn-days")
            warn.border_title = "Warn this many days before expiry"
            yield warn
            error = Label("", id="policy-error", classes="dialog-error", markup=False)
            error.display = False
            yield error
            yield Static(f"Empty or none: no limit (at most {LIFETIME_MAX_DAYS} days). Keys that "
                         "break a new rule are listed, not changed.", classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")
        yield Footer()

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        """Check the numbers, then save in a worker; refusals keep the form open."""
        if self.saving:
            return
        try:
            lifetimes: dict[str, int | None] = {}
            for scope in Scope:
                field = f"max-{scope.value}"
                try:
                    typed = self.query_one(f"#{field}", Input).value
                    lifetimes[scope.value] = parse_days(typed, allow_none=True)
                except ValueError as error:
                    raise InvalidInput({field: f"{scope_label(scope.value)}: {error}"}) from None
            try:
                warn_days = parse_days(self.query_one("#warn-days", Input).value, allow_none=False)
            except ValueError as error:
                raise InvalidInput({"warn-days": f"warning window: {error}"}) from None
        except InvalidInput as error:
            self._refused(error)
            return
        self.saving = True
        repo: Any = self.app.repo  # type: ignore[attr-defined]
        store_call(self, lambda: repo.set_policy(max_lifetime_days=lifetimes, warn_days=warn_days),
                   done=self.dismiss, failed=self._refused)

    def _refused(self, error: StoreError) -> None:
        self.saving = False
        label = self.query_one("#policy-error", Label)
        label.update(literal(str(error)))
        label.display = True
        fields = error.errors if isinstance(error, InvalidInput) else {}
        target = next((name for name in fields if self.query(f"#{name}")), None)
        if target is None and "warn_days" in fields:
            target = "warn-days"
        if target is not None:
            self.query_one(f"#{target}").focus()

    @property
    def error_text(self) -> str:
        """The error shown now ('' when none)."""
        return str(self.query_one("#policy-error", Label).render())
