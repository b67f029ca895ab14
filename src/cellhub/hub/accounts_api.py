"""``/api/users``: administrators list, make, disable, enable and reset accounts (the admin
view's users table, and scripts with an admin token).

- ``GET /api/users``: every account, with the providers of its linked identities;
- ``POST /api/users`` ``{"name", "role"?, "password"?, "group"?}``: a new account (201;
  409 when the name is taken, 400 when it is no name or role);
- ``POST /api/users/{name}/disable`` and ``…/enable``: a disabled account's logins and API
  tokens stop working at once, on every hub (the rows are gone or refused), and it cannot
  log in again — with a password or an identity provider — until enabled;
- ``POST /api/users/{name}/reset``: no password, logins or API tokens left, and its running
  kernels ended; its identities stay, so its owner can log in again through their provider.

An account is never shown with its password hash: ``has_password`` says whether it has one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cellhub.db.accounts import AccountExists, AccountRecord, NoSuchAccount
from cellhub.hub.access import Access, Guarded
from cellhub.hub.callers import account_owner
from cellhub.hub.json_api import Refused, error, json_object
from cellhub.hub.kernels import NoSuchKernel
from cellhub.hub.kernels_api import service
from cellhub.hub.login import accounts
from cellhub.hub.passwords import hash_password
from cellhub.hub.workers import WorkerError


def iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat()


def account_model(account: AccountRecord, providers: list[str]) -> dict[str, Any]:
    return {
        "name": account.name,
        "display_name": account.display_name,
        "email": account.email,
        "role": account.role,
        "group": account.group_name,
        "disabled": account.disabled,
        "has_password": account.has_password,
        "created": iso(account.created),
        "last_login": iso(account.last_login),
        "identities": providers,
    }


async def model_of(request: Request, account: AccountRecord) -> dict[str, Any]:
    linked = await asyncio.to_thread(accounts(request).identities, account.id)
    return account_model(account, sorted({provider for provider, _ in linked}))


async def list_users(request: Request) -> Response:
    every = await asyncio.to_thread(accounts(request).every)
    return JSONResponse([await model_of(request, account) for account in every])


async def create_user(request: Request) -> Response:
    body = await json_object(
        request, not_json="body is not valid JSON", not_object="body must be a JSON object"
    )
    name, role = body.get("name"), body.get("role", "user")
    password, group = body.get("password") or None, body.get("group", "")
    if not isinstance(name, str) or not isinstance(role, str) or not isinstance(group, str):
        return error(400, "name, role and group are strings")
    if not isinstance(password, str | None):
        return error(400, "password is a string")
    secret = await asyncio.to_thread(hash_password, password) if password else None
    try:
        made = await asyncio.to_thread(
            accounts(request).create, name, password_hash=secret, role=role, group_name=group
        )
    except AccountExists as exc:
        return error(409, str(exc))
    except ValueError as exc:
        return error(400, str(exc))
    return JSONResponse(await model_of(request, made), status_code=201)


async def named(request: Request) -> AccountRecord:
    try:
        return await asyncio.to_thread(accounts(request).by_name, request.path_params["name"])
    except NoSuchAccount as exc:
        raise Refused(error(404, str(exc))) from None


async def disable_user(request: Request) -> Response:
    account = await named(request)
    await asyncio.to_thread(accounts(request).set_disabled, account.id, True)
    return JSONResponse(await model_of(request, await named(request)))


async def enable_user(request: Request) -> Response:
    account = await named(request)
    await asyncio.to_thread(accounts(request).set_disabled, account.id, False)
    return JSONResponse(await model_of(request, await named(request)))


async def reset_user(request: Request) -> Response:
    account = await named(request)
    await asyncio.to_thread(accounts(request).reset, account.id)
    ended = await end_kernels_of(request, account_owner(account.id))
    model = await model_of(request, await named(request))
    return JSONResponse({**model, "kernels_ended": ended})


async def end_kernels_of(request: Request, owner: str) -> int:
    """Shut down every live kernel ``owner`` started; how many ended."""
    kernels = service(request)
    records = await asyncio.to_thread(kernels.repository.live)
    ended = 0
    for record in records:
        if record.owner == owner:
            try:
                await kernels.shutdown(record.id)
            except (NoSuchKernel, WorkerError):
                continue  # gone already, or its worker is: the record says so
            ended += 1
    return ended


ROUTES = [
    Guarded(Access.ADMIN, Route("/api/users", list_users, methods=["GET"])),
    Guarded(Access.ADMIN, Route("/api/users", create_user, methods=["POST"])),
    Guarded(Access.ADMIN, Route("/api/users/{name}/disable", disable_user, methods=["POST"])),
    Guarded(Access.ADMIN, Route("/api/users/{name}/enable", enable_user, methods=["POST"])),
    Guarded(Access.ADMIN, Route("/api/users/{name}/reset", reset_user, methods=["POST"])),
]
