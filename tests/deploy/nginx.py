"""A real nginx for tests, configured by deploy/render.py (nothing edited) and run in the
foreground as the launcher runs it: :func:`running_nginx` starts one on an ephemeral port of
127.0.0.1 and stops it at the end, even when the test fails.

Debian's ``nginx-light`` package provides it (scripts/test installs it); without it the tests
that need it are skipped, saying so.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from cellhub.deploy.render import (
    Endpoint,
    StaticServer,
    installed_brotli,
    nginx_argv,
    write_nginx_config,
)
from cellhub.hub.static_files import STATIC_DIR
from tests.conftest import stop
from tests.db.postgres import free_port
from tests.deploy.haproxy import installed_daemon

NGINX, needs_nginx = installed_daemon("nginx", "nginx-light")


@contextlib.contextmanager
def running_nginx(
    run_dir: Path, modules: Sequence[Path] | None = None, timeout: float = 30
) -> Iterator[StaticServer]:
    """nginx serving the package's static folder (with ``modules``, by default Debian's
    brotli ones when installed), ready once it answers."""
    assert NGINX is not None
    server = StaticServer(
        Endpoint("127.0.0.1", free_port()),
        run_dir,
        STATIC_DIR,
        installed_brotli() if modules is None else modules,
    )
    write_nginx_config(server)
    process = subprocess.Popen(
        nginx_argv(server, NGINX), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until_answering(server, process, timeout)
        yield server
    finally:
        stop(process, timeout=10)


def wait_until_answering(
    server: StaticServer, process: subprocess.Popen[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.TransportError):
            httpx.get(f"http://{server.bind}/", timeout=2)
            return
        time.sleep(0.05)
    log = server.run_dir / "nginx-error.log"
    raise RuntimeError(f"nginx did not start:\n{log.read_text() if log.exists() else ''}")
