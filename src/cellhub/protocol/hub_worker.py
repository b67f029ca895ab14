"""The hub↔worker protocol: every frame between a hub and a worker, and its version.

One connection per hub and worker carries every kernel's traffic as msgpack frames
(:mod:`cellhub.protocol.framing`); each frame is a list whose first item names the
operation. This module is the only code that knows those names and positions: each end
builds frames with the constructors below and reads them with :func:`read_hub_frame`
(worker) or :func:`read_worker_frame` (hub), which call the receiver's method for the
operation (:class:`HubFrames`, :class:`WorkerFrames`). Frames stay lists, not objects,
because a cell's output crosses here message by message and the round trip is counted
in tenths of a millisecond; requests and load reports, which are rare, are typed objects.

The first frame each way is :func:`hello` with :data:`VERSION`. A worker answers a hub
of another version (or one that does not say) with :func:`refusal` and closes; a hub
that hears anything but its own version stops using that worker. Either end names both
versions, so the operator knows which side to upgrade. Raise :data:`VERSION` with any
change to a frame. docs/protocol.md describes each operation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, Protocol, TypedDict, cast

#: The protocol's version; both ends of a connection must speak the same.
VERSION = 8

_HELLO = "hello"
_REFUSED = "refused"
# hub → worker
_CLIENT_MESSAGE = "msg"
_ACK = "ack"
_ATTACH = "attach"
_DETACH = "detach"
_START = "start"
_SHUTDOWN = "shutdown"
_INTERRUPT = "interrupt"
_LIST = "list"
_REPLAY = "replay"
_RESTORE_FILES = "restore_files"
_SAVE_FILES = "save_files"
_UPDATE_FILES = "update_files"
_PUT_FILE = "put_file"
_SET_SPARES = "set_spares"
# worker → hub
_KERNEL_OUTPUT = "out"
_REPLY = "reply"
_SESSION = "session"
_ENDED = "ended"
_LOAD = "load"


class ProtocolError(Exception):
    """The peer sent a frame this protocol does not have, or spoke another version."""


class KernelOptions(TypedDict, total=False):
    """A kernel's own limits in place of the worker's settings: times in seconds (0: none),
    and ``memory``, bytes of its session's cgroup, below the worker's ``memory`` (an
    account's role or group, hub/ownership.py)."""

    idle_timeout: float
    max_lifetime: float
    memory: int
    #: Seconds the kernel lives idle once no hub holds a client of it (the worksheet page's).
    detached_grace: float


def kernel_options(given: Mapping[str, float]) -> KernelOptions:
    """The kernel options among ``given`` (the hub's anonymous-use policy, for one)."""
    options = KernelOptions()
    if "idle_timeout" in given:
        options["idle_timeout"] = float(given["idle_timeout"])
    if "max_lifetime" in given:
        options["max_lifetime"] = float(given["max_lifetime"])
    if "memory" in given:
        options["memory"] = int(given["memory"])
    if "detached_grace" in given:
        options["detached_grace"] = float(given["detached_grace"])
    return options


class KernelModel(TypedDict):
    """A kernel as its worker reports it (the answer to start, restart and list)."""

    id: str
    name: str
    execution_state: str
    last_activity: float
    created: float
    connections: int
    pid: int | None
    #: Resident bytes of the session's main process (absent from workers before it).
    memory: NotRequired[int | None]


#: A numbered output message: (seq, channel, JSON).
Numbered = tuple[int, str, bytes]


class Missed(TypedDict):
    """The answer to a replay: the messages after the client's last, and how many were lost."""

    lost: int
    messages: list[Numbered]


# -- requests (hub → worker, answered with a reply) ----------------------------------
@dataclass(frozen=True, slots=True)
class Start:
    """Start a kernel ``kernel_id`` of kernel spec ``name``; answer: its :class:`KernelModel`."""

    kernel_id: str
    name: str
    options: KernelOptions | None = None


@dataclass(frozen=True, slots=True)
class Shutdown:
    """End the kernel (answer: None), or with ``restart`` give it a new session (answer:
    its :class:`KernelModel`)."""

    kernel_id: str
    restart: bool


@dataclass(frozen=True, slots=True)
class Interrupt:
    """Interrupt the kernel's running cell; answer: None."""

    kernel_id: str


@dataclass(frozen=True, slots=True)
class ListKernels:
    """The worker's kernels among ``ids`` (None: all); answer: a list of :class:`KernelModel`."""

    ids: list[str] | None


@dataclass(frozen=True, slots=True)
class Replay:
    """The kernel's output numbered above ``after``; answer: :class:`Missed`."""

    kernel_id: str
    after: int


@dataclass(frozen=True, slots=True)
class RestoreFiles:
    """A piece of the owner's files (a full git bundle of ``total`` bytes, sent in pieces so
    that no frame nears the frame limit) for the kernel's home, from byte ``offset``. Answer:
    None until the last piece; then the files are in the home and the answer is the commit
    restored. Sent after :class:`Start` and before the hub answers the kernel's start, so
    the files are there before the first cell runs."""

    kernel_id: str
    offset: int
    piece: bytes
    total: int


@dataclass(frozen=True, slots=True)
class SaveFiles:
    """Commit what the kernel's home holds now (``offset`` 0: refused past ``limit`` bytes)
    and send the bundle of the commits since ``since`` (the last of this kernel's commits
    the hub stored), from byte ``offset``. Answer: :class:`FilesSaved`, or None when the
    home did not change."""

    kernel_id: str
    since: str
    offset: int
    limit: int


@dataclass(frozen=True, slots=True)
class UpdateFiles:
    """A piece of a bundle (``total`` bytes) of the owner's files as they are now, on top of
    the kernel's last stored commit, from byte ``offset``: an upload while the kernel runs.
    Answer: None until the last piece; then the paths of the home written or deleted (a
    file the session changed since its last save is left as it is)."""

    kernel_id: str
    offset: int
    piece: bytes
    total: int


@dataclass(frozen=True, slots=True)
class PutFile:
    """A data file an embedded cell's page named (hub/data_files.py), for the kernel's home:
    written at ``path`` (a plain name), owned by the session, beside whatever is there.
    Answer: None once it is written. Sent, like :class:`RestoreFiles`, before the hub
    answers the kernel's start."""

    kernel_id: str
    path: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SetSpares:
    """Keep ``sessions`` spare sessions ready, for each kernel kind the worker offers, from
    now until the worker stops or is asked again (a class about to start: each worker's share
    of it; afterwards, back to its ``spare_sessions``). Answer: None."""

    sessions: int


class FilesSaved(TypedDict):
    """A piece of a save: the commits ``base``..``head`` as a bundle of ``total`` bytes, of
    which ``piece`` starts at the asked offset."""

    base: str
    head: str
    total: int
    piece: bytes


Request = (
    Start
    | Shutdown
    | Interrupt
    | ListKernels
    | Replay
    | RestoreFiles
    | SaveFiles
    | UpdateFiles
    | PutFile
    | SetSpares
)


def request(req: int, asked: Request) -> list[Any]:
    """The frame asking ``asked``, numbered ``req`` for its reply."""
    match asked:
        case Start(kernel_id, name, options):
            return [_START, req, kernel_id, name, *([options] if options else [])]
        case Shutdown(kernel_id, restart):
            return [_SHUTDOWN, req, kernel_id, restart]
        case Interrupt(kernel_id):
            return [_INTERRUPT, req, kernel_id]
        case ListKernels(ids):
            return [_LIST, req, ids]
        case Replay(kernel_id, after):
            return [_REPLAY, req, kernel_id, after]
        case RestoreFiles(kernel_id, offset, piece, total):
            return [_RESTORE_FILES, req, kernel_id, offset, piece, total]
        case SaveFiles(kernel_id, since, offset, limit):
            return [_SAVE_FILES, req, kernel_id, since, offset, limit]
        case UpdateFiles(kernel_id, offset, piece, total):
            return [_UPDATE_FILES, req, kernel_id, offset, piece, total]
        case PutFile(kernel_id, path, data):
            return [_PUT_FILE, req, kernel_id, path, data]
        case SetSpares(sessions):
            return [_SET_SPARES, req, sessions]


def _read_request(op: str, frame: list[Any]) -> Request:
    if op == _START:
        options = frame[4] if len(frame) > 4 and isinstance(frame[4], dict) else None
        return Start(str(frame[2]), str(frame[3]), cast(KernelOptions | None, options))
    if op == _SHUTDOWN:
        return Shutdown(str(frame[2]), bool(frame[3]))
    if op == _INTERRUPT:
        return Interrupt(str(frame[2]))
    if op == _LIST:
        return ListKernels(None if frame[2] is None else [str(i) for i in frame[2]])
    if op == _REPLAY:
        return Replay(str(frame[2]), int(frame[3]))
    if op == _RESTORE_FILES:
        return RestoreFiles(str(frame[2]), int(frame[3]), bytes(frame[4]), int(frame[5]))
    if op == _SAVE_FILES:
        return SaveFiles(str(frame[2]), str(frame[3]), int(frame[4]), int(frame[5]))
    if op == _UPDATE_FILES:
        return UpdateFiles(str(frame[2]), int(frame[3]), bytes(frame[4]), int(frame[5]))
    if op == _PUT_FILE:
        return PutFile(str(frame[2]), str(frame[3]), bytes(frame[4]))
    if op == _SET_SPARES:
        return SetSpares(int(frame[2]))
    raise ProtocolError(f"unknown operation {op!r}")


# -- the rest of hub → worker ------------------------------------------------------------
def client_message(kernel_id: str, channel: str, msg_type: str, data: bytes) -> list[Any]:
    """A client's Jupyter message (checked JSON) for the kernel; no answer."""
    return [_CLIENT_MESSAGE, kernel_id, channel, msg_type, data]


def ack(kernel_id: str, nbytes: int) -> list[Any]:
    """``nbytes`` of the kernel's output reached the clients: flow-control credit."""
    return [_ACK, kernel_id, nbytes]


def attach(kernel_id: str, clients: int) -> list[Any]:
    """Send this hub the kernel's output (answer: :func:`session`, or :func:`ended`); the hub
    has ``clients`` clients of it, and says so again whenever that changes (the kernel's
    ``connections`` count every hub's)."""
    return [_ATTACH, kernel_id, clients]


def detach(kernel_id: str) -> list[Any]:
    """This hub has no client of the kernel any more."""
    return [_DETACH, kernel_id]


class HubFrames(Protocol):
    """What a worker does with each frame a hub sends."""

    def client_message(self, kernel_id: str, channel: str, msg_type: str, data: bytes) -> None: ...

    def ack(self, kernel_id: str, nbytes: int) -> None: ...

    def attach(self, kernel_id: str, clients: int) -> None: ...

    def detach(self, kernel_id: str) -> None: ...

    def request(self, req: int, asked: Request) -> None: ...


def read_hub_frame(frame: Any, to: HubFrames) -> None:
    """Hand one decoded frame from a hub to the worker's method for it."""
    if not isinstance(frame, list) or not frame:
        raise ProtocolError("a frame must be a non-empty list")
    op = frame[0]
    if op == _CLIENT_MESSAGE:
        _, kernel_id, channel, msg_type, data = frame
        to.client_message(kernel_id, channel, msg_type, data)
    elif op == _ACK:
        to.ack(frame[1], int(frame[2]))
    elif op == _ATTACH:
        to.attach(frame[1], int(frame[2]))
    elif op == _DETACH:
        to.detach(frame[1])
    else:
        to.request(int(frame[1]), _read_request(op, frame))


# -- worker → hub --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Load:
    """How much more a worker can take: ``free`` sessions of ``capacity`` (its
    max_sessions), ``running`` kernels, ``memory`` bytes of headroom (0: unknown),
    ``interval``, the seconds within which its next report is due, and ``kernels``, the
    kernel kinds it offers (``python3``, ``sage``). And what the worker alone sees, for the
    hubs' /metrics (hub/metrics.py): ``spares``, sessions ready per kernel kind; ``ended``,
    kernels ended since the worker started, per cause (:data:`END_CAUSES`);
    ``flow_pauses``, how often a kernel's output waited for a hub's acknowledgement; and
    ``kills``, sessions ended since the worker started that a sandbox limit stopped, per
    limit (:data:`KILL_CAUSES`)."""

    free: int
    running: int
    capacity: int
    memory: int
    interval: float
    kernels: tuple[str, ...] = ("python3",)
    spares: Mapping[str, int] = field(default_factory=dict)
    ended: Mapping[str, int] = field(default_factory=dict)
    flow_pauses: int = 0
    kills: Mapping[str, int] = field(default_factory=dict)


#: Why kernels end, as ``Load.ended`` counts them: asked to (REST or a client); culled idle;
#: past their maximum lifetime; their session killed by SIGKILL (out of memory, or a sandbox
#: limit such as the pids limit's fork bomb being killed) or by SIGXCPU (its CPU time);
#: the template process died; any other exit (a crash, a signal, a broken protocol).
END_CAUSES = ("requested", "culled", "lifetime", "killed", "cpu", "template", "exited")
#: The sandbox limits that stop a session, as ``Load.kills`` counts the sessions they stopped:
#: the OOM killer killed one of its processes (its cgroup's ``memory.events`` oom_kill); a
#: fork was refused at its process limit (``pids.events`` max); its CPU time ran out
#: (SIGXCPU). Counted once the session has ended, once per limit.
KILL_CAUSES = ("oom", "pids", "cpu")


def load(report: Load) -> list[Any]:
    """The worker's load, sent on connect, every ``interval`` and when ``free`` changes."""
    return [
        _LOAD,
        report.free,
        report.running,
        report.capacity,
        report.memory,
        report.interval,
        list(report.kernels),
        dict(report.spares),
        dict(report.ended),
        report.flow_pauses,
        dict(report.kills),
    ]


def kernel_output(
    kernel_id: str, seq: int, channel: str, msg_type: str, data: bytes, state: str | None
) -> list[Any]:
    """One output message of the kernel, numbered ``seq``; ``state``: a status's state."""
    return [_KERNEL_OUTPUT, kernel_id, seq, channel, msg_type, data, state]


def reply(req: int, answer: Any) -> list[Any]:
    """The answer to request ``req``."""
    return [_REPLY, req, True, answer]


def failure(req: int, status: int, message: str) -> list[Any]:
    """Request ``req`` failed; ``status`` is the HTTP status the hub answers with."""
    return [_REPLY, req, False, {"status": status, "message": message}]


def session(kernel_id: str, session_id: str) -> list[Any]:
    """The kernel's current session id (on attach, and when a restart gives it a new one)."""
    return [_SESSION, kernel_id, session_id]


def ended(kernel_id: str, reason: str, told: bool) -> list[Any]:
    """The kernel is gone; ``told``: its clients had their last messages from the worker
    (false for a kernel the worker does not know)."""
    return [_ENDED, kernel_id, reason, told]


class WorkerFrames(Protocol):
    """What a hub does with each frame a worker sends."""

    def kernel_output(
        self, kernel_id: str, seq: int, channel: str, data: bytes, state: str | None
    ) -> None: ...

    def reply(self, req: int, answer: Any) -> None: ...

    def failure(self, req: int, status: int, message: str) -> None: ...

    def session(self, kernel_id: str, session_id: str) -> None: ...

    def ended(self, kernel_id: str, reason: str, told: bool) -> None: ...

    def load(self, report: Load) -> None: ...


def read_worker_frame(frame: Any, to: WorkerFrames) -> None:
    """Hand one decoded frame from a worker to the hub's method for it."""
    if not isinstance(frame, list) or not frame:
        raise ProtocolError("a frame must be a non-empty list")
    op = frame[0]
    if op == _KERNEL_OUTPUT:
        _, kernel_id, seq, channel, _msg_type, data, state = frame
        to.kernel_output(kernel_id, seq, channel, data, state)
    elif op == _REPLY:
        _, req, ok, answer = frame
        if ok:
            to.reply(req, answer)
        else:
            to.failure(req, int(answer["status"]), str(answer["message"]))
    elif op == _SESSION:
        to.session(frame[1], frame[2])
    elif op == _ENDED:
        to.ended(frame[1], frame[2], bool(frame[3]))
    elif op == _LOAD:
        _, free, running, capacity, memory, interval, kernels, spares, ended, pauses, kills = frame
        to.load(
            Load(
                int(free),
                int(running),
                int(capacity),
                int(memory),
                float(interval),
                tuple(str(kind) for kind in kernels),
                {str(kind): int(count) for kind, count in spares.items()},
                {str(cause): int(count) for cause, count in ended.items()},
                int(pauses),
                {str(cause): int(count) for cause, count in kills.items()},
            )
        )
    else:
        raise ProtocolError(f"unknown operation {op!r}")


# -- the handshake -------------------------------------------------------------------
def hello(version: int = VERSION) -> list[Any]:
    """The first frame each way: the protocol version its sender speaks."""
    return [_HELLO, version]


def refusal(reason: str) -> list[Any]:
    """The worker's answer to a hello of another version, before it closes."""
    return [_REFUSED, reason]


def mismatch(frame: Any, sender: str, receiver: str) -> str | None:
    """Why the ``receiver`` cannot talk to the ``sender`` of this first frame; None if it can.

    ``sender`` and ``receiver`` name the two ends (``"hub"``, ``"worker at ADDRESS"``).
    """
    if isinstance(frame, list) and len(frame) == 2 and frame[0] == _REFUSED:
        return f"the {sender} refused this {receiver}: {frame[1]}"
    if isinstance(frame, list) and len(frame) == 2 and frame[0] == _HELLO:
        if frame[1] == VERSION:
            return None
        theirs = f"version {frame[1]!r}"
    else:
        theirs = "no versioned protocol (a cellhub older than the hub↔worker handshake)"
    return (
        f"the {sender} speaks hub↔worker protocol {theirs} and this {receiver} version "
        f"{VERSION}: run the same cellhub release on hubs and workers"
    )
