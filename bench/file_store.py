"""``python -m bench.file_store``: what storing users' files as git bundles in the database
costs, against plain files on disk, for 10 MB and 100 MB of mixed files on SQLite and
PostgreSQL (the design's question: the overhead of bundles as BLOBs).

For each size a home is made of text files (CSV-like rows, which compress) and binary files
(random bytes, which do not), half of the bytes each. Then, with the code the hub and the
worker run (storage/home_files.py, storage/git_bundles.py, storage/user_files.py):

- **bytes stored**: the bundles' bytes in the database after the first save, against the
  files' own bytes;
- **first save**: the home read, committed, bundled and appended to the chain;
- **small change**: one line added to one text file, then the save (the worker's commit of
  the home, its bundle, the hub's append), median of ``--repeat`` saves, and the bytes each
  adds to the database;
- **restore**: a hub with an empty cache reads the chain, makes the full bundle, and a
  worker's repository takes it and writes the files into an empty home (median);
- the same two for **plain files**: the changed file copied, the whole tree copied
  (``shutil.copytree``).

PostgreSQL is the one at ``--postgres URL``; without it a throwaway server is started when
PostgreSQL is installed (tests/db/postgres.py's, as the tests start theirs). A timing, not a
test: run it on a quiet machine. Prints medians.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cellhub.db.database import make_engine, upgrade
from cellhub.db.file_bundles import FileBundleRepository
from cellhub.storage import home_files
from cellhub.storage.git_bundles import Repository
from cellhub.storage.user_files import UserFiles

MB = 1_000_000
OWNER = "bench"


def make_home(home: Path, size: int) -> Path:
    """Mixed files totalling ``size`` bytes; the first text file (the one a small change
    touches)."""
    rng = random.Random(size)
    made, number, first = 0, 0, None
    while made < size:
        each = min(rng.randint(50_000, 2 * MB), size - made)
        folder = home / f"set{number % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        if number % 2 == 0:
            row = ",".join(str(rng.randint(0, 10**6)) for _ in range(8)) + "\n"
            rows = [f"{i},{row}" for i in range(each // len(row) + 1)]
            target = folder / f"table{number}.csv"
            target.write_text("".join(rows)[:each])
            first = first or target
        else:
            target = folder / f"blob{number}.bin"
            target.write_bytes(rng.randbytes(each))
        made += each
        number += 1
    assert first is not None
    return first


def timed(work: Callable[[], object]) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


class Session:
    """A worker's side of one kernel: its repository and its home."""

    def __init__(self, work: Path, home: Path) -> None:
        self.repository = Repository(work / "worker.git")
        self.repository.init()
        self.home = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
        self.index = home_files.HomeIndex()
        self.since = ""

    def save(self, files: UserFiles) -> None:
        puts, stamps = home_files.changes(self.home, self.index, 10**12)
        head = self.repository.commit(puts, "save", replace_all=True)
        home_files.remember(self.repository, head, stamps, self.index)
        saved = files.take_save(OWNER, self.since, self.repository.bundle(self.since or None))
        self.since = saved.session_head


def restore(files: UserFiles, work: Path) -> None:
    """What a kernel start does: the hub's bundle, the worker's repository, the home."""
    found = files.full_bundle(OWNER)
    assert found is not None
    shutil.rmtree(work / "restored", ignore_errors=True)
    shutil.rmtree(work / "restore.git", ignore_errors=True)
    (work / "restored").mkdir()
    repository = Repository(work / "restore.git")
    repository.init()
    head = repository.apply(found[1])
    home = os.open(work / "restored", os.O_RDONLY | os.O_DIRECTORY)
    try:
        home_files.restore(repository, head, home, home_files.HomeIndex())
    finally:
        os.close(home)


def measure(url: str, size: int, repeat: int, work: Path) -> dict[str, float]:
    engine = make_engine(url)
    upgrade(engine)
    bundles = FileBundleRepository(engine)
    home = work / "home"
    changed = make_home(home, size)
    files = UserFiles(bundles, work / "hub-cache", quota=10**12)
    session = Session(work, home)
    first = timed(lambda: session.save(files))
    stored = bundles.stored_bytes(OWNER)
    small = []
    for number in range(repeat):
        with changed.open("a") as text:
            text.write(f"{number},a new row\n")
        small.append(timed(lambda: session.save(files)))
    grown = (bundles.stored_bytes(OWNER) - stored) / repeat
    restores: list[float] = []
    for _ in range(repeat):
        fresh = UserFiles(bundles, work / f"cache{len(restores)}", quota=10**12)
        restores.append(timed(functools.partial(restore, fresh, work)))
    os.close(session.home)
    copies = [timed(lambda: shutil.copy2(changed, work / "copy.csv")) for _ in range(repeat)]
    trees = []
    for _ in range(repeat):
        shutil.rmtree(work / "tree", ignore_errors=True)
        trees.append(timed(lambda: shutil.copytree(home, work / "tree")))
    engine.dispose()
    return {
        "files": sum(p.stat().st_size for p in home.rglob("*") if p.is_file()),
        "stored": stored,
        "per change": grown,
        "first": first,
        "small": statistics.median(small),
        "restore": statistics.median(restores),
        "plain small": statistics.median(copies),
        "plain restore": statistics.median(trees),
    }


@contextlib.contextmanager
def postgres(url: str | None) -> Iterator[str | None]:
    if url:
        yield url
        return
    try:
        from tests.db.postgres import running_postgres
    except ImportError:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="cellhub-bench-pg-") as folder:
        os.chmod(folder, 0o755)
        with running_postgres(Path(folder)) as server:
            yield server


def show(database: str, size: int, got: dict[str, float]) -> None:
    ratio = got["stored"] / got["files"]
    print(
        f"{database:10} {size // MB:4} MB  stored {got['stored'] / MB:7.1f} MB "
        f"({ratio:4.2f}x files, +{got['per change'] / 1000:.0f} KB a change)  "
        f"first save {got['first']:6.2f} s  "
        f"small change {got['small'] * 1000:7.0f} ms (plain {got['plain small'] * 1000:5.1f} ms)  "
        f"restore {got['restore']:6.2f} s (plain copy {got['plain restore']:5.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100", help="MB, comma-separated")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL (else a throwaway)")
    args = parser.parse_args()
    sizes = [int(each) * MB for each in args.sizes.split(",")]
    with postgres(args.postgres) as server:
        for size in sizes:
            with tempfile.TemporaryDirectory(prefix="cellhub-bench-files-") as folder:
                url = f"sqlite:///{folder}/bench.sqlite"
                show("SQLite", size, measure(url, size, args.repeat, Path(folder)))
            if server is None:
                print("PostgreSQL: not installed and no --postgres URL; skipped")
                continue
            with tempfile.TemporaryDirectory(prefix="cellhub-bench-files-") as folder:
                database = fresh_database(server)
                show("PostgreSQL", size, measure(database, size, args.repeat, Path(folder)))


def fresh_database(server: str) -> str:
    """A new database on ``server`` for one measure."""
    import sqlalchemy

    name = f"bench_files_{os.getpid()}_{time.monotonic_ns()}"
    admin = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return (
        sqlalchemy.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    )


if __name__ == "__main__":
    main()
