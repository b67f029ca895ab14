"""The hub's side of one kernel: its WebSocket clients and the output flowing to them.

Output from the worker is queued per kernel and sent by one task per kernel, so a
slow client delays only its own kernel. Bytes are acknowledged to the worker once
they are handed to the clients' sockets; that credit is what lets the session go
on printing (see ``cellhub.worker.kernels``).

Each message carries its per-kernel sequence number as the top-level key
``cellhub_seq`` (in ``metadata`` for clients of the v1 subprotocol, whose frames have
no top level: :mod:`cellhub.protocol.wsv1`). A client that reconnects with
``?resume=<last seq seen>`` first gets what it missed from the worker's replay buffer,
then the live stream, with no message twice and none out of order.

A reply (shell, control, stdin) goes to the client that sent its request, as Jupyter Server's
per-connection sockets deliver it; iopub goes to every client. A client that sent the request
through another hub, or through a socket that has since dropped, is recognised by the
``?session_id=`` its socket was opened with (Jupyter's own name for one client across its
reconnections), matched against the request's ``session``; a reply no client here sent or can
be recognised as sending goes to the clients that gave no ``session_id``, which cannot be told
apart. A hub of several serving one kernel thus passes each reply to its requester only.

Each client gets the framing it negotiated: JSON text frames and Jupyter's binary
framing for messages with buffers (no subprotocol), or v1 binary frames. A message is
encoded once per framing, not once per client.

What the hub relays is counted in a :class:`Traffic` that every kernel's channels of one hub
share: messages and bytes to clients, and the round trip of each execution (its
``execute_request`` passing to the kernel, to its ``execute_reply`` passing back), which
hub/metrics.py exposes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol

import orjson

from cellhub.protocol import jupyter, wsbinary, wsv1
from cellhub.protocol.hub_worker import Missed

REPLY_ROUTES = 4096
#: Bytes delivered that are acknowledged at once: a quarter of the smallest flow window
#: allowed, so the worker never waits for an acknowledgement that is held back.
ACK_BATCH = 16 * 1024
#: Seconds a smaller acknowledgement waits for more output to join it (one frame to
#: the worker per few executions instead of one per message).
ACK_DELAY = 0.05

Entry = tuple[int, str, bytes]
#: The channel of the queue entry after a kernel's last message: close the clients.
CLOSE = ""
#: WebSocket close reasons are at most 123 bytes.
CLOSE_REASON_BYTES = 123


class Traffic:
    """What one hub relayed to its clients. Plain totals, read when metrics are scraped, so
    that relaying costs an addition and this module knows nothing of Prometheus;
    ``round_trip`` is told each execution's seconds (by default, nobody listens)."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.round_trip: Callable[[float], None] = lambda seconds: None


class Client(Protocol):
    """One attached WebSocket connection."""

    async def send_text(self, data: str) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


#: Sessions mark messages whose ``buffers`` hold (base64) binary data with this key.
BINARY_MARK = b'"cellhub_binary":true'


def for_client(seq: int, data: bytes, protocol: str = "") -> str | bytes:
    """What to send: JSON text, or Jupyter's binary framing for a message with buffers
    (as text if its buffers cannot be framed: a session's output is not to be trusted);
    with the v1 ``protocol``, a v1 frame (``seq`` 0: the hub's own, unnumbered)."""
    if protocol == wsv1.SUBPROTOCOL:
        return v1_frame(seq, data)
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


def v1_frame(seq: int, data: bytes) -> bytes:
    """A message as a v1 frame; one whose JSON is not an object becomes an iopub error."""
    try:
        msg = orjson.loads(data)
        if isinstance(msg, dict):
            msg.pop("cellhub_binary", None)
            return wsv1.from_json(msg, seq)
    except (orjson.JSONDecodeError, wsv1.V1FrameError):
        pass
    content = jupyter.error_content("InvalidMessage", "the kernel sent a malformed message")
    return wsv1.from_json(orjson.loads(jupyter.message("iopub", "error", content, None, "")))


