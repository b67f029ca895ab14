"""Spares wait under SCHED_IDLE (as root); a claimed session runs every thread normally."""

from __future__ import annotations

import asyncio
import json
import os

import psutil
import pytest

from tests.conftest import RunningHub
from tests.kernel_client import Hub

POLICIES = """\
import json, os
threads = os.listdir("/proc/self/task")
print(json.dumps([os.getuid(), [os.sched_getscheduler(int(t)) for t in threads]]))
"""


def thread_policies(pid: int) -> set[int]:
    return {os.sched_getscheduler(int(tid)) for tid in os.listdir(f"/proc/{pid}/task")}


def template_children(server: RunningHub) -> list[psutil.Process]:
    template = next(
        p for p in server.descendants() if any("cellhub.worker.template" in a for a in p.cmdline())
    )
    return template.children()


def with_uid(uid: int) -> list[int]:
    """The processes of a session (as root, its uid is its own): its init, itself."""
    return [p.pid for p in psutil.process_iter(["uids"]) if uid in p.info["uids"]]


async def new_kernel_policies(hub: Hub) -> tuple[int, list[int]]:
    """Start a kernel; return its session's uid and the scheduling policy of each thread."""
    _, client = await hub.kernel()
    try:
        run = await client.execute(POLICIES)
    finally:
        await client.close()
    uid, policies = json.loads(run.stream_text())
    return int(uid), list(policies)


async def test_a_claimed_session_runs_every_thread_at_normal_policy(hub: Hub) -> None:
    _, policies = await new_kernel_policies(hub)
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
    uid, _ = await new_kernel_policies(hub)
    claimed = with_uid(uid)  # the session, and the init of its PID namespace
    assert set(claimed) & set(idle), "the oldest spare was claimed"
    assert [thread_policies(pid) for pid in claimed] == [{os.SCHED_OTHER}] * len(claimed)
