"""The worker↔session frames: a kernel's Jupyter messages in and out of its session.

Length-prefixed msgpack over the socketpair the template hands the worker
(:mod:`cellhub.protocol.framing`). This module is the only code that knows the frames'
names and positions; the one other frame a session sends, a line for the service's log,
is in :mod:`cellhub.protocol.diagnostics`.

worker → session
    :func:`init` once, claiming a spare for a kernel; then :func:`session_input` per
    client message (the client's JSON as the hub checked it).
session → worker
    :func:`session_output` per Jupyter message, its JSON built once by the session;
    ``state`` repeats an iopub status's ``execution_state`` so that neither worker nor
    hub parses the JSON to track it.

A session is untrusted: :func:`read_session_output` checks every field of what it sends.
"""

from __future__ import annotations

from typing import Any, TypedDict

from cellhub.protocol import framing
from cellhub.protocol.jupyter import CHANNELS

_INIT = "init"
_MESSAGE = "msg"


class SessionInit(TypedDict, total=False):
    """What a claimed session is told: who it is and its output settings."""

    kernel_id: str
    session_id: str
    username: str
    output_cap: int
    flush_interval: float
    max_stream_chunk: int


class ProtocolViolation(Exception):
    """A session sent a frame that is not a well-formed output message."""


def init(settings: SessionInit) -> list[Any]:
    """The frame that claims a spare session for a kernel."""
    return [_INIT, settings]


def read_init(frame: Any) -> SessionInit | None:
    """The settings of an init frame; None for any other frame."""
    if isinstance(frame, list) and len(frame) == 2 and frame[0] == _INIT:
        settings = frame[1]
        if isinstance(settings, dict):
            return settings  # type: ignore[return-value]  # the worker's own, checked on use
    return None


def session_input(channel: str, data: bytes) -> list[Any]:
    """A Jupyter message (JSON) for the session, on ``channel``."""
    return [_MESSAGE, channel, data]


def read_session_input(frame: Any) -> tuple[str, bytes] | None:
    """The channel and JSON of a message for the session; None for any other frame."""
    if isinstance(frame, list) and len(frame) == 3 and frame[0] == _MESSAGE:
        return str(frame[1]), frame[2]
    return None


def session_output(channel: str, msg_type: str, data: bytes, state: str | None) -> bytes:
    """One encoded frame (length prefix included) carrying a message the session sends."""
    return framing.encode([_MESSAGE, channel, msg_type, data, state])


def read_session_output(frame: Any) -> tuple[str, str, bytes, str | None]:
    """Channel, msg_type, JSON and state of a session's message; raises
    :class:`ProtocolViolation` for anything else."""
    if not (isinstance(frame, list) and len(frame) == 5 and frame[0] == _MESSAGE):
        raise ProtocolViolation("malformed frame")
    _, channel, msg_type, data, state = frame
    if channel not in CHANNELS or not isinstance(msg_type, str) or not isinstance(data, bytes):
        raise ProtocolViolation("malformed message frame")
    if state is not None and not isinstance(state, str):
        raise ProtocolViolation("malformed state")
    return channel, msg_type, data, state
