"""The workers file, watched by a real hub over real workers: a worker added is used within
5 s, one set to draining keeps its kernels and takes no new one, one removed is drained and
then disconnected, an invalid edit changes nothing; ``GET /api/workers`` and ``cellhub
workers`` show it all."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningHub
from tests.hub.worker_processes import Workers, hub_with, linked, start
from tests.kernel_client import Hub, KernelClient
from tests.polling import until

#: What the issue asks: a worker added to the file is connected and used within this.
ADDED_WITHIN = 5.0


def listing(*workers: tuple[str, ...]) -> str:
    """A workers file: each worker as (name, address) or (name, address, state)."""
    tables = []
    for name, address, *state in workers:
        table = f'[[worker]]\nname = "{name}"\naddress = "{address}"\n'
        tables.append(table + "".join(f'state = "{each}"\n' for each in state))
    return "\n".join(tables)


@contextlib.asynccontextmanager
async def hub_over_file(tmp_path: Path, text: str) -> AsyncIterator[tuple[RunningHub, Hub]]:
    """A hub over the workers file ``tmp_path/workers.toml``, which holds ``text`` at first."""
    (tmp_path / "workers.toml").write_text(text)
    async with hub_with(tmp_path, "--workers-file", str(tmp_path / "workers.toml")) as running:
        hub = Hub(running.url, running.token)
        try:
            yield running, hub
        finally:
            await hub.aclose()


async def listed(hub: Hub) -> dict[str, dict[str, Any]]:
    """``GET /api/workers``, by name."""
    answer = await hub.http.get("/api/workers")
    assert answer.status_code == 200, answer.text
    return {worker["name"]: worker for worker in answer.json()}


def listed_as(hub: Hub, expected: dict[str, str]) -> Any:
    """A condition: the hub lists exactly the workers of ``expected`` (name → state), each
    connected and with a load report."""

    async def check() -> bool:
        workers = await listed(hub)
        return {name: worker["state"] for name, worker in workers.items()} == expected and all(
            worker["connected"] and worker["capacity"] for worker in workers.values()
        )

    return check


async def kernels_on(address: str) -> set[str]:
    async with linked(address) as link:
        return {kernel["id"] for kernel in await link.list_kernels()}


async def started(hub: Hub) -> str:
    answer = await start(hub)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def computes(hub: Hub, kernel_id: str) -> bool:
    kernel = await KernelClient.connect(hub.url, hub.token, kernel_id)
    try:
        result = await kernel.execute("1 + 1")
    finally:
        await kernel.close()
    return bool(result.first("execute_result")["content"]["data"]["text/plain"] == "2")


def said(running: RunningHub, text: str) -> Any:
    return lambda: text in "".join(running.output)


async def test_a_worker_added_to_the_file_is_used_within_5_s(
    tmp_path: Path, workers: Workers
) -> None:
    a, b = workers.start("a", 3), workers.start("b", 3)
    async with hub_over_file(tmp_path, listing(("a", a))) as (running, hub):
        first = await started(hub)
        (tmp_path / "workers.toml").write_text(listing(("a", a), ("b", b)))
        await until(listed_as(hub, {"a": "active", "b": "active"}), "b used", ADDED_WITHIN)
        second = await started(hub)  # b has the most free sessions
    assert first in await kernels_on(a) and second in await kernels_on(b)
    assert "workers file: worker b at " in "".join(running.output)


async def test_a_draining_worker_keeps_its_kernels_and_takes_no_new_one(
    tmp_path: Path, workers: Workers
) -> None:
    a, b = workers.start("a", 3), workers.start("b", 3)
    async with hub_over_file(tmp_path, listing(("a", a))) as (running, hub):
        kept = await started(hub)
        (tmp_path / "workers.toml").write_text(listing(("a", a, "draining"), ("b", b)))
        await until(listed_as(hub, {"a": "draining", "b": "active"}), "a draining")
        # a, with 2 free sessions, would take the second of these if it took any.
        new = {await started(hub) for _ in range(3)}
        assert await computes(hub, kept)
        await until(lambda: sessions(hub, "a", 1), "a's report of its one kernel")
        table = await cellhub_workers("--hub", running.url, "--token", running.token)
        refused = await cellhub_workers("--hub", running.url, "--token", "not-the-token")
    assert await kernels_on(a) == {kept} and await kernels_on(b) == new
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines()}
    assert rows["NAME"][:5] == ["NAME", "ADDRESS", "STATE", "WEIGHT", "CONNECTED"]
    assert rows["a"][:8] == ["a", a, "draining", "1", "yes", "1", "3", "2"]
    assert rows["b"][:5] == ["b", b, "active", "1", "yes"]
    assert refused.returncode != 0 and "refused the token" in refused.stderr


async def sessions(hub: Hub, name: str, count: int) -> bool:
    return bool((await listed(hub))[name]["sessions"] == count)


async def cellhub_workers(*argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cellhub", "workers", *argv]
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)


async def test_a_removed_worker_drains_and_is_disconnected_after_its_last_kernel(
    tmp_path: Path, workers: Workers
) -> None:
    a, b = workers.start("a", 3), workers.start("b", 3)
    async with hub_over_file(tmp_path, listing(("a", a))) as (running, hub):
        kept = await started(hub)
        (tmp_path / "workers.toml").write_text(listing(("b", b)))
        await until(listed_as(hub, {"a": "removed-draining", "b": "active"}), "a removed")
        new = await started(hub)
        assert await computes(hub, kept)
        assert (await hub.http.delete(f"/api/kernels/{kept}")).status_code == 204
        await until(listed_as(hub, {"b": "active"}), "a disconnected", timeout=30)
    assert new in await kernels_on(b)
    assert f"disconnected worker a at {a}: it runs no kernel" in "".join(running.output)


async def test_an_invalid_edit_is_reported_and_the_last_valid_list_stays(
    tmp_path: Path, workers: Workers
) -> None:
    a, b = workers.start("a", 3), workers.start("b", 3)
    edits = [
        (listing(("a", a), ("b", b)) + "[[worker\n", "not TOML: "),
        (listing(("a", a), ("b", b, "paused")), "state must be 'active' or 'draining'"),
        (listing(("a", a), ("a", b)), "line 5: name 'a' is also that of line 1"),
    ]
    async with hub_over_file(tmp_path, listing(("a", a))) as (running, hub):
        for text, message in edits:
            (tmp_path / "workers.toml").write_text(text)
            await until(said(running, message), f"the hub reports {message!r}")
            assert await listed_as(hub, {"a": "active"})()
        kernel_id = await started(hub)
        (tmp_path / "workers.toml").write_text(listing(("a", a), ("b", b)))
        await until(listed_as(hub, {"a": "active", "b": "active"}), "the next valid edit")
    assert kernel_id in await kernels_on(a)
    assert "the last valid list stays in force" in "".join(running.output)


@pytest.mark.parametrize(
    ("also", "message"),
    [([], "address 'h:1' is also that of line 1"), (["--workers", "h:2"], "one of them")],
    ids=["invalid file", "a list besides"],
)
def test_a_hub_does_not_start_with_an_invalid_workers_file(
    tmp_path: Path, also: list[str], message: str
) -> None:
    path = tmp_path / "workers.toml"
    path.write_text(listing(("a", "h:1"), ("b", "h:1")))
    argv = ["hub", "--data-dir", str(tmp_path), "--workers-file", str(path), *also]
    done = subprocess.run(
        [sys.executable, "-m", "cellhub", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr


async def test_cellhub_workers_says_when_no_hub_answers(tmp_path: Path) -> None:
    asked = await cellhub_workers("--hub", "http://127.0.0.1:1", "--token", "t")
    assert asked.returncode != 0 and "no hub answers at http://127.0.0.1:1" in asked.stderr
    asked = await cellhub_workers("--data-dir", str(tmp_path))
    assert asked.returncode != 0 and "no token: give --token" in asked.stderr
