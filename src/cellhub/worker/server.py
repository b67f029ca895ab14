"""The worker daemon: accepts hubs (mutual TLS, or a Unix socket for a hub on the same host)
and runs their kernels in forked sessions.

One multiplexed connection per hub carries every kernel's traffic as msgpack frames, after
a handshake that refuses a hub of another protocol version: :mod:`cellhub.protocol.hub_worker`
defines every frame, and docs/protocol.md describes them. A start may set ``idle_timeout``
and ``max_lifetime`` (seconds, 0: none) for that kernel alone, as the hub does for
anonymous kernels, a lower ``memory`` for its sessions' cgroup (an account's limit; the
linux sandbox only), which every session the kernel gets, restarts included, is held to, and
``detached_grace``: how long the kernel lives idle once no hub holds a client of it, as the
hub asks for the worksheet page's kernels.

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
import ssl
import time
import traceback
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import orjson

from cellhub.config import Config
from cellhub.deploy.certificates import credentials, worker_ssl_context
from cellhub.deploy.handshake_failures import explain
from cellhub.kernel_kinds import offered
from cellhub.log_records import service_logger
from cellhub.protocol import addresses, framing, hub_worker, jupyter, session_frames
from cellhub.protocol.hub_worker import (
    FilesSaved,
    Interrupt,
    KernelModel,
    KernelOptions,
    ListKernels,
    Missed,
    PutFile,
    Replay,
    Request,
    RestoreFiles,
    SaveFiles,
    SetSpares,
    Shutdown,
    Start,
    UpdateFiles,
)
from cellhub.protocol.session_frames import SessionInit
from cellhub.ratelimited_log import RateLimitedLog, exception_kind
from cellhub.sandbox.prctl import become_subreaper, kill_children
from cellhub.template import scheduling
from cellhub.worker.kernels import SessionProcess, WorkerKernel, cause_of
from cellhub.worker.ksmd import KsmdShare
from cellhub.worker.load import LoadReports
from cellhub.worker.session_files import HomeRefused, SessionFiles
from cellhub.worker.session_log import SessionLog
from cellhub.worker.session_sources import SessionSource, start_all
from cellhub.worker.template_client import TemplateClient

log = service_logger(__name__)

#: Seconds after a claim at which the session is promoted again (see Worker.bind).
PROMOTE_AGAIN_AFTER = 0.1
#: Seconds a restart waits for the new session's kernel_info_reply.
RESTART_INFO_TIMEOUT = 10.0
#: Seconds an interrupt waits for the template to have signalled the session (it may be
#: forking, or reaping an ended session's orphans: up to ORPHAN_KILL_TIMEOUT).
INTERRUPT_TIMEOUT = 10.0
#: Seconds the worker gives a stopping template, and more per session it cleans up after
#: (waiting for the killed sessions to exit, removing their cgroups and homes: hundreds
#: of sessions take seconds on a loaded host). Killed after that, a template leaves its
#: sessions' cgroups behind until a worker of the same deployment starts again.
TEMPLATE_STOP_SECONDS = 5.0
TEMPLATE_STOP_PER_SESSION = 0.04


def log_failure(text: str) -> None:
    log.error(text)


class CapacityError(Exception):
    """The worker already runs its maximum number of sessions."""


class NoSuchKind(Exception):
    """The worker offers no kernels of the kind asked for."""


class HubConnection:
    """One connected hub: its frames to the worker's methods, and its way back."""

    def __init__(
        self, worker: Worker, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.worker = worker
        self.reader = reader
        self.writer = writer
        self.out = framing.BatchedWriter(writer)

    def send(self, frame: list[Any]) -> None:
        self.out.send(frame)

    def reply(self, req: int, answer: Any) -> None:
        self.send(hub_worker.reply(req, answer))

    def failure(self, req: int, status: int, message: str) -> None:
        self.send(hub_worker.failure(req, status, message))

    async def agree(self) -> bool:
        """The handshake: the hub's version must be this worker's; refuse it otherwise."""
        try:
            first = await framing.read_frame(self.reader)
        except (asyncio.IncompleteReadError, ConnectionError, framing.FrameError):
            return False
        refused = hub_worker.mismatch(first, "hub", "worker")
        if refused is not None:
            log_failure(f"refused a hub: {refused}")
            self.writer.write(framing.encode(hub_worker.refusal(refused)))
            with contextlib.suppress(ConnectionError):
                await self.writer.drain()
            return False
        self.send(hub_worker.hello())
        return True

    async def serve(self) -> None:
        try:
            while True:
                hub_worker.read_hub_frame(await framing.read_frame(self.reader), self)
        except (asyncio.IncompleteReadError, ConnectionError, framing.FrameError):
            pass
        except hub_worker.ProtocolError as exc:
            log_failure(f"closed a hub's connection: {exc}")
        finally:
            self.worker.hub_gone(self)
            self.writer.close()

    def client_message(self, kernel_id: str, channel: str, msg_type: str, data: bytes) -> None:
        self.worker.client_message(kernel_id, channel, msg_type, data)

    def ack(self, kernel_id: str, nbytes: int) -> None:
        kernel = self.worker.kernels.get(kernel_id)
        if kernel is not None:
            kernel.ack(self, nbytes)

    def attach(self, kernel_id: str, clients: int) -> None:
        kernel = self.worker.kernels.get(kernel_id)
        if kernel is not None:
            kernel.attach(self, clients)
        else:
            self.send(hub_worker.ended(kernel_id, "no such kernel on this worker", False))

    def detach(self, kernel_id: str) -> None:
        kernel = self.worker.kernels.get(kernel_id)
        if kernel is not None:
            kernel.detach(self)

    def request(self, req: int, asked: Request) -> None:
        self.worker.in_background(self.worker.request(self, req, asked))


class Worker:
    """Places kernels in sessions, keeps spares ready, enforces limits, culls idle kernels."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.kernels: dict[str, WorkerKernel] = {}
        self.by_pid: dict[int, WorkerKernel] = {}
        self.hubs: set[HubConnection] = set()
        self.offer = offered(config.kernels)
        self.load = LoadReports(
            config.max_sessions,
            config.load_interval,
            lambda: len(self.kernels),
            self.hubs,
            self.offer.names,
            self.tallies,
        )
        #: Kernels ended per cause, and the flow pauses of the ended ones (for the hubs' /metrics).
        self.ended: Counter[str] = Counter()
        self.ended_pauses = 0
        self.session_log = SessionLog()
        #: One template and spare pool per kernel kind offered, by kind.
        self.sources = {
            kind: SessionSource(
                kind, config, lambda: len(self.kernels), self.session_log, self.on_template_lost
            )
            for kind in self.offer.names
        }
        self.sandbox_description = ""
        self.promote_spares = scheduling.can_promote()
        #: Per-kernel (idle_timeout, max_lifetime) that differ from the configuration's.
        self.kernel_limits: dict[str, tuple[float, float]] = {}
        #: Per-kernel session memory below the configuration's (applied at every bind).
        self.kernel_memory: dict[str, int] = {}
        #: Per-kernel seconds it lives idle once no hub holds a client of it (the page's).
        self.detached_grace: dict[str, float] = {}
        #: Work started for a hub or a client that nobody awaits (kept from the collector).
        self.tasks: set[asyncio.Task[None]] = set()
        #: Requests that failed: a hub (and through it a client) can repeat one at will.
        self.failures = RateLimitedLog(log_failure)
        #: Logged-in users' files in their kernels' homes (the hub restores and saves them).
        self.files = SessionFiles(
            config.data_path / "session-files", config.data_path / "sessions" / "homes"
        )

    def session_init(self) -> SessionInit:
        c = self.config
        return {
            "username": "cellhub",
            "output_cap": c.output_cap,
            "flush_interval": c.flush_interval,
            "max_stream_chunk": c.max_stream_chunk,
        }

    def tallies(self) -> dict[str, Any]:
        """What the load report counts for the hubs' /metrics: spares per kind, ends per cause,
        flow pauses (of the ended kernels and the running ones), sandbox kills per limit."""
        running_pauses = sum(kernel.flow_pauses for kernel in self.kernels.values())
        kills: Counter[str] = sum((source.kills for source in self.sources.values()), Counter())
        return {
            "spares": {kind: len(source.spares.spares) for kind, source in self.sources.items()},
            "ended": dict(self.ended),
            "flow_pauses": self.ended_pauses + running_pauses,
            "kills": dict(kills),
        }

    def session_diagnostic(self, kernel: WorkerKernel, text: str) -> None:
        pid = kernel.session.pid if kernel.session is not None else 0
        self.session_log.report(f"kernel {kernel.id}", f"session pid {pid}", text, kernel.id)

    def on_template_lost(self, source: SessionSource) -> None:
        log.error("the template process of %s kernels died; restarting it", source.kind)
        # What its sessions left behind was re-parented to us, the subreaper; the templates
        # of the other kinds are our children too, and stay.
        others = self.templates()
        others.remove(source.template)
        kill_children(keep={t.process.pid for t in others if t.process is not None})
        for kernel in list(self.kernels.values()):
            if kernel.name == source.kind:
                self.end(kernel, "the template process died", cause="template")
        source.spares.clear()
        self.in_background(self.restart_template(source))

    async def restart_template(self, source: SessionSource) -> None:
        await source.start()

    def templates(self) -> list[TemplateClient]:
        return [source.template for source in self.sources.values()]

    def session_pid(self, kernel_id: str) -> int:
        """The pid of the kernel's session; KeyError for an unknown kernel or one between
        sessions."""
        session = self.kernels[kernel_id].session
        if session is None:
            raise KeyError(kernel_id)
        return session.pid

    def template_of(self, kernel: WorkerKernel) -> TemplateClient:
        return self.sources[kernel.name].template

    async def start_templates(self) -> None:
        """Start every kind's template (see :meth:`SessionSource.start`)."""
        self.sandbox_description = await start_all(list(self.sources.values()))

    # -- kernels -------------------------------------------------------------------
    async def start_kernel(
        self, kernel_id: str, name: str, options: KernelOptions | None = None
    ) -> WorkerKernel:
        if kernel_id in self.kernels:
            raise ValueError(f"kernel {kernel_id} already exists")
        if name not in self.sources:
            raise NoSuchKind(f"this worker offers no kernel spec named {name!r}")
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
        self.load.changed()
        try:
            session = await self.sources[name].spares.take()
        except BaseException:
            del self.kernels[kernel_id]
            self.load.changed()
            raise
        if options and options.get("memory"):
            self.kernel_memory[kernel_id] = int(options["memory"])
        await self.bind(kernel, session)
        log.info("started (%s, session pid %d)", name, session.pid, extra={"kernel_id": kernel_id})
        if options and options.get("detached_grace"):
            self.detached_grace[kernel_id] = float(options["detached_grace"])
        if options and ("idle_timeout" in options or "max_lifetime" in options):
            self.kernel_limits[kernel_id] = (
                float(options.get("idle_timeout", self.config.idle_timeout)),
                float(options.get("max_lifetime", 0)),
            )
        return kernel

    async def bind(self, kernel: WorkerKernel, session: SessionProcess) -> None:
        if self.promote_spares:
            scheduling.promote(session.pid)
            # Once more a moment later: in full test runs a session claimed right after its
            # fork was seen still idle-only after the first promotion (cause not found yet).
            asyncio.get_running_loop().call_later(
                PROMOTE_AGAIN_AFTER, scheduling.promote, session.pid
            )
        memory = self.kernel_memory.get(kernel.id)
        if memory:  # before the session is told to run anything
            await self.template_of(kernel).limit_memory(session.pid, memory)
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
            self.template_of(kernel).kill(old.pid)
        session = await self.sources[kernel.name].spares.take()
        await self.bind(kernel, session)
        kernel.announce("iopub", "status", {"execution_state": "starting"}, state="starting")
        await kernel.ask_kernel_info(RESTART_INFO_TIMEOUT)
        await asyncio.to_thread(self.files.rehome, kernel.id, session.pid)

    def shutdown_kernel(self, kernel: WorkerKernel, request: dict[str, Any] | None = None) -> None:
        """End the kernel as asked (REST, or a client's shutdown_request)."""
        say_goodbye(kernel, False, request)
        self.end(kernel, "shut down by request", dead=False, cause="requested")

    def end(
        self, kernel: WorkerKernel, reason: str, dead: bool = True, cause: str | None = None
    ) -> None:
        """Forget ``kernel``, kill its session, and tell every hub why it ended; its clients
        too (a ``dead`` status) when ``dead``: the kernel ended without being asked to.
        ``cause`` (``hub_worker.END_CAUSES``) is counted; None: the session's exit tells it."""
        if self.kernels.get(kernel.id) is not kernel:
            return
        del self.kernels[kernel.id]
        self.ended[cause or cause_of(reason)] += 1
        log.info("ended: %s", reason, extra={"kernel_id": kernel.id})
        self.ended_pauses += kernel.flow_pauses
        self.kernel_limits.pop(kernel.id, None)
        self.kernel_memory.pop(kernel.id, None)
        self.detached_grace.pop(kernel.id, None)
        self.files.forget(kernel.id)
        old = kernel.unbind()
        if old is not None:
            self.by_pid.pop(old.pid, None)
            self.template_of(kernel).kill(old.pid)
        kernel.state = "dead"
        if dead:
            kernel.announce("iopub", "status", {"execution_state": "dead", "reason": reason})
        for hub in self.hubs:
            hub.send(hub_worker.ended(kernel.id, reason, True))
        self.load.changed()
        for source in self.sources.values():
            source.spares.refill()

    async def interrupt(self, kernel: WorkerKernel) -> None:
        """SIGINT to the kernel's session; returns once the template has sent it, so that a
        client told its interrupt is done never sees the next cell it runs interrupted."""
        if kernel.session is not None:
            delivered = self.template_of(kernel).signal(kernel.session.pid, signal.SIGINT)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(delivered, INTERRUPT_TIMEOUT)

    async def cull_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.cull_interval)
            self.session_log.flush()
            now = time.time()
            for kernel in list(self.kernels.values()):
                timeout, lifetime = self.kernel_limits.get(kernel.id, (self.config.idle_timeout, 0))
                grace = self.detached_grace.get(kernel.id, 0)
                idle = not kernel.links and kernel.state in ("idle", "starting")
                if lifetime > 0 and now - kernel.created > lifetime:
                    why = f"ended after its maximum lifetime of {lifetime:g} s"
                    self.end(kernel, why, cause="lifetime")
                elif timeout > 0 and idle and kernel.last_activity < now - timeout:
                    self.end(kernel, f"culled after {timeout:g} s idle", cause="culled")
                elif grace > 0 and idle and (kernel.detached_since or now) < now - grace:
                    why = f"shut down {grace:g} s after the last page using it closed"
                    self.end(kernel, why, cause="culled")

    # -- hub requests -----------------------------------------------------------------
    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` without waiting for it, keeping its task until it ends; a failure
        is logged, rate-limited (a hub or client can repeat what fails)."""
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(self.report_failure)

    async def request(self, hub: HubConnection, req: int, asked: Request) -> None:
        try:
            hub.reply(req, await self.answer(asked))
        except CapacityError as exc:
            hub.failure(req, 503, str(exc))
        except NoSuchKind as exc:
            hub.failure(req, 404, str(exc))
        except HomeRefused as exc:
            hub.failure(req, 413, str(exc))
        except KeyError as exc:
            hub.failure(req, 404, f"no kernel {exc.args[0]} on this worker")
        except Exception as exc:  # noqa: BLE001 - the hub shows the message; the worker stays up
            self.failures.report(
                exception_kind(exc), f"{type(asked).__name__} failed:\n{traceback.format_exc()}"
            )
            hub.failure(req, 500, f"{type(exc).__name__}: {exc}")

    async def answer(
        self, asked: Request
    ) -> KernelModel | list[KernelModel] | Missed | FilesSaved | str | list[str] | None:
        match asked:
            case ListKernels(ids):
                wanted = None if ids is None else set(ids)
                return [
                    k.model() for k in self.kernels.values() if wanted is None or k.id in wanted
                ]
            case Start(kernel_id, name, options):
                return (await self.start_kernel(kernel_id, name, options)).model()
            case Replay(kernel_id, after):
                lost, entries = self.kernels[kernel_id].replay.since(after)
                return {"lost": lost, "messages": entries}
            case Interrupt(kernel_id):
                await self.interrupt(self.kernels[kernel_id])
                return None
            case Shutdown(kernel_id, restart):
                kernel = self.kernels[kernel_id]
                if restart:
                    await self.restart_kernel(kernel)
                    return kernel.model()
                self.shutdown_kernel(kernel)
                return None
            case RestoreFiles(kernel_id, offset, piece, total):
                pid = self.session_pid(kernel_id)
                work = self.files.restore
                return await asyncio.to_thread(work, kernel_id, pid, offset, piece, total)
            case UpdateFiles(kernel_id, offset, piece, total):
                pid = self.session_pid(kernel_id)
                update = self.files.update
                return await asyncio.to_thread(update, kernel_id, pid, offset, piece, total)
            case PutFile(kernel_id, path, data):
                pid = self.session_pid(kernel_id)
                return await asyncio.to_thread(self.files.put, kernel_id, pid, path, data)
            case SaveFiles(kernel_id, since, offset, limit):
                pid = self.session_pid(kernel_id)
                save = self.files.save
                return await asyncio.to_thread(save, kernel_id, pid, since, offset, limit)
            case SetSpares(sessions):
                self.set_spares(sessions)
                return None

    def set_spares(self, sessions: int) -> None:
        """Keep ``sessions`` spares of every kind from now on (until the worker stops: its
        ``spare_sessions`` setting is where it starts again)."""
        if sessions < 0:
            raise ValueError(f"spare sessions must not be negative, not {sessions}")
        for source in self.sources.values():
            source.spares.resize(sessions)
        kept = min(sessions, self.config.max_sessions)
        log.info("keeping %d spare sessions of each kernel kind, as a hub asked", kept)

    def client_message(self, kernel_id: str, channel: str, msg_type: str, data: bytes) -> None:
        kernel = self.kernels.get(kernel_id)
        if kernel is None or kernel.session is None:
            return
        kernel.last_activity = time.time()
        if msg_type in ("interrupt_request", "shutdown_request"):
            self.in_background(self.control_request(kernel, channel, msg_type, orjson.loads(data)))
        elif not kernel.session.send(session_frames.session_input(channel, data)):
            reply = jupyter.reply_type(msg_type)
            if reply:
                content = jupyter.error_content(
                    "KernelBusy", "the kernel's input queue is full; try again later"
                )
                kernel.announce(channel, reply, content, orjson.loads(data).get("header", {}))

    async def control_request(
        self, kernel: WorkerKernel, channel: str, msg_type: str, request: dict[str, Any]
    ) -> None:
        """Interrupt and shutdown are done by the worker: the session may be stuck in user code.

        The clients see what ipykernel sends: ``busy``, the reply, ``idle``.
        """
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
        if not await hub.agree():
            writer.close()
            return
        self.hubs.add(hub)
        self.load.to_one(hub)
        await hub.serve()

    def refused_hub(self, failure: ssl.SSLError) -> None:
        """Log a refused TLS handshake; anyone who reaches the port can cause one, so the log
        is rate-limited, by kinds of failure OpenSSL names."""
        kind = f"tls {getattr(failure, 'verify_code', None) or failure.reason}"
        self.failures.report(kind, f"no TLS with a hub: {explain(failure, 'hub')}")

    def stop(self) -> None:
        """Kill every session at once, then let the template clean up and exit.

        The sessions are the template's unreaped children, so their pids are still theirs.
        If the template had to be killed, what its sessions left running was re-parented
        to us, the subreaper: that goes last.
        """
        spares = [pid for source in self.sources.values() for pid in source.pids()]
        for pid in [*self.by_pid, *spares]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        grace = TEMPLATE_STOP_SECONDS + TEMPLATE_STOP_PER_SESSION * (len(self.by_pid) + len(spares))
        for template in self.templates():
            template.stop(grace)
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
    """Listen for hubs at once; start the templates beside; serve until SIGTERM/SIGINT.

    Prints two JSON lines: ``{"event": "listening", "address"}`` as soon as hubs can connect
    (kernel starts then wait for their kind's template, see :meth:`SparePool.take`), and
    ``{"event": "ready", "address", "kernels", "sandbox"}`` once every template has imported
    everything; ``kernels`` names the kinds offered, and says why any other is not. A
    template that cannot start ends the worker with its error, before the second line.
    """
    # Before the template starts: a certificate that is not there stops the worker here.
    context = None if config.worker_socket else worker_ssl_context(credentials(config, "worker"))
    become_subreaper()
    (config.data_path / "sessions").mkdir(parents=True, exist_ok=True)
    worker = Worker(config)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    starting = loop.create_task(worker.start_templates())
    server, address = await listen(config, worker, context)
    stopping = loop.create_task(stop.wait())
    reporting = loop.create_task(worker.load.forever())
    try:
        announce(event="listening", address=address)
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():
            starting.result()  # raises if a template could not start
            announce(
                event="ready",
                address=address,
                kernels=worker.offer.describe(),
                sandbox=worker.sandbox_description,
            )
            culler = loop.create_task(worker.cull_forever())
            await stopping
            culler.cancel()
    finally:
        stopping.cancel()
        starting.cancel()
        reporting.cancel()
        server.close()
        if config.worker_socket:
            Path(config.worker_socket).unlink(missing_ok=True)
        worker.stop()


async def listen(
    config: Config, worker: Worker, context: ssl.SSLContext | None
) -> tuple[asyncio.Server, str]:
    """The worker's server: its Unix socket, or TLS on its TCP port."""
    if context is None:
        return await addresses.listen_unix(worker.on_hub, Path(config.worker_socket))
    return await addresses.listen_tcp(
        worker.on_hub, config.worker_host, config.worker_port, context, worker.refused_hub
    )


def announce(**fields: str) -> None:
    """One JSON line on stdout, which ``cellhub serve``'s supervisor reads."""
    print(orjson.dumps(fields).decode(), flush=True)
