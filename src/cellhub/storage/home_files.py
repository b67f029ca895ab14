"""A session's home and the user's files: write a commit's files into the home, and read
what the home holds back as changes for the next commit.

The worker does this (as root, or as the sessions' user in the fallback) while code it must
not trust may be running in the home, so every path is walked one name at a time from a
descriptor of the home: names are opened with ``O_NOFOLLOW`` relative to their folder's
descriptor (``openat``), so a symlink planted by user code, even one swapped in between a
check and an open, is never followed out of the home; only regular files are read (a FIFO
or a device is skipped, and opened with ``O_NONBLOCK`` so none can block the worker); names
that start with a dot are the session's own (``.cache``, ``.local``, ``.ipython``) and are
neither restored over nor saved, as the contents API hides them.

:class:`HomeIndex` remembers each file's size, modification time and inode with its blob, so
that a save reads again only the files that changed since the last restore or save.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cellhub.storage.git_bundles import Put, Repository

#: Seconds between looks at a new session's working directory.
POLL = 0.005
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
#: ``O_NONBLOCK``: a FIFO planted where a file goes must not hold the worker (no reader:
#: ENXIO at once); what is not a regular file once opened is refused before a byte is written.
WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class HomeTooLarge(Exception):
    """The home holds more bytes than the owner may keep."""


Stamp = tuple[int, int, int]


@dataclass
class HomeIndex:
    """Blobs of the home's files as last written or read, by path and stat stamp."""

    known: dict[str, tuple[Stamp, str]] = field(default_factory=dict)


def stamp_of(info: os.stat_result) -> Stamp:
    return (info.st_size, info.st_mtime_ns, info.st_ino)


class NotAHome(Exception):
    """The session's working directory did not become its home in time."""


def open_home(pid: int, homes: Path, timeout: float = 30.0) -> int:
    """A descriptor of the session's working directory once it is its home (a folder of
    ``homes``, owned by the session's user): a session just forked enters its sandbox, and
    only then moves into its home, while the worker may already be asked for its files.
    ``/proc/PID/cwd`` is the kernel's link to it, in the session's own mount namespace (its
    home may be a tmpfs only that namespace sees), so it is followed, once it is there."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            if Path(os.readlink(f"/proc/{pid}/cwd")).parent == homes:
                home = os.open(f"/proc/{pid}/cwd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                if os.fstat(home).st_uid == os.stat(f"/proc/{pid}").st_uid:
                    return home
                os.close(home)
        if time.monotonic() > deadline:
            raise NotAHome(f"session {pid} did not move into its home in {timeout:g} s")
        time.sleep(POLL)


@contextlib.contextmanager
def folder(home: int, parts: list[str], owner: tuple[int, int] | None) -> Iterator[int]:
    """A descriptor of the folder ``parts`` inside ``home``, made (owned by ``owner``) where
    missing; with no ``owner``, OSError where missing."""
    current = home
    try:
        for name in parts:
            if owner is not None:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=current)
                    os.chown(name, *owner, dir_fd=current, follow_symlinks=False)
            inner = os.open(name, FOLDER_FLAGS, dir_fd=current)
            if current != home:
                os.close(current)
            current = inner
        yield current
    finally:
        if current != home:
            os.close(current)


def restore(repository: Repository, commit: str, home: int, index: HomeIndex) -> None:
    """Write the files of ``commit`` into ``home``, owned by the home's owner."""
    info = os.fstat(home)
    owner = (info.st_uid, info.st_gid)
    files = repository.files(commit)
    contents = dict(repository.blobs({entry.oid for entry in files.values()}))
    for path, entry in files.items():
        if not any(part.startswith(".") for part in path.split("/")):
            index.known[path] = (write(home, path, contents[entry.oid], owner), entry.oid)


