"""Pages (hub/pages.py): the refusal page a browser without the token or a login gets, and
the page config's word on who may open links. In process, no worker."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.hub.in_process import HUB, TOKEN, in_process_hub

pytestmark = pytest.mark.both_databases

CONFIG = re.compile(r'<script id="cellhub-config" type="application/json">(.*?)</script>', re.S)
TOKEN_FIELD = re.compile(r'<input id="token" name="token" type="password"[^>]*required')


async def test_a_link_without_the_token_gets_a_styled_page_that_logs_in(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=in_process_hub(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url=HUB) as browser:
        page = await browser.get("/s/abcdefgh?run=1&x=%22%3E")
        assert page.status_code == 403
        html = page.text
        assert re.search(r'<link rel="stylesheet" href="/static/app.css\?v=[0-9a-f]{12}">', html)
        assert '<main class="refusal">' in html and "Log in to open this link" in html
        # The form goes back to this address: no action, the query in hidden fields.
        assert '<form class="refusal-form" method="get">' in html
        assert '<input type="hidden" name="run" value="1">' in html
        assert '<input type="hidden" name="x" value="&#34;&gt;">' in html
        assert TOKEN_FIELD.search(html)
        assert "<script" not in html and "not this cellhub's token" not in html
        assert "script-src 'self'" in page.headers["content-security-policy"]

        wrong = await browser.get("/s/abcdefgh?run=1&token=wrong")
        assert wrong.status_code == 403
        assert "not this cellhub's token" in wrong.text and "wrong" not in wrong.text

        opened = await browser.get(f"/s/abcdefgh?run=1&token={TOKEN}")
        assert opened.status_code == 303 and opened.headers["location"] == "/s/abcdefgh?run=1"


async def test_the_page_config_says_whether_anyone_may_use_the_hub(tmp_path: Path) -> None:
    for allow in (False, True):
        app = in_process_hub(tmp_path, allow_anonymous=allow)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=HUB) as c:
            page = await c.get("/", headers={"Authorization": f"token {TOKEN}"})
        match = CONFIG.search(page.text)
        assert page.status_code == 200 and match is not None
        assert json.loads(match.group(1))["allowAnonymous"] is allow
