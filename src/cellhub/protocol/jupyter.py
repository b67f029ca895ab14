"""Jupyter messages that the hub and the worker compose themselves.

Sessions build their own messages; the hub and worker only need a few: replies
to malformed requests, status changes a dead session cannot send, and the
replies to interrupt and shutdown requests which they handle without the session.
See https://jupyter-client.readthedocs.io/en/stable/messaging.html (protocol 5.3).

Every message is shaped as Jupyter Server sends it over a WebSocket: top-level
``msg_id`` and ``msg_type`` beside ``header`` (clients such as jupyter-kernel-client
read them there), and a header ``date`` in UTC ending in ``Z``. Messages the hub and
worker make carry the ``session`` of the kernel's current session process, because
JupyterLab drops messages from any other session as left over from an earlier kernel.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson

PROTOCOL_VERSION = "5.3"
#: orjson encodes at most 255 levels of nesting. What a client sends must leave room for
#: the levels that the hub, worker and session put around it (a reply's ``parent_header``,
#: a widget's echoed state, a page's configuration), or encoding those fails.
NESTING_MARGIN = 16
CHANNELS = frozenset({"shell", "control", "stdin", "iopub"})
CLIENT_CHANNELS = frozenset({"shell", "control", "stdin"})

#: Message types a client may send, as listed in the messaging spec.
CLIENT_MSG_TYPES = frozenset(
    {
        "execute_request",
        "inspect_request",
        "complete_request",
        "history_request",
        "is_complete_request",
        "comm_info_request",
        "kernel_info_request",
        "shutdown_request",
        "interrupt_request",
        "debug_request",
        "usage_request",
        "comm_open",
        "comm_msg",
        "comm_close",
        "input_reply",
    }
)


def fits_in_a_message(value: Any) -> bool:
    """Whether ``value`` (decoded JSON) still encodes with ``NESTING_MARGIN`` levels around it."""
    for _ in range(NESTING_MARGIN):
        value = [value]
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError:
        return False
    return True


def utc_now() -> str:
    """The time as Jupyter Server writes a header's ``date``: ``2026-01-31T12:00:00.123456Z``."""
    return dt.datetime.now(dt.UTC).isoformat()[:-6] + "Z"


def header(
    msg_type: str, session: str, msg_id: str = "", username: str = "cellhub"
) -> dict[str, Any]:
    """A message header; ``msg_id`` defaults to a random one."""
    return {
        "msg_id": msg_id or uuid.uuid4().hex,
        "session": session,
        "username": username,
        "date": utc_now(),
        "msg_type": msg_type,
        "version": PROTOCOL_VERSION,
    }


def message(
    channel: str,
    msg_type: str,
    content: dict[str, Any],
    parent: dict[str, Any] | None,
    session: str,
) -> bytes:
    """Return one complete message as JSON bytes, ready for a WebSocket text frame."""
    head = header(msg_type, session)
    return orjson.dumps(
        {
            "header": head,
            "msg_id": head["msg_id"],
            "msg_type": msg_type,
            "parent_header": parent or {},
            "metadata": {},
            "content": content,
            "buffers": [],
            "channel": channel,
        }
    )


def status(
    state: str, session: str, parent: dict[str, Any] | None = None, reason: str = ""
) -> bytes:
    content: dict[str, Any] = {"execution_state": state}
    if reason:
        content["reason"] = reason
    return message("iopub", "status", content, parent, session)


def reply_type(msg_type: str) -> str | None:
    """``foo_request`` → ``foo_reply``; None where the protocol defines no reply."""
    return msg_type[: -len("_request")] + "_reply" if msg_type.endswith("_request") else None


def error_content(ename: str, evalue: str) -> dict[str, Any]:
    return {"status": "error", "ename": ename, "evalue": evalue, "traceback": []}


# --- A client's message, checked before it goes to a kernel (the hub's WebSocket bridge) ---


class InvalidMessage(Exception):
    """A client's message that no kernel should see; ``channel`` and ``header`` (as far as
    they could be read) address the error reply."""

    def __init__(
        self, evalue: str, channel: str = "iopub", header: dict[str, Any] | None = None
    ) -> None:
        super().__init__(evalue)
        self.channel = channel
        self.header = header or {}


def parse_client_message(text: str) -> tuple[str, str, dict[str, Any]]:
    """Check a client's message; return its channel, msg_type and header."""
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage(f"message is not valid JSON: {exc}") from exc
    if not isinstance(msg, dict):
        raise InvalidMessage("message must be a JSON object")
    if not fits_in_a_message(msg):
        raise InvalidMessage("message is nested too deeply")
    header = msg.get("header")
    if not isinstance(header, dict):
        raise InvalidMessage("message has no header object")
    msg_id, msg_type = header.get("msg_id"), header.get("msg_type")
    if not isinstance(msg_id, str) or not msg_id or not isinstance(msg_type, str) or not msg_type:
        raise InvalidMessage("header needs string fields msg_id and msg_type", header=header)
    channel = msg.get("channel") or "shell"
    if channel not in CLIENT_CHANNELS:
        raise InvalidMessage(f"unknown channel {channel!r}", header=header)
    if not isinstance(msg.get("content", {}), dict):
        raise InvalidMessage("content must be a JSON object", channel, header)
    return channel, msg_type, header


def error_reply(exc: InvalidMessage, session: str) -> bytes:
    """The answer to a malformed message, in the kernel's ``session``: the request's error
    reply where the protocol has one, else an iopub ``error``."""
    reply = reply_type(str(exc.header.get("msg_type", "")))
    content = error_content("InvalidMessage", str(exc))
    if reply and exc.channel in CLIENT_CHANNELS:
        return message(exc.channel, reply, content, exc.header, session)
    return message("iopub", "error", content, exc.header, session)
