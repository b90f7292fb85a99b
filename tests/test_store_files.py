"""The store's files: permissions, where secrets may (not) be, lock-free cached reads, the core
working without textual, and TinyDB's own view of the file."""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tinydb import TinyDB

import store
from conftest import OWNER, analytics_draft, fixed_clock, mobile_draft, web_draft
from store.errors import Forbidden
from store.repository import Repository
from store.storage import LOCK_TIMEOUT, SCHEMA_VERSION, StoreDB, StoreFile
from support import store_workers
from support.store_workers import CONTEXT

SHOP = "https://shop.example.com"


def every_file_bytes(folder: Path) -> dict[Path, bytes]:
    """The bytes of every file under ``folder``, hidden ones included."""
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_a_new_store_and_its_siblings_are_private(store_path: Path) -> None:
    repo = Repository(store_path, OWNER, clock=fixed_clock)
    old_umask = os.umask(0)  # even a permissive umask must not widen the files
    try:
        repo.initialise("Acme Studio")
        repo.add_project("Storefront", deployed=True)
        repo.create_key(web_draft())
    finally:
        os.umask(old_umask)
    files = {path.name: stat.S_IMODE(path.stat().st_mode) for path in store_path.parent.iterdir()}
    assert files["store.json"] == 0o600
    assert set(files) == {"store.json", "store.json.lock", "store.audit.jsonl"}
    for name, mode in files.items():
        assert mode & 0o077 == 0, f"{name} is {mode:o}"
    assert stat.S_IMODE(store_path.parent.stat().st_mode) & 0o077 == 0


def test_every_rewrite_keeps_the_files_mode(owner_repo: Repository, store_path: Path) -> None:
    os.chmod(store_path, 0o640)  # e.g. an admin's own choice
    owner_repo.create_key(web_draft())
    assert stat.S_IMODE(store_path.stat().st_mode) == 0o640


def test_an_analytics_secret_is_stored_nowhere(owner_repo: Repository, store_path: Path) -> None:
    created = owner_repo.create_key(analytics_draft())
    secret = created.secret.get_secret_value()
    owner_repo.history()  # reading must not leave it anywhere either
    for path, content in every_file_bytes(store_path.parent).items():
        assert secret.encode() not in content, path
        assert secret[4:-6].encode() not in content, path  # nor its random part
    with pytest.raises(Forbidden, match="shown once"):
        owner_repo.reveal_secret(created.key.id)
    assert owner_repo.get_key(created.key.id).secret is None
    assert owner_repo.verify(secret).valid
    # A new process, which never saw the secret, verifies it too (by its hash).
    assert Repository(store_path, OWNER).verify(secret).valid


def test_a_revoked_secret_is_wiped_and_only_its_hash_stays(
    owner_repo: Repository, store_path: Path
) -> None:
    web = owner_repo.create_key(web_draft())
    mobile = owner_repo.create_key(mobile_draft())
    kept = owner_repo.create_key(web_draft(name="kept"))
    for created in (web, mobile, kept):
        assert created.secret.get_secret_value().encode() in store_path.read_bytes()
        revealed = owner_repo.reveal_secret(created.key.id).get_secret_value()
        assert revealed == created.secret.get_secret_value()
    hashes = {created.key.id: created.key.secret_hash for created in (web, mobile)}

    owner_repo.revoke_keys([web.key.id, mobile.key.id])
    content = store_path.read_bytes()
    for created in (web, mobile):
        secret = created.secret.get_secret_value()
        for path, other in every_file_bytes(store_path.parent).items():
            assert secret.encode() not in other, path
        assert hashes[created.key.id].encode() in content
        assert owner_repo.get_key(created.key.id).secret_hash == hashes[created.key.id]
        with pytest.raises(Forbidden, match="revoked"):
            owner_repo.reveal_secret(created.key.id)
        assert owner_repo.verify(secret, origin=SHOP, app_id="com.example.shop").reason == "revoked"
    assert kept.secret.get_secret_value().encode() in content


