"""A worksheet's history through the hub: versions listed, one opened, one restored."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from nbformat.v4 import new_markdown_cell, new_notebook

from tests.hub.in_process import HUB, TOKEN, in_process_hub

pytestmark = pytest.mark.both_databases


async def test_history_open_and_restore(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=in_process_hub(tmp_path))
    headers = {"Authorization": f"token {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url=HUB, headers=headers) as api:
        for text in ("one", "two", "three"):
            notebook = new_notebook(cells=[new_markdown_cell(text)])  # type: ignore[no-untyped-call]
            await api.put("/api/contents/w.ipynb", json={"type": "notebook", "content": notebook})
        listed = (await api.get("/api/worksheets/history/w.ipynb")).json()
        assert listed["current"] == 3
        assert [v["number"] for v in listed["versions"]] == [3, 2, 1]
        old = (await api.get("/api/worksheets/versions/1/w.ipynb")).json()
        assert old["content"]["cells"][0]["source"] == "one"

        stale = await api.post("/api/worksheets/restore/1/w.ipynb", headers={"If-Match": '"2"'})
        assert stale.status_code == 409
        restored = await api.post("/api/worksheets/restore/1/w.ipynb", headers={"If-Match": '"3"'})
        assert restored.status_code == 200 and restored.headers["ETag"] == '"4"'
        now = (await api.get("/api/contents/w.ipynb")).json()
        assert now["content"]["cells"][0]["source"] == "one"
        assert (await api.get("/api/worksheets/versions/9/w.ipynb")).status_code == 404
        assert (await api.get("/api/worksheets/history/nothing.ipynb")).status_code == 404
