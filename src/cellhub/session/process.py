"""A session: the forked process that runs one Jupyter kernel's cells.

:func:`run_session` is called in the child right after the template forks it and
the sandbox is applied. It waits for the worker's ``init`` frame (a pre-forked
spare waits here until it is claimed), then handles Jupyter requests one at a
time, with ipykernel's semantics: every request is wrapped in iopub ``busy`` …
``idle``, and the ``idle`` of an execution always arrives, after errors,
interrupts and truncated output alike.

Threads (all created here, never in the template): the outbox writer, the output
flusher and the file-descriptor reader. The main thread runs the cells.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import traceback
import uuid
from collections.abc import Callable
from typing import Any, NoReturn

import comm
import orjson

from cellhub.config import Config
from cellhub.protocol import diagnostics, session_frames
from cellhub.protocol.jupyter import utc_now
from cellhub.session import comms, inbox, interrupts, introspection, messages, outbox, outstream
from cellhub.session.inbox import Inbox
from cellhub.session.interrupts import InterruptGate
from cellhub.session.outbox import Outbox, Publisher
from cellhub.session.outstream import FdCapture, StreamSink
from cellhub.session.shell import CellShell, build_shell
from cellhub.session.stdin import InputRequests

__all__ = ["build_shell", "run_session"]

_DEFAULTS = Config()
#: What a spare runs with until the worker's init frame replaces it: the settings' defaults.
DEFAULT_INIT: session_frames.SessionInit = {
    "username": "cellhub",
    "output_cap": _DEFAULTS.output_cap,
    "flush_interval": _DEFAULTS.flush_interval,
    "max_stream_chunk": _DEFAULTS.max_stream_chunk,
}
#: What a spare rehearses (see Session.warm): an execution that leaves no trace in the shell.
WARM_REQUEST = orjson.dumps(
    {
        "header": {"msg_id": "warm", "msg_type": "execute_request", "session": "warm"},
        "parent_header": {},
        "metadata": {},
        "content": {"code": "None", "silent": False, "store_history": False},
    }
)
#: Modules whose code an interrupt must not cut through (see cellhub.session.interrupts).
CRITICAL_MODULES = (inbox, interrupts, messages, outbox, outstream)

Handler = Callable[[dict[str, Any]], dict[str, Any] | None]


def run_session(shell: CellShell, sock: Any) -> NoReturn:
    """Serve one kernel over ``sock`` until the worker closes it; never returns."""
    gate = InterruptGate(
        (module.__file__ or "" for module in CRITICAL_MODULES), [Inbox.wait_readable.__code__]
    )
    gate.install()
    for start in shell.session_start:
        start()
    frames = Inbox(sock)
    frames.wake_on_signals()
    # A pre-forked spare does all it can before it is claimed: a kernel start then
    # costs only the init frame.
    session = Session(shell, sock, frames, gate, DEFAULT_INIT)
    session.warm()
    try:
        init = frames.next()
    except EOFError:
        os._exit(0)
    settings = session_frames.read_init(init)
    if settings is None:
        os._exit(1)
    session.configure({**DEFAULT_INIT, **settings})
    session.serve_forever()


class Session:
    """Dispatches the requests of one kernel to the shell and sends the replies."""

    def __init__(
        self,
        shell: CellShell,
        sock: Any,
        frames: Inbox,
        gate: InterruptGate,
        init: session_frames.SessionInit,
    ) -> None:
        self.shell = shell
        self.shell_any: Any = shell  # IPython's own methods are untyped
        self.inbox = frames
        self.gate = gate
        self.session_id = uuid.uuid4().hex
        self.outbox = Outbox(sock)
        self.publisher = Publisher(
            messages.MessageFactory(self.session_id, str(init["username"])), self.outbox
        )
        self.sink = StreamSink(
            self.publisher,
            gate,
            float(init["flush_interval"]),
            int(init["max_stream_chunk"]),
            int(init["output_cap"]),
        )
        self.publisher.flush_streams = self.sink.flush
        self.fds = FdCapture(self.sink)
        self.stdin = InputRequests(self.publisher, self.sink, frames)
        sys.stdout = self.sink.text_stream("stdout", 1)
        sys.stderr = self.sink.text_stream("stderr", 2)
        self.libc_fflush: Callable[[Any], int] = ctypes.CDLL(None).fflush
        self.allow_stdin = False
        self.abort_waiting = False
        self.reply_metadata: dict[str, Any] = {}
        manager = comm.get_comm_manager()
        self.handlers: dict[str, Handler] = {
            "execute_request": self.execute_request,
            "kernel_info_request": lambda msg: introspection.kernel_info(shell),
            "complete_request": lambda msg: self.introspect(introspection.complete, msg),
            "inspect_request": lambda msg: self.introspect(introspection.inspect, msg),
            "is_complete_request": lambda msg: introspection.is_complete(shell, msg["content"]),
            "comm_info_request": lambda msg: comms.comm_info(manager, msg["content"]),
            "history_request": lambda msg: introspection.history(shell, msg["content"]),
            "comm_open": lambda msg: self.run_comm_handler(manager.comm_open, msg),
            "comm_msg": lambda msg: self.run_comm_handler(
                manager.comm_msg, comms.coalesce(msg, self.inbox, self.publisher)
            ),
            "comm_close": lambda msg: self.run_comm_handler(manager.comm_close, msg),
        }
        self.private_caches = False
        shell.publisher = self.publisher
        # The legacy global RandomState, if the template imported it, was forked with the
        # template's state. (Touching ``numpy.random`` otherwise would import it: 6 MiB.)
        numpy_random = sys.modules.get("numpy.random")
        if numpy_random is not None:
            numpy_random.seed()
        for thread in (self.outbox, self.sink, self.fds):
            thread.start()

    def configure(self, init: session_frames.SessionInit) -> None:
        """Apply the worker's settings from the init frame that claims this session."""
        self.publisher.factory.username = str(init["username"])
        # The worker names the session, so that what it sends for the kernel carries its id.
        self.session_id = self.publisher.factory.session_id = str(
            init.get("session_id", self.session_id)
        )
        self.sink.flush_interval = float(init["flush_interval"])
        self.sink.max_chunk = int(init["max_stream_chunk"])
        self.sink.cap = int(init["output_cap"])

    def warm(self) -> None:
        """Handle a throwaway execute_request, unheard, and format a result while still a
        spare, so that the first real cell does not pay, while someone waits, for
        first-use work: copy-on-write faults in every object the request path touches,
        the first run of this process's threads, formatter set-up."""
        self.outbox.muted = True
        try:
            self.dispatch(session_frames.session_input("shell", WARM_REQUEST))
            self.shell_any.display_formatter.format(0)
        finally:
            self.outbox.muted = False
            self.publisher.parent = self.publisher.output_parent = {}

    def introspect(
        self, answer: Callable[[CellShell, dict[str, Any]], dict[str, Any]], msg: dict[str, Any]
    ) -> dict[str, Any]:
        """A completion's or an inspection's reply content. The first one points jedi's and
        parso's caches at a directory of the session's own, made only then: most sessions
        never ask, and making it at every start cost each some 120 copy-on-write faults."""
        if not self.private_caches:
            introspection.use_private_caches()
            self.private_caches = True
        return answer(self.shell, msg["content"])

    def log(self, text: str) -> None:
        """Tell the service's log, through the worker (which marks and rate-limits it)."""
        self.outbox.put(diagnostics.log_frame(text))

    def serve_forever(self) -> NoReturn:
        while True:
            try:
                frame = self.inbox.next()
            except EOFError:
                os._exit(0)
            except Exception:  # noqa: BLE001 - a desynchronised stream cannot be recovered
                self.log(f"cannot read from the worker:\n{traceback.format_exc()}")
                os._exit(1)
            try:
                self.dispatch(frame)
            except (Exception, KeyboardInterrupt):  # noqa: BLE001 - the session must live on
                self.log(f"failed to handle a frame:\n{traceback.format_exc()}")

    # -- dispatch ---------------------------------------------------------------
    @staticmethod
    def parse(frame: Any) -> tuple[str, dict[str, Any]] | None:
        message = session_frames.read_session_input(frame)
        if message is None:
            return None
        return message[0], orjson.loads(message[1])

    def dispatch(self, frame: Any) -> None:
        parsed = self.parse(frame)
        if parsed is None:
            self.log(f"discarding a malformed frame: {frame!r:.200}")
            return
        channel, msg = parsed
        header = msg["header"]
        msg_type = header["msg_type"]
        if channel == "stdin":
            return  # an input_reply that came too late: no cell is waiting for it
        publisher = self.publisher
        publisher.parent = header
        publisher.status("busy")
        waiting: list[Any] = []
        try:
            self.handle(channel, msg_type, msg)
            if self.abort_waiting:
                # What is waiting now, before the client can see this request's idle.
                waiting = [*self.inbox.deferred, *self.inbox.read_available()]
                self.inbox.deferred.clear()
        finally:
            self.abort_waiting = False
            publisher.status("idle")
            self.outbox.release()
        if waiting:
            self.abort_executions(waiting)

    def handle(self, channel: str, msg_type: str, msg: dict[str, Any]) -> None:
        handler = self.handlers.get(msg_type)
        if handler is None:
            self.log(f"unknown message type {msg_type!r}")
            return
        reply_type = msg_type[: -len("request")] + "reply" if msg_type.endswith("_request") else ""
        self.reply_metadata = {}
        try:
            content = handler(msg)
        except Exception as exc:  # noqa: BLE001 - answered with an error reply
            self.log(f"error in {msg_type}:\n{traceback.format_exc()}")
            if not reply_type:
                return
            content = {
                "status": "error",
                "ename": type(exc).__name__,
                "evalue": str(exc),
                "traceback": traceback.format_exception(exc),
            }
        if reply_type and content is not None:
            self.publisher.send(channel, reply_type, content, self.reply_metadata)

    def abort_executions(self, waiting: list[Any]) -> None:
        """After an error, answer the execute_requests that were waiting with ``aborted``.

        Other requests among them are handled afterwards, in their order.
        """
        publisher = self.publisher
        for frame in waiting:
            parsed = self.parse(frame)
            if parsed is None or parsed[1]["header"]["msg_type"] != "execute_request":
                self.inbox.deferred.append(frame)
                continue
            channel, msg = parsed
            publisher.parent = msg["header"]
            publisher.status("busy")
            metadata = {**self.metadata_now(), "status": "aborted"}
            publisher.send(channel, "execute_reply", {"status": "aborted"}, metadata)
            publisher.status("idle")

    # -- execution --------------------------------------------------------------
    def execute_request(self, msg: dict[str, Any]) -> dict[str, Any]:
        content = msg["content"]
        code = str(content.get("code", ""))
        silent = bool(content.get("silent", False))
        store_history = bool(content.get("store_history", not silent))
        shell: Any = self.shell
        publisher = self.publisher
        publisher.output_parent = publisher.parent
        metadata = self.metadata_now()
        if not silent:
            publisher.send(
                "iopub", "execute_input", {"code": code, "execution_count": shell.execution_count}
            )
        self.outbox.hold()
        self.allow_stdin = bool(content.get("allow_stdin", False))
        error = self.run_cell(code, store_history, silent)
        reply: dict[str, Any] = {"execution_count": shell.execution_count - 1}
        if error is None:
            reply["status"] = "ok"
            reply["user_expressions"] = shell.user_expressions(
                content.get("user_expressions") or {}
            )
        else:
            reply.update(
                status="error",
                ename=type(error).__name__,
                evalue=str(error),
                traceback=shell.last_traceback or [],
                user_expressions={},
                # ipykernel still sends this (for ipyparallel); clients may read it.
                engine_info={"engine_uuid": self.session_id, "engine_id": -1, "method": "execute"},
            )
            self.abort_waiting = not silent and bool(content.get("stop_on_error", True))
        reply["payload"] = shell.payload_manager.read_payload()
        shell.payload_manager.clear_payload()
        self.reply_metadata = {**metadata, "status": reply["status"]}
        return reply

    def metadata_now(self) -> dict[str, Any]:
        """An execute_reply's metadata as ipykernel starts it, when a request is taken up."""
        started = utc_now()
        return {"started": started, "dependencies_met": True, "engine": self.session_id}

    def run_cell(self, code: str, store_history: bool, silent: bool) -> BaseException | None:
        """Run one cell; return its exception, if it raised one. Output is flushed after."""
        shell: Any = self.shell
        shell.last_traceback = None
        self.sink.start_cell()
        error: BaseException | None = None
        try:
            try:
                self.gate.enter_user_code()
                with self.stdin.installed(self.allow_stdin):
                    result = shell.run_cell(code, store_history=store_history, silent=silent)
            finally:
                self.gate.leave_user_code()
            if not result.success:
                error = result.error_before_exec or result.error_in_exec
        except KeyboardInterrupt as exc:  # interrupted outside the user's code proper
            shell.showtraceback()
            error = exc
        finally:
            self.flush_output()
        return error

    def flush_output(self) -> None:
        """Move everything the cell wrote, at any level, into stream messages."""
        self.libc_fflush(None)
        for stream in (sys.__stdout__, sys.__stderr__):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
        self.fds.drain()
        self.sink.end_cell()

    # -- comms --------------------------------------------------------------------
    def run_comm_handler(self, handler: Callable[..., None], msg: dict[str, Any]) -> None:
        """Run a comm message's handler (widget callbacks: user code) like a small cell.

        Its output belongs to the comm message (ipywidgets' Output widget captures
        by that parent); afterwards output from threads goes to the last cell again.
        """
        publisher = self.publisher
        cell_parent = publisher.output_parent
        publisher.output_parent = msg["header"]
        self.sink.start_cell()
        try:
            self.gate.enter_user_code()
            try:
                handler(None, None, comms.with_decoded_buffers(msg))
            finally:
                self.gate.leave_user_code()
        except KeyboardInterrupt:
            self.shell_any.showtraceback()
        finally:
            self.flush_output()
            publisher.output_parent = cell_parent
