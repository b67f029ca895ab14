"""The worker's side of users' files: each kernel of a logged-in user has a git repository
in the worker's data directory (never in a directory a session can see or write), restored
from the bundle its hub sends (protocol ``restore_files``) and written into the session's
home before the hub answers the kernel's start; a ``save_files`` commits what the home holds
then and answers with the bundle of the commits the hub has not stored yet.

Bundles cross the hub↔worker connection in pieces (``PIECE`` bytes at most), so a 100 MB
home never makes a frame near the frame limit: the restore is written to a file as it comes,
the save's bundle is kept until the hub has asked for its last piece.

The home is reached through a descriptor of the session's working directory taken when its
files are restored, before any of its code ran (storage/home_files.py): a later ``os.chdir``
in user code changes nothing, and the worker never resolves a path of the home by name.
A kernel whose owner had no files when it started gets no restore (the hub sends none, so
that such a start costs no repository and no wait for the session to be in its home): its
repository and its home's descriptor are made at its first save or update, when its
working directory is its home (:data:`LATE_HOME_TIMEOUT`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cellhub.protocol.hub_worker import FilesSaved
from cellhub.storage import home_files
from cellhub.storage.git_bundles import Repository

#: Largest piece of a bundle in one frame (the frame limit is 64 MiB).
PIECE = 8 * 1024 * 1024
#: Seconds a save or an update waits for the working directory of a kernel's session to be
#: its home, when nothing was restored at its start (its owner had no files then).
LATE_HOME_TIMEOUT = 2.0


class HomeRefused(Exception):
    """The home holds more than the owner's quota: the save is refused (HTTP 413)."""


@dataclass
class KernelFiles:
    repository: Repository
    home: int = -1
    index: home_files.HomeIndex = field(default_factory=home_files.HomeIndex)
    incoming: int = 0
    pending: FilesSaved | None = None
    pending_bundle: bytes = b""


