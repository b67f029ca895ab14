"""The worker's side of the template process: spawn it, ask for forks, hear about exits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

from cellhub.log_records import service_logger
from cellhub.protocol import template_control

log = service_logger(__name__)

#: Seconds a template may take to import everything and warm up before it counts as failed.
TEMPLATE_START_TIMEOUT = 60.0
#: The worker's own descriptor 2, whatever ``sys.stderr`` is now: the service's log.
STDERR = 2


class TemplateError(RuntimeError):
    """The template process could not be started or died."""


class TemplateClient:
    """Owns one template process and its SEQPACKET control socket.

    ``on_forked(pid, sock)``, ``on_exited(pid, code, limits)``, ``on_lost()`` and
    ``on_fork_failed(why)`` are called from the event loop as the template reports.
    """

    def __init__(
        self,
        settings: dict[str, Any],
        on_forked: Callable[[int, socket.socket], None],
        on_exited: Callable[[int, int, frozenset[str]], None],
        on_lost: Callable[[], None],
        environment: dict[str, str],
        on_fork_failed: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        #: What the template is executed with, and so what every session's /proc/self/environ
        #: shows (see cellhub.sandbox.environment).
        self.environment = environment
        self.on_forked = on_forked
        self.on_exited = on_exited
        self.on_lost = on_lost
        self.on_fork_failed = on_fork_failed
        self.process: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None
        self.description = ""
        self._ready: asyncio.Future[str] | None = None
        #: Messages the socket had no room for yet (a burst of kills while the template is
        #: busy reaping), sent in order as it drains.
        self._unsent: deque[bytes] = deque()
        #: One future per ``signal`` or ``limit_memory`` request, oldest first: the template
        #: answers them in order.
        self._answers: deque[asyncio.Future[None]] = deque()

    async def start(self, timeout: float = TEMPLATE_START_TIMEOUT) -> str:
        """Spawn the template and wait until it has imported everything; return its sandbox line."""
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-P",  # keep the working directory off sys.path: sessions must not see it
                "-m",
                "cellhub.template.process",
                "--control-fd",
                str(theirs.fileno()),
                "--parent",
                str(os.getpid()),
                "--settings",
                orjson.dumps(self.settings).decode(),
            ],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            # The worker's stdout carries its JSON lines to ``cellhub serve``: a stray line
            # from the template, or anything it imports, would be read as one of them.
            stdout=STDERR,
            cwd="/",
            env=self.environment,
        )
        theirs.close()
        ours.setblocking(False)
        self.control = ours
        self._ready = loop.create_future()
        loop.add_reader(ours.fileno(), self._on_readable)
        try:
            self.description = await asyncio.wait_for(self._ready, timeout)
        except (TimeoutError, TemplateError):
            self.stop()
            raise
        return self.description

    def _on_readable(self) -> None:
        assert self.control is not None
        try:
            data, fds, _flags, _addr = socket.recv_fds(
                self.control, template_control.MAX_CONTROL_MESSAGE, 4
            )
        except BlockingIOError:
            return
        except OSError:
            data, fds = b"", []
        if not data:
            self._lost()
            return
        template_control.read_template_report(data, fds, self)

    def ready(self, description: str) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(description)

    def forked(self, pid: int, fds: list[int]) -> None:
        for extra in fds[1:]:
            os.close(extra)
        if fds:
            self.on_forked(pid, socket.socket(fileno=fds[0]))

    def exited(self, pid: int, code: int, limits: frozenset[str]) -> None:
        self.on_exited(pid, code, limits)

    def signalled(self, pid: int) -> None:
        """A signal asked for was sent: answers are in the order of the requests."""
        self._answered()

    def limited(self, pid: int) -> None:
        """A memory limit asked for was set."""
        self._answered()

    def _answered(self) -> None:
        if self._answers:
            done = self._answers.popleft()
            if not done.done():
                done.set_result(None)

    def error(self, text: str) -> None:
        """The template could not fork a session it was asked for."""
        log.error("template: %s", text)
        if self.on_fork_failed is not None:
            self.on_fork_failed(text)

    def _lost(self) -> None:
        self._detach()
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(TemplateError("the template process exited while starting"))
            return
        self.on_lost()

    def _detach(self) -> None:
        if self.control is not None:
            loop = asyncio.get_running_loop()
            loop.remove_reader(self.control.fileno())
            loop.remove_writer(self.control.fileno())
            self.control.close()
            self.control = None
        self._unsent.clear()
        self._forget_answers()

    def _forget_answers(self) -> None:
        """The template is gone, and its sessions with it: no request is still to be done."""
        while self._answers:
            done = self._answers.popleft()
            if not done.done():
                done.set_result(None)

    def send(self, message: bytes) -> None:
        """Send now, or as soon as the socket has room: never drop, never block the loop."""
        if self.control is None:
            return
        self._unsent.append(message)
        if len(self._unsent) == 1:
            self._flush()

    def _flush(self) -> None:
        assert self.control is not None
        loop = asyncio.get_running_loop()
        while self._unsent:
            try:
                self.control.send(self._unsent[0])
            except BlockingIOError:
                loop.add_writer(self.control.fileno(), self._flush)
                return
            except OSError:
                self._lost()
                return
            self._unsent.popleft()
        loop.remove_writer(self.control.fileno())

    def fork(self, spare: bool = True) -> None:
        self.send(template_control.fork(spare))

    def signal(self, pid: int, signum: int) -> asyncio.Future[None]:
        """Have the template signal ``pid``'s process group; the future is done once it has.

        Until then the signal may wait behind forks in the template's queue. A caller that
        tells a client "interrupted" before it is done lets the signal land later, in
        whatever the client runs next.
        """
        return self._ask(template_control.signal(pid, signum))

    def limit_memory(self, pid: int, limit: int) -> asyncio.Future[None]:
        """Have the template lower session ``pid``'s memory limit; done once it has."""
        return self._ask(template_control.limit_memory(pid, limit))

    def _ask(self, request: bytes) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.control is None:
            done.set_result(None)
            return done
        self._answers.append(done)
        self.send(request)
        return done

    def kill(self, pid: int) -> None:
        self.send(template_control.kill(pid))

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the template to kill its sessions and exit; kill it if it does not."""
        if self.control is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().remove_reader(self.control.fileno())
                asyncio.get_running_loop().remove_writer(self.control.fileno())
            self.control.close()
            self.control = None
        self._unsent.clear()
        self._forget_answers()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
