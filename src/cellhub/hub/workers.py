"""The hub's connections to workers: one multiplexed connection per worker (mutual TLS, or
a Unix socket for a worker on the same host; see :mod:`cellhub.protocol.addresses`).

Each request of the protocol (:mod:`cellhub.protocol.hub_worker`) is a typed method of
:class:`WorkerLink`; a worker that speaks another protocol version is not used, and
:meth:`WorkerLink.start` says why. The link keeps the worker's last load report, by which
:mod:`cellhub.hub.placement` chooses a worker for each new kernel.

The load reports are also the worker's heartbeat. A worker is *lost* when this hub cannot
reach it (refused, unanswered, a failed handshake) or when it has said nothing for its
silence limit (``worker_timeout``, and never less than :data:`MISSED_REPORTS` of its report
intervals): a host that drops off the network leaves the connection open and silent. The
link then drops the connection, fails the requests waiting on it, and calls ``on_lost``
once per outage; it keeps trying to reconnect, and ``on_reconnected`` reconciles the
worker when it is back. A connection the worker closes (it exited) is not a loss by itself:
the link reconnects at once, and only if that fails is the worker lost — a worker that was
restarted meanwhile is just reconciled.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any

from cellhub.deploy.handshake_failures import explain
from cellhub.hub.channels import KernelChannels, Traffic
from cellhub.log_records import service_logger
from cellhub.protocol import addresses, framing, hub_worker

records = service_logger(__name__)

#: Load reports a worker may miss before its last one no longer counts for placement, and
#: before its silence may count as a loss.
MISSED_REPORTS = 3
#: Checks of a worker's silence per silence limit. Silence is counted in the hub's own
#: checks, not read off the clock, so that a hub that was itself stopped or starved for a
#: while does not blame its workers for the time it was not listening.
SILENCE_CHECKS = 5


class WorkerError(Exception):
    """A worker refused a request; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class WorkerSilent(ConnectionError):
    """The worker said nothing for its silence limit: the connection is dropped."""


