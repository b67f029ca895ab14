"""The session sandbox, tested with real forked sessions that run hostile code.

The test process plays the template: it prepares a lease, forks, the child
enters the sandbox and runs a test body, reporting back as JSON lines over a
pipe. Every session is bounded by a timeout after which it is killed through
the sandbox, so a containment bug fails a test instead of hanging the machine.

The linux sandbox tests need root; as an ordinary user they are skipped and
the rlimit fallback is tested alone.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pwd
import resource
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from bench.sandbox_enter import timed_cycle

from cellhub.sandbox import (
    LinuxSandbox,
    RlimitSandbox,
    SandboxError,
    SandboxLease,
    SandboxLimits,
    SessionSandbox,
    sandbox_for,
)
from cellhub.sandbox.cgroups import CgroupV2Tree
from cellhub.sandbox.processes import all_processes
from tests.worker.conftest import opened

MiB = 2**20
ROOT = os.geteuid() == 0
NOBODY = pwd.getpwnam("nobody").pw_uid
TEST_UIDS = range(231_000, 231_032)
needs_root = pytest.mark.skipif(not ROOT, reason="the linux sandbox needs root")

Send = Callable[[Any], None]


class ForkedSession:
    """A forked child that enters ``sandbox`` and runs ``body(send)``, reporting over a pipe."""

    def __init__(
        self,
        sandbox: SessionSandbox,
        body: Callable[[Send], Any],
        lease: SandboxLease | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.lease = lease or sandbox.prepare()
        read_end, write_end = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child never returns into pytest
            os.close(read_end)
            self._child(body, write_end)
        os.close(write_end)
        self.pipe = read_end
        self.buffer = b""
        self.status: int | None = None

    def _child(self, body: Callable[[Send], Any], write_end: int) -> None:
        def send(message: Any) -> None:
            os.write(write_end, json.dumps(message).encode() + b"\n")

        try:
            self.sandbox.enter(self.lease)
            send({"result": body(send)})
        except BaseException as exc:  # noqa: BLE001 - the child reports any failure, then exits
            with contextlib.suppress(BaseException):
                send({"error": repr(exc)})
        finally:
            os._exit(0)

    def receive(self, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.pipe], [], [], max(0, deadline - time.monotonic()))
            if not ready:
                self.close()
                pytest.fail(f"session sent nothing within {timeout} s")
            chunk = os.read(self.pipe, 65536)
            if not chunk:
                raise EOFError(f"session ended without a message (status {self.wait(5)})")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def result(self, timeout: float = 30) -> Any:
        message = self.receive(timeout)
        assert "error" not in message, message["error"]
        return message["result"]

    def wait(self, timeout: float = 30) -> int:
        """The wait status of the session process; kills it (and fails) after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
            elif time.monotonic() > deadline:
                self.close()
                pytest.fail(f"session still running after {timeout} s")
            else:
                time.sleep(0.01)
        return self.status

    def close(self) -> None:
        self.sandbox.release(self.lease)
        if self.status is None:
            _, self.status = os.waitpid(self.pid, 0)
        os.close(self.pipe)


@contextlib.contextmanager
def session(
    sandbox: SessionSandbox, body: Callable[[Send], Any], lease: SandboxLease | None = None
) -> Iterator[ForkedSession]:
    forked = ForkedSession(sandbox, body, lease)
    try:
        yield forked
    finally:
        if forked.status is None or not forked.lease.released:
            forked.sandbox.release(forked.lease)
            if forked.status is None:
                forked.wait(10)
            with contextlib.suppress(OSError):
                os.close(forked.pipe)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def current_vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


def make_sandbox(kind: str, tmp_path: Path, **limits: Any) -> SessionSandbox:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700, exist_ok=True)
    state_dir = data_dir / "sessions"
    if kind == "linux":
        return opened(LinuxSandbox(SandboxLimits(**limits), state_dir, uid_range=TEST_UIDS))
    return opened(RlimitSandbox(SandboxLimits(**limits), state_dir))