def test_an_id_is_never_reused(owner_repo: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
    revoked = owner_repo.create_key(web_draft(name="revoked")).key.id
    active = owner_repo.create_key(web_draft(name="active")).key.id
    owner_repo.revoke_keys([revoked])
    # Make the id generator come up with both ids in use before a fresh one.
    offered = iter([revoked, active, "key_fresh00001"])
    monkeypatch.setattr("store.tokens.new_key_id", lambda: next(offered))
    created = owner_repo.create_key(web_draft(name="new"))
    assert created.key.id == "key_fresh00001"
    assert owner_repo.get_key(revoked).status == "revoked"
    assert owner_repo.get_key(active).name == "active"


def test_reads_never_take_the_lock(
    owner_repo: Repository, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = owner_repo.create_key(web_draft())
    reader = Repository(store_path, OWNER, clock=fixed_clock)
    waits: list[float] = []  # how long each attempt to take the lock would wait at most
    locked = reader.storage._locked

    def spied(timeout: float = LOCK_TIMEOUT):
        waits.append(timeout)
        return locked(timeout)

    monkeypatch.setattr(reader.storage, "_locked", spied)
    holder = os.open(owner_repo.storage.lock_path, os.O_RDWR)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a writer in another process would
        assert [view.id for view in reader.list_keys()] == [created.key.id]
        assert reader.get_key(created.key.id).name == created.key.name
        assert [event.action for event in reader.history(created.key.id)] == ["key.create"]
        assert len(reader.list_projects()) == 2
        assert [member.login for member in reader.list_members()] == [OWNER]
        assert waits == []
        # A successful verify wants to record the use: it may try the lock briefly but must
        # not wait out LOCK_TIMEOUT (15 s) for it; the use stays noted for later.
        assert reader.verify(created.secret.get_secret_value(), origin=SHOP).valid
        assert waits and max(waits) < 1 < LOCK_TIMEOUT
        assert reader.get_key(created.key.id).last_used_at is None
    finally:
        os.close(holder)
    reader.flush_usage()
    assert owner_repo.get_key(created.key.id).last_used_at == "2026-12-01T09:30:00Z"


def test_reads_do_not_parse_an_unchanged_file_again(
    owner_repo: Repository, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = owner_repo.create_key(web_draft())
    reader = Repository(store_path, OWNER, clock=fixed_clock)
    parses = [0]
    load = reader.storage._load  # opens and parses the file (in pieces, or whole)

    def counted() -> None:
        parses[0] += 1
        load()

    monkeypatch.setattr(reader.storage, "_load", counted)
    reader.usage_recorder.next_flush_at = float("inf")  # the refused verifies below are counted, not written
    reader.list_keys()
    generation = reader.storage.generation
    for _ in range(20):
        reader.list_keys()
        reader.get_key(created.key.id)
        reader.verify(created.secret.get_secret_value(), origin="https://elsewhere.example")
        reader.list_projects()
    assert parses[0] == 1
    assert reader.storage.generation == generation

    # Another process's change is seen by the very next read (and parsed once).
    child = CONTEXT.Process(target=store_workers.create_one, args=(str(store_path), OWNER, "from afar"))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert [view.name for view in reader.list_keys()] == [created.key.name, "from afar"]
    assert parses[0] == 2
    reader.list_keys()
    assert parses[0] == 2


def test_a_change_of_its_own_needs_no_parse(
    owner_repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner_repo.list_keys()
    monkeypatch.setattr(owner_repo.storage, "_parse", lambda raw: pytest.fail("parsed again"))
    created = owner_repo.create_key(web_draft())
    assert [view.id for view in owner_repo.list_keys()] == [created.key.id]


BLOCKED_IMPORT = textwrap.dedent("""
    import importlib, pkgutil, sys, tempfile
    from pathlib import Path

    class Blocked:
        '''Refuse textual and rich, as a machine without the UI would.'''
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("textual", "rich"):
                raise ImportError(f"{name} is blocked")
            return None

    sys.meta_path.insert(0, Blocked())
    import store
    names = sorted(info.name for info in pkgutil.walk_packages(store.__path__, "store."))
    for name in names:
        importlib.import_module(name)
    from store.repository import Repository
    repo = Repository(Path(tempfile.mkdtemp()) / "store.json", "alice")
    repo.initialise("Acme")
    repo.add_project("Storefront", deployed=True)
    created = repo.create_key({"name": "k", "scope": "analytics", "project_id": "Storefront",
                               "expires_days": 30})
    assert repo.verify(created.secret.get_secret_value()).valid
    assert not any(name.split(".")[0] in ("textual", "rich") for name in sys.modules)
    print(" ".join(names))
""")


def test_the_store_works_without_textual() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED_IMPORT], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    imported = set(result.stdout.split())
    root = Path(store.__file__).parent
    every_module = {  # store's modules and subpackages (store.backends, store.backends.file, …)
        "store." + ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for path in root.rglob("*.py") if path != root / "__init__.py"
    }
    assert {"store.models", "store.tokens", "store.storage", "store.repository",
            "store.access", "store.audit", "store.errors"} <= every_module == imported


def test_tinydb_opens_the_store(owner_repo: Repository, store_path: Path) -> None:
    created = owner_repo.create_key(web_draft())
    db = StoreDB(store_path)
    try:
        assert {"_meta", "keys", "projects", "members"} <= db.tables()
        (key,) = db.table("keys").all()
        assert key.doc_id == created.key.id
        assert key["name"] == created.key.name
        assert {project["name"] for project in db.table("projects")} == {"Storefront", "Kiosk beta"}
        assert db.table("members").get(doc_id=OWNER)["role"] == "owner"
        assert db.table("_meta").all()[0]["schema_version"] == SCHEMA_VERSION
    finally:
        db.close()

    # Stock TinyDB with our storage reads the layout too; only its int document ids do not
    # fit ids like key_…, which is what StoreDB's table class is for.
    stock = TinyDB(store_path, storage=StoreFile)
    try:
        assert stock.table("_meta").get(doc_id=1)["schema_version"] == SCHEMA_VERSION
        with pytest.raises(ValueError):
            stock.table("keys").all()
    finally:
        stock.close()
