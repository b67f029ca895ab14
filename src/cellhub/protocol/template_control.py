"""The worker↔template control messages, over a SOCK_SEQPACKET socket.

One msgpack list per packet (the socket keeps packets whole, so no length prefix), the
first item naming the message. This module is the only code that knows those names
and positions.

worker → template
    :func:`fork` a new session; :func:`signal` or :func:`kill` a session's process group;
    :func:`limit_memory` of a session below the deployment's (an account's lower limit,
    set on the cgroup the template made for it: a spare may not have joined it yet).
template → worker
    :func:`ready` with a line describing the sandbox, once everything is imported;
    :func:`forked` with the new session's pid, its socket passed with SCM_RIGHTS;
    :func:`exited` with a session's exit code and the sandbox limits that intervened in
    it; :func:`error` when a fork failed;
    :func:`signalled` once a :func:`signal` was sent (the worker answers an interrupt
    only then: until then the signal may wait behind forks in the template's queue);
    :func:`limited` once a :func:`limit_memory` was applied. Answers come in the order of
    the requests.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any, Protocol

import msgpack

#: Longest control message either side reads.
MAX_CONTROL_MESSAGE = 65536

_FORK = "fork"
_SIGNAL = "signal"
_KILL = "kill"
_READY = "ready"
_FORKED = "forked"
_EXITED = "exited"
_ERROR = "error"
_SIGNALLED = "signalled"
_LIMIT_MEMORY = "limit_memory"
_LIMITED = "limited"


def _encode(*message: Any) -> bytes:
    return msgpack.packb(list(message), use_bin_type=True)


def fork(spare: bool = True) -> bytes:
    """``spare``: a session to keep ready, forked only with CPU time nobody else wants; else
    one a kernel start waits for, forked at once."""
    return _encode(_FORK, spare)


def signal(pid: int, signum: int) -> bytes:
    return _encode(_SIGNAL, pid, signum)


def kill(pid: int) -> bytes:
    return _encode(_KILL, pid)


def limit_memory(pid: int, limit: int) -> bytes:
    """Lower the memory limit of session ``pid`` to ``limit`` bytes (never raise it)."""
    return _encode(_LIMIT_MEMORY, pid, limit)


def ready(description: str) -> bytes:
    return _encode(_READY, description)


def forked(pid: int) -> bytes:
    """Sent with the new session's socket as the packet's one descriptor."""
    return _encode(_FORKED, pid)


def exited(pid: int, code: int, limits: Collection[str] = ()) -> bytes:
    """``limits``: the sandbox limits that intervened in the session (``oom``, ``pids``)."""
    return _encode(_EXITED, pid, code, sorted(limits))


def error(text: str) -> bytes:
    return _encode(_ERROR, text)


def signalled(pid: int) -> bytes:
    return _encode(_SIGNALLED, pid)


def limited(pid: int) -> bytes:
    return _encode(_LIMITED, pid)


class WorkerRequests(Protocol):
    """What the template does with each request of the worker."""

    def fork(self, spare: bool) -> None: ...

    def signal(self, pid: int, signum: int) -> None: ...

    def kill(self, pid: int) -> None: ...

    def limit_memory(self, pid: int, limit: int) -> None: ...


def read_worker_request(packet: bytes, to: WorkerRequests) -> None:
    op, *args = msgpack.unpackb(packet, raw=False)
    if op == _FORK:
        to.fork(bool(args[0]) if args else True)
    elif op == _SIGNAL:
        to.signal(int(args[0]), int(args[1]))
    elif op == _KILL:
        to.kill(int(args[0]))
    elif op == _LIMIT_MEMORY:
        to.limit_memory(int(args[0]), int(args[1]))


class TemplateReports(Protocol):
    """What the worker does with each report of the template; ``fds``: the descriptors
    that came with it, which the receiver owns."""

    def ready(self, description: str) -> None: ...

    def forked(self, pid: int, fds: list[int]) -> None: ...

    def exited(self, pid: int, code: int, limits: frozenset[str]) -> None: ...

    def error(self, text: str) -> None: ...

    def signalled(self, pid: int) -> None: ...

    def limited(self, pid: int) -> None: ...


def read_template_report(packet: bytes, fds: list[int], to: TemplateReports) -> None:
    op, *args = msgpack.unpackb(packet, raw=False)
    if op == _READY:
        to.ready(str(args[0]))
    elif op == _FORKED:
        to.forked(int(args[0]), fds)
        return
    elif op == _EXITED:
        to.exited(int(args[0]), int(args[1]), frozenset(str(limit) for limit in args[2]))
    elif op == _ERROR:
        to.error(str(args[0]))
    elif op == _SIGNALLED:
        to.signalled(int(args[0]))
    elif op == _LIMITED:
        to.limited(int(args[0]))
    for fd in fds:  # none belongs with these reports
        os.close(fd)
