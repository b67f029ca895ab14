"""The benchmark's Jupyter kernels-API client: the same requests, bytes and timing for every server.

It uses only :mod:`bench.rest` (REST, on h11) and ``cellhub.client`` (the channels socket,
on ``websockets``), as any script would, and talks to cellhub and Jupyter Server through
identical paths and JSON: ``POST /api/kernels``, ``DELETE /api/kernels/{id}``, ``WS
/api/kernels/{id}/channels`` with Jupyter 5.3 messages as JSON text frames. The token goes
in an ``Authorization: token T`` header on REST calls and in ``?token=T`` on the WebSocket
URL.

Every socket the client owns has TCP_NODELAY set, so any Nagle delay measured is the
server's. WebSocket compression is not offered (Jupyter Server does not negotiate it by
default either), and client pings are off so they cannot land inside a measurement.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from dataclasses import dataclass

from bench.rest import RestClient
from cellhub.client import KernelSocket, execute_content, request_message


@dataclass
class Execution:
    """What one ``execute_request`` produced, as seen by the client.

    ``seconds`` runs from just before the request is sent until both the ``execute_reply``
    and the final ``status: idle`` of that request have arrived.
    """

    seconds: float
    status: str
    result: str | None
    stdout_bytes: int
    stdout_lines: int
    stdout: str | None = None


class ExecutionTimeout(TimeoutError):
    """The reply or the final idle did not arrive in time; carries what did arrive."""

    def __init__(self, partial: Execution) -> None:
        super().__init__(f"execution not finished after {partial.seconds:.1f} s")
        self.partial = partial


class KernelChannel(KernelSocket):
    """One WebSocket to one kernel; one execution at a time."""

    async def execute(
        self, code: str, timeout: float = 120.0, keep_stdout: bool = False
    ) -> Execution:
        """Run ``code`` and wait for its reply and final idle; raise ExecutionTimeout."""
        message = request_message(
            "execute_request", execute_content(code), session=self.session, username="bench"
        )
        status = ""
        result: str | None = None
        stdout_bytes = stdout_lines = 0
        chunks: list[str] = []
        start = time.perf_counter()
        msg_id = await self.send(message)
        timed_out = False
        try:
            async with asyncio.timeout(timeout):
                async for incoming in self.answer(msg_id):
                    msg_type = incoming["header"]["msg_type"]
                    content = incoming["content"]
                    if msg_type == "stream" and content.get("name") == "stdout":
                        text = content["text"]
                        stdout_bytes += len(text.encode())
                        stdout_lines += text.count("\n")
                        if keep_stdout:
                            chunks.append(text)
                    elif msg_type == "execute_result":
                        result = content["data"].get("text/plain")
                    elif msg_type == "execute_reply":
                        status = content["status"]
        except TimeoutError:
            timed_out = True
        execution = Execution(
            time.perf_counter() - start,
            "timeout" if timed_out else status,
            result,
            stdout_bytes,
            stdout_lines,
            "".join(chunks) if keep_stdout else None,
        )
        if timed_out:
            raise ExecutionTimeout(execution)
        return execution


class KernelsClient:
    """REST calls of the kernels API plus opening kernel WebSockets, for one server."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.http = RestClient(self.base_url, {"Authorization": f"token {token}"})

    async def start_kernel(self, name: str = "python3") -> str:
        response = await self.http.checked("POST", "/api/kernels", {"name": name})
        kernel_id: str = response.json()["id"]
        return kernel_id

    async def shutdown_kernel(self, kernel_id: str) -> None:
        path = f"/api/kernels/{kernel_id}"
        response = await self.http.request("DELETE", path)
        if response.status != 404:
            response.raise_for_status(f"DELETE {path}")

    async def kernel_ids(self) -> list[str]:
        response = await self.http.checked("GET", "/api/kernels")
        return [kernel["id"] for kernel in response.json()]

    async def shutdown_all(self, parallel: int = 8) -> None:
        """Shut down every kernel the server knows, a few at a time."""
        gate = asyncio.Semaphore(parallel)

        async def shutdown(kernel_id: str) -> None:
            async with gate:
                await self.shutdown_kernel(kernel_id)

        await asyncio.gather(*(shutdown(k) for k in await self.kernel_ids()))

    async def connect(self, kernel_id: str, timeout: float = 120.0) -> KernelChannel:
        channel = await KernelChannel.connect(
            self.base_url,
            self.token,
            kernel_id,
            session=uuid.uuid4().hex,
            compression=None,
            max_queue=64,
            ping_interval=None,
            open_timeout=timeout,
            proxy=None,
        )
        sock = channel.ws.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return channel

    async def aclose(self) -> None:
        await self.http.aclose()
