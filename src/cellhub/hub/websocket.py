"""The WebSocket bridge: Jupyter messages between a browser (or any client) and a kernel.

Where Jupyter Server closes the socket on a malformed message, we answer it — with
the request's error reply where the protocol has one, else an iopub ``error`` —
and keep the connection and the kernel working. A well-formed message of a type the
kernel does not know goes to the kernel, which answers it as ipykernel does (``busy``,
``idle``, no reply).

A client that offers Jupyter Server 2's ``v1.kernel.websocket.jupyter.org`` subprotocol
gets it (:mod:`cellhub.protocol.wsv1`): it sends and receives v1 binary frames (JSON text
frames from it are still accepted). A client that offers none gets JSON text frames and,
for messages with buffers, Jupyter's older binary framing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import JSONResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from cellhub.hub.auth import client_address, is_authenticated
from cellhub.hub.channels import KernelChannels
from cellhub.hub.kernels import KernelService, NoSuchKernel
from cellhub.hub.ratelimit import ClientBudget
from cellhub.hub.workers import WorkerLink
from cellhub.protocol import jupyter, wsbinary, wsv1


class InvalidMessage(Exception):
    def __init__(
        self, evalue: str, channel: str = "iopub", header: dict[str, Any] | None = None
    ) -> None:
        super().__init__(evalue)
        self.channel = channel
        self.header = header or {}


def parse_client_message(text: str) -> tuple[str, str, dict[str, Any]]:
    """Check a client's message; return its channel, msg_type and header."""
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage(f"message is not valid JSON: {exc}") from exc
    if not isinstance(msg, dict):
        raise InvalidMessage("message must be a JSON object")
    if not jupyter.fits_in_a_message(msg):
        raise InvalidMessage("message is nested too deeply")
    header = msg.get("header")
    if not isinstance(header, dict):
        raise InvalidMessage("message has no header object")
    msg_id, msg_type = header.get("msg_id"), header.get("msg_type")
    if not isinstance(msg_id, str) or not msg_id or not isinstance(msg_type, str) or not msg_type:
        raise InvalidMessage("header needs string fields msg_id and msg_type", header=header)
    channel = msg.get("channel") or "shell"
    if channel not in jupyter.CLIENT_CHANNELS:
        raise InvalidMessage(f"unknown channel {channel!r}", header=header)
    if not isinstance(msg.get("content", {}), dict):
        raise InvalidMessage("content must be a JSON object", channel, header)
    return channel, msg_type, header


def error_reply(exc: InvalidMessage, session: str) -> bytes:
    """The answer to a malformed message, in the kernel's ``session``."""
    reply = jupyter.reply_type(str(exc.header.get("msg_type", "")))
    content = jupyter.error_content("InvalidMessage", str(exc))
    if reply and exc.channel in jupyter.CLIENT_CHANNELS:
        return jupyter.message(exc.channel, reply, content, exc.header, session)
    return jupyter.message("iopub", "error", content, exc.header, session)


def negotiated(websocket: WebSocket) -> str:
    """The subprotocol to accept: v1 when offered (as Jupyter Server 2 chooses), else none."""
    offered = websocket.scope.get("subprotocols") or []
    return wsv1.SUBPROTOCOL if wsv1.SUBPROTOCOL in offered else ""


def as_json(event: Mapping[str, Any], protocol: str) -> str:
    """A client's frame as JSON text: text frames as they are, binary ones converted."""
    text = event.get("text")
    if text is not None:
        return str(text)
    frame = event.get("bytes") or b""
    try:
        if protocol == wsv1.SUBPROTOCOL:
            return wsv1.to_json_with_buffers(frame).decode()
        return wsbinary.to_json_with_buffers(frame).decode()
    except (wsbinary.BinaryFrameError, wsv1.V1FrameError) as exc:
        raise InvalidMessage(str(exc)) from exc


async def kernel_channels(websocket: WebSocket) -> None:
    if not is_authenticated(websocket, websocket.app.state.token):
        await websocket.close(code=1008)
        return
    kernels: KernelService = websocket.app.state.kernels
    kernel_id = websocket.path_params["kernel_id"]
    try:
        link = await kernels.locate(kernel_id)
    except NoSuchKernel:
        await websocket.send_denial_response(
            JSONResponse({"message": f"Kernel does not exist: {kernel_id}"}, status_code=404)
        )
        return
    resume = websocket.query_params.get("resume", "")
    protocol = negotiated(websocket)
    await websocket.accept(subprotocol=protocol or None)
    channels = link.channels_for(kernel_id)
    try:
        if resume.isdigit():
            await channels.resume(
                websocket,
                int(resume),
                lambda after: link.replay(kernel_id, after),
                protocol,
            )
        else:
            channels.add(websocket, protocol)
        await relay_client_messages(websocket, link, channels, protocol)
    finally:
        channels.remove(websocket)
        link.release(kernel_id)


async def relay_client_messages(
    websocket: WebSocket, link: WorkerLink, channels: KernelChannels, protocol: str
) -> None:
    """Check each client message and pass it to the kernel, or answer it with an error."""
    budget: ClientBudget = websocket.app.state.messages
    client = client_address(websocket)
    while True:
        event = await websocket.receive()
        if event["type"] == "websocket.disconnect":
            return
        wait = budget.take(client)
        if wait:
            await asyncio.sleep(wait)
        try:
            text = as_json(event, protocol)
            channel, msg_type, header = parse_client_message(text)
            if channels.state == "dead":
                raise InvalidMessage("the kernel is dead; restart it", channel, header)
        except InvalidMessage as exc:
            await channels.send_own(websocket, error_reply(exc, channels.session_id))
            continue
        channels.route_reply(header["msg_id"], websocket)
        link.forward(channels.kernel_id, channel, msg_type, text.encode())


ROUTES = [WebSocketRoute("/api/kernels/{kernel_id}/channels", kernel_channels)]
