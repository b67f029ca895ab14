"""Users' files as chains of git bundles: saves, the chain and its compaction, the quota,
changes from two places, and a process killed in the middle of a save."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cellhub.db.database import make_engine, upgrade
from cellhub.db.file_bundles import FileBundleRepository, Moved
from cellhub.storage.git_bundles import Delete, GitFailed, Put, Rename, Repository
from cellhub.storage.user_files import QuotaExceeded, UserFiles
from tests.polling import until


def url_of(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db.sqlite'}"


@pytest.fixture
def bundles(tmp_path: Path) -> FileBundleRepository:
    engine = make_engine(url_of(tmp_path))
    upgrade(engine)
    return FileBundleRepository(engine)


def store(bundles: FileBundleRepository, cache: Path, **options: int) -> UserFiles:
    return UserFiles(bundles, cache, **{"quota": 1 << 20, **options})


def restored(bundles: FileBundleRepository, owner: str, where: Path) -> Repository:
    """A repository rebuilt from nothing but the owner's chain in the database."""
    repository = Repository(where)
    repository.init()
    for link in bundles.chain(owner):
        repository.verify(link.content)
        repository.apply(link.content)
    return repository


def test_each_change_is_one_incremental_bundle(
    bundles: FileBundleRepository, tmp_path: Path
) -> None:
    files = store(bundles, tmp_path / "hub")
    files.change("me", [Put("data.csv", b"a,b\n1,2\n"), Put("bin/x", bytes(range(256)))], "up")
    files.change("me", [Rename("bin", "raw"), Put("data.csv", b"a,b\n3,4\n")], "edit")
    chain = bundles.chain("me")
    assert [link.base == "" for link in chain] == [True, False]
    assert chain[1].base == chain[0].head
    again = restored(bundles, "me", tmp_path / "elsewhere")
    assert again.head() == chain[-1].head
    assert sorted(again.files()) == ["data.csv", "raw/x"]
    assert again.read(again.files()["data.csv"].oid) == b"a,b\n3,4\n"
    assert files.snapshot("someone else").files == {}


def test_a_session_of_an_owner_with_no_files_gets_none_and_makes_no_repository(
    bundles: FileBundleRepository, tmp_path: Path
) -> None:
    files = store(bundles, tmp_path / "hub")
    assert files.full_bundle("new student") is None
    assert not files.folder("new student").exists()
    files.change("me", [Put("a.txt", b"a")], "first")
    found = files.full_bundle("me")
    assert found is not None and found[0] == bundles.chain("me")[-1].head
    elsewhere = Repository(tmp_path / "elsewhere")
    elsewhere.init()
    elsewhere.apply(found[1])
    assert elsewhere.read(elsewhere.files(found[0])["a.txt"].oid) == b"a"


def test_the_chain_is_compacted_into_one_full_bundle(
    bundles: FileBundleRepository, tmp_path: Path
) -> None:
    files = store(bundles, tmp_path / "hub", compact_after=3)
    for number in range(7):
        files.change("me", [Put(f"f{number}.txt", b"x" * number)], f"save {number}")
    chain = bundles.chain("me")
    assert len(chain) <= 3 and chain[0].base == ""
    assert sorted(restored(bundles, "me", tmp_path / "r").files()) == [
        f"f{n}.txt" for n in range(7)
    ]


def test_two_hubs_changing_at_once_lose_nothing(
    bundles: FileBundleRepository, tmp_path: Path
) -> None:
    one, two = store(bundles, tmp_path / "one"), store(bundles, tmp_path / "two")
    one.change("me", [Put("a", b"1")], "a")
    two.change("me", [Put("b", b"2")], "b")
    one.change("me", [Put("c", b"3"), Delete("a")], "c")
    assert sorted(two.snapshot("me").files) == ["b", "c"]
    tip = bundles.tip("me")
    assert tip is not None
    with pytest.raises(Moved):  # a save from an old head does not fork the chain
        bundles.append("me", bundles.chain("me")[0].head, "0" * 40, b"", 0)


def test_the_quota_refuses_growth_but_not_deleting(
    bundles: FileBundleRepository, tmp_path: Path
) -> None:
    files = store(bundles, tmp_path / "hub", quota=1000)
    files.change("me", [Put("a", bytes(900))], "a")
    with pytest.raises(QuotaExceeded, match="quota of 1000 bytes"):
        files.change("me", [Put("b", bytes(200))], "b")
    assert sorted(files.snapshot("me").files) == ["a"]
    files.change("me", [Put("b", bytes(50))], "b fits")
    files.change("me", [Delete("a")], "delete")
    assert sorted(files.snapshot("me").files) == ["b"]


def test_a_bundle_without_its_base_is_refused(tmp_path: Path) -> None:
    source = Repository(tmp_path / "source")
    source.init()
    first = source.commit([Put("a", b"1")], "one")
    source.commit([Put("b", b"2")], "two")
    lonely = Repository(tmp_path / "lonely")
    lonely.init()
    with pytest.raises(GitFailed, match="prerequisite"):
        lonely.apply(source.bundle(first))


SAVER = """
import os, sys
from cellhub.db.database import make_engine
from cellhub.db.file_bundles import FileBundleRepository
from cellhub.storage.git_bundles import Put
from cellhub.storage.user_files import UserFiles
from pathlib import Path
bundles = FileBundleRepository(make_engine(sys.argv[1]))
files = UserFiles(bundles, Path(sys.argv[2]), 1 << 40)
for number in range(10**6):
    files.change("me", [Put(f"f{number % 5}", os.urandom(2 << 20))], "save")
"""


def saves(bundles: FileBundleRepository) -> int:
    tip = bundles.tip("me")
    return tip.seq if tip else 0


async def test_a_process_killed_mid_save_leaves_the_previous_chain_whole(
    bundles: FileBundleRepository, tmp_path: Path
) -> None:
    """The saver writes 2 MB a save without pause, so the kill lands inside one: in git, in
    making the bundle or in the database's transaction."""
    saver = subprocess.Popen(
        [sys.executable, "-c", SAVER, url_of(tmp_path), str(tmp_path / "saver")],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        await until(lambda: saves(bundles) >= 3, "three saves", timeout=60)
    finally:
        saver.send_signal(signal.SIGKILL)
        saver.wait()
    tip = bundles.tip("me")
    assert tip is not None
    again = restored(bundles, "me", tmp_path / "after")
    assert again.head() == tip.head
    again.git("fsck", "--strict", "--no-dangling")
    assert sum(entry.size for entry in again.files().values()) == tip.files_size