@pytest.fixture(params=["rlimit", pytest.param("linux", marks=needs_root)])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- configuration ------------------------------------------------------------------------


def test_every_limit_has_help_and_validation() -> None:
    for f in fields(SandboxLimits):
        assert f.metadata.get("help"), f"{f.name} has no help text"
    assert SandboxLimits().memory == 2 * 2**30 and SandboxLimits().processes == 256
    with pytest.raises(ValueError):
        SandboxLimits(memory=-1)
    assert SandboxLimits.optional(0) is None


def test_sandbox_for_chooses_by_name(tmp_path: Path) -> None:
    auto = sandbox_for("auto", SandboxLimits(), tmp_path / "state")
    assert isinstance(auto, LinuxSandbox if ROOT else RlimitSandbox)
    assert isinstance(sandbox_for("rlimit", SandboxLimits(), tmp_path / "s2"), RlimitSandbox)
    with pytest.raises(ValueError, match="unknown sandbox"):
        sandbox_for("chroot", SandboxLimits(), tmp_path / "s3")
    if not ROOT:
        with pytest.raises(SandboxError, match="root"):
            sandbox_for("linux", SandboxLimits(), tmp_path / "s4")


def test_describe_says_what_is_isolated(kind: str, tmp_path: Path) -> None:
    text = make_sandbox(kind, tmp_path).describe()
    assert "\n" not in text
    if kind == "linux":
        assert "no network" in text and "cgroup v" in text and "memory 2 GiB" in text
    else:
        assert "REDUCED ISOLATION" in text and (
            "not running as root" in text or "configuration" in text
        )


# --- what a session sees ------------------------------------------------------------------


RLIMITS = (
    "RLIMIT_CPU",
    "RLIMIT_AS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_FSIZE",
    "RLIMIT_CORE",
)


def _identity(send: Send) -> dict[str, Any]:
    status = Path("/proc/self/status").read_text()
    home = os.environ["HOME"]
    umask = os.umask(0)
    return {
        "uid": os.getresuid(),
        "gid": os.getresgid(),
        "groups": os.getgroups(),
        "no_new_privs": [ln.split()[1] for ln in status.splitlines() if "NoNewPrivs" in ln],
        "home": home,
        "cwd": os.getcwd(),
        "home_stat": [os.stat(home).st_uid, oct(os.stat(home).st_mode & 0o777)],
        "umask": umask,
        "sid": os.getsid(0) == os.getpid(),
        "rlimits": {name: resource.getrlimit(getattr(resource, name)) for name in RLIMITS},
    }


def test_session_identity_privileges_and_rlimits(kind: str, tmp_path: Path) -> None:
    sandbox = make_sandbox(kind, tmp_path, cpu_seconds=100, open_files=200, file_size=10 * MiB)
    with session(sandbox, _identity) as forked:
        info = forked.result()
        home = str(forked.lease.home)
    if kind == "linux":
        uid = forked.lease.uid
        assert uid in TEST_UIDS
        assert info["uid"] == [uid] * 3 and info["gid"] == [uid] * 3
        assert info["groups"] == []
    else:
        assert info["uid"][0] == os.getuid()
    assert info["no_new_privs"] == ["1"]
    assert info["home"] == info["cwd"] == home
    assert info["home_stat"] == [info["uid"][0], "0o700"]
    assert info["umask"] == 0o077
    assert info["sid"] is True
    rl = info["rlimits"]
    assert rl["RLIMIT_CPU"] == [100, 105]
    assert rl["RLIMIT_NOFILE"] == [200, 200]
    assert rl["RLIMIT_FSIZE"] == [10 * MiB, 10 * MiB]
    # Under the linux sandbox the cgroup's pids.max (256) binds, and counts its refusals.
    assert rl["RLIMIT_NPROC"][0] == (257 if kind == "linux" else 256)
    assert rl["RLIMIT_AS"][0] == 8 * 2**30
    assert rl["RLIMIT_CORE"] == [0, 0]
    assert not Path(home).exists(), "release() must wipe the home"


