"""A user's files as a git repository, moved between processes and the database as bundles.

A :class:`Repository` is a bare repository in a directory of the caller's (the hub's cache,
a worker's private folder): never inside a directory a session can write, so user code can
neither change its metadata nor plant hooks in it. It has one branch, ``refs/heads/main``,
whose commits are the user's saves. What it offers:

- :meth:`Repository.apply`: take in a bundle (a full one, or an incremental one whose base
  commit is already here) and move the branch to its head;
- :meth:`Repository.commit`: a new commit on the branch from a list of changes (put a file,
  delete or rename a path), written with ``git fast-import``: no work tree, no index, no
  checkout, so no ``.gitattributes``, filters or hooks of the user's content ever apply,
  and a symlink in a home is never followed (the caller reads files itself, see
  storage/home_files.py);
- :meth:`Repository.bundle`: the commits since a known one (or all of them) as bytes;
- :meth:`Repository.files` and :meth:`Repository.read`: the tree at a commit and a file.

Why the git CLI (Debian package ``git``): bundles are a feature of git itself (``git bundle``
create, verify, unbundle with prerequisites). pygit2 has none (libgit2 lacks bundles: its
issue #1718 and pygit2's #722 are open), dulwich reads and writes the bundle format but its
helper that makes one from a repository is recent (2025) and not packaged in Debian stable;
the git CLI is the reference implementation and one ``apt-get install git`` away.

Every git process runs with a fixed environment: no system or global configuration, hooks
pointed at ``/dev/null``, no terminal prompt, the C locale. Blocking: callers in an event
loop run these in a thread.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

BRANCH = "refs/heads/main"
IDENTITY = b"cellhub <cellhub@localhost>"
#: Settings given to every git command; none comes from files git would otherwise read.
SAFE_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.symlinks=false",
    "gc.auto=0",
    "maintenance.auto=false",
)


class GitFailed(Exception):
    """A git command failed: its stderr says why."""


@dataclass(frozen=True)
class FileEntry:
    """A file in a commit's tree."""

    path: str
    oid: str
    size: int


#: A file's size and its bytes in pieces, read when the commit streams it.
Source = Callable[[], tuple[int, Iterator[bytes]]]


@dataclass(frozen=True)
class Put:
    """Write the file at ``path``: ``data`` bytes, the blob ``oid`` already in the
    repository, or what ``source`` reads (a file of a home, storage/home_files.py)."""

    path: str
    data: bytes = b""
    oid: str | None = None
    source: Source | None = None


@dataclass(frozen=True)
class Delete:
    """Remove the file or the folder at ``path`` (with what it holds)."""

    path: str


@dataclass(frozen=True)
class Rename:
    """Move the file or folder at ``old`` to ``new``."""

    old: str
    new: str


@dataclass(frozen=True)
class Copy:
    """Copy the file or folder at ``old`` to ``new``."""

    old: str
    new: str


Change = Put | Delete | Rename | Copy


def quoted(path: str) -> bytes:
    """A path as fast-import reads it: C-style quoted, so spaces, quotes and newlines pass."""
    escaped = path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return b'"' + escaped.encode() + b'"'


def environment(git_dir: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "GIT_DIR": str(git_dir),
        "HOME": str(git_dir),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "LC_ALL": "C",
    }


