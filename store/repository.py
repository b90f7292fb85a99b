"""The one interface the UI and the command line call: keys, projects, members, verify, audit.

A :class:`Repository` acts for one login (the OS account running it). Every read checks what
that member may see; every change checks their role, happens inside one locked transaction of
the store file and appends its audit events before the lock is released.
"""

from __future__ import annotations

import os
import pwd
import threading
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import platformdirs

from . import access, edits, lifecycle, tokens
from .audit import AuditLog
from .backend import ChangeNotices, KeyQuery, KeySort
from .backends import open_backend
from .errors import Conflict, Forbidden, InvalidInput, InvalidRecord, NotFound
from .find import KeyFinder, Query, parse_query
from .key_index import KeyIndex
from .key_source import DatabaseKeySource, IndexKeySource, KeySource
from .storage import StoreFile, Transaction, collector_paused, empty_tables
from .validation import (
    check_display_text,
    listable,
    readable_record,
    record_problem,
    validate_or_raise,
)
from .views import (
    NO_EXPIRY,
    KeyView,
    NewestKeys,
    Role,
    Scope,
    Status,
    check_expiry_text,
    expiry_from,
    status_of,
    to_iso,
    utc_now,
)

if TYPE_CHECKING:
    # Imported by the methods that use them: pydantic with the models, the policy, usage,
    # verify and scan cost ~0.05 s at start, and the main screen's first frame (the newest
    # keys, then every key) needs none of them. tests/test_start_imports.py keeps it so.
    from pydantic import BaseModel, SecretStr

    from .backends.postgres import PostgresBackend
    from .models import (
        ApiKey,
        AuditEvent,
        CreatedKey,
        KeyChanges,
        KeyDraft,
        Member,
        Project,
        RolledKey,
        Verdict,
    )
    from .policy import Policy, PolicyViolation
    from .scan import ScanReport
    from .usage import DatabaseUsageRecorder, KeyUsage, UsageRecorder

ALL_PROJECTS = "All organization projects"
EVERY_ROW = 2**62  # a window LIMIT that never stops it: lists that are whole by definition


def current_login() -> str:
    """The OS account of the effective user id: never ``$USER``, which anyone can set.

    A uid with no account entry (a container's arbitrary uid, a deleted account) is refused
    with one line: apikeys has no name to record it under.
    """
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        raise Forbidden(
            f"uid {uid} has no account entry (no line in /etc/passwd or the host's directory): "
            "apikeys records who did what by login name; run it as a named account"
        ) from None


def account_exists(login: str) -> bool:
    """Whether ``login`` has an account on this host (members are OS logins)."""
    try:
        pwd.getpwnam(login)
    except (KeyError, ValueError):  # ValueError: a NUL in the name
        return False
    return True


def display_name_of(login: str) -> str:
    """The full name from the account's GECOS field, or the login itself."""
    try:
        gecos = pwd.getpwnam(login).pw_gecos.split(",")[0].strip()
    except KeyError:
        gecos = ""
    try:
        return check_display_text(gecos or login, what="name", max_length=128)
    except ValueError:
        return login


def default_store_path() -> Path:
    """``$APIKEYS_STORE``, else ``store.json`` in the platform's user data folder."""
    explicit = os.environ.get("APIKEYS_STORE")
    if explicit:
        return Path(explicit).expanduser()
    return platformdirs.user_data_path("apikeys") / "store.json"


