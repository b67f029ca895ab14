"""The worker daemon: accepts hubs (mutual TLS, or a Unix socket for a hub on the same host)
and runs their kernels in forked sessions.

One multiplexed connection per hub carries every kernel's traffic as msgpack frames:

hub → worker   ``[op, ...]``
    ``["start", req, kernel_id, name, options?]``, ``["shutdown", req, kernel_id, restart]``,
    ``["interrupt", req, kernel_id]``, ``["list", req, ids]``,
    ``["replay", req, kernel_id, after]``,
    ``["attach", kernel_id]``, ``["detach", kernel_id]``, ``["ack", kernel_id, nbytes]``,
    ``["msg", kernel_id, channel, msg_type, json]``
worker → hub
    ``["reply", req, ok, payload]``, ``["out", kernel_id, seq, channel, msg_type, json, state]``,
    ``["session", kernel_id, session_id]`` (on attach, and when a restart gives the kernel a
    new session), ``["ended", kernel_id, reason, told]`` (``told``: the kernel's clients had
    their last messages from the worker; false for a kernel the worker does not know)

A start's optional ``options`` dict may set ``idle_timeout`` and ``max_lifetime`` (seconds,
0: none) for that kernel alone, as the hub does for anonymous kernels.

Restart and shutdown send the clients what Jupyter Server with ipykernel sends: the old
session's ``busy``, ``shutdown_reply`` and ``idle`` (and, for a restart, the new session's
``starting`` and the ``busy``/``idle`` of a kernel_info_request) — never ``restarting``,
which Jupyter Server sends only when it restarts a kernel that died, and JupyterLab takes
for a crash. A kernel that ends without being asked to — it died, was culled, or outlived
its limits — sends ``dead`` with a ``reason``: Jupyter Server, which restarts a kernel that
dies, sends ``dead`` when it cannot; cellhub does not restart kernels, and its own page
shows the reason with a Restart button. A shutdown someone asked for ends with the goodbye
alone, as with Jupyter Server; the hub then closes the kernel's WebSockets, and a client
that asks for the kernel gets a 404 that carries the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
import traceback
from collections import deque
from pathlib import Path
from typing import Any

import orjson

from cellhub.config import Config
from cellhub.deploy.certificates import CertificatePaths, ensure_certificates, worker_ssl_context
from cellhub.protocol import addresses, diagnostics, framing, jupyter
from cellhub.ratelimited_log import RateLimitedLog, exception_kind
from cellhub.sandbox.environment import session_environment
from cellhub.sandbox.prctl import become_subreaper, kill_children
from cellhub.template import scheduling
from cellhub.worker.kernels import SessionProcess, WorkerKernel
from cellhub.worker.ksmd import KsmdShare
from cellhub.worker.session_log import SessionLog
from cellhub.worker.template_client import TEMPLATE_START_TIMEOUT, TemplateClient

#: Seconds between claiming a spare session and forking its replacement.
REFILL_DELAY = 0.05
#: Seconds after a claim at which the session is promoted again (see Worker.bind).
PROMOTE_AGAIN_AFTER = 0.1
#: Seconds a restart waits for the new session's kernel_info_reply.
RESTART_INFO_TIMEOUT = 10.0
#: Seconds an interrupt waits for the template to have signalled the session (it may be
#: forking, or reaping an ended session's orphans: up to ORPHAN_KILL_TIMEOUT).
INTERRUPT_TIMEOUT = 10.0


def log_failure(text: str) -> None:
    print(f"cellhub-worker: {text}", file=sys.stderr, flush=True)


class CapacityError(Exception):
    """The worker already runs its maximum number of sessions."""


class HubConnection:
    """One connected hub."""

    def __init__(
        self, worker: Worker, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.worker = worker
        self.reader = reader
        self.writer = writer
        self.out = framing.BatchedWriter(writer)

    def send(self, frame: list[Any]) -> None:
        self.out.send(frame)

    def reply(self, req: int, ok: bool, payload: Any) -> None:
        self.send(["reply", req, ok, payload])

    async def serve(self) -> None:
        try:
            while True:
                frame = await framing.read_frame(self.reader)
                await self.worker.handle(self, frame)
        except (asyncio.IncompleteReadError, ConnectionError, framing.FrameError):
            pass
        finally:
            self.worker.hub_gone(self)
            self.writer.close()


class Worker:
    """Places kernels in sessions, keeps spares ready, enforces limits, culls idle kernels."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.kernels: dict[str, WorkerKernel] = {}
        self.by_pid: dict[int, WorkerKernel] = {}
        self.spares: deque[tuple[int, socket.socket]] = deque()
        self.waiters: deque[asyncio.Future[tuple[int, socket.socket]]] = deque()
        self.forks_pending = 0
        self.exit_codes: dict[int, asyncio.Future[int]] = {}
        self.hubs: set[HubConnection] = set()
        self.template = TemplateClient(
            self.template_settings(),
            self.on_forked,
            self.on_exited,
            self.on_template_lost,
            session_environment(os.environ, config.session_environment),
        )
        self.sandbox_description = ""
        #: Set once the template has imported everything and can fork sessions.
        self.template_ready = asyncio.Event()
        self.template_start: asyncio.Task[None] | None = None
        self.promote_spares = scheduling.can_promote()
        self.spare_failures = 0
        #: Per-kernel (idle_timeout, max_lifetime) that differ from the configuration's.
        self.kernel_limits: dict[str, tuple[float, float]] = {}
        self.refill_handle: asyncio.TimerHandle | None = None
        self.session_log = SessionLog()
        #: Requests that failed: a hub (and through it a client) can repeat one at will.
        self.failures = RateLimitedLog(log_failure)

    def template_settings(self) -> dict[str, Any]:
        c = self.config
        return {
            "preload": c.preload,
            "merge_pages": c.merge_pages,
            "sandbox": c.sandbox,
            "state_dir": str(c.data_path / "sessions"),
            "uids": [c.uid_pool_start, c.uid_pool_size],
            "limits": c.limit_values(),
        }

    def session_init(self) -> dict[str, Any]:
        c = self.config
        return {
            "username": "cellhub",
            "output_cap": c.output_cap,
            "flush_interval": c.flush_interval,
            "max_stream_chunk": c.max_stream_chunk,
        }

    # -- spare sessions ----------------------------------------------------------
    def refill(self) -> None:
        """Fork until the spares and the starts waiting for one are covered, within room for
        ``max_sessions`` kernels' sessions and the spares; a kernel that waits for its
        session holds none yet, so it does not take room from its own fork."""
        if not self.template_ready.is_set():
            return  # start_template refills once it can
        wanted = self.config.spare_sessions + len(self.waiters)
        in_sessions = len(self.kernels) - len(self.waiters)
        room = self.config.max_sessions + self.config.spare_sessions - in_sessions
        while len(self.spares) + self.forks_pending < min(wanted, room):
            self.forks_pending += 1
            self.template.fork()

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

    def session_diagnostic(self, kernel: WorkerKernel, text: str) -> None:
        pid = kernel.session.pid if kernel.session is not None else 0
        self.session_log.report(f"kernel {kernel.id}", f"kernel {kernel.id} (pid {pid})", text)

    def spare_failed(self, code: int) -> None:
        """A session died before it was used: retry with backoff, not in a tight fork loop."""
        self.spare_failures += 1
        delay = min(0.05 * 2**self.spare_failures, 10.0)
        print(
            f"cellhub-worker: a new session died at once (exit code {code}); "
            f"retrying in {delay:.1f} s; see the session's error above",
            file=sys.stderr,
            flush=True,
        )
        if self.spare_failures >= 3:
            error = RuntimeError(f"sessions fail to start (exit code {code}); see the worker's log")
            while self.waiters:
                waiter = self.waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(error)
        asyncio.get_running_loop().call_later(delay, self.refill)

    def on_template_lost(self) -> None:
        print(
            "cellhub-worker: the template process died; restarting it", file=sys.stderr, flush=True
        )
        kill_children()  # what its sessions left behind was re-parented to us, the subreaper
        for kernel in list(self.kernels.values()):
            self.end(kernel, "the template process died")
        for _pid, sock in self.spares:
            sock.close()
        self.spares.clear()
        self.forks_pending = 0
        self.template_ready.clear()
        self.template_start = asyncio.get_running_loop().create_task(self.start_template())

    async def start_template(self) -> None:
        """Start the template; sessions are forked once it has imported everything, and kernel
        starts that came earlier wait for it (see :meth:`take_spare`)."""
        self.sandbox_description = await self.template.start()
        self.template_ready.set()
        self.refill()

    async def take_spare(self, timeout: float = 30.0) -> SessionProcess:
        if not self.template_ready.is_set():
            await asyncio.wait_for(self.template_ready.wait(), TEMPLATE_START_TIMEOUT)
        if self.spares:
            pid, sock = self.spares.popleft()
        else:
            waiter: asyncio.Future[tuple[int, socket.socket]] = (
                asyncio.get_running_loop().create_future()
            )
            self.waiters.append(waiter)
            self.refill()
            pid, sock = await asyncio.wait_for(waiter, timeout)
        self.spare_failures = 0
        self.refill_soon()
        session = await SessionProcess.connect(pid, sock)
        session.exit_code = self.exit_codes.setdefault(
            pid, asyncio.get_running_loop().create_future()
        )
        return session

    # -- kernels -------------------------------------------------------------------
    async def start_kernel(
        self, kernel_id: str, name: str, options: dict[str, Any] | None = None
    ) -> WorkerKernel:
        if kernel_id in self.kernels:
            raise ValueError(f"kernel {kernel_id} already exists")
        if len(self.kernels) >= self.config.max_sessions:
            raise CapacityError(
                f"this worker already runs its maximum of {self.config.max_sessions} sessions"
            )
        kernel = WorkerKernel(
            kernel_id,
            name,
            self.config.flow_window,
            self.config.replay_buffer,
            self.end,
            self.session_diagnostic,
        )
        self.kernels[kernel_id] = kernel
        try:
            session = await self.take_spare()
        except BaseException:
            del self.kernels[kernel_id]
            raise
        self.bind(kernel, session)
        if options:
            self.kernel_limits[kernel_id] = (
                float(options.get("idle_timeout", self.config.idle_timeout)),
                float(options.get("max_lifetime", 0)),
            )
        return kernel

    def bind(self, kernel: WorkerKernel, session: SessionProcess) -> None:
        if self.promote_spares:
            scheduling.promote(session.pid)
            # Once more a moment later: in full test runs a session claimed right after its
            # fork was seen still idle-only after the first promotion (cause not found yet).
            asyncio.get_running_loop().call_later(
                PROMOTE_AGAIN_AFTER, scheduling.promote, session.pid
            )
        kernel.bind(session, self.session_init())
        self.by_pid[session.pid] = kernel

    async def restart_kernel(
        self, kernel: WorkerKernel, request: dict[str, Any] | None = None
    ) -> None:
        """A fresh session under the same id; ``request``: a client's shutdown_request."""
        say_goodbye(kernel, True, request)
        old = kernel.unbind()
        if old is not None:
            self.by_pid.pop(old.pid, None)
            self.template.kill(old.pid)
        self.bind(kernel, await self.take_spare())
        kernel.announce("iopub", "status", {"execution_state": "starting"}, state="starting")
        await kernel.ask_kernel_info(RESTART_INFO_TIMEOUT)

    def shutdown_kernel(self, kernel: WorkerKernel, request: dict[str, Any] | None = None) -> None:
        """End the kernel as asked (REST, or a client's shutdown_request)."""
        say_goodbye(kernel, False, request)
        self.end(kernel, "shut down by request", dead=False)

    def end(self, kernel: WorkerKernel, reason: str, dead: bool = True) -> None:
        """Forget ``kernel``, kill its session, and tell every hub why it ended; its clients
        too (a ``dead`` status) when ``dead``: the kernel ended without being asked to."""
        if self.kernels.get(kernel.id) is not kernel:
            return
        del self.kernels[kernel.id]
        self.kernel_limits.pop(kernel.id, None)
        old = kernel.unbind()
        if old is not None:
            self.by_pid.pop(old.pid, None)
            self.template.kill(old.pid)
        kernel.state = "dead"
        if dead:
            kernel.announce("iopub", "status", {"execution_state": "dead", "reason": reason})
        for hub in self.hubs:
            hub.send(["ended", kernel.id, reason, True])
        self.refill()

    async def interrupt(self, kernel: WorkerKernel) -> None:
        """SIGINT to the kernel's session; returns once the template has sent it, so that a
        client told its interrupt is done never sees the next cell it runs interrupted."""
        if kernel.session is not None:
            delivered = self.template.signal(kernel.session.pid, signal.SIGINT)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(delivered, INTERRUPT_TIMEOUT)

    async def cull_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.cull_interval)
            self.session_log.flush()
            now = time.time()
            for kernel in list(self.kernels.values()):
                timeout, lifetime = self.kernel_limits.get(kernel.id, (self.config.idle_timeout, 0))
                if lifetime > 0 and now - kernel.created > lifetime:
                    self.end(kernel, f"ended after its maximum lifetime of {lifetime:g} s")
                elif (
                    timeout > 0
                    and not kernel.links
                    and kernel.state in ("idle", "starting")
                    and kernel.last_activity < now - timeout
                ):
                    self.end(kernel, f"culled after {timeout:g} s idle")

    # -- hub protocol -----------------------------------------------------------------
    async def handle(self, hub: HubConnection, frame: Any) -> None:
        if not isinstance(frame, list) or not frame:
            return
        op = frame[0]
        if op == "msg":
            self.client_message(hub, *frame[1:])
        elif op == "ack":
            kernel = self.kernels.get(frame[1])
            if kernel is not None:
                kernel.ack(hub, int(frame[2]))
        elif op == "attach":
            kernel = self.kernels.get(frame[1])
            if kernel is not None:
                kernel.attach(hub)
            else:
                hub.send(["ended", frame[1], "no such kernel on this worker", False])
        elif op == "detach":
            kernel = self.kernels.get(frame[1])
            if kernel is not None:
                kernel.detach(hub)
        else:
            asyncio.get_running_loop().create_task(self.request(hub, op, frame[1], frame[2:]))

    async def request(self, hub: HubConnection, op: str, req: int, args: list[Any]) -> None:
        try:
            hub.reply(req, True, await self.answer(op, args))
        except CapacityError as exc:
            hub.reply(req, False, {"status": 503, "message": str(exc)})
        except KeyError as exc:
            hub.reply(
                req, False, {"status": 404, "message": f"no kernel {exc.args[0]} on this worker"}
            )
        except Exception as exc:  # noqa: BLE001 - the hub shows the message; the worker stays up
            self.failures.report(exception_kind(exc), f"{op} failed:\n{traceback.format_exc()}")
            hub.reply(req, False, {"status": 500, "message": f"{type(exc).__name__}: {exc}"})

    async def answer(self, op: str, args: list[Any]) -> Any:
        if op == "list":
            wanted = set(args[0]) if args and args[0] is not None else None
            return [k.model() for k in self.kernels.values() if wanted is None or k.id in wanted]
        if op == "start":
            options = args[2] if len(args) > 2 and isinstance(args[2], dict) else None
            return (await self.start_kernel(str(args[0]), str(args[1]), options)).model()
        kernel = self.kernels[args[0]]
        if op == "replay":
            lost, entries = kernel.replay.since(int(args[1]))
            return {"lost": lost, "messages": entries}
        if op == "interrupt":
            await self.interrupt(kernel)
            return None
        if op == "shutdown":
            if args[1]:
                await self.restart_kernel(kernel)
                return kernel.model()
            self.shutdown_kernel(kernel)
            return None
        raise ValueError(f"unknown operation {op!r}")

    def client_message(
        self, hub: HubConnection, kernel_id: str, channel: str, msg_type: str, data: bytes
    ) -> None:
        kernel = self.kernels.get(kernel_id)
        if kernel is None or kernel.session is None:
            return
        kernel.last_activity = time.time()
        if msg_type in ("interrupt_request", "shutdown_request"):
            task = asyncio.get_running_loop().create_task(
                self.control_request(kernel, channel, msg_type, data)
            )
            task.add_done_callback(self.report_failure)
        elif not kernel.session.send(["msg", channel, data]):
            reply = jupyter.reply_type(msg_type)
            if reply:
                content = jupyter.error_content(
                    "KernelBusy", "the kernel's input queue is full; try again later"
                )
                kernel.announce(channel, reply, content, orjson.loads(data).get("header", {}))

    async def control_request(
        self, kernel: WorkerKernel, channel: str, msg_type: str, data: bytes
    ) -> None:
        """Interrupt and shutdown are done by the worker: the session may be stuck in user code.

        The clients see what ipykernel sends: ``busy``, the reply, ``idle``.
        """
        request = orjson.loads(data)
        parent = request.get("header", {})
        if msg_type == "shutdown_request":
            if bool(request.get("content", {}).get("restart", False)):
                await self.restart_kernel(kernel, parent)
            else:
                self.shutdown_kernel(kernel, parent)
            return
        kernel.announce("iopub", "status", {"execution_state": "busy"}, parent)
        await self.interrupt(kernel)
        kernel.announce(channel, "interrupt_reply", {"status": "ok"}, parent)
        kernel.announce("iopub", "status", {"execution_state": "idle"}, parent)

    def report_failure(self, task: asyncio.Task[None]) -> None:
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            self.failures.report(exception_kind(exc), "".join(traceback.format_exception(exc)))

    def hub_gone(self, hub: HubConnection) -> None:
        self.hubs.discard(hub)
        for kernel in self.kernels.values():
            kernel.detach(hub)

    async def on_hub(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hub = HubConnection(self, reader, writer)
        self.hubs.add(hub)
        await hub.serve()

    def stop(self) -> None:
        """Kill every session at once, then let the template clean up and exit.

        The sessions are the template's unreaped children, so their pids are still theirs.
        If the template had to be killed, what its sessions left running was re-parented
        to us, the subreaper: that goes last.
        """
        for pid in [*self.by_pid, *(pid for pid, _ in self.spares)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self.template.stop()
        kill_children()


def say_goodbye(kernel: WorkerKernel, restart: bool, request: dict[str, Any] | None) -> None:
    """What ipykernel sends as it shuts down: ``busy``, ``shutdown_reply`` on iopub (and on
    control, to a client's ``request``), ``idle``. Without a request (REST), the parent is
    a request of the worker's own, as Jupyter Server's kernel manager sends one."""
    parent = request or jupyter.header("shutdown_request", kernel.session_id)
    content = {"status": "ok", "restart": restart}
    kernel.announce("iopub", "status", {"execution_state": "busy"}, parent)
    kernel.announce("iopub", "shutdown_reply", content, parent)
    if request is not None:
        kernel.announce("control", "shutdown_reply", content, parent)
    kernel.announce("iopub", "status", {"execution_state": "idle"}, parent)


async def run_worker(config: Config) -> None:
    """Run a worker until SIGTERM/SIGINT (see :func:`serve` for what it prints)."""
    ksmd = KsmdShare()
    ksmd.join(
        config.ksmd_pages_to_scan if config.merge_pages else 0,
        legacy_record=config.data_path / "ksmd-settings.json",
    )
    try:
        await serve(config)
    finally:
        ksmd.leave()


async def serve(config: Config) -> None:
    """Listen for hubs at once; start the template beside; serve until SIGTERM/SIGINT.

    Prints two JSON lines: ``{"event": "listening", "address"}`` as soon as hubs can connect
    (kernel starts then wait for the template, see :meth:`Worker.take_spare`), and
    ``{"event": "ready", "address", "sandbox"}`` once the template has imported everything.
    A template that cannot start ends the worker with its error, before the second line.
    """
    certs = ensure_certificates(config.data_path / "certs")
    become_subreaper()
    (config.data_path / "sessions").mkdir(parents=True, exist_ok=True)
    worker = Worker(config)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    starting = worker.template_start = loop.create_task(worker.start_template())
    server, address = await listen(config, worker, certs)
    stopping = loop.create_task(stop.wait())
    try:
        announce(event="listening", address=address)
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():
            starting.result()  # raises if the template could not start
            announce(event="ready", address=address, sandbox=worker.sandbox_description)
            culler = loop.create_task(worker.cull_forever())
            await stopping
            culler.cancel()
    finally:
        stopping.cancel()
        starting.cancel()
        server.close()
        if config.worker_socket:
            Path(config.worker_socket).unlink(missing_ok=True)
        worker.stop()


async def listen(
    config: Config, worker: Worker, certs: CertificatePaths
) -> tuple[asyncio.Server, str]:
    """The worker's server: its Unix socket, or TLS on its TCP port."""
    if config.worker_socket:
        return await addresses.listen_unix(worker.on_hub, Path(config.worker_socket))
    return await addresses.listen_tcp(
        worker.on_hub, config.worker_host, config.worker_port, worker_ssl_context(certs)
    )


def announce(**fields: str) -> None:
    """One JSON line on stdout, which ``cellhub serve``'s supervisor reads."""
    print(orjson.dumps(fields).decode(), flush=True)
