"""The Jupyter sessions table behind ``/api/sessions``: sessions listed by owner, changed
and removed."""

from __future__ import annotations

from pathlib import Path

from cellhub.db.database import make_engine, upgrade
from cellhub.db.jupyter_sessions import JupyterSessionRepository, SessionRecord


def test_sessions_round_trip_per_owner_and_path(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    repo = JupyterSessionRepository(engine)
    alice = SessionRecord("s1", "a.ipynb", "a", "notebook", "k1", "anonymous:1")
    bob = SessionRecord("s2", "a.ipynb", "a", "notebook", "k2", "anonymous:2")
    repo.add(alice)
    repo.add(bob)
    assert repo.get("s1") == alice and repo.get("nope") is None
    assert repo.listed() == [alice, bob]
    assert repo.listed("anonymous:2") == [bob]
    assert repo.listed("anonymous:1", "other") == []
    repo.change("s1", path="b.py", type="file", kernel_id="k3")
    assert repo.get("s1") == SessionRecord("s1", "b.py", "a", "file", "k3", "anonymous:1")
    repo.remove("s1")
    assert repo.listed() == [bob]
