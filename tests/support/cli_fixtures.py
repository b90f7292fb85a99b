"""The command line's test fixtures: ``run`` (main() in-process on the test's store), ``ready``
(a store with two projects) and helpers that create keys. A pytest plugin (see conftest's
``pytest_plugins``), so every CLI test module shares them without importing fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import OWNER
from tui.cli import main


class Result:
    """Exit status and the captured output of one run."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)

    def one_error_line(self) -> str:
        """The single line on stderr (asserts there is exactly one)."""
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("apikeys: ")
        assert "Traceback" not in self.err
        return lines[0]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], store_target: Path | str):
    """``run(*argv, login=...)``: main() on this test's store (``--store`` appended): a file,
    or a PostgreSQL database (see conftest's ``store_target``)."""

    def runner(*argv: str, login: str = OWNER, store: bool = True) -> Result:
        args = [*argv, "--store", str(store_target)] if store else list(argv)
        code = main(args, login=login)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return runner


@pytest.fixture
def ready(run):
    """A store owned by alice with a deployed Storefront and an undeployed Kiosk."""
    assert run("init", "--org", "Acme Studio").code == 0
    assert run("projects", "add", "Storefront", "--deployed").code == 0
    assert run("projects", "add", "Kiosk beta").code == 0
    return run


def create_web(run, name: str = "Checkout widget", login: str = OWNER, *extra: str) -> dict:
    result = run("create", "--name", name, "--scope", "web", "--project", "Storefront",
                 "--domain", "https://shop.example.com", *extra, "--json", login=login)
    assert result.code == 0, result.err
    return result.json()


def create_analytics(run, name: str = "Weekly export", login: str = OWNER, *where: str) -> dict:
    result = run("create", "--name", name, "--scope", "analytics",
                 *(where or ("--project", "Storefront")), "--expires-days", "60", "--json", login=login)
    assert result.code == 0, result.err
    return result.json()
