"""Each user's files, as the hub reads and changes them: a git repository per user
(storage/git_bundles.py) whose commits are stored as a chain of bundles in the database
(db/file_bundles.py), so that every hub and every worker can rebuild it.

A hub keeps a copy of each repository it has used in its cache folder and brings it up to
date before every call by applying the links added since (or the full bundle that replaced
them). A change is one commit on the newest head, sent to the database as the bundle of
that commit alone; when another hub (or a session's save) appended first, the commit is
dropped and made again on the new head, so no change is lost and the chain never forks.
After ``compact_after`` links the chain is replaced by one full bundle.

The quota counts the bytes of the files at the head (what the user sees), not the bundles:
a change that makes them larger than ``quota`` is refused with :class:`QuotaExceeded`, and
one that makes them smaller always passes, so a user over the quota can always delete.

Blocking: the hub calls these in a thread. One lock per user keeps two threads of one hub
from changing the same cached repository at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cellhub.db.file_bundles import FileBundleRepository, Moved, Tip
from cellhub.storage.git_bundles import BRANCH, Change, FileEntry, GitFailed, Repository
from cellhub.storage.merges import merge

#: How many times a change is made again on a head that moved meanwhile before giving up.
ATTEMPTS = 8
MiB = 1024 * 1024


def amount(size: int) -> str:
    return f"{size / MiB:.1f} MB" if size >= MiB else f"{size} bytes"


class QuotaExceeded(Exception):
    """The change would make the user's files larger than their quota."""

    def __init__(self, quota: int, size: int) -> None:
        super().__init__(
            f"your files would take {amount(size)}, over your quota of {amount(quota)} "
            "(user_files_quota); delete some files first"
        )
        self.quota = quota
        self.size = size


@dataclass(frozen=True)
class Saved:
    """A session's save as stored: the session's commit, the chain's new head (a merge when
    the chain had moved on), and the conflict copies the merge made."""

    session_head: str
    head: str
    conflicts: list[str]


@dataclass(frozen=True)
class Snapshot:
    """A user's files at one commit."""

    head: str
    files: dict[str, FileEntry]
    updated: dt.datetime

    def folders(self) -> set[str]:
        """The folders the files are in (git keeps no empty folder)."""
        found: set[str] = set()
        for path in self.files:
            parts = path.split("/")[:-1]
            found.update("/".join(parts[: n + 1]) for n in range(len(parts)))
        return found


EMPTY = Snapshot("", {}, dt.datetime(1970, 1, 1, tzinfo=dt.UTC))


