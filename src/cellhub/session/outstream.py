"""A session's stdout and stderr: coalesced by time and size into ``stream`` messages.

``sys.stdout`` and ``sys.stderr`` become ``io.TextIOWrapper`` objects over
:class:`StreamRaw`, so ``print`` runs in C and reaches Python code only once per
8 KiB while a cell runs (``write_through`` is off then; the flusher thread moves
the wrapper's pending text out every ``flush_interval``). Between cells, writes
from background threads go straight through and are sent ``flush_interval``
after the first one. Writes to file descriptors 1 and 2 (C code, ``os.write``,
subprocesses) arrive through pipes read by :class:`FdCapture` into the same sink.

The sink holds at most ``max_chunk`` unsent bytes: a write that would exceed it
sends full chunks first, blocking while the outbox is full. Each cell may emit at
most ``cap`` bytes of stream text; beyond that one stderr notice says so and the
rest of the cell's stream output is dropped.
"""

from __future__ import annotations

import codecs
import io
import os
import select
import threading
import time
from typing import TYPE_CHECKING

from cellhub.session.interrupts import InterruptGate, block_interrupts_in_this_thread
from cellhub.session.outbox import Publisher

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

STREAMS = ("stdout", "stderr")


def truncation_notice(cap: int) -> str:
    return (
        f"\n[cellhub] Output truncated: this cell wrote more than {cap} bytes to stdout/stderr, "
        "and the rest of its output was dropped. The limit is the `output_cap` setting "
        "of the cellhub configuration.\n"
    )


class StreamSink:
    """Coalesces the bytes of both streams, in the order they were written, into messages."""

    def __init__(
        self,
        publisher: Publisher,
        gate: InterruptGate,
        flush_interval: float,
        max_chunk: int,
        cap: int,
    ) -> None:
        self.publisher = publisher
        self.gate = gate
        self.flush_interval = flush_interval
        self.max_chunk = max_chunk
        self.cap = cap
        self.lock = threading.RLock()
        self.name = "stdout"
        self.buf = bytearray()
        self.decoders = {name: codecs.getincrementaldecoder("utf-8")("replace") for name in STREAMS}
        self.wrappers: dict[str, io.TextIOWrapper] = {}
        self.cell_bytes = 0
        self.truncated = False
        self.cell_running = False
        self._active = threading.Event()
        self._active_set = False
        self._thread = threading.Thread(target=self._run, name="cellhub-flusher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def text_stream(self, name: str, fd: int) -> io.TextIOWrapper:
        """A text stream writing into this sink as ``name``; ``fileno()`` is ``fd``."""
        wrapper = io.TextIOWrapper(
            StreamRaw(self, name, fd),
            encoding="utf-8",
            errors="backslashreplace",
            write_through=True,
        )
        self.wrappers[name] = wrapper
        return wrapper

    # -- cells ----------------------------------------------------------------
    def start_cell(self) -> None:
        with self.lock:
            self.flush()
            self.cell_bytes = 0
            self.truncated = False
            self.cell_running = True
            if "stdout" in self.wrappers:
                self.wrappers["stdout"].reconfigure(write_through=False)
            self._wake()

    def end_cell(self) -> None:
        with self.lock:
            self.cell_running = False
            if "stdout" in self.wrappers:
                self.wrappers["stdout"].reconfigure(write_through=True)
            self.flush()

    # -- writing ----------------------------------------------------------------
    def write(self, name: str, data: bytes, from_fd: bool = False) -> None:
        """Append ``data`` written to stream ``name``; sends full chunks at once.

        Bytes that come through a file descriptor were most likely written after
        the text still pending in the stream's wrapper, so that text goes first.
        """
        with self.lock:
            if self.truncated:
                return
            if from_fd and name in self.wrappers:
                self.wrappers[name].flush()
            if name != self.name:
                if name == "stderr" and "stdout" in self.wrappers:
                    self.wrappers["stdout"].flush()  # stdout text written before goes first
                if self.buf:
                    self._emit()
                self.name = name
            room = self.cap - self.cell_bytes
            over = len(data) > room
            view = memoryview(data)[:room] if over else memoryview(data)
            self.cell_bytes += len(view)
            while len(self.buf) + len(view) >= self.max_chunk:
                take = self.max_chunk - len(self.buf)
                self.buf += view[:take]
                view = view[take:]
                self._emit()
            self.buf += view
            if over:
                self._truncate()
            elif self.buf and not self._active_set:
                self._wake()

    def flush(self) -> None:
        """Send everything written so far, including text pending in the wrappers."""
        with self.lock:
            for wrapper in self.wrappers.values():
                wrapper.flush()
            if self.buf:
                self._emit()
            if not self.cell_running and self._active_set:
                self._active_set = False
                self._active.clear()

    def _wake(self) -> None:
        self._active_set = True
        self._active.set()

    def _emit(self) -> None:
        text = self.decoders[self.name].decode(bytes(self.buf))
        self.buf.clear()
        if text:
            self._send(self.name, text)

    def _send(self, name: str, text: str) -> None:
        publisher = self.publisher
        publisher.send(
            "iopub", "stream", {"name": name, "text": text}, parent=publisher.output_parent
        )

    def _truncate(self) -> None:
        if self.buf:
            self._emit()
        for decoder in self.decoders.values():
            decoder.reset()
        self.truncated = True
        self._send("stderr", truncation_notice(self.cap))

    def _run(self) -> None:
        block_interrupts_in_this_thread()
        while True:
            self._active.wait()
            time.sleep(self.flush_interval)
            self.gate.retry()
            self.flush()
            self.publisher.outbox.release()


class StreamRaw(io.RawIOBase):
    """The binary layer under ``sys.stdout``/``sys.stderr``: hands bytes to the sink."""

    def __init__(self, sink: StreamSink, name: str, fd: int) -> None:
        super().__init__()
        self.sink = sink
        self.name = name
        self.fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return False

    def write(self, b: ReadableBuffer) -> int:
        data = bytes(b)
        self.sink.write(self.name, data)
        return len(data)


class FdCapture:
    """Redirects file descriptors 1 and 2 into pipes and feeds what arrives to the sink."""

    def __init__(self, sink: StreamSink) -> None:
        self.sink = sink
        self.lock = threading.Lock()
        self.pipes: dict[int, str] = {}
        for fd, name in ((1, "stdout"), (2, "stderr")):
            r, w = os.pipe()
            os.dup2(w, fd)
            os.close(w)
            os.set_blocking(r, False)
            self.pipes[r] = name
        self._thread = threading.Thread(target=self._run, name="cellhub-fds", daemon=True)
        #: For :meth:`drain`: the reader thread's own poll object cannot be shared with it.
        self._pending = select.poll()
        for r in self.pipes:
            self._pending.register(r, select.POLLIN)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        block_interrupts_in_this_thread()
        poller = select.poll()
        for r in self.pipes:
            poller.register(r, select.POLLIN)
        while True:
            for r, _ in poller.poll():
                with self.lock:
                    self._read(r)

    def _read(self, r: int) -> bool:
        try:
            data = os.read(r, 65536)
        except BlockingIOError:
            return False
        if data:
            self.sink.write(self.pipes[r], data, from_fd=True)
        return bool(data)

    def drain(self) -> None:
        """Move everything already written to fds 1 and 2 into the sink.

        Asked after every cell: one zero-timeout poll finds the pipes with data, where a
        read of each pipe would mostly raise (and build) a BlockingIOError.
        """
        with self.lock:
            for r, _ in self._pending.poll(0):
                while self._read(r):
                    pass
