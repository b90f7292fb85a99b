"""The middle of a key's life: roll (a new secret, the previous one valid for a grace period),
disable and enable, and expiry for Web and Mobile keys.

These are the record-level rules; :class:`store.repository.Repository` calls them inside its
locked transactions and checks roles with the rule book first.

A rolled key keeps every hash it ever had (``retired_secret_hashes``), so an old secret is
always found and refused as ``rolled``, never ``unknown``. During the grace the record also
holds ``previous_secret_hash`` and ``previous_valid_until``.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from . import tokens
from .errors import Conflict, InvalidInput
from .views import NO_EXPIRY, Scope, check_expiry_text, from_iso, to_iso

GRACE_CHOICES: dict[str, timedelta] = {
    "0": timedelta(0),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
EXPIRY_DAYS_MAX = 3650
_DAYS = re.compile(r"^(\d{1,5})d$")


def parse_grace(text: str) -> timedelta:
    """``0``, ``1h``, ``24h`` or ``7d`` as a timedelta; ValueError names the choices."""
    grace = GRACE_CHOICES.get(text.strip().lower())
    if grace is None:
        raise ValueError(f"{text!r} is not a grace period: choose {', '.join(GRACE_CHOICES)}")
    return grace


def grace_label(grace: timedelta) -> str:
    """``timedelta(hours=24)`` → ``24h`` (one of :data:`GRACE_CHOICES`)."""
    for label, value in GRACE_CHOICES.items():
        if value == grace:
            return label
    return str(grace)


def parse_days(text: str) -> int:
    """``14d`` (or ``14``) → 14; ValueError for anything else."""
    text = text.strip().lower()
    match = _DAYS.match(text) or _DAYS.match(text + "d")
    if not match:
        raise ValueError(f"{text!r} is not a number of days such as 14d")
    return int(match.group(1))


def parse_expiry(text: str, now: datetime) -> str:
    """What an admin types for an expiry, as stored: ``30d`` (from ``now``), ``2027-01-31``
    (that day at 00:00 UTC), a stored ISO time, or ``never`` / ``none`` (:data:`NO_EXPIRY`).

    ValueError says what is accepted. Whether the time is in the future and within the policy
    is checked by the repository, which knows the key.
    """
    cleaned = text.strip().lower()
    if cleaned in (NO_EXPIRY, "none"):
        return NO_EXPIRY
    days = _DAYS.match(cleaned)
    if days:
        count = int(days.group(1))
        if not 1 <= count <= EXPIRY_DAYS_MAX:
            raise ValueError(f"{text!r}: choose between 1d and {EXPIRY_DAYS_MAX}d")
        return to_iso(now + timedelta(days=count))
    try:
        day = date.fromisoformat(cleaned) if len(cleaned) == 10 else None
    except ValueError:
        day = None
    if day is not None:
        return to_iso(datetime.combine(day, time(0), tzinfo=UTC))
    try:
        checked = check_expiry_text(text.strip().upper())
    except ValueError:
        checked = None
    if checked is None:
        raise ValueError(f"{text!r} is not an expiry: give 30d, a date such as 2027-01-31, or never")
    return checked


def require_future(expires_at: str | None, now: str) -> None:
    """Refuse an expiry that is not after ``now``."""
    if expires_at is not None and expires_at <= now:
        raise InvalidInput({"expires_at": (
            f"{expires_at[:10]} {expires_at[11:16]} UTC is not in the future: choose a later expiry"
        )})


def secret_hashes(record: dict[str, Any]) -> Iterator[str]:
    """Every hash that names this key: the current secret's and every earlier one's."""
    yield record["secret_hash"]
    yield from record.get("retired_secret_hashes") or ()


def match_secret(record: dict[str, Any], digest: str, now: str) -> tuple[str, str | None]:
    """Which of the key's secrets ``digest`` is: ``("current", None)``, ``("previous",
    valid_until)`` inside a roll's grace, ``("rolled", None)`` for any earlier secret, or
    ``("unknown", None)``."""
    # A hand-edited record may hold anything: only text is compared.
    current = record.get("secret_hash")
    if type(current) is str and hmac.compare_digest(current, digest):
        return "current", None
    previous = record.get("previous_secret_hash")
    until = record.get("previous_valid_until")
    if (type(previous) is str and type(until) is str
            and hmac.compare_digest(previous, digest) and now < until):
        return "previous", until
    retired = record.get("retired_secret_hashes")
    if type(retired) is list and any(
        type(old) is str and hmac.compare_digest(old, digest) for old in retired
    ):
        return "rolled", None
    return "unknown", None


def rolled_fields(
    record: dict[str, Any],
    grace: timedelta,
    moment: datetime,
    *,
    expires_at: str | None,
) -> tuple[dict[str, Any], str, str]:
    """The fields a roll changes, the new secret and when the previous secret stops working.

    ``expires_at`` is the key's expiry after the roll. The grace never outlasts the key's
    expiry, before or after the roll. Only one previous secret is ever valid: rolling again
    during a grace ends the older one at once.
    """
    now = to_iso(moment)
    secret = tokens.generate_secret(record["scope"])
    ends = [to_iso(moment + grace)]
    ends += [when for when in (record.get("expires_at"), expires_at) if when is not None]
    valid_until = min(ends)
    retired = [*(record.get("retired_secret_hashes") or ()), record["secret_hash"]]
    fields: dict[str, Any] = {
        "secret_hash": tokens.hash_secret(secret),
        "key_prefix": tokens.key_prefix(secret),
        # Web and Mobile secrets are kept so admins can view them again; Analytics never.
        "secret": None if record["scope"] == Scope.ANALYTICS else secret,
        "retired_secret_hashes": retired,
        "rolled_at": now,
        "expires_at": expires_at,
        "previous_secret_hash": record["secret_hash"] if valid_until > now else None,
        "previous_valid_until": valid_until if valid_until > now else None,
    }
    return fields, secret, max(valid_until, now)


def disabled_fields(now: str, login: str) -> dict[str, Any]:
    """The fields a disable sets."""
    return {"status": "disabled", "disabled_at": now, "disabled_by": login}


def enabled_fields() -> dict[str, Any]:
    """The fields an enable sets (None fields are dropped from the stored record)."""
    return {"status": "active", "disabled_at": None, "disabled_by": None}


def expiry_note(before: str | None, after: str | None) -> str:
    """The audit detail of an expiry change."""
    def shown(when: str | None) -> str:
        return "never" if when is None else f"{when[:10]} {when[11:16]} UTC"
    return f"expiry {shown(after)} (was {shown(before)})"


def new_expiry(requested: str | None) -> str | None:
    """A requested expiry (an ISO time or :data:`NO_EXPIRY`) as stored: NO_EXPIRY is None."""
    return None if requested in (None, NO_EXPIRY) else requested


def issued_at(record: dict[str, Any]) -> str:
    """When the key's current secret was issued: its last roll, else its creation."""
    return record.get("rolled_at") or record["created_at"]


