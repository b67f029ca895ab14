"""The hub's connections to workers: one multiplexed connection per worker (mutual TLS, or
a Unix socket for a worker on the same host; see :mod:`cellhub.protocol.addresses`)."""

from __future__ import annotations

import asyncio
import itertools
import ssl
import sys
from collections.abc import Callable
from typing import Any

from cellhub.hub.channels import KernelChannels
from cellhub.protocol import addresses, framing


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
        self.task: asyncio.Task[None] | None = None
        self.connections = 0

    async def start(self, timeout: float = 10.0) -> None:
        self.task = asyncio.get_running_loop().create_task(
            self._run(), name=f"worker-{self.address}"
        )
        await asyncio.wait_for(self.connected.wait(), timeout)

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
                print(
                    f"cellhub-hub: worker {self.address} unreachable: {exc}",
                    file=sys.stderr,
                    flush=True,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.05
            self.writer = writer
            self.out = framing.BatchedWriter(writer)
            for kernel_id in self.channels:
                self.send(["attach", kernel_id])
            if self.task is not None and self.connections and self.on_reconnected is not None:
                self.on_reconnected(self)
            self.connections += 1
            self.connected.set()
            try:
                await self._read(reader)
            except (asyncio.IncompleteReadError, ConnectionError, framing.FrameError, ssl.SSLError):
                pass
            finally:
                self.connected.clear()
                self.writer = None
                self.out = None
                writer.close()
                for future in self.pending.values():
                    if not future.done():
                        future.set_exception(
                            WorkerError(502, f"lost the connection to worker {self.address}")
                        )
                self.pending.clear()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            frame = await framing.read_frame(reader)
            op = frame[0]
            if op == "out":
                _, kernel_id, seq, channel, _msg_type, data, state = frame
                channels = self.channels.get(kernel_id)
                if channels is not None:
                    channels.put(seq, channel, data, state)
                else:
                    self.send(["ack", kernel_id, len(data)])
            elif op == "reply":
                _, req, ok, payload = frame
                future = self.pending.pop(req, None)
                if future is not None and not future.done():
                    if ok:
                        future.set_result(payload)
                    else:
                        future.set_exception(
                            WorkerError(int(payload["status"]), str(payload["message"]))
                        )
            elif op == "session":
                channels = self.channels.get(frame[1])
                if channels is not None:
                    channels.session_id = frame[2]
            elif op == "ended":
                self.on_ended(frame[1], frame[2], bool(frame[3]))

    def send(self, frame: list[Any]) -> None:
        if self.out is not None:
            self.out.send(frame)

    async def request(self, op: str, *args: Any, timeout: float = 30.0) -> Any:
        if not self.connected.is_set():
            raise WorkerError(503, f"worker {self.address} is not connected")
        req = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[req] = future
        self.send([op, req, *args])
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.pending.pop(req, None)

    def channels_for(self, kernel_id: str) -> KernelChannels:
        """The kernel's client set on this hub, attaching to the worker on first use."""
        channels = self.channels.get(kernel_id)
        if channels is None:
            channels = KernelChannels(kernel_id, lambda n: self.send(["ack", kernel_id, n]))
            self.channels[kernel_id] = channels
            self.send(["attach", kernel_id])
        return channels

    def release(self, kernel_id: str) -> None:
        """Detach when the kernel's last client on this hub has gone."""
        channels = self.channels.get(kernel_id)
        if channels is not None and not channels.clients:
            del self.channels[kernel_id]
            channels.close()
            self.send(["detach", kernel_id])

    def forward(self, kernel_id: str, channel: str, msg_type: str, data: bytes) -> None:
        self.send(["msg", kernel_id, channel, msg_type, data])
