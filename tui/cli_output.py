"""What the command line prints: key fields, tables, JSON and one-line errors.

Everything printed from the store in plain text has its control characters replaced
(``safe_text``), since a hand-edited store may hold any bytes.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from store import tokens
from store.errors import InvalidInput
from store.models import ApiKey, Scope
from store.repository import ALL_PROJECTS, Repository
from tui.format import expiry_phrase, scope_label, short_time
from tui.text import safe_text

PROG = "apikeys"


# -- showing keys --------------------------------------------------------------------------


def key_json(repo: Repository, key: ApiKey) -> dict[str, Any]:
    """A key as ``--json`` shows it: the public fields and the project's name, no secret."""
    return {**key.public_dict(repo.now()), "project_name": repo.project_name(key.project_id)}


def key_fields(repo: Repository, key: ApiKey) -> list[tuple[str, list[str]]]:
    """Label and value lines of every field of the key's scope (never the secret)."""
    moment = repo.clock()
    status = key.effective_status(repo.now()).value
    project = ALL_PROJECTS if key.project_id is None else f"{repo.project_name(key.project_id)} ({key.project_id})"
    fields: list[tuple[str, list[str]]] = [
        ("id", [key.id]),
        ("name", [key.name]),
        ("scope", [scope_label(key.scope)]),
        ("project", [project]),
        ("status", [status]),
        ("key", [tokens.masked(key.key_prefix)]),
        ("created", [f"{when(key.created_at)} by {key.created_by}"]),
        ("updated", [f"{when(key.updated_at)} by {key.updated_by}"]),
    ]
    if key.expires_at:
        fields.append(("expires", [f"{when(key.expires_at)} ({expiry_phrase(key.expires_at, moment)})"]))
    if key.revoked_at:
        fields.append(("revoked", [f"{when(key.revoked_at)} by {key.revoked_by}"]))
    fields.append(("last used", [when(key.last_used_at) if key.last_used_at else "never"]))
    if key.web is not None:
        fields += [
            ("domains", list(key.web.domains)),
            ("developing locally", ["yes" if key.web.developing_locally else "no"]),
            ("networks", list(key.web.networks) or ["—"]),
            ("cross page persistence", ["yes" if key.web.cross_page_persistence else "no"]),
        ]
    if key.mobile is not None:
        fields += [
            ("iOS bundle ids", list(key.mobile.ios_bundle_ids) or ["—"]),
            ("Android packages", list(key.mobile.android_packages) or ["—"]),
        ]
    if key.scope is Scope.ANALYTICS:
        fields.append(("secret", ["shown once at creation; not stored"]))
    elif status == "revoked":
        fields.append(("secret", ["wiped when revoked"]))
    else:
        fields.append(("secret", [f"hidden: `{PROG} show {key.id} --secret` prints it"]))
    return fields


def when(iso: str) -> str:
    """A stored time as printed: ``2026-12-01 09:30 UTC``."""
    return f"{short_time(iso)} UTC"


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[int]) -> str:
    """Numbers as block characters: zero the lowest, any use at least one step up, the
    highest a full block."""
    top = max(values, default=0)
    steps = len(SPARKS) - 1
    return "".join(
        SPARKS[0] if top <= 0 or value <= 0 else SPARKS[max(1, -(-value * steps // top))]
        for value in values
    )


# -- output --------------------------------------------------------------------------------


def print_line(text: str) -> None:
    """One line of plain output (the caller has made store text safe)."""
    sys.stdout.write(text + "\n")


def print_json(value: Any) -> int:
    """JSON, escaped to ASCII so no store text reaches the terminal raw; indented on a tty."""
    try:
        pretty = sys.stdout.isatty()
    except (AttributeError, ValueError, OSError):
        pretty = False
    sys.stdout.write(json.dumps(value, indent=2 if pretty else None) + "\n")
    return 0


def print_fields(fields: list[tuple[str, list[str]]]) -> None:
    """Labelled values, one per line, the labels aligned; store text made safe."""
    width = max(len(label) for label, _ in fields)
    lines = []
    for label, values in fields:
        for index, value in enumerate(values or [""]):
            lines.append(f"{label if index == 0 else '':<{width}}  {safe_text(value)}".rstrip())
    sys.stdout.write("\n".join(lines) + "\n")


def print_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Aligned columns; every cell is made safe, widths count terminal cells."""
    from rich.cells import cell_len

    def width_of(text: str) -> int:
        return len(text) if text.isascii() else cell_len(text)

    table = [list(headers)] + [[safe_text(cell) for cell in row] for row in rows]
    widths = [max(width_of(row[column]) for row in table) for column in range(len(headers))]
    last = len(headers) - 1
    lines = []
    for row in table:
        cells = [
            cell if column == last else cell + " " * (widths[column] - width_of(cell))
            for column, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    sys.stdout.write("\n".join(lines) + "\n")


def complain(message: str) -> None:
    """One line on stderr, whatever the message holds."""
    try:
        sys.stderr.write(f"{PROG}: {safe_text(message)}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def first_message(errors: dict[str, str]) -> str:
    """The one line that stands for a set of field errors."""
    return str(InvalidInput(errors)) if errors else "invalid input"


def silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the exit flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
