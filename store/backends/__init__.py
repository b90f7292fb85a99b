"""Storage engines behind :class:`store.backend.Backend`: pick one from the store string."""

from __future__ import annotations

import os

from ..backend import Backend


def is_postgres_store(store: str | os.PathLike[str]) -> bool:
    """Whether a store string names a PostgreSQL database (``postgresql://…``) rather than a file."""
    return isinstance(store, str) and store.startswith(("postgresql://", "postgres://"))


def open_backend(store: str | os.PathLike[str], *, background: bool = False) -> Backend:
    """The backend for ``store``: a path is the file store, ``postgresql://…`` PostgreSQL
    (libpq conninfo; passwords come from ``.pgpass`` or a service file, never the string).
    ``background``: for counts a screen runs aside (on PostgreSQL without parallel workers)."""
    if is_postgres_store(store):
        from .postgres import PostgresBackend

        return PostgresBackend(str(store), background=background)
    from .file import FileBackend

    return FileBackend(store)


__all__ = ["is_postgres_store", "open_backend"]
