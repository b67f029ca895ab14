"""``cellhub users`` (users.py), run in process on a data dir's database."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cellhub.cli import main
from cellhub.db.accounts import AccountRepository
from cellhub.db.api_tokens import ApiTokenRepository
from cellhub.db.database import make_engine


def run(capsys: pytest.CaptureFixture[str], data: Path, *argv: str) -> str:
    main(["users", *argv, "--data-dir", str(data)])
    return capsys.readouterr().out


def test_add_list_disable_reset_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert "made the account ada (admin)" in run(
        capsys, tmp_path, "add", "ada", "--admin", "--password"
    )
    run(capsys, tmp_path, "add", "bob", "--group", "physics")
    listed = run(capsys, tmp_path, "list").splitlines()
    assert listed[0].split() == ["ada", "admin", "-", "active", "password"]
    assert listed[1].split() == ["bob", "user", "physics", "active", "no", "password"]
    token = run(capsys, tmp_path, "token", "bob", "--scope", "kernels").strip()
    engine = make_engine(f"sqlite:///{tmp_path / 'cellhub.sqlite'}")
    record = ApiTokenRepository(engine).resolve(token)
    assert record is not None and record.scopes == ("kernels",)
    run(capsys, tmp_path, "disable", "bob")
    assert AccountRepository(engine).by_name("bob").disabled
    assert "reset ada" in run(capsys, tmp_path, "reset", "ada")
    assert not AccountRepository(engine).by_name("ada").has_password
    with pytest.raises(SystemExit, match="an account named 'bob' exists"):
        run(capsys, tmp_path, "add", "bob")
    with pytest.raises(SystemExit, match="no account named 'eve'"):
        run(capsys, tmp_path, "reset", "eve")
