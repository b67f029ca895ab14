"""The worksheet store: versions, conflicts, thinning of old versions, folders."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlalchemy import delete

from cellhub.db.database import make_engine, upgrade
from cellhub.db.models import Worksheet, WorksheetVersion
from cellhub.db.worksheets import Conflict, Exists, NotFound, WorksheetRepository, thinned


@pytest.fixture
def store(tmp_path: Path) -> WorksheetRepository:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    return WorksheetRepository(engine, keep=5)


def test_each_save_is_a_version_and_a_stale_one_is_refused(store: WorksheetRepository) -> None:
    first = store.save("me", "a.ipynb", b'{"v": 1}')
    second = store.save("me", "a.ipynb", b'{"v": 2}', based_on=first.version)
    assert (first.version, second.version) == (1, 2)
    with pytest.raises(Conflict) as refused:
        store.save("me", "a.ipynb", b'{"v": 3}', based_on=first.version)
    assert refused.value.current == 2
    assert store.content("me", "a.ipynb")[1] == b'{"v": 2}'
    assert store.content("me", "a.ipynb", 1)[1] == b'{"v": 1}'
    assert store.get("someone else", "a.ipynb") is None
    store.rename("me", "a.ipynb", "b.ipynb")
    with pytest.raises(NotFound):  # a tab still on the old name does not make it again
        store.save("me", "a.ipynb", b'{"v": 4}', based_on=2)


def test_versions_beyond_keep_are_thinned_checkpoints_kept(store: WorksheetRepository) -> None:
    store.save("me", "a.ipynb", b"0")
    store.mark_checkpoint("me", "a.ipynb")
    for n in range(1, 20):
        store.save("me", "a.ipynb", str(n).encode())
    versions = store.versions("me", "a.ipynb")
    assert [v.number for v in versions if v.checkpoint] == [1]
    assert len([v for v in versions if not v.checkpoint]) == 5
    assert versions[0].number == 20 and store.content("me", "a.ipynb")[1] == b"19"


def test_thinning_keeps_old_versions_sparse_and_recent_ones_dense() -> None:
    """A version a second for ten minutes, thinned to 10: the oldest and the newest stay, and
    the gaps between those kept grow with their age instead of being even."""
    times = [float(t) for t in range(600)]
    dropped = set(thinned(times, 590, at=600.0))
    kept = [t for i, t in enumerate(times) if i not in dropped]
    assert len(kept) == 10 and kept[0] == 0.0 and kept[-1] == 599.0
    gaps = [later - earlier for earlier, later in itertools.pairwise(kept)]
    assert gaps[0] > 4 * gaps[-1], kept


def test_postgresql(tmp_path: Path) -> None:
    """The same store on a real PostgreSQL server: saves, a stale save, thinning, folders."""
    from tests.db.postgres import running_postgres

    with running_postgres(tmp_path / "pg") as url:
        engine = make_engine(url)
        upgrade(engine)
        store = WorksheetRepository(engine, keep=5)
        for test in (
            test_each_save_is_a_version_and_a_stale_one_is_refused,
            test_versions_beyond_keep_are_thinned_checkpoints_kept,
            test_folders_rename_copy_delete,
        ):
            test(store)
            with engine.begin() as connection:
                connection.execute(delete(WorksheetVersion))
                connection.execute(delete(Worksheet))
        engine.dispose()


def test_folders_rename_copy_delete(store: WorksheetRepository) -> None:
    with pytest.raises(NotFound):
        store.save("me", "course/a.ipynb", b"{}")
    store.make_folder("me", "course")
    store.save("me", "course/a.ipynb", b"{}")
    with pytest.raises(Exists):
        store.make_folder("me", "course")
    store.rename("me", "course", "class")
    assert [e.path for e in store.children("me", "class")] == ["class/a.ipynb"]
    with pytest.raises(Exists):
        store.rename("me", "class", "class/inner")
    store.copy("me", "class", "copy")
    assert store.content("me", "copy/a.ipynb")[1] == b"{}"
    store.delete("me", "class")
    assert [e.path for e in store.children("me", "")] == ["copy"]
