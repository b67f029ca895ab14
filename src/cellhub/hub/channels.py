"""The hub's side of one kernel: its WebSocket clients and the output flowing to them.

Output from the worker is queued per kernel and sent by one task per kernel, so a
slow client delays only its own kernel. Bytes are acknowledged to the worker once
they are handed to the clients' sockets; that credit is what lets the session go
on printing (see ``cellhub.worker.kernels``).

Each message carries its per-kernel sequence number as the top-level key
``cellhub_seq``. A client that reconnects with ``?resume=<last seq seen>`` first
gets what it missed from the worker's replay buffer, then the live stream, with
no message twice and none out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson

from cellhub.protocol import jupyter, wsbinary

REPLY_ROUTES = 4096
#: Bytes delivered that are acknowledged at once: a quarter of the smallest flow window
#: allowed, so the worker never waits for an acknowledgement that is held back.
ACK_BATCH = 16 * 1024
#: Seconds a smaller acknowledgement waits for more output to join it (one frame to
#: the worker per few executions instead of one per message).
ACK_DELAY = 0.05

Entry = tuple[int, str, bytes]


class Client(Protocol):
    """One attached WebSocket connection."""

    async def send_text(self, data: str) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...


#: Sessions mark messages whose ``buffers`` hold (base64) binary data with this key.
BINARY_MARK = b'"cellhub_binary":true'


def for_client(seq: int, data: bytes) -> str | bytes:
    """What to send: JSON text, or Jupyter's binary framing for a message with buffers
    (as text if its buffers cannot be framed: a session's output is not to be trusted)."""
    if BINARY_MARK in data:
        with contextlib.suppress(orjson.JSONDecodeError, wsbinary.BinaryFrameError):
            msg = orjson.loads(data)
            if isinstance(msg, dict) and msg.pop("cellhub_binary", False) and msg.get("buffers"):
                msg["cellhub_seq"] = seq
                return wsbinary.from_json_with_buffers(msg)
    return numbered(seq, data)


async def send(client: Client, payload: str | bytes) -> None:
    if isinstance(payload, bytes):
        await client.send_bytes(payload)
    else:
        await client.send_text(payload)


def numbered(seq: int, data: bytes) -> str:
    """The message as text with ``cellhub_seq`` spliced in (the JSON is never re-encoded)."""
    text = data.decode("utf-8", "replace")
    if seq <= 0 or not text.startswith("{"):  # the hub's own messages carry no number
        return text
    return f'{{"cellhub_seq":{seq},{text[1:]}' if len(text) > 2 else text


def lost_notice(lost: int) -> str:
    text = (
        f"cellhub: {lost} output message(s) of this kernel were lost while this client was "
        "away: they no longer fit in the worker's replay buffer (setting replay_buffer).\n"
    )
    return jupyter.message("iopub", "stream", {"name": "stderr", "text": text}).decode()


class KernelChannels:
    def __init__(self, kernel_id: str, ack: Callable[[int], None]) -> None:
        self.kernel_id = kernel_id
        self.ack = ack
        self.clients: list[Client] = []
        self.catching_up: dict[Client, list[Entry]] = {}
        self.queue: asyncio.Queue[tuple[int, str, bytes]] = asyncio.Queue()
        self.routes: OrderedDict[str, Client] = OrderedDict()
        self.state = "idle"
        self.unacked = 0
        self.ack_timer: asyncio.TimerHandle | None = None
        self.task = asyncio.get_running_loop().create_task(
            self._deliver(), name=f"deliver-{kernel_id}"
        )

    def add(self, client: Client) -> None:
        self.clients.append(client)

    def remove(self, client: Client) -> None:
        if client in self.clients:
            self.clients.remove(client)
        self.catching_up.pop(client, None)

    async def resume(
        self, client: Client, after: int, replay: Callable[[int], Awaitable[dict[str, Any]]]
    ) -> None:
        """Attach ``client`` and send it everything numbered above ``after``, then live output."""
        pending: list[Entry] = []
        self.catching_up[client] = pending
        self.clients.append(client)
        missed = await replay(after)
        if missed["lost"]:
            await client.send_text(lost_notice(int(missed["lost"])))
        last = after
        for seq, _channel, data in missed["messages"]:
            await send(client, for_client(seq, data))
            last = seq
        while pending:
            seq, _channel, data = pending.pop(0)
            if seq > last:
                await send(client, for_client(seq, data))
                last = seq
        self.catching_up.pop(client, None)

    def route_reply(self, msg_id: str, client: Client) -> None:
        """Remember who sent a request, so that its reply goes back to that client only."""
        self.routes[msg_id] = client
        if len(self.routes) > REPLY_ROUTES:
            self.routes.popitem(last=False)

    def kernel_gone(self, reason: str) -> None:
        """Tell the clients, unless the kernel's own ``dead`` status already did."""
        if self.state != "dead":
            self.put(0, "iopub", jupyter.status("dead", reason=reason), "dead")

    def put(self, seq: int, channel: str, data: bytes, state: str | None) -> None:
        if state is not None:
            self.state = state
        self.queue.put_nowait((seq, channel, data))

    def close(self) -> None:
        self.task.cancel()
        if self.ack_timer is not None:
            self.ack_timer.cancel()

    def _recipients(self, channel: str, data: bytes) -> list[Client]:
        if channel == "iopub" or len(self.clients) < 2:
            return self.clients
        try:
            parent = orjson.loads(data).get("parent_header", {}).get("msg_id")
        except (orjson.JSONDecodeError, AttributeError):
            parent = None
        client = self.routes.get(parent) if isinstance(parent, str) else None
        return [client] if client in self.clients else self.clients

    def _acknowledge(self) -> None:
        if self.ack_timer is not None:
            self.ack_timer.cancel()
            self.ack_timer = None
        if self.unacked:
            self.ack(self.unacked)
            self.unacked = 0

    async def _deliver(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            seq, channel, data = await self.queue.get()
            payload = for_client(seq, data)
            for client in list(self._recipients(channel, data)):
                pending = self.catching_up.get(client)
                if pending is not None:
                    pending.append((seq, channel, data))
                    continue
                try:
                    await send(client, payload)
                except Exception:  # noqa: BLE001 - a broken client must not stop the others
                    self.remove(client)
            self.unacked += len(data)
            if self.unacked >= ACK_BATCH:
                self._acknowledge()
            elif self.ack_timer is None:
                self.ack_timer = loop.call_later(ACK_DELAY, self._acknowledge)
