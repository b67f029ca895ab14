"""Security headers on every response: what the browser may do with what the hub sends.

Every HTTP response gets ``X-Content-Type-Options: nosniff`` (a JSON body or a user's file is
never run as a script or page because it looks like one) and ``Referrer-Policy: no-referrer``
(addresses, which may carry a token or a share id, never leave in a Referer).

Every response also gets a Content-Security-Policy, unless its handler set its own (the
output frame does, see hub/output_frame.py):

- an HTML page gets ``PAGE_POLICY``: scripts only from the hub's own files, never inline
  (the page config is a ``<script type="application/json">`` data block, which no policy
  runs), connections only to the hub, frames only from the hub (the sandboxed output frame),
  images also from ``data:``/``blob:`` URLs (plots, image widgets), styles also inline
  (CodeMirror, KaTeX and the widgets set style attributes and sheets at run time; a style
  cannot run script). So markup that reaches the page despite the sanitizer runs nothing.
- any other response gets ``default-src 'none'``: opened on its own, a JSON body or a
  static file can load and run nothing.

``frame-ancestors`` comes from the ``frame_ancestors`` setting (default: nobody may frame the
hub's pages, against clickjacking); embedded cells use embed.js, not frames of the hub.
"""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self' {websockets}; frame-src 'self'; worker-src 'none'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
)
OTHER_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
#: A Host header fit to name in a policy (anything else could add directives to it).
HOST = re.compile(r"[A-Za-z0-9.\-]+(?::[0-9]+)?|\[[0-9A-Fa-f:.]+\](?::[0-9]+)?")
ALWAYS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def page_policy(scope: Scope, ancestors: str) -> str:
    """``PAGE_POLICY`` for the host the request reached.

    WebSockets to the hub itself are named explicitly: older Safari does not count ``ws:``
    and ``wss:`` URLs of the page's own host as ``'self'``.
    """
    host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
    websockets = f"ws://{host} wss://{host}" if HOST.fullmatch(host) else ""
    return PAGE_POLICY.format(websockets=websockets, ancestors=ancestors)


class SecurityHeaders:
    """Adds the headers above to each HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, frame_ancestors: list[str]) -> None:
        self.app = app
        self.ancestors = " ".join(frame_ancestors) or "'none'"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                html = headers.get("content-type", "").startswith("text/html")
                policy = page_policy(scope, self.ancestors) if html else OTHER_POLICY
                headers.setdefault("content-security-policy", policy)
            await send(message)

        await self.app(scope, receive, send_with_headers)
