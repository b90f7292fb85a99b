"""Leaked secrets: walk files for strings in apikeys' secret format whose checksum holds.

A secret is ``<web|mob|ana>_`` followed by 38 base62 characters, the last 6 a CRC32 of the
rest (see :mod:`store.tokens`). A string of that shape whose checksum fails is not a finding,
so a finding is, but for a 1 in 4 billion chance, a real secret. What is found is kept as its
hash and its displayable prefix only: a whole secret is never printed, logged or returned.

The walk never follows a symbolic link inside the folders it is given (one pointing out of the
tree would otherwise scan somewhere else, or loop); a PATH named on the command line that is
itself a link is followed, as ``grep -r`` does. Binary files (a NUL in the first 8 KiB), files
over 10 MB, special files (FIFOs, devices, sockets), git's compressed object store and the
store's own files (which hold secrets by design) are skipped and counted.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import tokens
from .errors import StoreError

MAX_FILE_SIZE = 10 * 1024 * 1024
_MAX_FILE_MB = MAX_FILE_SIZE // (1024 * 1024)
SNIFF_SIZE = 8192
_CANDIDATE = re.compile(rb"(?:web|mob|ana)_[0-9A-Za-z]{%d}" % (tokens.SECRET_LENGTH - 4))

SKIP_REASONS = {  # reason → how the summary names it (singular, plural)
    "symlink": ("symlink", "symlinks"),
    "binary": ("binary file", "binary files"),
    "large": (f"file over {_MAX_FILE_MB} MB", f"files over {_MAX_FILE_MB} MB"),
    "special": ("special file", "special files"),
    "unreadable": ("unreadable file or folder", "unreadable files or folders"),
    "store": ("file of the store itself", "files of the store itself"),
    "git objects": ("git object folder", "git object folders"),
}


class ScanPathMissing(StoreError):
    """A PATH to scan does not exist (bad input: exit 2)."""


@dataclass(frozen=True)
class Sighting:
    """A well-formed secret seen in a file: where, its prefix, and its hash (never itself)."""

    path: str
    line: int
    key_prefix: str
    secret_hash: str = field(repr=False)


@dataclass(frozen=True)
class Finding:
    """A sighting resolved against the store: the key (None when not found or not visible to
    the member) and its status for this secret (``active`` means it still verifies)."""

    path: str
    line: int
    key_prefix: str
    key_id: str | None = None
    name: str | None = None
    status: str | None = None

    def public_dict(self) -> dict[str, Any]:
        """The shape of ``apikeys scan --json`` (SPEC §6)."""
        return {
            "path": self.path, "line": self.line, "key_prefix": self.key_prefix,
            "key_id": self.key_id, "name": self.name, "status": self.status,
        }


@dataclass
class ScanReport:
    """What a scan found and what it read or skipped."""

    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    skipped: Counter[str] = field(default_factory=Counter)
    git_blobs: int = 0  # file versions read from git history (--git)

    def summary(self) -> str:
        """One line for people: files read, findings, and what was skipped."""
        active = len({f.key_id for f in self.findings if f.status == "active"})
        found = f"{len(self.findings)} secret{'s' if len(self.findings) != 1 else ''} found"
        if self.findings:
            found += f" ({active} active key{'s' if active != 1 else ''})"
        line = (
            f"Scanned {self.files:,} file{'s' if self.files != 1 else ''} "
            f"({self.bytes / 1e6:.1f} MB)"
            + (f" and {self.git_blobs:,} file versions in git history" if self.git_blobs else "")
            + f" in {self.seconds:.2f} s: {found}."
        )
        skips = [
            f"{count:,} {SKIP_REASONS[reason][count != 1]}"
            for reason, count in sorted(self.skipped.items()) if count
        ]
        if skips:
            line += " Skipped " + ", ".join(skips) + "."
        return line


def scan_files(
    paths: Iterable[str], *, exclude: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
) -> tuple[list[Sighting], ScanReport]:
    """Every well-formed secret in the files under ``paths``, with what was read and skipped.

    ``exclude`` holds (device, inode) pairs never read (the store's own files). Raises
    :class:`ScanPathMissing` before reading anything when a PATH does not exist.
    """
    paths = list(paths)
    for path in paths:
        if not os.path.lexists(path):
            raise ScanPathMissing(f"{path}: no such file or folder; nothing was scanned")
    started = time.perf_counter()
    report = ScanReport()
    sightings: list[Sighting] = []
    for path, info in _walk(paths, report.skipped):
        if (info.st_dev, info.st_ino) in exclude:
            report.skipped["store"] += 1
            continue
        data = _read_text_file(path, report.skipped)
        if data is None:
            continue
        report.files += 1
        report.bytes += len(data)
        sightings.extend(sightings_in(data, path))
    report.seconds = time.perf_counter() - started
    return sightings, report


def sightings_in(data: bytes, path: str) -> list[Sighting]:
    """The well-formed secrets in ``data`` (once per line each), by line number."""
    found: list[Sighting] = []
    seen: set[tuple[int, str]] = set()
    line, counted_to = 1, 0
    for match in _CANDIDATE.finditer(data):
        candidate = match.group().decode("ascii")
        if tokens.secret_scope(candidate) is None:
            continue  # a broken checksum: not one of ours
        line += data.count(b"\n", counted_to, match.start())
        counted_to = match.start()
        digest = tokens.hash_secret(candidate)
        if (line, digest) in seen:
            continue
        seen.add((line, digest))
        found.append(Sighting(path, line, tokens.key_prefix(candidate), digest))
    return found


def _walk(paths: list[str], skipped: Counter[str]) -> Iterator[tuple[str, os.stat_result]]:
    """Regular files under ``paths``, depth first, sorted by name; links inside not followed."""
    for top in paths:
        try:
            info = os.stat(top)  # a PATH given by name is followed, like grep -r
        except OSError:
            skipped["unreadable" if os.path.lexists(top) else "symlink"] += 1
            continue
        if stat.S_ISDIR(info.st_mode):
            yield from _walk_folder(top, skipped)
        elif stat.S_ISREG(info.st_mode):
            yield top, info
        else:
            skipped["special"] += 1


def _walk_folder(top: str, skipped: Counter[str]) -> Iterator[tuple[str, os.stat_result]]:
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as scanner:
                entries = sorted(scanner, key=lambda entry: entry.name, reverse=True)
        except OSError:
            skipped["unreadable"] += 1
            continue
        for entry in entries:
            try:
                if entry.is_symlink():
                    skipped["symlink"] += 1
                elif entry.is_dir(follow_symlinks=False):
                    if entry.name == "objects" and os.path.basename(folder) == ".git":
                        skipped["git objects"] += 1  # compressed history: never text
                    else:
                        stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    yield entry.path, entry.stat(follow_symlinks=False)
                else:
                    skipped["special"] += 1
            except OSError:
                skipped["unreadable"] += 1


def _read_text_file(path: str, skipped: Counter[str]) -> bytes | None:
    """The file's bytes, or None (counted in ``skipped``) if it is not a small text file.

    Opened without following a link and without blocking, and checked again once open: the
    file may have been swapped for a link or a FIFO since the walk saw it.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        skipped["unreadable" if not os.path.islink(path) else "symlink"] += 1
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            skipped["special"] += 1
            return None
        if info.st_size > MAX_FILE_SIZE:
            skipped["large"] += 1
            return None
        head = os.read(fd, SNIFF_SIZE)
        if b"\0" in head:
            skipped["binary"] += 1
            return None
        chunks = [head]
        size = len(head)
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_FILE_SIZE:  # grew since the stat
                skipped["large"] += 1
                return None
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        skipped["unreadable"] += 1
        return None
    finally:
        os.close(fd)


# -- a git repository's history (--git) ------------------------------------------------------


class GitUnavailable(StoreError):
    """git is not installed, or PATH is not a git repository (bad input: exit 2)."""


def scan_git_history(top: str) -> tuple[list[Sighting], int]:
    """Every well-formed secret in any version of any file in the history of the git
    repository at ``top`` (every blob reachable from any ref, each read once), and how many
    blobs were read. A sighting's path names the file and the commit that first added it:
    ``PATH (git 1a2b3c4d)``.
    """
    if shutil.which("git") is None:
        raise GitUnavailable("--git needs git, which is not installed")
    check = _git(top, "rev-parse", "--git-dir")
    if check.returncode != 0:
        reason = _first_line(check.stderr)
        raise GitUnavailable(f"{top} is not a git repository (or git refuses it: {reason})")
    listed = _git(top, "rev-list", "--all", "--objects")
    paths: dict[str, str] = {}
    for line in listed.stdout.splitlines():
        raw_sha, _, path = line.partition(b" ")
        if path:
            paths.setdefault(raw_sha.decode("ascii"), os.fsdecode(path))
    blobs = _small_blobs(top, list(paths))
    sightings: list[Sighting] = []
    for sha, data in _read_blobs(top, blobs):
        if b"\0" in data[:SNIFF_SIZE]:
            continue
        for sighting in sightings_in(data, paths[sha]):
            commit = _introducing_commit(top, sha)
            where = f"{os.path.join(top, sighting.path)} (git {commit})"
            sightings.append(Sighting(where, sighting.line, sighting.key_prefix, sighting.secret_hash))
    return sightings, len(blobs)


def _git(top: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", "-C", top, *args], input=stdin, capture_output=True, check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
    )


def _first_line(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else "no reason given"


def _small_blobs(top: str, shas: list[str]) -> list[str]:
    if not shas:
        return []
    checked = _git(top, "cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)",
                   stdin="\n".join(shas).encode() + b"\n")
    small = []
    for line in checked.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == b"blob" and int(parts[2]) <= MAX_FILE_SIZE:
            small.append(parts[0].decode("ascii"))
    return small


def _read_blobs(top: str, shas: list[str]) -> Iterator[tuple[str, bytes]]:
    """The contents of ``shas`` through one ``git cat-file --batch``."""
    if not shas:
        return
    process = subprocess.Popen(
        ["git", "-C", top, "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, env={**os.environ, "LC_ALL": "C"},
    )
    assert process.stdin is not None and process.stdout is not None

    def feed() -> None:
        try:
            process.stdin.write("\n".join(shas).encode() + b"\n")  # type: ignore[union-attr]
            process.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        for _ in shas:
            header = process.stdout.readline().split()
            if len(header) != 3:
                break
            size = int(header[2])
            data = process.stdout.read(size)
            process.stdout.read(1)  # the newline after each object
            yield header[0].decode("ascii"), data
    finally:
        process.stdout.close()
        process.wait()
        writer.join()


def _introducing_commit(top: str, blob: str) -> str:
    """The abbreviated commit that first added ``blob`` (oldest of those that touch it)."""
    found = _git(top, "log", "--all", "--format=%h", f"--find-object={blob}")
    commits = found.stdout.split()
    return commits[-1].decode("ascii") if commits else blob[:10]
