"""Hubs and workers on different hosts (here 127.0.0.2 and 127.0.0.3, loopback addresses of
their own), as real processes with certificates made by ``cellhub certs``: a worker whose
certificate names the address the hub dials is used; a wrong name or another CA is refused,
and the logs say which."""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from cellhub.deploy.handshake_failures import explain
from tests.conftest import RunningHub, launch, start_cellhub
from tests.deploy.cellhub_certs import certs, tls_flags
from tests.kernel_client import Hub
from tests.polling import until

LISTENING = re.compile(r'"address":"([^"]+)"')
QUICK = {"CELLHUB_PRELOAD": "", "CELLHUB_SPARE_SESSIONS": "1"}


@pytest.fixture
def deployment(tmp_path: Path) -> Path:
    """One CA; a hub's certificate; a worker's naming 127.0.0.2 only."""
    folder = tmp_path / "certs"
    certs("init", "--dir", str(folder))
    certs("issue", "hub-a", "--role", "hub", "--dir", str(folder))
    certs("issue", "worker-1", "--role", "worker", "--host", "127.0.0.2", "--dir", str(folder))
    return folder


class Worker:
    """A ``cellhub worker`` process on a host address of its own."""

    def __init__(self, data_dir: Path, host: str, tls: list[str]) -> None:
        argv = ["worker", "--data-dir", str(data_dir), "--worker-host", host, *tls]
        self.process, match, self.output = launch(argv, LISTENING, QUICK)
        self.address: str = match.group(1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(15)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


def hub_argv(data_dir: Path, worker: str, tls: list[str]) -> list[str]:
    return ["hub", "--data-dir", str(data_dir), "--port", "0", "--workers", worker, *tls]


def refused_hub_says(data_dir: Path, worker: str, tls: list[str], message: str) -> None:
    """Start a hub that cannot use ``worker``; wait until its log says ``message`` (a regex)."""
    process, _, _ = launch(hub_argv(data_dir, worker, tls), re.compile(message), QUICK)
    process.kill()
    process.wait()


async def test_a_hub_uses_a_worker_on_another_host(
    tmp_path: Path, deployment: Path, workers: list[Worker]
) -> None:
    workers.append(Worker(tmp_path / "w", "127.0.0.2", tls_flags(deployment, "worker-1")))
    assert workers[0].address.startswith("127.0.0.2:")
    argv = hub_argv(tmp_path / "h", workers[0].address, tls_flags(deployment, "hub-a"))
    hub: RunningHub = start_cellhub(tmp_path / "h", env=QUICK, argv=argv)
    client = Hub(hub.url, hub.token)
    try:
        _, kernel = await client.kernel()
        async with kernel:
            result = await kernel.execute("1+1")
        assert result.first("execute_result")["content"]["data"]["text/plain"] == "2"
    finally:
        await client.aclose()
        hub.stop()


def test_a_worker_whose_certificate_names_another_host_is_refused(
    tmp_path: Path, deployment: Path, workers: list[Worker]
) -> None:
    workers.append(Worker(tmp_path / "w", "127.0.0.3", tls_flags(deployment, "worker-1")))
    message = "the worker's certificate does not name 127.0.0.3"
    refused_hub_says(tmp_path / "h", workers[0].address, tls_flags(deployment, "hub-a"), message)


def test_a_worker_from_another_ca_is_refused(
    tmp_path: Path, deployment: Path, workers: list[Worker]
) -> None:
    other = tmp_path / "other"
    certs("init", "--dir", str(other))
    certs("issue", "w", "--role", "worker", "--host", "127.0.0.2", "--dir", str(other))
    workers.append(Worker(tmp_path / "w", "127.0.0.2", tls_flags(other, "w")))
    message = "the worker's certificate is not signed by this deployment's CA"
    refused_hub_says(tmp_path / "h", workers[0].address, tls_flags(deployment, "hub-a"), message)


async def test_a_hub_from_another_ca_is_refused(
    tmp_path: Path, deployment: Path, workers: list[Worker]
) -> None:
    other = tmp_path / "other"
    certs("init", "--dir", str(other))
    certs("issue", "h", "--role", "hub", "--dir", str(other))
    worker = Worker(tmp_path / "w", "127.0.0.2", tls_flags(deployment, "worker-1"))
    workers.append(worker)
    stranger = [*tls_flags(other, "h")[:4], "--tls-ca", str(deployment / "ca.crt")]
    # The worker's alert may reach the hub before the connection's end, or not.
    told = "refused this hub's certificate: it is not signed by the worker's CA"
    guess = "may not accept this hub's certificate"
    refused_hub_says(tmp_path / "h", worker.address, stranger, f"{told}|{guess}")
    said = "the hub's certificate is not signed by this deployment's CA"
    await until(lambda: any(said in line for line in worker.output), "the worker's log")


def test_a_refusal_the_peer_sent_is_said_in_words() -> None:
    alert = ssl.SSLError(1, "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca")
    alert.reason = "TLSV1_ALERT_UNKNOWN_CA"
    assert explain(alert, "worker", "192.0.2.2") == (
        "the worker refused this hub's certificate: it is not signed by the worker's CA"
    )
    alert.reason = "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE"
    assert explain(alert, "hub", "192.0.2.9").endswith(
        "refused this worker's certificate: it is not a worker's"
    )
