"""The ``cellhub`` command as a user runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from cellhub.config import SETTINGS
from tests.conftest import (
    PYTHON3_ONLY,
    UNLIMITED_CLIENTS,
    URL_LINE,
    RunningHub,
    launch,
    start_cellhub,
    wait_for_worker,
)
from tests.kernel_client import Hub, KernelClient
from tests.polling import until


async def test_serve_from_a_private_directory_with_a_relative_data_dir(tmp_path: Path) -> None:
    """Sessions (other uids when root) must work wherever serve was started from."""
    private = tmp_path / "private" / "project"
    private.mkdir(parents=True)
    (tmp_path / "private").chmod(0o700)
    server = start_cellhub(
        private / "data", argv=["serve", "--port", "0", "--data-dir", "data"], cwd=private
    )
    try:
        assert (private / "data" / "cellhub.sqlite").exists()
        hub = Hub(server.url, server.token)
        kernel_id = await hub.start_kernel()
        kernel = await KernelClient.connect(server.url, server.token, kernel_id)
        run = await kernel.execute("import os\nprint(os.getcwd() == os.path.expanduser('~'))")
        assert run.stream_text() == "True\n"
        await kernel.close()
        await hub.aclose()
    finally:
        server.stop()
    assert "failed to start" not in "".join(server.output)


async def test_stopped_as_systemd_stops_it_serve_ends_with_one_line(tmp_path: Path) -> None:
    """systemd stops a service with SIGTERM to every process of its cgroup, hub and worker at
    once: the worker's connection from the hub, cancelled as its loop ends, ends quietly (on
    Python 3.11 asyncio's streams printed a traceback for it)."""
    server = start_cellhub(tmp_path / "data", prefix=["setsid"])
    try:
        hub = Hub(server.url, server.token)
        await hub.start_kernel()
        await hub.aclose()
    finally:
        os.killpg(server.process.pid, signal.SIGTERM)
        server.process.wait(15)
    await until(lambda: "cellhub: stopped" in server.output[-1], "serve's last line", timeout=15)
    assert "Traceback" not in "".join(server.output), "".join(server.output)


def test_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cellhub", "serve", "--port", "eighty", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "port" in done.stderr and "Traceback" not in done.stderr


def test_help_lists_every_setting_as_a_flag() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cellhub", "serve", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    missing = [n for n in SETTINGS if f"--{n.replace('_', '-')}" not in done.stdout]
    assert missing == []
    assert "--no-allow-anonymous" in done.stdout and "[default: 8888]" in done.stdout


def serve_once(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> RunningHub:
    """Start serve with the given flags, without a configured token, and stop it again."""
    process, match, output = launch(
        ["serve", "--port", "0", "--data-dir", str(data_dir), "--spare-sessions", "0", *args],
        URL_LINE,
        {**UNLIMITED_CLIENTS, "CELLHUB_PRELOAD": "", **(env or {})},
    )
    return RunningHub(process, match.group(1) + "/", match.group(2), data_dir, output)


async def test_config_file_after_the_command_and_flags_for_any_setting(tmp_path: Path) -> None:
    config = tmp_path / "cellhub.toml"
    config.write_text("max_sessions = 1\npermalink_rate = 7\n")
    server = serve_once(tmp_path / "data", "--config", str(config), "--no-merge-pages")
    try:
        hub = Hub(server.url, server.token)
        await hub.start_kernel()
        refused = await hub.http.post("/api/kernels", json={"name": "python3"})
        assert refused.status_code == 503, refused.text
        await hub.aclose()
    finally:
        server.stop()


def test_the_token_survives_a_restart_until_renewed(tmp_path: Path) -> None:
    assert "CELLHUB_TOKEN" not in os.environ
    first = serve_once(tmp_path / "data")
    first.stop()
    second = serve_once(tmp_path / "data")
    second.stop()
    assert second.token == first.token
    assert ((tmp_path / "data" / "token").stat().st_mode & 0o777) == 0o600
    renewed = serve_once(tmp_path / "data", "--new-token")
    try:
        assert renewed.token != first.token
        headers = {"Authorization": f"token {first.token}"}
        assert httpx.get(renewed.url + "api/kernels", headers=headers).status_code == 403
        headers = {"Authorization": f"token {renewed.token}"}
        assert httpx.get(renewed.url + "api/kernels", headers=headers).status_code == 200
    finally:
        renewed.stop()
    assert renewed.process.returncode == 0
    assert "cellhub: stopped" in renewed.output[-1], renewed.output


GATED_IMPORT = """
import os, time
deadline = time.monotonic() + 120
while not os.path.exists({gate!r}) and time.monotonic() < deadline:
    time.sleep(0.05)
"""


async def test_the_address_comes_before_the_template_is_ready(tmp_path: Path) -> None:
    """serve prints its address while the worker's template still imports; a kernel start
    made then waits for the template instead of failing."""
    gate, modules = tmp_path / "gate", tmp_path / "modules"
    modules.mkdir()
    (modules / "gated_preload.py").write_text(GATED_IMPORT.format(gate=str(gate)))
    server = serve_once(
        tmp_path / "data",
        env={
            "CELLHUB_PRELOAD": "gated_preload",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(modules), os.getenv("PYTHONPATH")])),
        },
    )
    try:
        assert not any("; sandbox: " in line for line in server.output)
        hub = Hub(server.url, server.token)
        start = asyncio.create_task(hub.start_kernel())
        await asyncio.wait({start}, timeout=1.0)
        assert not start.done(), "a kernel started before the template was ready"
        gate.touch()
        kernel = await KernelClient.connect(server.url, server.token, await start)
        assert (await kernel.execute("6 * 7")).first("execute_result")["content"]["data"] == {
            "text/plain": "42"
        }
        await kernel.close()
        await hub.aclose()
        wait_for_worker(server)
    finally:
        gate.touch()
        server.stop()


