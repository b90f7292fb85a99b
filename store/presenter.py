"""How a key reads: its facts, status phrase, mask and expiry phrase, written once.

The command line's text output and the details screen both show a key through here, so they
cannot drift. Everything is handed in (the key or its stored record, the project's name and
"now"): the presenter never reads the store. It returns plain strings; the caller styles them
and replaces control characters (the values are user text from a file anyone may edit).
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import tokens
from .views import from_iso, to_iso

if TYPE_CHECKING:
    from .models import ApiKey

ALL_PROJECTS = "All organization projects"
NONE = "—"
ANALYTICS_SECRET = "shown once, at creation, and not stored"
REVOKED_SECRET = "wiped when the key was revoked"
STORED_SECRET = "stored: reveal it to see it"

# Fact kinds, for a front that styles them (the CLI prints them all alike).
PLAIN, NAME, STATUS, MASK, SECRET, LIST = "plain", "name", "status", "mask", "secret", "list"


@dataclass(frozen=True)
class Fact:
    """One labelled fact of a key; ``values`` holds one line each (an empty list reads ``—``)."""

    label: str
    values: tuple[str, ...]
    kind: str = PLAIN


def mask(key_prefix: str) -> str:
    """The key as lists and details show it: its public prefix, then a mask."""
    return tokens.masked(key_prefix)


def when(iso: str | None) -> str:
    """``2026-12-01 09:30 UTC``, or ``—``."""
    if not iso:
        return NONE
    return f"{iso[:10]} {iso[11:16]} UTC"


def when_by(iso: str | None, login: str | None) -> str:
    """``2026-12-01 09:30 UTC by alice``, or ``—``."""
    if not iso:
        return NONE
    return f"{when(iso)} by {login}" if login else when(iso)


def status_word(record: Mapping[str, Any], now: datetime) -> str:
    """``active``, ``disabled``, ``expired`` or ``revoked`` at ``now``.

    Revoked and disabled are stored; expired is derived from ``expires_at``. A stored status
    this version does not know reads as itself, never as active.
    """
    stored = str(record.get("status") or "active")
    if stored != "active":
        return stored
    expires_at = record.get("expires_at")
    if expires_at and expires_at <= to_iso(now):
        return "expired"
    return "active"


def expiry_phrase(expires_at: str | None, now: datetime) -> str:
    """``never``, ``today``, ``tomorrow``, ``in 29 days`` or ``expired on 2026-11-30``."""
    if not expires_at:
        return "never"
    days = (from_iso(expires_at) - now).total_seconds() / 86400
    if days <= 0:
        return f"expired on {expires_at[:10]}"
    if days < 1:
        return "today"
    if days < 2:
        return "tomorrow"
    return f"in {int(days)} days"


def status_phrase(record: Mapping[str, Any], now: datetime) -> str:
    """The one wording of a key's state, e.g. ``active, expires in 29 days``,
    ``expired on 2026-11-30``, ``disabled``, ``revoked``; during a roll's grace also
    ``previous secret works until 2026-12-02 09:30 UTC``."""
    word = status_word(record, now)
    expires_at = record.get("expires_at")
    if word == "expired":
        return expiry_phrase(expires_at, now)
    phrase = word
    if word in ("active", "disabled") and expires_at:
        phrase += f", expires {expiry_phrase(expires_at, now)}"
    previous = record.get("previous_valid_until")
    if word == "active" and previous and previous > to_iso(now):
        phrase += f"; previous secret works until {when(previous)}"
    return phrase


def secret_note(record: Mapping[str, Any]) -> str:
    """What can be said of a key's secret without showing it."""
    if record.get("status") == "revoked":
        return REVOKED_SECRET
    if record.get("scope") == "analytics":
        return ANALYTICS_SECRET
    return STORED_SECRET


def _on_off(value: bool) -> str:
    return "on" if value else "off"


def creator_label(login: str, members: Container[str] | None) -> str:
    """The creator's login, marked ``(removed)`` when they are no longer a member."""
    if members is None or login in members:
        return login
    return f"{login} (removed)"


def key_facts(
    key: ApiKey, project_name: str, now: datetime, members: Container[str] | None = None
) -> list[Fact]:
    """Every fact of the key's scope, in reading order (never the secret itself).

    ``members`` (the organisation's logins) marks a creator who has left as removed."""
    record = key.model_dump(mode="json", exclude={"secret"})
    project = ALL_PROJECTS if key.project_id is None else f"{project_name} ({key.project_id})"
    facts = [
        Fact("Name", (key.name,), NAME),
        Fact("ID", (key.id,)),
        Fact("Scope", (scope_label(key.scope.value),)),
        Fact("Project", (project,)),
        Fact("Status", (status_phrase(record, now),), STATUS),
        Fact("Key", (mask(key.key_prefix),), MASK),
        Fact("Created", (when_by(key.created_at, creator_label(key.created_by, members)),)),
        Fact("Updated", (when_by(key.updated_at, key.updated_by),)),
    ]
    if key.status == "disabled" and key.disabled_at:
        facts.append(Fact("Disabled", (when_by(key.disabled_at, key.disabled_by),)))
    if key.rolled_at:
        facts.append(Fact("Secret rolled", (when(key.rolled_at),)))
    if key.previous_valid_until and key.status != "revoked":
        verb = "works until" if key.previous_valid_until > to_iso(now) else "stopped working"
        facts.append(Fact("Previous secret", (f"{verb} {when(key.previous_valid_until)}",)))
    if key.revoked_at:
        facts.append(Fact("Revoked", (when_by(key.revoked_at, key.revoked_by),)))
    if key.expires_at:
        facts.append(Fact("Expires", (f"{when(key.expires_at)} ({expiry_phrase(key.expires_at, now)})",)))
    facts.append(Fact("Last used", (when(key.last_used_at) if key.last_used_at else "never",)))
    if key.web is not None:
        web = key.web
        facts += [
            Fact("Custom UI domains", tuple(web.domains), LIST),
            Fact("Developing locally", (_on_off(web.developing_locally),)),
            Fact("IP networks", tuple(web.networks), LIST),
            Fact("Cross page persistence", (_on_off(web.cross_page_persistence),)),
        ]
    if key.mobile is not None:
        facts += [
            Fact("iOS bundle ids", tuple(key.mobile.ios_bundle_ids), LIST),
            Fact("Android packages", tuple(key.mobile.android_packages), LIST),
        ]
    facts.append(Fact("Revision", (str(key.revision),)))
    facts.append(Fact("Secret", (secret_note(record),), SECRET))
    return facts


def scope_label(scope: str) -> str:
    """``web`` → ``Web``."""
    return {"web": "Web", "mobile": "Mobile", "analytics": "Analytics"}.get(scope, scope)
