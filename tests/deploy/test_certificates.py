"""Mutual TLS: the worker accepts only hubs with a certificate from the deployment CA."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import stat
from pathlib import Path

import pytest

from cellhub.deploy.certificates import ensure_certificates, hub_ssl_context, worker_ssl_context


async def echo_server(context: ssl.SSLContext) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(await reader.readexactly(4))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    return server, server.sockets[0].getsockname()[1]


async def talk(port: int, context: ssl.SSLContext) -> bytes:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
    )
    try:
        writer.write(b"ping")
        return await reader.readexactly(4)
    finally:
        writer.close()
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            await writer.wait_closed()


async def test_hub_with_deployment_certificate_is_accepted(tmp_path: Path) -> None:
    paths = ensure_certificates(tmp_path / "certs")
    assert stat.S_IMODE(paths.key("hub").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "certs").stat().st_mode) == 0o700
    server, port = await echo_server(worker_ssl_context(paths))
    async with server:
        assert await talk(port, hub_ssl_context(paths)) == b"ping"


async def test_client_without_certificate_is_refused(tmp_path: Path) -> None:
    paths = ensure_certificates(tmp_path / "certs")
    server, port = await echo_server(worker_ssl_context(paths))
    anonymous = ssl.create_default_context(cafile=paths.ca_cert)
    async with server:
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            await talk(port, anonymous)


async def test_certificate_from_another_ca_is_refused(tmp_path: Path) -> None:
    ours = ensure_certificates(tmp_path / "ours")
    theirs = ensure_certificates(tmp_path / "theirs")
    server, port = await echo_server(worker_ssl_context(ours))
    foreign = hub_ssl_context(theirs)
    foreign.load_verify_locations(ours.ca_cert)
    async with server:
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            await talk(port, foreign)


def test_certificates_are_created_once(tmp_path: Path) -> None:
    first = ensure_certificates(tmp_path / "certs").ca_cert.read_bytes()
    assert ensure_certificates(tmp_path / "certs").ca_cert.read_bytes() == first
