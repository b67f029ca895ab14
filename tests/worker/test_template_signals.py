"""A session interrupted before it is ready ignores the interrupt instead of dying of it.

A spare session may wait seconds for a CPU (it is forked under SCHED_IDLE) between the
``setsid`` that makes its process group, through which the worker interrupts it, and the
installation of its interrupt handler; an interrupt that reaches it in that window must
not end it. The real template forks the sessions here, and the test sends SIGINT to each
one's process group over and over from the moment its fork is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from pathlib import Path

from cellhub.config import load_config
from cellhub.worker.session_sources import template_settings
from cellhub.worker.template_client import TemplateClient
from tests.polling import until

SESSIONS = 3
#: How long each session is interrupted, over and over, from its fork on (seconds).
BARRAGE = 1.5


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


async def interrupt_often(pid: int) -> None:
    """SIGINT to ``pid``'s process group every half millisecond for :data:`BARRAGE` s."""
    deadline = time.monotonic() + BARRAGE
    while time.monotonic() < deadline and alive(pid):
        with contextlib.suppress(ProcessLookupError):  # no group of its own yet
            os.killpg(pid, signal.SIGINT)
        await asyncio.sleep(0.0005)


async def test_an_interrupt_before_the_session_is_ready_is_ignored(tmp_path: Path) -> None:
    config = load_config(environ={}, overrides={"data_dir": str(tmp_path)})
    forked: dict[int, socket.socket] = {}
    exited: dict[int, int] = {}
    barrages: list[asyncio.Task[None]] = []

    def on_forked(pid: int, sock: socket.socket) -> None:
        forked[pid] = sock
        barrages.append(asyncio.get_running_loop().create_task(interrupt_often(pid)))

    template = TemplateClient(
        template_settings(config, "python3"),
        on_forked,
        lambda pid, code, limits: exited.__setitem__(pid, code),
        lambda: None,
        {"PATH": "/usr/bin:/bin"},
    )
    await template.start()
    try:
        for _ in range(SESSIONS):
            template.fork()
        await until(lambda: len(barrages) == SESSIONS, "the forks", timeout=30)
        await asyncio.wait_for(asyncio.gather(*barrages), 30)
        await asyncio.sleep(2)  # room for a session that got the signal to die of it
        assert exited == {}
        assert all(alive(pid) for pid in forked)
    finally:
        template.stop()
        for sock in forked.values():
            sock.close()