def numbered(seq: int, data: bytes) -> str:
    """The message as text with ``cellhub_seq`` spliced in (the JSON is never re-encoded)."""
    text = data.decode("utf-8", "replace")
    if seq <= 0 or not text.startswith("{"):  # the hub's own messages carry no number
        return text
    return f'{{"cellhub_seq":{seq},{text[1:]}' if len(text) > 2 else text


def lost_notice(lost: int, session: str) -> bytes:
    text = (
        f"cellhub: {lost} output message(s) of this kernel were lost while this client was "
        "away: they no longer fit in the worker's replay buffer (setting replay_buffer).\n"
    )
    content = {"name": "stderr", "text": text}
    return jupyter.message("iopub", "stream", content, None, session)


def parent_of(data: bytes) -> tuple[str, str] | None:
    """The ``msg_id`` and ``session`` of the request a message answers (None: no request)."""
    try:
        parent = orjson.loads(data).get("parent_header", {})
        msg_id, session = parent.get("msg_id"), parent.get("session", "")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    if not isinstance(msg_id, str) or not msg_id:
        return None
    return msg_id, session if isinstance(session, str) else ""


class KernelChannels:
    """``ack(nbytes)``: output handed to the clients; ``counted(n)``: this hub now has ``n``
    clients of the kernel (more than none; :meth:`WorkerLink.release` handles none);
    ``traffic``: the hub's totals, which this kernel's relaying adds to."""

    def __init__(
        self,
        kernel_id: str,
        ack: Callable[[int], None],
        counted: Callable[[int], None],
        traffic: Traffic | None = None,
    ) -> None:
        self.kernel_id = kernel_id
        self.ack = ack
        self.counted = counted
        self.traffic = traffic or Traffic()
        #: When each execute_request still unanswered passed to the kernel (time.monotonic).
        self.executions: OrderedDict[str, float] = OrderedDict()
        self.clients: list[Client] = []
        #: Each client's subprotocol ("" for none).
        self.protocols: dict[Client, str] = {}
        #: Each client's ``session_id`` ("" when its socket gave none).
        self.sessions: dict[Client, str] = {}
        self.catching_up: dict[Client, list[Entry]] = {}
        self.queue: asyncio.Queue[tuple[int, str, bytes]] = asyncio.Queue()
        self.routes: OrderedDict[str, Client] = OrderedDict()
        self.state = "idle"
        #: The session id of the kernel's current session (the worker tells it).
        self.session_id = ""
        self.unacked = 0
        self.ack_timer: asyncio.TimerHandle | None = None
        self.task = asyncio.get_running_loop().create_task(
            self._deliver(), name=f"deliver-{kernel_id}"
        )

    def add(self, client: Client, protocol: str = "", session: str = "") -> None:
        self.clients.append(client)
        self.protocols[client] = protocol
        self.sessions[client] = session
        self.counted(len(self.clients))

    def remove(self, client: Client) -> None:
        if client in self.clients:
            self.clients.remove(client)
            if self.clients:
                self.counted(len(self.clients))
        self.catching_up.pop(client, None)
        self.protocols.pop(client, None)
        self.sessions.pop(client, None)

    async def send_own(self, client: Client, data: bytes) -> None:
        """Send one client a message the hub made (unnumbered), in the client's framing."""
        await send(client, for_client(0, data, self.protocols.get(client, "")))

    async def resume(
        self,
        client: Client,
        after: int,
        replay: Callable[[int], Awaitable[Missed]],
        protocol: str = "",
        session: str = "",
    ) -> None:
        """Attach ``client`` and send it everything numbered above ``after`` that is addressed
        to it (every iopub message, the replies to its requests), then live output."""
        pending: list[Entry] = []
        self.catching_up[client] = pending
        self.add(client, protocol, session)
        missed = await replay(after)
        if missed["lost"]:
            await self.send_own(client, lost_notice(int(missed["lost"]), self.session_id))
        last = after
        for seq, channel, data in missed["messages"]:
            if channel == "iopub" or self._addressed(client, parent_of(data)):
                await send(client, for_client(seq, data, protocol))
            last = seq
        while pending:
            seq, _channel, data = pending.pop(0)
            if seq > last:
                await send(client, for_client(seq, data, protocol))
                last = seq
        self.catching_up.pop(client, None)

    def route_reply(self, msg_id: str, client: Client, msg_type: str = "") -> None:
        """Remember who sent a request, so that its reply goes back to that client only,
        and when an execution was asked, to time its round trip."""
        self.routes[msg_id] = client
        if len(self.routes) > REPLY_ROUTES:
            self.routes.popitem(last=False)
        if msg_type == "execute_request":
            self.executions[msg_id] = time.monotonic()
            if len(self.executions) > REPLY_ROUTES:
                self.executions.popitem(last=False)

    def _time_execution(self, channel: str, data: bytes) -> None:
        """A shell message whose parent is a timed execute_request is its execute_reply (the
        only shell reply to it): the round trip is over."""
        if channel != "shell" or not self.executions:
            return
        parent = parent_of(data)
        asked = self.executions.pop(parent[0], None) if parent is not None else None
        if asked is not None:
            self.traffic.round_trip(time.monotonic() - asked)

    def kernel_gone(self, reason: str, announce: bool) -> None:
        """The kernel ended: tell the clients when ``announce`` (the worker could not), unless
        the kernel's own ``dead`` status already did; once its last messages are out, close
        their sockets (normal closure, the reason as close reason), as nothing more will come."""
        if announce and self.state != "dead":
            dead = jupyter.status("dead", self.session_id, reason=reason)
            self.put(0, "iopub", dead, "dead")
        self.state = "dead"
        self.put(0, CLOSE, reason.encode()[:CLOSE_REASON_BYTES], None)

    def put(self, seq: int, channel: str, data: bytes, state: str | None) -> None:
        if state is not None:
            self.state = state
        self.queue.put_nowait((seq, channel, data))

    def close(self) -> None:
        self.task.cancel()
        if self.ack_timer is not None:
            self.ack_timer.cancel()

    def _recipients(self, channel: str, data: bytes) -> list[Client]:
        if channel == "iopub":
            return self.clients
        parent = parent_of(data)
        return [client for client in self.clients if self._addressed(client, parent)]

    def _addressed(self, client: Client, parent: tuple[str, str] | None) -> bool:
        """Whether a reply to request ``parent`` is for ``client`` (see the module's contract)."""
        if parent is None:
            return True
        msg_id, session = parent
        requester = self.routes.get(msg_id)
        if requester is not None and requester in self.clients:
            return requester is client
        return self.sessions.get(client, "") in ("", session)

    def _acknowledge(self) -> None:
        if self.ack_timer is not None:
            self.ack_timer.cancel()
            self.ack_timer = None
        if self.unacked:
            self.ack(self.unacked)
            self.unacked = 0

    async def _close_all(self, reason: str) -> None:
        for client in list(self.clients):
            self.remove(client)
            with contextlib.suppress(Exception):  # already gone: nothing to close
                await client.close(1000, reason)

    async def _deliver(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            seq, channel, data = await self.queue.get()
            if channel == CLOSE:
                await self._close_all(data.decode("utf-8", "ignore"))
                continue
            payloads: dict[str, str | bytes] = {}
            for client in list(self._recipients(channel, data)):
                pending = self.catching_up.get(client)
                if pending is not None:
                    pending.append((seq, channel, data))
                    continue
                protocol = self.protocols.get(client, "")
                payload = payloads.get(protocol)
                if payload is None:
                    payload = payloads[protocol] = for_client(seq, data, protocol)
                try:
                    await send(client, payload)
                except Exception:  # noqa: BLE001 - a broken client must not stop the others
                    self.remove(client)
                    continue
                self.traffic.messages += 1
                self.traffic.bytes += len(data)
            self._time_execution(channel, data)
            self.unacked += len(data)
            if self.unacked >= ACK_BATCH:
                self._acknowledge()
            elif self.ack_timer is None:
                self.ack_timer = loop.call_later(ACK_DELAY, self._acknowledge)
