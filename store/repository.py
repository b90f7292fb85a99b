"""The one interface the UI and the command line call: keys, projects, members, verify, audit.

A :class:`Repository` acts for one login (the OS account running it). Every read checks what
that member may see; every change checks their role, happens inside one locked transaction of
the store file and appends its audit events before the lock is released.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import os
import pwd
import secrets
import threading
from collections.abc import Callable, Container, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import SecretStr

from . import access, tokens
from .audit import AuditLog
from .errors import Forbidden, InvalidInput, NotFound
from .models import (
    ApiKey,
    AuditEvent,
    CreatedKey,
    KeyChanges,
    KeyDraft,
    KeyView,
    Member,
    MobileSettings,
    Project,
    Role,
    Scope,
    Status,
    Verdict,
    WebSettings,
    check_display_text,
    expiry_from,
    normalise_origin,
    status_of,
    to_iso,
    utc_now,
    validate_or_raise,
)
from .find import KeyFinder, parse_query
from .scan import Finding, ScanReport, scan_files, scan_git_history
from .storage import StoreFile, Transaction, collector_paused, empty_tables
from .usage import KEEP_DAYS, KeyUsage, UsageRecorder

ALL_PROJECTS = "All organization projects"


def current_login() -> str:
    """The OS account of the effective user id: never ``$USER``, which anyone can set."""
    return pwd.getpwuid(os.geteuid()).pw_name


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
        self.storage = StoreFile(path)
        self.audit = AuditLog(self.storage)
        self.login = login or current_login()
        self.clock = clock
        self._lock = threading.RLock()
        self._hash_index: tuple[int, dict[str, str]] | None = None
        self._views: tuple[int, list[KeyView]] | None = None
        self.usage_recorder = UsageRecorder(self.storage, self._lock, self.now)
        self._finder: tuple[int, KeyFinder] | None = None

    def __repr__(self) -> str:
        return f"Repository({str(self.path)!r}, login={self.login!r})"

    @property
    def path(self) -> Path:
        """The store file."""
        return self.storage.path

    def now(self) -> str:
        """The current time as stored (ISO, UTC)."""
        return to_iso(self.clock())

    # -- the store itself -----------------------------------------------------------------

    def initialise(self, organisation: str | None = None, *, group: str | None = None) -> bool:
        """Create the store with this login as its owner; False if it already existed."""
        name = check_display_text(
            organisation or f"{self.login}'s organisation", what="organisation name", max_length=80
        )
        now = self.now()
        data = empty_tables({"organisation": name, "created_at": now, "created_by": self.login})
        data["members"][self.login] = Member(
            login=self.login, display_name=display_name_of(self.login), role=Role.OWNER,
            added_at=now, added_by=self.login,
        ).model_dump(mode="json")
        created = self.storage.create(data, group=group)
        if created:
            self.audit.append([self._event("store.init", None, f"created organisation {name!r}")])
        return created

    def open_or_create(self) -> None:
        """Use the store, creating it with this login as owner when it does not exist yet."""
        if not self.storage.exists():
            self.initialise()
        self.storage.current()

    def organisation(self) -> str:
        """The organisation's name."""
        return self.storage.current()["_meta"]["1"].get("organisation", "")

    def changed_marker(self) -> object:
        """A cheap token (one stat) that differs whenever the file was replaced."""
        return self.storage.identity()

    # -- who is acting --------------------------------------------------------------------

    def me(self) -> Member:
        """The acting member; refuses a login that is not a member."""
        data = self.storage.current()
        return _stored_member(self._member_record(data))

    def _member_record(self, data: dict[str, Any]) -> dict[str, Any]:
        record = data["members"].get(self.login)
        if record is None:
            organisation = data["_meta"]["1"].get("organisation", "this organisation")
            raise Forbidden(
                f"{self.login} is not a member of {organisation!r}: ask an owner to run "
                f"`apikeys members add {self.login} --role developer`"
            )
        return record

    def _role(self, data: dict[str, Any]) -> Role:
        return Role(self._member_record(data)["role"])

    # -- keys: reading --------------------------------------------------------------------

    def list_keys(self, *, include_revoked: bool = True, scope: str | None = None) -> list[KeyView]:
        """The keys this member may see, oldest first, as cheap read-only views."""
        with self._lock:
            data = self.storage.current()
            role = self._role(data)
            generation = self.storage.generation
            if self._views is None or self._views[0] != generation:
                projects = {pid: p.get("name", pid) for pid, p in data["projects"].items()}
                with collector_paused():
                    self._views = (generation, [
                        KeyView(record, projects.get(record.get("project_id"), ALL_PROJECTS)
                                if record.get("project_id") else ALL_PROJECTS)
                        for record in data["keys"].values()
                    ])
            views = self._views[1]
        if not access.sees_every_key(role):
            views = [view for view in views if view.record["created_by"] == self.login]
        if not include_revoked:
            views = [view for view in views if view.record["status"] != "revoked"]
        if scope is not None:
            views = [view for view in views if view.record["scope"] == scope]
        return views

    def find_keys(
        self, text: str, *, include_revoked: bool = True, scope: str | None = None
    ) -> list[KeyView]:
        """The keys this member may see that match ``text`` (see :mod:`store.find`): every
        word somewhere in name, id, key prefix, project, scope, creator or status; a pasted
        full secret finds exactly its key. Oldest first, like :meth:`list_keys`."""
        query = parse_query(text)
        with self._lock:
            views = self.list_keys(include_revoked=include_revoked, scope=scope)
            if not query:
                return views
            found = {id(view) for view in self.key_finder().find(query, self.now())}
        return [view for view in views if id(view) in found]

    def key_finder(self) -> KeyFinder:
        """The matcher over every key of the store as last read (all members' keys: filter
        by what the member may see afterwards), built once per store generation."""
        with self._lock:
            self.list_keys()  # the views of the current generation
            assert self._views is not None
            generation, views = self._views
            if self._finder is None or self._finder[0] != generation:
                self._finder = (generation, KeyFinder(views, self.now()))
            return self._finder[1]

    def get_key(self, key_id: str) -> ApiKey:
        """One key with every field; :class:`NotFound` if this member may not see it."""
        data = self.storage.current()
        return ApiKey.model_validate(self._visible_record(data, key_id))

    def _visible_record(self, data: dict[str, Any], key_id: str) -> dict[str, Any]:
        role = self._role(data)
        record = data["keys"].get(key_id)
        if record is None or not access.can_see(self.login, role, record):
            raise NotFound(f"no key {key_id!r}")
        return record

    def project_name(self, project_id: str | None) -> str:
        """A project's name (or its id if unknown); None means All organization projects."""
        data = self.storage.current()
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
        return access.can_change(self.login, self.me().role, _rule_facts(key))

    def refusal(
        self, action: access.KeyAction | access.OrganisationAction | str,
        key: ApiKey | KeyView | None = None,
    ) -> str | None:
        """Why this member may not do ``action`` (to ``key``, for a key action); None if they may.

        The one question screens and the command line ask before offering an action: the
        answer comes from the rule book (:mod:`store.access`), the same one every change obeys.
        """
        role = self.me().role
        if key is None:
            return access.organisation_refusal(self.login, role, action)
        return access.key_refusal(self.login, role, action, _rule_facts(key))

    # -- keys: changing -------------------------------------------------------------------

    def create_key(self, draft: KeyDraft | dict[str, Any]) -> CreatedKey:
        """Validate ``draft``, store a new key and return it with its secret (shown once)."""
        if not isinstance(draft, KeyDraft):
            draft = validate_or_raise(KeyDraft, draft)
        with self._change() as (transaction, role, events):
            project_id = None
            if draft.all_projects:
                if not access.may_use_all_projects(role):
                    raise Forbidden(
                        f"{self.login} is {role.value}: only an owner, support or analytics "
                        "member may make a key for All organization projects"
                    )
            else:
                project = self._resolve_project(transaction.projects, draft.project_id or "")
                if draft.scope is Scope.WEB and not project["deployed"]:
                    raise InvalidInput({"project": (
                        f"project {project['name']!r} is not deployed: deploy it before "
                        "making a Web key for it"
                    )})
                project_id = project["id"]
            record, secret = new_key_record(
                draft, project_id, self.login, self.clock(), taken=transaction.keys
            )
            key_id = record["id"]
            key = ApiKey.model_validate(record)
            transaction.keys[key_id] = record
            transaction.changed()
            where = f"project {project_id}" if project_id else ALL_PROJECTS
            events.append(self._event(
                "key.create", key_id, f"created {draft.scope.value} key {draft.name!r} for {where}"
            ))
        return CreatedKey(key=key, secret=SecretStr(secret))

    def edit_key(self, key_id: str, changes: KeyChanges | dict[str, Any]) -> ApiKey:
        """Change the name and settings of a Web or Mobile key; the secret stays the same."""
        if not isinstance(changes, KeyChanges):
            changes = validate_or_raise(KeyChanges, changes)
        with self._change() as (transaction, role, events):
            record = self._visible_record(transaction.data, key_id)
            access.require_change(self.login, role, record, "edit")
            if record["status"] == "revoked":
                raise InvalidInput({"key": f"{key_id} is revoked: a revoked key cannot be edited"})
            if record["scope"] == Scope.ANALYTICS:
                raise InvalidInput({"scope": (
                    f"{key_id} is an Analytics key, which cannot be edited: revoke it and "
                    "create a new one"
                )})
            if changes.web is not None and record["scope"] != Scope.WEB:
                raise InvalidInput({"scope": f"{key_id} is a {record['scope']} key, not a Web key"})
            if changes.mobile is not None and record["scope"] != Scope.MOBILE:
                raise InvalidInput({"scope": f"{key_id} is a {record['scope']} key, not a Mobile key"})
            updated = dict(record)
            notes = []
            if changes.name is not None and changes.name != record["name"]:
                updated["name"] = changes.name
                notes.append(f"renamed {record['name']!r} to {changes.name!r}")
            for field, settings in (("web", changes.web), ("mobile", changes.mobile)):
                if settings is not None and settings.model_dump() != record.get(field):
                    updated[field] = settings.model_dump()
                    notes.append(_describe_settings_change(record.get(field) or {}, updated[field]))
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
            records = [self._visible_record(transaction.data, key_id) for key_id in key_ids]
            for record in records:
                access.require_change(self.login, role, record, "revoke")
            now = self.now()
            revoked = []
            for record in records:
                if record["status"] == "revoked":
                    continue
                updated = stamped(
                    record, now, self.login,
                    status="revoked", revoked_at=now, revoked_by=self.login, secret=None,  # wiped
                )
                transaction.keys[record["id"]] = updated
                revoked.append(ApiKey.model_validate(updated))
                events.append(self._event(
                    "key.revoke", record["id"], f"revoked {record['scope']} key {record['name']!r}"
                ))
            if revoked:
                transaction.changed()
        return revoked

    # -- projects -------------------------------------------------------------------------

    def list_projects(self) -> list[tuple[Project, int]]:
        """Every project with the number of keys (not revoked) this member can see in it."""
        data = self.storage.current()
        counts: dict[str | None, int] = {}
        for view in self.list_keys(include_revoked=False):
            counts[view.project_id] = counts.get(view.project_id, 0) + 1
        projects = [_stored_project(p) for p in data["projects"].values()]
        projects.sort(key=lambda project: project.name.casefold())
        return [(project, counts.get(project.id, 0)) for project in projects]

    def project_count(self) -> int:
        """How many projects the organisation has (any member may know)."""
        data = self.storage.current()
        self._role(data)
        return len(data["projects"])

    def find_project(self, reference: str) -> Project:
        """A project by id, or by name (case-insensitive) when the name is unique."""
        data = self.storage.current()
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
        data = self.storage.current()
        self._role(data)
        return sorted((_stored_member(m) for m in data["members"].values()), key=lambda m: m.login)

    def add_member(self, login: str, role: Role | str, display_name: str | None = None) -> Member:
        """Add a member (owners only)."""
        login = login.strip()
        with self._change() as (transaction, actor_role, events):
            access.require_owner(self.login, actor_role, "add members")
            if not login or not all(c.isalnum() or c in "._-" for c in login) or len(login) > 32:
                raise InvalidInput({"login": f"{login!r} is not a valid login name"})
            if login in transaction.members:
                raise InvalidInput({"login": f"{login} is already a member"})
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
        scope = tokens.secret_scope(secret)
        if scope is None:
            return Verdict(valid=False, reason="malformed")
        digest = tokens.hash_secret(secret)
        with self._lock:
            data = self.storage.current()
            key_id = self._hash_lookup(data).get(digest)
            record = data["keys"].get(key_id) if key_id else None
        if record is None or not hmac.compare_digest(record["secret_hash"], digest):
            return Verdict(valid=False, reason="unknown")
        found = {"key_id": record["id"], "scope": record["scope"]}
        status = status_of(record["status"], record.get("expires_at"), now)
        if status is not Status.ACTIVE:
            return Verdict(valid=False, reason=status.value, **found)
        reason = _usage_refusal(record, origin, ip, app_id)
        if reason:
            return Verdict(valid=False, reason=reason, **found)
        return Verdict(valid=True, **found)

    def _hash_lookup(self, data: dict[str, Any]) -> dict[str, str]:
        generation = self.storage.generation
        if self._hash_index is None or self._hash_index[0] != generation:
            index = {record["secret_hash"]: key_id for key_id, record in data["keys"].items()}
            self._hash_index = (generation, index)
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
        if type(days) is not int or not 1 <= days <= KEEP_DAYS:
            raise InvalidInput({"days": f"choose between 1 and {KEEP_DAYS} days"})
        data = self.storage.current()
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
        self._role(self.storage.current())  # a login that is not a member scans nothing
        paths = list(paths)
        sightings, report = scan_files(paths, exclude=self._own_files())
        if git:
            in_files = {sighting.secret_hash for sighting in sightings}
            for top in paths:
                history, blobs = scan_git_history(top)
                report.git_blobs += blobs
                sightings += [s for s in history if s.secret_hash not in in_files]
        data = self.storage.current()
        role = self._role(data)
        current = self._hash_lookup(data)
        previous = {
            record["previous_secret_hash"]: key_id for key_id, record in data["keys"].items()
            if isinstance(record, dict) and isinstance(record.get("previous_secret_hash"), str)
        } if sightings else {}
        now = self.now()
        for sighting in sightings:
            key_id = current.get(sighting.secret_hash)
            is_previous = key_id is None
            if is_previous:
                key_id = previous.get(sighting.secret_hash)
            record = data["keys"].get(key_id) if key_id else None
            if not isinstance(record, dict) or not access.can_see(self.login, role, record):
                report.findings.append(Finding(sighting.path, sighting.line, sighting.key_prefix))
                continue
            status = _secret_status(record, now, is_previous)
            report.findings.append(Finding(
                sighting.path, sighting.line, sighting.key_prefix,
                key_id=record.get("id"), name=record.get("name"), status=status,
            ))
        return report

    def _own_files(self) -> set[tuple[int, int]]:
        """(device, inode) of the store and the files beside it, which hold secrets by design."""
        own = set()
        for path in (self.path, self.storage.lock_path, self.audit.path, self.usage_recorder.spool_path):
            try:
                info = os.stat(path)
            except OSError:
                continue
            own.add((info.st_dev, info.st_ino))
        return own

    # -- audit ----------------------------------------------------------------------------

    def history(self, key_id: str | None = None) -> list[AuditEvent]:
        """Audit events newest first: all this member may see, or those of one key."""
        data = self.storage.current()
        role = self._role(data)
        if key_id is not None:
            self._visible_record(data, key_id)
        with collector_paused():
            return self._visible_events(key_id, data["keys"], access.sees_every_key(role))

    def _visible_events(
        self, key_id: str | None, keys: dict[str, Any], sees_all: bool
    ) -> list[AuditEvent]:
        visible = []
        for event in reversed(self.audit.records()):
            event_key = event.get("key_id")
            if key_id is not None and event_key != key_id:
                continue
            if event_key is not None and not sees_all:
                record = keys.get(event_key)
                if record is None or record["created_by"] != self.login:
                    continue
            visible.append(AuditEvent.model_validate(event))
        return visible

    # -- internals ------------------------------------------------------------------------

    @contextmanager
    def _change(self) -> Iterator[tuple[Transaction, Role, list[AuditEvent]]]:
        """One locked transaction for the acting member; audit events are appended inside
        the lock once the store has been written, so the trail follows the store's order."""
        events: list[AuditEvent] = []
        with self._lock, self.storage.transaction() as transaction:
            self.audit.recover(transaction.meta.get("audit_pending"))
            role = self._role(transaction.data)
            self.usage_recorder.apply(transaction)
            yield transaction, role, events
            if transaction.dirty and events:
                # The events travel in the store file too: if this process dies between the
                # replace and the append, the next change appends them (AuditLog.recover).
                transaction_id = secrets.token_hex(8)
                transaction.meta["audit_pending"] = {
                    "txn": transaction_id, "events": [event.model_dump() for event in events],
                }
                transaction.after_write.append(lambda: self.audit.append(events, transaction_id))

    def _event(self, action: str, key_id: str | None, detail: str) -> AuditEvent:
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
        "expires_at": expiry_from(moment, draft.expires_days) if draft.expires_days else None,
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
    return compact({
        **record, **fields, "updated_at": now, "updated_by": login,
        "revision": int(record.get("revision") or 0) + 1,
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


def _usage_refusal(record: dict[str, Any], origin: str | None, ip: str | None, app_id: str | None) -> str | None:
    """Why a found, active key may not be used from here; None when it may."""
    if record["scope"] == Scope.WEB:
        web = record.get("web") or {}
        if origin is not None:
            try:
                if _canonical_origin(origin) in web.get("domains", []):
                    return None
            except ValueError:
                pass
        if web.get("developing_locally") and ip is not None:
            try:
                address = ipaddress.ip_address(ip.strip())
            except ValueError:
                return "ip_not_allowed"
            if any(address in ipaddress.ip_network(n) for n in web.get("networks", [])):
                return None
            return "ip_not_allowed"
        return "origin_not_allowed"
    if record["scope"] == Scope.MOBILE and app_id is not None:
        mobile = record.get("mobile") or {}
        if app_id not in [*mobile.get("ios_bundle_ids", []), *mobile.get("android_packages", [])]:
            return "app_not_allowed"
    return None


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
    return Project.model_construct(**record)


def _stored_member(record: dict[str, Any]) -> Member:
    """A member as stored (not re-validated: see :func:`_stored_project`)."""
    return Member.model_construct(**{**record, "role": Role(record["role"])})


@functools.lru_cache(maxsize=4096)
def _canonical_origin(origin: str) -> str:
    """The canonical form of an origin a client sent (cached: clients repeat them)."""
    return normalise_origin(origin)


__all__ = [
    "ALL_PROJECTS", "Repository", "current_login", "default_store_path", "new_key_record",
    "WebSettings", "MobileSettings", "KeyDraft", "KeyChanges",
]
