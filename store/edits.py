"""Edits between people: which fields an admin changed, and whether a colleague changed them too.

An edit form (or ``apikeys edit``) starts from the key as it was (``base``) at some revision.
If the key was changed meanwhile, :func:`merge_edit` keeps only the (sub)fields this admin
changed; where a colleague changed one of the same fields differently, the edit is refused
(SPEC §4: no lost edits). Fields are compared flat, as ``name``, ``web.domains``,
``mobile.ios_bundle_ids``, ``expires_at``, so adding a domain and renaming do not collide.
"""

from __future__ import annotations

from typing import Any

WEB_FIELDS = ("domains", "developing_locally", "networks", "cross_page_persistence")
MOBILE_FIELDS = ("ios_bundle_ids", "android_packages")
TOP_FIELDS = ("name", "expires_at")
LABELS = {
    "name": "the name", "expires_at": "the expiry", "web.domains": "the domains",
    "web.developing_locally": "developing locally", "web.networks": "the IP networks",
    "web.cross_page_persistence": "cross page persistence",
    "mobile.ios_bundle_ids": "the iOS bundle ids", "mobile.android_packages": "the Android packages",
}


def flat_record(record: dict[str, Any]) -> dict[str, Any]:
    """The editable fields of a stored key record, flat."""
    flat: dict[str, Any] = {field: record.get(field) for field in TOP_FIELDS}
    for group, fields in (("web", WEB_FIELDS), ("mobile", MOBILE_FIELDS)):
        settings = record.get(group)
        if isinstance(settings, dict):
            for field in fields:
                flat[f"{group}.{field}"] = settings.get(field)
    return flat


def flat_changes(changes: Any) -> dict[str, Any]:
    """The fields a ``KeyChanges`` sets (None leaves a field untouched), flat."""
    flat: dict[str, Any] = {}
    for field in TOP_FIELDS:
        value = getattr(changes, field, None)
        if value is not None:
            flat[field] = value
    for group, fields in (("web", WEB_FIELDS), ("mobile", MOBILE_FIELDS)):
        settings = getattr(changes, group, None)
        if settings is not None:
            dumped = settings.model_dump()
            for field in fields:
                flat[f"{group}.{field}"] = dumped.get(field)
    return flat


def merge_edit(record: dict[str, Any], changes: Any, base: Any) -> tuple[dict[str, Any], list[str]]:
    """What of ``changes`` to apply to ``record`` now, given the ``base`` the admin saw.

    Returns the flat fields to apply (only those the admin changed from ``base``) and the
    fields both the admin and someone else changed to different values (a conflict when
    not empty).
    """
    mine = flat_changes(changes)
    seen = flat_changes(base)
    stored = flat_record(record)
    to_apply: dict[str, Any] = {}
    overlapping: list[str] = []
    for field, value in mine.items():
        before = seen.get(field, stored.get(field))
        if _same(value, before):
            continue  # not changed by this admin: keep whatever is stored now
        if not _same(stored.get(field), before) and not _same(stored.get(field), value):
            overlapping.append(field)
        to_apply[field] = value
    return to_apply, overlapping


def applied(record: dict[str, Any], to_apply: dict[str, Any]) -> dict[str, Any]:
    """``name``/``web``/``mobile``/``expires_at`` values: the stored ones with ``to_apply`` in."""
    result: dict[str, Any] = {}
    for field in TOP_FIELDS:
        if field in to_apply:
            result[field] = to_apply[field]
    for group in ("web", "mobile"):
        parts = {
            key.split(".", 1)[1]: value for key, value in to_apply.items() if key.startswith(group + ".")
        }
        if parts:
            result[group] = {**(record.get(group) or {}), **parts}
    return result


def label(field: str) -> str:
    """How a flat field reads in a message."""
    return LABELS.get(field, field.replace("_", " "))


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, list) and isinstance(right, list):
        return sorted(map(str, left)) == sorted(map(str, right))
    return left == right
