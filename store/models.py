"""Pydantic models of the store: members, projects, keys and their per-scope settings.

Validation happens here, on write and on edit, with the checks of :mod:`store.validation`.
Reading a large store does not validate every record with pydantic (that costs ~0.8 s at
100,000 keys): lists use :class:`KeyView`, a thin read-only view of the stored record checked
cheaply by :func:`store.validation.record_problem`, and a single key is validated when opened.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

# Re-exported: round one's callers import these checks from here.
from .validation import (
    _check_bundle_id,
    _check_package_name,
)
from .validation import (
    check_display_text as check_display_text,
)
from .validation import (
    describe_char as describe_char,
)
from .validation import (
    is_local_network as is_local_network,
)
from .validation import (
    is_loopback_host as is_loopback_host,
)
from .validation import (
    normalise_network as normalise_network,
)
from .validation import (
    normalise_origin as normalise_origin,
)
from .validation import (
    validate_or_raise as validate_or_raise,
)
from .validation import (
    validation_errors as validation_errors,
)


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


def _check_key_name(value: str) -> str:
    return check_display_text(value, what="name", max_length=NAME_MAX)


def _check_display_name(value: str) -> str:
    return check_display_text(value, what="name", max_length=128)


KeyName = Annotated[str, AfterValidator(_check_key_name)]
ExpiryText = Annotated[str | None, AfterValidator(check_expiry_text)]
DisplayText = Annotated[str, AfterValidator(_check_display_name)]

Origin = Annotated[str, AfterValidator(normalise_origin)]
Network = Annotated[str, AfterValidator(normalise_network)]
BundleId = Annotated[str, AfterValidator(_check_bundle_id)]
PackageName = Annotated[str, AfterValidator(_check_package_name)]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class WebSettings(BaseModel):
    """Where a Web key may be used from."""

    model_config = ConfigDict(extra="forbid")

    domains: list[Origin] = Field(min_length=1, max_length=100)
    developing_locally: bool = False
    networks: list[Network] = Field(default_factory=list, max_length=100)
    cross_page_persistence: bool = False

    @model_validator(mode="after")
    def _networks_when_local(self) -> WebSettings:
        self.domains = _unique(self.domains)
        self.networks = _unique(self.networks)
        if self.developing_locally and not self.networks:
            raise ValueError("networks: add at least one IP network when developing locally")
        return self


class MobileSettings(BaseModel):
    """Which apps may use a Mobile key."""

    model_config = ConfigDict(extra="forbid")

    ios_bundle_ids: list[BundleId] = Field(default_factory=list, max_length=100)
    android_packages: list[PackageName] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _at_least_one_app(self) -> MobileSettings:
        self.ios_bundle_ids = _unique(self.ios_bundle_ids)
        self.android_packages = _unique(self.android_packages)
        if not self.ios_bundle_ids and not self.android_packages:
            raise ValueError("platforms: add an iOS bundle id or an Android package name")
        return self

    @property
    def app_ids(self) -> list[str]:
        """Every app identifier, iOS then Android."""
        return [*self.ios_bundle_ids, *self.android_packages]


class KeyDraft(BaseModel):
    """What an admin asks for when creating a key (validated before anything is written)."""

    model_config = ConfigDict(extra="forbid")

    name: KeyName
    scope: Scope
    project_id: str | None = None
    all_projects: bool = False
    web: WebSettings | None = None
    mobile: MobileSettings | None = None
    expires_days: int | None = None
    # Web and Mobile: an optional expiry time (see store.lifecycle.parse_expiry); Analytics
    # keys use expires_days.
    expires_at: ExpiryText = None

    @model_validator(mode="after")
    def _fits_scope(self) -> KeyDraft:
        if self.all_projects and self.scope is not Scope.ANALYTICS:
            raise ValueError("project: All organization projects is only for Analytics keys")
        if not self.all_projects and not self.project_id:
            raise ValueError("project: choose a project")
        if self.scope is Scope.WEB and self.web is None:
            raise ValueError("domains: a Web key needs at least one custom UI domain")
        if self.scope is Scope.MOBILE and self.mobile is None:
            raise ValueError("platforms: add an iOS bundle id or an Android package name")
        if self.scope is Scope.ANALYTICS and self.expires_days not in EXPIRY_CHOICES:
            raise ValueError("expires_days: choose an expiry of 30, 60 or 90 days")
        if self.scope is not Scope.ANALYTICS and self.expires_days is not None:
            raise ValueError("expires_days: Web and Mobile keys take an expiry date (expires_at)")
        if self.scope is Scope.ANALYTICS and self.expires_at not in (None, NO_EXPIRY):
            raise ValueError("expires_at: Analytics keys expire after 30, 60 or 90 days (expires_days)")
        if self.expires_at == NO_EXPIRY:
            self.expires_at = None
        if self.scope is not Scope.WEB:
            self.web = None
        if self.scope is not Scope.MOBILE:
            self.mobile = None
        return self


class KeyChanges(BaseModel):
    """An edit of a Web or Mobile key; None leaves a field as it is."""

    model_config = ConfigDict(extra="forbid")

    name: KeyName | None = None
    web: WebSettings | None = None
    mobile: MobileSettings | None = None
    # An expiry time, or NO_EXPIRY ("never") to remove the expiry (Web and Mobile keys).
    expires_at: ExpiryText = None


class Member(BaseModel):
    """A login that belongs to the organisation, with its role."""

    model_config = ConfigDict(extra="ignore")

    login: str
    display_name: DisplayText
    role: Role
    added_at: str
    added_by: str


class Project(BaseModel):
    """A project keys are assigned to; a Web key needs a deployed one."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: DisplayText
    deployed: bool = False
    created_at: str
    created_by: str


