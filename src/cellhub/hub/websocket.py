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

Who may connect the route table declares (hub/access.py); an anonymous client reaches only
its own kernels (hub/anonymous.py). The bridge reaches the kernel through the kernel service
(attach, replay, forward, detach), which alone knows the kernel's worker; the checks on a
client's message are the protocol's (:mod:`cellhub.protocol.jupyter`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from cellhub.hub.access import Access, Guarded
from cellhub.hub.auth import client_address
from cellhub.hub.channels import KernelChannels
from cellhub.hub.json_api import error
from cellhub.hub.kernels import KernelService, NoSuchKernel
from cellhub.hub.ownership import may_use_kernel
from cellhub.hub.ratelimit import ClientBudget
from cellhub.protocol import wsbinary, wsv1
from cellhub.protocol.jupyter import InvalidMessage, error_reply, parse_client_message


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
    kernels: KernelService = websocket.app.state.kernels
    kernel_id = websocket.path_params["kernel_id"]
    if not await may_use_kernel(websocket, kernel_id):
        await websocket.close(code=1008)
        return
    try:
        await kernels.locate(kernel_id)
    except NoSuchKernel:
        await websocket.send_denial_response(error(404, f"Kernel does not exist: {kernel_id}"))
        return
    resume = websocket.query_params.get("resume", "")
    session = websocket.query_params.get("session_id", "")
    protocol = negotiated(websocket)
    await websocket.accept(subprotocol=protocol or None)
    channels = await kernels.attach(kernel_id)
    try:
        if resume.isdigit():
            replay = functools.partial(kernels.replay, channels)
            await channels.resume(websocket, int(resume), replay, protocol, session)
        else:
            channels.add(websocket, protocol, session)
        await relay_client_messages(websocket, kernels, channels, protocol)
    finally:
        kernels.detach(channels, websocket)


async def relay_client_messages(
    websocket: WebSocket, kernels: KernelService, channels: KernelChannels, protocol: str
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
        channels.route_reply(header["msg_id"], websocket, msg_type)
        kernels.forward(channels, channel, msg_type, text.encode())


ROUTES = [
    Guarded(Access.ANONYMOUS, WebSocketRoute("/api/kernels/{kernel_id}/channels", kernel_channels))
]