@needs_root
@pytest.mark.parametrize("network", [False, True])
def test_linux_network_namespace(tmp_path: Path, network: bool) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def connect(send: Send) -> list[str]:
        outcomes = []
        for address in [("127.0.0.1", port), ("1.1.1.1", 53)][: 1 if network else 2]:
            try:
                socket.create_connection(address, timeout=2).close()
                outcomes.append("connected")
            except OSError as exc:
                outcomes.append(errno.errorcode.get(exc.errno or 0, str(exc)))
        return outcomes

    with listener, session(make_sandbox("linux", tmp_path, network=network), connect) as forked:
        outcomes = forked.result()
    if network:
        assert outcomes == ["connected"]
    else:
        assert outcomes == ["ENETUNREACH", "ENETUNREACH"]


@needs_root
def test_linux_cgroup_holds_the_limits(tmp_path: Path) -> None:
    """The session is in its cgroup, which has the limits and is the root of what it sees."""

    def cgroup(send: Send) -> None:
        paths = {line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().split()}
        send({"pid": os.getpid(), "paths": sorted(paths)})
        time.sleep(60)  # until the test is done looking: release() kills it

    sandbox = make_sandbox("linux", tmp_path, memory=300 * MiB, processes=40)
    found = {}
    with session(sandbox, cgroup) as forked:
        seen = forked.receive()
        assert seen["pid"] in forked.lease.details.cgroup.processes()
        for directory in forked.lease.details.cgroup.directories:
            for name, file in (("memory", "memory.max"), ("memory", "memory.limit_in_bytes")):
                if (directory / file).exists():
                    found[name] = (directory / file).read_text()
            if (directory / "pids.max").exists():
                found["pids"] = (directory / "pids.max").read_text()
    assert {k: v.strip() for k, v in found.items()} == {"memory": str(300 * MiB), "pids": "40"}
    assert seen["paths"] == ["/"], "the session's cgroup is the root of its cgroup namespace"