class SessionFiles:
    def __init__(self, folder: Path, homes: Path) -> None:
        self.folder = folder
        self.homes = homes.resolve()
        self.kernels: dict[str, KernelFiles] = {}

    def incoming_path(self, kernel_id: str) -> Path:
        return self.folder / f"{kernel_id}.bundle"

    def restore(
        self, kernel_id: str, pid: int, offset: int, piece: bytes, total: int
    ) -> str | None:
        """Take a piece of the kernel's bundle; with the last, restore it into the home of
        the session ``pid`` and answer the commit restored."""
        files = self.kernels.get(kernel_id)
        if files is None or offset == 0:
            files = self.fresh(kernel_id)
        bundle = self.receive(kernel_id, files, offset, piece, total)
        if bundle is None:
            return None
        files.home = home_files.open_home(pid, self.homes)
        if not bundle:  # the owner has no files yet: the home stays empty
            return ""
        head = files.repository.apply(bundle)
        home_files.restore(files.repository, head, files.home, files.index)
        return head

    def fresh(self, kernel_id: str) -> KernelFiles:
        """A new, empty repository for the kernel (what it had is forgotten)."""
        self.forget(kernel_id)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        files = KernelFiles(Repository(self.folder / f"{kernel_id}.git"))
        files.repository.init()
        self.kernels[kernel_id] = files
        return files

    def known(self, kernel_id: str, pid: int) -> KernelFiles:
        """The kernel's files; for a kernel that had no restore, made now (see the module)."""
        files = self.kernels.get(kernel_id)
        if files is None:
            files = self.fresh(kernel_id)
            files.home = home_files.open_home(pid, self.homes, LATE_HOME_TIMEOUT)
        return files

    def update(
        self, kernel_id: str, pid: int, offset: int, piece: bytes, total: int
    ) -> list[str] | None:
        """Take a piece of a bundle of the owner's files as they are now; with the last,
        bring the home to them where the session left files as last saved."""
        files = self.known(kernel_id, pid)
        bundle = self.receive(kernel_id, files, offset, piece, total)
        if bundle is None:
            return None
        head = files.repository.apply(bundle, move=False)
        return home_files.update(files.repository, head, files.home, files.index)

    def receive(
        self, kernel_id: str, files: KernelFiles, offset: int, piece: bytes, total: int
    ) -> bytes | None:
        """Keep a piece of a bundle (``offset`` 0 starts one); the whole bundle once its last
        piece came."""
        if offset == 0:
            files.incoming = 0
            self.incoming_path(kernel_id).unlink(missing_ok=True)
        if offset != files.incoming:
            raise ValueError(f"piece at {offset}, expected {files.incoming}")
        with self.incoming_path(kernel_id).open("ab") as out:
            out.write(piece)
        files.incoming += len(piece)
        if files.incoming < total:
            return None
        whole = self.incoming_path(kernel_id).read_bytes()
        self.incoming_path(kernel_id).unlink()
        files.incoming = 0
        return whole

    def save(
        self, kernel_id: str, pid: int, since: str, offset: int, limit: int
    ) -> FilesSaved | None:
        """Commit the home (``offset`` 0) and answer the bundle since ``since`` from
        ``offset``; None when the home holds what the last commit did."""
        files = self.known(kernel_id, pid)
        if offset == 0:
            files.pending = self.commit(files, since, limit)
        if files.pending is None:
            return None
        whole = files.pending_bundle
        return {**files.pending, "piece": whole[offset : offset + PIECE]}

    def commit(self, files: KernelFiles, since: str, limit: int) -> FilesSaved | None:
        repository = files.repository
        parent = repository.head()
        try:
            puts, stamps = home_files.changes(files.home, files.index, limit)
        except home_files.HomeTooLarge as exc:
            raise HomeRefused(str(exc)) from None
        if parent is None and not puts:  # no files before, none now: nothing to store
            return None
        head = repository.commit(puts, "saved from the session", replace_all=True)
        if parent is not None and repository.tree_of(head) == repository.tree_of(parent):
            repository.git("update-ref", "refs/heads/main", parent)
            if parent == since:
                return None
            head = parent
        home_files.remember(repository, head, stamps, files.index)
        files.pending_bundle = repository.bundle(since or None)
        return {"base": since, "head": head, "total": len(files.pending_bundle), "piece": b""}

    def rehome(self, kernel_id: str, pid: int) -> None:
        """The kernel has a new session (a restart): its home gets the files as last
        restored or saved, and later saves read it."""
        files = self.kernels.get(kernel_id)
        if files is None:
            return
        if files.home >= 0:
            os.close(files.home)
        files.home = home_files.open_home(pid, self.homes)
        files.index = home_files.HomeIndex()
        head = files.repository.head()
        if head is not None:
            home_files.restore(files.repository, head, files.home, files.index)

    def put(self, kernel_id: str, pid: int, path: str, data: bytes) -> None:
        """Write one data file (an embedded cell's page named it) into the home of session
        ``pid``, owned by the session, outside the kernel's repository: a save of an
        owner's kernel keeps it as any file code wrote there."""
        files = self.kernels.get(kernel_id)
        home = files.home if files is not None and files.home >= 0 else -1
        opened = home < 0
        if opened:
            home = home_files.open_home(pid, self.homes)
        try:
            info = os.fstat(home)
            home_files.write(home, path, data, (info.st_uid, info.st_gid))
        finally:
            if opened:
                os.close(home)

    def forget(self, kernel_id: str) -> None:
        """The kernel ended: its repository and its descriptor of the home go."""
        files = self.kernels.pop(kernel_id, None)
        if files is None:
            return
        if files.home >= 0:
            os.close(files.home)
        shutil.rmtree(files.repository.git_dir, ignore_errors=True)
        self.incoming_path(kernel_id).unlink(missing_ok=True)
