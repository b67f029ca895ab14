"""A static page using Thebe (tests/clients/thebe/) runs its cells on cellhub.

The page is served from a second loopback port — another origin, listed in the hub's
``cors_origins`` as docs/embedding.md asks — and Thebe, loaded from the page's own
node_modules (no CDN), starts a session through ``/api/sessions`` and runs a print and a
matplotlib plot; the outputs appear under the cells as they do with a Jupyter Server.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.clients.node_packages import installed
from tests.conftest import RunningHub, start_cellhub

PAGE = Path(__file__).resolve().parents[1] / "clients" / "thebe"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """The page's requests are not the test's output."""


@pytest.fixture(scope="module")
def page_server() -> Iterator[str]:
    """The Thebe page's folder over HTTP on an ephemeral loopback port."""
    installed(PAGE)
    handler = functools.partial(QuietHandler, directory=str(PAGE))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def thebe_hub(page_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    env = {"CELLHUB_CORS_ORIGINS": page_server}
    server = start_cellhub(tmp_path_factory.mktemp("thebe-hub"), env=env)
    yield server
    server.stop()


def test_thebe_page_runs_its_cells(context: Any, page_server: str, thebe_hub: RunningHub) -> None:
    hosts: set[str] = set()
    page = context.new_page()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or ""))
    page.goto(f"{page_server}/index.html?hub={thebe_hub.url}&token={thebe_hub.token}")
    page.wait_for_function("() => window.thebe && window.thebe.session", timeout=60_000)
    for button in page.locator(".thebe-run-button").all():
        button.click()
    outputs = page.locator(".jp-OutputArea-output")
    outputs.filter(has_text="hello from thebe").wait_for(timeout=30_000)
    page.locator(".jp-OutputArea-output img").first.wait_for(timeout=30_000)
    assert hosts == {"127.0.0.1"}
