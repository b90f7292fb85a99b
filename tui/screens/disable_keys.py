"""Disable and enable: a reversible pause of keys (SPEC §9), from the main list and the details.

Disabling cuts off integrations, so it asks first (:class:`ConfirmDisable`, Cancel focused,
the keys listed, and how many of the marked ones the filter hides, as bulk revoke does).
Enabling gives access back and asks nothing. The rule book (``repo.refusal``) is asked for
every key first: keys already in the wanted state are left out; any other refusal stops the
whole action with one line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from textual.screen import Screen

from store.access import KeyAction
from store.models import ApiKey, KeyView
from tui.text import safe_text
from tui.workers import store_call

from .confirm_revoke import ConfirmRevoke
from .prompts import ConfirmDialog

KeyLike = ApiKey | KeyView


def disable_title(count: int) -> str:
    """``Disable API key?`` or ``Disable 3 API keys?``."""
    return "Disable API key?" if count == 1 else f"Disable {count} API keys?"


class ConfirmDisable(ConfirmRevoke):
    """Ask before disabling ``keys`` (each ``(id, name, scope)``): True means disable.

    The same dialog as the revoke question (keys listed, hidden count, Cancel focused), with
    words for a pause that can be undone.
    """

    def __init__(self, keys: list[tuple[str, str, str]], *, hidden: int = 0) -> None:
        count = len(keys)
        using, until = ("it", "it is") if count == 1 else ("them", "they are")
        ConfirmDialog.__init__(
            self,
            disable_title(count),
            f"Every integration using {using} stops working until {until} enabled again (E). "
            "Nothing else changes: the secret, settings and history stay.",
            confirm="Disable", danger=True,
        )
        self.keys = list(keys)
        self.hidden = hidden


def _identity(key: KeyLike) -> tuple[str, str, str]:
    scope = key.scope if isinstance(key, KeyView) else key.scope.value
    return key.id, key.name, scope


def _status(key: KeyLike) -> str:
    return key.record.get("status", "active") if isinstance(key, KeyView) else key.status


def _answered(
    screen: Screen[Any], answers: list[tuple[KeyLike, str | None]], skipped: tuple[str, ...],
    nothing: str,
) -> list[KeyLike] | None:
    """The keys to act on, or None after saying (one line) why not. Keys whose stored status
    is ``skipped`` (already so, or revoked) are left out; any other refusal stops it all."""
    allowed = [key for key, reason in answers if reason is None]
    refused = [reason for key, reason in answers if reason is not None and _status(key) not in skipped]
    if refused or not allowed:
        reasons = refused or [reason for _key, reason in answers if reason] or [nothing]
        more = len(reasons) - 1
        screen.notify(
            safe_text(reasons[0]) + (f" (and {more} more keys refused)" if more else ""),
            severity="warning", markup=False,
        )
        return None
    return allowed


def disable_keys(
    screen: Screen[Any], keys: Sequence[KeyLike], done: Callable[[list[ApiKey]], object],
    *, hidden: int = 0,
) -> None:
    """Ask the rule book, then ask the admin, then disable ``keys``; ``done(disabled)``."""
    repo = screen.app.repo  # type: ignore[attr-defined]
    keys = list(keys)

    def refusals() -> list[tuple[KeyLike, str | None]]:
        return [(key, repo.refusal(KeyAction.DISABLE, key)) for key in keys]

    def ask(answers: list[tuple[KeyLike, str | None]]) -> None:
        allowed = _answered(screen, answers, ("disabled", "revoked"), "nothing to disable")
        if allowed is None:
            return
        ids = [key.id for key in allowed]

        def confirmed(yes: bool | None) -> None:
            if yes:
                store_call(screen, lambda: repo.disable_keys(ids), done)

        screen.app.push_screen(ConfirmDisable([_identity(key) for key in allowed], hidden=hidden), confirmed)

    store_call(screen, refusals, ask)


def enable_keys(
    screen: Screen[Any], keys: Sequence[KeyLike], done: Callable[[list[ApiKey]], object]
) -> None:
    """Ask the rule book, then enable ``keys`` (no question: access comes back); ``done(enabled)``."""
    repo = screen.app.repo  # type: ignore[attr-defined]
    keys = list(keys)

    def refusals() -> list[tuple[KeyLike, str | None]]:
        return [(key, repo.refusal(KeyAction.ENABLE, key)) for key in keys]

    def enable(answers: list[tuple[KeyLike, str | None]]) -> None:
        allowed = _answered(screen, answers, ("active", "revoked"), "nothing to enable")
        if allowed is not None:
            ids = [key.id for key in allowed]
            store_call(screen, lambda: repo.enable_keys(ids), done)

    store_call(screen, refusals, enable)


def said_done(screen: Screen[Any], verb: str, keys: list[ApiKey]) -> None:
    """``Disabled Checkout widget`` or ``Enabled 3 keys``."""
    if len(keys) == 1:
        screen.notify(f"{verb} {safe_text(keys[0].name)}", markup=False)
    else:
        screen.notify(f"{verb} {len(keys)} keys")
