"""Finding keys from what an admin holds: words they remember, a prefix on their screen, or a
secret pasted from a log. One matcher serves ``apikeys list --find`` and the main screen's filter.

Every typed word must appear (case-insensitively) somewhere in the key's name, id, key prefix,
project name, project id, scope, creator or status: ``shop web bob`` finds Bob's Web keys of
the Shop project. A word holding a full secret whose checksum holds is never matched as text:
it finds exactly the key with that secret's hash (also a rolled key's previous secret), and
nothing else. The secret itself is kept nowhere: a :class:`Query` holds its hash only.

Speed (SPEC §7: a filter keystroke within 100 ms at 100,000 keys): each key's searchable text
is folded once into one string (built lazily, once per store generation), so a word costs one
C-level substring test per key.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from . import tokens
from .models import KeyView
from .storage import collector_paused

# A secret inside a pasted word (quotes, ``key=`` or a trailing comma around it).
_SECRET_CANDIDATE = re.compile(r"(?:web|mob|ana)_[0-9A-Za-z]{%d}" % (tokens.SECRET_LENGTH - 4))


@dataclass(frozen=True)
class Query:
    """What was typed, ready to match: folded words, and the hashes of pasted secrets."""

    words: tuple[str, ...] = ()
    secret_hashes: tuple[str, ...] = field(default=(), repr=False)

    @property
    def holds_secret(self) -> bool:
        """Whether a full secret was typed (a UI keeps such text out of its history)."""
        return bool(self.secret_hashes)

    def __bool__(self) -> bool:
        return bool(self.words or self.secret_hashes)


def parse_query(text: str) -> Query:
    """Split typed text into folded words; a word holding a valid secret becomes its hash."""
    words: list[str] = []
    hashes: list[str] = []
    for word in text.split():
        secret = next(
            (m.group() for m in _SECRET_CANDIDATE.finditer(word) if tokens.secret_scope(m.group())),
            None,
        )
        if secret is not None:
            hashes.append(tokens.hash_secret(secret))
        else:
            words.append(word.casefold())
    return Query(tuple(dict.fromkeys(words)), tuple(dict.fromkeys(hashes)))


def haystack(view: KeyView, now: str) -> str:
    """The folded text a key is found by (never its secret or hash)."""
    get = view.record.get
    return (
        f"{get('name', '')}\n{get('id', '')}\n{get('key_prefix', '')}\n{view.project_name}\n"
        f"{get('project_id') or ''}\n{get('scope', '')}\n{get('created_by', '')}\n{_status(view, now)}"
    ).casefold()


def _status(view: KeyView, now: str) -> str:
    try:
        return view.status(now).value
    except (KeyError, TypeError, ValueError):
        return str(view.record.get("status", ""))


class KeyFinder:
    """Finds keys among ``views`` (one store generation's, or one load's in the UI).

    Positions returned are indexes into ``views``. Texts are built on the first search (or by
    :meth:`prepare`, e.g. in a background thread); a key whose expiry passes later is found by
    its new status, ``expired``, from then on.
    """

    def __init__(self, views: Sequence[KeyView], now: str) -> None:
        self.views = list(views)
        self._built_at = now
        self._texts: list[str] | None = None
        self._expiring: list[tuple[str, int]] = []  # (expires_at, position), soonest first
        self._by_hash: dict[str, int] | None = None

    def prepare(self) -> None:
        """Build every key's searchable text and the hash index now (~0.3 s at 100,000 keys;
        meant for a background thread)."""
        self._searchable(self._built_at)
        self._hashes()

    def find(self, text: str | Query, now: str | None = None) -> list[KeyView]:
        """The keys matching ``text``, in the order of ``views``; all of them for empty text."""
        query = parse_query(text) if isinstance(text, str) else text
        return [self.views[p] for p in self.matching(query, now=now)]

    def matching(
        self, query: Query, positions: Iterable[int] | None = None, *, now: str | None = None
    ) -> list[int]:
        """The positions (of ``positions``, in its order; else all) whose key matches ``query``.

        ``now`` (ISO) is when the statuses are read; by default when the finder was made.
        """
        candidates = range(len(self.views)) if positions is None else positions
        if not query:
            return list(candidates)
        if query.secret_hashes:
            by_hash = self._hashes()
            wanted = {by_hash.get(digest) for digest in query.secret_hashes}
            if None in wanted or len(wanted) != 1:
                return []  # an unknown secret, or two different keys' secrets
            (only,) = wanted
            candidates = [only] if positions is None else [p for p in candidates if p == only]
        texts = self._searchable(now or self._built_at)
        matches = list(candidates)
        for word in query.words:  # each word narrows the last one's matches
            matches = [p for p in matches if word in texts[p]]
        return matches

    def _searchable(self, now: str) -> list[str]:
        texts = self._texts
        if texts is None:
            built_at = self._built_at
            with collector_paused():  # 100,000 new strings: the collector would scan them all
                texts = [haystack(view, built_at) for view in self.views]
            expiring = []
            for position, view in enumerate(self.views):
                expires_at = view.record.get("expires_at")
                if isinstance(expires_at, str) and expires_at > built_at:
                    expiring.append((expires_at, position))
            expiring.sort()
            self._texts, self._expiring = texts, expiring
        if self._expiring and self._expiring[0][0] <= now:
            # Keys that expired since the texts were built: only theirs change.
            passed = bisect.bisect_right(self._expiring, (now, len(self.views)))
            for _, position in self._expiring[:passed]:
                texts[position] = haystack(self.views[position], now)
            del self._expiring[:passed]
        return texts

    def _hashes(self) -> dict[str, int]:
        by_hash = self._by_hash
        if by_hash is None:
            by_hash = {}
            for position, view in enumerate(self.views):
                for field_name in ("secret_hash", "previous_secret_hash"):
                    digest = view.record.get(field_name)
                    if isinstance(digest, str):
                        by_hash.setdefault(digest, position)
            self._by_hash = by_hash
        return by_hash