def test_a_worker_that_cannot_start_stops_serve_with_its_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cellhub", "serve", "--port", "0", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, **PYTHON3_ONLY, "CELLHUB_PRELOAD": "no_such_module_here"},
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "no_such_module_here" in output and "the worker failed to start" in output
    assert "restarting it" not in output


def cellhub(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cellhub", *argv], capture_output=True, text=True)


def test_certs_init_makes_the_ca_once_in_the_data_dir(tmp_path: Path) -> None:
    first = cellhub("certs", "init", "--data-dir", str(tmp_path))
    assert first.returncode == 0, first.stderr
    ca = tmp_path / "certs" / "ca.crt"
    made = ca.read_bytes()
    assert oct((tmp_path / "certs" / "ca.key").stat().st_mode & 0o777) == oct(0o600)
    again = cellhub("certs", "init", "--data-dir", str(tmp_path))
    assert again.returncode != 0 and "exists; --force replaces it" in again.stderr
    assert ca.read_bytes() == made
    forced = cellhub("certs", "init", "--data-dir", str(tmp_path), "--force")
    assert forced.returncode == 0 and ca.read_bytes() != made


def test_certs_issue_writes_a_private_key_and_says_what_to_copy(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    worker = ["--role", "worker", "--host", "192.0.2.2", "--dir", str(folder)]
    assert "cellhub certs init" in cellhub("certs", "issue", "w1", *worker).stderr
    cellhub("certs", "init", "--dir", str(folder))
    done = cellhub("certs", "issue", "w1", *worker, "--host", "w1.example.org")
    assert done.returncode == 0, done.stderr
    assert oct((folder / "w1.key").stat().st_mode & 0o777) == oct(0o600)
    assert f"wrote {folder / 'w1.crt'} and {folder / 'w1.key'}" in done.stdout
    assert "192.0.2.2, w1.example.org" in done.stdout and "worker's host" in done.stdout
    assert 'tls_ca = "/path/to/ca.crt"' in done.stdout and "never ca.key" in done.stdout
    for refused, why in [
        (["ca", "--role", "hub"], "not a certificate name"),
        (["w2", "--role", "worker"], "needs --host"),
    ]:
        done = cellhub("certs", "issue", *refused, "--dir", str(folder))
        assert done.returncode != 0 and why in done.stderr
    assert not (folder / "w2.key").exists()


def test_a_missing_certificate_file_is_a_clear_error(tmp_path: Path) -> None:
    done = cellhub(
        "worker", "--data-dir", str(tmp_path), "--tls-certificate", str(tmp_path / "no.crt")
    )
    assert done.returncode != 0 and "tls_certificate:" in done.stderr
    assert "Traceback" not in done.stderr
