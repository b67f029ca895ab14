"""The accounts API, shaped like JupyterHub's ``/hub/api/users``: who am I, my API tokens,
and the administrators' account management.

- ``GET /api/users/me``: the caller's account (the deployment token: the bootstrap admin);
- ``GET|POST /api/users/me/tokens``, ``DELETE /api/users/me/tokens/{token_id}``: list, make
  (``{note, scopes, expires_in}``; the token is in the answer, once) and revoke one's own
  API tokens. A token made with a token gets no scope its maker lacks, so a kernels-only
  token cannot mint an admin one;
- ``GET|POST /api/users`` (admins): list accounts, make one (``{name, admin, group,
  password}``);
- ``POST /api/users/{name}/reset`` (admins): end the account's kernels, logins and tokens
  and remove its password (its files too, once files exist);
- ``POST /api/users/{name}/disable`` and ``/enable`` (admins);
- ``POST /api/users/invitations`` (admins; ``{admin}``): a sign-up link for one account,
  valid ``invitation_lifetime`` (hub/signup.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cellhub.db.accounts import AccountExists, AccountRecord, AccountRepository, NoSuchAccount
from cellhub.db.api_tokens import SCOPES, ApiTokenRepository, TokenRecord
from cellhub.db.invitations import InvitationRepository
from cellhub.hub.access import Access, Guarded
from cellhub.hub.callers import Caller, account_owner, caller
from cellhub.hub.json_api import Refused, error, json_object
from cellhub.hub.kernels import KernelService, NoSuchKernel
from cellhub.hub.passwords import hash_password

#: The longest lifetime a token may be given, in seconds (ten years).
LONGEST_TOKEN = 10 * 365 * 24 * 3600


def accounts(request: Request) -> AccountRepository:
    found: AccountRepository = request.app.state.accounts
    return found


def tokens(request: Request) -> ApiTokenRepository:
    found: ApiTokenRepository = request.app.state.api_tokens
    return found


def account_model(account: AccountRecord) -> dict[str, Any]:
    return {
        "name": account.name,
        "admin": account.is_admin,
        "group": account.group_name,
        "disabled": account.disabled,
        "created": account.created.isoformat(),
        "last_activity": account.last_login.isoformat() if account.last_login else None,
    }


def token_model(record: TokenRecord) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "prefix": record.prefix,
        "note": record.note,
        "scopes": list(record.scopes),
        "created": record.created.isoformat(),
        "expires_at": record.expires.isoformat() if record.expires else None,
        "last_activity": record.last_used.isoformat() if record.last_used else None,
    }


def me(request: Request) -> tuple[Caller, AccountRecord]:
    """The caller and its account; 400 for the deployment token, which has none."""
    found = caller(request)
    if found is None or found.account is None:
        raise Refused(error(400, "the deployment token has no account; log in as one"))
    return found, found.account


async def who_am_i(request: Request) -> Response:
    found = caller(request)
    if found is None or found.account is None:
        return JSONResponse({"name": "admin", "admin": True, "scopes": sorted(SCOPES)})
    model = account_model(found.account)
    return JSONResponse({**model, "admin": found.is_admin, "scopes": sorted(found.scopes)})


async def list_tokens(request: Request) -> Response:
    _, account = me(request)
    records = await asyncio.to_thread(tokens(request).listed, account.id)
    return JSONResponse({"api_tokens": [token_model(record) for record in records]})


async def make_token(request: Request) -> Response:
    found, account = me(request)
    body = await json_object(request, "request body is not valid JSON", "expected an object", {})
    scopes = body.get("scopes", ["kernels", "files"])
    expires_in = body.get("expires_in")
    if not isinstance(scopes, list) or not set(scopes) <= set(SCOPES) or not scopes:
        return error(400, f"'scopes' must be a list of some of {', '.join(SCOPES)}")
    if not set(scopes) <= found.scopes or ("admin" in scopes and not found.is_admin):
        return error(403, "a token cannot have a scope its maker lacks")
    if expires_in is not None and (
        not isinstance(expires_in, int | float) or not 0 < expires_in <= LONGEST_TOKEN
    ):
        return error(400, f"'expires_in' must be seconds, more than 0, at most {LONGEST_TOKEN}")
    note = str(body.get("note", ""))
    token, record = await asyncio.to_thread(
        tokens(request).create, account.id, tuple(scopes), note, expires_in
    )
    return JSONResponse({**token_model(record), "token": token}, status_code=201)


async def revoke_token(request: Request) -> Response:
    _, account = me(request)
    token_id = request.path_params["token_id"]
    gone = token_id.isdigit() and await asyncio.to_thread(
        tokens(request).revoke, account.id, int(token_id)
    )
    return Response(status_code=204) if gone else error(404, f"no token {token_id!r}")


async def list_accounts(request: Request) -> Response:
    every = await asyncio.to_thread(accounts(request).every)
    return JSONResponse([account_model(account) for account in every])


async def make_account(request: Request) -> Response:
    body = await json_object(request, "request body is not valid JSON", "expected an object")
    name, password, group = body.get("name"), body.get("password"), body.get("group", "")
    if not isinstance(name, str) or not (password is None or isinstance(password, str)):
        return error(400, "'name' must be a string, and 'password' one if given")
    if not isinstance(group, str) or len(group) > 64:
        return error(400, "'group' must be a string of at most 64 characters")
    secret = await asyncio.to_thread(hash_password, password) if password else None
    try:
        made = await asyncio.to_thread(
            accounts(request).create,
            name,
            password_hash=secret,
            role="admin" if body.get("admin") else "user",
            group_name=group,
        )
    except AccountExists as exc:
        return error(409, str(exc))
    except ValueError as exc:
        return error(400, str(exc))
    return JSONResponse(account_model(made), status_code=201)


async def named(request: Request) -> AccountRecord:
    try:
        return await asyncio.to_thread(accounts(request).by_name, request.path_params["name"])
    except NoSuchAccount as exc:
        raise Refused(error(404, str(exc))) from None


async def reset_account(request: Request) -> Response:
    """End the account's kernels, then its password, logins and tokens."""
    account = await named(request)
    kernels: KernelService = request.app.state.kernels
    for model in await kernels.list_for(account_owner(account.id)):
        with contextlib.suppress(NoSuchKernel):
            await kernels.shutdown(model["id"])
    await asyncio.to_thread(accounts(request).reset, account.id)
    return JSONResponse(account_model(await named(request)))


