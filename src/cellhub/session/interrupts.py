"""SIGINT for a session: KeyboardInterrupt in user code, never in the session's own machinery.

The worker interrupts a kernel by sending SIGINT to the session's process group.
While no cell runs, the signal is ignored. While one runs, the handler raises
KeyboardInterrupt — unless the main thread is inside one of the session's
*critical* modules (queueing a frame, coalescing output, reading the socket),
where an exception could lose or duplicate a message. Then the interrupt is
remembered, and :meth:`InterruptGate.retry` (called by the output flusher every
few milliseconds) signals the main thread again until it lands in user code.
*Safe points* are functions that block without holding any state, such as the
wait for an ``input_reply``; the interrupt is raised there directly.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable
from types import CodeType, FrameType


def block_interrupts_in_this_thread() -> None:
    """Keep SIGINT away from a helper thread, so the kernel delivers it to the main thread.

    A process-directed signal goes to any thread that does not block it; if a helper
    thread took it, a main thread blocked in a system call would never notice.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


class InterruptGate:
    """Decides, at each SIGINT, whether KeyboardInterrupt may be raised right now."""

    def __init__(self, critical_files: Iterable[str], safe_points: Iterable[CodeType]) -> None:
        self.critical_files = frozenset(critical_files)
        self.safe_points = frozenset(safe_points)
        self.running = False
        self.pending = False
        self._main = threading.main_thread().ident

    def install(self) -> None:
        """Install the handler; must be called from the main thread."""
        signal.signal(signal.SIGINT, self._handle)

    def enter_user_code(self) -> None:
        self.pending = False
        self.running = True

    def leave_user_code(self) -> None:
        self.running = False
        self.pending = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not self.running:
            return
        if frame is not None and frame.f_code not in self.safe_points and self._critical(frame):
            self.pending = True
            return
        self.pending = False
        raise KeyboardInterrupt

    def _critical(self, frame: FrameType | None) -> bool:
        while frame is not None:
            if frame.f_code.co_filename in self.critical_files:
                return True
            frame = frame.f_back
        return False

    def retry(self) -> None:
        """Re-deliver a deferred interrupt to the main thread (called from another thread)."""
        if self.pending and self.running and self._main is not None:
            signal.pthread_kill(self._main, signal.SIGINT)
