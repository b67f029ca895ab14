"""A home read and written by the worker's rules: regular files only, no symlink followed,
hidden names left alone, unchanged files not read again, an update that leaves alone what
the session changed."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cellhub.storage import home_files
from cellhub.storage.git_bundles import Put, Repository


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    folder = tmp_path / "home"
    folder.mkdir()
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    yield folder, fd
    os.close(fd)


def test_only_regular_visible_files_are_read(home: tuple[Path, int], tmp_path: Path) -> None:
    folder, fd = home
    secret = tmp_path / "secret.txt"
    secret.write_text("not the user's")
    (folder / "data.csv").write_text("a,b\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "x.bin").write_bytes(b"\0\1")
    (folder / "passwd").symlink_to(secret)
    (folder / "outside").symlink_to(tmp_path, target_is_directory=True)
    os.mkfifo(folder / "pipe")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "big").write_text("cache")
    (folder / ".hidden").write_text("h")
    puts, stamps = home_files.changes(fd, home_files.HomeIndex(), 10**6)
    assert {put.path: put.data for put in puts} == {"data.csv": b"a,b\n", "sub/x.bin": b"\0\1"}
    assert set(stamps) == {"data.csv", "sub/x.bin"}
    with pytest.raises(home_files.HomeTooLarge):
        home_files.changes(fd, home_files.HomeIndex(), 5)


def test_restore_then_an_update_spares_what_the_session_changed(
    home: tuple[Path, int], tmp_path: Path
) -> None:
    folder, fd = home
    repository = Repository(tmp_path / "repo.git")
    repository.init()
    first = repository.commit([Put("a.txt", b"1"), Put("b/c.txt", b"2"), Put("d.txt", b"3")], "1")
    index = home_files.HomeIndex()
    home_files.restore(repository, first, fd, index)
    assert (folder / "b" / "c.txt").read_text() == "2"

    puts, _ = home_files.changes(fd, index, 10**6)
    assert all(put.oid is not None for put in puts), "unchanged files are not read again"

    (folder / "a.txt").write_text("the session's")
    later = repository.commit([Put("a.txt", b"uploaded"), Put("new.txt", b"n")], "2")
    repository.commit([Put("d.txt", b"3")], "no-op")
    gone = repository.commit([], "3", replace_all=True)
    repository.git("update-ref", "refs/heads/main", later)
    touched = home_files.update(repository, later, fd, index)
    assert sorted(touched) == ["new.txt"]
    assert (folder / "a.txt").read_text() == "the session's"
    assert sorted(home_files.update(repository, gone, fd, index)) == ["b/c.txt", "d.txt", "new.txt"]
    assert not (folder / "d.txt").exists() and (folder / "a.txt").exists()


def test_a_session_not_yet_in_its_home_is_not_written_into(tmp_path: Path) -> None:
    """Where a just-forked session still is (the host's root, the template's folder) is never
    taken for its home: only a folder of the homes, owned by the session's user."""
    homes = tmp_path / "homes"
    (homes / "1").mkdir(parents=True)
    for cwd, is_home in ((Path("/"), False), (tmp_path, False), (homes / "1", True)):
        process = subprocess.Popen(["sleep", "30"], cwd=cwd)
        try:
            if is_home:
                os.close(home_files.open_home(process.pid, homes, timeout=5))
            else:
                with pytest.raises(home_files.NotAHome):
                    home_files.open_home(process.pid, homes, timeout=0.05)
        finally:
            process.kill()
            process.wait()


def test_a_fifo_where_a_file_goes_is_refused_without_blocking(tmp_path: Path) -> None:
    """Code in the session may plant a FIFO (or a folder) where a file of the user's is to
    be written: the write fails at once, and nothing is written through it."""
    os.mkfifo(tmp_path / "data.csv")
    (tmp_path / "folder.txt").mkdir()
    home = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        owner = (os.getuid(), os.getgid())
        for name in ("data.csv", "folder.txt"):
            with pytest.raises(OSError):
                home_files.write(home, name, b"a,b\n", owner)
    finally:
        os.close(home)
    assert stat.S_ISFIFO(os.stat(tmp_path / "data.csv").st_mode)
