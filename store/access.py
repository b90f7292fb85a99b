"""Who may see and change what. The repository calls these before every read and change,
so the command line and the UI cannot disagree about roles."""

from __future__ import annotations

from typing import Any

from .errors import Forbidden
from .models import Role

SEES_EVERY_KEY = frozenset({Role.OWNER, Role.SUPPORT, Role.ANALYTICS})
MANAGES_PROJECTS = frozenset({Role.OWNER, Role.SUPPORT})


def sees_every_key(role: Role) -> bool:
    """Owner, support and analytics see every key; a developer only their own."""
    return role in SEES_EVERY_KEY


def can_see(login: str, role: Role, record: dict[str, Any]) -> bool:
    """Whether the member may see this key at all (otherwise it is, to them, not found)."""
    return role in SEES_EVERY_KEY or record["created_by"] == login


def can_change(login: str, role: Role, record: dict[str, Any]) -> bool:
    """Whether the member may edit or revoke this key: their own, or any if owner."""
    return role is Role.OWNER or record["created_by"] == login


def require_change(login: str, role: Role, record: dict[str, Any], action: str) -> None:
    """Refuse, with the reason, a change of another member's key by a non-owner."""
    if not can_change(login, role, record):
        raise Forbidden(
            f"{login} is {role.value}: only an owner may {action} a key created by "
            f"{record['created_by']}"
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