@needs_root
def test_linux_session_sees_no_secrets_but_can_run_python(tmp_path: Path) -> None:
    sandbox = make_sandbox("linux", tmp_path)
    secret = tmp_path / "data" / "worker-key.pem"
    secret.write_text("secret")
    secret.chmod(0o600)
    other = sandbox.prepare()
    (other.home / "notes.txt").write_text("private")

    def snoop(send: Send) -> dict[str, Any]:
        outcome: dict[str, Any] = {}
        for name, path in [
            ("key", secret),
            ("shadow", Path("/etc/shadow")),
            ("other_home", other.home / "notes.txt"),
        ]:
            try:
                path.read_text()
                outcome[name] = "read"
            except OSError as exc:
                outcome[name] = errno.errorcode[exc.errno or 0]
        outcome["state_dir"] = sorted(os.listdir(sandbox.state_dir))
        outcome["pids_visible"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        outcome["kill_template"] = _try_kill(os.getppid())
        outcome["write_root"] = _try_write(Path(sys.prefix) / "cellhub-was-here")
        fresh = subprocess.run(
            [sys.executable, "-c", "import numpy, json, decimal; print(numpy.ones(3).sum())"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        outcome["python"] = fresh.stdout.strip() or fresh.stderr[-500:]
        return outcome

    try:
        with session(sandbox, snoop) as forked:
            outcome = forked.result(timeout=90)
    finally:
        sandbox.release(other)
    assert outcome["key"] in {"ENOENT", "EACCES"}
    assert outcome["shadow"] == "EACCES"
    assert outcome["other_home"] in {"ENOENT", "EACCES"}
    assert outcome["state_dir"] == ["homes"]
    assert outcome["pids_visible"] == [forked.pid]
    assert outcome["kill_template"] == "EPERM"
    assert outcome["write_root"] in {"EROFS", "EACCES"}
    assert outcome["python"] == "3.0"


def _try_kill(pid: int) -> str:
    try:
        os.kill(pid, signal.SIGTERM)
        return "killed"
    except OSError as exc:
        return errno.errorcode[exc.errno or 0]


def _try_write(path: Path) -> str:
    try:
        path.write_text("x")
        return "written"
    except OSError as exc:
        return errno.errorcode[exc.errno or 0]


# --- hostile sessions ---------------------------------------------------------------------


@needs_root
def test_linux_memory_bomb_is_killed_by_the_cgroup(tmp_path: Path) -> None:
    def bomb(send: Send) -> int:
        hoard = []
        for _ in range(64):  # bounded at 1 GiB
            hoard.append(bytearray(16 * MiB))
            hoard[-1][::4096] = b"x" * (16 * MiB // 4096)
        return len(hoard)

    with session(make_sandbox("linux", tmp_path, memory=128 * MiB), bomb) as forked:
        status = forked.wait(60)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def test_rlimit_memory_bomb_hits_the_address_space_limit(tmp_path: Path) -> None:
    def bomb(send: Send) -> str:
        hoard = []
        try:
            for _ in range(64):
                hoard.append(bytearray(16 * MiB))
        except MemoryError:
            return f"MemoryError after {len(hoard)}"
        return "not stopped"

    sandbox = make_sandbox("rlimit", tmp_path, address_space=current_vm_size() + 256 * MiB)
    with session(sandbox, bomb) as forked:
        assert forked.result(60).startswith("MemoryError")


def _fork_bomb(send: Send) -> dict[str, Any]:
    children = 0
    failure = ""
    for _ in range(400):  # bounded even if containment fails
        try:
            pid = os.fork()
        except OSError as exc:
            failure = errno.errorcode.get(exc.errno or 0, repr(exc))
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
    return {"children": children, "failure": failure}


def _as_nobody(send: Send) -> dict[str, Any]:
    """The fork bomb as ``nobody``: RLIMIT_NPROC does not bind root, and the fallback's
    sessions run as the worker's ordinary user."""
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    return _fork_bomb(send)


def test_fork_bomb_stops_at_the_process_limit(kind: str, tmp_path: Path) -> None:
    limit = 24
    bomb = _fork_bomb
    if kind == "rlimit":  # RLIMIT_NPROC counts every process of the session's user
        uid = NOBODY if ROOT else os.getuid()
        limit += sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and _uid(p) == uid)
        bomb = _as_nobody if ROOT else _fork_bomb
    with session(make_sandbox(kind, tmp_path, processes=limit), bomb) as forked:
        outcome = forked.result(60)
        assert outcome["failure"] == "EAGAIN"
        assert outcome["children"] < limit
        forked.close()
    if kind == "linux":
        assert not forked.lease.details.cgroup.processes()
        assert not any(alive(p) for p in _pids_of_uid(forked.lease.uid))


def _uid(process: Path) -> int | None:
    """The owner of ``/proc/PID``, None if it has exited."""
    try:
        return process.stat().st_uid
    except FileNotFoundError:
        return None


def _pids_of_uid(uid: int) -> list[int]:
    return [p.pid for p in all_processes() if uid in p.uids and p.state != "Z"]


def test_cpu_loop_is_killed_at_its_cpu_limit(kind: str, tmp_path: Path) -> None:
    def spin(send: Send) -> None:
        deadline = time.monotonic() + 30  # bounded
        while time.monotonic() < deadline:
            pass

    with session(make_sandbox(kind, tmp_path, cpu_seconds=1), spin) as forked:
        status = forked.wait(40)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) in {signal.SIGXCPU, signal.SIGKILL}


def _temporary_files(send: Send) -> dict[str, str]:
    import tempfile

    import jedi  # type: ignore[import-untyped]  # jedi ships no type information

    from cellhub.session import introspection

    introspection.use_private_caches()
    handle, name = tempfile.mkstemp()
    os.close(handle)
    return {"tmpdir": tempfile.gettempdir(), "file": name, "jedi": jedi.settings.cache_directory}


def test_rlimit_session_temporary_files_go_with_it(tmp_path: Path) -> None:
    """The host's /tmp is shared under the rlimit sandbox: a session's temporary files (its
    code's, its completion caches) live in a TMPDIR of its own, removed with its lease."""
    sandbox = make_sandbox("rlimit", tmp_path)
    with session(sandbox, _temporary_files) as forked:
        made = forked.result()
        scratch = tmp_path / "data" / "sessions" / "tmp" / forked.lease.id
        assert made["tmpdir"] == str(scratch)
        assert Path(made["file"]).parent == scratch and Path(made["file"]).exists()
        assert Path(made["jedi"]).is_relative_to(scratch)
        forked.close()
    assert not scratch.exists(), "release() must remove the session's TMPDIR"
    assert not Path(made["file"]).exists()


def test_file_size_limit(kind: str, tmp_path: Path) -> None:
    def write_big(send: Send) -> str:
        try:
            Path("big").write_bytes(b"x" * (2 * MiB))
            return "written"
        except OSError as exc:
            return errno.errorcode[exc.errno or 0]

    with session(make_sandbox(kind, tmp_path, file_size=1 * MiB), write_big) as forked:
        assert forked.result() == "EFBIG"


@needs_root
def test_linux_disk_quota_on_home_and_tmp(tmp_path: Path) -> None:
    def fill(send: Send) -> dict[str, str]:
        outcome = {}
        for where in ("home", "/tmp", "/dev/shm"):
            path = Path(where if where != "home" else os.environ["HOME"]) / "fill"
            try:
                with open(path, "wb") as f:
                    for _ in range(64):  # bounded at 64 MiB
                        f.write(b"x" * MiB)
                        f.flush()
                outcome[where] = "filled"
            except OSError as exc:
                outcome[where] = errno.errorcode[exc.errno or 0]
            path.unlink()
        return outcome

    sandbox = make_sandbox("linux", tmp_path, disk_quota=8 * MiB, file_size=0)
    with session(sandbox, fill) as forked:
        assert forked.result() == {"home": "ENOSPC", "/tmp": "ENOSPC", "/dev/shm": "ENOSPC"}


@pytest.mark.parametrize(
    ("kind", "session_exits_first"),
    [
        ("rlimit", False),  # the fallback finds escapees only while the session process lives
        pytest.param("linux", False, marks=needs_root),
        pytest.param("linux", True, marks=needs_root),
    ],
)
def test_release_kills_a_double_forked_setsid_grandchild(
    kind: str, tmp_path: Path, session_exits_first: bool
) -> None:

    def escape(send: Send) -> None:
        Path("left-behind.txt").write_text("data")
        ready_r, ready_w = os.pipe()
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.write(ready_w, str(os.getpid()).encode())
                time.sleep(60)  # bounded
            os._exit(0)
        send({"grandchild": int(os.read(ready_r, 32))})
        if session_exits_first:
            os._exit(0)
        time.sleep(60)

    with session(make_sandbox(kind, tmp_path), escape) as forked:
        grandchild = forked.receive()["grandchild"]
        assert alive(grandchild)
        if session_exits_first:
            forked.wait(10)
            assert alive(grandchild)
        forked.close()
        assert wait_gone(grandchild), "the grandchild outlived release()"
        assert not forked.lease.home.exists()
        forked.sandbox.release(forked.lease)  # idempotent


# --- the uid pool -------------------------------------------------------------------------


def _stray(uid: int) -> int:
    """A process running as ``uid`` outside any session cgroup."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover
        try:
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            time.sleep(60)
        finally:
            os._exit(0)
    return pid


@needs_root
def test_uid_pool_never_hands_out_a_uid_in_use(tmp_path: Path) -> None:
    uids = range(TEST_UIDS.start, TEST_UIDS.start + 3)
    stray = _stray(uids[0])
    try:
        while not _pids_of_uid(uids[0]):
            time.sleep(0.01)
        sandbox = opened(
            LinuxSandbox(SandboxLimits(), tmp_path / "data" / "sessions", uid_range=uids)
        )
        first = sandbox.prepare()
        second = sandbox.prepare()
        assert (first.uid, second.uid) == (uids[1], uids[2]), "skips the uid of a living process"
        with pytest.raises(SandboxError, match="no free uid"):
            sandbox.prepare()
        stray_of_first = _stray(first.uid)
        while not _pids_of_uid(first.uid):  # the stray has switched to the uid
            time.sleep(0.01)
        sandbox.release(first)
        os.kill(stray, signal.SIGKILL)
        os.waitpid(stray, 0)
        assert sandbox.prepare().uid == uids[0]
        # The released uid comes back only once one look at /proc found (and killed) its stray.
        assert sandbox.prepare().uid == uids[1]
        assert wait_gone(stray_of_first, 2), "processes of the uid outside the cgroup are killed"
        os.waitpid(stray_of_first, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stray, signal.SIGKILL)


@needs_root
def test_close_removes_the_cgroup_of_a_session_never_forked(tmp_path: Path) -> None:
    """A template told to stop while it forks a session has made the session's cgroup but
    holds no lease of it to release: closing the sandbox removes that cgroup too, and then
    the deployment's parent cgroups (a stop of 500 sessions left one behind before)."""
    sandbox = make_sandbox("linux", tmp_path)
    assert isinstance(sandbox, LinuxSandbox)
    made = sandbox.prepare().details.cgroup.directories
    parents = set(sandbox.cgroups.parents.values())
    assert all(directory.is_dir() for directory in made)
    sandbox.close()
    assert [path for path in (*made, *parents) if path.exists()] == []
    sandbox.close()  # closing again (as the test's own clean-up does) finds nothing to do


def test_cgroup_v2_files(tmp_path: Path) -> None:
    """The v2 code path, on a stand-in directory (these hosts mount v1 controllers)."""
    own = next(
        line.split(":", 2)[2]
        for line in Path("/proc/self/cgroup").read_text().splitlines()
        if line.startswith("0::")
    )
    own_dir = tmp_path / own.lstrip("/")
    own_dir.mkdir(parents=True, exist_ok=True)
    (own_dir / "cgroup.controllers").write_text("cpu memory pids\n")
    tree = CgroupV2Tree.create(tmp_path, SandboxLimits(memory=100 * MiB, cpu_quota=0.5), "cellhub")
    assert (own_dir / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    cgroup = tree.session("session-7", SandboxLimits(memory=100 * MiB, cpu_quota=0.5))
    (directory,) = cgroup.directories
    assert directory == own_dir / "cellhub" / "session-7"
    assert (directory / "memory.max").read_text() == str(100 * MiB)
    assert (directory / "pids.max").read_text() == "256"
    assert (directory / "cpu.max").read_text() == "50000 100000"


# --- repeated use ------------------------------------------------------------------------


def test_prepare_enter_release_cycles_give_every_uid_back(kind: str, tmp_path: Path) -> None:
    """More cycles than the pool has uids: each enter succeeds and each release frees its
    uid. What the cycle costs is a benchmark's figure (``python -m bench.sandbox_enter``),
    not a test's: these machines are too noisy for a time limit."""
    sandbox = make_sandbox(kind, tmp_path)
    cycles = [timed_cycle(sandbox) for _ in range(len(TEST_UIDS) + 8)]
    assert all(prepared >= 0 and entered >= 0 for prepared, entered in cycles)
