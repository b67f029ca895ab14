"""The worksheet page's kernel is shut down a grace period after no page holds it, while a
kernel started otherwise keeps to ``idle_timeout`` (an hour by default)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import start_cellhub
from tests.polling import until

pytestmark = pytest.mark.both_databases

GRACE = 1.0


async def test_a_page_kernel_ends_after_its_grace_once_no_page_holds_it(tmp_path: Path) -> None:
    env = {"CELLHUB_PAGE_KERNEL_GRACE": str(GRACE), "CELLHUB_CULL_INTERVAL": "0.25"}
    server = start_cellhub(tmp_path / "data", env=env)
    headers = {"Authorization": f"token {server.token}"}
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as api:
            page = (await api.post("/api/kernels", json={"cellhub_page": True})).json()["id"]
            other = (await api.post("/api/kernels", json={})).json()["id"]
            channels = server.url.replace("http", "ws") + f"api/kernels/{page}/channels"
            async with websockets.connect(channels, additional_headers=headers):
                # What must not happen can only be waited out: held by a page for well over
                # its grace (several culling rounds), the kernel lives on.
                await asyncio.sleep(3 * GRACE)
                assert (await api.get(f"/api/kernels/{page}")).status_code == 200

            async def ended() -> bool:
                return (await api.get(f"/api/kernels/{page}")).status_code == 404

            await until(ended, "the page's kernel ended after its grace", timeout=15)
            reason = (await api.get(f"/api/kernels/{page}")).json()["reason"]
            assert "after the last page using it closed" in reason
            assert (await api.get(f"/api/kernels/{other}")).status_code == 200
    finally:
        server.stop()
