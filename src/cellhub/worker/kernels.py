"""A kernel as the worker sees it: a session process bound to a kernel id, and its output pump.

Flow control: every hub attached to the kernel may hold at most ``window`` bytes
of its output un-acknowledged. While any attached hub is at its limit, the pump
stops reading the session's socket, the socket buffer fills, and the session's
writer blocks — so a slow client slows the code that prints, and nothing in
between buffers without bound.

Each session the kernel runs in gets a new session id from the worker (in its init
frame), as each ipykernel process has its own: messages the worker makes for the kernel
carry it (:meth:`WorkerKernel.announce`), and every attached hub is told it
(:func:`cellhub.protocol.hub_worker.session`) for the messages the hub makes.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from cellhub.protocol import diagnostics, framing, hub_worker, jupyter, session_frames
from cellhub.protocol.session_frames import ProtocolViolation
from cellhub.worker.replay import ReplayBuffer

#: Most bytes a session may send in one frame (a 20 MB print is split into stream chunks).
MAX_SESSION_FRAME = 32 * 2**20
#: Bytes of client input queued for a busy session before further input is refused.
MAX_PENDING_INPUT = 32 * 2**20


#: Why a kernel ended whose session the kernel (OOM killer) or the sandbox killed.
KILLED = "session killed (SIGKILL: out of memory or over a limit)"
OUT_OF_CPU = "session ran out of CPU time (SIGXCPU)"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def cause_of(reason: str) -> str:
    """The cause (``hub_worker.END_CAUSES``) of a kernel's end that its session's exit gave."""
    return {KILLED: "killed", OUT_OF_CPU: "cpu"}.get(reason, "exited")


class HubLink(Protocol):
    """What a kernel needs of a hub connection."""

    def send(self, frame: list[Any]) -> None: ...


@dataclass
class SessionProcess:
    """One forked session: its pid and the worker's end of its socket."""

    pid: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    exit_code: asyncio.Future[int] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @classmethod
    async def connect(cls, pid: int, sock: socket.socket) -> SessionProcess:
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=2**20)
        return cls(pid, reader, writer)

    def send(self, frame: list[Any]) -> bool:
        """Queue a frame for the session; False when its unread input is over the limit."""
        if self.writer.transport.get_write_buffer_size() > MAX_PENDING_INPUT:
            return False
        self.writer.write(framing.encode(frame))
        return True

    def close(self) -> None:
        self.writer.close()


