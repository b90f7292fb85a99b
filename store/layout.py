"""Writing the store so that it can be read back in pieces.

``orjson.loads`` of a whole 50 MB store first builds a document tree of its own (~100 MB at
100,000 keys) next to the 50 MB of raw bytes, and only then the Python objects: the peak is
~170 MB above what the parsed store needs. The writer therefore puts the ``keys`` table last
and records how many keys it holds; the reader parses everything before it at once and the
keys a few megabytes at a time, cutting between records. The file stays one plain JSON
document in TinyDB's layout, readable by anything.

Whenever the file does not have that shape (edited by hand, written by another tool) or the
count does not match, :func:`read_in_pieces` returns None and the caller parses it whole,
which also gives the precise error for a file that is not valid JSON. So does a piece that
does not re-serialise to the very bytes read: only then can an object name a field twice
(orjson would silently keep the last), and the whole-file reader checks for that.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import IO, Any

import orjson

KEYS_TABLE = b',"keys":{'
BLOCK_SIZE = 4 * 1024 * 1024
HEAD_LIMIT = 16 * 1024 * 1024  # meta, projects and members come first; far less than this
# Where one key record ends and the next begins: `},"key_<10 base62>":{` cannot occur inside
# a JSON string (a quote there is always escaped), and inside a record no field is named so.
_NEXT_RECORD = re.compile(rb'\},(?="key_[0-9A-Za-z]{10}":\{)')
# Fields whose values many keys share (one name for a batch of keys, a handful of creators,
# statuses and scopes, timestamps of keys made together): one string object for each value.
SHARED_FIELDS = ("name", "scope", "status", "project_id", "created_by", "updated_by",
                 "created_at", "updated_at", "last_used_at", "expires_at", "revoked_by",
                 "disabled_by")
SHARED_SETTINGS = ("web", "mobile")  # equal settings dicts become one dict (never mutated)
Progress = Callable[[int, int], None]
"""Told (keys read so far, keys in the store) after each block."""


def serialise(data: dict[str, Any]) -> bytes:
    """The store as JSON, with the keys table last and its size in the meta document."""
    meta = data["_meta"]["1"]
    meta["key_count"] = len(data["keys"])
    ordered = {name: table for name, table in data.items() if name != "keys"}
    ordered["keys"] = data["keys"]
    return orjson.dumps(ordered)


def read_head(handle: IO[bytes]) -> dict[str, Any] | None:
    """Everything before the keys table (meta, projects, members) of a store written by
    :func:`serialise`, with an empty ``keys`` table; None if it is not one. Costs the head,
    not the keys: under a millisecond at 100,000 keys."""
    head = _head(handle)
    if head is None:
        return None
    data, _rest = head
    data["keys"] = {}
    return data


def _head(handle: IO[bytes]) -> tuple[dict[str, Any], bytes] | None:
    """The parsed head and the bytes read past the start of the keys table."""
    buffer = b""
    while True:
        start = buffer.find(KEYS_TABLE)
        if start >= 0:
            break
        block = handle.read(BLOCK_SIZE)
        if not block or len(buffer) > HEAD_LIMIT:
            return None  # no keys table in the first blocks: not our layout
        buffer += block
    try:
        data = _exact(buffer[:start] + b"}")
        expected = data["_meta"]["1"]["key_count"]
    except (orjson.JSONDecodeError, _NotAsWritten, KeyError, TypeError):
        return None
    if not isinstance(data, dict) or "keys" in data or type(expected) is not int:
        return None
    return data, buffer[start + len(KEYS_TABLE):]


def read_in_pieces(handle: IO[bytes], progress: Progress | None = None) -> dict[str, Any] | None:
    """Parse a store written by :func:`serialise` a block at a time; None if it is not one.

    Values that many keys share are made one object as each block is parsed (sharing them
    after a whole parse would free nothing of the peak): at 100,000 demo keys this keeps
    ~40 % of the parsed store's memory. ``progress`` hears how far the read has come.
    """
    head = _head(handle)
    if head is None:
        return None
    data, rest = head
    expected = data["_meta"]["1"]["key_count"]
    keys: dict[str, Any] = {}
    strings: dict[str, str] = {}
    settings: dict[bytes, dict[str, Any]] = {}
    try:
        while True:
            block = handle.read(BLOCK_SIZE)
            if not block:
                break
            rest += block
            cut = _last_record_boundary(rest)
            if cut is not None:
                piece = _exact(b"{" + rest[:cut] + b"}")
                _share_values(piece.values(), strings, settings)
                keys.update(piece)
                rest = rest[cut + 1:]  # past the comma
                if progress is not None:
                    progress(len(keys), expected)
        tail = rest.rstrip()
        if not tail.endswith(b"}}"):
            return None
        piece = _exact(b"{" + tail[:-2] + b"}")
        _share_values(piece.values(), strings, settings)
        keys.update(piece)
    except (orjson.JSONDecodeError, _NotAsWritten):
        return None
    if len(keys) != expected:
        return None
    data["keys"] = keys
    return data


def _share_values(records: Iterable[Any], strings: dict[str, str],
                  settings: dict[bytes, dict[str, Any]]) -> None:
    """Make equal values of :data:`SHARED_FIELDS` one string, equal settings one dict."""
    for record in records:
        if type(record) is not dict:
            continue  # not a record: the store's checks refuse it later
        for field in SHARED_FIELDS:
            value = record.get(field)
            if type(value) is str:
                record[field] = strings.setdefault(value, value)
        for field in SHARED_SETTINGS:
            value = record.get(field)
            if type(value) is dict:
                record[field] = settings.setdefault(orjson.dumps(value), value)


class _NotAsWritten(Exception):
    """A piece that is valid JSON but not as :func:`serialise` writes it."""


def _exact(piece: bytes) -> Any:
    """Parse a piece, and make sure it is exactly as this program writes it (see above)."""
    parsed = orjson.loads(piece)
    if orjson.dumps(parsed) != piece:
        raise _NotAsWritten
    return parsed


def _last_record_boundary(buffer: bytes) -> int | None:
    """The position of the ``}`` that ends the last complete record in ``buffer``, plus one."""
    end = len(buffer)
    while True:
        position = buffer.rfind(b'},"key_', 0, end)
        if position < 0:
            return None
        if _NEXT_RECORD.match(buffer, position):
            return position + 1
        end = position
