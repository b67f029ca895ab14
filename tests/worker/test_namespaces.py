"""Each session has IPC, PID, UTS and cgroup namespaces of its own: tests through cellhub serve.

Two kernels of one server play attacker and victim: what one creates (a SysV
shared memory segment, a POSIX message queue) the other cannot open, the host
does not hold, and nothing of it is left once the kernel is deleted; a session
sees and signals only its own processes, has a hostname of its own, and sees
no other session's cgroup.

These namespaces need the linux sandbox (root). The rlimit fallback has none,
and its start-up line says so; that much is tested as an ordinary user too.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from bench.memory import rollup_bytes

from cellhub.sandbox import RlimitSandbox, SandboxLimits
from tests.conftest import RunningHub, start_cellhub
from tests.kernel_client import Hub, KernelClient
from tests.worker.test_abuse import data_root

ROOT = os.geteuid() == 0
LINUX = ROOT and os.environ.get("CELLHUB_SANDBOX", "auto") != "rlimit"
needs_linux_sandbox = pytest.mark.skipif(
    not LINUX,
    reason="namespaces need the linux sandbox (root); the rlimit fallback has none "
    "and says so (test_the_fallback_says_it_has_no_namespaces)",
)
pytestmark = pytest.mark.timeout(180)
RESULT = re.compile(r"^RESULT (.*)$", re.MULTILINE)
IPC_CREAT = 0o1000
IPC_RMID = 0

LIBC = """
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_ssize_t
libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
def fails(result):
    return errno.errorcode[ctypes.get_errno()] if result in (-1, None) else None
"""
CREATE = (
    LIBC
    + """
segment = libc.shmget({key}, 1 << 20, 0o1000 | 0o666)
queue = libc.mq_open({queue!r}.encode(), os.O_CREAT | os.O_RDWR, 0o666, None)
print('RESULT', json.dumps({{'segment': segment, 'queue': queue, 'uid': os.getuid()}}))
"""
)
OPEN = (
    LIBC
    + """
segment = libc.shmget({key}, 0, 0o666)
attached = fails(libc.shmat({segment}, None, 0))
queue = fails(libc.mq_open({queue!r}.encode(), os.O_RDWR, 0, None))
with open('/proc/sysvipc/shm') as f:
    listed = len(f.read().splitlines()) - 1
print('RESULT', json.dumps({{'shmget': fails(segment), 'shmat': attached, 'mq_open': queue,
                            'listed': listed}}))
"""
)
PROCESSES = """
import errno, json, os
def probe(pid):
    try:
        os.kill(pid, 0)
        return 'exists'
    except OSError as exc:
        return errno.errorcode[exc.errno]
print('RESULT', json.dumps({{
    'pid': os.getpid(), 'ppid': os.getppid(), 'uid': os.getuid(),
    'listed': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),
    'probes': {{name: probe(pid) for name, pid in {targets!r}.items()}},
}}))
"""
ORPHANS = """
import json, os, time
if os.fork() == 0:
    if os.fork() == 0:
        time.sleep(0.2)  # exits once its parent has: an orphan of the namespace's init
        os._exit(0)
    os._exit(0)
os.wait()
time.sleep(1.0)
states = {}
for name in os.listdir('/proc'):
    if name.isdigit():
        with open(f'/proc/{name}/stat') as f:
            states[name] = f.read().rsplit(')', 1)[1].split()[0]
print('RESULT', json.dumps(states))
"""
CGROUPS = """
import json, os, socket
names = []
for top, dirs, _ in os.walk('/sys/fs/cgroup'):
    names += dirs
    if len(names) > 10000:
        break
with open('/proc/self/cgroup') as f:
    own = [line.rstrip('\\n').split(':', 2)[2] for line in f]
print('RESULT', json.dumps({'names': names, 'own': own, 'hostname': socket.gethostname()}))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    root = data_root(tmp_path_factory)
    running = start_cellhub(root / "data", env={"CELLHUB_SPARE_SESSIONS": "1"})
    yield running
    running.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def hub(server: RunningHub) -> AsyncIterator[Hub]:
    client = Hub(server.url, server.token)
    yield client
    await client.aclose()


async def result(kernel: KernelClient, code: str) -> Any:
    execution = await kernel.execute(code, timeout=60)
    match = RESULT.search(execution.stream_text())
    assert match, f"no result: {execution.stream_text()[-2000:]!r} {execution.iopub!r:.2000}"
    return json.loads(match.group(1))


def host_segments() -> dict[int, int]:
    """Key → id of the SysV shared memory segments the host's IPC namespace holds."""
    lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    return {int(fields[0]): int(fields[1]) for fields in (line.split() for line in lines)}


