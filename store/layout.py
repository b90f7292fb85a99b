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

Since schema version 2 the file starts with a line of its own, the **front**: the meta
document, projects, members and the newest keys (``_newest``: the :data:`NEWEST_COUNT`
newest records, revoked ones included, without their secrets), then a newline (JSON
white space, which no JSON string can hold raw), then the other tables and the keys::

    {"_meta":{…},"projects":{…},"members":{…},"_newest":{…}
    ,"usage":{…},"keys":{…}}

A first screen reads the front (:func:`read_front`, ~100 kB whatever the store's size and
however big the usage counters grow) instead of waiting for the whole store. The newest keys
are only a preview: the reader drops them once the keys table is parsed, which is what every
decision is taken on, so a front that was planted or went stale (a hand edit) is shown until
then and no longer.
"""

from __future__ import annotations

import heapq
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import IO, Any

import orjson

KEYS_TABLE = b',"keys":{'
NEWEST_TABLE = "_newest"
NEWEST_COUNT = 200  # records: more rows than the tallest terminal shows, ~100 kB
FRONT_TABLES = ("_meta", "projects", "members")  # the front's line, before the newest keys
BLOCK_SIZE = 1 * 1024 * 1024
HEAD_LIMIT = 16 * 1024 * 1024  # meta, projects and members come first; far less than this
FRONT_LIMIT = 1024 * 1024  # the front line: ~100 kB as written; a preview is read on a UI thread
# Where one key record ends and the next begins: `},"key_<10 base62>":{` cannot occur inside
# a JSON string (a quote there is always escaped), and inside a record no field is named so.
_NEXT_RECORD = re.compile(rb'\},(?="key_[0-9A-Za-z]{10}":\{)')
# Fields whose values many keys share (one name for a batch of keys, a handful of creators,
# statuses and scopes, timestamps of keys made together): one string object for each value.
SHARED_FIELDS = frozenset(("name", "scope", "status", "project_id", "created_by", "updated_by",
                           "created_at", "updated_at", "last_used_at", "expires_at", "revoked_by",
                           "disabled_by"))
SHARED_SETTINGS = ("web", "mobile")  # equal settings dicts become one dict (never mutated)
Progress = Callable[[int, int], None]
"""Told (keys read so far, keys in the store) after each block."""


def serialise(data: dict[str, Any], newest: dict[str, Any] | None = None) -> bytes:
    """The store as JSON: the front line (meta, projects, members, the newest keys, as
    :func:`newest_records` gives them unless ``newest`` has them already), then the other
    tables and the keys table last; the keys' count in the meta document."""
    return _before_keys(data, newest) + orjson.dumps(data["keys"])[1:] + b"}"


def _before_keys(data: dict[str, Any], newest: dict[str, Any] | None) -> bytes:
    """What :func:`serialise` writes before the keys table's records: up to ``"keys":{``."""
    meta = data["_meta"]["1"]
    meta["key_count"] = len(data["keys"])
    front = {name: data[name] for name in FRONT_TABLES if name in data}
    front[NEWEST_TABLE] = newest_records(data["keys"]) if newest is None else newest
    rest = {name: table for name, table in data.items()
            if name not in front and name != "keys"}
    rest["keys"] = {}
    return orjson.dumps(front)[:-1] + b"\n," + orjson.dumps(rest)[1:-2]


PIECE_RECORDS = 1000  # key records serialised together when a piece cannot be copied


@dataclass(frozen=True)
class KeyPieces:
    """Where the keys table's records sit in a file as written (or read a block at a time):
    piece by piece, the key ids, the record objects and the piece's bytes (``"key_…":{…},…``)
    as an offset and a length in that file. The store never changes a record in place (a
    change stores a new dict), so a piece whose ids and record objects are still the same
    has the same bytes: the next write copies them (:func:`serialise_reusing`) instead of
    serialising 100,000 records again for one change."""

    ids: list[str]
    records: list[Any]
    spans: list[tuple[int, int, int, int]]
    """(index of the piece's first record, its number of records, offset, length)."""


Part = bytes | tuple[int, int]
"""A stretch of a file being written: bytes, or (offset, length) of the previous file."""


