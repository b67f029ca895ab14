"""A client of a kernel's channels WebSocket, as any script would write one: the one that
cellhub's tests, its benchmark and its examples share.

It speaks only what every Jupyter server understands, Jupyter 5.3 messages as JSON text
frames on ``WS /api/kernels/{id}/channels`` with the token in ``?token=``, and needs nothing
but the ``websockets`` package; so what the tests prove holds for any client, and the
benchmark sends cellhub and Jupyter Server the same bytes. REST calls stay with the caller
(the tests and the benchmark use httpx, the example urllib).

Contract: :meth:`KernelSocket.answer` yields the messages answering one request, its iopub
messages and its reply, and stops once it has seen both the reply and the final ``status:
idle``; messages answering anything else go to :meth:`KernelSocket.unrelated`. It never
times out by itself: a caller bounds it with ``asyncio.timeout`` around the whole answer.
Subclasses change the framing by overriding ``encode`` and ``decode``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any, Self

from websockets.asyncio.client import ClientConnection, connect

Message = dict[str, Any]


def request_message(
    msg_type: str, content: dict[str, Any], channel: str = "shell", *, session: str, username: str
) -> Message:
    """A request as a browser's Jupyter client sends it over the WebSocket."""
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "session": session,
            "username": username,
            "date": dt.datetime.now(dt.UTC).isoformat(),
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "buffers": [],
        "channel": channel,
    }


def execute_content(code: str, **overrides: Any) -> dict[str, Any]:
    """An ``execute_request``'s content with the values JupyterLab sends for a cell."""
    return {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
        **overrides,
    }


def channels_url(base_url: str, token: str, kernel_id: str, session: str | None = None) -> str:
    ws_base = "ws" + base_url.rstrip("/").removeprefix("http")
    query = f"session_id={session}&token={token}" if session else f"token={token}"
    return f"{ws_base}/api/kernels/{kernel_id}/channels?{query}"


class KernelSocket:
    """One WebSocket to one kernel."""

    #: Seconds ``recv()`` waits when not told (``answer`` is bounded by its caller instead);
    #: None waits as long as it takes.
    recv_timeout: float | None = None

    def __init__(self, ws: ClientConnection, session: str = "") -> None:
        self.ws = ws
        #: The ``session_id`` the socket was opened with ("" if none was given).
        self.session = session

    @classmethod
    async def connect(
        cls, base_url: str, token: str, kernel_id: str, session: str | None = None, **options: Any
    ) -> Self:
        """Open the socket; ``options`` go to ``websockets.connect`` (``max_size`` is unlimited)."""
        options.setdefault("max_size", None)
        ws = await connect(channels_url(base_url, token, kernel_id, session), **options)
        return cls(ws, session or "")

    def encode(self, msg: Message) -> str | bytes:
        return json.dumps(msg)

    def decode(self, frame: str | bytes) -> Message:
        message: Message = json.loads(frame)
        return message

    async def send(self, msg: Message) -> str:
        """Send ``msg``; its ``msg_id``, which the answer's messages carry as their parent."""
        await self.ws.send(self.encode(msg))
        return str(msg["header"]["msg_id"])

    async def recv(self, timeout: float | None = None) -> Message:
        timeout = self.recv_timeout if timeout is None else timeout
        if timeout is None:
            return self.decode(await self.ws.recv())
        return self.decode(await asyncio.wait_for(self.ws.recv(), timeout))

    def unrelated(self, msg: Message) -> None:
        """A message answering another request (or none) arrived while ``answer`` waited."""

    async def answer(self, msg_id: str) -> AsyncIterator[Message]:
        """The messages whose parent is ``msg_id``, until its reply and its idle status."""
        replied = idle = False
        while not (replied and idle):
            msg = self.decode(await self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                self.unrelated(msg)
                continue
            if msg["channel"] != "iopub":
                replied = True
            elif (
                msg["header"]["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                idle = True
            yield msg

    async def close(self) -> None:
        await self.ws.close()
