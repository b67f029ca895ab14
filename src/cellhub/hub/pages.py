"""HTML pages: the worksheet UI. Opening it with ``?token=`` logs the browser in with a cookie."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

import cellhub
from cellhub.hub.auth import COOKIE, is_authenticated, presented_token

TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
)

LOGIN_HELP = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>cellhub</title></head>
<body><main><h1>cellhub</h1><p>This cellhub needs its access token. Open the address that
<code>cellhub serve</code> printed (it ends in <code>?token=…</code>).</p></main></body></html>"""


def refusal(request: Request) -> Response | None:
    """How to answer a page request that may not see the worksheet yet; None when it may.

    Without the token only an anonymous deployment shows pages; with ``?token=`` the browser
    gets the login cookie and is sent to the same address without the token in it.
    """
    authenticated = is_authenticated(request, request.app.state.token)
    if not authenticated and not request.app.state.config.allow_anonymous:
        return HTMLResponse(LOGIN_HELP, status_code=403)
    if authenticated and "token" in request.query_params:
        response = RedirectResponse(request.url.remove_query_params("token"), status_code=303)
        response.set_cookie(COOKIE, request.query_params["token"], httponly=True, samesite="strict")
        return response
    return None


def worksheet_page(request: Request, shared: dict[str, Any] | None = None) -> Response:
    """The UI; ``shared`` (a permalink's code and whether to run it) opens in its one cell."""
    token: str = request.app.state.token
    authenticated = is_authenticated(request, token)
    page_config: dict[str, Any] = {
        "baseUrl": str(request.base_url),
        "token": token if authenticated else "",
        "anonymous": not authenticated,
        "kernelName": shared["kernelName"] if shared else "python3",
        "version": cellhub.__version__,
    }
    if shared is not None:
        page_config["shared"] = shared
    html = TEMPLATES.get_template("index.html").render(
        page_config=page_config, static_url="/static/"
    )
    response = HTMLResponse(html)
    presented, from_cookie = presented_token(request)
    if authenticated and not from_cookie:
        response.set_cookie(COOKIE, presented, httponly=True, samesite="strict")
    return response


async def worksheet(request: Request) -> Response:
    return refusal(request) or worksheet_page(request)


ROUTES = [Route("/", worksheet)]