def resident_memory(pid: int) -> int | None:
    """Bytes of memory the session's main process holds (RSS, from ``/proc/PID/statm``: one
    read, cheap enough for every listing); None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


class WorkerKernel:
    """A kernel id bound to a session process, with the hubs attached to it."""

    def __init__(
        self,
        kernel_id: str,
        name: str,
        window: int,
        replay_bytes: int,
        on_end: Callable[[WorkerKernel, str], None],
        on_diagnostic: Callable[[WorkerKernel, str], None],
    ) -> None:
        self.id = kernel_id
        self.replay = ReplayBuffer(replay_bytes)
        self.name = name
        self.window = window
        self.on_end = on_end
        #: Called with each log line the session sends (cellhub.protocol.diagnostics).
        self.on_diagnostic = on_diagnostic
        self.session: SessionProcess | None = None
        self.session_id = ""
        #: The worker's own request to the session whose reply it awaits (and keeps).
        self.own_request: tuple[bytes, asyncio.Future[None]] | None = None
        self.pump_task: asyncio.Task[None] | None = None
        self.links: dict[HubLink, int] = {}
        #: How many clients each attached hub has of this kernel (their sum: ``connections``).
        self.clients: dict[HubLink, int] = {}
        self.state = "starting"
        self.last_activity = time.time()
        self.created = time.time()
        #: Since when no hub holds a client of the kernel (None: one does).
        self.detached_since: float | None = self.created
        self.window_open = asyncio.Event()
        self.window_open.set()
        #: How often the window closed: output waited for a hub's acknowledgement.
        self.flow_pauses = 0

    def model(self) -> hub_worker.KernelModel:
        return {
            "id": self.id,
            "name": self.name,
            "execution_state": self.state,
            "last_activity": self.last_activity,
            "created": self.created,
            "connections": sum(self.clients.values()),
            "pid": self.session.pid if self.session else None,
            "memory": resident_memory(self.session.pid) if self.session else None,
        }

    def bind(self, session: SessionProcess, init: session_frames.SessionInit) -> None:
        """Run this kernel in ``session`` (a fresh spare); the previous one, if any, is dropped."""
        self.unbind()
        self.session = session
        self.session_id = uuid.uuid4().hex
        session.send(
            session_frames.init({**init, "kernel_id": self.id, "session_id": self.session_id})
        )
        # "starting" until the session's first status, as Jupyter Server's model says.
        self.state = "starting"
        for link in self.links:
            link.send(hub_worker.session(self.id, self.session_id))
        self.pump_task = asyncio.create_task(self._pump(session), name=f"pump-{self.id}")

    async def ask_kernel_info(self, timeout: float) -> None:
        """Ask the session for its kernel info and wait until it is idle again, as Jupyter
        Server does after a restart: the clients see the request's busy and idle; the reply
        is the worker's own."""
        if self.session is None:
            return
        header = jupyter.header("kernel_info_request", self.session_id)
        request = {"header": header, "parent_header": {}, "metadata": {}, "content": {}}
        answered = asyncio.get_running_loop().create_future()
        self.own_request = (header["msg_id"].encode(), answered)
        self.session.send(session_frames.session_input("shell", orjson.dumps(request)))
        try:
            await asyncio.wait_for(answered, timeout)
        except TimeoutError:
            pass
        finally:
            self.own_request = None

    def _is_own_reply(self, msg_type: str, data: bytes, state: str | None) -> bool:
        """Whether this is the reply to the worker's own request (the clients never see it);
        the request's ``idle`` ends the wait for it."""
        if self.own_request is None:
            return False
        msg_id, answered = self.own_request
        if msg_type == "kernel_info_reply" and msg_id in data:
            return True
        if state == "idle" and msg_id in data and not answered.done():
            answered.set_result(None)
        return False

    def unbind(self) -> SessionProcess | None:
        old, self.session = self.session, None
        if self.pump_task is not None:
            self.pump_task.cancel()
            self.pump_task = None
        if old is not None:
            old.close()
        return old

    # -- hubs ---------------------------------------------------------------
    def attach(self, link: HubLink, clients: int) -> None:
        """Send ``link`` the output from now on (again: only its count of clients changed)."""
        self.clients[link] = clients
        if link in self.links:
            return
        self.links[link] = 0
        self.detached_since = None
        if self.session_id:
            link.send(hub_worker.session(self.id, self.session_id))
        self._update_window()

    def detach(self, link: HubLink) -> None:
        self.links.pop(link, None)
        self.clients.pop(link, None)
        if not self.links and self.detached_since is None:
            self.detached_since = time.time()
        self._update_window()

    def ack(self, link: HubLink, nbytes: int) -> None:
        if link in self.links:
            self.links[link] = max(0, self.links[link] - nbytes)
            self._update_window()

    def _update_window(self) -> None:
        if all(inflight < self.window for inflight in self.links.values()):
            self.window_open.set()
        elif self.window_open.is_set():
            self.window_open.clear()
            self.flow_pauses += 1

    def broadcast(
        self, channel: str, msg_type: str, data: bytes, state: str | None, counted: bool = True
    ) -> None:
        """Number one output message, keep it for replay, and send it to every attached hub."""
        seq = self.replay.append(channel, data)
        frame = hub_worker.kernel_output(self.id, seq, channel, msg_type, data, state)
        for link in self.links:
            link.send(frame)
            if counted:
                self.links[link] += len(data)
        if counted:
            self._update_window()

    def announce(
        self,
        channel: str,
        msg_type: str,
        content: dict[str, Any],
        parent: dict[str, Any] | None = None,
        state: str | None = None,
    ) -> None:
        """Send the clients a message the worker makes for this kernel (in its session)."""
        data = jupyter.message(channel, msg_type, content, parent, self.session_id)
        self.broadcast(channel, msg_type, data, state, counted=False)

    # -- output -------------------------------------------------------------
    async def _pump(self, session: SessionProcess) -> None:
        reason = "session exited"
        try:
            while True:
                await self.window_open.wait()
                frame = await framing.read_frame(session.reader, MAX_SESSION_FRAME)
                text = diagnostics.log_text(frame)
                if text is not None:
                    self.on_diagnostic(self, text)
                    continue
                channel, msg_type, data, state = session_frames.read_session_output(frame)
                if self._is_own_reply(msg_type, data, state):
                    continue
                self.last_activity = time.time()
                if state is not None:
                    self.state = state
                self.broadcast(channel, msg_type, data, state)
        except (asyncio.IncompleteReadError, ConnectionError):
            reason = await self._exit_reason(session)
        except (framing.FrameError, ProtocolViolation) as exc:
            reason = f"session broke the protocol ({exc})"
        if self.session is session:
            self.on_end(self, reason)

    @staticmethod
    async def _exit_reason(session: SessionProcess) -> str:
        try:
            code = await asyncio.wait_for(asyncio.shield(session.exit_code), 1.0)
        except TimeoutError:
            return "session exited"
        if code == -9:
            return KILLED
        if code == -24:
            return OUT_OF_CPU
        if code < 0:
            return f"session killed by signal {-code}"
        return f"session exited with code {code}"
