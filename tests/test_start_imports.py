"""The UI's path to its first screen imports only what that screen needs (SPEC §7, issue 12).

Pydantic and the models, the policy, usage, verify and scan cost ~0.05 s at start, a fifth
of the time to the first rows at 10,000 keys. Nothing fails when one of them creeps back
onto that path, so this test says so: a fresh interpreter imports the console script's
module and runs the UI headless on a store, and reports which of them were loaded when the
newest keys were shown and when every key was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import OWNER, web_draft
from store.repository import Repository

HEAVY = ("pydantic", "store.models", "store.policy", "store.usage", "store.verify", "store.scan")

START = """
import json, sys
import tui.cli  # what the apikeys console script imports first
from tui.app import make_app
from tui.screens import key_list

HEAVY = {heavy!r}
key_list.PREVIEW_FROM = 0  # every store file counts as big: its newest keys are shown first
loaded = {{}}

def note(moment):
    loaded[moment] = sorted(name for name in HEAVY if name in sys.modules)

show_preview, show = key_list.KeyListScreen._show_preview, key_list.KeyListScreen.show

def showing_preview(screen, preview):
    note("newest keys")
    show_preview(screen, preview)

def showing(screen, data):
    note("every key")
    show(screen, data)
    screen.app.exit()

key_list.KeyListScreen._show_preview = showing_preview
key_list.KeyListScreen.show = showing
make_app(sys.argv[1], sys.argv[2]).run(headless=True, size=(80, 24))
print(json.dumps(loaded))
"""


def test_the_first_screen_imports_no_pydantic(owner_repo: Repository, store_path: Path) -> None:
    for number in range(3):
        owner_repo.create_key(web_draft(name=f"Key {number}"))
    answer = subprocess.run(
        [sys.executable, "-c", START.format(heavy=HEAVY), str(store_path), OWNER],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).parent.parent,
    )
    assert answer.returncode == 0, answer.stderr[-2000:]
    loaded = json.loads(answer.stdout.strip().splitlines()[-1])
    assert loaded == {"newest keys": [], "every key": []}
