"""The benchmark's REST calls: HTTP/1.1 on h11, over keep-alive connections it reuses.

The benchmark's client shares the machine with the server it measures, so its own CPU time
is taken from the server's. httpx, which it used before, spent most of a class start's
client time choosing a connection: its pool scans every connection it holds for each
request, and a class of 500 holds 500 (about 9 ms of CPU per client at 300, growing with
the class). Here the idle connections are a stack: a request takes the last one freed, or
opens one, in constant time, and h11 does the parsing (status, headers, chunked or sized
bodies, whether the connection may be reused). Plain ``http://`` only: the benchmark talks
to servers and HAProxies on loopback.
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import h11

READ_SIZE = 65536


class RestError(RuntimeError):
    """A call the server refused (its status and what it said) or broke off."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def raise_for_status(self, call: str) -> None:
        """Raise ``RestError`` for a 4xx or 5xx answer to ``call``, with what the server said,
        not only its status."""
        if self.status >= 400:
            said = self.body[:500].decode(errors="replace")
            raise RestError(f"{call}: {self.status} {said}")


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    http: h11.Connection

    def close(self) -> None:
        self.writer.close()


class RestClient:
    """Calls to one server's REST API, each with ``headers``, none taking over ``timeout``."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float = 120.0) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http" or url.hostname is None:
            raise ValueError(f"an http:// URL is needed, not {base_url!r}")
        self.host, self.port = url.hostname, url.port or 80
        self.prefix = url.path.rstrip("/")
        self.headers = [("Host", url.netloc), *headers.items()]
        self.timeout = timeout
        self.idle: list[_Connection] = []

    async def request(self, method: str, path: str, body: Any = None) -> Response:
        """``method path`` with ``body`` as JSON (if given): the response, whatever its status."""
        connection = self._idle() or await self._open()
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._exchange(connection, method, path, body)
        except BaseException:
            connection.close()
            raise
        if connection.http.our_state is h11.DONE and connection.http.their_state is h11.DONE:
            connection.http.start_next_cycle()
            self.idle.append(connection)
        else:
            connection.close()
        return response

    async def checked(self, method: str, path: str, body: Any = None) -> Response:
        """As :meth:`request`, but a 4xx or 5xx answer raises ``RestError``."""
        response = await self.request(method, path, body)
        response.raise_for_status(f"{method} {path}")
        return response

    async def aclose(self) -> None:
        while self.idle:
            self.idle.pop().close()

    def _idle(self) -> _Connection | None:
        """The connection freed last that the server has not closed meanwhile (a server
        closes one idle for its keep-alive time: uvicorn's is 5 s), if any."""
        while self.idle:
            connection = self.idle.pop()
            if not connection.reader.at_eof():
                return connection
            connection.close()
        return None

    async def _open(self) -> _Connection:
        async with asyncio.timeout(self.timeout):
            reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Connection(reader, writer, h11.Connection(h11.CLIENT))

    async def _exchange(
        self, connection: _Connection, method: str, path: str, body: Any
    ) -> Response:
        http = connection.http
        headers = list(self.headers)
        content = b"" if body is None else json.dumps(body).encode()
        if body is not None:
            headers += [("Content-Type", "application/json"), ("Content-Length", str(len(content)))]
        target = self.prefix + path
        data = http.send(h11.Request(method=method, target=target, headers=headers))
        data += http.send(h11.Data(data=content)) if content else b""
        connection.writer.write(data + http.send(h11.EndOfMessage()))
        status, chunks = 0, []
        while True:
            try:
                event = http.next_event()
            except h11.ProtocolError as error:
                raise RestError(f"{method} {path}: {error}") from error
            if event is h11.NEED_DATA:
                http.receive_data(await connection.reader.read(READ_SIZE))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return Response(status, b"".join(chunks))
            elif isinstance(event, h11.ConnectionClosed):
                raise RestError(f"{method} {path}: the server closed the connection")
