"""A real WebDAV server for the cloud folder tests: ``rclone serve webdav`` on a loopback
port, serving a folder the test made, with user ``u`` and password ``p``; stopped on exit."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Seconds rclone's WebDAV server may take to listen.
SERVE_TIMEOUT = 20.0
USER, PASSWORD = "u", "p"


@dataclass
class WebDav:
    url: str
    folder: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVE_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, "rclone serve webdav exited"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("rclone serve webdav did not listen in time")


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[WebDav]:
    port = free_port()
    argv = ["rclone", "serve", "webdav", str(folder), f"--addr=127.0.0.1:{port}"]
    # No directory cache: tests change the served folder on disk behind the server's back.
    argv += [f"--user={USER}", f"--pass={PASSWORD}", "--dir-cache-time=0s"]
    process = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, process)
        yield WebDav(f"http://127.0.0.1:{port}", folder)
    finally:
        process.kill()
        process.wait()
