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
