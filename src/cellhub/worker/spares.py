"""The worker's spare sessions: forked ahead of time, so that a kernel start only claims one.

The pool asks the template for forks until ``spare_sessions`` spares and every start
waiting for one are covered, within the room that ``max_sessions`` leaves. A claimed
spare is replaced a moment later (:data:`REFILL_DELAY`), so that the fork does not compete
with the new kernel's first cell; a spare that dies before it is claimed is retried with
backoff, and after three such deaths in a row the waiting starts fail with the reason.
The number of spares can change while the worker runs (:meth:`SparePool.resize`: a hub
asks, ahead of a class); spares beyond a lowered number are ended, as are forks asked
before it that arrive with no start waiting for them.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable, Iterator

from cellhub.log_records import service_logger
from cellhub.protocol import diagnostics
from cellhub.worker.kernels import SessionProcess
from cellhub.worker.session_log import SessionLog
from cellhub.worker.template_client import TEMPLATE_START_TIMEOUT

log = service_logger(__name__)

#: Seconds between claiming a spare session and forking its replacement.
REFILL_DELAY = 0.05

Spare = tuple[int, socket.socket]


class SparePool:
    """Spare sessions and the starts waiting for one.

    ``fork(spare)`` asks the template for one more session (it arrives in :meth:`on_forked`):
    a spare, or one a waiting start needs at once;
    ``kernels()`` is how many kernels the worker holds, those waiting for a session
    included; ``end(pid)`` has the template kill a session no longer wanted.
    """

    def __init__(
        self,
        spare_sessions: int,
        max_sessions: int,
        fork: Callable[[bool], None],
        kernels: Callable[[], int],
        session_log: SessionLog,
        end: Callable[[int], None],
    ) -> None:
        self.spare_sessions = spare_sessions
        self.max_sessions = max_sessions
        self.fork = fork
        self.kernels = kernels
        self.session_log = session_log
        self.end = end
        self.spares: deque[Spare] = deque()
        self.waiters: deque[asyncio.Future[Spare]] = deque()
        self.forks_pending = 0
        #: Each forked session's exit code, once the template reports it.
        self.exit_codes: dict[int, asyncio.Future[int]] = {}
        self.failures = 0
        self.refill_handle: asyncio.TimerHandle | None = None
        #: Set once the template has imported everything and can fork sessions.
        self.template_ready = asyncio.Event()

    def pids(self) -> Iterator[int]:
        return (pid for pid, _ in self.spares)

    def refill(self) -> None:
        """Fork until the spares and the starts waiting for one are covered, within room for
        ``max_sessions`` kernels' sessions and the spares; a kernel that waits for its
        session holds none yet, so it does not take room from its own fork."""
        if not self.template_ready.is_set():
            return  # the worker refills once the template can fork
        wanted = self.spare_sessions + len(self.waiters)
        in_sessions = self.kernels() - len(self.waiters)
        room = self.max_sessions + self.spare_sessions - in_sessions
        while len(self.spares) + self.forks_pending < min(wanted, room):
            waited_for = len(self.spares) + self.forks_pending < len(self.waiters)
            self.forks_pending += 1
            self.fork(not waited_for)

    def resize(self, sessions: int) -> None:
        """Keep ``sessions`` spares from now on, at most ``max_sessions`` (no more kernels
        than that can claim them): fork the missing ones, or end the newest beyond that
        number (the oldest have had the longest to settle)."""
        self.spare_sessions = min(sessions, self.max_sessions)
        while len(self.spares) > self.spare_sessions:
            pid, sock = self.spares.pop()
            sock.close()
            self.end(pid)
        self.refill()

    def refill_soon(self) -> None:
        """Replace a claimed spare a moment later, so that the fork does not compete for the
        CPU with the new kernel's first execution; a start that finds no spare forks at once."""
        if self.refill_handle is None or self.refill_handle.cancelled():
            self.refill_handle = asyncio.get_running_loop().call_later(
                REFILL_DELAY, self._refill_now
            )

    def _refill_now(self) -> None:
        self.refill_handle = None
        self.refill()

    def on_forked(self, pid: int, sock: socket.socket) -> None:
        self.forks_pending = max(0, self.forks_pending - 1)
        self.exit_codes[pid] = asyncio.get_running_loop().create_future()
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result((pid, sock))
                return
        if len(self.spares) >= self.spare_sessions:  # asked for before the pool was made smaller
            sock.close()
            self.end(pid)
            return
        self.spares.append((pid, sock))

    def on_exited(self, pid: int, code: int) -> None:
        future = self.exit_codes.pop(pid, None)
        if future is not None and not future.done():
            future.set_result(code)
        spare = next((s for s in self.spares if s[0] == pid), None)
        if spare is None:
            self.refill()
            return
        self.spares.remove(spare)
        for text in diagnostics.unread_log_texts(spare[1]):
            self.session_log.report("new sessions", f"new session {pid}", text)
        spare[1].close()
        self.spare_failed(code)

    def spare_failed(self, code: int) -> None:
        """A session died before it was used: retry with backoff, not in a tight fork loop."""
        died = f"a new session died at once (exit code {code})"
        self.failed(died, "see the session's error above")

    def fork_failed(self, why: str) -> None:
        """The template could not fork the session asked for (it said ``why``): count it as
        a session that died, or the starts waiting for that fork would wait in vain."""
        self.forks_pending = max(0, self.forks_pending - 1)
        self.failed(f"the template could not make a session: {why}", "see the template's error")

    def failed(self, what: str, where: str) -> None:
        """Retry with backoff; after three failures in a row, fail the waiting starts."""
        self.failures += 1
        delay = min(0.05 * 2**self.failures, 10.0)
        log.warning("%s; retrying in %.1f s; %s", what, delay, where)
        if self.failures >= 3:
            error = RuntimeError(f"sessions fail to start ({what}); see the worker's log")
            while self.waiters:
                waiter = self.waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(error)
        asyncio.get_running_loop().call_later(delay, self.refill)

    def clear(self) -> None:
        """The template died: its spares with it; none can be forked until it is back."""
        for _pid, sock in self.spares:
            sock.close()
        self.spares.clear()
        self.forks_pending = 0
        self.template_ready.clear()

    async def take(self, timeout: float = 30.0) -> SessionProcess:
        """Claim a spare, waiting for the template and for a fork if none is ready."""
        if not self.template_ready.is_set():
            await asyncio.wait_for(self.template_ready.wait(), TEMPLATE_START_TIMEOUT)
        if self.spares:
            pid, sock = self.spares.popleft()
        else:
            waiter: asyncio.Future[Spare] = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            self.refill()
            pid, sock = await asyncio.wait_for(waiter, timeout)
        self.failures = 0
        self.refill_soon()
        session = await SessionProcess.connect(pid, sock)
        session.exit_code = self.exit_codes.setdefault(
            pid, asyncio.get_running_loop().create_future()
        )
        return session
