"""A session's save merged with what changed meanwhile: nothing of either side is lost."""

from __future__ import annotations

from pathlib import Path

from cellhub.storage.git_bundles import Change, Delete, Put, Repository
from cellhub.storage.merges import merge


def test_each_side_keeps_its_changes_and_a_clash_keeps_both(tmp_path: Path) -> None:
    repository = Repository(tmp_path / "repo.git")
    repository.init()
    names = ("same.txt", "clash.csv", "gone.txt", "kept.txt")
    base = repository.commit([Put(name, b"0") for name in names], "base")
    ours = repository.commit(
        [Put("clash.csv", b"upload"), Put("up.txt", b"u"), Delete("kept.txt")], "uploads"
    )
    repository.git("update-ref", "refs/heads/main", base)
    session: list[Change] = [Put("clash.csv", b"code"), Put("out.txt", b"o"), Delete("gone.txt")]
    theirs = repository.commit([*session, Put("kept.txt", b"1")], "session")
    merged = merge(repository, base, ours, theirs)
    assert merged.conflicts == ["clash (conflict from session).csv"]
    repository.git("update-ref", "refs/heads/main", ours)
    head = repository.commit(merged.changes, "merge", merge=theirs)
    files = {path: repository.read(entry.oid) for path, entry in repository.files(head).items()}
    assert files == {
        "same.txt": b"0",
        "clash.csv": b"upload",
        "clash (conflict from session).csv": b"code",
        "up.txt": b"u",
        "out.txt": b"o",
        "kept.txt": b"1",
    }
