"""Spares wait under SCHED_IDLE (as root); a claimed session runs every thread normally."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path

import psutil
import pytest

from tests.conftest import RunningHub
from tests.kernel_client import Hub

POLICIES = """\
import json, os
threads = os.listdir("/proc/self/task")
print(json.dumps([[os.getpid(), os.getuid()], [os.sched_getscheduler(int(t)) for t in threads]]))
"""


def thread_policies(pid: int) -> set[int]:
    return {os.sched_getscheduler(int(tid)) for tid in os.listdir(f"/proc/{pid}/task")}


def template_children(server: RunningHub) -> list[psutil.Process]:
    template = next(
        p for p in server.descendants() if any("cellhub.template.process" in a for a in p.cmdline())
    )
    children: list[psutil.Process] = template.children()
    return children


def claimed_session(server: RunningHub, pid: int, uid: int) -> int:
    """The template's child that became the session ``pid`` of ``uid``.

    In the linux sandbox the session has a PID namespace of its own: the last pid on its
    ``NSpid`` line is the one it sees, and its uid tells it from the sessions of other
    namespaces.
    """
    for child in template_children(server):
        with contextlib.suppress(psutil.Error, OSError):
            status = Path(f"/proc/{child.pid}/status").read_text()
            nspids = next(line for line in status.splitlines() if line.startswith("NSpid:"))
            if int(nspids.split()[-1]) == pid and uid in child.uids():
                return int(child.pid)
    raise AssertionError(f"no session of uid {uid} is {pid} in its PID namespace")


async def new_kernel_policies(hub: Hub) -> tuple[list[int], list[int]]:
    """Start a kernel; return its session's pid (as it sees it) and uid, and each thread's
    scheduling policy."""
    _, client = await hub.kernel()
    try:
        run = await client.execute(POLICIES)
    finally:
        await client.close()
    ids, policies = json.loads(run.stream_text())
    return list(ids), list(policies)


async def test_a_claimed_session_runs_every_thread_at_normal_policy(hub: Hub) -> None:
    """Every thread runs at the normal policy within a moment of the claim (the worker
    promotes the session at the claim and once more 0.1 s later)."""
    _, client = await hub.kernel()
    try:
        policies: list[int] = []
        for _ in range(50):
            policies = json.loads((await client.execute(POLICIES)).stream_text())[1]
            if set(policies) == {os.SCHED_OTHER}:
                break
            await asyncio.sleep(0.1)
    finally:
        await client.close()
    assert len(policies) >= 2  # the main thread and the session's helpers
    assert set(policies) == {os.SCHED_OTHER}


@pytest.mark.skipif(os.geteuid() != 0, reason="leaving SCHED_IDLE needs CAP_SYS_NICE")
async def test_spares_wait_under_sched_idle_until_claimed(
    cellhub_server: RunningHub, hub: Hub
) -> None:
    idle: list[int] = []
    for _ in range(100):  # the pool is refilled in the background after each claim
        idle = [
            child.pid
            for child in template_children(cellhub_server)
            if thread_policies(child.pid) == {os.SCHED_IDLE}
        ]
        if idle:
            break
        await asyncio.sleep(0.05)
    assert idle, "no spare session waits under SCHED_IDLE"
    (pid, uid), _ = await new_kernel_policies(hub)
    claimed = claimed_session(cellhub_server, pid, uid)
    assert claimed in idle, "the oldest spare was claimed"
    assert thread_policies(claimed) == {os.SCHED_OTHER}


@pytest.mark.skipif(os.geteuid() != 0, reason="the init maker is the linux sandbox's (root)")
async def test_the_init_maker_runs_at_normal_policy(cellhub_server: RunningHub, hub: Hub) -> None:
    """The maker is started at the first session's prepare, a spare's under SCHED_IDLE; but
    every start needs an init of it, so it must not inherit that policy."""
    _, client = await hub.kernel()  # a session, and so a maker, is there
    await client.close()
    makers = [
        child.pid
        for child in template_children(cellhub_server)
        if any("cellhub.sandbox.init_maker" in a for a in child.cmdline())
    ]
    assert len(makers) == 1
    assert thread_policies(makers[0]) == {os.SCHED_OTHER}
