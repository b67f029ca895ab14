"""The hub serves the static files itself (hub/static_files.py), for a deployment without
nginx in front; its pages name them by versioned URLs, which change with their content.
In process, no worker."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx

from cellhub.hub.static_files import STATIC_DIR
from tests.hub.in_process import HUB, TOKEN, in_process_hub

NAMED = re.compile(r'(?:href|src)="(/static/[^"]+)"')


async def test_the_page_names_versioned_files_the_hub_serves(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=in_process_hub(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url=HUB) as browser:
        page = await browser.get("/", headers={"Authorization": f"token {TOKEN}"})
        named = NAMED.findall(page.text)
        assert {url.split("?")[0] for url in named} == {
            "/static/app.js",
            "/static/app.css",
            "/static/account.css",
            "/static/favicon.svg",
        }
        for url in named:
            path, version = url.split("?v=")
            content = (STATIC_DIR / path.removeprefix("/static/")).read_bytes()
            assert version == hashlib.sha256(content).hexdigest()[: len(version)]
            assert len(version) >= 12
            served = await browser.get(url)
            assert served.status_code == 200 and served.content == content
        fonts = sorted((STATIC_DIR / "fonts").iterdir())
        font = await browser.get(f"/static/fonts/{fonts[0].name}")
        assert font.status_code == 200 and font.content == fonts[0].read_bytes()
