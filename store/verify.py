"""Verify: is this secret valid here, now, from this origin, IP or app (SPEC §3)?

Split out of the repository (issue 11). :meth:`store.repository.Repository.verify` stays the
entry point: it looks the secret's hash up, calls :func:`verdict_for` and notes the use.
Nothing here writes, waits for the lock or sees the secret itself, only its hash.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

from .lifecycle import match_secret
from .models import Scope, Status, Verdict, normalise_origin, status_of
from .validation import is_local_network, record_problem

INVALID_RECORD = "invalid_record"


def hash_index(keys: dict[str, Any]) -> dict[str, str]:
    """secret hash → table key, for every record that has a hash (hand-edited ones too)."""
    index: dict[str, str] = {}
    for key_id, record in keys.items():
        digest = record.get("secret_hash") if type(record) is dict else None
        if type(digest) is str:
            index[digest] = key_id
    # Every secret a rolled key ever had still names it: refused as "rolled", never "unknown".
    for key_id, record in keys.items():
        retired = record.get("retired_secret_hashes") if type(record) is dict else None
        if type(retired) is list:
            for old in retired:
                if type(old) is str:
                    index.setdefault(old, key_id)
    return index


def verdict_for(
    record: Any,
    key_id: str,
    digest: str,
    now: str,
    origin: str | None = None,
    ip: str | None = None,
    app_id: str | None = None,
) -> Verdict:
    """The verdict for the record found by the hash ``digest`` (None when none was found).

    A record that is not understood (unknown status, bad types, an id that differs from its
    table key) is never valid: ``invalid_record``.
    """
    if type(record) is not dict or type(record.get("secret_hash")) is not str:
        return Verdict(valid=False, reason="unknown")
    # The current secret, the previous one inside a roll's grace, or an older one.
    which, rolled_until = match_secret(record, digest, now)
    if which == "unknown":
        return Verdict(valid=False, reason="unknown")
    if record_problem(record, key_id) is not None:
        return Verdict(valid=False, reason=INVALID_RECORD, key_id=key_id)
    found = {"key_id": key_id, "scope": record["scope"]}
    if record["status"] != "active":  # revoked, disabled: named as stored
        reason = Status.REVOKED.value if record["status"] == "revoked" else record["status"]
        return Verdict(valid=False, reason=reason, **found)
    status = status_of(record["status"], record.get("expires_at"), now)
    if status is not Status.ACTIVE:
        return Verdict(valid=False, reason=status.value, **found)
    if which == "rolled":
        return Verdict(valid=False, reason="rolled", **found)
    reason = usage_refusal(record, origin, ip, app_id)
    if reason:
        return Verdict(valid=False, reason=reason, **found)
    return Verdict(valid=True, rolled_until=rolled_until, **found)


def usage_refusal(
    record: dict[str, Any], origin: str | None, ip: str | None, app_id: str | None
) -> str | None:
    """Why a found, active key may not be used from here; None when it may."""
    if record["scope"] == Scope.WEB:
        web = record.get("web") or {}
        if origin is not None:
            try:
                if canonical_origin(origin) in web.get("domains", []):
                    return None
            except ValueError:
                pass
        if web.get("developing_locally") and ip is not None:
            try:
                address = ipaddress.ip_address(ip.strip())
            except ValueError:
                return "ip_not_allowed"
            for text in web.get("networks", []):
                network = local_network(text)
                if network is not None and address in network:
                    return None
            return "ip_not_allowed"
        return "origin_not_allowed"
    if record["scope"] == Scope.MOBILE and app_id is not None:
        mobile = record.get("mobile") or {}
        if app_id not in [*mobile.get("ios_bundle_ids", []), *mobile.get("android_packages", [])]:
            return "app_not_allowed"
    return None


@functools.lru_cache(maxsize=4096)
def local_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """A stored network, if it is a local one; a hand-edited ``0.0.0.0/0`` never matches."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return network if is_local_network(network) else None


@functools.lru_cache(maxsize=4096)
def canonical_origin(origin: str) -> str:
    """The canonical form of an origin a client sent (cached: clients repeat them)."""
    return normalise_origin(origin)
