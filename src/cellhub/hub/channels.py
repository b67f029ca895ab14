"""The hub's side of one kernel: its WebSocket clients and the output flowing to them.

Output from the worker is queued per kernel and sent by one task per kernel, so a
slow client delays only its own kernel. Bytes are acknowledged to the worker once
they are handed to the clients' sockets; that credit is what lets the session go
on printing (see ``cellhub.worker.kernels``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import orjson

REPLY_ROUTES = 4096
#: Acknowledge at least this often while output streams (and whenever the queue drains).
ACK_BATCH = 256 * 1024


class Client(Protocol):
    """One attached WebSocket connection."""

    async def send_text(self, data: str) -> None: ...


class KernelChannels:
    def __init__(self, kernel_id: str, ack: Callable[[int], None]) -> None:
        self.kernel_id = kernel_id
        self.ack = ack
        self.clients: list[Client] = []
        self.queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self.routes: OrderedDict[str, Client] = OrderedDict()
        self.state = "idle"
        self.task = asyncio.get_running_loop().create_task(
            self._deliver(), name=f"deliver-{kernel_id}"
        )

    def add(self, client: Client) -> None:
        self.clients.append(client)

    def remove(self, client: Client) -> None:
        if client in self.clients:
            self.clients.remove(client)

    def route_reply(self, msg_id: str, client: Client) -> None:
        """Remember who sent a request, so that its reply goes back to that client only."""
        self.routes[msg_id] = client
        if len(self.routes) > REPLY_ROUTES:
            self.routes.popitem(last=False)

    def put(self, channel: str, data: bytes, state: str | None) -> None:
        if state is not None:
            self.state = state
        self.queue.put_nowait((channel, data))

    def close(self) -> None:
        self.task.cancel()

    def _recipients(self, channel: str, data: bytes) -> list[Client]:
        if channel == "iopub" or len(self.clients) < 2:
            return self.clients
        try:
            parent = orjson.loads(data).get("parent_header", {}).get("msg_id")
        except (orjson.JSONDecodeError, AttributeError):
            parent = None
        client = self.routes.get(parent) if isinstance(parent, str) else None
        return [client] if client in self.clients else self.clients

    async def _deliver(self) -> None:
        unacked = 0
        while True:
            channel, data = await self.queue.get()
            text = data.decode("utf-8", "replace")
            for client in list(self._recipients(channel, data)):
                try:
                    await client.send_text(text)
                except Exception:
                    self.remove(client)
            unacked += len(data)
            if unacked >= ACK_BATCH or self.queue.empty():
                self.ack(unacked)
                unacked = 0
