"""Roll: a new secret for the same key, the previous one valid for a grace period (SPEC §9).

:class:`RollKeyModal` names the key, offers the grace periods (none, 1 h, 24 h, 7 d), says when
the previous secret stops working, and rolls in a worker with the revision the admin saw: if a
colleague rolled (or changed) the key meanwhile, the store refuses with :class:`Conflict` and
the modal shows its message. A Web or Mobile key may get a new expiry with the roll (an
expired one needs one; the policy's maximum lifetime counts from the roll). It dismisses with
the :class:`RolledKey`, whose new secret is then shown on *Key created* (for Analytics: once,
with the guard against closing before a copy).
:func:`roll_key` is the whole flow, shared by the main list and the key details.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, Label, RadioSet, Static

from store.access import KeyAction
from store.errors import StoreError
from store.lifecycle import GRACE_CHOICES, parse_expiry
from store.models import ApiKey, RolledKey, Scope, to_iso
from store.presenter import when
from tui.format import scope_label
from tui.text import literal, safe_text
from tui.widgets.choice_set import ChoiceSet
from tui.widgets.text_input import TextInput
from tui.workers import store_call

GRACE_LABELS = {"0": "None", "1h": "1 hour", "24h": "24 hours", "7d": "7 days"}
DEFAULT_GRACE = "0"  # as `apikeys roll`: a leaked secret stops at once unless asked


def shown_expiry(expires_at: str | None) -> str:
    """``never``, or the expiry as ``2027-01-31 09:30 UTC``."""
    return "never" if expires_at is None else when(expires_at)


def previous_secret_line(grace: timedelta, now: datetime, expires_at: str | None) -> str:
    """When the previous secret stops working if rolled now with ``grace`` (never after the
    key's own expiry, as the store rules)."""
    if grace == timedelta(0):
        return ("The previous secret stops working at once: every integration using it fails "
                "until it has the new one.")
    until = to_iso(now + grace)
    if expires_at is not None and expires_at < until:
        until = expires_at
        return f"The previous secret keeps working until {when(until)}, when the key expires."
    return f"The previous secret keeps working until {when(until)}: update your integrations before then."


class RollKeyModal(ModalScreen[RolledKey | None]):
    """Ask how long the previous secret stays valid, then roll ``key``; dismiss with the
    :class:`RolledKey` (its secret shown next), or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "roll", "Roll"),
    ]
    DEFAULT_CLASSES = "dialog-screen"
    AUTO_FOCUS = "#grace"

    def __init__(self, key: ApiKey, now: datetime, max_days: int | None = None) -> None:
        super().__init__()
        self.key = key
        self.now = now
        self.max_days = max_days  # the policy's maximum lifetime for this key's scope
        self.rolling = False

    def compose(self) -> ComposeResult:
        """Title, which key, the grace choice, what it means, an error line and the buttons."""
        key = self.key
        with Vertical(id="roll-dialog", classes="dialog"):
            yield Label("Roll key?", id="roll-title", classes="dialog-title dialog-header")
            yield Static(Text.assemble(
                literal(key.name, style="bold"), f"  {scope_label(key.scope.value)} key · {key.id}"
            ), id="roll-key")
            yield Static(
                "A new secret; id, name, settings and history stay."
                + (" It is shown once." if key.scope is Scope.ANALYTICS else ""),
                id="roll-explain",
            )
            choice = ChoiceSet(*GRACE_LABELS.items(), value=DEFAULT_GRACE, id="grace")
            choice.border_title = "Previous secret keeps working for"
            yield choice
            yield Static(self._until_text(DEFAULT_GRACE), id="roll-until")
            if key.scope is not Scope.ANALYTICS:
                keep = shown_expiry(key.expires_at)
                if self.max_days is None:
                    hint = f"keep: {keep} · or 30d, 2027-01-31, never"
                else:  # the policy counts from the roll: say so before a refusal does
                    hint = f"keep: {keep} · policy max {self.max_days}d · e.g. 30d, 2027-01-31"
                expiry = TextInput(placeholder=hint, id="roll-expires")
                expiry.border_title = "New expiry (optional)"
                yield expiry
            error = Label("", id="roll-error", classes="dialog-error", markup=False)
            error.display = False
            yield error
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Roll key", variant="warning", id="roll")
            yield Static("←→ grace · ctrl+s or Roll key rolls · escape Cancel", classes="dialog-keys")
        yield Footer()

    @property
    def grace(self) -> timedelta:
        """The chosen grace period."""
        return GRACE_CHOICES[self.query_one("#grace", ChoiceSet).value or DEFAULT_GRACE]

    def _until_text(self, choice: str) -> Text:
        line = previous_secret_line(GRACE_CHOICES[choice], self.now, self.key.expires_at)
        return Text(line, style="bold yellow" if choice == "0" else "")

    @on(RadioSet.Changed, "#grace")
    def _grace_changed(self) -> None:
        self.query_one("#roll-until", Static).update(
            self._until_text(self.query_one("#grace", ChoiceSet).value or DEFAULT_GRACE)
        )

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without rolling."""
        if not self.rolling:
            self.dismiss(None)

    @on(Button.Pressed, "#roll")
    def action_roll(self) -> None:
        """Roll in a worker, with the revision this admin saw; errors keep the modal open."""
        if self.rolling:
            return
        try:
            expires_at = self.new_expiry()
        except ValueError as error:
            self._show_error(str(error))
            self.query_one("#roll-expires", Input).focus()
            return
        self.rolling = True
        self.query_one("#roll", Button).disabled = True
        repo = self.app.repo  # type: ignore[attr-defined]
        key_id, revision, grace = self.key.id, self.key.revision, self.grace
        store_call(
            self,
            lambda: repo.roll_key(key_id, grace, expected_revision=revision, expires_at=expires_at),
            done=self.dismiss, failed=self._refused,
        )

    def new_expiry(self) -> str | None:
        """The typed new expiry as the store takes it, or None to keep the key's own."""
        typed = [field.value.strip() for field in self.query("#roll-expires").results(Input)]
        if not typed or not typed[0]:
            return None
        return parse_expiry(typed[0], self.now)

    @on(Input.Submitted, "#roll-expires")
    def _expiry_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#cancel", Button).focus()

    def _refused(self, error: StoreError) -> None:
        self.rolling = False
        self.query_one("#roll", Button).disabled = False
        self._show_error(str(error))
        fields = getattr(error, "errors", {})
        if "expires_at" in fields and self.query("#roll-expires"):
            self.query_one("#roll-expires", Input).focus()
        else:
            self.query_one("#cancel", Button).focus()

    def _show_error(self, message: str) -> None:
        label = self.query_one("#roll-error", Label)
        label.update(literal(message))
        label.display = True

    @property
    def error_text(self) -> str:
        """The error shown now ('' when none)."""
        return str(self.query_one("#roll-error", Label).render())


def roll_key(screen: Screen[Any], key_id: str, rolled: Callable[[RolledKey], object]) -> None:
    """The whole roll from ``screen``: ask the rule book (a refusal is one line), open the
    modal, show the new secret as on *Key created*, then ``rolled(result)``."""
    from .key_created import KeyCreatedScreen

    repo = screen.app.repo  # type: ignore[attr-defined]

    def read() -> tuple[ApiKey, str | None, datetime, int | None]:
        key = repo.get_key(key_id)
        max_days = repo.get_policy().max_days(key.scope)
        return key, repo.refusal(KeyAction.ROLL, key), repo.clock(), max_days

    def ask(answer: tuple[ApiKey, str | None, datetime, int | None]) -> None:
        key, refusal, now, max_days = answer
        if refusal is not None:
            screen.notify(safe_text(refusal), severity="warning", markup=False)
            return

        def done(result: RolledKey | None) -> None:
            if isinstance(result, RolledKey):
                def closed(_: None) -> None:
                    rolled(result)

                screen.app.push_screen(KeyCreatedScreen(result), closed)

        screen.app.push_screen(RollKeyModal(key, now, max_days), done)

    store_call(screen, read, ask, failed=lambda error: screen.notify(
        str(error), severity="warning", markup=False))
