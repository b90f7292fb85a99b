"""Secrets and identifiers: generation, checksum, hashing and masking.

A secret looks like ``web_<32 random base62><6 base62 CRC32>``. The checksum lets a tool reject
a mistyped secret without touching the store, and lets secret scanners recognise a leak.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_SET = frozenset(BASE62)
RANDOM_LENGTH = 32  # 32 × log2(62) ≈ 190.5 bits
CHECKSUM_LENGTH = 6  # 62**6 > 2**32, so any CRC32 fits
SCOPE_PREFIXES = {"web": "web", "mobile": "mob", "analytics": "ana"}
PREFIX_SCOPES = {prefix: scope for scope, prefix in SCOPE_PREFIXES.items()}
SECRET_LENGTH = 3 + 1 + RANDOM_LENGTH + CHECKSUM_LENGTH
VISIBLE_RANDOM_CHARS = 4  # shown in lists to tell keys apart; the other 28 stay secret


def random_base62(length: int) -> str:
    """Return ``length`` characters drawn uniformly from the base62 alphabet.

    Bytes from the OS's CSPRNG are kept only below 248 (4 × 62), so ``byte % 62`` is uniform.
    """
    chars: list[str] = []
    while len(chars) < length:
        chars.extend(BASE62[byte % 62] for byte in secrets.token_bytes(length + 8) if byte < 248)
    return "".join(chars[:length])


def base62_encode(number: int, width: int) -> str:
    """Encode a non-negative integer as base62, left-padded with zeros to ``width``."""
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(body: str) -> str:
    """The 6-character base62 CRC32 of ``body`` (the secret without its checksum)."""
    return base62_encode(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def generate_secret(scope: str) -> str:
    """A new secret for a key of ``scope`` (``web``, ``mobile`` or ``analytics``)."""
    body = f"{SCOPE_PREFIXES[scope]}_{random_base62(RANDOM_LENGTH)}"
    return body + checksum(body)


def secret_scope(secret: str) -> str | None:
    """The scope a well-formed secret belongs to, or None when it is malformed.

    Checks the shape, the alphabet and the checksum; never touches the store.
    """
    if len(secret) != SECRET_LENGTH or secret[3:4] != "_":
        return None
    scope = PREFIX_SCOPES.get(secret[:3])
    if scope is None:
        return None
    tail = secret[4:]
    if not _BASE62_SET.issuperset(tail):
        return None
    if checksum(secret[:-CHECKSUM_LENGTH]) != secret[-CHECKSUM_LENGTH:]:
        return None
    return scope


def hash_secret(secret: str) -> str:
    """SHA-256 of the secret, hex: what the store keeps to look a secret up."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def key_prefix(secret: str) -> str:
    """The public, displayable start of a secret: scope prefix and 4 random characters."""
    return secret[: 4 + VISIBLE_RANDOM_CHARS]


def masked(prefix: str) -> str:
    """A key prefix followed by a mask, as lists show it (``web_AbCd••••••``)."""
    return prefix + "•" * 6


def new_key_id() -> str:
    """A short public identifier for a key (never derived from the secret)."""
    return "key_" + random_base62(10)


def new_project_id() -> str:
    """A project identifier such as ``prj_4f2a9c``."""
    return "prj_" + secrets.token_hex(3)
