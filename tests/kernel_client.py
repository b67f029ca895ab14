"""The tests' Jupyter kernels-API client: ``cellhub.client``'s socket, httpx for REST, and the
v1 binary framing written apart from the hub's, as @jupyterlab/services writes it."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Self

import httpx
import websockets

from cellhub import client
from cellhub.client import KernelSocket, execute_content


def request_message(
    msg_type: str, content: dict[str, Any], channel: str = "shell"
) -> dict[str, Any]:
    """A request of the tests' client: every one carries the same session and user name."""
    return client.request_message(
        msg_type, content, channel, session="test-session", username="test"
    )


@dataclass
class Execution:
    """Everything a kernel sent in answer to one request."""

    iopub: list[dict[str, Any]] = field(default_factory=list)
    reply: dict[str, Any] | None = None
    #: Messages of other requests that arrived meanwhile (also kept in ``KernelClient.other``).
    unrelated: list[dict[str, Any]] = field(default_factory=list)

    @property
    def msg_types(self) -> list[str]:
        return [m["header"]["msg_type"] for m in self.iopub]

    def stream_text(self, name: str = "stdout") -> str:
        return "".join(
            m["content"]["text"]
            for m in self.iopub
            if m["header"]["msg_type"] == "stream" and m["content"]["name"] == name
        )

    def first(self, msg_type: str) -> dict[str, Any]:
        return next(m for m in self.iopub if m["header"]["msg_type"] == msg_type)

    def explain(self) -> str:
        """Every message received while waiting, in order, for an assertion's message: a
        failure then shows whether output was missing, misplaced, or an error instead."""

        def line(msg: dict[str, Any]) -> str:
            parent = msg.get("parent_header", {}).get("msg_id", "")
            kind = f"{msg.get('channel')}/{msg['header']['msg_type']}"
            return f"  {kind} (parent {parent}): {json.dumps(msg.get('content'))[:500]}"

        return "\n".join(
            [
                "this request's iopub:",
                *map(line, self.iopub),
                "its reply:",
                line(self.reply) if self.reply else "  none",
                "other requests' messages meanwhile:",
                *map(line, self.unrelated),
            ]
        )


class KernelClient(KernelSocket):
    """One WebSocket connection to one kernel; what answers no request it waits for is kept."""

    recv_timeout = 30

    def __init__(self, ws: Any, session: str = "") -> None:
        super().__init__(ws, session)
        self.other: list[dict[str, Any]] = []
        #: The request being collected, which keeps the others' messages that came meanwhile.
        self.collecting: Execution | None = None

    async def __aenter__(self) -> KernelClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Close even when the test failed: an unclosed socket would fail a later test (a
        ResourceWarning is an error there), hiding which test really failed."""
        await self.close()

    def unrelated(self, msg: dict[str, Any]) -> None:
        self.other.append(msg)
        if self.collecting is not None:
            self.collecting.unrelated.append(msg)

    async def closed(self, timeout: float = 30) -> Any:
        """Wait for the server to close the socket (no message may come first); its Close frame."""
        try:
            extra = await asyncio.wait_for(self.ws.recv(), timeout)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd
        raise AssertionError(f"a message instead of the close: {extra!r}")

    async def dead_reason(self, messages: int = 50, timeout: float = 10) -> str:
        """Read until the kernel's ``dead`` status (within ``messages``, each within
        ``timeout`` seconds); the reason it gives."""
        for _ in range(messages):
            msg = await self.recv(timeout)
            content = msg["content"]
            if msg["header"]["msg_type"] == "status" and content["execution_state"] == "dead":
                return str(content.get("reason", ""))
        raise AssertionError("no dead status")

    async def request(
        self, msg_type: str, content: dict[str, Any], channel: str = "shell", timeout: float = 60
    ) -> Execution:
        """Send a request; collect its iopub messages until idle, and its reply."""
        msg_id = await self.send(request_message(msg_type, content, channel))
        result = Execution()
        self.collecting = result
        try:
            async with asyncio.timeout(timeout):
                async for msg in self.answer(msg_id):
                    if msg["channel"] == "iopub":
                        result.iopub.append(msg)
                    else:
                        result.reply = msg
        finally:
            self.collecting = None
        return result

    async def execute(self, code: str, timeout: float = 60, **content: Any) -> Execution:
        return await self.request(
            "execute_request", execute_content(code, **content), timeout=timeout
        )


#: Seconds the client keeps an idle connection: less than the hub's 5 (uvicorn's default), or
#: a request sent on one just as the hub closes it fails with a ReadError (seen under load).
KEEPALIVE_EXPIRY = 2.0


class Hub:
    """The REST side of a running cellhub."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.http = httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"token {token}"},
            timeout=30,
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY),
        )

    async def start_kernel(self, name: str = "python3") -> str:
        response = await self.http.post("/api/kernels", json={"name": name})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def kernel(self, name: str = "python3") -> tuple[str, KernelClient]:
        kernel_id = await self.start_kernel(name)
        return kernel_id, await KernelClient.connect(self.url, self.token, kernel_id)

    async def aclose(self) -> None:
        await self.http.aclose()


V1_SUBPROTOCOL = "v1.kernel.websocket.jupyter.org"


def v1_encode(msg: dict[str, Any]) -> bytes:
    """A message in the v1 framing, built as @jupyterlab/services' serializer builds it."""
    parts = [
        msg["channel"].encode(),
        *(json.dumps(msg[key]).encode() for key in ("header", "parent_header", "metadata")),
        json.dumps(msg["content"]).encode(),
        *msg.get("buffers", []),
    ]
    offsets = [8 * (len(parts) + 2)]
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    words = [len(offsets), *offsets]
    return b"".join(w.to_bytes(8, "little") for w in words) + b"".join(parts)


def v1_decode(frame: bytes) -> dict[str, Any]:
    """A v1 frame as a message, as Jupyter Server's ``deserialize_msg_from_ws_v1`` reads it."""
    count = int.from_bytes(frame[:8], "little")
    offsets = [int.from_bytes(frame[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    parts = [frame[a:b] for a, b in itertools.pairwise(offsets)]
    msg: dict[str, Any] = {"channel": parts[0].decode()}
    for key, part in zip(
        ("header", "parent_header", "metadata", "content"), parts[1:5], strict=False
    ):
        msg[key] = json.loads(part)
    msg["buffers"] = parts[5:]
    return msg


class V1KernelClient(KernelClient):
    """A connection that negotiated the v1 subprotocol: every frame both ways is binary v1."""

    @classmethod
    async def connect(
        cls, base_url: str, token: str, kernel_id: str, session: str | None = None, **options: Any
    ) -> Self:
        return await super().connect(
            base_url, token, kernel_id, session, subprotocols=[V1_SUBPROTOCOL], **options
        )

    def encode(self, msg: dict[str, Any]) -> bytes:
        return v1_encode(msg)

    def decode(self, frame: str | bytes) -> dict[str, Any]:
        assert isinstance(frame, bytes), f"a text frame on a v1 connection: {frame!r:.200}"
        return v1_decode(frame)
