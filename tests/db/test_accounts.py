"""Accounts, identities and API tokens in the database (db/accounts.py, db/api_tokens.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from cellhub.db.accounts import AccountExists, AccountRepository, NoSuchAccount
from cellhub.db.api_tokens import ApiTokenRepository, token_key
from cellhub.db.database import make_engine, upgrade
from cellhub.db.login_sessions import LoginSessionRepository
from cellhub.hub.passwords import hash_password, verify


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    made = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(made)
    return made


def test_accounts_passwords_and_identities(engine: Engine) -> None:
    accounts = AccountRepository(engine)
    ada = accounts.create("ada", password_hash=hash_password("correct horse"), role="admin")
    assert ada.is_admin and ada.has_password and not ada.disabled
    with pytest.raises(AccountExists):
        accounts.create("ada")
    with pytest.raises(ValueError):
        accounts.create("not a name")
    with pytest.raises(NoSuchAccount):
        accounts.by_name("bob")
    found, stored = accounts.password_hash("ada")
    assert found == ada and stored is not None and stored.startswith("$argon2id$")
    assert verify(stored, "correct horse") and not verify(stored, "wrong")
    assert not verify(None, "anything")

    bob = accounts.create("bob")
    accounts.link_identity("github", "12345", bob.id)
    with pytest.raises(AccountExists):
        accounts.link_identity("github", "12345", ada.id)
    assert accounts.by_identity("github", "12345") == bob
    assert accounts.by_identity("github", "999") is None
    assert [a.name for a in accounts.every()] == ["ada", "bob"]


def test_a_reset_ends_logins_and_tokens(engine: Engine) -> None:
    accounts, tokens = AccountRepository(engine), ApiTokenRepository(engine)
    logins = LoginSessionRepository(engine)
    ada = accounts.create("ada", password_hash=hash_password("correct horse"))
    token, record = tokens.create(ada.id, ("kernels",), "laptop", lifetime=3600)
    assert token.startswith("chu_") and record.prefix == token[:8]
    assert record.scopes == ("kernels",) and record.expires is not None
    with engine.connect() as db:
        stored = db.exec_driver_sql("SELECT key FROM api_tokens").scalar()
    assert stored == token_key(token) and token not in str(stored)
    assert tokens.resolve(token) is not None and tokens.resolve(token + "x") is None
    logins.add("k1", 3600, ada.id)
    assert logins.live("k1") is not None

    accounts.reset(ada.id)
    assert logins.live("k1") is None and tokens.resolve(token) is None
    assert not accounts.by_name("ada").has_password

    logins.add("k2", 3600, ada.id)
    accounts.set_disabled(ada.id)
    assert logins.live("k2") is None and accounts.by_name("ada").disabled


def test_expired_tokens_and_idle_logins_are_refused(engine: Engine) -> None:
    accounts, tokens = AccountRepository(engine), ApiTokenRepository(engine)
    logins = LoginSessionRepository(engine)
    ada = accounts.create("ada")
    token, _ = tokens.create(ada.id, lifetime=-1)
    assert tokens.resolve(token) is None
    logins.add("k", 3600, ada.id)
    with engine.begin() as db:
        db.exec_driver_sql("UPDATE login_sessions SET last_seen = '2000-01-01 00:00:00'")
    assert logins.live("k", idle=3600) is None and logins.live("k") is not None