class Repository:
    """Everything the UI and the CLI do with a store, for one acting login."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        login: str | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = path  # the store string as given: a path, or a PostgreSQL conninfo
        self.backend = open_backend(path)
        self.is_postgres = self.backend.kind == "postgresql"
        self.clock = clock
        self._lock = threading.RLock()
        self._hash_index: tuple[object, dict[str, str]] | None = None
        self._views: tuple[object, list[KeyView]] | None = None
        self._finder: tuple[object, KeyFinder] | None = None
        self._index: tuple[object, KeyIndex] | None = None
        self._usage_recorder: UsageRecorder | DatabaseUsageRecorder | None = None
        self._counting: Any = None  # key_source's second PostgreSQL backend, made on first use
        if self.is_postgres:
            self.login = self._database_login(login)
        else:
            # The file backend's own objects, which file-only code (usage, scan, tests) uses.
            self.storage: StoreFile = self.backend.storage  # type: ignore[attr-defined]
            self.audit: AuditLog = self.backend.audit  # type: ignore[attr-defined]
            self.login = login or current_login()

    @property
    def usage_recorder(self) -> UsageRecorder | DatabaseUsageRecorder:
        """What counts verify's answers and writes them in batches (see :mod:`store.usage`),
        made at the first verify or change: a screen that only reads needs none."""
        recorder = self._usage_recorder
        if recorder is None:
            from .usage import DatabaseUsageRecorder, UsageRecorder

            with self._lock:  # one recorder, whichever thread asks first
                if self._usage_recorder is None:
                    self._usage_recorder = (
                        DatabaseUsageRecorder(self.backend, self.now) if self.is_postgres
                        else UsageRecorder(self.storage, self._lock, self.now)
                    )
                recorder = self._usage_recorder
        return recorder

    def __repr__(self) -> str:
        return f"Repository({self.place!r}, login={self.login!r})"

    @property
    def path(self) -> Path:
        """The store file (on PostgreSQL: the database as :attr:`place` names it)."""
        if self.is_postgres:
            return Path(self.place)
        return self.storage.path

    @property
    def place(self) -> str:
        """The store for messages: the file's path, or ``database NAME on HOST``."""
        return self.backend.describe()

    def close(self) -> None:
        """Release the store's files or connections (usage noted so far is written first)."""
        if self.is_postgres and self._usage_recorder is not None:
            self._usage_recorder.flush(spool=True)
        self.backend.close()

    def _database_login(self, login: str | None) -> str:
        """On PostgreSQL, who acts is the role the server authenticated (``session_user``).

        Naming another login is refused, except on a superuser's connection (the server lets
        a superuser do anything anyway): tests and a DBA's tooling act for a member that way.
        """
        identity = self.backend.identity()
        if login is None or login == identity:
            return identity
        if self.backend.is_superuser():  # type: ignore[attr-defined]
            return login
        raise Forbidden(
            f"connected to {self.place} as database role {identity!r}: a PostgreSQL store knows "
            f"you by the role the server authenticated, so you cannot act as {login!r}"
        )

    def _current(self) -> Any:
        """The store in the file layout: the cached parse, or a read-on-use database view."""
        if self.is_postgres:
            return self.backend.snapshot()  # type: ignore[attr-defined]
        return self.storage.current()

    def _generation(self) -> object:
        """What changes whenever the store does (a parse generation, or the change marker)."""
        if self.is_postgres:
            return self.backend.change_marker()
        return self.storage.generation

    def now(self) -> str:
        """The current time as stored (ISO, UTC)."""
        return to_iso(self.clock())

    # -- the store itself -----------------------------------------------------------------

    def initialise(self, organisation: str | None = None, *, group: str | None = None) -> bool:
        """Create the store with this login as its owner; False if it already existed."""
        from .models import Member

        name = check_display_text(
            organisation or f"{self.login}'s organisation", what="organisation name", max_length=80
        )
        now = self.now()
        meta = {"organisation": name, "created_at": now, "created_by": self.login}
        owner = Member(
            login=self.login, display_name=display_name_of(self.login), role=Role.OWNER,
            added_at=now, added_by=self.login,
        ).model_dump(mode="json")
        if self.is_postgres:
            self._views = self._finder = None
            owner["display_name"] = self.login  # a database role has no GECOS field
            return self.backend.create(
                meta, owner, [self._event("store.init", None, f"created organisation {name!r}")], group=group
            )
        data = empty_tables(meta)
        data["members"][self.login] = owner
        self.audit.check()
        created = self.storage.create(data, group=group)
        if created:
            self.audit.append([self._event("store.init", None, f"created organisation {name!r}")])
        return created

    def open_or_create(self) -> None:
        """Use the store, creating it with this login as owner when it does not exist yet."""
        if not self.backend.exists():
            self.initialise()
        self._current()["_meta"]

    def report_reading(self, progress: Callable[[int, int], None] | None) -> None:
        """Have parses of a big store tell ``progress`` (keys read, keys in the store) after
        each block they read (a loading line); None stops it. A database has no such parse."""
        if not self.is_postgres:
            self.storage.on_read_progress = progress

    def organisation(self) -> str:
        """The organisation's name."""
        return self._current()["_meta"]["1"].get("organisation", "")

    def changed_marker(self) -> object:
        """A cheap token (one stat, or one sequence read) that differs after any change."""
        return self.backend.change_marker()

    # -- who is acting --------------------------------------------------------------------

    def me(self) -> Member:
        """The acting member; refuses a login that is not a member."""
        data = self._current()
        return _stored_member(self._member_record(data))

    def role(self) -> Role:
        """The acting member's role (what :meth:`me` says, without building the member);
        refuses a login that is not a member."""
        return self._role(self._current())

    def owners(self) -> list[Member]:
        """The organisation's owners, oldest member first: whom a login that is not a member
        (yet) should ask. Readable by anyone who can read the store."""
        data = self._current()
        owners = [_stored_member(record) for record in data["members"].values()
                  if record.get("role") == Role.OWNER.value]
        return sorted(owners, key=lambda member: (member.added_at, member.login))

    def sees_every_key(self) -> bool:
        """Whether this member sees every key of the store (else only their own)."""
        return access.sees_every_key(self.role())

    def _member_record(self, data: Mapping[str, Any]) -> dict[str, Any]:
        record = data["members"].get(self.login)
        if record is None:
            organisation = data["_meta"]["1"].get("organisation", "this organisation")
            raise Forbidden(
                f"{self.login} is not a member of {organisation!r}: ask an owner to run "
                f"`apikeys members add {self.login} --role developer`"
            )
        return record

    def _role(self, data: Mapping[str, Any]) -> Role:
        record = self._member_record(data)
        role = record.get("role") if isinstance(record, dict) else None
        try:
            return Role(str(role))
        except ValueError:
            raise Forbidden(
                f"{self.path}: member {self.login!r} has an unknown role {str(role)[:32]!r} "
                "(edited by hand?): ask an owner to set it with `apikeys members set-role`"
            ) from None

    # -- keys: reading --------------------------------------------------------------------

    def list_keys(self, *, include_revoked: bool = True, scope: str | None = None) -> list[KeyView]:
        """The keys this member may see, oldest first, as cheap read-only views."""
        if self.is_postgres:
            return self._database_keys(include_revoked=include_revoked, scope=scope)
        with self._lock:
            data = self._current()
            role = self._role(data)
            generation = self.storage.generation
            if self._views is None or self._views[0] != generation:
                projects = {pid: p.get("name", pid) for pid, p in data["projects"].items()}
                with collector_paused():
                    self._views = (generation, [
                        _key_view(key_id, record, projects) for key_id, record in data["keys"].items()
                    ])
            views = self._views[1]
        if not access.sees_every_key(role):
            views = [view for view in views if view.record["created_by"] == self.login]
        if not include_revoked:
            views = [view for view in views if view.record["status"] != "revoked"]
        if scope is not None:
            views = [view for view in views if view.record["scope"] == scope]
        return views

    def _database_keys(self, *, include_revoked: bool, scope: str | None) -> list[KeyView]:
        """:meth:`list_keys` on PostgreSQL: one window of the rows this member may see, oldest
        first (the database filters; the UI's own screens ask for smaller windows)."""
        data = self._current()
        query = self._visible_query(
            self._role(data), sort=KeySort.CREATED_ASC, include_revoked=include_revoked, scope=scope
        )
        projects = _project_names(data)
        return [_key_view(record["id"], record, projects)
                for record in self.backend.window(query, 0, EVERY_ROW)]

    def _visible_query(self, role: Role, **fields: Any) -> KeyQuery:
        """A :class:`KeyQuery` of the keys this member may see (a developer: their own)."""
        return KeyQuery(created_by=None if access.sees_every_key(role) else self.login, **fields)

    @property
    def _database(self) -> PostgresBackend:
        """The PostgreSQL backend, for what only it offers (indexed lists of the repository)."""
        return cast("PostgresBackend", self.backend)

    def key_source(
        self, order: str = "created_desc", filter_text: str | Query = "", *,
        include_revoked: bool = True, expiring_days: float | None = None,
    ) -> KeySource:
        """The keys this member may see in ``order`` (``created_desc``, ``created_asc``,
        ``scope``, ``last_used``) matching ``filter_text`` (see :mod:`store.find`: every word
        somewhere, a pasted secret by its hash; or a parsed :class:`~store.find.Query`), as a
        source the main table reads a window at a time (see :mod:`store.key_source`). With
        ``expiring_days``, only active keys expiring within that many days. The file store
        answers from its in-memory index; PostgreSQL with indexed queries, never loading
        every key."""
        data = self._current()
        role = self._role(data)
        query = parse_query(filter_text) if isinstance(filter_text, str) else filter_text
        now = self.now()
        expiring = None if expiring_days is None else (now, lifecycle.horizon(now, expiring_days))
        if self.is_postgres:
            key_query = KeyQuery(
                sort=KeySort(order), words=query.words, include_revoked=include_revoked,
                created_by=None if access.sees_every_key(role) else self.login,
                secret_hashes=query.secret_hashes, expiring=expiring, now=now,
            )
            names = {pid: p.get("name", pid) for pid, p in data["projects"].items()}
            return DatabaseKeySource(self.backend, key_query, names, ALL_PROJECTS,
                                     counting=self._counting_backend())
        with self._lock:
            views = self.list_keys(include_revoked=include_revoked)
            generation = (self.storage.generation, include_revoked, access.sees_every_key(role))
            if self._index is None or self._index[0] != generation:
                self._index = (generation, KeyIndex(views))
            return IndexKeySource(self._index[1], order, query, now=now, expiring=expiring)

    def _counting_backend(self) -> Any:
        """A second PostgreSQL backend (its own connection) for the counts and positions
        that a screen runs in workers, so they never hold up the windows it reads."""
        if self._counting is None:
            self._counting = open_backend(self.store, background=True)
        return self._counting

    def close_key_sources(self) -> None:
        """Close what :meth:`key_source` opened (the counting connection), if anything."""
        counting, self._counting = self._counting, None
        if counting is not None:
            counting.close()

    def project_names(self) -> list[str]:
        """Every project's name (the main table's Project column is as wide as the widest)."""
        data = self._current()
        self._role(data)
        return [str(project.get("name", project_id)) for project_id, project in data["projects"].items()]

    def change_notices(self) -> ChangeNotices | None:
        """Notices of other sessions' changes for the live view: PostgreSQL ``LISTEN`` on a
        connection of its own; None on the file store, where polling
        :meth:`changed_marker` (one stat) is the way."""
        return self.backend.listen()

    def find_keys(
        self, text: str, *, include_revoked: bool = True, scope: str | None = None
    ) -> list[KeyView]:
        """The keys this member may see that match ``text`` (see :mod:`store.find`): every
        word somewhere in name, id, key prefix, project, scope, creator or status; a pasted
        full secret finds exactly its key. Oldest first, like :meth:`list_keys`."""
        query = parse_query(text)
        if self.is_postgres and query:  # the database matches, as store/find.py would
            data = self._current()
            wanted = self._visible_query(
                self._role(data), sort=KeySort.CREATED_ASC, include_revoked=include_revoked,
                scope=scope, words=query.words, secret_hashes=query.secret_hashes, now=self.now(),
            )
            names = _project_names(data)
            return [_key_view(record["id"], record, names)
                    for record in self.backend.window(wanted, 0, EVERY_ROW)]
        with self._lock:
            views = self.list_keys(include_revoked=include_revoked, scope=scope)
            if not query:
                return views
            found = {id(view) for view in self.key_finder().find(query, self.now())}
        return [view for view in views if id(view) in found]

    def key_finder(self) -> KeyFinder:
        """The matcher over every key of the store as last read (all members' keys: filter
        by what the member may see afterwards), built once per store generation. On
        PostgreSQL this reads every key: lists there use :meth:`find_keys` (SQL) instead."""
        with self._lock:
            if self.is_postgres:
                marker = self._generation()
                if self._finder is None or self._finder[0] != marker:
                    self._finder = (marker, KeyFinder(self.list_keys(), self.now()))
                return self._finder[1]
            self.list_keys()  # the views of the current generation
            assert self._views is not None
            generation, views = self._views
            if self._finder is None or self._finder[0] != generation:
                self._finder = (generation, KeyFinder(views, self.now()))
            return self._finder[1]

    def get_key(self, key_id: str) -> ApiKey:
        """One key with every field; :class:`NotFound` if this member may not see it, and
        :class:`InvalidRecord` (naming the file, the record and why) if it fails the checks."""
        from .models import ApiKey

        data = self._current()
        record = self._visible_record(data, key_id)
        problem = record_problem(record, key_id)
        if problem is None:
            try:
                return ApiKey.model_validate(record)
            except ValueError as error:  # pydantic's ValidationError is a ValueError
                problem = str(error).splitlines()[0]
        raise InvalidRecord(
            f"{self.path}: key {key_id} is not valid ({problem}): it never verifies; "
            f"revoke it with `apikeys revoke {key_id}` or fix the record by hand"
        )

    def key_view(self, key_id: str) -> KeyView:
        """One key as a list shows it, flagged (``problem``) when its record is not valid;
        works for any record, so revoke can always be offered."""
        data = self._current()
        record = self._visible_record(data, key_id)
        projects = {pid: p.get("name", pid) for pid, p in data["projects"].items() if isinstance(p, dict)}
        return _key_view(key_id, record, projects)

    def _visible_record(self, data: dict[str, Any], key_id: str) -> dict[str, Any]:
        role = self._role(data)
        record = data["keys"].get(key_id)
        if record is None or not access.can_see(self.login, role, _facts(key_id, record)):
            raise NotFound(f"no key {key_id!r}")
        return record

    def project_name(self, project_id: str | None) -> str:
        """A project's name (or its id if unknown); None means All organization projects."""
        data = self._current()
        self._role(data)  # a login that is not a member learns nothing of the store
        if project_id is None:
            return ALL_PROJECTS
        project = data["projects"].get(project_id)
        return project["name"] if project else project_id

    def reveal_secret(self, key_id: str) -> SecretStr:
        """The secret of an active Web or Mobile key; Analytics secrets are never stored."""
        key = self.get_key(key_id)
        if key.scope is Scope.ANALYTICS:
            raise Forbidden(
                f"{key_id} is an Analytics key: its secret was shown once, at creation, and is "
                "not stored; create a new key if it was lost"
            )
        if key.status == "revoked" or key.secret is None:
            raise Forbidden(f"{key_id} is revoked: its secret was wiped")
        return key.secret

    def can_change(self, key: ApiKey | KeyView) -> bool:
        """Whether this member may edit or revoke ``key`` (their own, or any as owner)."""
        return access.can_change(self.login, self.role(), _rule_facts(key))

    def refusal(
        self, action: access.KeyAction | access.OrganisationAction | str,
        key: ApiKey | KeyView | None = None,
    ) -> str | None:
        """Why this member may not do ``action`` (to ``key``, for a key action); None if they may.

        The one question screens and the command line ask before offering an action: the
        answer comes from the rule book (:mod:`store.access`), the same one every change obeys.
        """
        role = self.role()
        if key is None:
            return access.organisation_refusal(self.login, role, action)
        return access.key_refusal(self.login, role, action, _rule_facts(key))

    # -- keys: changing -------------------------------------------------------------------

    def create_key(self, draft: KeyDraft | dict[str, Any]) -> CreatedKey:
        """Validate ``draft``, store a new key and return it with its secret (shown once)."""
        from pydantic import SecretStr

        from .models import ApiKey, CreatedKey, KeyDraft

        checked = _validated(KeyDraft, draft)
        with self._change() as (transaction, role, events):
            project_id = None
            if checked.all_projects:
                if not access.may_use_all_projects(role):
                    raise Forbidden(
                        f"{self.login} is {role.value}: only an owner, support or analytics "
                        "member may make a key for All organization projects"
                    )
            else:
                project = self._resolve_project(transaction.projects, checked.project_id or "")
                if checked.scope is Scope.WEB and not project["deployed"]:
                    raise InvalidInput({"project": (
                        f"project {project['name']!r} is not deployed: deploy it before "
                        "making a Web key for it"
                    )})
                project_id = project["id"]
            moment = self.clock()
            self._refuse_new_expiry(transaction.meta, checked, moment)
            record, secret = new_key_record(
                checked, project_id, self.login, moment, taken=transaction.keys
            )
            key_id = record["id"]
            key = ApiKey.model_validate(record)
            transaction.keys[key_id] = record
            transaction.changed()
            where = f"project {project_id}" if project_id else ALL_PROJECTS
            events.append(self._event(
                "key.create", key_id, f"created {checked.scope.value} key {checked.name!r} for {where}"
            ))
        return CreatedKey(key=key, secret=SecretStr(secret))

    def edit_key(
        self,
        key_id: str,
        changes: KeyChanges | dict[str, Any],
        *,
        expected_revision: int | None = None,
        base: KeyChanges | None = None,
    ) -> ApiKey:
        """Change the name and settings of a Web or Mobile key; the secret stays the same.

        ``expected_revision`` is the revision the admin (or script) saw. If the key was
        changed since: with ``base`` (the values the admin saw), only the (sub)fields this
        admin changed are applied, and :class:`Conflict` is raised, naming who changed what,
        when a colleague changed one of the same; without ``base``, :class:`Conflict`.
        """
        from .models import ApiKey, KeyChanges

        wanted = _validated(KeyChanges, changes)
        with self._change() as (transaction, role, events):
            record = self._visible_record(transaction.data, key_id)
            problem = record_problem(record, key_id)
            if problem is not None:
                raise InvalidRecord(
                    f"{self.path}: key {key_id} is not valid ({problem}): it cannot be edited; "
                    "revoke it or fix the record by hand"
                )
            access.require_change(self.login, role, record, "edit")
            revision = record.get("revision", 0)
            if expected_revision is not None and revision != expected_revision:
                wanted = self._merged_changes(record, wanted, base, expected_revision)
            if record["status"] == "revoked":
                raise InvalidInput({"key": f"{key_id} is revoked: a revoked key cannot be edited"})
            if record["scope"] == Scope.ANALYTICS:
                raise InvalidInput({"scope": (
                    f"{key_id} is an Analytics key, which cannot be edited: revoke it and "
                    "create a new one"
                )})
            if wanted.web is not None and record["scope"] != Scope.WEB:
                raise InvalidInput({"scope": f"{key_id} is a {record['scope']} key, not a Web key"})
            if wanted.mobile is not None and record["scope"] != Scope.MOBILE:
                raise InvalidInput({"scope": f"{key_id} is a {record['scope']} key, not a Mobile key"})
            updated = dict(record)
            notes = []
            if wanted.name is not None and wanted.name != record["name"]:
                updated["name"] = wanted.name
                notes.append(f"renamed {record['name']!r} to {wanted.name!r}")
            for field, settings in (("web", wanted.web), ("mobile", wanted.mobile)):
                if settings is not None and settings.model_dump() != record.get(field):
                    updated[field] = settings.model_dump()
                    notes.append(_describe_settings_change(record.get(field) or {}, updated[field]))
            # Expiry (Web and Mobile): a step of its own, checked against the policy.
            expiry_note = self._apply_expiry_change(transaction.meta, record, updated, wanted.expires_at)
            if expiry_note:
                notes.append(expiry_note)
            if not notes:
                return ApiKey.model_validate(record)
            updated = stamped(updated, self.now(), self.login)
            key = ApiKey.model_validate(updated)
            transaction.keys[key_id] = updated  # a new dict: views of the old one stay intact
            transaction.changed()
            events.append(self._event("key.edit", key_id, "; ".join(notes)))
        return key

    def revoke_keys(self, key_ids: Iterable[str]) -> list[ApiKey]:
        """Revoke keys at once, all or none: wipe any stored secret, keep the hash.

        Keys that are already revoked are left as they are and not returned.
        """
        key_ids = list(dict.fromkeys(key_ids))
        with self._change() as (transaction, role, events):
            # Any record, even one that fails the checks: revoking must never be blocked.
            records = [(key_id, self._visible_record(transaction.data, key_id)) for key_id in key_ids]
            for key_id, record in records:
                access.require_change(self.login, role, _facts(key_id, record), "revoke")
            now = self.now()
            revoked = []
            for key_id, record in records:
                facts = _facts(key_id, record)
                if facts["status"] == "revoked":
                    continue
                updated = stamped(
                    record if isinstance(record, dict) else {"id": key_id}, now, self.login,
                    status="revoked", revoked_at=now, revoked_by=self.login, secret=None,  # wiped
                    previous_secret_hash=None, previous_valid_until=None,  # no grace either
                )
                transaction.keys[key_id] = updated  # by its table key, whatever its id says
                revoked.append(_key_of(key_id, updated))
                events.append(self._event(
                    "key.revoke", key_id, f"revoked {facts['scope']} key {facts['name']!r}"
                ))
            if revoked:
                transaction.changed()
        return revoked

    def _merged_changes(
        self, record: dict[str, Any], changes: KeyChanges, base: KeyChanges | None, expected: int
    ) -> KeyChanges:
        """The part of ``changes`` to apply to a key changed since revision ``expected``."""
        from .models import KeyChanges

        if base is None:
            raise Conflict(self._conflict_message(record, expected, []))
        to_apply, overlapping = edits.merge_edit(record, changes, base)
        if overlapping:
            raise Conflict(self._conflict_message(record, expected, overlapping))
        return validate_or_raise(KeyChanges, edits.applied(record, to_apply))

    def _conflict_message(self, record: dict[str, Any], expected: int, overlapping: list[str]) -> str:
        """Who changed the key since revision ``expected``, and what (from the audit trail)."""
        key_id = record["id"]
        revision = record.get("revision", 0)
        since = max(1, revision - expected) if revision > expected else 1
        trail = self.backend.audit_records(key_id) if self.is_postgres else self.audit.records()
        recent = [
            event for event in reversed(trail)
            if event.get("key_id") == key_id and event.get("action") != "key.create"
        ][:min(since, 3)]
        what = "; ".join(
            f"{event['actor']} at {event['at'][:16].replace('T', ' ')} UTC: {event.get('detail', '')[:120]}"
            for event in recent
        ) or f"{record.get('updated_by')} at {str(record.get('updated_at'))[:16].replace('T', ' ')} UTC"
        fields = ", ".join(edits.label(field) for field in overlapping)
        clash = f" Both of you changed {fields}." if fields else ""
        return (
            f"{key_id} was changed since you read it (revision {expected}, now {revision}) by "
            f"{what}.{clash} Nothing was saved: reload the key and make your change again"
        )

    # -- keys: roll, disable, enable, expiry (store.lifecycle) ------------------------------

    def roll_key(
        self,
        key_id: str,
        grace: timedelta,
        *,
        expected_revision: int | None = None,
        expires_at: str | None = None,
    ) -> RolledKey:
        """Give the key a new secret; the previous one stays valid for ``grace`` (one of
        ``lifecycle.GRACE_CHOICES``: 0, 1 h, 24 h, 7 d), never past the key's expiry.

        Id, name, settings, history and creation are kept; Web and Mobile keys store the new
        secret, Analytics keys never do (the returned secret is shown once). A disabled key
        may be rolled and stays disabled (disable, roll, update the clients, enable). A
        revoked key cannot be rolled. ``expected_revision`` is the revision the admin saw:
        if the key changed since, nothing is rolled and :class:`store.errors.Conflict` says who changed it
        (two admins rolling at once: exactly one wins). ``expires_at`` (Web and Mobile: an
        expiry time or ``NO_EXPIRY``) sets a new expiry with the roll; the policy's maximum
        lifetime counts from the roll.
        """
        from pydantic import SecretStr

        from .models import ApiKey, RolledKey
        from .policy import lifetime_refusal

        if grace not in lifecycle.GRACE_CHOICES.values():
            raise InvalidInput({"grace": (
                f"choose a grace period of {', '.join(lifecycle.GRACE_CHOICES)}"
            )})
        expires_at = _checked_expiry(expires_at)
        with self._change() as (transaction, role, events):
            record = self._visible_record(transaction.data, key_id)
            access.require_key_action(self.login, role, access.KeyAction.ROLL, record)
            lifecycle.require_revision(record, expected_revision, "rolled")
            moment = self.clock()
            now = to_iso(moment)
            if expires_at is None:
                target = record.get("expires_at")
                if target is not None and target <= now:
                    raise InvalidInput({"expires_at": (
                        f"{key_id} expired {target[:10]}: "
                        + ("create a new key" if record["scope"] == Scope.ANALYTICS
                           else "give it a new expiry to roll it")
                    )})
            else:
                if record["scope"] == Scope.ANALYTICS:
                    raise InvalidInput({"expires_at": (
                        f"{key_id} is an Analytics key: its expiry cannot change"
                    )})
                target = lifecycle.new_expiry(expires_at)
                lifecycle.require_future(target, now)
            refusal = lifetime_refusal(
                self._policy(transaction.meta), record["scope"], issued_at=now,
                expires_at=target, now=moment,
            )
            if refusal:
                raise InvalidInput({"expires_at": refusal})
            fields, secret, previous_until = lifecycle.rolled_fields(
                record, grace, moment, expires_at=target
            )
            updated = stamped(record, now, self.login, **fields)
            transaction.keys[key_id] = updated
            transaction.changed()
            if previous_until > now:
                ending = f"the previous secret works until {previous_until[:16].replace('T', ' ')} UTC"
            else:
                ending = "the previous secret stopped working at once"
            detail = (
                f"rolled {record['scope']} key {record['name']!r} "
                f"(grace {lifecycle.grace_label(grace)}): {ending}"
            )
            if target != record.get("expires_at"):
                detail += "; " + lifecycle.expiry_note(record.get("expires_at"), target)
            events.append(self._event("key.roll", key_id, detail))
        return RolledKey(
            key=ApiKey.model_validate(updated), secret=SecretStr(secret),
            previous_valid_until=previous_until,
        )

    def disable_keys(self, key_ids: Iterable[str], *, note: str | None = None) -> list[ApiKey]:
        """Disable keys, all or none: verify refuses them (``disabled``) until enabled.

        Keys already disabled are left as they are and not returned. ``note`` (e.g. where a
        scan found the secret) goes into the audit detail.
        """
        suffix = f" ({_audit_note(note)})" if note and note.strip() else ""
        return self._switch_keys(key_ids, disable=True, suffix=suffix)

    def enable_keys(self, key_ids: Iterable[str]) -> list[ApiKey]:
        """Enable disabled keys, all or none; keys that are not disabled are left as they
        are and not returned. A revoked key cannot be enabled."""
        return self._switch_keys(key_ids, disable=False)

    def _switch_keys(self, key_ids: Iterable[str], *, disable: bool, suffix: str = "") -> list[ApiKey]:
        """Disable (or enable) keys, all or none; those already so are skipped, but only for
        a member who could switch them back."""
        from .models import ApiKey

        key_ids = list(dict.fromkeys(key_ids))
        action, undo = access.KeyAction.DISABLE, access.KeyAction.ENABLE
        if not disable:
            action, undo = undo, action
        already = "disabled" if disable else "active"
        verb = "disabled" if disable else "enabled"
        with self._change() as (transaction, role, events):
            records = [self._visible_record(transaction.data, key_id) for key_id in key_ids]
            for record in records:
                chosen = undo if record["status"] == already else action
                access.require_key_action(self.login, role, chosen, record)
            now = self.now()
            fields = lifecycle.disabled_fields(now, self.login) if disable else lifecycle.enabled_fields()
            switched = []
            for record in records:
                if (record["status"] == "disabled") == disable:
                    continue
                updated = stamped(record, now, self.login, **fields)
                transaction.keys[record["id"]] = updated
                switched.append(ApiKey.model_validate(updated))
                events.append(self._event(
                    f"key.{action.value}", record["id"],
                    f"{verb} {record['scope']} key {record['name']!r}{suffix}",
                ))
            if switched:
                transaction.changed()
        return switched

    def expiring_within(self, days: float | None = None) -> list[KeyView]:
        """The keys this member may see that are active and expire within ``days`` (default:
        the policy's warning window), soonest first. ``len()`` of it is the main screen's count
        (:meth:`expiring_count` asks for the number only).
        """
        if days is None:
            days = self.get_policy().warn_days
        now = self.now()
        until = lifecycle.horizon(now, days)
        if self.is_postgres:  # a range of the keys_expiring index
            data = self._current()
            query = self._visible_query(self._role(data), include_revoked=False)
            names = _project_names(data)
            return [_key_view(record["id"], record, names)
                    for record in self._database.expiring(query, now, until)]
        soon = list(self._expiring_views(now, until))
        soon.sort(key=lambda view: view.record["expires_at"])
        return soon

    def expiring_count(self, days: float | None = None) -> int:
        """How many keys :meth:`expiring_within` lists (on PostgreSQL an indexed count, on
        a file one pass over the keys: neither lists nor sorts them)."""
        if days is None:
            days = self.get_policy().warn_days
        now = self.now()
        until = lifecycle.horizon(now, days)
        if not self.is_postgres:
            return sum(1 for _view in self._expiring_views(now, until))
        query = self._visible_query(self._role(self._current()), include_revoked=False)
        return self._database.expiring_count(query, now, until)

    def _expiring_views(self, now: str, until: str) -> Iterator[KeyView]:
        """The file store's keys this member may see that are active and expire in (now, until]."""
        for view in self.list_keys(include_revoked=False):
            if lifecycle.is_expiring(view.record, now, until):
                yield view

    def _refuse_new_expiry(self, meta: dict[str, Any], draft: KeyDraft, moment: datetime) -> None:
        """Refuse a new key's expiry that is past or breaks the policy."""
        from .policy import lifetime_refusal

        now = to_iso(moment)
        expires_at = expiry_from(moment, draft.expires_days) if draft.expires_days else draft.expires_at
        lifecycle.require_future(expires_at, now)
        refusal = lifetime_refusal(
            self._policy(meta), draft.scope, issued_at=now, expires_at=expires_at, now=moment
        )
        if refusal:
            raise InvalidInput({"expires_days" if draft.scope is Scope.ANALYTICS else "expires_at": refusal})

    def _apply_expiry_change(
        self,
        meta: dict[str, Any],
        record: dict[str, Any],
        updated: dict[str, Any],
        requested: str | None,
    ) -> str | None:
        """Set ``updated``'s expiry to ``requested`` (None: unchanged; ``NO_EXPIRY``: none)
        within the policy; the audit note, or None when nothing changed."""
        from .policy import lifetime_refusal

        if requested is None:
            return None
        target = lifecycle.new_expiry(requested)
        if target == record.get("expires_at"):
            return None
        moment = self.clock()
        lifecycle.require_future(target, to_iso(moment))
        refusal = lifetime_refusal(
            self._policy(meta), record["scope"], issued_at=lifecycle.issued_at(record),
            expires_at=target, now=moment,
        )
        if refusal:
            raise InvalidInput({"expires_at": refusal})
        updated["expires_at"] = target  # None is dropped by stamped()
        return lifecycle.expiry_note(record.get("expires_at"), target)

    # -- policy (store.policy) -------------------------------------------------------------

    def get_policy(self) -> Policy:
        """The organisation's key policy (any member may read it)."""
        data = self._current()
        self._role(data)
        return self._policy(data["_meta"]["1"])

    def set_policy(
        self,
        *,
        max_lifetime_days: dict[str, int | None] | None = None,
        warn_days: int | None = None,
    ) -> Policy:
        """Change the policy (owners only): the maximum lifetime of the given scopes (days,
        or None for no limit) and the warning window; what is not given stays. Existing keys
        are not changed: :meth:`policy_violations` lists those that break the new policy."""
        from .policy import changed_policy, describe_changes

        with self._change() as (transaction, role, events):
            access.require_organisation_action(self.login, role, access.OrganisationAction.SET_POLICY)
            before = self._policy(transaction.meta)
            after = changed_policy(before, max_lifetime_days, warn_days)
            notes = describe_changes(before, after)
            if notes:
                transaction.meta["policy"] = after.as_json()
                transaction.changed()
                events.append(self._event("policy.set", None, "; ".join(notes)))
        return after

    def policy_violations(self, limit: int | None = None) -> list[PolicyViolation]:
        """The active keys this member may see that break the policy, oldest first; with
        ``limit``, the first that many (:meth:`policy_violation_count` counts them all)."""
        policy = self.get_policy()
        now = self.now()
        if not self.is_postgres:
            found = self._violations(policy, now, self.list_keys(include_revoked=False), limit)
            return found if limit is None else found[:limit]
        # The database narrows to the candidates (a page at a time when limited);
        # violation() decides each, as on the file.
        data = self._current()
        limits = {scope.value: days for scope, days in policy.max_lifetime_days.items() if days}
        query = self._visible_query(self._role(data), include_revoked=False)
        names = _project_names(data)
        page = None if limit is None else max(2 * limit, 500)
        found, offset = [], 0
        while True:
            records = self._database.lifetime_candidates(query, now, limits, offset=offset, limit=page)
            views = [_key_view(record["id"], record, names) for record in records]
            found += self._violations(policy, now, views, None if limit is None else limit - len(found))
            if page is None or len(records) < page or (limit is not None and len(found) >= limit):
                return found
            offset += page

    @staticmethod
    def _violations(
        policy: Policy, now: str, views: Iterable[KeyView], limit: int | None
    ) -> list[PolicyViolation]:
        """The views that are active at ``now`` and break ``policy`` (the first ``limit``)."""
        from .policy import PolicyViolation, violation

        found: list[PolicyViolation] = []
        for view in views:
            if limit is not None and len(found) >= limit:
                break
            if view.status(now) is not Status.ACTIVE:
                continue
            problem = violation(policy, view.record)
            if problem:
                found.append(PolicyViolation(view, problem))
        return found

    def policy_violation_count(self) -> int:
        """How many keys :meth:`policy_violations` lists (on PostgreSQL an SQL count, plus
        the rolled keys decided one by one), for a summary line."""
        from .policy import violation

        if not self.is_postgres:
            return len(self.policy_violations())
        policy = self.get_policy()
        now = self.now()
        limits = {scope.value: days for scope, days in policy.max_lifetime_days.items() if days}
        query = self._visible_query(self._role(self._current()), include_revoked=False)
        rolled = self._database.lifetime_candidates(query, now, limits, rolled_only=True)
        return self._database.unrolled_lifetime_breakers(query, now, limits) + sum(
            1 for record in rolled
            if status_of(record["status"], record.get("expires_at"), now) is Status.ACTIVE
            and violation(policy, record)
        )

    def first_policy_violations(self, limit: int) -> tuple[list[PolicyViolation], int]:
        """The first ``limit`` keys :meth:`policy_violations` lists (oldest first), and how
        many it lists in all: on PostgreSQL a count and one page, never every key; on the
        file store one pass over the keys in memory."""
        if not self.is_postgres:
            found = self.policy_violations()
            return found[:max(0, limit)], len(found)
        total = self.policy_violation_count()
        return (self.policy_violations(limit=max(0, limit)) if total else []), total

    def _policy(self, meta: dict[str, Any]) -> Policy:
        from .policy import stored_policy

        return stored_policy(meta, self.path)

    # -- projects -------------------------------------------------------------------------

    def list_projects(self) -> list[tuple[Project, int]]:
        """Every project with the number of keys (not revoked) this member can see in it."""
        data = self._current()
        counts: dict[str | None, int] = {}
        if self.is_postgres:  # counted by the database (GROUP BY), not by listing every key
            role = self._role(data)
            counts = self.backend.project_key_counts(
                created_by=None if access.sees_every_key(role) else self.login
            )
        else:
            for view in self.list_keys(include_revoked=False):
                counts[view.project_id] = counts.get(view.project_id, 0) + 1
        projects = [_stored_project(p) for p in data["projects"].values()]
        projects.sort(key=lambda project: project.name.casefold())
        return [(project, counts.get(project.id, 0)) for project in projects]

    def project_count(self) -> int:
        """How many projects the organisation has (any member may know)."""
        data = self._current()
        self._role(data)
        return len(data["projects"])

    def find_project(self, reference: str) -> Project:
        """A project by id, or by name (case-insensitive) when the name is unique."""
        data = self._current()
        self._role(data)
        return _stored_project(self._resolve_project(data["projects"], reference))

    @staticmethod
    def _resolve_project(projects: dict[str, dict[str, Any]], reference: str) -> dict[str, Any]:
        reference = reference.strip()
        if reference in projects:
            return projects[reference]
        matches = [p for p in projects.values() if p["name"].casefold() == reference.casefold()]
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = ", ".join(p["id"] for p in matches)
            raise InvalidInput({"project": f"several projects are named {reference!r}: use an id ({ids})"})
        raise InvalidInput({"project": f"no project {reference!r}: see `apikeys projects list`"})

    def add_project(self, name: str, *, deployed: bool = False) -> Project:
        """Add a project (owner or support)."""
        from .models import Project

        with self._change() as (transaction, role, events):
            access.require_project_manager(self.login, role, "add projects")
            project_id = tokens.new_project_id()
            while project_id in transaction.projects:
                project_id = tokens.new_project_id()
            project = validate_or_raise(Project, {
                "id": project_id, "name": name, "deployed": deployed,
                "created_at": self.now(), "created_by": self.login,
            })
            transaction.projects[project_id] = project.model_dump(mode="json")
            transaction.changed()
            events.append(self._event("project.add", None, f"added project {project.name!r} ({project_id})"))
        return project

    def set_project_deployed(self, project_id: str, deployed: bool) -> Project:
        """Mark a project deployed or not (owner or support)."""
        from .models import Project

        with self._change() as (transaction, role, events):
            access.require_project_manager(self.login, role, "change projects")
            record = self._resolve_project(transaction.projects, project_id)
            if record["deployed"] != deployed:
                record = {**record, "deployed": deployed}
                transaction.projects[record["id"]] = record
                transaction.changed()
                state = "deployed" if deployed else "not deployed"
                events.append(self._event(
                    "project.deploy", None, f"marked project {record['name']!r} ({record['id']}) {state}"
                ))
        return Project.model_validate(record)

    # -- members --------------------------------------------------------------------------

    def list_members(self) -> list[Member]:
        """Every member, by login (any member may read this)."""
        data = self._current()
        self._role(data)
        return sorted((_stored_member(m) for m in data["members"].values()), key=lambda m: m.login)

    def add_member(self, login: str, role: Role | str, display_name: str | None = None) -> Member:
        """Add a member (owners only)."""
        from .models import Member

        login = login.strip()
        with self._change() as (transaction, actor_role, events):
            access.require_owner(self.login, actor_role, "add members")
            if not login or not all(c.isalnum() or c in "._-" for c in login) or len(login) > 32:
                raise InvalidInput({"login": f"{login!r} is not a valid login name"})
            if login in transaction.members:
                raise InvalidInput({"login": f"{login} is already a member"})
            if self.is_postgres:
                if not self.backend.role_exists(login):  # type: ignore[attr-defined]
                    raise InvalidInput({"login": (
                        f"there is no database role {login!r} on {self.place}: members of a "
                        f"PostgreSQL store are database roles; have the DBA create it first "
                        f"(CREATE ROLE \"{login}\" LOGIN)"
                    )})
            elif not account_exists(login):
                raise InvalidInput({"login": (
                    f"{login} has no account on this host: members are logins here; create "
                    "the account first"
                )})
            member = validate_or_raise(Member, {
                "login": login, "role": role,
                "display_name": display_name or display_name_of(login),
                "added_at": self.now(), "added_by": self.login,
            })
            transaction.members[login] = member.model_dump(mode="json")
            transaction.changed()
            events.append(self._event("member.add", None, f"added {login} as {member.role.value}"))
        return member

    def set_member_role(self, login: str, role: Role | str) -> Member:
        """Change a member's role (owners only); the last owner cannot be demoted."""
        from .models import Member

        with self._change() as (transaction, actor_role, events):
            access.require_owner(self.login, actor_role, "change roles")
            record = transaction.members.get(login)
            if record is None:
                raise NotFound(f"no member {login!r}")
            member = validate_or_raise(Member, {**record, "role": role})
            owners = [m for m in transaction.members.values() if m["role"] == Role.OWNER]
            if record["role"] == Role.OWNER and member.role is not Role.OWNER and len(owners) == 1:
                raise InvalidInput({"role": f"{login} is the last owner: make another owner first"})
            if member.role.value != record["role"]:
                transaction.members[login] = member.model_dump(mode="json")
                transaction.changed()
                events.append(self._event(
                    "member.role", None, f"changed {login} from {record['role']} to {member.role.value}"
                ))
        return member

    def remove_member(self, login: str) -> Member:
        """Remove a member (owners only; never the last owner). They lose access at their
        next call; the keys they created stay, created_by unchanged (see
        :meth:`member_logins` to mark such a creator as removed)."""
        with self._change() as (transaction, actor_role, events):
            access.require_organisation_action(
                self.login, actor_role, access.OrganisationAction.MANAGE_MEMBERS
            )
            record = transaction.members.get(login)
            if record is None:
                raise NotFound(f"no member {login!r}")
            owners = [m for m in transaction.members.values() if m["role"] == Role.OWNER]
            if record["role"] == Role.OWNER and len(owners) == 1:
                raise InvalidInput({"login": f"{login} is the last owner: make another owner first"})
            del transaction.members[login]
            transaction.changed()
            if self.is_postgres:  # keys are counted by the database, never listed in a change
                kept = self.backend.count(KeyQuery(created_by=login))
            else:
                kept = sum(1 for key in transaction.keys.values() if key.get("created_by") == login)
            events.append(self._event(
                "member.remove", None,
                f"removed {login} ({record['role']}); "
                + (f"the {kept} key{'' if kept == 1 else 's'} they created stay" if kept
                   else "they created no keys"),
            ))
        return _stored_member(record)

    def member_logins(self) -> frozenset[str]:
        """The logins of the current members: a key's creator not among them was removed
        (screens show e.g. ``bob (removed)``)."""
        data = self._current()
        self._role(data)
        return frozenset(data["members"])

    # -- verify ---------------------------------------------------------------------------

    def verify(
        self,
        secret: str,
        origin: str | None = None,
        ip: str | None = None,
        app_id: str | None = None,
    ) -> Verdict:
        """Is this secret valid here, now, from this origin / IP / app? Never echoes it.

        The answer comes from the file as last written, without the lock; the answer is
        counted for the key's usage (written in batches, never waiting for the lock).
        """
        now = self.now()
        verdict = self._answer(secret, origin, ip, app_id, now)
        self.usage_recorder.note(verdict, now, origin, ip)
        return verdict

    def _answer(
        self, secret: str, origin: str | None, ip: str | None, app_id: str | None, now: str
    ) -> Verdict:
        from .verify import verdict_for  # one import a call (~0.4 µs of ~14 µs)

        scope = tokens.secret_scope(secret)
        if scope is None:
            from .models import Verdict

            return Verdict(valid=False, reason="malformed")
        digest = tokens.hash_secret(secret)
        if self.is_postgres:
            found = self.backend.key_by_hash(digest)
            return verdict_for(found, found.get("id", "") if found else "", digest, now, origin, ip, app_id)
        with self._lock:
            data = self._current()
            key_id = self._hash_lookup(data).get(digest)
            record = data["keys"].get(key_id) if key_id else None
        return verdict_for(record, key_id or "", digest, now, origin, ip, app_id)

    def _hash_lookup(self, data: dict[str, Any]) -> dict[str, str]:
        generation = self.storage.generation
        if self._hash_index is None or self._hash_index[0] != generation:
            from .verify import hash_index

            self._hash_index = (generation, hash_index(data["keys"]))
        return self._hash_index[1]

    def flush_usage(self) -> bool:
        """Write the usage noted by verify now, if the store's lock is free at once; else
        append it to the spool file beside the store, which the next change folds in.
        Returns whether it went to the store. Never waits, never raises for a full disk."""
        return self.usage_recorder.flush(spool=True)

    def usage(self, key_id: str, days: int = 30) -> KeyUsage:
        """A key's valid and refused answers per UTC day over the last ``days`` days (every day,
        zeros included, oldest first), with totals and the last use's time, origin and IP.

        Whoever may view the key may see its usage; to others it is not found.
        """
        from .usage import KEEP_DAYS

        if type(days) is not int or not 1 <= days <= KEEP_DAYS:
            raise InvalidInput({"days": f"choose between 1 and {KEEP_DAYS} days"})
        data = self._current()
        record = self._visible_record(data, key_id)
        today = date.fromisoformat(self.now()[:10])
        return self.usage_recorder.usage_of(data, key_id, record, days, today)

    # -- leaks ----------------------------------------------------------------------------

    def scan(self, paths: Iterable[str], *, git: bool = False) -> ScanReport:
        """Look for leaked secrets in the files under ``paths`` (see :mod:`store.scan`) and
        name the key of each, as far as this member may see it: a secret of a key they may not
        see, or of no key in this store, is reported without a key (never its name).

        A finding's status is that of the secret found: a rolled key's previous secret is
        ``active`` while its grace lasts, then ``rolled``. With ``git``, the history of the git
        repository at each PATH is searched too, for secrets not found in the files themselves.
        """
        from .scan import Finding, scan_files, scan_git_history

        self._role(self._current())  # a login that is not a member scans nothing
        paths = list(paths)
        sightings, report = scan_files(paths, exclude=self._own_files())
        if git:
            in_files = {sighting.secret_hash for sighting in sightings}
            for top in paths:
                history, blobs = scan_git_history(top)
                report.git_blobs += blobs
                sightings += [s for s in history if s.secret_hash not in in_files]
        data = self._current()
        role = self._role(data)
        lookup = self._secret_lookup(data) if sightings else None
        now = self.now()
        for sighting in sightings:
            assert lookup is not None
            record, is_previous = lookup(sighting.secret_hash)
            if not isinstance(record, dict) or not access.can_see(self.login, role, record):
                report.findings.append(Finding(sighting.path, sighting.line, sighting.key_prefix))
                continue
            status = _secret_status(record, now, is_previous)
            report.findings.append(Finding(
                sighting.path, sighting.line, sighting.key_prefix,
                key_id=record.get("id"), name=record.get("name"), status=status,
            ))
        return report

    def _secret_lookup(self, data: Any) -> Callable[[str], tuple[Any, bool]]:
        """A function from a secret's hash to (its key's record or None, whether it is that
        key's previous secret): a lookup per hash on PostgreSQL, dicts of the parse on a file."""
        if self.is_postgres:
            def lookup_in_database(digest: str) -> tuple[Any, bool]:
                record = self.backend.key_by_hash(digest)
                return record, record is not None and record.get("secret_hash") != digest
            return lookup_in_database
        current = self._hash_lookup(data)
        previous = {
            record["previous_secret_hash"]: key_id for key_id, record in data["keys"].items()
            if isinstance(record, dict) and isinstance(record.get("previous_secret_hash"), str)
        }

        def lookup(digest: str) -> tuple[Any, bool]:
            key_id = current.get(digest)
            is_previous = key_id is None
            if is_previous:
                key_id = previous.get(digest)
            return (data["keys"].get(key_id) if key_id else None), is_previous
        return lookup

    def _own_files(self) -> set[tuple[int, int]]:
        """(device, inode) of the store and the files beside it, which hold secrets by design."""
        from .usage import UsageRecorder

        if self.is_postgres:
            return set()
        own = set()
        assert isinstance(self.usage_recorder, UsageRecorder)
        for path in (self.path, self.storage.lock_path, self.audit.path, self.usage_recorder.spool_path):
            try:
                info = os.stat(path)
            except OSError:
                continue
            own.add((info.st_dev, info.st_ino))
        return own

    # -- audit ----------------------------------------------------------------------------

    def history(self, key_id: str | None = None, *, limit: int | None = None) -> list[AuditEvent]:
        """Audit events newest first: all this member may see, or those of one key; with
        ``limit``, the newest that many (on PostgreSQL only those are read)."""
        from .models import AuditEvent

        data = self._current()
        role = self._role(data)
        if key_id is not None:
            self._visible_record(data, key_id)
        if self.is_postgres:
            visible_to = None if access.sees_every_key(role) else self.login
            newest = None if limit is None else max(0, limit)
            records = self._database.audit_records(key_id, visible_to=visible_to, newest=newest)
            return [AuditEvent.model_validate(event) for event in reversed(records)]
        with collector_paused():
            return self._visible_events(key_id, data["keys"], access.sees_every_key(role),
                                        limit=None if limit is None else max(0, limit))

    def _visible_events(
        self, key_id: str | None, keys: dict[str, Any], sees_all: bool, *, limit: int | None = None
    ) -> list[AuditEvent]:
        from .models import AuditEvent

        visible: list[AuditEvent] = []
        for event in reversed(self.audit.records()):
            if limit is not None and len(visible) >= limit:
                break  # the newest ``limit`` are in: the older events are not validated
            event_key = event.get("key_id")
            if key_id is not None and event_key != key_id:
                continue
            if event_key is not None and not sees_all:
                record = keys.get(event_key)
                if not isinstance(record, dict) or record.get("created_by") != self.login:
                    continue
            visible.append(AuditEvent.model_validate(event))
        return visible

    # -- a big file store's first screen ----------------------------------------------------

    def newest_keys(self, count: int) -> NewestKeys | None:
        """The ``count`` newest keys this member may see, revoked ones left out, newest first,
        read from the head of the store file (see store/layout.py) before the rest of it is
        parsed: a first screen that costs the screen, not the store (~3 ms at 100,000 keys).

        A preview only: show it until :meth:`list_keys` (which parses the whole store)
        answers, and act on nothing in it; the head may have been planted or gone stale.
        None when there is no such preview: a PostgreSQL store (it reads windows anyway), a
        store parsed already, a file without a head (an older layout, a hand edit), a login
        that is not a member, or fewer than ``count`` of this member's keys in the head while
        the store holds more (a member who sees only their own keys waits for the whole
        store then). A store that cannot be used is refused as a full read refuses it.
        """
        from .layout import NEWEST_TABLE

        if self.is_postgres or count <= 0:
            return None
        head = self.storage.read_front()
        if head is None:
            return None
        member = head["members"].get(self.login)
        try:
            role = Role(str(member.get("role"))) if isinstance(member, dict) else None
        except (ValueError, TypeError):
            role = None
        if role is None:
            return None  # not a member (or an unknown role): the full load says what to do
        every = access.sees_every_key(role)
        projects = {pid: p["name"] if isinstance(p.get("name"), str) else pid
                    for pid, p in head["projects"].items() if isinstance(p, dict)}
        newest = head[NEWEST_TABLE]
        views = [_key_view(key_id, record, projects) for key_id, record in newest.items()]
        # As the main list orders them (the writer does; a planted head may not): newest
        # first, and of keys made in the same second the one stored last first.
        views.sort(key=lambda view: view.record["created_at"], reverse=True)
        views = [view for view in views if view.record["status"] != "revoked"
                 and (every or view.record["created_by"] == self.login)][:count]
        meta = head["_meta"]["1"]
        key_count = meta.get("key_count")
        key_count = key_count if type(key_count) is int and key_count >= 0 else len(newest)
        if len(views) < count and len(newest) < key_count:
            return None
        organisation = meta.get("organisation")
        return NewestKeys(views, organisation if isinstance(organisation, str) else "", role, key_count)

    # -- internals ------------------------------------------------------------------------

    @contextmanager
    def _change(self) -> Iterator[tuple[Transaction, Role, list[AuditEvent]]]:
        """One locked transaction for the acting member; audit events are appended inside
        the lock once the store has been written, so the trail follows the store's order."""
        events: list[AuditEvent] = []
        with self._lock, self.backend.transaction() as transaction:
            # The file backend has checked the audit file and appended a crashed writer's
            # events (AuditLog.recover) by now.
            role = self._role(transaction.data)
            self.usage_recorder.apply(transaction)  # type: ignore[arg-type]
            yield transaction, role, events  # type: ignore[misc]
            if transaction.dirty and events:
                # File: the events travel in the store file too, and are appended once it is
                # written; PostgreSQL: they are inserted in the same database transaction.
                transaction.record_events(events)

    def _event(self, action: str, key_id: str | None, detail: str) -> AuditEvent:
        from .models import AuditEvent

        return AuditEvent(at=self.now(), actor=self.login, action=action, key_id=key_id, detail=detail)


