"""Where a worker's sessions come from: one template process and spare pool per kernel kind.

Each kind the worker offers (:mod:`cellhub.kernel_kinds`) has a :class:`SessionSource`:
its own template, which imported what the kind needs, and its own spares, so that a
kernel of any kind starts by claiming a ready session. The templates start side by side;
one that dies is restarted alone, and only the kernels of its kind end with it.

Each source counts its sessions that a sandbox limit stopped (:attr:`SessionSource.kills`,
for the hubs' /metrics), as the template reports their ends: the limits that intervened
in the session's cgroup (``oom``, ``pids``), and ``cpu`` for a session ended by SIGXCPU.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from cellhub.config import Config
from cellhub.kernel_kinds import KINDS
from cellhub.sandbox.environment import session_environment
from cellhub.worker.session_log import SessionLog
from cellhub.worker.spares import SparePool
from cellhub.worker.template_client import TemplateClient


class SessionSource:
    """The template process of one kernel kind, and its spare sessions.

    ``kernels()`` counts the worker's kernels of every kind (the room for spares is the
    worker's); ``on_lost(source)`` is called when the template dies.
    """

    def __init__(
        self,
        kind: str,
        config: Config,
        kernels: Callable[[], int],
        session_log: SessionLog,
        on_lost: Callable[[SessionSource], None],
    ) -> None:
        self.kind = kind
        #: Sessions ended that a sandbox limit stopped, per limit (``hub_worker.KILL_CAUSES``).
        self.kills: Counter[str] = Counter()
        self.spares = SparePool(
            config.spare_sessions,
            config.max_sessions,
            lambda spare: self.template.fork(spare),
            kernels,
            session_log,
            lambda pid: self.template.kill(pid),
        )
        environment = session_environment(os.environ, config.session_environment)
        self.template = TemplateClient(
            template_settings(config, kind),
            self.spares.on_forked,
            self.on_exited,
            lambda: on_lost(self),
            {**environment, **KINDS[kind].environment},
            self.spares.fork_failed,
        )

    async def start(self) -> str:
        """Start the template; sessions are forked once it has imported everything, and
        kernel starts that came earlier wait for it (see :meth:`SparePool.take`). Returns
        the template's description of its sandbox."""
        description = await self.template.start()
        self.spares.template_ready.set()
        self.spares.refill()
        return description

    def pids(self) -> Iterator[int]:
        return self.spares.pids()

    def on_exited(self, pid: int, code: int, limits: frozenset[str]) -> None:
        self.kills.update(limits | ({"cpu"} if code == -signal.SIGXCPU else set()))
        self.spares.on_exited(pid, code)


def template_settings(config: Config, kind: str) -> dict[str, Any]:
    """What the template process of ``kind`` is started with (see cellhub.template.process)."""
    c = config
    return {
        "kind": kind,
        "preload": c.preload,
        "merge_pages": c.merge_pages,
        "huge_pages": c.huge_pages,
        "sandbox": c.sandbox,
        "state_dir": str(c.data_path / "sessions"),
        "uids": [c.uid_pool_start, c.uid_pool_size],
        "limits": c.limit_values(),
        "log_shipper": c.log_shipper,
    }


async def start_all(sources: list[SessionSource]) -> str:
    """Start every template side by side; the sandbox they describe (the same for all)."""
    descriptions = await asyncio.gather(*(source.start() for source in sources))
    return descriptions[0]
