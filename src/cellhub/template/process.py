"""The template process: imports IPython and the preload modules once, then forks sessions.

It never runs user code. A forked session keeps no file descriptor of the host but
its socket (:func:`keep_only`) and reports a failure to start on that socket, for the
worker to log. The template is a subreaper, so processes that sessions leave
behind become its children and die with it. The worker asks it, over a
SOCK_SEQPACKET control socket, to fork sessions, to signal them and to kill
them; it answers with each new session's pid and one end of a socketpair
(passed with SCM_RIGHTS) and reports every exit. Being the sessions' parent, it
alone knows when a pid is reaped, so signals go through it and can never hit a
recycled pid.

Run as ``python -m cellhub.template.process --control-fd N --settings JSON``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import selectors
import signal
import socket
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

import orjson

from cellhub import log_records
from cellhub.kernel_kinds import KINDS
from cellhub.log_records import service_logger
from cellhub.protocol import template_control
from cellhub.protocol.diagnostics import log_frame
from cellhub.sandbox import SandboxLease, SandboxLimits, SessionSandbox, sandbox_for
from cellhub.sandbox.prctl import become_subreaper, die_with_parent, kill_children, reap_all
from cellhub.sandbox.processes import kill_until_gone
from cellhub.template import hugepages, pagemerge, scheduling

#: Under its module's name, not ``__main__`` (it runs as ``python -m``): a logger outside
#: ``cellhub`` would have none of its handlers.
log = service_logger(__spec__.name)

#: Above any descriptor a process can hold (close_range(2) takes the bound as it is).
MAX_FD = 2**31 - 1
ORPHAN_KILL_TIMEOUT = 5.0
#: Seconds the template waits, when it stops, for killed sessions to exit before it
#: releases their sandboxes anyway; the worker kills it 5 s after asking it to stop.
SHUTDOWN_REAP_TIMEOUT = 1.0


def keep_only(sock_fd: int) -> None:
    """Leave a forked session no file descriptor of the host but its socket.

    Stdin, stdout and stderr (the service's log, inherited from the worker) become
    /dev/null; the session puts its own output pipes on 1 and 2. Everything else is
    closed: the template holds no file object of its own at fork time (its control
    socket, selector and wake-up pipe are closed first), so no Python object is left
    pointing at a closed descriptor.
    """
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, sock_fd)
    os.closerange(sock_fd + 1, MAX_FD)


def send_control(sock: socket.socket, message: bytes, fds: list[int] | None = None) -> None:
    if fds:
        socket.send_fds(sock, [message], fds)
    else:
        sock.send(message)


class ForkServer:
    """Forks sandboxed sessions on request and reaps them."""

    def __init__(
        self, control: socket.socket, sandbox: SessionSandbox, shell: Any, memory: str
    ) -> None:
        self.control = control
        self.sandbox = sandbox
        self.shell = shell
        self.memory = memory
        self.leases: dict[int, SandboxLease] = {}
        self.selector: selectors.BaseSelector | None = None
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)

    def serve_forever(self) -> NoReturn:
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: self.shutdown(0))
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.selector = selector = selectors.DefaultSelector()
        selector.register(self.control, selectors.EVENT_READ, self.on_control)
        selector.register(self.wake_r, selectors.EVENT_READ, self.on_signal)
        send_control(
            self.control, template_control.ready(f"{self.sandbox.describe()}; {self.memory}")
        )
        while True:
            for key, _ in selector.select():
                key.data()

    def on_signal(self) -> None:
        try:
            while os.read(self.wake_r, 512):
                pass
        except BlockingIOError:
            pass
        self.reap()

    def reap(self) -> None:
        """Reap sessions and adopted orphans; release sandboxes; report session exits."""
        ended = False
        for pid, code in reap_all():
            lease = self.leases.pop(pid, None)
            if lease is not None:
                ended = True
                limits = self.sandbox.limits_hit(lease)
                self.sandbox.release(lease)
                send_control(self.control, template_control.exited(pid, code, limits))
        if ended:
            self.kill_orphans()

    def kill_orphans(self) -> None:
        """Kill what ended sessions left to us (their SIGCHLDs bring us back to reap them)."""

        def find() -> set[int]:
            return self.sandbox.orphans(self.leases.keys())

        if not kill_until_gone(find, ORPHAN_KILL_TIMEOUT):
            log.error("orphans of ended sessions survived SIGKILL")

    def on_control(self) -> None:
        try:
            data = self.control.recv(template_control.MAX_CONTROL_MESSAGE)
        except ConnectionResetError:  # the worker closed with a request unread: it is gone
            data = b""
        if not data:
            self.shutdown(0)
        template_control.read_worker_request(data, self)

    def kill(self, pid: int) -> None:
        self.signal_group(pid, signal.SIGKILL)

    def signal(self, pid: int, signum: int) -> None:
        """The worker's request: signal the session's group, then say it is done."""
        self.signal_group(pid, signum)
        send_control(self.control, template_control.signalled(pid))

    def limit_memory(self, pid: int, limit: int) -> None:
        """The worker's request: lower the session's memory limit, then say it is done."""
        lease = self.leases.get(pid)
        if lease is not None:
            try:
                self.sandbox.lower_memory(lease, limit)
            except OSError as exc:  # the session keeps the deployment's limit: say so
                log.error("session %d: its memory limit could not be lowered: %s", pid, exc)
        send_control(self.control, template_control.limited(pid))

    def signal_group(self, pid: int, signum: int) -> None:
        """Signal a session's whole process group, if it is still one of ours.

        SIGKILL also goes to the session itself: one forked a moment ago may not have
        called ``setsid`` yet (a spare starts under ``SCHED_IDLE`` and can wait long for
        a CPU), and then it has no group of its own to be reached through.
        """
        if pid not in self.leases:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signum)
        if signum == signal.SIGKILL:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)  # an unreaped child: the pid is still the session's

    def fork(self, spare: bool) -> None:
        """Fork a session; a ``spare`` one only with CPU time nobody else wants (see
        :mod:`cellhub.template.scheduling`): the template runs under ``SCHED_IDLE`` while it
        prepares and forks it, and the session starts so. One a start waits for is forked
        at the normal policy: under full load an idle-only fork would hardly happen."""
        if not (spare and scheduling.can_promote()):
            self.fork_session()
            return
        scheduling.demote_self()
        try:
            self.fork_session()
        finally:
            scheduling.restore_self()

    def fork_session(self) -> None:
        try:
            lease = self.sandbox.prepare()
        except Exception as exc:  # noqa: BLE001 - reported to the worker, which forks again later
            send_control(self.control, template_control.error(f"sandbox: {exc}"))
            return
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        me = os.getpid()
        try:
            pid = self.sandbox.fork(lease)
        except OSError as exc:  # out of processes or memory: the worker forks again later
            for end in (parent_end, child_end):
                end.close()
            self.sandbox.release(lease)
            send_control(self.control, template_control.error(f"fork: {exc}"))
            return
        if pid == 0:
            parent_end.close()
            self.become_session(lease, child_end, me)
        child_end.close()
        self.leases[pid] = lease
        send_control(self.control, template_control.forked(pid), [parent_end.fileno()])
        parent_end.close()

    def become_session(self, lease: SandboxLease, sock: socket.socket, parent: int) -> NoReturn:
        try:
            # Die with the template from the first instruction on, not only once enter()
            # is done: a spare may wait seconds for a CPU under SCHED_IDLE before that.
            die_with_parent(parent)
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGTERM):
                signal.signal(signum, signal.SIG_DFL)
            # SIGINT stays ignored, as in the template, until the session's interrupt gate
            # takes it: an interrupt that arrives before then must not end the session.
            self.control.close()
            if self.selector is not None:
                self.selector.close()
            os.close(self.wake_r)
            os.close(self.wake_w)
            log_records.leave_service()
            keep_only(sock.fileno())
            self.sandbox.enter(lease)  # which checks that the template is still its parent
            from cellhub.session.process import run_session

            run_session(self.shell, sock)
        except BaseException as exc:  # noqa: BLE001 - a session must never return into the template
            detail = "".join(traceback.format_exception(exc))
            with contextlib.suppress(OSError):  # the worker logs it: we hold no log of the host
                sock.send(log_frame(f"failed to start: {detail}"), socket.MSG_DONTWAIT)
        os._exit(1)

    def shutdown(self, code: int) -> NoReturn:
        """Kill every session and what it left, and exit, all within a bounded time.

        Runs in the SIGTERM handler, whatever the loop was doing: it only reads the
        leases, and never returns. Sessions are reaped with a deadline, not a blocking
        ``waitpid``, so one that does not die cannot hold the template (and so the
        worker, which waits for the template) alive.
        """
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not start over
        sessions = dict(self.leases)
        for pid in sessions:
            self.signal_group(pid, signal.SIGKILL)
        self.sandbox.end_all()
        running = set(sessions)
        deadline = time.monotonic() + SHUTDOWN_REAP_TIMEOUT
        while running and time.monotonic() < deadline:
            running.difference_update(pid for pid, _ in reap_all())
            time.sleep(0.002)
        for lease in sessions.values():
            self.sandbox.release(lease)
        kill_children()  # the orphans the sessions left us, round after round
        self.sandbox.close()
        os._exit(code)


def main(argv: list[str] | None = None) -> NoReturn:
    parser = argparse.ArgumentParser(prog="cellhub-template")
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument(
        "--settings", required=True, help="JSON: kind, preload, sandbox, limits, state_dir"
    )
    args = parser.parse_args(argv)
    # SIGTERM, not SIGKILL: the handler kills every session before the template exits.
    die_with_parent(args.parent, signal.SIGTERM)
    become_subreaper()
    settings = orjson.loads(args.settings)
    log_records.setup("template", settings["log_shipper"])
    control = socket.socket(fileno=args.control_fd)
    first_uid, uid_count = settings["uids"]
    sandbox = sandbox_for(
        settings["sandbox"],
        SandboxLimits(**settings["limits"]),
        Path(settings["state_dir"]),
        uid_range=range(first_uid, first_uid + uid_count),
    )
    from cellhub.session import introspection
    from cellhub.session.process import build_shell

    began = time.monotonic()
    shell = build_shell(settings["preload"], KINDS[settings["kind"]])
    introspection.kernel_info(shell)  # made once, here, for every session
    gc.collect()
    gc.freeze()
    huge = hugepages.enable(settings["huge_pages"])
    memory = f"{huge}; {pagemerge.enable(settings['merge_pages'])}"
    took = time.monotonic() - began
    preloaded = ", ".join(settings["preload"]) or "nothing"
    log.info("ready: %s, %s preloaded in %.1f s; %s", settings["kind"], preloaded, took, memory)
    ForkServer(control, sandbox, shell, memory).serve_forever()


if __name__ == "__main__":
    main()
