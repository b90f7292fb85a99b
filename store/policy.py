"""The organisation's key policy: how long keys of each scope may live, and the warning window.

Stored in the store's meta document as ``"policy": {"max_lifetime_days": {"web": 90,
"mobile": null, "analytics": null}, "warn_days": 14}``. A key's lifetime runs from when its
current secret was issued (creation, or its last roll) to its expiry; a key without an expiry
breaks any maximum lifetime of its scope. The wording of a policy refusal lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import InvalidInput, StoreUnusable
from .models import EXPIRY_CHOICES, KeyView, Scope, from_iso, validation_errors

DEFAULT_WARN_DAYS = 14
LIFETIME_MAX_DAYS = 3650  # ten years: a larger maximum is no rule at all


def _no_limits() -> dict[Scope, int | None]:
    return {scope: None for scope in Scope}


class Policy(BaseModel):
    """The maximum lifetime per scope (None: no limit) and the expiry warning window."""

    model_config = ConfigDict(extra="forbid")

    max_lifetime_days: dict[Scope, int | None] = Field(default_factory=_no_limits)
    warn_days: int = Field(default=DEFAULT_WARN_DAYS, ge=0, le=365)

    @field_validator("max_lifetime_days")
    @classmethod
    def _every_scope(cls, value: dict[Scope, int | None]) -> dict[Scope, int | None]:
        for scope, days in value.items():
            if days is None:
                continue
            if isinstance(days, bool) or not 1 <= days <= LIFETIME_MAX_DAYS:
                raise ValueError(
                    f"max_lifetime_days: {scope.value} must be 1–{LIFETIME_MAX_DAYS} days or none"
                )
            if scope is Scope.ANALYTICS and days < EXPIRY_CHOICES[0]:
                raise ValueError(
                    f"max_lifetime_days: Analytics keys live {EXPIRY_CHOICES[0]}, 60 or 90 days, so "
                    f"a maximum below {EXPIRY_CHOICES[0]} days would forbid every Analytics key"
                )
        return {scope: value.get(scope) for scope in Scope}

    def max_days(self, scope: Scope | str) -> int | None:
        """The maximum lifetime of keys of ``scope`` in days, or None for no limit."""
        return self.max_lifetime_days.get(Scope(scope))

    def as_json(self) -> dict[str, Any]:
        """The policy as stored and as ``policy show --json`` prints it."""
        return self.model_dump(mode="json")


def stored_policy(meta: dict[str, Any], where: object) -> Policy:
    """The policy kept in the meta document (the default when none was set).

    A hand-edited policy that does not validate is refused rather than read as "no limit",
    since a policy that quietly stops applying is worse than a change that is refused.
    """
    stored = meta.get("policy")
    if stored is None:
        return Policy()
    try:
        return Policy.model_validate(stored)
    except ValidationError as error:
        problem = next(iter(validation_errors(error).values()), "invalid")
        raise StoreUnusable(
            f"the key policy in {where} is not valid ({problem}): set it again with "
            "`apikeys policy set`"
        ) from None


def changed_policy(
    policy: Policy,
    max_lifetime_days: dict[str, int | None] | None = None,
    warn_days: int | None = None,
) -> Policy:
    """``policy`` with the given scopes' maxima and the warning window replaced (validated)."""
    lifetimes: dict[Any, int | None] = dict(policy.max_lifetime_days)
    for scope, days in (max_lifetime_days or {}).items():
        try:
            lifetimes[Scope(scope)] = days
        except ValueError:
            raise InvalidInput({"max_lifetime_days": (
                f"{scope!r} is not a scope: choose web, mobile or analytics"
            )}) from None
    data = {"max_lifetime_days": lifetimes, "warn_days": policy.warn_days if warn_days is None else warn_days}
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(validation_errors(error)) from None


def describe_changes(before: Policy, after: Policy) -> list[str]:
    """What a change of the policy changed, for the audit trail (e.g. ``web max 90 days``)."""
    notes = []
    for scope in Scope:
        old, new = before.max_days(scope), after.max_days(scope)
        if old != new:
            notes.append(f"{scope.value} max lifetime {_days(new)} (was {_days(old)})")
    if before.warn_days != after.warn_days:
        notes.append(f"warn {after.warn_days} days before expiry (was {before.warn_days})")
    return notes


def _days(days: int | None) -> str:
    return "none" if days is None else f"{days} days"


def lifetime_refusal(
    policy: Policy,
    scope: Scope | str,
    *,
    issued_at: str,
    expires_at: str | None,
    now: datetime,
) -> str | None:
    """Why a key of ``scope`` whose secret was issued at ``issued_at`` may not expire at
    ``expires_at`` (None: never) under ``policy``; None when it may.

    The message holds the rule and what to choose instead.
    """
    scope = Scope(scope)
    limit = policy.max_days(scope)
    if limit is None:
        return None
    latest = from_iso(issued_at) + timedelta(days=limit)
    if expires_at is not None and within_lifetime(issued_at, expires_at, limit):
        return None
    rule = f"{scope.value} keys may live at most {limit} days (policy)"
    if scope is Scope.ANALYTICS:
        allowed = [days for days in EXPIRY_CHOICES if days <= limit]
        return f"{rule}: choose {allowed[-1]} days or fewer"
    remaining = (latest.date() - now.date()).days
    if remaining < 1:
        return (
            f"{rule} and this key's secret was issued {issued_at[:10]}: roll it with a new "
            f"expiry of {limit}d or sooner"
        )
    if remaining >= limit or issued_at[:10] == f"{now:%Y-%m-%d}":
        return f"{rule}: choose an expiry of {remaining}d or sooner"
    return (
        f"{rule} and this key's secret was issued {issued_at[:10]}: choose an expiry of "
        f"{remaining}d or sooner ({latest:%Y-%m-%d}), or roll it with a new expiry"
    )


def within_lifetime(issued_at: str, expires_at: str, limit: int) -> bool:
    """Whether a secret issued at ``issued_at`` and expiring at ``expires_at`` lives at most
    ``limit`` days. Counted in UTC calendar days, as the policy is written: ``--expires 90d``
    on a key made minutes ago keeps a 90-day rule."""
    latest = from_iso(issued_at) + timedelta(days=limit)
    return from_iso(expires_at).date() <= latest.date()


def violation(policy: Policy, record: dict[str, Any]) -> str | None:
    """How a stored key breaks ``policy``, short enough for a table column beside the key's
    scope (e.g. ``no expiry (at most 90 days)``), or None when it keeps it."""
    limit = policy.max_days(record["scope"])
    if limit is None:
        return None
    expires_at = record.get("expires_at")
    if expires_at is None:
        return f"no expiry (at most {limit} days)"
    issued_at = record.get("rolled_at") or record["created_at"]
    if within_lifetime(issued_at, expires_at, limit):
        return None
    days = (from_iso(expires_at) - from_iso(issued_at)).total_seconds() / 86400
    return f"lives {days:.0f} days, to {expires_at[:10]} (at most {limit})"


@dataclass(frozen=True)
class PolicyViolation:
    """A key that breaks the policy, and how."""

    key: KeyView
    problem: str
