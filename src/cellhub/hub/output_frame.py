"""The document ``text/html`` outputs render in: ``GET /output-frame``.

The worksheet shows HTML outputs in an iframe sandboxed with ``allow-scripts`` and without
``allow-same-origin``, so their scripts (plotly, bokeh, pandas stylers) run in an opaque
origin that can reach neither the page, its cookie nor the API (docs/ui.md). A ``srcdoc``
frame would inherit the page's Content-Security-Policy, which runs no inline script, and so
would break exactly those outputs. This route serves the frame instead: a small shell that
tells its parent it is ready and writes the document the parent posts back in place of
itself (frontend/src/render/htmlFrame.ts). The written document keeps this response's own
policy, ``FRAME_POLICY``: anything may load and run, as in a notebook, but its ``sandbox``
directive keeps the document in an opaque origin even when the address is opened outside
the worksheet's frame.

The shell is the same for everyone and holds nothing: it needs no login, and any page may
frame it (embedded cells on other sites too).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from cellhub.hub.access import Access, Guarded

SHELL = (Path(__file__).with_name("templates") / "output-frame.html").read_text()
FRAME_POLICY = "sandbox allow-scripts; default-src * data: blob: 'unsafe-inline' 'unsafe-eval'"


async def output_frame(request: Request) -> Response:
    return HTMLResponse(
        SHELL,
        headers={"Content-Security-Policy": FRAME_POLICY, "Cache-Control": "max-age=3600"},
    )


ROUTES = [Guarded(Access.ANYONE, Route("/output-frame", output_frame))]
