"""``jupyter server --gateway-url`` in front of a cellhub: Jupyter Server as a gateway client.

Jupyter Server (with JupyterLab, whose wheel ships its built pages) runs as a separate
process on an ephemeral loopback port, with every kernel request sent on to cellhub
(``GatewayClient.url`` and ``auth_token``). Its config, data and runtime folders are the
test's own, so nothing the machine's user configured takes part.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import RunningHub


@dataclass
class JupyterGateway:
    """A running Jupyter Server whose kernels are cellhub's."""

    process: subprocess.Popen[bytes]
    url: str
    token: str
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_serving(gateway: JupyterGateway, timeout: float = 90) -> None:
    """Poll ``/api/status`` until Jupyter Server answers; fail with its log if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            break
        try:
            response = httpx.get(f"{gateway.url}api/status?token={gateway.token}", timeout=5)
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    gateway.stop()
    raise RuntimeError("jupyter server did not start:\n" + gateway.log.read_text())


def quiet_lab(config: Path) -> None:
    """No news announcements in JupyterLab: their pop-up would cover what a test clicks."""
    labconfig = config / "labconfig"
    labconfig.mkdir(exist_ok=True)
    disabled = {"@jupyterlab/apputils-extension:announcements": True}
    (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}))


def start_jupyter_gateway(
    hub: RunningHub, home: Path, hub_token: str | None = None
) -> JupyterGateway:
    """A Jupyter Server whose kernels are the hub's, asked for with ``hub_token`` (default:
    the deployment token; a person's API token makes them that person's)."""
    port = free_port()
    token = secrets.token_hex(16)
    folders = {name: home / name for name in ("config", "data", "runtime", "root")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    quiet_lab(folders["config"])
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(folders["config"]),
        "JUPYTER_DATA_DIR": str(folders["data"]),
        "JUPYTER_RUNTIME_DIR": str(folders["runtime"]),
    }
    argv = [
        sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folders['root']}",
        f"--GatewayClient.url={hub.url.rstrip('/')}",
        f"--GatewayClient.auth_token={hub_token or hub.token}",
        "--GatewayClient.request_timeout=60",
    ]  # fmt: skip
    log = home / "jupyter-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    gateway = JupyterGateway(process, f"http://127.0.0.1:{port}/", token, log)
    wait_until_serving(gateway)
    return gateway
