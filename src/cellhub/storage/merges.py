"""Three-way merge of a user's files, file by file, for a session's save that started from an
older head than the chain's (code wrote files while the user uploaded others).

For each path, with ``base`` the commit both sides started from, ``ours`` the chain's head
and ``theirs`` the session's save: a path only one side changed takes that side's version
(a file written, or deleted); a path both changed alike stays; a path both changed
differently keeps the chain's version at its path and the session's beside it as
``name (conflict from session).ext``, so neither is lost and the user sees both. A file one
side deleted and the other changed is kept, changed. Contents are never merged line by
line: a user's files are data as often as text.

The result is the changes to apply to ``ours`` (by blob, nothing is read), for a commit
whose second parent is ``theirs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cellhub.storage.git_bundles import Change, Delete, FileEntry, Put, Repository

CONFLICT = " (conflict from session)"


@dataclass
class Merged:
    changes: list[Change] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def conflict_name(path: str, taken: set[str]) -> str:
    """A free path beside ``path`` for the session's version of it."""
    folder, slash, name = path.rpartition("/")
    stem, dot, ext = name.rpartition(".") if "." in name[1:] else (name, "", "")
    number = 1
    while True:
        suffix = CONFLICT if number == 1 else f"{CONFLICT[:-1]} {number})"
        candidate = f"{folder}{slash}{stem}{suffix}{dot}{ext}"
        if candidate not in taken:
            return candidate
        number += 1


def oid(files: dict[str, FileEntry], path: str) -> str | None:
    entry = files.get(path)
    return None if entry is None else entry.oid


def merge(repository: Repository, base: str, ours: str, theirs: str) -> Merged:
    before = repository.files(base) if base else {}
    mine, session = repository.files(ours), repository.files(theirs)
    merged = Merged()
    taken = set(mine) | set(session)
    for path in sorted(set(before) | set(mine) | set(session)):
        old, kept, new = oid(before, path), oid(mine, path), oid(session, path)
        if new in (old, kept):
            continue
        if kept == old or kept is None:
            merged.changes.append(Delete(path) if new is None else Put(path, oid=new))
        elif new is not None:
            copy = conflict_name(path, taken)
            taken.add(copy)
            merged.changes.append(Put(copy, oid=new))
            merged.conflicts.append(copy)
    return merged
