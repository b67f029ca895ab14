"""jupyter_client's blocking kernel-client calls over cellhub's WebSocket, for Jupyter's own tests.

jupyter_kernel_test (the Jupyter project's kernel conformance suite) drives a kernel through
``jupyter_client``'s ``KernelManager`` and ``BlockingKernelClient``: ZeroMQ sockets to a local
process. cellhub's kernels live behind its kernels API, so this module gives those tests the
same calls (``execute``, ``complete``, ``inspect``, ``history``, ``is_complete``,
``kernel_info``, ``get_shell_msg``, ``iopub_channel.get_msg`` …) over one WebSocket.

Frames are handed on exactly as they arrive (``json.loads``, nothing added), as Jupyter
Server's own gateway client (``jupyter_server.gateway``) does: a key that cellhub leaves out
— such as the top-level ``msg_type`` that Jupyter Server puts in every frame — fails the test
that reads it, as it would fail a real gateway client.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.kernel_client import request_message

Message = dict[str, Any]


class Channel:
    """The messages of one Jupyter channel, read as ``jupyter_client``'s channels are read."""

    def __init__(self) -> None:
        self.messages: queue.Queue[Message] = queue.Queue()

    def get_msg(self, timeout: float | None = None) -> Message:
        """The next message; ``queue.Empty`` after ``timeout`` seconds, as jupyter_client."""
        return self.messages.get(timeout=timeout)


class WebSocketKernelClient:
    """One kernel's channels over ``WS /api/kernels/{id}/channels``; requests return msg_ids."""

    def __init__(self, url: str, token: str, kernel_id: str) -> None:
        ws_url = url.replace("http", "ws", 1).rstrip("/")
        self.ws: ClientConnection = connect(
            f"{ws_url}/api/kernels/{kernel_id}/channels?token={token}", max_size=None
        )
        self.shell_channel = Channel()
        self.iopub_channel = Channel()
        self.stdin_channel = Channel()
        self.control_channel = Channel()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        channels = {
            "shell": self.shell_channel,
            "iopub": self.iopub_channel,
            "stdin": self.stdin_channel,
            "control": self.control_channel,
        }
        with self.ws:
            for frame in self.ws:
                message = json.loads(frame)
                channels[message["channel"]].messages.put(message)

    def _send(self, msg_type: str, content: Message, channel: str = "shell") -> str:
        message = request_message(msg_type, content, channel)
        self.ws.send(json.dumps(message))
        return str(message["header"]["msg_id"])

    def execute(
        self,
        code: str,
        silent: bool = False,
        store_history: bool = True,
        user_expressions: Message | None = None,
        allow_stdin: bool = False,
        stop_on_error: bool = True,
    ) -> str:
        content = {
            "code": code,
            "silent": silent,
            "store_history": store_history,
            "user_expressions": user_expressions or {},
            "allow_stdin": allow_stdin,
            "stop_on_error": stop_on_error,
        }
        return self._send("execute_request", content)

    def complete(self, code: str, cursor_pos: int | None = None) -> str:
        cursor = len(code) if cursor_pos is None else cursor_pos
        return self._send("complete_request", {"code": code, "cursor_pos": cursor})

    def inspect(self, code: str, cursor_pos: int | None = None, detail_level: int = 0) -> str:
        cursor = len(code) if cursor_pos is None else cursor_pos
        content = {"code": code, "cursor_pos": cursor, "detail_level": detail_level}
        return self._send("inspect_request", content)

    def history(
        self, raw: bool = True, output: bool = False, hist_access_type: str = "range", **kw: Any
    ) -> str:
        content = {"raw": raw, "output": output, "hist_access_type": hist_access_type, **kw}
        return self._send("history_request", content)

    def is_complete(self, code: str) -> str:
        return self._send("is_complete_request", {"code": code})

    def kernel_info(self) -> str:
        return self._send("kernel_info_request", {})

    def get_shell_msg(self, timeout: float | None = None) -> Message:
        return self.shell_channel.get_msg(timeout)

    def get_iopub_msg(self, timeout: float | None = None) -> Message:
        return self.iopub_channel.get_msg(timeout)

    def stop_channels(self) -> None:
        self.ws.close()
        self.reader.join(10)


class RemoteKernel:
    """The ``KernelManager`` half: a kernel started and shut down through the REST API."""

    def __init__(self, url: str, token: str, name: str = "python3") -> None:
        self.url = url
        self.token = token
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"token {token}"}, timeout=30
        )
        response = self.http.post("/api/kernels", json={"name": name})
        response.raise_for_status()
        self.kernel_id: str = response.json()["id"]

    def client(self) -> WebSocketKernelClient:
        return WebSocketKernelClient(self.url, self.token, self.kernel_id)

    def shutdown_kernel(self) -> None:
        self.http.delete(f"/api/kernels/{self.kernel_id}").raise_for_status()
        self.http.close()