class UserFiles:
    def __init__(
        self, bundles: FileBundleRepository, cache: Path, quota: int, compact_after: int = 16
    ) -> None:
        self.bundles = bundles
        self.cache = cache
        self.quota = quota
        self.compact_after = compact_after
        self.synced: dict[str, int] = {}
        self.locks: dict[str, threading.Lock] = {}
        self.guard = threading.Lock()

    def lock(self, owner: str) -> threading.Lock:
        with self.guard:
            return self.locks.setdefault(owner, threading.Lock())

    def folder(self, owner: str) -> Path:
        return self.cache / hashlib.sha256(owner.encode()).hexdigest()[:32]

    def synced_repository(self, owner: str) -> tuple[Repository, Tip | None]:
        """The cached repository, brought up to the chain's tip (caller holds the lock)."""
        repository = Repository(self.folder(owner))
        tip = self.bundles.tip(owner)
        known = self.synced.get(owner)
        if known is None or (tip is None and known != 0):
            shutil.rmtree(repository.git_dir, ignore_errors=True)
            repository.init()
            known = 0
        if tip is not None and tip.seq != known:
            try:
                for link in self.bundles.chain(owner, known):
                    repository.apply(link.content)
            except GitFailed:
                self.synced.pop(owner, None)
                raise
        self.synced[owner] = tip.seq if tip else 0
        return repository, tip

    def snapshot(self, owner: str) -> Snapshot:
        with self.lock(owner):
            repository, tip = self.synced_repository(owner)
            if tip is None:
                return EMPTY
            return Snapshot(tip.head, repository.files(tip.head), tip.updated)

    def read(self, owner: str, entry: FileEntry) -> bytes:
        with self.lock(owner):
            repository, _ = self.synced_repository(owner)
            return repository.read(entry.oid)

    def change(self, owner: str, changes: Sequence[Change], message: str) -> Snapshot:
        """Commit ``changes`` on the newest head and append them to the chain."""
        for _ in range(ATTEMPTS):
            with self.lock(owner):
                repository, tip = self.synced_repository(owner)
                try:
                    return self.commit_and_append(owner, repository, tip, changes, message)
                except Moved:
                    continue
        raise Moved(f"the files of {owner} kept changing; try again")

    def commit_and_append(
        self,
        owner: str,
        repository: Repository,
        tip: Tip | None,
        changes: Sequence[Change],
        message: str,
        merge_with: str | None = None,
    ) -> Snapshot:
        """One commit of ``changes`` on the branch (with ``merge_with`` as second parent when
        the branch is not already there), appended to the chain."""
        base = tip.head if tip else ""
        try:
            moved = merge_with is not None and repository.head() == merge_with
            if moved and merge_with is not None:
                head = merge_with
            else:
                head = repository.commit(changes, message, merge=merge_with)
            files = repository.files(head)
            size = sum(entry.size for entry in files.values())
            if size > self.quota and size > (tip.files_size if tip else 0):
                raise QuotaExceeded(self.quota, size)
            seq = self.bundles.append(owner, base, head, repository.bundle(base or None), size)
        except BaseException:
            self.rewind(repository, base)
            raise
        self.synced[owner] = seq
        if tip is not None and tip.links + 1 > self.compact_after:
            self.bundles.compact(owner, seq, head, repository.bundle(), size)
        return Snapshot(head, files, dt.datetime.now(dt.UTC))

    def export(self, owner: str, folder: str, into: Path) -> tuple[int, int]:
        """Write the files under ``folder`` into ``into``, by their paths relative to it
        (read by one git process); how many, and their bytes."""
        prefix = f"{folder}/"
        with self.lock(owner):
            repository, tip = self.synced_repository(owner)
            files = repository.files(tip.head) if tip else {}
            entries = [entry for path, entry in files.items() if path.startswith(prefix)]
            paths: dict[str, list[str]] = {}
            for entry in entries:
                paths.setdefault(entry.oid, []).append(entry.path[len(prefix) :])
            for oid, data in repository.blobs(paths):
                for relative in paths[oid]:
                    target = into / relative  # git keeps no ".." in a path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
        return len(entries), sum(entry.size for entry in entries)

    def full_bundle(self, owner: str) -> tuple[str, bytes] | None:
        """The owner's head and all of their files' history as one bundle (None: no files
        yet), for a session's home.

        An owner with no files costs one query: no repository is made for them and their
        lock is not taken, so a class of new accounts starting at once runs no ``git`` and
        no start waits for another's."""
        if self.bundles.tip(owner) is None:
            return None
        with self.lock(owner):
            repository, tip = self.synced_repository(owner)
            return None if tip is None else (tip.head, repository.bundle())

    def bundle_since(self, owner: str, since: str) -> bytes | None:
        """The owner's files as they are now, as a bundle on top of ``since`` (None: they
        are at ``since``)."""
        with self.lock(owner):
            repository, tip = self.synced_repository(owner)
            if tip is None or tip.head == since:
                return None
            return repository.bundle(since or None)

    def take_save(self, owner: str, since: str, bundle: bytes) -> Saved:
        """Store a session's save: the commits after ``since`` (a commit the chain has, or
        "" for none) in ``bundle``. When the chain moved on since (an upload meanwhile),
        both are kept: a merge commit takes each side's changes, and where both changed
        one file the chain's version stays and the session's is kept beside it as a
        conflict copy (storage/merges.py)."""
        for _ in range(ATTEMPTS):
            with self.lock(owner):
                repository, tip = self.synced_repository(owner)
                head = repository.apply(bundle, move=False)
                try:
                    return self.store_save(owner, repository, tip, since, head)
                except Moved:
                    continue
        raise Moved(f"the files of {owner} kept changing; try again")

    def store_save(
        self, owner: str, repository: Repository, tip: Tip | None, since: str, head: str
    ) -> Saved:
        current = tip.head if tip else ""
        if current == since or not current:
            repository.git("update-ref", BRANCH, head)
            changes: list[Change] = []
            conflicts: list[str] = []
        else:
            merged = merge(repository, since, current, head)
            changes, conflicts = merged.changes, merged.conflicts
        message = "merged a session's save" if current and current != since else "session save"
        done = self.commit_and_append(owner, repository, tip, changes, message, head)
        return Saved(head, done.head, conflicts)

    @staticmethod
    def rewind(repository: Repository, base: str) -> None:
        """Put the branch back where the chain ends (a commit the chain refused is dropped)."""
        if base:
            repository.git("update-ref", BRANCH, base)
        else:
            repository.git("update-ref", "-d", BRANCH)
