"""Jupyter messages as a session emits them: one frame per message, JSON built once.

Each message leaves as a session output frame (:mod:`cellhub.protocol.session_frames`).
See https://jupyter-client.readthedocs.io/en/stable/messaging.html (5.3).
Messages are shaped as Jupyter Server sends them (see :mod:`cellhub.protocol.jupyter`):
top-level ``msg_id`` and ``msg_type``, a ``Z`` date. Both are written here, once per
message, so that the hub passes the JSON on without parsing it.
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import orjson

from cellhub.protocol import jupyter, session_frames

_ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _jsonable(obj: Any) -> Any:
    """What ``orjson`` cannot encode itself: bytes become base64 (as ipykernel does for images)."""
    if isinstance(obj, bytes | bytearray | memoryview):
        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return str(obj)


def dumps(message: dict[str, Any]) -> bytes:
    """Encode a message as JSON; lone surrogates and other oddities fall back to ``json``."""
    try:
        return orjson.dumps(message, default=_jsonable, option=_ORJSON_OPTIONS)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(message, default=_jsonable, allow_nan=False).encode()


class MessageFactory:
    """Builds complete Jupyter messages for one kernel session and encodes them as frames."""

    def __init__(self, session_id: str, username: str) -> None:
        self.session_id = session_id
        self.username = username
        self.counter = itertools.count(1)

    def header(self, msg_type: str) -> dict[str, Any]:
        # Unique without a uuid4 (an os.urandom call) per message, as jupyter_client does it:
        # the session id is random, the counter is this session's own.
        msg_id = f"{self.session_id}_{next(self.counter)}"
        return jupyter.header(msg_type, self.session_id, msg_id, self.username)

    def message(
        self,
        channel: str,
        msg_type: str,
        content: dict[str, Any],
        parent: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One whole message as a dict, with no ``buffers`` yet."""
        header = self.header(msg_type)
        return {
            "header": header,
            "msg_id": header["msg_id"],
            "msg_type": msg_type,
            "parent_header": parent,
            "metadata": metadata if metadata is not None else {},
            "content": content,
            "buffers": [],
            "channel": channel,
        }

    def frame(
        self,
        channel: str,
        msg_type: str,
        content: dict[str, Any],
        parent: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> bytes:
        """Return one encoded frame (length prefix included) carrying a whole message."""
        message = self.message(channel, msg_type, content, parent, metadata)
        state = content["execution_state"] if msg_type == "status" else None
        return session_frames.session_output(channel, msg_type, dumps(message), state)