def write(home: int, path: str, data: bytes, owner: tuple[int, int]) -> Stamp:
    """Write the file ``path`` of ``home`` (its folders made), owned by ``owner``."""
    *parts, name = path.split("/")
    with folder(home, parts, owner) as where:
        fd = os.open(name, WRITE_FLAGS, 0o644, dir_fd=where)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, f"{path} in the home is not a regular file")
            os.ftruncate(fd, 0)
            os.fchown(fd, *owner)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            return stamp_of(os.fstat(fd))
        finally:
            os.close(fd)


def stamp_now(home: int, path: str) -> Stamp | None:
    """The stamp of the regular file ``path`` of ``home`` now (None: none there)."""
    *parts, name = path.split("/")
    try:
        with folder(home, parts, None) as where:
            info = os.stat(name, dir_fd=where, follow_symlinks=False)
    except OSError:
        return None
    return stamp_of(info) if stat.S_ISREG(info.st_mode) else None


def update(repository: Repository, commit: str, home: int, index: HomeIndex) -> list[str]:
    """Bring the home to the files of ``commit`` where the session left them as last saved
    or restored; the paths written or deleted."""
    info = os.fstat(home)
    owner = (info.st_uid, info.st_gid)
    files = {p: e for p, e in repository.files(commit).items() if not p.startswith(".")}
    touched: list[str] = []
    stale = [p for p, e in files.items() if index.known.get(p, (None, ""))[1] != e.oid]
    contents = dict(repository.blobs({files[p].oid for p in stale}))
    for path in stale:
        known, oid = index.known.get(path), files[path].oid
        if stamp_now(home, path) == (known[0] if known else None):
            index.known[path] = (write(home, path, contents[oid], owner), oid)
            touched.append(path)
    for path in [p for p in index.known if p not in files]:
        if stamp_now(home, path) == index.known[path][0]:
            *parts, name = path.split("/")
            with contextlib.suppress(OSError), folder(home, parts, None) as where:
                os.unlink(name, dir_fd=where)
            del index.known[path]
            touched.append(path)
    return touched


def changes(home: int, index: HomeIndex, limit: int) -> tuple[list[Put], dict[str, Stamp]]:
    """What the home holds, as the puts of a commit that replaces the whole tree (a known
    blob for each file unchanged since ``index`` saw it, the bytes of the others), and the
    stamp of each file as it was read. :class:`HomeTooLarge` past ``limit`` bytes."""
    puts: list[Put] = []
    stamps: dict[str, Stamp] = {}
    total = 0
    for top, folders, names, where in os.fwalk(".", dir_fd=home, follow_symlinks=False):
        folders[:] = [each for each in folders if not each.startswith(".")]
        prefix = "" if top == "." else top.removeprefix("./") + "/"
        for name in names:
            if name.startswith("."):
                continue
            found = read_one(where, name, prefix + name, index)
            if found is None:
                continue
            put, stamps[put.path] = found
            total += stamps[put.path][0]
            if total > limit:
                raise HomeTooLarge(f"the home holds more than {limit} bytes")
            puts.append(put)
    return puts, stamps


def read_one(where: int, name: str, path: str, index: HomeIndex) -> tuple[Put, Stamp] | None:
    """The put for the regular file ``name`` of the folder ``where``, and its stamp before
    it was read (None: not a regular file)."""
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=where)
    except OSError:  # a symlink (ELOOP), gone meanwhile, unreadable: not kept
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        known = index.known.get(path)
        if known is not None and known[0] == stamp_of(info):
            return Put(path, oid=known[1]), stamp_of(info)
        data = bytearray()
        while piece := os.read(fd, 1 << 20):
            data += piece
        return Put(path, data=bytes(data)), stamp_of(info)
    finally:
        os.close(fd)


def remember(
    repository: Repository, commit: str, stamps: dict[str, Stamp], index: HomeIndex
) -> None:
    """After a save: each file's stamp as it was read, with its blob in ``commit``."""
    files = repository.files(commit)
    index.known = {path: (stamps[path], files[path].oid) for path in stamps if path in files}
