"""The rule book: who may do what to which key, and if not, why.

One function, :func:`key_refusal`, answers "may LOGIN (with ROLE) do ACTION to this key, and
if not, why" and :func:`organisation_refusal` the same for actions on the organisation
(projects, members, policy). The repository calls them before every change; screens and the
command line ask the repository (``Repository.refusal``) and show the answer. The wording of a
refusal exists here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from .errors import Forbidden
from .views import Role

SEES_EVERY_KEY = frozenset({Role.OWNER, Role.SUPPORT, Role.ANALYTICS})
MANAGES_PROJECTS = frozenset({Role.OWNER, Role.SUPPORT})


class KeyAction(StrEnum):
    """Something a member may do to one key."""

    VIEW = "view"
    EDIT = "edit"
    REVOKE = "revoke"
    COPY = "copy"  # copy or reveal the stored secret
    ROLL = "roll"
    DISABLE = "disable"
    ENABLE = "enable"


class OrganisationAction(StrEnum):
    """Something a member may do to the organisation rather than to one key."""

    MANAGE_PROJECTS = "manage projects"
    MANAGE_MEMBERS = "manage members"
    SET_POLICY = "change the policy"
    USE_ALL_PROJECTS = "make a key for All organization projects"


# Actions that change a key: a member's own keys, or any key for an owner.
_CHANGES = frozenset({
    KeyAction.EDIT, KeyAction.REVOKE, KeyAction.ROLL, KeyAction.DISABLE, KeyAction.ENABLE,
})


def sees_every_key(role: Role) -> bool:
    """Owner, support and analytics see every key; a developer only their own."""
    return role in SEES_EVERY_KEY


def can_see(login: str, role: Role, record: Mapping[str, Any]) -> bool:
    """Whether the member may see this key at all (otherwise it is, to them, not found)."""
    return role in SEES_EVERY_KEY or record.get("created_by") == login


def can_change(login: str, role: Role, record: Mapping[str, Any]) -> bool:
    """Whether the member may change this key at all: their own, or any if owner."""
    return role is Role.OWNER or record.get("created_by") == login


def key_refusal(
    login: str, role: Role, action: KeyAction | str, record: Mapping[str, Any]
) -> str | None:
    """Why ``login`` may not do ``action`` to the key ``record``; None when they may.

    Covers the role rules of SPEC §1 and the key's own state (a revoked key cannot be edited,
    an Analytics secret is never stored, ...). A key the member may not see is refused with
    the same words as a key that does not exist.
    """
    action = KeyAction(action)
    key_id = record.get("id", "this key")
    status = record.get("status")
    scope = record.get("scope")
    if not can_see(login, role, record):
        return f"no key {key_id!r}"
    if action is KeyAction.VIEW:
        return None
    if action in _CHANGES and not can_change(login, role, record):
        return (
            f"{login} is {role.value}: only an owner may {action.value} a key created by "
            f"{record.get('created_by')}"
        )
    if action is KeyAction.COPY:
        if scope == "analytics":
            return (
                f"{key_id} is an Analytics key: its secret was shown once, at creation, and is "
                "not stored; roll the key for a new secret or create a new key"
            )
        if status == "revoked" or not record.get("secret"):
            return f"{key_id} is revoked: its secret was wiped"
        return None
    if status == "revoked":
        if action is KeyAction.REVOKE:
            return f"{key_id} is already revoked"
        return f"{key_id} is revoked: a revoked key cannot be {_PAST[action]}"
    if action is KeyAction.EDIT and scope == "analytics":
        return (
            f"{key_id} is an Analytics key, which cannot be edited: roll it for a new secret, "
            "or revoke it and create a new one"
        )
    if action is KeyAction.DISABLE and status == "disabled":
        return f"{key_id} is already disabled"
    if action is KeyAction.ENABLE and status != "disabled":
        return f"{key_id} is not disabled"
    return None


_PAST = {
    KeyAction.EDIT: "edited",
    KeyAction.ROLL: "rolled",
    KeyAction.DISABLE: "disabled",
    KeyAction.ENABLE: "enabled",
}


def organisation_refusal(login: str, role: Role, action: OrganisationAction | str) -> str | None:
    """Why ``login`` may not do ``action`` to the organisation; None when they may."""
    action = OrganisationAction(action)
    if action is OrganisationAction.MANAGE_PROJECTS:
        allowed, who = role in MANAGES_PROJECTS, "an owner or support"
    elif action is OrganisationAction.USE_ALL_PROJECTS:
        allowed, who = role in SEES_EVERY_KEY, "an owner, support or analytics member"
    else:
        allowed, who = role is Role.OWNER, "an owner"
    if allowed:
        return None
    return f"{login} is {role.value}: only {who} may {action.value}"


def require_key_action(
    login: str, role: Role, action: KeyAction | str, record: Mapping[str, Any]
) -> None:
    """Raise :class:`Forbidden` with the reason when :func:`key_refusal` refuses."""
    reason = key_refusal(login, role, action, record)
    if reason is not None:
        raise Forbidden(reason)


def require_organisation_action(login: str, role: Role, action: OrganisationAction | str) -> None:
    """Raise :class:`Forbidden` with the reason when :func:`organisation_refusal` refuses."""
    reason = organisation_refusal(login, role, action)
    if reason is not None:
        raise Forbidden(reason)


# -- the helpers round one's callers use; kept until every caller asks the rule book ----------

def require_change(login: str, role: Role, record: Mapping[str, Any], action: str) -> None:
    """Refuse, with the reason, a change of another member's key by a non-owner."""
    if not can_change(login, role, record):
        raise Forbidden(
            f"{login} is {role.value}: only an owner may {action} a key created by "
            f"{record.get('created_by')}"
        )


def require_owner(login: str, role: Role, action: str) -> None:
    """Refuse an action that only an owner may take (managing members)."""
    if role is not Role.OWNER:
        raise Forbidden(f"{login} is {role.value}: only an owner may {action}")


def require_project_manager(login: str, role: Role, action: str) -> None:
    """Refuse an action on projects unless the member is an owner or support."""
    if role not in MANAGES_PROJECTS:
        raise Forbidden(f"{login} is {role.value}: only an owner or support may {action}")


def may_use_all_projects(role: Role) -> bool:
    """Only owner, support and analytics may make a key for All organization projects."""
    return role in SEES_EVERY_KEY
