"""Embedded cells that cannot have a kernel say why and what to do, and the kernels a page
started end with it (pagehide), so reloads stay under the per-client limit. (An origin the hub
does not list: test_embed.py.)"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ThirdPartySite
from tests.browser.test_embed import open_page
from tests.conftest import RunningHub, start_cellhub

LIMIT = 2
GROUPS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Cells in groups</title></head><body>
CELLS
<script src="HUB/static/embed.js"></script>
</body></html>
"""


def page_of(hub: RunningHub, cells: str) -> str:
    return GROUPS_PAGE.replace("CELLS", cells).replace("HUB/", hub.url)


def grouped_cells(groups: int, autorun: bool) -> str:
    run = " data-cellhub-autorun" if autorun else ""
    return "\n".join(
        f'<div class="cellhub" data-cellhub-kernel="g{n}"{run}>print("group", {n})</div>'
        for n in range(groups)
    )


def hub_for(site: ThirdPartySite, factory: pytest.TempPathFactory, **env: str) -> RunningHub:
    return start_cellhub(factory.mktemp("hub"), env={"CELLHUB_CORS_ORIGINS": site.origin, **env})


@pytest.fixture(scope="module")
def limited_hub(
    site: ThirdPartySite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    server = hub_for(
        site,
        tmp_path_factory,
        CELLHUB_ALLOW_ANONYMOUS="true",
        CELLHUB_ANONYMOUS_KERNELS_PER_CLIENT=str(LIMIT),
    )
    yield server
    server.stop()


def live_kernels(hub: RunningHub) -> set[str]:
    """Every kernel the hub runs, as its token sees them."""
    answer = httpx.get(f"{hub.url}api/kernels", headers={"Authorization": f"token {hub.token}"})
    answer.raise_for_status()
    return {kernel["id"] for kernel in answer.json()}


@pytest.fixture
def hub(limited_hub: RunningHub) -> RunningHub:
    """The limited hub with no kernel left by an earlier test."""
    for kernel_id in live_kernels(limited_hub):
        httpx.delete(
            f"{limited_hub.url}api/kernels/{kernel_id}",
            headers={"Authorization": f"token {limited_hub.token}"},
        )
    return limited_hub


def all_gone(hub: RunningHub, kernels: list[str], timeout: float = 20) -> None:
    """Polls the hub until it runs none of ``kernels``."""
    deadline = time.monotonic() + timeout
    while live_kernels(hub) & set(kernels):
        assert time.monotonic() < deadline, f"still running: {live_kernels(hub) & set(kernels)}"
        time.sleep(0.1)


def kernel_ids(page: Any) -> list[str]:
    ids: list[str] = page.evaluate("cellhub.cells.map((cell) => cell.group.kernel.kernelId)")
    return ids


def ran_without_complaint(page: Any, groups: int) -> None:
    for n in range(groups):
        cell = page.locator("div.cellhub").nth(n)
        expect(cell.locator(".outputs")).to_contain_text(f"group {n}", timeout=60_000)
        expect(cell.locator(".cellhub-message")).to_be_hidden()


def test_a_kernel_over_the_clients_limit_shows_the_servers_message(
    context: Any, site: ThirdPartySite, hub: RunningHub
) -> None:
    page, errors = open_page(context, site, page_of(hub, grouped_cells(LIMIT + 1, False)))
    cells = page.locator("div.cellhub")
    for n in range(LIMIT):
        cells.nth(n).locator("button.cellhub-run").click()
        expect(cells.nth(n).locator(".outputs")).to_contain_text(f"group {n}", timeout=60_000)
    over = cells.nth(LIMIT)
    over.locator("button.cellhub-run").click()
    expect(over.locator(".cellhub-status")).to_have_text("Kernel stopped")
    message = over.locator(".cellhub-message")
    expect(message).to_contain_text(f"anonymous clients may run {LIMIT} kernels at once")
    expect(message).to_contain_text("Close other pages that use it, or try again later.")
    assert errors == []


def test_kernels_end_with_their_page_so_reloads_stay_under_the_limit(
    context: Any, site: ThirdPartySite, hub: RunningHub
) -> None:
    page, errors = open_page(context, site, page_of(hub, grouped_cells(LIMIT, True)))
    ran_without_complaint(page, LIMIT)
    before = kernel_ids(page)
    for _ in range(3):
        page.reload()
        ran_without_complaint(page, LIMIT)
        now = kernel_ids(page)
        assert not set(now) & set(before), "the reloaded page kept its kernels"
        all_gone(hub, before)
        before = now
    page.goto("about:blank")
    all_gone(hub, before)
    assert errors == []


def test_a_hub_that_does_not_answer_is_called_unreachable(
    context: Any, site: ThirdPartySite, limited_hub: RunningHub
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        stopped = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    cell = f'<div class="cellhub" data-cellhub-autorun data-cellhub-url="{stopped}">1</div>'
    page, _ = open_page(context, site, page_of(limited_hub, cell))
    expect(page.locator(".cellhub-message")).to_contain_text(
        f"The cellhub at {stopped} cannot be reached", timeout=30_000
    )


def test_a_hub_without_anonymous_use_says_what_would_open_it(
    context: Any, site: ThirdPartySite, tmp_path_factory: pytest.TempPathFactory
) -> None:
    private = hub_for(site, tmp_path_factory)
    try:
        page, _ = open_page(context, site, page_of(private, grouped_cells(1, True)))
        expect(page.locator(".cellhub-message")).to_contain_text(
            "is not open to anonymous use: its admin can set allow_anonymous = true, "
            "or the page can give a token",
            timeout=30_000,
        )
    finally:
        private.stop()
