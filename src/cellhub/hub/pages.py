"""HTML pages: the worksheet UI.

A page never carries the token: a browser opens it logged in (hub/login.py turns
``?token=`` into a login cookie and redirects here without it), or, in an anonymous
deployment, as an anonymous client. The page config is a JSON data block, which the page's
Content-Security-Policy (hub/security_headers.py) lets through since it never runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

import cellhub
from cellhub.hub.auth import is_authenticated

TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
)

LOGIN_HELP = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>cellhub</title></head>
<body><main><h1>cellhub</h1><p>This cellhub needs its access token. Open the address that
<code>cellhub serve</code> printed (it ends in <code>?token=…</code>).</p></main></body></html>"""


def refusal(request: Request) -> Response | None:
    """How to answer a page request that may not see the worksheet; None when it may.

    Without a login (or the token) only an anonymous deployment shows pages.
    """
    if is_authenticated(request, request.app.state.token):
        return None
    if request.app.state.config.allow_anonymous:
        return None
    return HTMLResponse(LOGIN_HELP, status_code=403)


def worksheet_page(request: Request, shared: dict[str, Any] | None = None) -> Response:
    """The UI; ``shared`` (a permalink's code and whether to run it) opens in its one cell."""
    page_config: dict[str, Any] = {
        "baseUrl": str(request.base_url),
        "anonymous": not is_authenticated(request, request.app.state.token),
        "kernelName": shared["kernelName"] if shared else "python3",
        "version": cellhub.__version__,
    }
    if shared is not None:
        page_config["shared"] = shared
    html = TEMPLATES.get_template("index.html").render(
        page_config=page_config, static_url="/static/"
    )
    return HTMLResponse(html)


async def worksheet(request: Request) -> Response:
    return refusal(request) or worksheet_page(request)


ROUTES = [Route("/", worksheet)]