class WorkerLink:
    """Talks to one worker: requests with replies, client messages, and kernel output.

    ``on_ended(kernel_id, reason, told)`` is called when the worker reports a kernel gone;
    ``told``: the worker has told the kernel's clients already. ``on_lost`` is called when
    the worker is lost, ``on_reconnected`` when it is connected again after a loss or a
    dropped connection; ``timeout``: the least silence limit, and how long a connection
    attempt may take (seconds); ``traffic``: the hub's relay totals (hub/channels.py), which
    its kernels' channels add to.
    """

    def __init__(
        self,
        address: str,
        context: ssl.SSLContext,
        on_ended: Callable[[str, str, bool], None],
        on_reconnected: Callable[[WorkerLink], None] | None = None,
        on_lost: Callable[[WorkerLink], None] | None = None,
        timeout: float = 5.0,
        traffic: Traffic | None = None,
    ) -> None:
        self.address = address
        self.traffic = traffic or Traffic()
        self.context = context
        self.on_ended = on_ended
        self.on_reconnected = on_reconnected
        self.on_lost = on_lost
        self.timeout = timeout
        self.writer: asyncio.StreamWriter | None = None
        self.out: framing.BatchedWriter | None = None
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.channels: dict[str, KernelChannels] = {}
        self.ids = itertools.count(1)
        self.connected = asyncio.Event()
        #: Why the worker refused this hub, or this hub the worker (another protocol version).
        self.refused = ""
        self.refusal = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.connections = 0
        #: The worker's last load report (None: none yet), and when it came (time.monotonic).
        self.last_load: hub_worker.Load | None = None
        self.load_at = 0.0
        #: Whether a frame came since the last silence check.
        self.heard = False
        #: The worker is lost (see the module's docstring) and has not been reached since.
        self.lost = False

    async def start(self, timeout: float = 10.0) -> None:
        """Connect; raises :class:`hub_worker.ProtocolError` for a worker of another version."""
        self.task = asyncio.get_running_loop().create_task(
            self._run(), name=f"worker-{self.address}"
        )
        waits = [asyncio.ensure_future(e.wait()) for e in (self.connected, self.refusal)]
        try:
            await asyncio.wait_for(
                asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED), timeout
            )
        finally:
            for wait in waits:
                wait.cancel()
        if not self.connected.is_set():
            await self.stop()
            raise hub_worker.ProtocolError(self.refused)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.writer is not None:
            self.writer.close()

    async def _run(self) -> None:
        """Connect, serve, and again, for as long as the hub runs. An error of the hub's own
        (on a frame, or in a callback) is logged and ends the connection, never the link:
        else the hub would stay without the worker, and say nothing, until restarted."""
        backoff = 0.05
        while True:
            try:
                if await self._connection():
                    backoff = 0.05
                    continue
                self._lose()
            except Exception:  # noqa: BLE001 - a bug of ours: logged with its traceback
                records.exception("worker %s: the hub failed on its connection", self.address)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _connection(self) -> bool:
        """Connect and serve until the connection ends. True: it was agreed on and then closed
        (try again at once); False: the worker could not be reached or used, or went silent."""
        try:
            connecting = addresses.connect(self.address, self.context)
            reader, writer = await asyncio.wait_for(connecting, self.timeout)
        except OSError as exc:
            self.log(self._unreachable(exc))
            return False
        agreed = False
        try:
            agreed = await asyncio.wait_for(self._agree(reader, writer), self.timeout)
            if agreed:
                await self._serve(reader, writer)
        except WorkerSilent as exc:
            self.log(str(exc))
            writer.transport.abort()
            return False
        except (asyncio.IncompleteReadError, ConnectionError, framing.FrameError):
            if not agreed and addresses.unix_path(self.address) is None:
                self.log(self._unreachable(ConnectionResetError()))
        except (ssl.SSLError, TimeoutError) as exc:
            self.log(self._unreachable(exc))
        except hub_worker.ProtocolError as exc:
            self.log(f"dropped the connection to worker {self.address}: {exc}")
        finally:
            self._disconnected(writer)
        return agreed

    def _lose(self) -> None:
        """The worker is lost: say so once per outage."""
        if not self.lost:
            self.lost = True
            self.log(f"lost worker {self.address}: its kernels are reported dead")
            if self.on_lost is not None:
                self.on_lost(self)

    def _unreachable(self, failure: OSError) -> str:
        """Why this hub cannot use the worker; a closed TCP connection before the worker
        answered is most likely a certificate the worker refused."""
        if isinstance(failure, (ssl.SSLError, ConnectionResetError)):
            host = self.address.rpartition(":")[0]
            return f"no TLS with worker {self.address}: {explain(failure, 'worker', host)}"
        if isinstance(failure, TimeoutError):
            return f"worker {self.address} unreachable: no answer within {self.timeout:g} s"
        return f"worker {self.address} unreachable: {failure}"

    async def _agree(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """The handshake: say this hub's version; the worker's must be the same."""
        writer.write(framing.encode(hub_worker.hello()))
        refused = hub_worker.mismatch(
            await framing.read_frame(reader), f"worker at {self.address}", "hub"
        )
        self.refused = refused or ""
        if refused is not None:
            self.log(f"not using worker {self.address}: {refused}")
            self.refusal.set()
            return False
        self.refusal.clear()
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.out = framing.BatchedWriter(writer)
        for kernel_id, channels in self.channels.items():
            self.send(hub_worker.attach(kernel_id, len(channels.clients)))
        returned = self.connections > 0 or self.lost
        self.lost = False
        if self.task is not None and returned and self.on_reconnected is not None:
            self.on_reconnected(self)
        self.connections += 1
        self.connected.set()
        listening = asyncio.ensure_future(self._listen(reader))
        watching = asyncio.ensure_future(self._watch())
        try:
            await asyncio.wait({listening, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            listening.cancel()
            watching.cancel()
        if listening.done():
            listening.result()  # raises why the connection ended
        raise WorkerSilent(f"worker {self.address} said nothing for {self.silence_limit():g} s")

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        while True:
            frame = await framing.read_frame(reader)
            self.heard = True
            hub_worker.read_worker_frame(frame, self)

    def silence_limit(self) -> float:
        """Seconds without a word after which the worker is lost: ``timeout``, but never less
        than the reports the worker may miss (its host's settings may differ from ours)."""
        report = self.last_load
        return max(self.timeout, MISSED_REPORTS * report.interval) if report else self.timeout

    async def _watch(self) -> None:
        """Return once the worker has said nothing through :data:`SILENCE_CHECKS` checks."""
        silent = 0
        self.heard = False
        while silent < SILENCE_CHECKS:
            await asyncio.sleep(self.silence_limit() / SILENCE_CHECKS)
            silent = 0 if self.heard else silent + 1
            self.heard = False

    def _disconnected(self, writer: asyncio.StreamWriter) -> None:
        self.connected.clear()
        self.last_load = None
        self.writer = None
        self.out = None
        writer.close()
        for future in self.pending.values():
            if not future.done():
                future.set_exception(
                    WorkerError(502, f"lost the connection to worker {self.address}")
                )
        self.pending.clear()

    @staticmethod
    def log(text: str) -> None:
        records.warning(text)

    # -- frames from the worker (hub_worker.WorkerFrames) ---------------------------------
    def kernel_output(
        self, kernel_id: str, seq: int, channel: str, data: bytes, state: str | None
    ) -> None:
        channels = self.channels.get(kernel_id)
        if channels is not None:
            channels.put(seq, channel, data, state)
        else:
            self.send(hub_worker.ack(kernel_id, len(data)))

    def reply(self, req: int, answer: Any) -> None:
        future = self.pending.pop(req, None)
        if future is not None and not future.done():
            future.set_result(answer)

    def failure(self, req: int, status: int, message: str) -> None:
        future = self.pending.pop(req, None)
        if future is not None and not future.done():
            future.set_exception(WorkerError(status, message))

    def session(self, kernel_id: str, session_id: str) -> None:
        channels = self.channels.get(kernel_id)
        if channels is not None:
            channels.session_id = session_id

    def ended(self, kernel_id: str, reason: str, told: bool) -> None:
        self.on_ended(kernel_id, reason, told)

    def load(self, report: hub_worker.Load) -> None:
        self.last_load = report
        self.load_at = time.monotonic()

    # -- requests -------------------------------------------------------------------------
    def send(self, frame: list[Any]) -> None:
        if self.out is not None:
            self.out.send(frame)

    async def request(self, asked: hub_worker.Request, timeout: float = 30.0) -> Any:
        if not self.connected.is_set():
            raise WorkerError(503, f"worker {self.address} is not connected")
        req = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[req] = future
        self.send(hub_worker.request(req, asked))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            what = type(asked).__name__
            message = f"worker {self.address} did not answer {what} within {timeout:g} s"
            raise WorkerError(504, message) from None
        finally:
            self.pending.pop(req, None)

    async def start_kernel(
        self, kernel_id: str, name: str, options: Mapping[str, float] | None = None
    ) -> hub_worker.KernelModel:
        """Start a kernel; ``options``: its own idle_timeout and max_lifetime (seconds)."""
        own = hub_worker.kernel_options(options) if options else None
        model: hub_worker.KernelModel = await self.request(hub_worker.Start(kernel_id, name, own))
        return model

    async def restart_kernel(self, kernel_id: str) -> hub_worker.KernelModel:
        model: hub_worker.KernelModel = await self.request(
            hub_worker.Shutdown(kernel_id, restart=True)
        )
        return model

    async def shutdown_kernel(self, kernel_id: str) -> None:
        await self.request(hub_worker.Shutdown(kernel_id, restart=False))

    async def interrupt_kernel(self, kernel_id: str) -> None:
        await self.request(hub_worker.Interrupt(kernel_id))

    async def list_kernels(self, ids: list[str] | None = None) -> list[hub_worker.KernelModel]:
        """The worker's kernels among ``ids``; all of them without."""
        models: list[hub_worker.KernelModel] = await self.request(hub_worker.ListKernels(ids))
        return models

    async def set_spares(self, sessions: int) -> None:
        """Have the worker keep ``sessions`` spare sessions ready per kernel kind from now on."""
        await self.request(hub_worker.SetSpares(sessions))

    async def replay(self, kernel_id: str, after: int) -> hub_worker.Missed:
        missed: hub_worker.Missed = await self.request(hub_worker.Replay(kernel_id, after))
        return missed

    # -- the kernels' clients on this hub -------------------------------------------------
    def channels_for(self, kernel_id: str) -> KernelChannels:
        """The kernel's client set on this hub, which attaches to the worker with its first
        client and tells it each change in their number."""
        channels = self.channels.get(kernel_id)
        if channels is None:
            channels = KernelChannels(
                kernel_id,
                lambda n: self.send(hub_worker.ack(kernel_id, n)),
                lambda n: self.send(hub_worker.attach(kernel_id, n)),
                self.traffic,
            )
            self.channels[kernel_id] = channels
        return channels

    def release(self, kernel_id: str) -> None:
        """Detach when the kernel's last client on this hub has gone."""
        channels = self.channels.get(kernel_id)
        if channels is not None and not channels.clients:
            del self.channels[kernel_id]
            channels.close()
            self.send(hub_worker.detach(kernel_id))

    def forward(self, kernel_id: str, channel: str, msg_type: str, data: bytes) -> None:
        self.send(hub_worker.client_message(kernel_id, channel, msg_type, data))
