"""A real HAProxy for tests: configured by deploy/render.py (nothing edited) and run in the
foreground. :func:`running_haproxy` runs one on ephemeral ports of 127.0.0.1 and stops it at
the end even when the test fails; :func:`start_haproxy` starts one as a given configuration
says, on another host of the cluster test too, for a caller that kills and restarts it.

Debian's ``haproxy`` package provides it (scripts/test installs it); without it the tests
that need it are skipped, saying so.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cellhub.deploy.render import (
    Endpoint,
    LoadBalancer,
    Server,
    haproxy_argv,
    render_haproxy,
)
from tests.conftest import stop
from tests.db.postgres import free_port


def installed_daemon(program: str, package: str) -> tuple[str | None, pytest.MarkDecorator]:
    """Where Debian's ``package`` put ``program`` (/usr/sbin, which an ordinary user's PATH
    may leave out), and a mark that skips a test without it, saying what to install."""
    found = shutil.which(program, path="/usr/sbin:/usr/bin:/sbin:/bin")
    reason = f"{program} is not installed (apt-get install {package})"
    return found, pytest.mark.skipif(found is None, reason=reason)


HAPROXY, needs_haproxy = installed_daemon("haproxy", "haproxy")


@dataclass
class RunningHAProxy:
    """An HAProxy process, its front door and its stats port."""

    process: subprocess.Popen[bytes]
    balancer: LoadBalancer
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.balancer.bind}/"

    @property
    def stats(self) -> str:
        return f"http://{self.balancer.stats}"

    def server_states(self) -> dict[str, str]:
        """Each hub's state as the Prometheus endpoint says it (UP, DOWN, …)."""
        text = httpx.get(f"{self.stats}/metrics", timeout=10).text
        states: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            if family.name == "haproxy_server_status":
                for sample in family.samples:
                    labels: dict[str, Any] = sample.labels
                    if labels["proxy"] == "hubs" and sample.value == 1:
                        states[labels["server"]] = labels["state"]
        return states

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def running_haproxy(
    hubs: Sequence[Endpoint], directory: Path, timeout: float = 30
) -> Iterator[RunningHAProxy]:
    """HAProxy in front of ``hubs`` (named hub1, hub2, …), ready once its stats answer."""
    balancer = LoadBalancer(
        [Server(f"hub{number}", hub) for number, hub in enumerate(hubs, 1)],
        bind=Endpoint("127.0.0.1", free_port()),
        stats=Endpoint("127.0.0.1", free_port()),
    )
    running = start_haproxy(balancer, directory, timeout)
    try:
        yield running
    finally:
        stop(running.process, timeout=10)


def start_haproxy(
    balancer: LoadBalancer, directory: Path, timeout: float = 30, prefix: Sequence[str] = ()
) -> RunningHAProxy:
    """HAProxy as ``balancer`` says, its configuration, pid file and log in ``directory``
    (the log appended to: a restarted HAProxy's follows the last one's); returned once its
    stats answer. ``prefix`` runs it through a command that executes it in place
    (``nsenter``: on another host of the cluster test), so the process is HAProxy's master."""
    assert HAPROXY is not None
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "haproxy.cfg"
    config.write_text(render_haproxy(balancer))
    log = directory / "haproxy.log"
    with open(log, "ab") as out:
        argv = haproxy_argv(config, directory / "haproxy.pid", HAPROXY)
        process = subprocess.Popen([*prefix, *argv], stdout=out, stderr=subprocess.STDOUT)
    running = RunningHAProxy(process, balancer, log)
    try:
        wait_for_stats(running, timeout)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return running


def wait_for_stats(running: RunningHAProxy, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            break
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{running.stats}/stats", timeout=2).status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"HAProxy did not start:\n{running.output()}")
