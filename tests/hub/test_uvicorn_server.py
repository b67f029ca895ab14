"""The hub's HTTP server against hostile clients: oversized and slow headers, forged
``X-Forwarded-For``, and a flood of bad requests that must not flood the service log."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import RunningHub, start_cellhub

MAX_HEADER = 16 * 1024
HEADER_TIMEOUT = 1.0
SETTINGS = {
    "CELLHUB_MAX_HEADER_SIZE": str(MAX_HEADER),
    "CELLHUB_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
    "CELLHUB_CLIENT_MAX_KERNELS": "1",
}
PROXY = "127.0.0.42"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    running = start_cellhub(tmp_path_factory.mktemp("bounded"), env=SETTINGS)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    env = {**SETTINGS, "CELLHUB_FORWARDED_ALLOW_IPS": PROXY}
    running = start_cellhub(tmp_path_factory.mktemp("proxied"), env=env)
    yield running
    running.stop()


async def exchange(server: RunningHub, *parts: bytes, pause: float = 0.0) -> bytes:
    """Send ``parts`` on one connection (``pause`` s apart) while reading; return what the
    hub answered before it closed the connection (or stopped answering for 5 s)."""
    where = urlsplit(server.url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)

    async def send() -> None:
        with contextlib.suppress(ConnectionError):
            for part in parts:
                writer.write(part)
                await writer.drain()
                await asyncio.sleep(pause)  # kept: the test is a slow client

    sending = asyncio.create_task(send())
    try:
        return await asyncio.wait_for(reader.read(1 << 20), 5)
    except (ConnectionError, TimeoutError):
        return b""
    finally:
        sending.cancel()
        writer.close()


def request(extra_headers: bytes = b"", target: bytes = b"/api") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + b"\r\n"


async def test_headers_within_the_limit_are_served(server: RunningHub) -> None:
    answer = await exchange(server, request(b"X-Padding: " + b"a" * 8000 + b"\r\n"))
    assert answer.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(b"X-Big: " + b"a" * (2 * MAX_HEADER) + b"\r\n", id="one-header"),
        pytest.param(b"".join(b"X-%d: %s\r\n" % (i, b"b" * 60) for i in range(400)), id="many"),
        pytest.param(
            b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Big: "
            + b"c" * (2 * MAX_HEADER)
            + b"\r\n",
            id="websocket-upgrade",
        ),
    ],
)
async def test_oversized_headers_get_431(server: RunningHub, headers: bytes) -> None:
    answer = await exchange(server, request(headers, b"/api/kernels/x/channels"))
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]


async def test_oversized_url_gets_431(server: RunningHub) -> None:
    answer = await exchange(server, request(target=b"/api?q=" + b"u" * (2 * MAX_HEADER)))
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]


async def test_unfinished_header_is_refused_before_it_grows(server: RunningHub) -> None:
    """A header that never ends is refused once it passes the limit, not kept growing."""
    chunks = [request()[:-2] + b"X-Endless: ", *[b"z" * 4096] * (4 * MAX_HEADER // 4096)]
    answer = await exchange(server, *chunks, pause=0.01)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]


@pytest.mark.parametrize("sent", [b"", b"GET /api HTTP/1.1\r\nHost: loc"], ids=["idle", "slow"])
async def test_headers_have_a_deadline(server: RunningHub, sent: bytes) -> None:
    started = time.monotonic()
    answer = await exchange(server, sent)
    elapsed = time.monotonic() - started
    assert answer == b"" and HEADER_TIMEOUT * 0.9 < elapsed < 4.5


async def hold_kernel_as(server: RunningHub, peer: str, forwarded_for: str) -> httpx.Response:
    """Start a kernel as ``peer`` (keep it) and return the answer of a second start from
    the same peer with another forwarded address."""
    transport = httpx.AsyncHTTPTransport(local_address=peer)
    auth = {"Authorization": f"token {server.token}"}
    async with httpx.AsyncClient(base_url=server.url, transport=transport, headers=auth) as c:
        first = await c.post("/api/kernels", headers={"X-Forwarded-For": forwarded_for})
        assert first.status_code == 201, first.text
        try:
            return await c.post("/api/kernels", headers={"X-Forwarded-For": "198.51.100.99"})
        finally:
            await c.delete(f"/api/kernels/{first.json()['id']}")


async def test_forwarded_for_is_ignored_by_default(server: RunningHub) -> None:
    """A loopback client (which uvicorn would trust) cannot pose as another client to get
    a second kernel."""
    second = await hold_kernel_as(server, "127.0.0.1", "198.51.100.1")
    assert second.status_code == 429, second.text


async def test_forwarded_for_is_believed_from_a_configured_proxy(behind_proxy: RunningHub) -> None:
    second = await hold_kernel_as(behind_proxy, PROXY, "198.51.100.2")
    assert second.status_code == 201, second.text
    not_proxy = await hold_kernel_as(behind_proxy, "127.0.0.43", "198.51.100.3")
    assert not_proxy.status_code == 429, not_proxy.text


async def test_bad_requests_do_not_flood_the_log(server: RunningHub) -> None:
    before = len(server.output)
    for _ in range(200):
        assert (await exchange(server, b"NOT HTTP AT ALL\r\n\r\n")).startswith(b"HTTP/1.1 400")
    logged = "".join(server.output[before:])
    entries = [
        line
        for line in logged.splitlines()
        if "Invalid HTTP request" in line and "more in the last" not in line
    ]
    assert len(entries) <= 1, logged[:2000]
