"""HTML pages: the worksheet UI. Opening it with ``?token=`` logs the browser in with a cookie."""

from __future__ import annotations

from pathlib import Path

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


async def worksheet(request: Request) -> Response:
    token: str = request.app.state.token
    if not is_authenticated(request, token):
        return HTMLResponse(LOGIN_HELP, status_code=403)
    presented, from_cookie = presented_token(request)
    if "token" in request.query_params:
        response: Response = RedirectResponse(
            request.url.remove_query_params("token"), status_code=303
        )
    else:
        page_config = {
            "baseUrl": str(request.base_url),
            "token": token,
            "kernelName": "python3",
            "version": cellhub.__version__,
        }
        html = TEMPLATES.get_template("index.html").render(
            page_config=page_config, static_url="/static/"
        )
        response = HTMLResponse(html)
    if not from_cookie:
        response.set_cookie(COOKIE, presented, httponly=True, samesite="strict")
    return response


ROUTES = [Route("/", worksheet)]
