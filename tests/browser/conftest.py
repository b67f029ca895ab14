"""Browser fixtures: Debian's Chromium driven by Playwright, on a real ``cellhub serve``."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningHub

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

playwright_sync = pytest.importorskip("playwright.sync_api")

from bench.ui_bench import CHROMIUM_ARGS  # noqa: E402 - only once Playwright is known to exist


@dataclass
class UiServer:
    url: str
    token: str


@pytest.fixture(scope="module")
def ui_server(cellhub_server: RunningHub) -> UiServer:
    return UiServer(cellhub_server.url, cellhub_server.token)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API holds an event loop on the main thread while it
    runs, which the asyncio tests of later modules could not start beside."""
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def open_worksheet(context: Any, server: UiServer) -> Any:
    page = context.new_page()
    page.goto(f"{server.url}?token={server.token}")
    page.wait_for_selector(".cell .cm-content")
    page.wait_for_selector('.kernel-state[data-state="idle"]', timeout=60_000)
    return page


@pytest.fixture
def context(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser profile (empty localStorage) per test; a screenshot when the test fails."""
    options: dict[str, Any] = {"accept_downloads": True, "viewport": {"width": 1100, "height": 900}}
    options.update(getattr(request, "param", {}))
    context = browser.new_context(**options)
    context.set_default_timeout(20_000)
    yield context
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        for index, page in enumerate(context.pages):
            try:
                page.screenshot(path=str(ARTIFACTS / f"{name}-{index}.png"), full_page=True)
            except playwright_sync.Error as error:  # a crashed page; keep the test's own failure
                print(f"screenshot failed: {error}")
    context.close()


@pytest.fixture
def page(context: Any, ui_server: UiServer) -> Any:
    return open_worksheet(context, ui_server)


class ThirdPartySite:
    """A static page server on its own port: another origin than the hub's. It answers
    ``files`` at their paths (as text), and the page a test sets at any other."""

    def __init__(self) -> None:
        self.page = ""
        self.files: dict[str, bytes] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.files.get(self.path, site.page.encode())
                kind = "text/plain" if self.path in site.files else "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site() -> Iterator[ThirdPartySite]:
    """Another origin than the hub's, serving the page a test sets; one per module."""
    server = ThirdPartySite()
    yield server
    server.close()
