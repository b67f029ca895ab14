"""The hub's connections to workers: one multiplexed connection per worker (mutual TLS, or
a Unix socket for a worker on the same host; see :mod:`cellhub.protocol.addresses`).

Each request of the protocol (:mod:`cellhub.protocol.hub_worker`) is a typed method of
:class:`WorkerLink`; a worker that speaks another protocol version is not used, and
:meth:`WorkerLink.start` says why. The link keeps the worker's last load report, by which
:mod:`cellhub.hub.placement` chooses a worker for each new kernel.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from cellhub.deploy.handshake_failures import explain
from cellhub.hub.channels import KernelChannels
from cellhub.protocol import addresses, framing, hub_worker


class WorkerError(Exception):
    """A worker refused a request; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class WorkerLink:
    """Talks to one worker: requests with replies, client messages, and kernel output.

    ``on_ended(kernel_id, reason, told)`` is called when the worker reports a kernel gone;
    ``told``: the worker has told the kernel's clients already.
    """

    def __init__(
        self,
        address: str,
        context: ssl.SSLContext,
        on_ended: Callable[[str, str, bool], None],
        on_reconnected: Callable[[WorkerLink], None] | None = None,
    ) -> None:
        self.address = address
        self.context = context
        self.on_ended = on_ended
        self.on_reconnected = on_reconnected
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
        backoff = 0.05
        while True:
            try:
                reader, writer = await addresses.connect(self.address, self.context)
            except OSError as exc:
                self.log(self._unreachable(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            agreed = False
            try:
                agreed = await self._agree(reader, writer)
                if agreed:
                    backoff = 0.05
                    await self._serve(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError, framing.FrameError):
                if not agreed and addresses.unix_path(self.address) is None:
                    self.log(self._unreachable(ConnectionResetError()))
            except ssl.SSLError as exc:
                self.log(self._unreachable(exc))
            except hub_worker.ProtocolError as exc:
                self.log(f"dropped the connection to worker {self.address}: {exc}")
            finally:
                self._disconnected(writer)
            if not agreed:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _unreachable(self, failure: OSError) -> str:
        """Why this hub cannot use the worker; a closed TCP connection before the worker
        answered is most likely a certificate the worker refused."""
        if isinstance(failure, (ssl.SSLError, ConnectionResetError)):
            host = self.address.rpartition(":")[0]
            return f"no TLS with worker {self.address}: {explain(failure, 'worker', host)}"
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
        if self.task is not None and self.connections and self.on_reconnected is not None:
            self.on_reconnected(self)
        self.connections += 1
        self.connected.set()
        while True:
            hub_worker.read_worker_frame(await framing.read_frame(reader), self)

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
        print(f"cellhub-hub: {text}", file=sys.stderr, flush=True)

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