def serialise_reusing(
    data: dict[str, Any], newest: dict[str, Any], previous: KeyPieces | None
) -> tuple[list[Part], KeyPieces]:
    """What :func:`serialise` writes, as parts: each piece of the keys table unchanged since
    ``previous`` (whose offsets are in the file it describes) as its offset and length,
    everything else as bytes; and where the new file's pieces sit. Joined, the parts are
    byte for byte what :func:`serialise` returns."""
    head = _before_keys(data, newest)
    ids, records = list(data["keys"]), list(data["keys"].values())
    parts: list[Part] = [head]
    spans: list[tuple[int, int, int, int]] = []
    written, start = len(head), 0

    def add(part: Part, length: int, count: int) -> None:
        nonlocal written, start
        if spans:
            last = parts[-1]
            if (type(part) is tuple and type(last) is tuple
                    and last[0] + last[1] + 1 == part[0]):  # the next piece of the old file
                parts[-1] = (last[0], last[1] + 1 + length)  # and the comma between: one copy
            else:
                parts.append(b",")
                parts.append(part)
            written += 1
        else:
            parts.append(part)
        spans.append((start, count, written, length))
        written += length
        start += count

    for first, count, offset, length in previous.spans if previous is not None else ():
        assert previous is not None
        if start >= len(ids):
            break  # keys were removed (by hand, or a tool)
        end = start + count
        if (end <= len(ids) and ids[start:end] == previous.ids[first:first + count]
                and all(map(operator.is_, records[start:end], previous.records[first:first + count]))):
            add((offset, length), length, count)
        else:  # changed (or shifted): serialised again, as one piece of the same size
            piece = _piece_bytes(ids, records, start, count)
            add(piece, len(piece), min(count, len(ids) - start))
    while start < len(ids):  # keys added since (they come last), or no previous file
        piece = _piece_bytes(ids, records, start, PIECE_RECORDS)
        add(piece, len(piece), min(PIECE_RECORDS, len(ids) - start))
    parts.append(b"}}")
    return parts, KeyPieces(ids, records, spans)


def _piece_bytes(ids: list[str], records: list[Any], start: int, count: int) -> bytes:
    """The records ``start`` to ``start + count`` as the keys table holds them, no braces."""
    return orjson.dumps(dict(zip(ids[start:start + count], records[start:start + count], strict=True)))[1:-1]


def newest_records(keys: dict[str, Any], count: int | None = None) -> dict[str, Any]:
    """The ``count`` (:data:`NEWEST_COUNT`) newest key records, newest first, as the main list orders them (by
    creation time; of keys made in the same second, the one stored last first), each
    without its secret: ~25 ms at 100,000 keys (one look at every record).

    A record that is not an object with a text ``created_at`` and its own table key as
    ``id`` (edited by hand) is left out: the front is a preview, the keys table decides.
    """
    count = NEWEST_COUNT if count is None else count
    newest = itemgetter("created_at")
    try:
        top = heapq.nlargest(count, reversed(keys.values()), key=newest)
    except (KeyError, TypeError):  # a hand-edited record: take the slow, careful way
        top = heapq.nlargest(count, (record for record in reversed(keys.values())
                                     if type(record) is dict and type(record.get("created_at")) is str),
                             key=newest)
    head: dict[str, Any] = {}
    record: dict[str, Any]
    for record in top:
        key_id = record.get("id")
        if type(key_id) is str and keys.get(key_id) is record:  # its own table key
            head[key_id] = {field: value for field, value in record.items() if field != "secret"}
    return head


def read_front(handle: IO[bytes]) -> dict[str, Any] | None:
    """The front line of a store written by :func:`serialise` (meta, projects, members and
    the newest keys), with an empty ``keys`` table; None if the file does not start with one
    (schema version 1, a hand edit) or a front over :data:`FRONT_LIMIT`. Reads the front only."""
    buffer = b""
    while True:
        end = buffer.find(b"\n")
        if end >= 0:
            break
        if len(buffer) >= FRONT_LIMIT:
            return None
        block = handle.read(min(BLOCK_SIZE, FRONT_LIMIT))
        if not block:
            return None
        buffer += block
    try:
        front = _exact(buffer[:end] + b"}")
    except (orjson.JSONDecodeError, _NotAsWritten):
        return None
    if not isinstance(front, dict) or list(front) != [*FRONT_TABLES, NEWEST_TABLE]:
        return None
    front["keys"] = {}
    return front


