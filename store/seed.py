"""Demo data: a new store full of realistic members, projects and keys, written in one go.

Every key record is built by :func:`store.repository.new_key_record`, exactly as a create
builds it, then some are aged, used, revoked or left to expire. Then the lifecycle (SPEC §9):
some Web and Mobile keys are disabled, rolled (the previous secret still inside its grace) or
given an expiry (a few within the warning window), a policy is set, and recently used keys get
usage counts for their last 30 days. That pass draws from a generator of its own, so the keys
made before it are the same as without it. The whole store is written in
one atomic write and the audit trail in one append, so 100,000 keys take seconds, not hours.
Choices come from ``random.Random(seed)``; secrets and key ids still come from
:mod:`store.tokens`, so two stores seeded alike differ only in those.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from . import lifecycle
from .errors import StoreUnusable
from .models import (
    AuditEvent,
    KeyDraft,
    Member,
    MobileSettings,
    Project,
    Role,
    Scope,
    WebSettings,
    to_iso,
    utc_now,
)
from .repository import ALL_PROJECTS, Repository, display_name_of, new_key_record, stamped
from .storage import collector_paused, empty_tables
from .usage import USAGE_TABLE

ORGANISATION = "Northwind Studio"
HISTORY_DAYS = 240  # keys were created over the past eight months or so

# login, display name, role: every role at least once besides the owner running the demo.
MEMBERS = (
    ("mgarcia", "María García", Role.OWNER),
    ("jchen", "Jun Chen", Role.SUPPORT),
    ("apatel", "Anika Patel", Role.ANALYTICS),
    ("tnguyen", "Thanh Nguyen", Role.DEVELOPER),
    ("okowalski", "Ola Kowalski", Role.DEVELOPER),
    ("bmensah", "Ben Mensah", Role.DEVELOPER),
)

# name, deployed, web host, app id stem
PROJECTS = (
    ("Storefront", True, "shop.northwind.example", "com.northwind.shop"),
    ("Checkout", True, "checkout.northwind.example", "com.northwind.checkout"),
    ("Customer portal", True, "my.northwind.example", "com.northwind.portal"),
    ("Marketing site", True, "www.northwind.example", "com.northwind.www"),
    ("Loyalty app", True, "rewards.northwind.example", "com.northwind.rewards"),
    ("Partner API", True, "partners.northwind.example", "com.northwind.partners"),
    ("Help centre", True, "help.northwind.example", "com.northwind.help"),
    ("Internal dashboard", True, "ops.northwind.example", "com.northwind.ops"),
    ("Data warehouse", True, "data.northwind.example", "com.northwind.data"),
    ("Kiosk pilot", False, "kiosk.northwind.example", "com.northwind.kiosk"),
    ("Wearables (beta)", False, "wear.northwind.example", "com.northwind.wear"),
    ("Voice assistant", False, "voice.northwind.example", "com.northwind.voice"),
)

WEB_NAMES = (
    "Checkout widget", "Search bar", "Product reviews", "Newsletter sign-up", "Store locator",
    "Chat bubble", "Recommendations", "Cart drawer", "Login form", "Price alerts",
)
MOBILE_NAMES = (
    "iOS app", "Android app", "Android app (beta)", "iPad app", "Companion app",
    "Push notifications", "In-app purchases", "Offline sync",
)
ANALYTICS_NAMES = (
    "Weekly export", "BI dashboard", "Revenue report", "Funnel analysis", "Data lake sync",
    "Board report", "Cohort study", "Attribution model",
)
ENVIRONMENTS = ("prod", "staging", "dev", "QA", "canary")
# The demo's policy: Web keys live at most a year (so old Web keys without expiry break it).
DEMO_POLICY = {"max_lifetime_days": {"web": 365, "mobile": None, "analytics": 90}, "warn_days": 14}
USAGE_KEYS_MAX = 300  # keys with usage counts: enough for any screen, small at 100,000 keys
USAGE_DAYS = 30
ORIGIN_IPS = ("203.0.113.7", "198.51.100.23", "192.0.2.41", "2001:db8::15")
LOCAL_NETWORKS = ("10.0.0.0/8", "192.168.1.0/24", "172.16.0.0/12", "127.0.0.1/32", "fd00::/8")


def seed_demo(
    path: str | os.PathLike[str],
    login: str,
    *,
    keys: int = 40,
    seed: int | None = None,
    clock: Callable[[], datetime] = utc_now,
    progress: Callable[[int, int], None] | None = None,
) -> Repository:
    """Create a new store at ``path`` with ``login`` as owner, members, projects and ``keys``
    keys of every scope and state; return a repository on it for ``login``.

    ``progress(made, keys)`` is called as the keys are made (about a hundred times at most,
    and once with ``made == keys`` before the store is written).
    Refuses (:class:`StoreUnusable`) a path where a store already exists; never changes it.
    """
    if keys < 0:
        raise ValueError("keys must not be negative")
    rng = random.Random(seed)
    now = clock()
    start = now - timedelta(days=HISTORY_DAYS + 30)
    repo = Repository(path, login, clock=clock)
    data = empty_tables({
        "organisation": ORGANISATION, "created_at": to_iso(start), "created_by": login,
    })
    events = [AuditEvent(at=to_iso(start), actor=login, action="store.init",
                         detail=f"created organisation {ORGANISATION!r}")]

    members = _members(login, start, events)
    projects = _projects(rng, login, start, events)
    data["members"] = {member["login"]: member for member in members}
    data["projects"] = {project["id"]: project for project in projects}
    # Millions of small objects, none cyclic: the cyclic collector would rescan them again
    # and again while they are built.
    with collector_paused():
        data["keys"] = _keys(rng, keys, now, members, projects, events, progress)
        lives = random.Random(None if seed is None else seed + 1)
        data[USAGE_TABLE] = _lifecycle(lives, data["keys"], now, login, events)
    data["_meta"]["1"]["policy"] = DEMO_POLICY

    events.sort(key=lambda event: event.at)  # stable: each key's create precedes its revoke
    if not repo.storage.create(data):
        raise StoreUnusable(
            f"{repo.path} already exists: the demo seeds a new store only; it was not changed"
        )
    repo.audit.append(events)
    return repo


def _members(login: str, start: datetime, events: list[AuditEvent]) -> list[dict[str, Any]]:
    records = [Member(
        login=login, display_name=display_name_of(login), role=Role.OWNER,
        added_at=to_iso(start), added_by=login,
    ).model_dump(mode="json")]
    for offset, (member_login, display_name, role) in enumerate(MEMBERS):
        if member_login == login:
            continue
        added = to_iso(start + timedelta(hours=1 + offset))
        records.append(Member(
            login=member_login, display_name=display_name, role=role, added_at=added, added_by=login,
        ).model_dump(mode="json"))
        events.append(AuditEvent(at=added, actor=login, action="member.add",
                                 detail=f"added {member_login} as {role.value}"))
    return records


def _projects(
    rng: random.Random, login: str, start: datetime, events: list[AuditEvent]
) -> list[dict[str, Any]]:
    records = []
    used: set[str] = set()
    for offset, (name, deployed, _host, _app) in enumerate(PROJECTS):
        project_id = f"prj_{rng.getrandbits(24):06x}"
        while project_id in used:
            project_id = f"prj_{rng.getrandbits(24):06x}"
        used.add(project_id)
        created = to_iso(start + timedelta(days=1, hours=offset))
        records.append(Project(
            id=project_id, name=name, deployed=deployed, created_at=created, created_by=login,
        ).model_dump(mode="json"))
        events.append(AuditEvent(at=created, actor=login, action="project.add",
                                 detail=f"added project {name!r} ({project_id})"))
    return records


class _Settings:
    """Validated per-project settings to draw from, so 100,000 drafts validate cheaply."""

    def __init__(self, rng: random.Random, projects: list[dict[str, Any]]) -> None:
        self.web: dict[str, list[WebSettings]] = {}
        self.mobile: dict[str, list[MobileSettings]] = {}
        for project, (_name, _deployed, host, app) in zip(projects, PROJECTS, strict=False):
            apex = host.split(".", 1)[1]
            staging = f"https://staging.{host}"
            port = rng.choice((3000, 5173, 8000, 8080))
            self.web[project["id"]] = [
                WebSettings(domains=[f"https://{host}"]),
                WebSettings(domains=[f"https://{host}", f"https://www.{apex}"], cross_page_persistence=True),
                WebSettings(domains=[staging]),
                WebSettings(
                    domains=[staging, f"http://localhost:{port}"], developing_locally=True,
                    networks=rng.sample(LOCAL_NETWORKS, 2),
                ),
                WebSettings(
                    domains=[f"http://localhost:{port}"], developing_locally=True,
                    networks=[rng.choice(LOCAL_NETWORKS)], cross_page_persistence=True,
                ),
            ]
            self.mobile[project["id"]] = [
                MobileSettings(ios_bundle_ids=[f"{app}.ios"]),
                MobileSettings(android_packages=[f"{app}.android"]),
                MobileSettings(ios_bundle_ids=[f"{app}.ios"], android_packages=[f"{app}.android"]),
                MobileSettings(android_packages=[f"{app}.android.beta"]),
            ]


def _keys(
    rng: random.Random,
    count: int,
    now: datetime,
    members: list[dict[str, Any]],
    projects: list[dict[str, Any]],
    events: list[AuditEvent],
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, dict[str, Any]]:
    settings = _Settings(rng, projects)
    step = max(1, -(-count // 100))  # at most ~100 reports, whatever the count
    deployed = [p for p in projects if p["deployed"]]
    everyone = [m["login"] for m in members]
    # Owners, support and analytics may make All-organization Analytics keys.
    wide = [m["login"] for m in members if m["role"] != Role.DEVELOPER]
    keys: dict[str, dict[str, Any]] = {}
    for _ in range(count):
        scope = rng.choices((Scope.WEB, Scope.MOBILE, Scope.ANALYTICS), weights=(5, 3, 2))[0]
        creator = rng.choice(everyone)
        age = timedelta(seconds=rng.randrange(HISTORY_DAYS * 86400))
        draft: dict[str, Any] = {"scope": scope}
        project: dict[str, Any] | None
        if scope is Scope.WEB:
            project = rng.choice(deployed)
            draft["web"] = rng.choice(settings.web[project["id"]])
            base = rng.choice(WEB_NAMES)
        elif scope is Scope.MOBILE:
            project = rng.choice(projects)
            draft["mobile"] = rng.choice(settings.mobile[project["id"]])
            base = rng.choice(MOBILE_NAMES)
        else:
            project = None if rng.random() < 0.2 else rng.choice(projects)
            if project is None:
                creator = rng.choice(wide)
            days = rng.choice((30, 60, 90))
            draft["expires_days"] = days
            base = rng.choice(ANALYTICS_NAMES)
            roll = rng.random()
            if roll < 0.15:  # expires within the coming week
                age = timedelta(days=days) - timedelta(seconds=rng.randrange(60, 7 * 86400))
            elif roll < 0.30:  # already expired
                age = timedelta(days=days) + timedelta(seconds=rng.randrange(60, 60 * 86400))
            else:  # well within its life
                age = timedelta(seconds=rng.randrange(max(60, (days - 8) * 86400)))
        draft["name"] = f"{base} – {rng.choice(ENVIRONMENTS)}"
        if project is None:
            draft["all_projects"] = True
        else:
            draft["project_id"] = project["id"]
        created = now - age
        record, _secret = new_key_record(
            KeyDraft.model_validate(draft), None if project is None else project["id"],
            creator, created, taken=keys,
        )
        if rng.random() < 0.6:
            used = to_iso(created + (now - created) * rng.random())
            record["last_used_at"] = min(used, record.get("expires_at") or used)
        where = f"project {project['id']}" if project else ALL_PROJECTS
        events.append(AuditEvent(at=record["created_at"], actor=creator, action="key.create",
                                 key_id=record["id"],
                                 detail=f"created {scope.value} key {draft['name']!r} for {where}"))
        if rng.random() < 0.1:
            _revoke(rng, record, created, now, creator, members, events)
        keys[record["id"]] = record
        if progress is not None and len(keys) % step == 0:
            progress(len(keys), count)
    if progress is not None and (count == 0 or count % step):
        progress(count, count)
    return keys


def _revoke(
    rng: random.Random,
    record: dict[str, Any],
    created: datetime,
    now: datetime,
    creator: str,
    members: list[dict[str, Any]],
    events: list[AuditEvent],
) -> None:
    """Revoke as :meth:`Repository.revoke_keys` does: wipe the secret, keep the hash."""
    owners = [m["login"] for m in members if m["role"] == Role.OWNER]
    actor = creator if rng.random() < 0.7 else rng.choice(owners)
    when = to_iso(created + (now - created) * rng.random())
    if record.get("last_used_at") and record["last_used_at"] > when:
        record["last_used_at"] = when
    record.pop("secret", None)  # wiped
    record.update({
        "status": "revoked", "revoked_at": when, "revoked_by": actor,
        "updated_at": when, "updated_by": actor,
    })
    events.append(AuditEvent(at=when, actor=actor, action="key.revoke", key_id=record["id"],
                             detail=f"revoked {record['scope']} key {record['name']!r}"))


def _lifecycle(
    rng: random.Random,
    keys: dict[str, dict[str, Any]],
    now: datetime,
    login: str,
    events: list[AuditEvent],
) -> dict[str, Any]:
    """Disable, roll and give an expiry to some active Web and Mobile keys, as the
    repository's roll, disable and edit do (audit events included); return the usage table."""
    moment = to_iso(now)
    for key_id, record in list(keys.items()):
        if (record["status"] != "active" or record["scope"] == Scope.ANALYTICS
                or record["created_at"] > to_iso(now - timedelta(days=11))):
            continue  # only keys older than any change made to them below
        draw = rng.random()
        if draw < 0.10:
            when = to_iso(now - timedelta(hours=rng.randrange(2, 240)))
            changed = stamped(record, when, login, **lifecycle.disabled_fields(when, login))
            events.append(AuditEvent(at=when, actor=login, action="key.disable", key_id=key_id,
                                     detail=f"disabled {record['scope']} key {record['name']!r}"))
        elif draw < 0.20:
            rolled = now - timedelta(minutes=rng.randrange(10, 600))
            grace = rng.choice((timedelta(hours=24), timedelta(days=7)))
            fields, _secret, until = lifecycle.rolled_fields(
                record, grace, rolled, expires_at=record.get("expires_at"))
            changed = stamped(record, to_iso(rolled), login, **fields)
            events.append(AuditEvent(
                at=to_iso(rolled), actor=login, action="key.roll", key_id=key_id,
                detail=(f"rolled {record['scope']} key {record['name']!r} (grace "
                        f"{lifecycle.grace_label(grace)}): the previous secret works until "
                        f"{until[:16].replace('T', ' ')} UTC"),
            ))
        elif draw < 0.34:
            days = rng.randrange(2, 14) if draw < 0.26 else rng.randrange(40, 330)
            expires = to_iso(now + timedelta(days=days, hours=rng.randrange(24)))
            when = to_iso(now - timedelta(days=rng.randrange(1, 20)))
            changed = stamped(record, max(when, record["created_at"]), login, expires_at=expires)
            events.append(AuditEvent(
                at=changed["updated_at"], actor=login, action="key.edit", key_id=key_id,
                detail=lifecycle.expiry_note(None, expires),
            ))
        else:
            continue
        keys[key_id] = changed
    return _usage(rng, keys, now, moment)


