"""HTML pages: the worksheet UI, and the page that asks for the token instead.

A page never carries the token: a browser opens it logged in (hub/login.py turns
``?token=`` into a login cookie and redirects here without it), or, in an anonymous
deployment, as an anonymous client. The page config is a JSON data block, which the page's
Content-Security-Policy (hub/security_headers.py) lets through since it never runs; it says
whether anonymous use is on, so the Share panel can tell who may open a link.

A browser that may not see the worksheet — someone opening a shared link (``/s/{id}``,
``?run=1``, ``#z=``) on a deployment without anonymous use — gets 403 and the refusal page
(``templates/refusal.html``, sent by the access check, hub/access.py, as the route table
declares the pages ``ANONYMOUS``): styled like the UI, it says why and offers to log in and
come back to the same link. Its form has no script and no action: it sends the browser back
to the very address it is on, its query kept in hidden fields plus the token, which
hub/login.py turns into a login and a redirect without it. A ``#z=`` link's code survives,
since the code is in the fragment, which the form's target keeps and browsers carry across a
redirect whose address has none.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

import cellhub
from cellhub.hub.access import Access, Guarded
from cellhub.hub.auth import is_authenticated
from cellhub.hub.callers import caller
from cellhub.hub.owners import owner_of
from cellhub.hub.templating import TEMPLATES


def worksheet_page(request: Request, shared: dict[str, Any] | None = None) -> Response:
    """The UI; ``shared`` (a permalink's code and whether to run it) opens in its one cell."""
    page_config: dict[str, Any] = {
        "baseUrl": str(request.base_url),
        "anonymous": not is_authenticated(request, request.app.state.token),
        "allowAnonymous": request.app.state.config.allow_anonymous,
        "serverWorksheets": owner_of(request) is not None,
        "kernelName": shared["kernelName"] if shared else "python3",
        "version": cellhub.__version__,
    }
    if shared is not None:
        page_config["shared"] = shared
    who = caller(request)
    html = TEMPLATES.get_template("index.html").render(page_config=page_config, who=who)
    return HTMLResponse(html)


async def worksheet(request: Request) -> Response:
    return worksheet_page(request)


ROUTES = [Guarded(Access.ANONYMOUS, Route("/", worksheet))]
