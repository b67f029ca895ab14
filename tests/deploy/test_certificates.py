"""Mutual TLS 1.3 between hubs and workers, on loopback addresses other than 127.0.0.1:
each end accepts only the other role's certificate from the deployment CA, and a hub only
a worker's certificate that names the host it dialed."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import stat
from pathlib import Path

import pytest

from cellhub.config import Config, ConfigError
from cellhub.deploy.certificates import (
    CertificateDirectory,
    Credentials,
    create_ca,
    credentials,
    ensure_certificates,
    hub_ssl_context,
    issue_certificate,
    worker_ssl_context,
)
from cellhub.deploy.handshake_failures import explain
from cellhub.protocol import addresses
from tests.polling import until

WORKER_HOST = "127.0.0.2"


async def echo_server(context: ssl.SSLContext) -> tuple[asyncio.Server, int, list[str]]:
    """A TLS server on WORKER_HOST that echoes four bytes and records each TLS version."""
    versions: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            versions.append(writer.get_extra_info("ssl_object").version())
            writer.write(await reader.readexactly(4))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, WORKER_HOST, 0, ssl=context)
    return server, server.sockets[0].getsockname()[1], versions


async def talk(port: int, context: ssl.SSLContext, host: str = WORKER_HOST) -> str:
    """Echo a ping through the server at ``host``; return this end's TLS version."""
    reader, writer = await asyncio.open_connection(
        WORKER_HOST, port, ssl=context, server_hostname=host
    )
    try:
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        return str(writer.get_extra_info("ssl_object").version())
    finally:
        writer.close()
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            await writer.wait_closed()


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[Credentials, Credentials]:
    """A hub's and a worker's (for WORKER_HOST) credentials from one CA."""
    certs = CertificateDirectory(tmp_path / "certs")
    create_ca(certs)
    hub = issue_certificate(certs, "hub-a", "hub", [])
    return hub, issue_certificate(certs, "worker-1", "worker", [WORKER_HOST, "w1.example"])


async def test_both_ends_speak_tls_1_3(deployment: tuple[Credentials, Credentials]) -> None:
    hub, worker = deployment
    server, port, versions = await echo_server(worker_ssl_context(worker))
    async with server:
        assert await talk(port, hub_ssl_context(hub)) == "TLSv1.3"
        assert versions == ["TLSv1.3"]
        older = hub_ssl_context(hub)
        older.minimum_version = older.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await talk(port, older)


async def test_client_without_certificate_is_refused(
    deployment: tuple[Credentials, Credentials],
) -> None:
    _, worker = deployment
    server, port, _ = await echo_server(worker_ssl_context(worker))
    anonymous = ssl.create_default_context(cafile=worker.ca)
    async with server:
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            await talk(port, anonymous)


async def test_a_hub_checks_the_name_the_role_and_the_ca_of_a_worker(
    tmp_path: Path, deployment: tuple[Credentials, Credentials]
) -> None:
    hub, worker = deployment
    foreign = CertificateDirectory(tmp_path / "foreign")
    create_ca(foreign)
    stranger = issue_certificate(foreign, "w", "worker", [WORKER_HOST])
    cases = [
        (worker, "127.0.0.3", "the worker's certificate does not name 127.0.0.3"),
        (Credentials(hub.cert, hub.key, worker.ca), WORKER_HOST, "is a hub's, not a worker's"),
        (stranger, WORKER_HOST, "the worker's certificate is not signed by this deployment's CA"),
    ]
    for presented, dialed, message in cases:
        server, port, _ = await echo_server(worker_ssl_context(presented))
        async with server:
            with pytest.raises(ssl.SSLCertVerificationError) as refusal:
                await talk(port, hub_ssl_context(hub), dialed)
        assert message in explain(refusal.value, "worker", dialed)
    server, port, _ = await echo_server(worker_ssl_context(worker))
    async with server:
        assert await talk(port, hub_ssl_context(hub), "w1.example") == "TLSv1.3"


def test_certificates_are_made_once_with_private_keys(tmp_path: Path) -> None:
    certs = ensure_certificates(tmp_path / "certs")
    first = certs.ca_cert.read_bytes()
    assert ensure_certificates(tmp_path / "certs").ca_cert.read_bytes() == first
    for key in (certs.ca_key, certs.key("hub"), certs.key("worker")):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(certs.directory.stat().st_mode) == 0o700
    with pytest.raises(FileExistsError):
        create_ca(certs)


def test_settings_name_the_files_and_a_missing_one_is_an_error(tmp_path: Path) -> None:
    local = credentials(Config(data_dir=str(tmp_path)), "worker")
    assert local.cert == tmp_path / "certs" / "worker.crt" and local.cert.exists()
    with pytest.raises(ConfigError, match=r"tls_key: .*nowhere\.key does not exist"):
        credentials(Config(data_dir=str(tmp_path), tls_key=str(tmp_path / "nowhere.key")), "hub")


async def test_a_worker_accepts_only_a_hubs_certificate_and_says_why_not(
    deployment: tuple[Credentials, Credentials],
) -> None:
    """Through the worker's listener, which reports each refused handshake."""
    hub, worker = deployment
    refusals: list[str] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readexactly(4))
        await writer.drain()
        writer.close()

    def refused(failure: ssl.SSLError) -> None:
        refusals.append(explain(failure, "hub"))

    server, address = await addresses.listen_tcp(
        echo, WORKER_HOST, 0, worker_ssl_context(worker), refused
    )
    port = int(address.rpartition(":")[2])
    posing = hub_ssl_context(Credentials(worker.cert, worker.key, worker.ca))
    anonymous = ssl.create_default_context(cafile=worker.ca)
    async with server:
        assert await talk(port, hub_ssl_context(hub)) == "TLSv1.3"
        for client in (posing, anonymous):
            with contextlib.suppress(ssl.SSLError, ConnectionError, asyncio.IncompleteReadError):
                await talk(port, client)
        await until(lambda: len(refusals) == 2, "both refusals")
    assert refusals == [
        "the hub's certificate is a worker's, not a hub's "
        "(issue one with `cellhub certs issue NAME --role hub`)",
        "the hub presented no certificate",
    ]