def expires_within(record: dict[str, Any], now: str, horizon: str) -> bool:
    """True for a key whose expiry lies after ``now`` and no later than ``horizon``."""
    expires_at = record.get("expires_at")
    return expires_at is not None and now < expires_at <= horizon


def is_expiring(record: dict[str, Any], now: str, horizon: str) -> bool:
    """True for an active key whose expiry lies after ``now`` and no later than ``horizon``
    (what the warning window and ``x`` list)."""
    return record.get("status") == "active" and expires_within(record, now, horizon)


def horizon(now: str, days: float) -> str:
    """The ISO time ``days`` after the ISO time ``now``."""
    return to_iso(from_iso(now) + timedelta(days=days))


def require_revision(record: dict[str, Any], expected: int | None, undone: str) -> None:
    """Raise :class:`Conflict` when the key's revision is no longer the ``expected`` one the
    admin saw; the message says who changed it, when, and that it was not ``undone``."""
    if expected is None:
        return
    revision = int(record.get("revision") or 0)
    if revision == expected:
        return
    when = str(record.get("updated_at", ""))
    raise Conflict(
        f"{record['id']} was changed by {record.get('updated_by')} at {when[:16].replace('T', ' ')} "
        f"UTC (revision {revision}; you saw {expected}): it was not {undone}; look at it again"
    )