class Repository:
    """One user's repository in ``git_dir`` (created by :meth:`init`)."""

    def __init__(self, git_dir: Path) -> None:
        self.git_dir = git_dir

    def argv(self, *args: str) -> list[str]:
        options = [part for setting in SAFE_CONFIG for part in ("-c", setting)]
        return ["git", *options, *args]

    def git(self, *args: str, stdin: bytes | None = None) -> bytes:
        done = subprocess.run(
            self.argv(*args),
            input=stdin,
            capture_output=True,
            env=environment(self.git_dir),
            check=False,
        )
        if done.returncode != 0:
            raise GitFailed(f"git {args[0]}: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout

    def init(self) -> None:
        self.git_dir.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", "--bare", "--initial-branch=main", str(self.git_dir))

    def head(self) -> str | None:
        """The branch's commit; None before the first save."""
        try:
            return self.git("rev-parse", "--verify", "--quiet", BRANCH).decode().strip()
        except GitFailed:
            return None

    def has(self, commit: str) -> bool:
        try:
            self.git("cat-file", "-e", f"{commit}^{{commit}}")
        except GitFailed:
            return False
        return True

    def apply(self, bundle: bytes, move: bool = True) -> str:
        """Take in ``bundle`` (its base must be here); its head, to which the branch moves
        unless ``move`` is False."""
        with tempfile.NamedTemporaryFile(dir=self.git_dir, suffix=".bundle") as file:
            file.write(bundle)
            file.flush()
            listed = self.git("bundle", "unbundle", file.name).decode().split()
        head = listed[0]
        if move:
            self.git("update-ref", BRANCH, head)
        return head

    def verify(self, bundle: bytes) -> None:
        """:class:`GitFailed` unless ``bundle`` is whole and its base commits are here."""
        with tempfile.NamedTemporaryFile(dir=self.git_dir, suffix=".bundle") as file:
            file.write(bundle)
            file.flush()
            self.git("bundle", "verify", "--quiet", file.name)

    def bundle(self, since: str | None = None) -> bytes:
        """The commits after ``since`` up to the branch's head (all of them: None)."""
        with tempfile.TemporaryDirectory(dir=self.git_dir) as folder:
            target = Path(folder, "out.bundle")
            span = [BRANCH, f"^{since}"] if since else [BRANCH]
            self.git("bundle", "create", "--quiet", str(target), *span)
            return target.read_bytes()

    def files(self, commit: str | None = None) -> dict[str, FileEntry]:
        """The files of ``commit`` (the branch's head by default) by path."""
        commit = commit or self.head()
        if commit is None:
            return {}
        listing = self.git("ls-tree", "-r", "-l", "-z", "--full-tree", commit)
        found: dict[str, FileEntry] = {}
        for record in listing.split(b"\0"):
            if record:
                meta, path = record.split(b"\t", 1)
                _mode, _kind, oid, size = meta.split()
                found[path.decode()] = FileEntry(path.decode(), oid.decode(), int(size))
        return found

    def read(self, oid: str) -> bytes:
        return self.git("cat-file", "blob", oid)

    def tree_of(self, commit: str) -> str:
        return self.git("rev-parse", f"{commit}^{{tree}}").decode().strip()

    def blobs(self, oids: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """Each blob of ``oids`` with its bytes, read by one git process."""
        wanted = "".join(f"{oid}\n" for oid in oids).encode()
        out = memoryview(self.git("cat-file", "--batch", stdin=wanted))
        at = 0
        while at < len(out):
            end = bytes(out[at : at + 200]).index(b"\n") + at
            oid, _kind, size = bytes(out[at:end]).decode().split()
            start = end + 1
            yield oid, bytes(out[start : start + int(size)])
            at = start + int(size) + 1

    def commit(
        self,
        changes: Iterable[Change],
        message: str,
        replace_all: bool = False,
        merge: str | None = None,
    ) -> str:
        """A new commit on the branch with ``changes`` applied to its head (or, with
        ``replace_all``, to an empty tree), with ``merge`` as a second parent; the new
        head."""
        parent = self.head()
        with subprocess.Popen(
            self.argv("fast-import", "--quiet", "--done"),
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=environment(self.git_dir),
        ) as process:
            assert process.stdin is not None and process.stderr is not None
            try:
                for piece in self.stream(parent, changes, message, replace_all, merge):
                    process.stdin.write(piece)
                process.stdin.close()
            except BrokenPipeError:
                pass
            problem = process.stderr.read()
        if process.returncode != 0:
            raise GitFailed(f"git fast-import: {problem.decode(errors='replace').strip()}")
        head = self.head()
        assert head is not None
        return head

    def stream(
        self,
        parent: str | None,
        changes: Iterable[Change],
        message: str,
        replace_all: bool,
        merge: str | None,
    ) -> Iterator[bytes]:
        stamp = f"{int(time.time())} +0000".encode()
        text = message.encode()
        yield b"commit " + BRANCH.encode() + b"\n"
        yield b"committer " + IDENTITY + b" " + stamp + b"\n"
        yield b"data %d\n" % len(text) + text + b"\n"
        if parent is not None:
            yield b"from " + parent.encode() + b"\n"
        if merge is not None:
            yield b"merge " + merge.encode() + b"\n"
        if replace_all:
            yield b"deleteall\n"
        for change in changes:
            yield from change_lines(change)
        yield b"\ndone\n"


def change_lines(change: Change) -> Iterator[bytes]:
    """One change as fast-import's file commands."""
    if isinstance(change, Delete):
        yield b"D " + quoted(change.path) + b"\n"
    elif isinstance(change, Rename):
        yield b"R " + quoted(change.old) + b" " + quoted(change.new) + b"\n"
    elif isinstance(change, Copy):
        yield b"C " + quoted(change.old) + b" " + quoted(change.new) + b"\n"
    elif change.oid is not None:
        yield b"M 100644 " + change.oid.encode() + b" " + quoted(change.path) + b"\n"
    elif change.source is None:
        yield b"M 100644 inline " + quoted(change.path) + b"\n"
        yield b"data %d\n" % len(change.data) + change.data + b"\n"
    else:
        size, pieces = change.source()
        yield b"M 100644 inline " + quoted(change.path) + b"\n"
        yield b"data %d\n" % size
        yield from pieces
        yield b"\n"
