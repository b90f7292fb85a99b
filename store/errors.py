"""The errors the store raises: each reads as one line a person can act on.

``exit_code`` is what the command line exits with: 1 for a negative answer (not found), 2 for
bad input, a refusal or an unusable store.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class: a one-line message for people, and the command line's exit status."""

    exit_code = 2


class ReadCancelled(StoreError):
    """A read stopped on purpose because a newer one replaced it (a count the admin typed
    past): nobody is waiting for its answer, so nothing is shown."""


class StoreUnusable(StoreError):
    """The store file cannot be used (does not parse, unknown schema, locked, unreadable)."""


class InvalidInput(StoreError):
    """Input that fails validation; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        field, message = next(iter(self.errors.items()))
        label = field.replace("_", " ")
        plain = field == "input" or message.startswith(label)
        super().__init__(message if plain else f"{label}: {message}")


class Forbidden(StoreError):
    """The acting member's role does not allow this, or the login is not a member."""


class NotFound(StoreError):
    """No such key (or project, or member) that the acting member may see."""

    exit_code = 1


class Conflict(StoreError):
    """Someone else changed the key since this member read it, and the changes overlap (or a
    script's ``--if-revision`` no longer matches); the message says who changed what."""


class InvalidRecord(StoreError):
    """A stored record fails the checks on read (edited by hand): the message names the file
    and the record; it can still be revoked."""
