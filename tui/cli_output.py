"""What the command line prints: key fields, tables, JSON and one-line errors.

Everything printed from the store in plain text has its control characters replaced
(``safe_text``), since a hand-edited store may hold any bytes.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from store import presenter
from store.errors import InvalidInput
from store.repository import Repository
from tui.text import safe_text

if TYPE_CHECKING:
    from store.models import ApiKey

PROG = "apikeys"


# -- showing keys --------------------------------------------------------------------------


def key_json(repo: Repository, key: ApiKey) -> dict[str, Any]:
    """A key as ``--json`` shows it: the public fields and the project's name, no secret."""
    return {**key.public_dict(repo.now()), "project_name": repo.project_name(key.project_id)}


def key_fields(repo: Repository, key: ApiKey) -> list[tuple[str, list[str]]]:
    """Label and value lines of every field of the key's scope, as the presenter words them
    (never the secret: a stored one is pointed at instead)."""
    fields = []
    facts = presenter.key_facts(key, repo.project_name(key.project_id), repo.clock(), repo.member_logins())
    for fact in facts:
        values = list(fact.values) or [presenter.NONE]
        if fact.kind == presenter.SECRET and values == [presenter.STORED_SECRET]:
            values = [f"hidden: `{PROG} show {key.id} --secret` prints it"]
        fields.append((cli_label(fact.label), values))
    return fields


def cli_label(label: str) -> str:
    """The command line's labels are lower case (``Last used`` → ``last used``; ``ID`` → ``id``)."""
    if label == "ID":
        return "id"
    return label if label[:2].isupper() or label.startswith("iOS") else label[0].lower() + label[1:]


def when(iso: str) -> str:
    """A stored time as printed: ``2026-12-01 09:30 UTC``."""
    return presenter.when(iso)


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
