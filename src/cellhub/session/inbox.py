"""The way in: frames from the worker, read by the main thread, with a queue of deferred ones.

Frames that arrive while a cell waits for ``input_reply``, or that are drained
after an error, are kept in :attr:`Inbox.deferred` and handled first afterwards.
Bytes received are appended to the buffer before anything else happens, so an
interrupt can only ever land in :meth:`Inbox.wait_readable`, where nothing has
been consumed yet (it is the interrupt gate's safe point).
"""

from __future__ import annotations

import os
import select
import signal
import socket
from collections import deque
from typing import Any

from cellhub.protocol import framing

RECV_SIZE = 256 * 1024


class Inbox:
    """Splits the byte stream from the worker into decoded frames."""

    def __init__(self, sock: socket.socket, max_frame: int = framing.DEFAULT_MAX_FRAME) -> None:
        self.sock = sock
        self.max_frame = max_frame
        self.buf = bytearray()
        self.deferred: deque[Any] = deque()
        self._poller = select.poll()
        self._poller.register(sock.fileno(), select.POLLIN)
        self._wakeup = -1

    def wake_on_signals(self) -> None:
        """Make :meth:`wait_readable` return to Python whenever a signal arrives.

        Without this, a SIGINT that lands just before ``poll`` blocks would only be
        handled when the next frame arrives: its C handler sets a flag, but nothing
        interrupts the wait. With it, the C handler also writes to a pipe we poll.
        """
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        self._wakeup = r
        self._poller.register(r, select.POLLIN)

    def next(self) -> Any:
        """The next frame to handle: deferred ones first; blocks; ``EOFError`` at end."""
        if self.deferred:
            return self.deferred.popleft()
        return self.read()

    def read(self, interruptible: bool = False) -> Any:
        """Read one frame from the socket, ignoring the deferred queue."""
        while True:
            frame = framing.take_frame(self.buf, self.max_frame)
            if frame is not framing.INCOMPLETE:
                return frame
            if interruptible:
                self.wait_readable()
            self._fill(0)

    def read_available(self) -> list[Any]:
        """Every complete frame that can be read without blocking."""
        frames = []
        try:
            while True:
                frame = framing.take_frame(self.buf, self.max_frame)
                if frame is framing.INCOMPLETE:
                    self._fill(socket.MSG_DONTWAIT)
                else:
                    frames.append(frame)
        except BlockingIOError:
            pass
        return frames

    def wait_readable(self) -> None:
        """Block until the socket is readable; the interrupt gate's one safe point."""
        sock_fd = self.sock.fileno()
        while True:
            ready = [fd for fd, _ in self._poller.poll()]
            if sock_fd in ready:
                return
            try:  # noqa: SIM105 - an interrupt must land in this frame, not in contextlib
                os.read(self._wakeup, 512)  # a signal arrived; its handler has run
            except BlockingIOError:
                pass

    def _fill(self, flags: int) -> None:
        data = self.sock.recv(RECV_SIZE, flags)
        if not data:
            raise EOFError("the worker closed the session's socket")
        self.buf += data
