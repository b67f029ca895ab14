"""The one way out of a session: a bounded queue with a writer thread, and the publisher.

Every frame the session emits goes through :class:`Outbox`. A frame either leaves at
once in one non-blocking ``send`` from the thread that made it, or waits in order in
the queue, whose single thread is the only caller of the blocking ``sendall``. A
KeyboardInterrupt can never cut a frame in half: the main thread only writes in this
module, where the interrupt gate defers it (:mod:`cellhub.session.interrupts`), and a
non-blocking send is never interrupted half way. Because :meth:`Outbox.put` blocks
while ``max_queued`` bytes wait, a worker that reads slowly slows the code that prints
instead of growing the session's memory.
"""

from __future__ import annotations

import os
import socket
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from cellhub.session.interrupts import block_interrupts_in_this_thread
from cellhub.session.messages import MessageFactory

#: Bytes of encoded frames queued for the writer before producers block.
DEFAULT_MAX_QUEUED = 4 * 2**20
#: Most bytes joined into one ``sendall`` call.
MAX_BATCH = 256 * 1024


class Outbox:
    """A bounded frame queue with one writer thread; a broken socket ends the process.

    A frame put while nothing is queued or being written goes out at once from the
    caller's thread, with a non-blocking send: handing it to the writer would cost a
    thread switch and a fight for the GIL with the cell's own thread. While the
    outbox is *held* (see :meth:`hold`), frames wait so that a short request's
    messages leave together, in one write.
    """

    def __init__(self, sock: socket.socket, max_queued: int = DEFAULT_MAX_QUEUED) -> None:
        self.sock = sock
        self.max_queued = max_queued
        self._frames: deque[bytes] = deque()
        self._queued = 0
        self._held = False
        self._writing = False
        self._cond = threading.Condition(threading.Lock())
        self._thread = threading.Thread(target=self._run, name="cellhub-outbox", daemon=True)
        #: While set, frames are dropped: a spare session rehearses a request unheard.
        self.muted = False

    def start(self) -> None:
        self._thread.start()

    def put(self, frame: bytes) -> None:
        """Send or queue one encoded frame; blocks while the queue is full (backpressure)."""
        if self.muted:
            return
        with self._cond:
            while self._queued >= self.max_queued:
                self._held = False
                self._cond.notify_all()
                self._cond.wait()
            if not (self._frames or self._writing or self._held):
                frame = self._send_now(frame)
                if not frame:
                    return
            self._frames.append(frame)
            self._queued += len(frame)
            if not self._held:
                self._cond.notify_all()

    def hold(self) -> None:
        """Keep frames back until :meth:`release`, or until the queue fills up."""
        with self._cond:
            self._held = True

    def release(self) -> None:
        """Send what was held back; cheap when nothing was."""
        with self._cond:
            self._held = False
            if not self._frames or self._writing:
                return
            rest = self._send_now(b"".join(self._frames))
            self._frames.clear()
            self._queued = len(rest)
            if rest:
                self._frames.append(rest)
                self._cond.notify_all()

    def _send_now(self, data: bytes) -> bytes:
        """Write what the socket takes without blocking; return the rest."""
        try:
            sent = self.sock.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return data
        except OSError:
            os._exit(0)  # the worker closed our socket: nobody can see this session any more
        return data[sent:]

    def _take_batch(self) -> bytes:
        with self._cond:
            while not self._frames or self._held:
                self._cond.wait()
            frames = self._frames
            parts = [frames.popleft()]
            size = len(parts[0])
            while frames and size + len(frames[0]) <= MAX_BATCH:
                size += len(frames[0])
                parts.append(frames.popleft())
            self._queued -= size
            self._writing = True
            self._cond.notify_all()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _run(self) -> None:
        block_interrupts_in_this_thread()
        try:
            while True:
                self.sock.sendall(self._take_batch())
                with self._cond:
                    self._writing = False
        except OSError:
            # The worker closed our socket: nobody can see this session any more.
            os._exit(0)


class Publisher:
    """Sends messages with the right parent header, keeping stream output in order.

    ``parent`` is the header of the request being handled (replies and status);
    ``output_parent`` that of the last execute_request, which owns stream and display
    output, also from threads that print after their cell ended. ``flush_streams``
    is called before every display, result or error so text printed earlier is
    emitted earlier.
    """

    def __init__(self, factory: MessageFactory, outbox: Outbox) -> None:
        self.factory = factory
        self.outbox = outbox
        self.parent: dict[str, Any] = {}
        self.output_parent: dict[str, Any] = {}
        self.flush_streams: Callable[[], None] = lambda: None

    def send(
        self,
        channel: str,
        msg_type: str,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        parent: dict[str, Any] | None = None,
    ) -> None:
        self.outbox.put(
            self.factory.frame(
                channel, msg_type, content, self.parent if parent is None else parent, metadata
            )
        )

    def publish(
        self, msg_type: str, content: dict[str, Any], metadata: dict[str, Any] | None = None
    ) -> None:
        """Send an iopub output message of the current execution, after pending stream text."""
        self.flush_streams()
        self.send("iopub", msg_type, content, metadata, self.output_parent)

    def status(self, state: str) -> None:
        self.send("iopub", "status", {"execution_state": state})