def _usage(rng: random.Random, keys: dict[str, dict[str, Any]], now: datetime, moment: str) -> dict[str, Any]:
    """Valid and refused counts per UTC day over the last 30 days for recently used keys."""
    table: dict[str, Any] = {}
    recent = to_iso(now - timedelta(days=USAGE_DAYS))
    for key_id, record in keys.items():
        last_used = record.get("last_used_at")
        if len(table) >= USAGE_KEYS_MAX or not last_used or last_used < recent:
            continue
        busy = rng.choice((20, 120, 900))
        days: dict[str, list[int]] = {}
        first = max(record["created_at"], recent)[:10]
        for back in range(USAGE_DAYS):
            day = (now - timedelta(days=back)).date().isoformat()
            if day < first or day > last_used[:10]:
                continue
            weekday = (now - timedelta(days=back)).weekday() < 5
            valid = int(busy * (1.0 if weekday else 0.4) * (0.6 + 0.8 * rng.random()))
            days[day] = [valid, int(valid * rng.random() * 0.04)]
        if not days:
            continue
        entry: dict[str, Any] = {"days": days, "seen": min(last_used, moment)}
        web = record.get("web")
        if isinstance(web, dict) and web.get("domains"):
            entry["origin"] = rng.choice(web["domains"])
        entry["ip"] = rng.choice(ORIGIN_IPS)
        table[key_id] = entry
    return table