def new_key_record(
    draft: KeyDraft,
    project_id: str | None,
    login: str,
    moment: datetime,
    *,
    taken: Container[str] = (),
) -> tuple[dict[str, Any], str]:
    """The stored record of a new key and its secret, as :meth:`Repository.create_key` makes it.

    ``project_id`` is the resolved project (None for All organization projects); ``taken`` holds
    the ids already in use. Checks of role and project are the caller's.
    """
    secret = tokens.generate_secret(draft.scope.value)
    key_id = tokens.new_key_id()
    while key_id in taken:
        key_id = tokens.new_key_id()
    now = to_iso(moment)
    record: dict[str, Any] = {
        "id": key_id, "name": draft.name, "scope": draft.scope.value,
        "project_id": project_id, "created_at": now, "created_by": login,
        "updated_at": now, "updated_by": login, "status": "active",
        "revoked_at": None, "revoked_by": None, "last_used_at": None,
        "expires_at": expiry_from(moment, draft.expires_days) if draft.expires_days else draft.expires_at,
        "key_prefix": tokens.key_prefix(secret), "revision": 1,
        "secret_hash": tokens.hash_secret(secret),
        # The dashboard lets admins view Web and Mobile secrets again; an Analytics secret is
        # shown once and never stored.
        "secret": None if draft.scope is Scope.ANALYTICS else secret,
        "web": draft.web.model_dump() if draft.web else None,
        "mobile": draft.mobile.model_dump() if draft.mobile else None,
    }
    return compact(record), secret


