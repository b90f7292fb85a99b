"""The ``apikeys`` command line: scriptable subcommands, and the UI when run without one.

Plain text by default, ``--json`` for machines. Errors are one line on stderr; the exit status
is 0 on success, 1 for a negative answer (verify refused, not found) and 2 for bad input, a
refusal or an unusable store. Everything printed from the store in plain text has its control
characters replaced, since a hand-edited store may hold any bytes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from store import lifecycle, presenter
from store.access import KeyAction
from store.audit import audit_path
from store.backends import is_postgres_store
from store.errors import Conflict, InvalidInput, InvalidRecord, StoreError
from store.key_index import KeyIndex
from store.presenter import creator_label
from store.repository import Repository, current_login, default_store_path
from store.validation import (
    is_validation_error,
    normalise_network,
    normalise_origin,
    validate_or_raise,
    validation_errors,
)
from store.views import EXPIRY_CHOICES, NO_EXPIRY, Role, Scope, public_record
from tui.cli_output import (
    PROG,
    complain,
    first_message,
    key_fields,
    key_json,
    print_fields,
    print_json,
    print_line,
    print_table,
    silence_stdout,
    sparkline,
    when,
)
from tui.format import scope_label, short_time
from tui.text import safe_text

if TYPE_CHECKING:  # imported where used: the UI's start needs no pydantic (see store/repository.py)
    from store.models import MobileSettings, WebSettings

DEMO_KEYS_MAX = 1_000_000


class CommandError(Exception):
    """A refusal of the command line itself, with its exit status (2 unless told)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(Exception):
    """Arguments argparse could not make sense of."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (raised, so ``main`` can return 2)."""

    def error(self, message: str) -> NoReturn:
        """Raise instead of printing the usage and exiting."""
        raise UsageError(message, self.prog)


# -- entry point ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, *, login: str | None = None) -> int:
    """Run the command line; return the exit status (the console script exits with it).

    ``login`` is for tests only: the acting login is always the OS account otherwise, and no
    option lets anyone act as another login.
    """
    try:
        status = _run(list(sys.argv[1:] if argv is None else argv), login)
        sys.stdout.flush()  # a closed pipe shows here, where it can be caught, not at exit
        return status
    except KeyboardInterrupt:
        complain("interrupted")
        return 130
    except BrokenPipeError:
        silence_stdout()
        return 141  # as if killed by SIGPIPE, which is what `| head` expects


