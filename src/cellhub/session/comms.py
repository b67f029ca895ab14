"""Jupyter comms in a session: the ``comm`` package's CommManager, bound to the session's output.

ipywidgets (and any library built on ``comm``) asks ``comm.create_comm`` for a comm
and ``comm.get_comm_manager`` for the manager that routes the frontend's messages.
:func:`install_comms` replaces both, as ipykernel does, before any such library is
imported in the template: every comm a session opens is a :class:`SessionComm`
whose messages go out on iopub through the shell's publisher, with the parent of
the request being handled.

Binary ``buffers`` travel inside cellhub as base64 strings in the message's JSON
``buffers`` list. A message that carries any also has the top-level key
``"cellhub_binary": true``, from which the hub knows to send it to the browser in
Jupyter's binary WebSocket framing (see :mod:`cellhub.protocol.wsbinary`).
Incoming buffers arrive the same way (the hub converts binary frames) and are
decoded to ``memoryview`` objects, as ipykernel hands them to widgets.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import comm
import orjson
from comm.base_comm import BaseComm, CommManager

from cellhub.protocol import session_frames
from cellhub.session import messages
from cellhub.session.inbox import Inbox
from cellhub.session.outbox import Publisher

if TYPE_CHECKING:
    from cellhub.session.shell import CellShell

#: The key the hub looks for (as these exact bytes) to send a message in binary framing.
BINARY_MARK = "cellhub_binary"


class CommChannel:
    """Where comm messages go: the publisher of the session the shell serves.

    In the template the shell has no publisher yet and messages are dropped; a
    comm created there (none should be) would be silent.
    """

    def __init__(self, shell: CellShell) -> None:
        self.shell = shell
        self.manager = CommManager()

    def send(
        self,
        msg_type: str,
        content: dict[str, Any],
        metadata: dict[str, Any],
        buffers: Sequence[Any] | None,
    ) -> None:
        publisher = self.shell.publisher
        if publisher is None:
            return
        if not buffers:
            publisher.publish(msg_type, content, metadata)
            return
        publisher.flush_streams()
        publisher.outbox.put(binary_frame(publisher, msg_type, content, metadata, buffers))


def binary_frame(
    publisher: Publisher,
    msg_type: str,
    content: dict[str, Any],
    metadata: dict[str, Any],
    buffers: Sequence[Any],
) -> bytes:
    """One session frame for an iopub message with buffers (base64, marked for the hub)."""
    message = publisher.factory.message(
        "iopub", msg_type, content, publisher.output_parent, metadata
    )
    message["buffers"] = [base64.b64encode(bytes(b)).decode("ascii") for b in buffers]
    message[BINARY_MARK] = True
    data = messages.dumps(message)
    if b'"cellhub_binary":true' not in data:  # json's fallback encoder puts spaces in
        data = data.replace(b'"cellhub_binary": true', b'"cellhub_binary":true')
    return session_frames.session_output("iopub", msg_type, data, None)


class SessionComm(BaseComm):
    """A comm whose messages leave through :attr:`channel` (set by :func:`install_comms`)."""

    channel: CommChannel | None = None

    def publish_msg(
        self,
        msg_type: str,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: list[bytes] | None = None,
        **keys: Any,
    ) -> None:
        channel = SessionComm.channel
        if channel is None:
            return
        content = {"data": {} if data is None else data, "comm_id": self.comm_id, **keys}
        channel.send(msg_type, content, {} if metadata is None else metadata, buffers)


class KernelHandle:
    """What libraries written for ipykernel look for as ``get_ipython().kernel``.

    ipywidgets' Output widget needs a kernel to exist and asks it for the parent
    request its output belongs to.
    """

    def __init__(self, channel: CommChannel) -> None:
        self.channel = channel
        self.comm_manager = channel.manager

    def get_parent(self, channel: str = "shell") -> dict[str, Any]:
        return self.channel.shell.get_parent()


def install_comms(shell: CellShell) -> CommChannel:
    """Make ``comm`` (and so ipywidgets) create session comms and use one manager."""
    channel = CommChannel(shell)
    SessionComm.channel = channel

    def create_comm(*args: Any, **kwargs: Any) -> BaseComm:
        return SessionComm(*args, **kwargs)

    def get_comm_manager() -> CommManager:
        return channel.manager

    comm.create_comm = create_comm
    comm.get_comm_manager = get_comm_manager
    shell.kernel = KernelHandle(channel)
    return channel


def with_decoded_buffers(msg: dict[str, Any]) -> dict[str, Any]:
    """The message with its base64 ``buffers`` as ``memoryview`` objects."""
    raw = msg.get("buffers") or []
    msg["buffers"] = [memoryview(base64.b64decode(b)) for b in raw if isinstance(b, str)]
    return msg


def comm_info(manager: CommManager, content: dict[str, Any]) -> dict[str, Any]:
    """The ``comm_info_reply`` content: open comms, optionally of one target."""
    target = content.get("target_name")
    comms = {
        comm_id: {"target_name": c.target_name}
        for comm_id, c in manager.comms.items()
        if target is None or c.target_name == target
    }
    return {"status": "ok", "comms": comms}


def state_update(msg: dict[str, Any]) -> tuple[str, frozenset[str]] | None:
    """``(comm_id, state keys)`` of a widget state update without buffers, else ``None``."""
    if msg.get("header", {}).get("msg_type") != "comm_msg" or msg.get("buffers"):
        return None
    content = msg.get("content") or {}
    data = content.get("data") or {}
    state = data.get("state")
    if data.get("method") != "update" or data.get("buffer_paths") or not isinstance(state, dict):
        return None
    return str(content.get("comm_id")), frozenset(state)


def supersedes(later: dict[str, Any], earlier: dict[str, Any]) -> bool:
    """Whether applying ``later`` alone leaves a widget as applying both would.

    True when both are buffer-less state updates of one comm and ``later`` sets
    every key ``earlier`` sets: a slider's ``{"value": …}`` updates, for example.
    """
    a, b = state_update(later), state_update(earlier)
    return a is not None and b is not None and a[0] == b[0] and b[1] <= a[1]


def coalesce(msg: dict[str, Any], inbox: Inbox, publisher: Publisher) -> dict[str, Any]:
    """Skip widget state updates that later ones waiting in the inbox make stale.

    While a slider moves, its updates queue up behind a slow re-run. When the next
    waiting frames update the same widget's same keys, each superseded message only
    gets its ``idle`` (ipywidgets' frontend counts those to throttle itself) and the
    latest is handled instead, so the function runs once for the value the slider
    settled on. Only an unbroken run of such updates at the head of the queue is
    merged: nothing is reordered. Returns the message to handle.
    """
    waiting = inbox.deferred
    waiting.extend(inbox.read_available())
    while waiting:
        message = session_frames.read_session_input(waiting[0])
        if message is None or message[0] != "shell":
            break
        later = orjson.loads(message[1])
        if not supersedes(later, msg):
            break
        waiting.popleft()
        publisher.status("idle")
        msg = later
        publisher.parent = msg["header"]
        publisher.status("busy")
    return msg
