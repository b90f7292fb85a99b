"""What lists and rules read of the store, without pydantic: roles, scopes, statuses, times
and :class:`KeyView`, the cheap read-only view of a stored key.

Kept apart from :mod:`store.models` (which re-exports every name here) so that the first
screen of the UI can be built without importing pydantic and building its models (~0.1 s
at start): pydantic is imported when a key is validated, created or opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """What a member may do: see :mod:`store.access`."""

    OWNER = "owner"
    SUPPORT = "support"
    ANALYTICS = "analytics"
    DEVELOPER = "developer"


class Scope(StrEnum):
    """What a key is for."""

    WEB = "web"
    MOBILE = "mobile"
    ANALYTICS = "analytics"


class Status(StrEnum):
    """A key's state; ``expired`` is derived from ``expires_at``, never stored."""

    ACTIVE = "active"
    DISABLED = "disabled"
    REVOKED = "revoked"
    EXPIRED = "expired"


EXPIRY_CHOICES = (30, 60, 90)
NAME_MAX = 64
NO_EXPIRY = "never"  # KeyChanges.expires_at: remove the expiry (None leaves it as it is)

def utc_now() -> datetime:
    """The current time in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def to_iso(moment: datetime) -> str:
    """A UTC timestamp as stored: ``2026-12-01T09:30:00Z`` (sorts as text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_iso(text: str) -> datetime:
    """Parse a stored timestamp."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def check_expiry_text(value: str | None) -> str | None:
    """A stored expiry (``2027-01-31T00:00:00Z``), :data:`NO_EXPIRY`, or None (not given)."""
    if value is None or value == NO_EXPIRY:
        return value
    try:
        return to_iso(from_iso(value))
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not an expiry time such as 2027-01-31T00:00:00Z") from None



def status_of(stored_status: str, expires_at: str | None, now: str) -> Status:
    """Derive the displayed status from the stored one and the expiry.

    What an admin did shows first: a disabled key past its expiry reads ``disabled`` (enabling
    it would show ``expired``).
    """
    if stored_status == "revoked":
        return Status.REVOKED
    if stored_status == "disabled":
        return Status.DISABLED
    if expires_at is not None and expires_at <= now:
        return Status.EXPIRED
    return Status.ACTIVE


PUBLIC_FIELDS = (
    "id", "name", "scope", "project_id", "status", "created_at", "created_by", "updated_at",
    "updated_by", "revoked_at", "revoked_by", "last_used_at", "expires_at", "key_prefix",
    "revision", "disabled_at", "disabled_by", "rolled_at", "previous_valid_until",
)


def public_record(record: dict[str, Any], now: str) -> dict[str, Any]:
    """A stored key record reduced to what may be shown (no secret, no hash)."""
    public = {field: record.get(field) for field in PUBLIC_FIELDS}
    public["status"] = status_of(record["status"], record.get("expires_at"), now).value
    public["web"] = record.get("web")
    public["mobile"] = record.get("mobile")
    return public


_UNCHECKED = object()


class KeyView:
    """A cheap read-only view of one stored key, for lists of up to 100,000 keys.

    It wraps the stored record without validating or copying it. The store never mutates a
    record in place (a change stores a new dict), so a view stays a consistent snapshot.

    A record that fails the checks on read (:func:`store.validation.record_problem`) is
    wrapped in a readable stand-in and ``problem`` says why ("invalid: " + problem on
    screen); such a key never verifies and can always be revoked.
    """

    __slots__ = ("record", "project_name", "_problem")

    def __init__(
        self, record: dict[str, Any], project_name: str, problem: str | None | object = _UNCHECKED
    ) -> None:
        self.record = record
        self.project_name = project_name
        self._problem = problem

    def __repr__(self) -> str:
        flag = f", problem={self.problem!r}" if self.problem else ""
        return f"KeyView(id={self.id!r}, scope={self.scope!r}{flag})"

    @property
    def problem(self) -> str | None:
        """Why the stored record is not valid (edited by hand), or None; checked on first
        read, so a list of 100,000 keys costs nothing until its rows are shown."""
        if self._problem is _UNCHECKED:
            from .validation import readable_record, record_problem

            self._problem = record_problem(self.record, self.record["id"])
            if self._problem is not None:  # show a stand-in, never the fields that failed
                self.record = readable_record(self.record, self.record["id"])
        return self._problem  # type: ignore[return-value]

    @property
    def id(self) -> str:
        """The key's public id."""
        return self.record["id"]

    @property
    def name(self) -> str:
        """The key's name (user text: show it literally)."""
        return self.record["name"]

    @property
    def scope(self) -> str:
        """``web``, ``mobile`` or ``analytics``."""
        return self.record["scope"]

    @property
    def project_id(self) -> str | None:
        """The project's id, or None for All organization projects."""
        return self.record.get("project_id")

    @property
    def created_at(self) -> str:
        """ISO creation time."""
        return self.record["created_at"]

    @property
    def created_by(self) -> str:
        """Login of the member who created the key."""
        return self.record["created_by"]

    @property
    def expires_at(self) -> str | None:
        """ISO expiry time; None for a key that does not expire (or a hand-edited non-text value)."""
        value = self.record.get("expires_at")
        return value if type(value) is str else None

    @property
    def key_prefix(self) -> str:
        """The displayable start of the secret."""
        return self.record.get("key_prefix", "")

    @property
    def last_used_at(self) -> str | None:
        """When the key last verified successfully (to within a minute)."""
        value = self.record.get("last_used_at")
        return value if type(value) is str else None

    def status(self, now: str) -> Status:
        """The key's status at ISO time ``now``."""
        expires_at = self.record.get("expires_at")
        return status_of(self.record["status"], expires_at if type(expires_at) is str else None, now)


def expiry_from(created: datetime, days: int) -> str:
    """The ISO expiry ``days`` after ``created``."""
    return to_iso(created + timedelta(days=days))


@dataclass(frozen=True)
class NewestKeys:
    """A first screen read from the head of a big store file before the rest of it: the
    newest keys a member may see (see :meth:`store.repository.Repository.newest_keys`)."""

    views: list[KeyView]
    """Newest first; revoked keys left out."""
    organisation: str
    role: Role
    key_count: int
    """How many keys the whole store holds (every member's, revoked ones included)."""