def stamped(record: dict[str, Any], now: str, login: str, **fields: Any) -> dict[str, Any]:
    """A new record for a change of ``record`` by ``login``: ``fields`` applied, updated
    at/by set and the revision bumped. Every change of a key goes through here (SPEC §4)."""
    revision = record.get("revision")
    return compact({
        **record, **fields, "updated_at": now, "updated_by": login,
        # A hand-edited revision that is not a whole number restarts the count.
        "revision": (revision if type(revision) is int and revision >= 0 else 0) + 1,
    })


def compact(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its empty (None) fields: readers use ``.get``, and at 100,000 keys
    the nulls alone cost ~7 MB of file and ~17 MB of memory."""
    return {field: value for field, value in record.items() if value is not None}


def _describe_settings_change(before: dict[str, Any], after: dict[str, Any]) -> str:
    parts = []
    for field, value in after.items():
        old = before.get(field)
        if value == old:
            continue
        label = field.replace("_", " ")
        if isinstance(value, list):
            added = [v for v in value if v not in (old or [])]
            removed = [v for v in (old or []) if v not in value]
            change = " ".join([*(f"+{v}" for v in added), *(f"-{v}" for v in removed)])
            parts.append(f"{label} {change}")
        else:
            parts.append(f"{label} {'on' if value else 'off'}")
    return "changed " + ", ".join(parts)


def _facts(key_id: str, record: Any) -> dict[str, Any]:
    """A stored record as the rules and messages read it: itself when it passes the checks,
    else :func:`readable_record` (so a hand-edited record can still be refused or revoked)."""
    if record_problem(record, key_id) is None:
        return record
    return readable_record(record, key_id)


def _key_view(key_id: str, record: Any, projects: dict[str, str]) -> KeyView:
    """A list view of a stored record; a record that fails the checks is flagged."""
    if listable(record, key_id):
        project_id = record.get("project_id")
        project_name = projects.get(project_id, ALL_PROJECTS) if project_id else ALL_PROJECTS
        return KeyView(record, project_name)  # the rest is checked when ``problem`` is read
    problem = record_problem(record, key_id)
    record = readable_record(record, key_id)
    project_name = projects.get(record.get("project_id"), ALL_PROJECTS)
    return KeyView(record, project_name, problem)


def _key_of(key_id: str, record: dict[str, Any]) -> ApiKey:
    """A stored record as a key; one that fails validation (hand-edited) is built unchecked
    from its readable fields, for a caller that needs only its id and name (revoke)."""
    from .models import ApiKey

    if record_problem(record, key_id) is None:
        try:
            return ApiKey.model_validate(record)
        except ValueError:
            pass
    return ApiKey.model_construct(**readable_record(record, key_id))


def _checked_expiry(expires_at: str | None) -> str | None:
    """A requested expiry (ISO time, NO_EXPIRY or None) checked for its form."""
    try:
        return check_expiry_text(expires_at)
    except ValueError as error:
        raise InvalidInput({"expires_at": str(error)}) from None


def _audit_note(note: str) -> str:
    """A caller's note for the audit detail: one line, at most 200 characters."""
    return " ".join(note.split())[:200]


def _secret_status(record: dict[str, Any], now: str, is_previous: bool) -> str:
    """The status of a found secret: its key's, or for a rolled key's previous secret,
    ``active`` while its grace lasts and ``rolled`` after."""
    try:
        status = status_of(record["status"], record.get("expires_at"), now).value
    except (KeyError, TypeError, ValueError):
        return "invalid_record"
    if is_previous and status == "active":
        until = record.get("previous_valid_until")
        return "active" if isinstance(until, str) and now < until else "rolled"
    return status


def _rule_facts(key: ApiKey | KeyView) -> dict[str, Any]:
    """What the rule book needs to know of a key, from a list view or a full key."""
    if isinstance(key, KeyView):
        return key.record
    return {
        "id": key.id, "created_by": key.created_by, "status": key.status,
        "scope": key.scope.value, "secret": key.secret is not None,
    }


def _stored_project(record: dict[str, Any]) -> Project:
    """A project as stored. Names are checked when written, not when read: a hand-edited
    file may hold characters the checks refuse, and the screens replace them on display."""
    from .models import Project

    return Project.model_construct(**record)


def _stored_member(record: dict[str, Any]) -> Member:
    """A member as stored (not re-validated: see :func:`_stored_project`)."""
    from .models import Member

    return Member.model_construct(**{**record, "role": Role(record["role"])})


__all__ = [
    "ALL_PROJECTS", "Repository", "current_login", "default_store_path", "new_key_record",
    "account_exists", "NO_EXPIRY",
]


def _project_names(data: Mapping[str, Any]) -> dict[str, str]:
    """Project id → name, as key views show them."""
    return {pid: project.get("name", pid) for pid, project in data["projects"].items()}


ModelT = TypeVar("ModelT", bound="BaseModel")


def _validated(model: type[ModelT], data: ModelT | dict[str, Any]) -> ModelT:
    """``data`` as ``model``: as given when it is one already, else validated
    (:class:`InvalidInput` by field)."""
    if isinstance(data, model):
        return data
    validated: ModelT = validate_or_raise(model, data)
    return validated
