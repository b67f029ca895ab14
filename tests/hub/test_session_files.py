"""The user's files are the session's home, through a real hub and worker: an upload is in
the home before the first cell runs (or at once, when the kernel runs already), what code
writes there is saved back (on request, at shutdown), a file both sides changed is kept
twice, and what code plants to escape the home (symlinks, a FIFO, hidden folders) is never
followed nor saved."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningHub
from tests.kernel_client import Hub, KernelClient

pytestmark = pytest.mark.both_databases


def upload(text: str) -> dict[str, Any]:
    return {"type": "file", "format": "text", "content": text}


@pytest.fixture
async def api(cellhub_server: RunningHub) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"token {cellhub_server.token}"}
    async with httpx.AsyncClient(base_url=cellhub_server.url, headers=headers) as client:
        yield client


async def run(hub: Hub, kernel_id: str, code: str) -> str:
    async with await KernelClient.connect(hub.url, hub.token, kernel_id) as kernel:
        done = await kernel.execute(code)
    assert done.reply is not None and done.reply["content"]["status"] == "ok", done.explain()
    return done.stream_text()


async def content(api: httpx.AsyncClient, path: str) -> Any:
    found = await api.get(f"/api/contents/{path}")
    return found.json()["content"] if found.status_code == 200 else None


async def test_uploads_are_in_the_home_and_what_code_writes_is_kept(
    api: httpx.AsyncClient, hub: Hub
) -> None:
    made = await api.put("/api/contents/data.csv", json=upload("a,b\n1,2\n"))
    assert made.status_code in (200, 201)
    kernel_id = await hub.start_kernel()
    code = (
        "import csv, os\n"
        "print(list(csv.reader(open('data.csv'))))\n"
        "os.makedirs('out', exist_ok=True)\n"
        "open('out/result.txt', 'w').write('42')\n"
        "open('blob.bin', 'wb').write(bytes(range(256)))\n"
        "os.symlink('/etc/passwd', 'passwd')\n"
        "os.symlink('/', 'root')\n"
        "os.mkfifo('pipe')\n"
        "os.makedirs('.secret', exist_ok=True); open('.secret/x', 'w').write('x')\n"
    )
    assert "['1', '2']" in await run(hub, kernel_id, code)
    saved = (await api.post(f"/api/kernels/{kernel_id}/files")).json()
    assert saved["saved"] is True and saved["conflicts"] == []
    assert await content(api, "out/result.txt") == "42"
    blob = await api.get("/api/contents/blob.bin", params={"format": "base64"})
    assert base64.b64decode(blob.json()["content"]) == bytes(range(256))
    listing = {m["name"] for m in (await api.get("/api/contents/")).json()["content"]}
    assert {"data.csv", "out", "blob.bin"} <= listing
    assert not listing & {"passwd", "root", "pipe", ".secret"}
    again = (await api.post(f"/api/kernels/{kernel_id}/files")).json()
    assert again["saved"] is False

    await run(hub, kernel_id, "open('late.txt', 'w').write('written before shutdown')")
    assert (await api.delete(f"/api/kernels/{kernel_id}")).status_code == 204
    assert await content(api, "late.txt") == "written before shutdown"


async def test_a_file_both_sides_changed_is_kept_twice(api: httpx.AsyncClient, hub: Hub) -> None:
    await api.put("/api/contents/notes.txt", json=upload("first"))
    kernel_id = await hub.start_kernel()
    await run(hub, kernel_id, "open('notes.txt', 'w').write('from code')")
    await api.put("/api/contents/notes.txt", json=upload("from upload"))
    await api.put("/api/contents/other.txt", json=upload("uploaded meanwhile"))
    seen = await run(hub, kernel_id, "print(open('other.txt').read(), open('notes.txt').read())")
    assert seen.strip() == "uploaded meanwhile from code"  # the session's own change stays
    saved = (await api.post(f"/api/kernels/{kernel_id}/files")).json()
    assert saved["conflicts"] == ["notes (conflict from session).txt"]
    assert await content(api, "notes.txt") == "from upload"
    assert await content(api, "notes (conflict from session).txt") == "from code"
    assert await content(api, "other.txt") == "uploaded meanwhile"
    await api.delete(f"/api/kernels/{kernel_id}")


async def test_a_restart_keeps_what_the_old_session_wrote(api: httpx.AsyncClient, hub: Hub) -> None:
    kernel_id = await hub.start_kernel()
    await run(hub, kernel_id, "open('before_restart.txt', 'w').write('kept')")
    assert (await api.post(f"/api/kernels/{kernel_id}/restart")).status_code == 200
    seen = await run(hub, kernel_id, "print(open('before_restart.txt').read())")
    assert seen.strip() == "kept"
    await api.delete(f"/api/kernels/{kernel_id}")