class ApiKey(BaseModel):
    """One key as stored. The secret is kept only for active Web and Mobile keys."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    scope: Scope
    project_id: str | None = None
    created_at: str
    created_by: str
    updated_at: str
    updated_by: str
    status: Literal["active", "disabled", "revoked"] = "active"
    revoked_at: str | None = None
    revoked_by: str | None = None
    disabled_at: str | None = None
    disabled_by: str | None = None
    rolled_at: str | None = None  # when the current secret was issued by a roll
    previous_valid_until: str | None = None  # the secret before the last roll works until then
    last_used_at: str | None = None
    expires_at: str | None = None
    key_prefix: str
    secret_hash: str = Field(repr=False)
    secret: SecretStr | None = None
    previous_secret_hash: str | None = Field(default=None, repr=False)
    retired_secret_hashes: list[str] = Field(default_factory=list, repr=False)
    web: WebSettings | None = None
    mobile: MobileSettings | None = None
    revision: int = 0  # bumped by every change of the key (SPEC §4: no lost edits)

    def effective_status(self, now: str) -> Status:
        """``active``, ``disabled``, ``revoked`` or ``expired`` at the ISO time ``now``."""
        return status_of(self.status, self.expires_at, now)

    def public_dict(self, now: str) -> dict[str, Any]:
        """The key as the command line's JSON shows it: never the secret or its hash."""
        return public_record(self.model_dump(mode="json", exclude={"secret"}), now)


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


class CreatedKey(BaseModel):
    """The answer to a create: the key and its secret, which is shown this once."""

    key: ApiKey
    secret: SecretStr


class RolledKey(BaseModel):
    """The answer to a roll: the key with its new secret (shown this once for Analytics) and
    when the previous secret stops (stopped, for no grace) working."""

    key: ApiKey
    secret: SecretStr
    previous_valid_until: str


class Verdict(BaseModel):
    """The answer of verify: valid or not, and why not. Never holds the secret."""

    valid: bool
    reason: str | None = None
    key_id: str | None = None
    scope: Scope | None = None
    rolled_until: str | None = None  # a rolled secret inside its grace: valid until then


class AuditEvent(BaseModel):
    """One line of the audit trail: who did what to which key, and when."""

    model_config = ConfigDict(extra="ignore")

    at: str
    actor: str
    action: str
    key_id: str | None = None
    detail: str = ""


def expiry_from(created: datetime, days: int) -> str:
    """The ISO expiry ``days`` after ``created``."""
    return to_iso(created + timedelta(days=days))