def _run(argv: list[str], login: str | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as error:
        complain(f"error: {error}; see {error.prog} --help")
        return 2
    except SystemExit as exit_:  # --help
        return exit_.code if isinstance(exit_.code, int) else 0
    handler: Callable[[Command], int] = getattr(args, "handler", run_ui)
    try:
        command = Command(args, login or current_login(), parser, explicit_login=login)
        return handler(command)
    except CommandError as error:
        complain(str(error))
        return error.exit_code
    except StoreError as error:
        complain(str(error))
        return error.exit_code
    except BrokenPipeError:
        raise
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        complain(f"{error.strerror or error}{where}")
        return 2
    except Exception as error:  # never a traceback; APIKEYS_DEBUG=1 shows one
        if is_validation_error(error):
            complain(first_message(validation_errors(error)))
            return 2
        if os.environ.get("APIKEYS_DEBUG"):
            raise
        complain(f"unexpected {type(error).__name__}: {error} (APIKEYS_DEBUG=1 shows details)")
        return 2


class Command:
    """What a subcommand runs with: its arguments, the acting login and the store path."""

    def __init__(
        self, args: argparse.Namespace, login: str, parser: argparse.ArgumentParser,
        *, explicit_login: str | None = None,
    ) -> None:
        self.args = args
        self.login = login
        self.parser = parser
        named = getattr(args, "store", None)
        self.named_store: Path | str | None = _store_argument(named) if named else None
        self.path: Path | str = self.named_store or _default_store()
        # On PostgreSQL the server says who acts (session_user); only tests name a login.
        self._explicit_login = explicit_login

    @property
    def on_postgres(self) -> bool:
        """Whether the store is a PostgreSQL database (``postgresql://…``)."""
        return isinstance(self.path, str)

    def repo(self) -> Repository:
        """A repository on the store for the acting login (nothing is read yet)."""
        if self.on_postgres:
            repo = Repository(self.path, self._explicit_login)
            self.login = repo.login
            return repo
        return Repository(self.path, self.login)

    def existing_repo(self) -> Repository:
        """A repository on a store that must exist and parse (read commands)."""
        repo = self.repo()
        repo.organisation()  # refuses a missing store, or one that does not parse
        return repo

    def writable_repo(self) -> Repository:
        """A repository on the store, created with this login as owner if missing."""
        repo = self.repo()
        repo.open_or_create()
        return repo


def _store_argument(text: str) -> Path | str:
    """``--store``/``$APIKEYS_STORE``: a PostgreSQL conninfo stays a string, a path a Path."""
    if is_postgres_store(text):
        if _names_password(text):
            raise CommandError(
                "the store string holds a password: store strings end up in command lines, "
                "shell histories and logs; keep it in ~/.pgpass or a service file (see the README)"
            )
        return text
    return Path(text).expanduser()


def _names_password(conninfo: str) -> bool:
    """Whether a libpq URL carries a password (``user:secret@`` or ``password=``)."""
    from urllib.parse import parse_qs, urlsplit

    try:
        parts = urlsplit(conninfo)
        return bool(parts.password) or "password" in parse_qs(parts.query)
    except ValueError:
        return False


def _default_store() -> Path | str:
    explicit = os.environ.get("APIKEYS_STORE")
    if explicit and is_postgres_store(explicit):
        return _store_argument(explicit)
    return default_store_path()


# -- the parser ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; ``--store`` is accepted before or after the subcommand."""
    store = _Parser(add_help=False)
    store.add_argument(
        "--store", metavar="STORE", default=argparse.SUPPRESS,
        help="the store: a file path, or postgresql://… (libpq; passwords in ~/.pgpass or a service "
        "file); default: $APIKEYS_STORE, else store.json in your data folder",
    )
    common = [store]
    parser = _Parser(
        prog=PROG, parents=common,
        description="Create, inspect, edit and revoke an organisation's API keys. "
        "Without a subcommand, open the terminal UI.",
        epilog="Exit status: 0 success, 1 negative answer (not found, verify refused), "
        "2 bad input, refusal or unusable store.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_text: str, handler: Callable[[Command], int],
                parent: Any = commands) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, parents=common, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    demo = command("demo", "seed a new store with realistic data and open the UI on it", run_demo)
    demo.add_argument("--keys", type=_key_count, default=40, metavar="N", help="how many keys (default 40)")
    demo.add_argument("--seed-only", action="store_true", help="seed and print where; do not open the UI")

    init = command("init", "create the store with you as its owner", run_init)
    init.add_argument("--org", metavar="NAME", help="the organisation's name")
    init.add_argument("--group", metavar="GROUP", help="share the store with this group (mode 0660)")

    projects = command("projects", "add, list and deploy projects", _needs_action)
    project_actions = projects.add_subparsers(dest="action", metavar="{add,list,deploy,undeploy}",
        required=True)
    add = command("add", "add a project (owner or support)", run_projects_add, project_actions)
    add.add_argument("name", metavar="NAME")
    add.add_argument("--deployed", action="store_true", help="mark it deployed (Web keys need that)")
    add.add_argument("--json", action="store_true", help="print the project as JSON")
    listing = command("list", "list the projects and their active key counts", run_projects_list,
        project_actions)
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    for name, deployed in (("deploy", True), ("undeploy", False)):
        change = command(name, f"mark a project {'' if deployed else 'not '}deployed", run_projects_deploy,
            project_actions)
        change.add_argument("project", metavar="ID|NAME")
        change.set_defaults(deployed=deployed)

    members = command("members", "add, list and remove members, change roles", _needs_action)
    member_actions = members.add_subparsers(dest="action", metavar="{add,list,set-role,remove}",
        required=True)
    add = command("add", "add a member (owners only)", run_members_add, member_actions)
    add.add_argument("member", metavar="LOGIN")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument("--name", metavar="DISPLAY", help="display name (default: from the account)")
    add.add_argument("--json", action="store_true", help="print the member as JSON")
    listing = command("list", "list the members", run_members_list, member_actions)
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    role = command("set-role", "change a member's role (owners only)", run_members_set_role, member_actions)
    role.add_argument("member", metavar="LOGIN")
    role.add_argument("role", metavar="ROLE", choices=[role.value for role in Role])
    remove = command("remove", "remove a member (owners only); the keys they created stay",
        run_members_remove, member_actions)
    remove.add_argument("member", metavar="LOGIN")

    create = command("create", "create a key and print its secret (once)", run_create)
    create.add_argument("--name", required=True, metavar="N")
    create.add_argument("--scope", required=True, choices=[scope.value for scope in Scope])
    where = create.add_mutually_exclusive_group(required=True)
    where.add_argument("--project", metavar="ID|NAME")
    where.add_argument("--all-projects", action="store_true",
        help="All organization projects (Analytics only)")
    create.add_argument("--domain", action="append", default=[], metavar="ORIGIN",
        help="Web: an allowed origin, https://host[:port] (repeat)")
    create.add_argument("--local-network", action="append", default=[], metavar="CIDR",
        help="Web: develop locally from this IP network (repeat)")
    create.add_argument("--cross-page", action="store_true", help="Web: cross page persistence")
    create.add_argument("--ios", action="append", default=[], metavar="BUNDLE",
        help="Mobile: an iOS bundle id (repeat)")
    create.add_argument("--android", action="append", default=[], metavar="PACKAGE",
        help="Mobile: an Android package (repeat)")
    create.add_argument("--expires-days", type=int, choices=EXPIRY_CHOICES, metavar="30|60|90",
        help="Analytics: expiry (default 30)")
    create.add_argument("--expires", metavar="30d|YYYY-MM-DD",
        help="Web and Mobile: expire after N days or on that day (00:00 UTC); default never")
    create.add_argument("--json", action="store_true", help="print the key and its secret as JSON")

    listing = command("list", "list the keys you can see (newest first)", run_list)
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.add_argument("--scope", choices=[scope.value for scope in Scope])
    listing.add_argument("--sort", choices=("created", "scope"), default="created")
    listing.add_argument("--include-revoked", action="store_true")
    listing.add_argument("--expiring", type=_days_argument, metavar="14d",
        help="only active keys expiring within N days, soonest first")

    show = command("show", "show one key, or print its secret (Web and Mobile)", run_show)
    show.add_argument("key_id", metavar="ID")
    what = show.add_mutually_exclusive_group()
    what.add_argument("--json", action="store_true", help="print the key as JSON (never the secret)")
    what.add_argument("--secret", action="store_true", help="print the secret alone")

    edit = command("edit", "change a Web or Mobile key's name and settings", run_edit)
    edit.add_argument("key_id", metavar="ID")
    edit.add_argument("--name", metavar="N")
    for flag, metavar, help_text in (
        ("domain", "ORIGIN", "Web: origin"), ("network", "CIDR", "Web: local IP network"),
        ("ios", "BUNDLE", "Mobile: iOS bundle id"), ("android", "PACKAGE", "Mobile: Android package"),
    ):
        edit.add_argument(f"--add-{flag}", action="append", default=[], metavar=metavar,
            help=f"{help_text} to add (repeat)")
        edit.add_argument(f"--remove-{flag}", action="append", default=[], metavar=metavar,
            help=f"{help_text} to remove (repeat)")
    edit.add_argument("--cross-page", action=argparse.BooleanOptionalAction, default=None,
        help="Web: cross page persistence")
    edit.add_argument("--local", action=argparse.BooleanOptionalAction, default=None,
        help="Web: developing locally")
    edit.add_argument(
        "--if-revision", type=int, metavar="N",
        help="change the key only if it is still at revision N (see `show --json`); else exit 2",
    )
    edit.add_argument("--expires", metavar="30d|YYYY-MM-DD|never",
        help="Web and Mobile: a new expiry, or never")
    edit.add_argument("--json", action="store_true", help="print the edited key as JSON")

    revoke = command("revoke", "revoke keys: integrations using them stop at once", run_revoke)
    revoke.add_argument("key_ids", nargs="+", metavar="ID")
    revoke.add_argument("--yes", action="store_true", help="do not ask (needed without a terminal)")

    verify = command("verify", "is this secret valid here? (exit 0 valid, 1 refused)", run_verify)
    verify.epilog = (
        "Give the secret on standard input, where other users' `ps` cannot see it: "
        "`printenv API_SECRET | apikeys verify - --origin https://shop.example.com`. "
        "Without SECRET, one line is read from standard input (asked for, hidden, on a terminal)."
    )
    verify.add_argument(
        "secret", metavar="SECRET", nargs="?", default="-",
        help="- (the default) reads it from standard input; a secret given here shows in `ps`",
    )
    verify.add_argument("--origin", metavar="O")
    verify.add_argument("--ip", metavar="IP")
    verify.add_argument("--app-id", metavar="ID")
    verify.add_argument("--json", action="store_true")

    listing.add_argument(
        "--find", metavar="TEXT",
        help="only keys matching every word (name, id, key prefix, project, scope, creator, status), "
        "or exactly the key of a pasted secret; - reads TEXT from stdin",
    )

    usage = command("usage", "valid and refused answers of a key per UTC day, its last use", run_usage)
    usage.add_argument("key_id", metavar="ID")
    usage.add_argument("--days", type=_usage_days, default=30, metavar="N",
        help="how many days up to today (1-90, default 30)")
    usage.add_argument("--json", action="store_true", help="print a JSON object")

    scan = command("scan", "look for leaked secrets in files (exit 1 if an active key is found)", run_scan)
    scan.add_argument("paths", nargs="+", metavar="PATH",
        help="files and folders (symlinks inside are not followed)")
    scan.add_argument("--json", action="store_true", help="print a JSON array of findings")
    scan.add_argument("--disable", action="store_true",
        help="disable every active key found, noting the file and line in the audit trail")
    scan.add_argument("--git", action="store_true",
        help="also search every version of every file in the git history of each PATH")

    log = command("log", "the audit trail, newest first", run_log)
    log.add_argument("--key", metavar="ID", help="only this key's events")
    log.add_argument("--json", action="store_true", help="print a JSON array")
    _add_row_limit(log, "only the newest N events (only those are read)")
    _add_lifecycle_commands(command)
    _add_migrate_command(command)
    return parser


def _add_lifecycle_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    """roll, disable, enable and policy (SPEC §9)."""
    roll = command("roll", "give a key a new secret; the previous one works for the grace period", run_roll)
    roll.add_argument("key_id", metavar="ID")
    roll.add_argument("--grace", default="0", choices=list(lifecycle.GRACE_CHOICES),
        help="how long the previous secret keeps working (default 0: it stops now)")
    roll.add_argument("--expires", metavar="30d|YYYY-MM-DD|never",
        help="Web and Mobile: a new expiry with the new secret")
    roll.add_argument("--if-revision", type=int, metavar="N",
        help="roll only if the key is still at revision N")
    roll.add_argument("--json", action="store_true", help="print the key with its new secret as JSON")

    disable = command("disable", "disable keys: verify refuses them until enabled", run_disable)
    disable.add_argument("key_ids", nargs="+", metavar="ID")
    disable.add_argument("--note", metavar="TEXT", help="why, for the audit trail")
    enable = command("enable", "enable disabled keys", run_enable)
    enable.add_argument("key_ids", nargs="+", metavar="ID")

    policy = command("policy", "the organisation's key policy: lifetimes and expiry warnings", _needs_action)
    policy_actions = policy.add_subparsers(dest="action", metavar="{show,set,check}", required=True)
    show = command("show", "show the policy", run_policy_show, policy_actions)
    show.add_argument("--json", action="store_true")
    change = command("set", "change the policy (owners only)", run_policy_set, policy_actions)
    change.add_argument("--max-lifetime", action="append", default=[], type=_lifetime_argument,
        metavar="SCOPE=DAYS|none", help="the longest a key of SCOPE may live (repeat)")
    change.add_argument("--warn-days", type=int, metavar="N", help="warn about keys expiring within N days")
    change.add_argument("--json", action="store_true")
    check = command("check", "list the active keys that break the policy (exit 1 if any)", run_policy_check,
        policy_actions)
    check.add_argument("--json", action="store_true")
    _add_row_limit(
        check, f"only the first N keys, oldest first (default {CHECK_SHOWN}; with --json every one)",
        every="every key that breaks the policy",
    )


def _days_argument(text: str) -> int:
    try:
        return lifecycle.parse_days(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _lifetime_argument(text: str) -> tuple[str, int | None]:
    scope, equals, days = text.partition("=")
    scope = scope.strip().lower()
    if not equals or scope not in [s.value for s in Scope]:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give SCOPE=DAYS or SCOPE=none, SCOPE one of web, mobile, analytics")
    if days.strip().lower() in ("none", "never"):
        return scope, None
    try:
        return scope, lifecycle.parse_days(days)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a number of days, e.g. {scope}=90, or {scope}=none") from None


def _key_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= count <= DEMO_KEYS_MAX:
        raise argparse.ArgumentTypeError(f"choose between 0 and {DEMO_KEYS_MAX:,}")
    return count


def _usage_days(text: str) -> int:
    from store.usage import KEEP_DAYS

    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= days <= KEEP_DAYS:
        raise argparse.ArgumentTypeError(f"choose between 1 and {KEEP_DAYS} (usage is kept {KEEP_DAYS} days)")
    return days


def _needs_action(command: Command) -> int:  # pragma: no cover - argparse requires an action
    raise CommandError(f"say what to do; see {PROG} {command.args.command} --help")


# -- the UI and the demo -------------------------------------------------------------------


def run_ui(command: Command) -> int:
    """No subcommand: open the UI on the store (created if missing), given a terminal."""
    if not _has_terminal():
        _refuse_without_terminal(command.parser)
    repo = command.repo()
    if repo.is_postgres:
        repo.open_or_create()
        repo.close()
        return _open_app(command.path, repo.login)
    if repo.storage.exists():
        # Only the head (schema version, tables before the keys) is checked before the UI
        # opens: parsing 100,000 keys here cost 0.3–0.5 s before Textual even started. A keys
        # table broken further on fails the UI's first load, which ends the UI with the same
        # one line and exit status 2.
        repo.storage.check_head()
    else:
        repo.open_or_create()  # the first login to open a new store becomes its owner
    repo.storage.close()
    return _open_app(repo.path, command.login)


def run_demo(command: Command) -> int:
    """Seed a new store (a temporary one unless --store names a new path); open the UI."""
    from store.seed import seed_demo

    args = command.args
    if not args.seed_only and not _has_terminal():
        _refuse_without_terminal(command.parser)
    if isinstance(command.named_store, str):
        return _demo_on_postgres(command, command.named_store)
    if command.named_store is not None:
        path = command.named_store
        for existing in (path, audit_path(path)):
            if existing.exists() or existing.is_symlink():
                raise CommandError(
                    f"{existing} already exists: the demo seeds a new store only; it was not changed"
                )
    else:
        path = Path(tempfile.mkdtemp(prefix="apikeys-demo-")) / "store.json"
    progress = _seeding_progress()
    try:
        seed_demo(path, command.login, keys=args.keys, progress=progress)
    finally:
        if progress is not None:
            progress.done()
    print_line(f"Seeded a demo store with {args.keys:,} keys: {safe_text(path)}")
    if args.seed_only:
        return 0
    status = _open_app(path, command.login)
    print_line(f"The demo store stays at {safe_text(path)}")
    return status


def _demo_on_postgres(command: Command, conninfo: str) -> int:
    """``demo --store postgresql://…``: seed an empty database in bulk (COPY), then open the UI."""
    from store.backends.bulk import seed_bulk

    args = command.args
    progress = _seeding_progress()
    try:
        backend = seed_bulk(conninfo, command._explicit_login, keys=args.keys, progress=progress)
    finally:
        if progress is not None:
            progress.done()
    place, login = backend.describe(), backend.identity()
    backend.close()
    print_line(f"Seeded a demo store with {args.keys:,} keys: {safe_text(place)}")
    if args.seed_only:
        return 0
    return _open_app(conninfo, login)


def _add_migrate_command(command: Callable[..., argparse.ArgumentParser]) -> None:
    migrate = command(
        "migrate", "copy the whole store (keys, members, projects, policy, audit trail, usage) "
        "into a new store: a file into PostgreSQL or back", run_migrate,
    )
    migrate.add_argument("--to", required=True, metavar="STORE",
                         help="the new store: a path, or postgresql://… (must hold no store yet)")


def run_migrate(command: Command) -> int:
    """Copy the store named by --store into the empty store --to names; the source is only read."""
    from store.backends import open_backend
    from store.backends.migrate import migrate

    source_repo = command.existing_repo()
    if source_repo.me().role.value != "owner":
        raise CommandError(
            f"{safe_text(source_repo.login)} is not an owner: only an owner migrates the store")
    target_store = _store_argument(command.args.to)
    if str(target_store) == str(command.path):
        raise CommandError("--to names the store being migrated: name a new one")
    source, target = source_repo.backend, open_backend(target_store)
    try:
        copied = migrate(source, target)
    finally:
        target.close()
    print_line(
        f"Migrated {len(copied.keys):,} keys, {len(copied.members)} members, {len(copied.projects)} "
        f"projects, {len(copied.events):,} audit events and {len(copied.usage):,} usage days "
        f"from {safe_text(source_repo.place)} to {safe_text(target.describe())}"
    )
    return 0


class _SeedingProgress:
    """A carriage-return line on stderr while the demo seeds: ``made of N keys (P%)``."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __call__(self, made: int, total: int) -> None:
        if made < total:
            text = f"Seeding the demo store: {made:,} of {total:,} keys ({made * 100 // total}%)"
        else:
            text = f"Seeding the demo store: {total:,} keys made, writing the store…"
        self._write("\r" + text + "\x1b[K")

    def done(self) -> None:
        """Clear the line, so what follows starts on a clean one."""
        self._write("\r\x1b[K")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed terminal must not stop the seeding


def _seeding_progress() -> _SeedingProgress | None:
    """Progress for ``demo`` on stderr, only when stderr is a terminal: never anything in
    scripted or redirected output."""
    try:
        if not sys.stderr.isatty():
            return None
    except (AttributeError, ValueError, OSError):
        return None
    return _SeedingProgress(sys.stderr)


ESCAPE_DELAY_MS = 25
"""How long the UI waits after an escape byte for the rest of a key's sequence (an arrow,
alt+letter) before it takes the byte as ``escape``. Textual waits 100 ms, a tenth of a second
added to every ``escape``; a terminal writes a key's whole sequence at once, so it arrives in
one read even over SSH (tmux waits 10 ms). ``ESCDELAY`` in the environment, as for ncurses
programs, overrides it."""


def quick_escape() -> None:
    """Set ``ESCDELAY`` for Textual (read once, when Textual is first imported) unless the
    admin set it."""
    if not os.environ.get("ESCDELAY", "").strip():
        os.environ["ESCDELAY"] = str(ESCAPE_DELAY_MS)


def _open_app(path: Path | str, login: str) -> int:
    quick_escape()
    from tui.app import make_app, share_one_memory_arena

    share_one_memory_arena()  # before the app's threads start
    app = make_app(path, login)
    app.run()
    if isinstance(app.return_value, StoreError):
        raise app.return_value  # the store could not be read at all: one line, exit 2
    return app.return_code or 0


def _has_terminal() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _refuse_without_terminal(parser: argparse.ArgumentParser) -> NoReturn:
    parser.print_usage(sys.stderr)
    raise CommandError(
        "the UI needs a terminal (stdin and stdout): run it in one, or use a subcommand such "
        f"as `{PROG} list`; see {PROG} --help"
    )


# -- store, projects, members --------------------------------------------------------------


def run_init(command: Command) -> int:
    """Create the store with the acting login as owner."""
    args = command.args
    repo = command.repo()
    try:
        created = repo.initialise(args.org, group=args.group)
    except ValueError as error:
        raise InvalidInput({"organisation name": str(error)}) from None
    if not created:
        repo.organisation()  # a store that does not parse says so, rather than "exists"
        raise CommandError(f"a store already exists at {repo.place}; it was not changed")
    shared = f", shared with group {args.group} (mode 0660)" if args.group else ""
    if repo.is_postgres:
        group_role = repo.backend.group_role()  # type: ignore[attr-defined]
        shared = f"; members are the database roles granted {group_role}"
    print_line(f"Created the store of {safe_text(repo.organisation())} at {safe_text(repo.place)}{shared}")
    print_line(f"{safe_text(repo.login)} is its owner. Next: `{PROG} projects add NAME --deployed`")
    return 0


def _project_json(project: Any, active_keys: int | None = None) -> dict[str, Any]:
    data = project.model_dump(mode="json")
    if active_keys is not None:
        data["active_keys"] = active_keys
    return data


def run_projects_add(command: Command) -> int:
    """Add a project."""
    repo = command.writable_repo()
    project = repo.add_project(command.args.name, deployed=command.args.deployed)
    if command.args.json:
        return print_json(_project_json(project))
    state = "deployed" if project.deployed else "not deployed"
    print_line(f"Added project {project.id} {safe_text(project.name)} ({state})")
    return 0


def run_projects_list(command: Command) -> int:
    """List projects with their active key counts."""
    listed = command.existing_repo().list_projects()
    if command.args.json:
        return print_json([_project_json(project, count) for project, count in listed])
    if not listed:
        print_line(f"No projects yet: add one with `{PROG} projects add NAME --deployed`")
        return 0
    print_table(
        ("ID", "NAME", "DEPLOYED", "KEYS"),
        [(p.id, p.name, "yes" if p.deployed else "no", str(count)) for p, count in listed],
    )
    return 0


def run_projects_deploy(command: Command) -> int:
    """Mark a project deployed or not."""
    repo = command.existing_repo()
    project = repo.set_project_deployed(command.args.project, command.args.deployed)
    state = "deployed" if project.deployed else "not deployed"
    print_line(f"Project {project.id} {safe_text(project.name)} is {state}")
    return 0


def run_members_add(command: Command) -> int:
    """Add a member with a role."""
    args = command.args
    member = command.writable_repo().add_member(args.member, args.role, args.name)
    if args.json:
        return print_json(member.model_dump(mode="json"))
    print_line(f"Added {safe_text(member.login)} ({safe_text(member.display_name)}) as {member.role.value}")
    return 0


def run_members_list(command: Command) -> int:
    """List members and their roles."""
    listed = command.existing_repo().list_members()
    if command.args.json:
        return print_json([member.model_dump(mode="json") for member in listed])
    print_table(
        ("LOGIN", "NAME", "ROLE", "ADDED"),
        [(m.login, m.display_name, m.role.value, short_time(m.added_at)) for m in listed],
    )
    return 0


def run_members_set_role(command: Command) -> int:
    """Change a member's role."""
    member = command.existing_repo().set_member_role(command.args.member, command.args.role)
    print_line(f"{safe_text(member.login)} is now {member.role.value}")
    return 0


# -- keys ----------------------------------------------------------------------------------


def run_create(command: Command) -> int:
    """Create a key; print it with its secret, which Analytics never shows again."""
    args = command.args
    scope = Scope(args.scope)
    _refuse_foreign_flags(scope, {
        Scope.WEB: [("--domain", args.domain), ("--local-network", args.local_network),
            ("--cross-page", args.cross_page)],
        Scope.MOBILE: [("--ios", args.ios), ("--android", args.android)],
        Scope.ANALYTICS: [("--expires-days", args.expires_days is not None)],
    })
    if scope is Scope.ANALYTICS and args.expires is not None:
        raise CommandError(
            "--expires applies to Web and Mobile keys; Analytics keys take --expires-days 30|60|90")
    draft: dict[str, Any] = {"name": args.name, "scope": scope.value}
    if args.all_projects:
        draft["all_projects"] = True
    else:
        draft["project_id"] = args.project
    if scope is Scope.WEB:
        draft["web"] = {
            "domains": args.domain, "developing_locally": bool(args.local_network),
            "networks": args.local_network, "cross_page_persistence": args.cross_page,
        }
    elif scope is Scope.MOBILE:
        draft["mobile"] = {"ios_bundle_ids": args.ios, "android_packages": args.android}
    else:
        draft["expires_days"] = args.expires_days or EXPIRY_CHOICES[0]
    repo = command.writable_repo()
    if args.expires is not None:
        draft["expires_at"] = _expiry_argument(args.expires, repo)
    created = repo.create_key(draft)
    key, secret = created.key, created.secret.get_secret_value()
    if args.json:
        return print_json({**key_json(repo, key), "secret": secret})
    print_line(f"Created {scope_label(key.scope)} key {key.id}")
    lines = [(label, values) for label, values in key_fields(repo, key) if label != "secret"]
    lines.append(("secret", [secret]))
    print_fields(lines)
    if key.scope is Scope.ANALYTICS:
        print_line("Copy this Analytics secret now: it is not stored and will never be shown again.")
    else:
        print_line(f"`{PROG} show {key.id} --secret` prints the secret again.")
    return 0


def _refuse_foreign_flags(scope: Scope, flags: dict[Scope, list[tuple[str, object]]]) -> None:
    for owner, given in flags.items():
        used = [flag for flag, value in given if value]
        if owner is not scope and used:
            raise CommandError(
                f"{', '.join(used)} applies to {scope_label(owner)} keys only, not {scope_label(scope)} keys"
            )


def run_list(command: Command) -> int:
    """List the keys this member may see."""
    args = command.args
    repo = command.existing_repo()
    if args.expiring is not None:  # soonest first
        views = [v for v in repo.expiring_within(args.expiring) if args.scope in (None, v.scope)]
    else:
        if args.find is not None:
            text = sys.stdin.readline().strip() if args.find == "-" else args.find
            views = repo.find_keys(text, include_revoked=args.include_revoked, scope=args.scope)
        else:
            views = repo.list_keys(include_revoked=args.include_revoked, scope=args.scope)
        # The main screen's index: newest first, or by scope (Web, Mobile, Analytics; newest first).
        views = KeyIndex(views).rows("scope" if args.sort == "scope" else "created_desc")
    now = repo.now()
    if args.json:
        return print_json([_view_json(view, now) for view in views])
    if not views and args.expiring is not None:
        print_line(f"No active key expires within {args.expiring} days.")
        return 0
    if not views and args.find is not None:
        print_line("No key matches.")
        return 0
    if not views:
        print_line(f"No keys to show. Create one with "
                   f"`{PROG} create --name NAME --scope web --project ID --domain https://…`")
        return 0
    moment = repo.clock()
    invalid = sum(1 for view in views if view.problem)  # first: flagged views show stand-ins
    members = repo.member_logins()
    print_table(
        ("ID", "NAME", "SCOPE", "PROJECT", "KEY", "CREATED", "CREATED BY", "STATUS"),
        [
            (
                view.id, view.name, scope_label(view.scope), view.project_name,
                presenter.mask(view.key_prefix), short_time(view.created_at),
                creator_label(view.created_by, members),
                f"invalid: {view.problem}" if view.problem
                else presenter.status_phrase(view.record, moment),
            )
            for view in views
        ],
    )
    if invalid:
        complain(
            f"note: {invalid} key record{'s are' if invalid != 1 else ' is'} not valid in "
            f"{safe_text(repo.path)} (edited by hand?): they never verify; revoke them or fix them"
        )
    return 0


def _view_json(view: Any, now: str) -> dict[str, Any]:
    problem = view.problem  # first: a flagged view swaps in a readable record
    return {**public_record(view.record, now), "project_name": view.project_name, "problem": problem}


def run_show(command: Command) -> int:
    """Show one key, or print its secret alone."""
    args = command.args
    repo = command.existing_repo()
    key = repo.get_key(args.key_id)
    if args.secret:
        _refuse_by_rule_book(repo, KeyAction.COPY, key)
        print_line(repo.reveal_secret(args.key_id).get_secret_value())
        return 0
    if args.json:
        return print_json(key_json(repo, key))
    print_fields(key_fields(repo, key))
    return 0


def run_edit(command: Command) -> int:
    """Change a key's name and settings, built from the key as it is and the flags."""
    args = command.args
    repo = command.existing_repo()
    key = repo.get_key(args.key_id)
    web_flags = [
        ("--add-domain", args.add_domain), ("--remove-domain", args.remove_domain),
        ("--add-network", args.add_network), ("--remove-network", args.remove_network),
        ("--cross-page/--no-cross-page", args.cross_page is not None),
        ("--local/--no-local", args.local is not None),
    ]
    mobile_flags = [
        ("--add-ios", args.add_ios), ("--remove-ios", args.remove_ios),
        ("--add-android", args.add_android), ("--remove-android", args.remove_android),
    ]
    if args.name is None and args.expires is None and not any(value for _, value in web_flags + mobile_flags):
        raise CommandError(f"nothing to change: give --name, --expires or a setting; see {PROG} edit --help")
    _refuse_foreign_flags(key.scope, {Scope.WEB: web_flags, Scope.MOBILE: mobile_flags})
    _refuse_by_rule_book(repo, KeyAction.EDIT, key)
    if args.if_revision is not None and key.revision != args.if_revision:
        raise Conflict(
            f"{key.id} is at revision {key.revision}, not {args.if_revision}: last changed by "
            f"{safe_text(key.updated_by)} at {when(key.updated_at)}; nothing was changed "
            f"(see `{PROG} log --key {key.id}`)"
        )
    changes: dict[str, Any] = {}
    if args.name is not None:
        changes["name"] = args.name
    if any(value for _, value in web_flags) and key.web is not None:
        changes["web"] = _edited_web(key.id, key.web, args)
    if any(value for _, value in mobile_flags) and key.mobile is not None:
        changes["mobile"] = _edited_mobile(key.id, key.mobile, args)
    if args.expires is not None:
        changes["expires_at"] = _expiry_argument(args.expires, repo)
    if args.if_revision is not None:
        edited = repo.edit_key(key.id, changes, expected_revision=args.if_revision)
    else:
        # The flags were applied to the key as read above: if someone changes it before the
        # save, only the fields changed here are written, and an overlap is refused.
        from store.models import KeyChanges

        base = KeyChanges(
            name=key.name, web=key.web, mobile=key.mobile, expires_at=key.expires_at or NO_EXPIRY
        )
        edited = repo.edit_key(key.id, changes, expected_revision=key.revision, base=base)
    if args.json:
        return print_json(key_json(repo, edited))
    changed = edited.updated_at != key.updated_at or edited.updated_by != key.updated_by
    print_line(f"{'Updated' if changed else 'Nothing changed in'} key {edited.id}")
    print_fields(key_fields(repo, edited))
    return 0


def _edited_web(key_id: str, current: WebSettings, args: argparse.Namespace) -> WebSettings:
    from store.models import WebSettings

    domains = _add_and_remove(key_id, current.domains, args.add_domain, args.remove_domain, normalise_origin,
        "domain")
    networks = _add_and_remove(key_id, current.networks, args.add_network, args.remove_network,
        normalise_network, "network")
    local = current.developing_locally or bool(args.add_network)  # as on create, a network implies it
    if args.local is not None:
        local = args.local
    if not local:
        networks = []  # as in the UI: not developing locally means no local networks
    cross_page = current.cross_page_persistence if args.cross_page is None else args.cross_page
    return validate_or_raise(WebSettings, {
        "domains": domains, "developing_locally": local, "networks": networks,
        "cross_page_persistence": cross_page,
    })


def _edited_mobile(key_id: str, current: MobileSettings, args: argparse.Namespace) -> MobileSettings:
    from store.models import MobileSettings

    same = str.strip
    return validate_or_raise(MobileSettings, {
        "ios_bundle_ids": _add_and_remove(key_id, current.ios_bundle_ids, args.add_ios, args.remove_ios, same,
            "iOS bundle id"),
        "android_packages": _add_and_remove(key_id, current.android_packages, args.add_android,
            args.remove_android, same, "Android package"),
    })


def _add_and_remove(
    key_id: str,
    current: list[str],
    added: list[str],
    removed: list[str],
    normalise: Callable[[str], str],
    what: str,
) -> list[str]:
    """The new list of values; added ones are validated by the settings model afterwards."""
    values = list(current)
    for value in removed:
        try:
            canonical = normalise(value)
        except ValueError:
            canonical = value
        if canonical not in values:
            raise CommandError(f"{value!r} is not a {what} of {key_id}: nothing was changed")
        values.remove(canonical)
    for value in added:
        try:
            canonical = normalise(value)
        except ValueError as error:
            raise InvalidInput({what: str(error)}) from None
        if canonical not in values:
            values.append(canonical)
    return values


def run_revoke(command: Command) -> int:
    """Revoke keys, all or none, after a confirmation (or --yes)."""
    from store.models import ApiKey

    args = command.args
    repo = command.existing_repo()
    keys = [_key_to_revoke(repo, key_id) for key_id in dict.fromkeys(args.key_ids)]
    for key in keys:  # refuse before asking, with the reason; revoked ones are said below
        stored_status = key.status if isinstance(key, ApiKey) else key.record.get("status")
        if stored_status != "revoked":
            _refuse_by_rule_book(repo, KeyAction.REVOKE, key)
    if not args.yes:
        _confirm_revoke(keys)
    revoked = {key.id for key in repo.revoke_keys([key.id for key in keys])}
    for key in keys:
        if key.id in revoked:
            print_line(f"Revoked {key.id} {safe_text(key.name)}")
        else:
            print_line(f"{key.id} {safe_text(key.name)} was already revoked")
    return 0


def _refuse_by_rule_book(repo: Repository, action: KeyAction, key: Any) -> None:
    """Refuse with the rule book's reason when the acting member may not do ``action``."""
    reason = repo.refusal(action, key)
    if reason is not None:
        raise CommandError(reason)


def _key_to_revoke(repo: Repository, key_id: str) -> Any:
    """The key, or for a record that fails validation its list view: revoke is never blocked."""
    try:
        return repo.get_key(key_id)
    except InvalidRecord:
        return repo.key_view(key_id)


def _confirm_revoke(keys: list[Any]) -> None:
    try:
        interactive = sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        interactive = False
    if not interactive:
        raise CommandError(
            "revoke asks for confirmation and stdin is not a terminal: pass --yes; nothing was revoked")
    names = ", ".join(f"{safe_text(key.name)} ({scope_label(key.scope)}, {key.id})" for key in keys)
    sys.stderr.write(
        f"Revoke {names}? Every integration using {'it' if len(keys) == 1 else 'them'} stops at "
        "once, and a revoked key cannot be reissued. [y/N] "
    )
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().casefold()
    if answer not in ("y", "yes"):
        raise CommandError("nothing was revoked", exit_code=1)


def run_verify(command: Command) -> int:
    """Is this secret valid from here? Exit 0 if so, 1 if refused."""
    args = command.args
    secret = _secret_from_stdin() if args.secret == "-" else args.secret
    repo = command.existing_repo()
    verdict = repo.verify(secret, origin=args.origin, ip=args.ip, app_id=args.app_id)
    if args.json:
        shown = verdict.model_dump(mode="json")
        if shown["rolled_until"] is None:  # only a rolled secret inside its grace has it
            del shown["rolled_until"]
        print_json(shown)
    elif verdict.valid:
        until = (f" (a rolled secret: works until {when(verdict.rolled_until)})"
                 if verdict.rolled_until else "")
        print_line(f"valid: {scope_label(verdict.scope or '')} key {verdict.key_id}{until}")
    else:
        which = f" ({scope_label(verdict.scope or '')} key {verdict.key_id})" if verdict.key_id else ""
        print_line(f"refused: {verdict.reason}{which}")
    sys.stdout.flush()  # the answer first; then the usage, which never waits for the lock
    try:
        repo.flush_usage()
    except (StoreError, OSError):
        pass  # recording use must never change the answer
    return 0 if verdict.valid else 1


def _secret_from_stdin() -> str:
    """One line of standard input (hidden and asked for on a terminal), without its newline."""
    try:
        interactive = sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        interactive = False
    if interactive:
        import getpass

        return getpass.getpass("secret (not shown): ").strip()
    line = sys.stdin.readline()
    if not line.strip():
        raise CommandError("verify read no secret from standard input: pipe it in, "
                           "e.g. `printenv API_SECRET | apikeys verify -`")
    return line.strip()
def run_usage(command: Command) -> int:
    """A key's answers per UTC day and its last use."""
    args = command.args
    repo = command.existing_repo()
    usage = repo.usage(args.key_id, days=args.days)
    if args.json:
        return print_json(usage.public_dict())
    key = repo.get_key(args.key_id)
    first, last = usage.days[0].date, usage.days[-1].date
    last_use = "never"
    if usage.last_used_at:
        last_use = when(usage.last_used_at)
        where = ", ".join(part for part in (usage.last_used_origin, usage.last_used_ip) if part)
        if where:
            last_use += f" from {where}"
    print_fields([
        ("key", [f"{key.id} {key.name}"]),
        ("days", [f"{first} to {last} (UTC, {len(usage.days)} days)"]),
        ("valid", [f"{usage.valid:,}"]),
        ("refused", [f"{usage.refused:,}"]),
        ("answers a day", [sparkline([day.valid + day.refused for day in usage.days])]),
        ("last used", [last_use]),
    ])
    active = [day for day in usage.days if day.valid or day.refused]
    if active:
        print_line("")
        print_table(("DATE", "VALID", "REFUSED"),
            [(d.date, f"{d.valid:,}", f"{d.refused:,}") for d in active])
    return 0


def run_scan(command: Command) -> int:
    """Leaked secrets in files: exit 1 if an active key is found (and, with --disable,
    disable each one, with the file and line in the audit trail)."""
    args = command.args
    repo = command.existing_repo()
    if args.disable and not hasattr(repo, "disable_keys"):
        raise CommandError("this apikeys cannot disable keys yet: revoke them with `apikeys revoke ID`")
    started = time.perf_counter()
    report = repo.scan(args.paths, git=args.git)
    report.seconds = time.perf_counter() - started
    findings = report.findings
    active = [finding for finding in findings if finding.status == "active"]
    disabled: dict[str, str] = {}
    refusals: list[str] = []
    if args.disable:
        for finding in active:
            if finding.key_id in disabled or finding.key_id is None:
                continue
            note = f"found in {safe_text(finding.path)[:300]}:{finding.line}"
            try:
                repo.disable_keys([finding.key_id], note=note)
                disabled[finding.key_id] = note
            except StoreError as error:
                refusals.append(f"{finding.key_id}: {error}")
    if args.json:
        print_json([finding.public_dict() for finding in findings])
    else:
        if findings:
            print_table(
                ("PATH", "LINE", "KEY", "KEY ID", "NAME", "STATUS"),
                [(f.path, str(f.line), presenter.mask(f.key_prefix), f.key_id or "—", f.name or "—",
                  f.status or "not in this store") for f in findings],
            )
        print_line(report.summary())
        for key_id, note in disabled.items():
            print_line(f"Disabled {key_id} ({note})")
    for refusal in refusals:
        complain(f"could not disable {refusal}")
    return 1 if active else 0


def run_log(command: Command) -> int:
    """The audit trail, newest first (``--limit N``: the newest N only, and only those read)."""
    repo = command.existing_repo()
    events = repo.history(command.args.key, limit=command.args.limit)
    skipped = 0 if repo.is_postgres else repo.audit.unreadable_lines
    if skipped:
        complain(
            f"note: skipped {skipped} unreadable line{'s' if skipped != 1 else ''} of "
            f"{safe_text(repo.audit.path)} (torn by a crash or edited by hand); the other events are shown"
        )
    if command.args.json:
        return print_json([event.model_dump() for event in events])
    if not events:
        print_line("No events.")
        return 0
    print_table(
        ("AT", "ACTOR", "ACTION", "KEY", "DETAIL"),
        [(short_time(e.at), e.actor, e.action, e.key_id or "—", e.detail) for e in events],
    )
    return 0


# -- the key lifecycle: roll, disable, enable, expiry, policy, members leave ---------------------


def _expiry_argument(text: str, repo: Repository) -> str:
    try:
        return lifecycle.parse_expiry(text, repo.clock())
    except ValueError as error:
        raise InvalidInput({"expires": str(error)}) from None


def run_roll(command: Command) -> int:
    """A new secret for the key; the previous one works for the grace period."""
    args = command.args
    repo = command.existing_repo()
    key = repo.get_key(args.key_id)
    # The revision read here: another admin's roll in between is refused, never silently undone.
    seen = key.revision if args.if_revision is None else args.if_revision
    expires = None if args.expires is None else _expiry_argument(args.expires, repo)
    rolled = repo.roll_key(
        key.id, lifecycle.GRACE_CHOICES[args.grace], expected_revision=seen, expires_at=expires
    )
    secret = rolled.secret.get_secret_value()
    if args.json:
        return print_json({
            **key_json(repo, rolled.key), "secret": secret,
            "previous_valid_until": rolled.previous_valid_until,
        })
    new_key = rolled.key
    print_line(f"Rolled {scope_label(new_key.scope)} key {new_key.id} {safe_text(new_key.name)}")
    if rolled.previous_valid_until > repo.now():
        previous = f"works until {when(rolled.previous_valid_until)}"
    else:
        previous = "stopped working now"
    expiry = [("expires", [when(new_key.expires_at)])] if new_key.expires_at else []
    print_fields([("secret", [secret]), ("previous secret", [previous]), *expiry])
    if new_key.scope is Scope.ANALYTICS:
        print_line("Copy this Analytics secret now: it is not stored and will never be shown again.")
    else:
        print_line(f"`{PROG} show {new_key.id} --secret` prints the secret again.")
    return 0


def run_disable(command: Command) -> int:
    """Disable keys, all or none; verify refuses them until they are enabled."""
    args = command.args
    repo = command.existing_repo()
    keys = [repo.get_key(key_id) for key_id in dict.fromkeys(args.key_ids)]
    disabled = {key.id for key in repo.disable_keys([key.id for key in keys], note=args.note)}
    for key in keys:
        if key.id in disabled:
            print_line(f"Disabled {key.id} {safe_text(key.name)}: "
                       f"verify refuses it until `{PROG} enable {key.id}`")
        else:
            print_line(f"{key.id} {safe_text(key.name)} was already disabled")
    return 0


def run_enable(command: Command) -> int:
    """Enable disabled keys, all or none."""
    repo = command.existing_repo()
    keys = [repo.get_key(key_id) for key_id in dict.fromkeys(command.args.key_ids)]
    enabled = {key.id for key in repo.enable_keys([key.id for key in keys])}
    for key in keys:
        if key.id in enabled:
            print_line(f"Enabled {key.id} {safe_text(key.name)}")
        else:
            print_line(f"{key.id} {safe_text(key.name)} was not disabled")
    return 0


def _print_policy(policy: Any) -> None:
    lifetimes = [
        f"{scope_label(scope.value)}: {'no limit' if days is None else f'{days} days'}"
        for scope, days in policy.max_lifetime_days.items()
    ]
    print_fields([
        ("max lifetime", lifetimes),
        ("warn", [f"{policy.warn_days} days before a key expires"]),
    ])


def run_policy_show(command: Command) -> int:
    """Print the key policy, and how many active keys break it."""
    repo = command.existing_repo()
    policy = repo.get_policy()
    if command.args.json:
        return print_json(policy.as_json())
    _print_policy(policy)
    _print_breakers(repo.policy_violation_count())
    return 0


def run_policy_set(command: Command) -> int:
    """Change the key policy (owners only)."""
    args = command.args
    if not args.max_lifetime and args.warn_days is None:
        raise CommandError("nothing to change: give --max-lifetime SCOPE=DAYS|none or --warn-days N; "
                           f"see {PROG} policy set --help")
    repo = command.existing_repo()
    policy = repo.set_policy(max_lifetime_days=dict(args.max_lifetime), warn_days=args.warn_days)
    if args.json:
        return print_json(policy.as_json())
    _print_policy(policy)
    _print_breakers(repo.policy_violation_count())
    return 0


def run_policy_check(command: Command) -> int:
    """The active keys that break the policy, oldest first; exit 1 if there are any.

    Text lists the first ``CHECK_SHOWN`` (``--limit N``, ``--all``) and says how many more
    there are; JSON lists every one unless ``--limit`` is given. On PostgreSQL a count and
    the first page are read, not every key.
    """
    args = command.args
    repo = command.existing_repo()
    if args.all or (args.json and args.limit is None):
        violations = repo.policy_violations()
        total = len(violations)
    else:
        violations, total = repo.first_policy_violations(args.limit or CHECK_SHOWN)
    if command.args.json:
        now = repo.now()
        print_json([
            {**public_record(v.key.record, now), "project_name": v.key.project_name, "problem": v.problem}
            for v in violations
        ])
        return 1 if violations else 0
    if not violations:
        print_line("Every active key keeps the policy.")
        return 0
    members = repo.member_logins()
    print_table(
        ("ID", "NAME", "SCOPE", "CREATED BY", "PROBLEM"),
        [
            (v.key.id, v.key.name, scope_label(v.key.scope), creator_label(v.key.created_by, members),
                v.problem)
            for v in violations
        ],
    )
    if len(violations) < total:
        print_line(f"The first {len(violations):,} of {total:,} (oldest first); --all lists every one")
    return 1


def run_members_remove(command: Command) -> int:
    """Remove a member; the keys they created stay."""
    member = command.existing_repo().remove_member(command.args.member)
    print_line(
        f"Removed {safe_text(member.login)} ({member.role.value}): they lose access now; keys "
        f"they created stay, shown as created by {safe_text(member.login)} (removed)"
    )
    return 0



# -- long lists: the first rows, how many in all -------------------------------------------------

CHECK_SHOWN = 50
"""Keys `policy check` prints by default (a million may break a new rule on PostgreSQL)."""


def _add_row_limit(parser: argparse.ArgumentParser, limit_help: str, *, every: str | None = None) -> None:
    """``--limit N`` (and, given ``every``'s help, ``--all``) for a command that lists rows."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--limit", "-n", type=_row_count, metavar="N", help=limit_help)
    if every is not None:
        group.add_argument("--all", action="store_true", help=every)


def _row_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if count < 1:
        raise argparse.ArgumentTypeError("give 1 or more")
    return count


def _print_breakers(count: int) -> None:
    """How many active keys break the policy, and where to see them (nothing when none)."""
    if count:
        keys, breaks = ("key", "breaks") if count == 1 else ("keys", "break")
        print_line(f"{count:,} active {keys} {breaks} it: see `{PROG} policy check`")

if __name__ == "__main__":
    sys.exit(main())