def worker_and_template(server: RunningHub) -> tuple[psutil.Process, psutil.Process]:
    worker = next(p for p in server.descendants() if " worker " in " ".join(p.cmdline()) + " ")
    template = next(
        c for c in worker.children() if "cellhub.template.process" in " ".join(c.cmdline())
    )
    return worker, template


def with_uid(uid: int) -> list[int]:
    found = []
    for proc in psutil.process_iter(["uids", "status"]):
        with contextlib.suppress(psutil.Error):
            if uid in proc.info["uids"] and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
    return found


def same_pid_namespace(pid: int) -> set[int]:
    """The host pids of the processes in ``pid``'s PID namespace."""
    namespace = os.readlink(f"/proc/{pid}/ns/pid")
    found = set()
    for process in psutil.process_iter():
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{process.pid}/ns/pid") == namespace:
                found.add(process.pid)
    return found


def wait_until_gone(uid: int, timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := with_uid(uid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@needs_linux_sandbox
async def test_shared_memory_and_message_queues_are_the_sessions_own(
    server: RunningHub, hub: Hub
) -> None:
    key, queue = secrets.randbelow(2**30) + 1, f"/cellhub-test-{secrets.token_hex(4)}"
    owner_id, owner = await hub.kernel()
    _, other = await hub.kernel()
    try:
        created = await result(owner, CREATE.format(key=key, queue=queue))
        assert created["segment"] >= 0 and created["queue"] >= 0, created
        assert key not in host_segments(), "the segment is in the host's IPC namespace"
        seen = await result(other, OPEN.format(key=key, segment=created["segment"], queue=queue))
        assert seen == {"shmget": "ENOENT", "shmat": "EINVAL", "mq_open": "ENOENT", "listed": 0}
        assert (await hub.http.delete(f"/api/kernels/{owner_id}")).status_code == 204
        assert wait_until_gone(created["uid"]) == []
        assert key not in host_segments(), "the segment outlived its session"
    finally:
        await owner.close()
        await other.close()
        remove_leaks(key, queue)


def remove_leaks(key: int, queue: str) -> None:
    """Remove from the host what a session without its own IPC namespace left there."""
    libc = ctypes.CDLL(None, use_errno=True)
    if key in host_segments():
        libc.shmctl(host_segments()[key], IPC_RMID, None)
    libc.mq_unlink(queue.encode())


@needs_linux_sandbox
async def test_a_session_sees_and_signals_only_its_own_processes(
    server: RunningHub, hub: Hub
) -> None:
    worker, template = worker_and_template(server)
    targets = {"serve": server.process.pid, "worker": worker.pid, "template": template.pid}
    _, kernel = await hub.kernel()
    try:
        seen = await result(kernel, PROCESSES.format(targets=targets))
    finally:
        await kernel.close()
    assert seen["probes"] == dict.fromkeys(targets, "ESRCH"), seen
    # PID 1 is the namespace's init, another user's and so hidden from the session's /proc;
    # the session's parent, the template, is outside the namespace.
    assert seen["pid"] == 2 and seen["ppid"] == 0 and seen["listed"] == [2], seen
    on_host = [psutil.Process(pid) for pid in with_uid(seen["uid"])]
    assert [p.ppid() for p in on_host] == [template.pid]
    (init,) = same_pid_namespace(on_host[0].pid) - {on_host[0].pid}
    # Not a copy of the template: a small process of the init maker's, under root, that
    # keeps next to no memory of its own (an executed sleep; a fork of the maker kept 1.3 MiB).
    assert psutil.Process(init).ppid() != template.pid and psutil.Process(init).uids().real == 0
    kept = rollup_bytes(init, "Private_Dirty")
    assert kept < 512 * 1024, Path(f"/proc/{init}/smaps_rollup").read_text()


@needs_linux_sandbox
async def test_the_namespace_init_reaps_what_a_session_orphans(hub: Hub) -> None:
    _, kernel = await hub.kernel()
    try:
        states = await result(kernel, ORPHANS)
    finally:
        await kernel.close()
    assert states == {"2": "R"}, f"only the session itself may be left: {states}"


@needs_linux_sandbox
async def test_a_session_has_its_own_hostname_and_sees_only_its_own_cgroup(
    server: RunningHub, hub: Hub
) -> None:
    _, other = await hub.kernel()
    _, kernel = await hub.kernel()
    try:
        seen = await result(kernel, CGROUPS)
    finally:
        await other.close()
        await kernel.close()
    assert seen["hostname"] != socket.gethostname()
    assert [name for name in seen["names"] if "session-" in name or "cellhub" in name] == []
    assert set(seen["own"]) == {"/"}, "the session's cgroup is the root of its cgroup namespace"


def test_the_fallback_says_it_has_no_namespaces(tmp_path: Path) -> None:
    line = RlimitSandbox(SandboxLimits(), tmp_path).describe()
    assert "REDUCED ISOLATION" in line and "pid, ipc, network, uts and cgroup namespaces" in line
