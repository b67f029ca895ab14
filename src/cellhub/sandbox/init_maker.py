"""The init maker: forks the init of each session's PID namespace (see :mod:`.pid_namespace`).

A small process of its own, exec'd by the template rather than forked from it, so that
each init is a fork of a process that imported little: cheap to fork, and with few pages
to copy. It answers the template's requests on a SOCK_SEQPACKET socket: ``MAKE`` → the new
init's pid; ``END`` + pid → that init killed and reaped (no answer). Its inits are its
children and it reaps one only when asked, so an init's pid never names another process
while the template may still use it. It dies with the template, and its inits with it.

An init, once it has closed what it inherited, executes ``sleep`` (:data:`PAUSE`), which
does nothing, for ever: a fork of the maker that went on running Python would keep about
1.3 MiB of pages of its own (each page the maker writes after the fork leaves the init
the old copy), an executed ``sleep`` about 0.1 MiB, and a class of 500 has 500 inits
(docs/performance.md). Ignored signals stay ignored across ``execve``, so SIGCHLD still
has the kernel reap whatever is re-parented to the init; the parent-death signal stays
too. Where there is no ``sleep``, the init pauses in Python instead.

Run as ``python -m cellhub.sandbox.init_maker CONTROL_FD TEMPLATE_PID``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
from typing import NoReturn

from cellhub.sandbox.pid_namespace import END, PID, back_to_own_namespace
from cellhub.sandbox.prctl import die_with_parent
from cellhub.sandbox.syscalls import CLONE_NEWPID, unshare

#: The program an init executes: found in the system's directories only (the maker runs as
#: root; a ``PATH`` of the service's could name a directory someone else writes).
PAUSE = shutil.which("sleep", path="/usr/bin:/bin")
#: ``sleep``'s argument: 68 years, in a form GNU's and BusyBox's both take.
FOREVER = str(2**31 - 1)


def serve_maker(control: socket.socket) -> NoReturn:
    """The init maker: make and end inits as the template asks, until it closes the socket."""
    me = os.getpid()
    while request := control.recv(1 + PID.size):
        if request[:1] == END:
            _end(PID.unpack(request[1:])[0])
            continue
        unshare(CLONE_NEWPID)
        pid = os.fork()
        if pid == 0:
            control.close()
            run_init(me)
        back_to_own_namespace()
        control.send(PID.pack(pid))
    os._exit(0)


def _end(init: int) -> None:
    with contextlib.suppress(ProcessLookupError, ChildProcessError):  # not one of ours
        os.kill(init, signal.SIGKILL)
        os.waitpid(init, 0)


def run_init(maker: int) -> NoReturn:
    """PID 1 of a session's namespace, until killed.

    It ignores SIGCHLD, so the kernel reaps whatever is re-parented here at once, and it
    waits for no signal: it has no handler for any (see the module on :data:`PAUSE`).
    """
    die_with_parent(maker)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, 2**31 - 1)
    if PAUSE is not None:
        with contextlib.suppress(OSError):
            os.execve(PAUSE, ["sleep", FOREVER], {})
    while True:
        signal.pause()


def main(argv: list[str] | None = None) -> NoReturn:
    parser = argparse.ArgumentParser(prog="cellhub-init-maker")
    parser.add_argument("control_fd", type=int)
    parser.add_argument("parent", type=int)
    args = parser.parse_args(argv)
    die_with_parent(args.parent)
    serve_maker(socket.socket(fileno=args.control_fd))


if __name__ == "__main__":
    main()
