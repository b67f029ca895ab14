"""Test support for the session: a small fork-server driver and a frame-level Jupyter client.

The driver plays the template: it builds the shell once, then forks a session for
every connection to its unix socket. Each session first writes its pid (4 bytes),
then speaks the session protocol, so tests can signal it as the worker does.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from cellhub.protocol import framing
from cellhub.protocol.diagnostics import log_text

DRIVER = """
import json, os, signal, socket, struct, sys
from cellhub.session.process import build_shell, run_session
shell = build_shell(json.loads(sys.argv[2]))
import gc; gc.collect(); gc.freeze()
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
server = socket.socket(socket.AF_UNIX)
server.bind(sys.argv[1]); server.listen(64)
print("ready", flush=True)
while True:
    conn, _ = server.accept()
    if os.fork() == 0:
        server.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        conn.sendall(struct.pack(">I", os.getpid()))
        run_session(shell, conn)
    conn.close()
"""

#: What the session tests preload: enough for plots, fast to import.
SMALL_PRELOAD = ["numpy", "matplotlib", "matplotlib.pyplot"]


@dataclass
class Reply:
    """Everything a request caused, up to its final ``status: idle``."""

    frames: list[list[Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def msg_types(self) -> list[str]:
        return [m["header"]["msg_type"] for m in self.messages]

    @property
    def reply(self) -> dict[str, Any]:
        return next(m for m in self.messages if m["header"]["msg_type"].endswith("_reply"))

    def of_type(self, msg_type: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["header"]["msg_type"] == msg_type]

    def stream_text(self, name: str = "stdout") -> str:
        return "".join(
            m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == name
        )


class SessionClient:
    """Talks to one session over its socket, frame by frame."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.sock = sock
        self.pid = pid
        #: What the session sent for the service's log (cellhub.protocol.diagnostics).
        self.diagnostics: list[str] = []

    def init(self, **settings: Any) -> None:
        framing.send_frame(
            self.sock, ["init", {"kernel_id": "k", "username": "tester", **settings}]
        )

    def send(
        self,
        msg_type: str,
        content: dict[str, Any],
        channel: str = "shell",
        buffers: list[bytes] | None = None,
    ) -> str:
        """Send a request as the hub does (``buffers`` base64 in the JSON); return its id."""
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": msg_type,
            "session": "s",
            "username": "tester",
            "date": "2024-01-01T00:00:00Z",
            "version": "5.3",
        }
        message: dict[str, Any] = {
            "header": header,
            "parent_header": {},
            "metadata": {},
            "content": content,
        }
        if buffers:
            message["buffers"] = [base64.b64encode(b).decode() for b in buffers]
        framing.send_frame(self.sock, ["msg", channel, orjson.dumps(message)])
        return msg_id

    def recv(self) -> tuple[list[Any], dict[str, Any]]:
        """The next Jupyter message; log frames on the way are kept in :attr:`diagnostics`."""
        frame = framing.recv_frame(self.sock)
        while (text := log_text(frame)) is not None:
            self.diagnostics.append(text)
            frame = framing.recv_frame(self.sock)
        assert frame[0] == "msg" and len(frame) == 5, frame
        message = orjson.loads(frame[3])
        assert message["header"]["msg_type"] == frame[2]
        assert message["channel"] == frame[1]
        return frame, message

    def collect(self, msg_id: str, timeout: float = 30) -> Reply:
        """Read messages until the idle status of request ``msg_id``."""
        self.sock.settimeout(timeout)
        reply = Reply()
        while True:
            frame, message = self.recv()
            reply.frames.append(frame)
            reply.messages.append(message)
            if (
                frame[2] == "status"
                and frame[4] == "idle"
                and message["parent_header"].get("msg_id") == msg_id
            ):
                return reply

    def request(
        self,
        msg_type: str,
        content: dict[str, Any],
        channel: str = "shell",
        buffers: list[bytes] | None = None,
    ) -> Reply:
        return self.collect(self.send(msg_type, content, channel, buffers))

    def execute(self, code: str, timeout: float = 30, **content: Any) -> Reply:
        msg_id = self.send("execute_request", {"code": code, "silent": False, **content})
        return self.collect(msg_id, timeout)


class SessionServer:
    """The driver process; :meth:`session` forks a fresh session from it."""

    def __init__(self, tmp: Path, preload: list[str] | None = None) -> None:
        self.path = str(tmp / "driver.sock")
        modules = json.dumps(preload or SMALL_PRELOAD)
        # The sessions' temporary files (completion caches) go with the test's directory.
        self.process = subprocess.Popen(
            [sys.executable, "-c", DRIVER, self.path, modules],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "TMPDIR": str(tmp)},
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    @contextmanager
    def session(self, **settings: Any) -> Iterator[SessionClient]:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(self.path)
        pid = struct.unpack(">I", framing._recv_exactly(sock, 4))[0]
        client = SessionClient(sock, pid)
        client.init(**settings)
        try:
            yield client
        finally:
            sock.close()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.01)

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
