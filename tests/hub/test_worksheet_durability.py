"""A hub killed with SIGKILL while it saves a big worksheet leaves no broken worksheet: reopened
through another hub, it is a valid notebook, and one of the versions saved, whole. On SQLite
and on PostgreSQL (tests/hub/conftest.py): each database's transactions are what keeps it whole."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tests.db.postgres import free_port
from tests.hubs import start_hub, start_worker
from tests.polling import until

pytestmark = pytest.mark.both_databases
TOKEN = "durability-t0ken"
#: Big enough that a save takes a while (upload, validation, compression, the write).
BIG = {"CELLHUB_WORKSHEET_MAX_SIZE": str(64 * 2**20)}


def big_notebook(mark: int) -> dict[str, object]:
    """About 12 MB of outputs, every cell marked with ``mark``: which save it is from."""
    cells = []
    for index in range(120):
        cell = new_code_cell(f"save_{mark} = {index}")
        cell.outputs = [new_output("stream", text=f"{mark}:" + "x" * 100_000)]
        cells.append(cell)
    return dict(new_notebook(cells=cells))


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[str]:
    process: subprocess.Popen[str]
    process, address = start_worker(tmp_path, unix=True)
    yield address
    process.terminate()
    process.wait()


async def test_a_hub_killed_mid_save_leaves_a_whole_version(tmp_path: Path, worker: str) -> None:
    port = free_port()
    hub = start_hub(tmp_path, worker, port, TOKEN, BIG)
    headers = {"Authorization": f"token {TOKEN}"}
    url = f"http://127.0.0.1:{port}/api/contents/big.ipynb"
    sent: list[int] = []
    saved: list[int] = []

    async def autosave() -> None:
        async with httpx.AsyncClient(headers=headers, timeout=60) as client:
            for mark in range(1, 1000):
                sent.append(mark)
                body = {"type": "notebook", "content": big_notebook(mark)}
                try:
                    answer = await client.put(url, json=body)
                except httpx.TransportError:
                    return
                assert answer.status_code in (200, 201), answer.text
                saved.append(mark)

    saving = asyncio.create_task(autosave())
    try:
        # Kill once a save has landed and the next one is on its way.
        await until(lambda: len(saved) >= 1 and len(sent) > len(saved), "a save under way", 60)
        os.kill(hub.process.pid, signal.SIGKILL)
        hub.process.wait()
        await saving
    finally:
        saving.cancel()
    assert sent[-1] not in saved, "the kill came during a save"

    hub = start_hub(tmp_path, worker, port, TOKEN, BIG)
    try:
        async with httpx.AsyncClient(headers=headers, timeout=60) as client:
            model = (await client.get(url)).json()
        notebook = nbformat.from_dict(model["content"])
        nbformat.validate(notebook)
        marks = {cell.outputs[0].text.split(":")[0] for cell in notebook.cells}
        assert len(marks) == 1 and int(marks.pop()) in (saved[-1], sent[-1])
        assert len(notebook.cells) == 120
    finally:
        hub.stop()