def read_head(handle: IO[bytes]) -> dict[str, Any] | None:
    """Everything before the keys table (meta, projects, members, the newest keys, usage)
    of a store written by :func:`serialise`, with an empty ``keys`` table; None if it is not
    one. Costs the head, not the keys."""
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
        data = _exact_head(buffer[:start])
        expected = data["_meta"]["1"]["key_count"]
    except (orjson.JSONDecodeError, _NotAsWritten, KeyError, TypeError):
        return None
    if not isinstance(data, dict) or "keys" in data or type(expected) is not int:
        return None
    return data, buffer[start + len(KEYS_TABLE):]


def _exact_head(head: bytes) -> Any:
    """Parse what comes before the keys table: one object as written, or (schema version 2)
    the front line and, after its newline, the tables between it and the keys."""
    end = head.find(b"\n")
    if end < 0:
        return _exact(head + b"}")
    front = _exact(head[:end] + b"}")
    middle = head[end + 1:]
    if not middle:
        return front
    if not middle.startswith(b",") or type(front) is not dict:
        raise _NotAsWritten
    rest = _exact(b"{" + middle[1:] + b"}")
    if type(rest) is not dict or front.keys() & rest.keys():
        raise _NotAsWritten  # a table named twice
    return {**front, **rest}


def read_in_pieces(handle: IO[bytes], progress: Progress | None = None) -> dict[str, Any] | None:
    """Parse a store written by :func:`serialise` a block at a time; None if it is not one.

    Values that many keys share are made one object as each block is parsed (sharing them
    after a whole parse would free nothing of the peak): at 100,000 demo keys this keeps
    ~40 % of the parsed store's memory. ``progress`` hears how far the read has come.
    """
    read = read_pieces(handle, progress)
    return None if read is None else read[0]


def read_pieces(
    handle: IO[bytes], progress: Progress | None = None
) -> tuple[dict[str, Any], KeyPieces] | None:
    """:func:`read_in_pieces`, and where each piece parsed sits in the file (read from its
    start): the first change after a read copies the pieces it leaves alone."""
    head = _head(handle)
    if head is None:
        return None
    data, rest = head
    base = handle.tell() - len(rest)  # the file offset of rest's first byte
    expected = data["_meta"]["1"]["key_count"]
    keys: dict[str, Any] = {}
    spans: list[tuple[int, int, int, int]] = []
    strings: dict[str, str] = {}
    settings: dict[bytes, dict[str, Any]] = {}
    unique = True  # no key id in two pieces: else (a hand edit) the whole parse refuses it

    def take(raw: bytes) -> None:
        nonlocal unique
        piece = _exact(b"{" + raw + b"}")
        _share_values(piece, strings, settings)
        if piece:
            spans.append((len(keys), len(piece), base, len(raw)))
        before = len(keys)
        keys.update(piece)
        unique = unique and len(keys) == before + len(piece)

    try:
        while True:
            block = handle.read(BLOCK_SIZE)
            if not block:
                break
            rest += block
            cut = _last_record_boundary(rest)
            if cut is not None:
                take(rest[:cut])
                rest = rest[cut + 1:]  # past the comma
                base += cut + 1
                if progress is not None:
                    progress(len(keys), expected)
        tail = rest.rstrip()
        if not tail.endswith(b"}}"):
            return None
        take(tail[:-2])
    except (orjson.JSONDecodeError, _NotAsWritten):
        return None
    if len(keys) != expected or not unique:
        return None
    data["keys"] = keys
    return data, KeyPieces(list(keys), list(keys.values()), spans)


def _share_values(piece: dict[str, Any], strings: dict[str, str],
                  settings: dict[bytes, dict[str, Any]]) -> None:
    """Make equal values of :data:`SHARED_FIELDS` one string, equal settings one dict, and a
    record's ``id`` its table key; and rebuild each record as a compact dict.

    orjson makes every object a dict of the general kind (24 bytes a field; 632 bytes for a
    key's 15 fields), while a dict built field by field from text keys takes 16 bytes a
    field (464 bytes), small enough for Python's own allocator: ~30 MB less at 100,000 keys
    (measured: VmRSS after the read), for ~0.1 s more of a read that no screen waits for.
    """
    for key_id, record in piece.items():
        if type(record) is not dict:
            continue  # not a record: the store's checks refuse it later
        compact = {}
        for field, value in record.items():
            kind = type(value)
            if kind is str:
                if field in SHARED_FIELDS:
                    value = strings.setdefault(value, value)
                elif field == "id" and value == key_id:
                    value = key_id
            elif kind is dict and field in SHARED_SETTINGS:
                value = settings.setdefault(orjson.dumps(value), value)
            compact[field] = value
        piece[key_id] = compact


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
