"""How times, scopes, roles and statuses read on screen."""

from __future__ import annotations

from datetime import datetime

from store import presenter
from store.views import from_iso

SCOPE_LABELS = {"web": "Web", "mobile": "Mobile", "analytics": "Analytics"}
EXPIRY_WARNING_DAYS = 7


def scope_label(scope: str) -> str:
    """``web`` → ``Web``."""
    return SCOPE_LABELS.get(scope, scope)


def short_time(iso: str | None) -> str:
    """``2026-12-01T09:30:00Z`` → ``2026-12-01 09:30`` (UTC); ``—`` when absent."""
    if not iso:
        return "—"
    return f"{iso[:10]} {iso[11:16]}"


def short_date(iso: str | None) -> str:
    """``2026-12-01T09:30:00Z`` → ``2026-12-01``."""
    return iso[:10] if iso else "—"


def days_until(iso: str, now: datetime) -> float:
    """Days from ``now`` until the ISO time (negative when past)."""
    return (from_iso(iso) - now).total_seconds() / 86400


def expiry_phrase(iso: str | None, now: datetime) -> str:
    """``never``, ``in 5 days``, ``tomorrow``, ``today`` or ``expired on 2026-11-30``: the
    presenter's wording (:mod:`store.presenter`), kept here for the screens that import it."""
    return presenter.expiry_phrase(iso, now)
