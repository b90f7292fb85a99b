"""Pydantic models of the store: members, projects, keys and their per-scope settings.

Validation happens here, on write and on edit, with the checks of :mod:`store.validation`.
Reading a large store does not validate every record with pydantic (that costs ~0.8 s at
100,000 keys): lists use :class:`KeyView`, a thin read-only view of the stored record checked
cheaply by :func:`store.validation.record_problem`, and a single key is validated when opened.
:class:`KeyView`, the enums and the time helpers live in :mod:`store.views` (no pydantic, so
the UI's first screen need not import it) and are re-exported here.
"""

from __future__ import annotations

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

# Re-exported: what lists read lives in store.views, which does not import pydantic.
from .views import EXPIRY_CHOICES as EXPIRY_CHOICES
from .views import NAME_MAX as NAME_MAX
from .views import NO_EXPIRY as NO_EXPIRY
from .views import PUBLIC_FIELDS as PUBLIC_FIELDS
from .views import KeyView as KeyView
from .views import NewestKeys as NewestKeys
from .views import Role as Role
from .views import Scope as Scope
from .views import Status as Status
from .views import check_expiry_text as check_expiry_text
from .views import expiry_from as expiry_from
from .views import from_iso as from_iso
from .views import public_record as public_record
from .views import status_of as status_of
from .views import to_iso as to_iso
from .views import utc_now as utc_now


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

    model_config = ConfigDict(extra="forbid", defer_build=True)

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

    model_config = ConfigDict(extra="forbid", defer_build=True)

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

    model_config = ConfigDict(extra="forbid", defer_build=True)

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

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: KeyName | None = None
    web: WebSettings | None = None
    mobile: MobileSettings | None = None
    # An expiry time, or NO_EXPIRY ("never") to remove the expiry (Web and Mobile keys).
    expires_at: ExpiryText = None


class Member(BaseModel):
    """A login that belongs to the organisation, with its role."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    login: str
    display_name: DisplayText
    role: Role
    added_at: str
    added_by: str


class Project(BaseModel):
    """A project keys are assigned to; a Web key needs a deployed one."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    id: str
    name: DisplayText
    deployed: bool = False
    created_at: str
    created_by: str


class ApiKey(BaseModel):
    """One key as stored. The secret is kept only for active Web and Mobile keys."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

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


class CreatedKey(BaseModel):
    """The answer to a create: the key and its secret, which is shown this once."""

    model_config = ConfigDict(defer_build=True)

    key: ApiKey
    secret: SecretStr


class RolledKey(BaseModel):
    """The answer to a roll: the key with its new secret (shown this once for Analytics) and
    when the previous secret stops (stopped, for no grace) working."""

    model_config = ConfigDict(defer_build=True)

    key: ApiKey
    secret: SecretStr
    previous_valid_until: str


class Verdict(BaseModel):
    """The answer of verify: valid or not, and why not. Never holds the secret."""

    model_config = ConfigDict(defer_build=True)

    valid: bool
    reason: str | None = None
    key_id: str | None = None
    scope: Scope | None = None
    rolled_until: str | None = None  # a rolled secret inside its grace: valid until then


class AuditEvent(BaseModel):
    """One line of the audit trail: who did what to which key, and when."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    at: str
    actor: str
    action: str
    key_id: str | None = None
    detail: str = ""