async def disable_account(request: Request) -> Response:
    account = await named(request)
    disabled = request.url.path.endswith("/disable")
    await asyncio.to_thread(accounts(request).set_disabled, account.id, disabled)
    return JSONResponse(account_model(await named(request)))


async def invite(request: Request) -> Response:
    body = await json_object(request, "request body is not valid JSON", "expected an object", {})
    found = caller(request)
    maker = found.account.id if found is not None and found.account is not None else None
    lifetime: float = request.app.state.config.invitation_lifetime
    invitations: InvitationRepository = request.app.state.invitations
    role = "admin" if body.get("admin") else "user"
    code = await asyncio.to_thread(invitations.create, maker, lifetime, role)
    url = f"{request.base_url}signup?invite={code}"
    return JSONResponse({"url": url, "role": role, "expires_in": lifetime}, status_code=201)


ROUTES = [
    Guarded(Access.USER, Route("/api/users/me", who_am_i, methods=["GET"])),
    Guarded(Access.USER, Route("/api/users/me/tokens", list_tokens, methods=["GET"])),
    Guarded(Access.USER, Route("/api/users/me/tokens", make_token, methods=["POST"])),
    Guarded(
        Access.USER,
        Route("/api/users/me/tokens/{token_id}", revoke_token, methods=["DELETE"]),
    ),
    Guarded(Access.ADMIN, Route("/api/users", list_accounts, methods=["GET"])),
    Guarded(Access.ADMIN, Route("/api/users", make_account, methods=["POST"])),
    Guarded(Access.ADMIN, Route("/api/users/invitations", invite, methods=["POST"])),
    Guarded(Access.ADMIN, Route("/api/users/{name}/reset", reset_account, methods=["POST"])),
    Guarded(Access.ADMIN, Route("/api/users/{name}/disable", disable_account, methods=["POST"])),
    Guarded(Access.ADMIN, Route("/api/users/{name}/enable", disable_account, methods=["POST"])),
]
