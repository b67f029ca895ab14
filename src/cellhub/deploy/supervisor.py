"""The worker of ``cellhub serve``: a child process, restarted if it dies, stopped with us.

A restarted worker listens on the same address (its Unix socket, or its TCP port), so
the hub reconnects to it by itself; kernels of the dead worker are gone, and the hub
tells their clients so.

The worker listens before its template has imported everything (seconds, with the default
preload), so the hub starts and ``cellhub serve`` prints its address at once; kernel starts
wait for the template. The worker's line (its address, kernel kinds and sandbox) is printed
when the templates are ready. A worker that dies before that never worked: ``serve`` stops
and says so, instead of restarting it in a loop.

The worker is executed with the sessions' environment (see
:mod:`cellhub.sandbox.environment`), not ours: it needs none of our secrets, and
what it has, its template and every session could inherit. Its settings come on its
command line, the data directory resolved, without the token and the database URLs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import subprocess
import sys
import threading
from typing import Any

import orjson

from cellhub.config import Config
from cellhub.log_records import service_logger
from cellhub.protocol.addresses import fits_unix_socket
from cellhub.sandbox.environment import session_environment

log = service_logger(__name__)

#: Seconds between looks at whether the worker is still alive.
WATCH_INTERVAL = 0.5


class WorkerFailed(RuntimeError):
    """The worker died before its template was ready: it cannot start as configured."""


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def local_worker(config: Config) -> Config:
    """Settings for the worker of ``cellhub serve``: a Unix socket in the data dir when the
    path fits one (see :mod:`cellhub.protocol.addresses`), else a fixed TCP port."""
    if config.worker_socket:
        return config
    path = config.data_path / "worker.sock"
    if fits_unix_socket(path):
        return config.replace(worker_socket=str(path))
    return config.replace(worker_port=config.worker_port or free_port(config.worker_host))


class WorkerProcess:
    def __init__(self, config: Config) -> None:
        self.config = local_worker(config)
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = False
        #: Whether the current worker process reported its template ready.
        self.ready = threading.Event()
        self.reader: threading.Thread | None = None

    def command(self) -> list[str]:
        # Not the token or the database URL: the worker needs neither, and any local
        # user (and, in the rlimit fallback, any session) can read a command line.
        settings = {
            **dataclasses.asdict(self.config),
            "token": "",
            "database_url": "",
            "log_database_url": "",
            "data_dir": str(self.config.data_path),
        }
        return [
            sys.executable,
            "-P",
            "-m",
            "cellhub",
            "worker",
            "--config-json",
            orjson.dumps(settings).decode(),
            "--parent",
            str(os.getpid()),
        ]

    def start(self) -> str:
        """Start the worker; return its address as soon as it listens."""
        self.ready.clear()
        self.process = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            cwd="/",
            env=session_environment(os.environ, self.config.session_environment),
        )
        assert self.process.stdout is not None
        listening = self.process.stdout.readline()
        if not listening:
            raise SystemExit(
                f"cellhub: the worker failed to start (exit code {self.process.wait()})"
            )
        self.reader = threading.Thread(
            target=self.announce_ready, args=(self.process,), daemon=True
        )
        self.reader.start()
        return str(orjson.loads(listening)["address"])

    def announce_ready(self, process: subprocess.Popen[bytes]) -> None:
        """Print the worker's line once its template is ready (in a thread: it takes seconds)."""
        assert process.stdout is not None
        line = process.stdout.readline()
        if line:
            ready: dict[str, Any] = orjson.loads(line)
            self.ready.set()
            print(
                f"cellhub: worker at {ready['address']}; kernels: {ready['kernels']}; "
                f"sandbox: {ready['sandbox']}",
                flush=True,
            )

    async def watch(self) -> None:
        """Restart the worker whenever it dies, until :meth:`stop`; raise :class:`WorkerFailed`
        if it died before its template was ready, which a restart would only repeat."""
        while not self.stopping:
            await asyncio.sleep(WATCH_INTERVAL)
            if self.process is not None and self.process.poll() is not None and not self.stopping:
                code = self.process.returncode
                if not self.ready.is_set():
                    raise WorkerFailed(
                        f"cellhub: the worker failed to start (exit code {code}); "
                        "its error is above"
                    )
                log.error("the worker died (exit code %s); restarting it", code)
                await asyncio.to_thread(self.start)

    def stop(self) -> None:
        self.stopping = True
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.reader is not None:
            self.reader.join(5)  # it reads the worker's stdout until the worker's end
        if self.process.stdout is not None:
            self.process.stdout.close()
