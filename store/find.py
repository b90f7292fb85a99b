"""Finding keys from what an admin holds: words they remember, a prefix on their screen, or a
secret pasted from a log. One matcher serves ``apikeys list --find`` and the main screen's filter.

Every typed word must appear (case-insensitively) somewhere in the key's name, id, key prefix,
project name, project id, scope, creator or status: ``shop web bob`` finds Bob's Web keys of
the Shop project. A word holding a full secret whose checksum holds is never matched as text:
it finds exactly the key with that secret's hash (also a rolled key's previous secret), and
nothing else. The secret itself is kept nowhere: a :class:`Query` holds its hash only.

A key never used (no ``last_used_at``) is also found by the words ``never`` and ``unused``.

Speed and memory (SPEC §7: a filter keystroke within 100 ms at 100,000 keys, peak ≤ 200 MB):
what many keys share (name, project, scope, creator, status) is folded once per distinct
combination, and only id and key prefix per key. A word is tested once against each distinct
shared text, then per key as one set lookup and one C-level substring test of a short string.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from . import tokens
from .storage import collector_paused
from .views import KeyView

# A secret inside a pasted word (quotes, ``key=`` or a trailing comma around it).
_SECRET_CANDIDATE = re.compile(rf"(?:web|mob|ana)_[0-9A-Za-z]{{{tokens.SECRET_LENGTH - 4}}}")


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


def parse_query(text: str, masks: Mapping[str, str] | None = None) -> Query:
    """Split typed text into folded words; a word holding a valid secret becomes its hash.

    ``masks`` maps words shown in place of secrets (see :func:`hide_secrets`) to their hashes.
    """
    words: list[str] = []
    hashes: list[str] = []
    for word in text.split():
        if masks and word in masks:
            hashes.append(masks[word])
            continue
        secret = _secret_in(word)
        if secret is not None:
            hashes.append(tokens.hash_secret(secret))
        else:
            words.append(word.casefold())
    return Query(tuple(dict.fromkeys(words)), tuple(dict.fromkeys(hashes)))


def hide_secrets(text: str) -> tuple[str, dict[str, str]]:
    """``text`` with each full secret in it replaced by its key prefix and an ellipsis
    (``web_Ab12…``), and the hash of the secret behind each such mask.

    A filter box shows the masked text and matches with :func:`parse_query` given the masks,
    so a pasted secret is never shown back nor kept anywhere, only its hash.
    """
    masks: dict[str, str] = {}
    words = []
    for word in text.split(" "):
        secret = _secret_in(word)
        if secret is None:
            words.append(word)
            continue
        shown = tokens.key_prefix(secret) + "…"
        masks[shown] = tokens.hash_secret(secret)
        words.append(shown)
    return " ".join(words), masks


def _secret_in(word: str) -> str | None:
    return next(
        (m.group() for m in _SECRET_CANDIDATE.finditer(word) if tokens.secret_scope(m.group())),
        None,
    )


def haystack(view: KeyView, now: str) -> str:
    """The folded text a key is found by (never its secret or hash)."""
    return f"{_shared_text(view, now)}\n{_own_text(view)}"


def _shared_text(view: KeyView, now: str) -> str:
    """The folded fields many keys share: name, project, scope, creator, status, never used."""
    get = view.record.get
    unused = "" if get("last_used_at") else "\nnever used\nunused"
    return (
        f"{get('name', '')}\n{view.project_name}\n{get('project_id') or ''}\n"
        f"{get('scope', '')}\n{get('created_by', '')}\n{_status(view, now)}{unused}"
    ).casefold()


def _own_text(view: KeyView) -> str:
    """The folded fields of one key only: id and key prefix."""
    get = view.record.get
    return f"{get('id', '')}\n{get('key_prefix', '')}".casefold()


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

    CHUNK = 10_000  # keys built between two pauses of :meth:`prepare`

    def __init__(self, views: Sequence[KeyView], now: str) -> None:
        self.views = views if type(views) is list else list(views)  # never changed here
        self._built_at = now
        self._shared: list[str] | None = None  # per key: one of the distinct shared texts
        self._own: list[str] = []  # per key: its id and prefix
        self._distinct: dict[str, str] = {}  # each distinct shared text, to share it
        self._expiring: list[tuple[str, int]] = []  # (expires_at, position), soonest first
        self._by_hash: dict[str, int] | None = None
        self._building = threading.Lock()  # one build, whichever thread asks first

    def prepare(self, stop: Callable[[], bool] = lambda: False,
                pause: Callable[[float], None] | None = None) -> None:
        """Build every key's searchable text now (meant for a background thread): ``CHUNK``
        keys at a time, with a ``pause`` after each (so a UI thread gets the GIL), giving up
        as soon as ``stop()`` says so. The hash index waits for the first pasted secret
        (~50 ms then at 100,000 keys; ~8 MB kept from then on)."""
        with self._building:
            if self._shared is None:
                built = self._build(self._built_at, stop, pause)
                if built is None:
                    return
                self._shared = built

    @property
    def prepared(self) -> bool:
        """Whether the searchable texts are built."""
        return self._shared is not None

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
            only = wanted.pop()
            assert only is not None
            candidates = [only] if positions is None else [p for p in candidates if p == only]
        shared = self._searchable(now or self._built_at)
        own = self._own
        # Not a list of every candidate first: 100,000 boxed positions at once (~4 MB at the
        # peak), where iterating keeps only the matches'.
        matches: Iterable[int] = candidates
        for word in query.words:  # each word narrows the last one's matches
            hits = {text for text in self._distinct if word in text}
            matches = [p for p in matches if shared[p] in hits or word in own[p]]
        return matches if type(matches) is list else list(matches)

    def _build(self, now: str, stop: Callable[[], bool] = lambda: False,
               pause: Callable[[float], None] | None = None) -> list[str] | None:
        """Every key's shared text (the distinct ones shared) and own text; None if stopped."""
        distinct, shared, own = self._distinct, [], []
        views = self.views
        for start in range(0, len(views), self.CHUNK):
            if stop():
                return None
            with collector_paused():  # thousands of new strings: the collector would scan them
                for view in views[start:start + self.CHUNK]:
                    text = _shared_text(view, now)
                    shared.append(distinct.setdefault(text, text))
                    own.append(_own_text(view))
            if pause is not None:
                pause(0.002)
        expiring = []
        for position, view in enumerate(views):
            expires_at = view.record.get("expires_at")
            if isinstance(expires_at, str) and expires_at > now:
                expiring.append((expires_at, position))
        expiring.sort()
        self._own, self._expiring = own, expiring
        return shared

    def _searchable(self, now: str) -> list[str]:
        with self._building:
            if self._shared is None:
                self._shared = self._build(self._built_at)
            shared = self._shared
            assert shared is not None
        if self._expiring and self._expiring[0][0] <= now:
            # Keys that expired since the texts were built: only theirs change.
            passed = bisect.bisect_right(self._expiring, (now, len(self.views)))
            for _, position in self._expiring[:passed]:
                text = _shared_text(self.views[position], now)
                shared[position] = self._distinct.setdefault(text, text)
            del self._expiring[:passed]
        return shared

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
