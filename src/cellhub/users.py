"""``cellhub users``: administer accounts from the shell, on a deployment's database.

Works on the database that ``data_dir`` / ``database_url`` name, like ``cellhub db``, with no
hub running or reachable: what a person does on the host when the web UI is not an option
(the first administrator, a locked-out admin, a script that makes a class's accounts).

- ``add NAME [--admin] [--group G] [--password]``: a new account (``--password`` asks for
  one, or reads a line from standard input when it is not a terminal);
- ``password NAME``: set a new password (every login of the account ends);
- ``list``: every account, its role, group and state;
- ``disable NAME`` / ``enable NAME``;
- ``reset NAME``: no password, no logins, no API tokens. Its kernels are a hub's to end
  (``POST /api/users/NAME/reset`` does both); its files too, once the files issue lands;
- ``token NAME [--scope S]… [--expires SECONDS] [--note TEXT]``: print a new API token.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from cellhub.config import Config
from cellhub.db.accounts import AccountExists, AccountRecord, AccountRepository, NoSuchAccount
from cellhub.db.api_tokens import SCOPES, ApiTokenRepository
from cellhub.db.database import make_engine, upgrade
from cellhub.hub.passwords import hash_password

ACTIONS = ("add", "password", "list", "disable", "enable", "reset", "token")


def add_users_parser(commands: Any, add_database_flags: Any) -> None:
    """The ``users`` command and its actions; ``add_database_flags`` adds --data-dir and
    --database-url (cli.py's)."""
    users = commands.add_parser("users", help="add, list, disable, reset accounts; API tokens")
    actions = users.add_subparsers(dest="action", required=True)
    named = {
        action: actions.add_parser(action, help=help_text)
        for action, help_text in (
            ("add", "make an account"),
            ("password", "set an account's password"),
            ("disable", "disable an account (it can no longer log in)"),
            ("enable", "enable a disabled account"),
            ("reset", "remove an account's password, logins and API tokens"),
            ("token", "print a new API token for an account"),
        )
    }
    listed = actions.add_parser("list", help="list the accounts")
    for parser in named.values():
        parser.add_argument("name", help="the account's name")
    named["add"].add_argument("--admin", action="store_true", help="an administrator")
    named["add"].add_argument("--group", default="", help="its group (for limits)")
    named["add"].add_argument("--password", action="store_true", help="ask for a password")
    token = named["token"]
    token.add_argument("--scope", action="append", choices=SCOPES, help="repeat; default all")
    token.add_argument("--expires", type=float, metavar="SECONDS", help="default: never")
    token.add_argument("--note", default="cellhub users token", help="what it is for")
    for parser in (*named.values(), listed):
        add_database_flags(parser)


def read_password(name: str) -> str:
    """A password from the terminal (asked twice) or one line of standard input."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"password for {name}: ")
    if first != getpass.getpass("again: "):
        raise SystemExit("cellhub: the passwords differ")
    return first


def shown(account: AccountRecord) -> str:
    state = "disabled" if account.disabled else "active"
    login = "password" if account.has_password else "no password"
    group = account.group_name or "-"
    return f"{account.name:<24} {account.role:<6} {group:<12} {state:<8} {login}"


def users(config: Config, args: argparse.Namespace) -> None:
    """Run one ``cellhub users`` action; SystemExit with a message when it cannot."""
    engine = make_engine(config.db_url)
    upgrade(engine)
    accounts = AccountRepository(engine)
    try:
        if args.action == "list":
            for account in accounts.every():
                print(shown(account))
            return
        if args.action == "add":
            secret = hash_password(read_password(args.name)) if args.password else None
            role = "admin" if args.admin else "user"
            made = accounts.create(
                args.name, password_hash=secret, role=role, group_name=args.group
            )
            print(f"cellhub: made the account {made.name} ({made.role})")
            return
        change(accounts, ApiTokenRepository(engine), accounts.by_name(args.name), args)
    except (AccountExists, NoSuchAccount, ValueError) as exc:
        raise SystemExit(f"cellhub: {exc}") from None
    finally:
        engine.dispose()


def change(
    accounts: AccountRepository,
    tokens: ApiTokenRepository,
    account: AccountRecord,
    args: argparse.Namespace,
) -> None:
    """The actions on an existing account."""
    if args.action == "password":
        accounts.set_password(account.id, hash_password(read_password(account.name)))
        print(f"cellhub: set the password of {account.name}; its logins have ended")
    elif args.action in ("disable", "enable"):
        accounts.set_disabled(account.id, args.action == "disable")
        print(f"cellhub: {args.action}d {account.name}")
    elif args.action == "reset":
        accounts.reset(account.id)
        print(
            f"cellhub: reset {account.name}: no password, logins or API tokens left; its "
            f"running kernels end with POST /api/users/{account.name}/reset on a hub"
        )
    else:
        scopes = tuple(args.scope or SCOPES)
        token, _ = tokens.create(account.id, scopes, args.note, args.expires)
        print(token)
