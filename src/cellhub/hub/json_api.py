"""How the hub's JSON API answers what it will not do: Jupyter Server's error body, the
request body read as a JSON object, and the 429 of a client over its budget.

Every error the API sends is ``{"message": …, "reason": …}``, as Jupyter Server sends them
and as the OpenAPI description (hub/openapi.py) documents; :func:`error` is the one place
that writes it. A handler that meets a request it cannot serve raises :class:`Refused` with
the answer, from however deep it is; the app answers with it (``EXCEPTION_HANDLERS``).
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from cellhub.hub.auth import client_address
from cellhub.hub.ratelimit import ClientBudget


def error(
    status: int, message: str, headers: dict[str, str] | None = None, reason: str | None = None
) -> JSONResponse:
    """Jupyter Server's error body; ``reason`` says more where there is more to say."""
    body = {"message": message, "reason": reason}
    return JSONResponse(body, status_code=status, headers=headers)


class Refused(Exception):
    """The request cannot be done; ``response`` is the answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def json_object(
    request: Request, not_json: str, not_object: str, empty: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The body as a JSON object; 400 with ``not_json`` or ``not_object`` when it is not one.
    ``empty``: what an empty body stands for, where the operation lets the body out."""
    raw = await request.body()
    if empty is not None and not raw.strip():
        return empty
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Refused(error(400, not_json)) from None
    if not isinstance(body, dict):
        raise Refused(error(400, not_object))
    return body


def spend(budget: ClientBudget, conn: HTTPConnection, what: str) -> None:
    """Take one of ``what`` (kernel starts, permalinks) from this client's budget; over it,
    429 with how long to wait."""
    wait = budget.take(client_address(conn))
    if wait:
        raise Refused(
            error(
                429,
                f"too many {what} from this client; try again later",
                {"Retry-After": str(math.ceil(wait))},
            )
        )


async def on_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return exc.response


async def not_found(request: Request, exc: Exception) -> Response:
    return error(404, "Not found")


EXCEPTION_HANDLERS = {Refused: on_refused, 404: not_found}
