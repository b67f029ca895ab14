"""Processes: interrupt, restart, capacity, culling; nothing is left behind when killed."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import RunningHub, start_cellhub
from tests.kernel_client import Hub, KernelClient, request_message
from tests.polling import until
from tests.worker.test_abuse import living
from tests.worker.test_sigkill_during_starts import cgroups_of


def wait_until_gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    """Return the pids still alive (zombies count as gone) after ``timeout``."""
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = living(pids)  # a process may end between two looks at it
        time.sleep(0.05)
    return alive


async def gone(hub: Hub, kernel_id: str) -> bool:
    return (await hub.http.get(f"/api/kernels/{kernel_id}")).status_code == 404


def template_and_sessions(server: RunningHub) -> tuple[psutil.Process, list[psutil.Process]]:
    for proc in server.descendants():
        try:
            if "cellhub.template.process" in " ".join(proc.cmdline()):
                return proc, proc.children()
        except psutil.Error:
            continue
    raise AssertionError("no template process found")


async def test_interrupt_keeps_the_kernel_and_its_variables(hub: Hub) -> None:
    kernel_id, kernel = await hub.kernel()
    await kernel.execute("kept = 'yes'")
    running = asyncio.create_task(kernel.execute("while True: pass"))
    await asyncio.sleep(0.5)  # kept: the loop must be running, and no message says it is
    assert (await hub.http.post(f"/api/kernels/{kernel_id}/interrupt")).status_code == 204
    interrupted = await asyncio.wait_for(running, 10)
    assert interrupted.first("error")["content"]["ename"] == "KeyboardInterrupt"
    assert interrupted.reply is not None and interrupted.reply["content"]["status"] == "error"
    after = await kernel.execute("kept")
    assert after.first("execute_result")["content"]["data"]["text/plain"] == "'yes'"
    await kernel.close()


async def test_interrupt_request_on_control_channel(hub: Hub) -> None:
    _, kernel = await hub.kernel()
    running = asyncio.create_task(kernel.execute("import time\nwhile True: time.sleep(0.01)"))
    await asyncio.sleep(0.5)  # kept: the loop must be running, and no message says it is
    await kernel.send(request_message("interrupt_request", {}, channel="control"))
    interrupted = await asyncio.wait_for(running, 10)
    assert interrupted.first("error")["content"]["ename"] == "KeyboardInterrupt"
    assert any(m["header"]["msg_type"] == "interrupt_reply" for m in kernel.other)
    await kernel.close()


async def interrupt_while_the_template_is_stopped(
    server: RunningHub, interrupt: Coroutine[Any, Any, object]
) -> None:
    """Run ``interrupt`` while the template, which signals sessions, is stopped for 0.5 s."""
    template, _ = template_and_sessions(server)
    template.suspend()
    resume = asyncio.get_running_loop().call_later(0.5, template.resume)
    try:
        await asyncio.wait_for(interrupt, 10)
    finally:
        resume.cancel()
        template.resume()


@pytest.mark.parametrize("way", ["rest", "control"])
async def test_an_interrupt_is_answered_once_it_was_delivered(
    hub: Hub, cellhub_server: RunningHub, way: str
) -> None:
    """An interrupt is for what runs now: a client that is told it was done and then runs a
    cell must not see that cell interrupted by a signal still on its way (the template
    signals sessions, and may be busy forking)."""
    kernel_id, kernel = await hub.kernel()
    async with kernel:
        await kernel.execute("pass")

        async def interrupt() -> None:
            if way == "rest":
                answer = await hub.http.post(f"/api/kernels/{kernel_id}/interrupt")
                assert answer.status_code == 204
            else:
                await kernel.request("interrupt_request", {}, channel="control")

        await interrupt_while_the_template_is_stopped(cellhub_server, interrupt())
        after = await kernel.execute("import time\ntime.sleep(1)\nprint(40 + 2)")
        assert after.stream_text() == "42\n", after.explain()
        assert after.reply is not None and after.reply["content"]["status"] == "ok"


async def test_restart_clears_state_and_keeps_the_socket(hub: Hub) -> None:
    kernel_id, kernel = await hub.kernel()
    await kernel.execute("gone = 1")
    assert (await hub.http.post(f"/api/kernels/{kernel_id}/restart")).status_code == 200
    after = await kernel.execute("'gone' in globals()")
    assert after.first("execute_result")["content"]["data"]["text/plain"] == "False"
    assert after.reply is not None and after.reply["content"]["execution_count"] == 1
    await kernel.close()


async def test_capacity_limit_answers_503(tmp_path: Path) -> None:
    server = start_cellhub(tmp_path / "data", env={"CELLHUB_MAX_SESSIONS": "2"})
    hub = Hub(server.url, server.token)
    try:
        first, second = await hub.start_kernel(), await hub.start_kernel()
        refused = await hub.http.post("/api/kernels", json={"name": "python3"})
        assert refused.status_code == 503
        assert refused.json()["message"] == "every worker is full (1 worker, 2 sessions each)"
        kernel = await KernelClient.connect(server.url, server.token, first)
        assert (await kernel.execute("1 + 1")).reply is not None
        await kernel.close()
        await hub.http.delete(f"/api/kernels/{second}")
        assert (await hub.http.post("/api/kernels", json={"name": "python3"})).status_code == 201
    finally:
        await hub.aclose()
        server.stop()


async def test_idle_kernels_are_culled(tmp_path: Path) -> None:
    env = {"CELLHUB_IDLE_TIMEOUT": "1", "CELLHUB_CULL_INTERVAL": "0.2"}
    server = start_cellhub(tmp_path / "data", env=env)
    hub = Hub(server.url, server.token)
    try:
        kernel_id = await hub.start_kernel()
        await until(lambda: gone(hub, kernel_id), "the idle kernel culled", timeout=2.5)
    finally:
        await hub.aclose()
        server.stop()


async def test_sigterm_of_serve_leaves_nothing(fresh_server: RunningHub) -> None:
    hub = Hub(fresh_server.url, fresh_server.token)
    await hub.start_kernel()
    await hub.aclose()
    pids = [p.pid for p in fresh_server.descendants()]
    assert len(pids) >= 3
    fresh_server.process.send_signal(signal.SIGTERM)
    assert fresh_server.process.wait(15) == 0  # a clean exit, after its worker's:
    assert wait_until_gone(pids, timeout=0.05) == []  # nothing is left to die later


@pytest.mark.parametrize("victim", ["serve", "worker", "template"])
async def test_sigkill_leaves_no_process_behind(fresh_server: RunningHub, victim: str) -> None:
    hub = Hub(fresh_server.url, fresh_server.token)
    kernel_id = await hub.start_kernel()
    kernel = await KernelClient.connect(fresh_server.url, fresh_server.token, kernel_id)
    try:
        await kernel.execute("import subprocess\nchild = subprocess.Popen(['sleep', '300'])")
        template, _ = template_and_sessions(fresh_server)
        worker = template.parent()
        assert worker is not None
        doomed = [template.pid, *(p.pid for p in template.children(recursive=True))]
        assert any(p.name() == "sleep" for p in template.children(recursive=True))
        pids = {"serve": fresh_server.process.pid, "worker": worker.pid, "template": template.pid}
        if victim != "template":
            doomed.append(worker.pid)
        os.kill(pids[victim], signal.SIGKILL)
        assert wait_until_gone(doomed) == []
        if victim != "serve":  # the worker restarts its template, serve restarts its worker
            assert await kernel.dead_reason()
            fresh_template, _ = await asyncio.to_thread(_wait_for_template, fresh_server)
            assert fresh_template.pid != template.pid

            async def started() -> bool:
                """A kernel starts, once the hub has reconnected (its clients are told at
                once that the worker is lost; "no worker is connected" until then)."""
                response = await hub.http.post("/api/kernels", json={"name": "python3"})
                output = "".join(fresh_server.output[-40:])
                assert response.status_code in (201, 503), response.text + output
                return response.status_code == 201

            await until(started, "a kernel started after the restart", timeout=60)
    finally:
        await kernel.close()
        await hub.aclose()


def _wait_for_template(server: RunningHub) -> tuple[psutil.Process, list[psutil.Process]]:
    deadline = time.monotonic() + 30
    while True:
        try:
            template, sessions = template_and_sessions(server)
            if template.is_running() and template.status() != psutil.STATUS_ZOMBIE:
                return template, sessions
            raise AssertionError("the template is not running")
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def test_session_crash_is_reported(hub: Hub) -> None:
    kernel_id, kernel = await hub.kernel()
    code = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
    await kernel.send(request_message("execute_request", {"code": code}))
    for _ in range(20):
        msg = await kernel.recv(10)
        if msg["header"]["msg_type"] == "status" and msg["content"]["execution_state"] == "dead":
            assert "SIGKILL" in msg["content"]["reason"] or "signal" in msg["content"]["reason"]
            break
    else:
        raise AssertionError("no dead status")
    await until(lambda: gone(hub, kernel_id), "the crashed kernel removed")
    await kernel.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="sessions get uids from the pool only as root")
async def test_sessions_run_as_uids_from_the_configured_pool(tmp_path: Path) -> None:
    env = {"CELLHUB_UID_POOL_START": "230000", "CELLHUB_UID_POOL_SIZE": "8"}
    server = start_cellhub(tmp_path / "data", env=env)
    hub = Hub(server.url, server.token)
    try:
        uids = set()
        for _ in range(2):
            kernel = await KernelClient.connect(server.url, server.token, await hub.start_kernel())
            run = await kernel.execute("import os; os.getuid(), os.getgid()")
            uids.add(run.first("execute_result")["content"]["data"]["text/plain"])
            await kernel.close()
        assert len(uids) == 2, "each session has a uid of its own"
        for pair in uids:
            uid, gid = (int(x) for x in pair.strip("()").split(","))
            assert 230000 <= uid < 230008 and gid == uid
    finally:
        await hub.aclose()
        server.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="cgroups are the linux sandbox's, which needs root")
async def test_a_stopped_worker_leaves_no_cgroup_behind(tmp_path: Path) -> None:
    server = start_cellhub(tmp_path / "data")
    try:
        parents = cgroups_of(server)
        assert parents and all(parent.is_dir() for parent in parents)
        hub = Hub(server.url, server.token)
        await hub.start_kernel()
        await hub.aclose()
    finally:
        server.stop()
    assert [parent for parent in parents if parent.exists()] == []
