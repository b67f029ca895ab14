"""The abuse suite: hostile code run in kernels of a real ``cellhub serve``, and contained.

Each case runs its hostile code in a kernel through the Jupyter API, asserts that
the sandbox stopped it, and then that the service is unharmed: a bystander
kernel started before every case still answers ``1+1`` promptly, and a new
kernel starts and answers too.

Every hostile cell bounds itself (a deadline, a byte or a count limit) and every
request has a timeout, so a containment bug fails a test instead of taking the
(shared) machine down.

As root the worker uses the linux sandbox and every case runs. As an ordinary
user it falls back to rlimits: the cases test what that fallback promises and
skip, saying why, what it cannot contain (docs/threat-model.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.conftest import RunningHub, start_cellhub
from tests.hub.test_metrics import sandbox_kills
from tests.kernel_client import Execution, Hub, KernelClient, request_message
from tests.polling import until

MiB = 2**20
ROOT = os.geteuid() == 0
#: The worker's sandbox: linux as root, unless CELLHUB_SANDBOX=rlimit asks for the fallback.
LINUX = ROOT and os.environ.get("CELLHUB_SANDBOX", "auto") != "rlimit"
pytestmark = pytest.mark.timeout(180)

#: Small limits, so each limit is reached in seconds and with little of the machine.
LIMITS = {
    "CELLHUB_MEMORY": str(384 * MiB),
    "CELLHUB_ADDRESS_SPACE": str(2048 * MiB),
    "CELLHUB_PROCESSES": "96",
    "CELLHUB_OPEN_FILES": "2048",
    "CELLHUB_DISK_QUOTA": str(48 * MiB),
    "CELLHUB_FILE_SIZE": str(16 * MiB),
    "CELLHUB_OUTPUT_CAP": str(1 * MiB),
    "CELLHUB_SPARE_SESSIONS": "1",
}
FALLBACK_SHARES_UID = (
    "the rlimit fallback (worker not root) runs every session as the worker's own uid: "
    "it cannot keep a session from the worker's files and processes"
)
needs_linux_sandbox = pytest.mark.skipif(not LINUX, reason=FALLBACK_SHARES_UID)
RESULT = re.compile(r"^RESULT (.*)$", re.MULTILINE)


# --- the server and the bystander ------------------------------------------------------------


def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 0700 directory outside /tmp, as in production (/var/lib/…, ~/.local/share/…).

    Under /tmp the session's private /tmp would hide the data directory anyway, and a
    test of the veil over the keys and the database would prove nothing.
    """
    if ROOT:
        with contextlib.suppress(OSError):
            return Path(tempfile.mkdtemp(prefix="cellhub-abuse-", dir="/run"))
    return tmp_path_factory.mktemp("abuse")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    root = data_root(tmp_path_factory)
    running = start_cellhub(root / "data", env=LIMITS)
    sandbox = next(line for line in running.output if "sandbox:" in line)
    expected = "linux sandbox" if LINUX else "rlimit sandbox — REDUCED ISOLATION"
    assert f"sandbox: {expected}" in sandbox, sandbox
    yield running
    running.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def bystander(server: RunningHub) -> str:
    """A kernel that runs nothing hostile, started before the cases."""
    response = httpx.post(
        server.url + "api/kernels",
        json={"name": "python3"},
        headers={"Authorization": f"token {server.token}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


class ClosingHub(Hub):
    """A client whose kernel connections are closed after the test, even a failed one."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(url, token)
        self.clients: list[KernelClient] = []

    async def kernel(self, name: str = "python3") -> tuple[str, KernelClient]:
        kernel_id, client = await super().kernel(name)
        self.clients.append(client)
        return kernel_id, client

    async def aclose(self) -> None:
        for client in self.clients:
            await client.close()
        await super().aclose()


@pytest.fixture
async def hub(server: RunningHub) -> Any:
    client = ClosingHub(server.url, server.token)
    yield client
    await client.aclose()


async def run(kernel: KernelClient, code: str, timeout: float = 60) -> Execution:
    return await kernel.execute(code, timeout=timeout)


def result(execution: Execution) -> Any:
    """What the cell printed as ``RESULT <json>``."""
    match = RESULT.search(execution.stream_text())
    assert match, (
        f"no result; output: {execution.stream_text()[-2000:]!r} {execution.iopub!r:.2000}"
    )
    return json.loads(match.group(1))


def emit(expression: str) -> str:
    """Code that prints ``expression`` as the cell's result (see :func:`result`)."""
    return f"print('RESULT', __import__('json').dumps({expression}))"


async def send_execute(kernel: KernelClient, code: str) -> None:
    """Send a cell without waiting for its end: for cells that end their session."""
    await kernel.send(request_message("execute_request", {"code": code, "silent": False}))


async def round_trip(server: RunningHub, kernel_id: str, timeout: float = 5) -> float:
    """Seconds for ``kernel_id`` to answer ``1+1``; fails after ``timeout``."""
    kernel = await KernelClient.connect(server.url, server.token, kernel_id)
    try:
        started = time.monotonic()
        answer = await kernel.execute("1+1", timeout=timeout)
        elapsed = time.monotonic() - started
    finally:
        await kernel.close()
    assert answer.first("execute_result")["content"]["data"]["text/plain"] == "2"
    return elapsed


async def assert_service_unharmed(server: RunningHub, bystander: str) -> None:
    """The bystander answers promptly, and a new kernel starts and answers."""
    assert await round_trip(server, bystander) < 5
    hub = Hub(server.url, server.token)
    try:
        kernel_id = await hub.start_kernel()
        assert await round_trip(server, kernel_id, timeout=15) < 15
        assert (await hub.http.delete(f"/api/kernels/{kernel_id}")).status_code == 204
    finally:
        await hub.aclose()


async def bystander_during(server: RunningHub, bystander: str, hostile: asyncio.Task[Any]) -> None:
    """While ``hostile`` runs, the bystander keeps answering within 5 s."""
    await asyncio.sleep(1)  # kept, as the next: the bystander is sampled during the attack
    while not hostile.done():
        assert await round_trip(server, bystander) < 5
        await asyncio.sleep(0.5)


async def wait_dead(kernel: KernelClient, timeout: float = 15) -> str:
    """The reason of the ``status: dead`` the client is sent."""
    deadline = time.monotonic() + timeout
    for msg in kernel.other:
        if msg["header"]["msg_type"] == "status" and msg["content"]["execution_state"] == "dead":
            return str(msg["content"].get("reason", ""))
    while True:
        msg = await kernel.recv(max(0.1, deadline - time.monotonic()))
        if msg["header"]["msg_type"] == "status" and msg["content"]["execution_state"] == "dead":
            return str(msg["content"].get("reason", ""))


def worker_and_template(server: RunningHub) -> tuple[psutil.Process, psutil.Process]:
    for proc in server.descendants():
        with contextlib.suppress(psutil.Error):
            if " worker " in " ".join(proc.cmdline()) + " ":
                templates = [
                    c
                    for c in proc.children()
                    if "cellhub.template.process" in " ".join(c.cmdline())
                ]
                return proc, templates[0]
    raise AssertionError("no worker found")


def living(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
    return alive


def with_uid(uid: int) -> list[int]:
    found = []
    for proc in psutil.process_iter(["uids", "status"]):
        with contextlib.suppress(psutil.Error):
            if uid in proc.info["uids"] and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
    return found


def host_pid(uid: int, pid: int) -> int:
    """The host's pid of a session's process that the session numbers ``pid``.

    In the linux sandbox a session has a PID namespace of its own (its uid, too): the
    last pid on the ``NSpid`` line of a process of that uid is the one it sees.
    """
    if not LINUX:
        return pid
    for candidate in with_uid(uid):
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{candidate}/status").read_text()
            nspids = next(line for line in status.splitlines() if line.startswith("NSpid:"))
            if int(nspids.split()[-1]) == pid:
                return candidate
    raise AssertionError(f"no process of uid {uid} is {pid} in its PID namespace")


def wait_for(find: Any, timeout: float = 5.0) -> list[int]:
    """Poll ``find()`` until it returns nothing or ``timeout`` passes; its last answer."""
    deadline = time.monotonic() + timeout
    while (left := find()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(left)


# --- processes, memory, CPU --------------------------------------------------------------------

FORK_BOMB = """
import errno, os, time
deadline = time.monotonic() + 8
failure = None
while failure is None and time.monotonic() < deadline:
    try:
        pid = os.fork()
    except OSError as exc:
        failure = errno.errorcode[exc.errno]
        break
    if pid == 0:
        # Every child forks too, until the deadline: an exponential bomb that ends by itself.
        while time.monotonic() < deadline:
            try:
                os.fork()
            except OSError:
                time.sleep(0.05)
        os._exit(0)
peak = len([p for p in os.listdir('/proc') if p.isdigit()])
while time.monotonic() < deadline + 1:
    time.sleep(0.2)
with __import__('contextlib').suppress(ChildProcessError):
    while os.waitpid(-1, os.WNOHANG)[0]:
        pass
print('RESULT', __import__('json').dumps({'failure': failure, 'peak': peak}))
"""


@pytest.mark.skipif(
    ROOT and not LINUX,
    reason="the fallback's RLIMIT_NPROC does not bind root: a root worker has the linux sandbox",
)
async def test_fork_bomb_stops_at_the_process_limit(
    server: RunningHub, bystander: str, hub: Hub
) -> None:
    pids_kills = await sandbox_kills(hub, "pids")
    kernel_id, kernel = await hub.kernel()
    bomb = asyncio.create_task(run(kernel, FORK_BOMB, timeout=40))
    await bystander_during(server, bystander, bomb)
    outcome = result(await bomb)
    assert outcome["failure"] == "EAGAIN"
    if LINUX:  # the session sees only its own processes (hidepid): it counts its bomb
        assert outcome["peak"] <= int(LIMITS["CELLHUB_PROCESSES"])
    assert (await run(kernel, emit("1"), timeout=15)).reply is not None
    await kernel.close()
    await assert_service_unharmed(server, bystander)
    if LINUX:  # the session's end counts the limit it hit, for the hubs' /metrics
        assert (await hub.http.delete(f"/api/kernels/{kernel_id}")).status_code == 204
        await until(
            lambda: counts(hub, "pids", pids_kills + 1), "the pids limit counted", timeout=15
        )


async def counts(hub: Hub, cause: str, expected: float) -> bool:
    return await sandbox_kills(hub, cause) == expected


MEMORY_BOMB = """
hoard = []
for _ in range(64):  # at most 4 GiB, in 64 MiB steps, every page touched
    block = bytearray(64 << 20)
    block[::4096] = b'x' * (16 << 10)
    hoard.append(block)
print('RESULT', len(hoard))
"""


async def test_memory_bomb_is_stopped(server: RunningHub, bystander: str, hub: Hub) -> None:
    oom_kills = await sandbox_kills(hub, "oom")
    _, kernel = await hub.kernel()
    if LINUX:
        # The memory cgroup's OOM killer ends the session; the client is told why, and the
        # hubs' /metrics count it.
        await send_execute(kernel, MEMORY_BOMB)
        reason = await wait_dead(kernel, timeout=60)
        assert "SIGKILL" in reason and "memory" in reason
        await until(lambda: counts(hub, "oom", oom_kills + 1), "the OOM kill counted", 15)
    else:
        # The fallback has only RLIMIT_AS: the allocation fails, the kernel lives on.
        bombed = await run(kernel, MEMORY_BOMB)
        assert bombed.first("error")["content"]["ename"] == "MemoryError"
        assert (await run(kernel, "del hoard\n" + emit("1"))).reply is not None
    await kernel.close()
    await assert_service_unharmed(server, bystander)


async def test_cpu_loop_is_killed_past_its_cpu_limit(tmp_path: Path) -> None:
    cpu_server = start_cellhub(
        tmp_path / "data", env={"CELLHUB_CPU_SECONDS": "2", "CELLHUB_SPARE_SESSIONS": "1"}
    )
    hub = Hub(cpu_server.url, cpu_server.token)
    try:
        bystander = await hub.start_kernel()
        _, kernel = await hub.kernel()
        started = time.monotonic()
        await send_execute(
            kernel, "import time\nt = time.monotonic()\nwhile time.monotonic() - t < 60: pass"
        )
        reason = await wait_dead(kernel, timeout=30)
        assert "CPU time" in reason and "SIGXCPU" in reason
        assert time.monotonic() - started < 20
        await until(lambda: counts(hub, "cpu", 1), "the CPU kill counted", timeout=15)
        await kernel.close()
        await assert_service_unharmed(cpu_server, bystander)
    finally:
        await hub.aclose()
        cpu_server.stop()


# --- output, disk, files --------------------------------------------------------------------

FLOODS = {
    "print": "t = time.monotonic()\nwhile time.monotonic() - t < 3: print('x' * 999)",
    "fd": "t = time.monotonic()\nwhile time.monotonic() - t < 3: os.write(1, b'y' * 65536)",
    "subprocess": "subprocess.run(['timeout', '3', 'yes', 'z' * 200])",
}


@pytest.mark.parametrize("flood", sorted(FLOODS))
async def test_output_flood_is_truncated_with_a_notice(
    server: RunningHub, bystander: str, hub: Hub, flood: str
) -> None:
    _, kernel = await hub.kernel()
    code = "import os, subprocess, time\n" + FLOODS[flood]
    flooding = asyncio.create_task(run(kernel, code, timeout=60))
    await bystander_during(server, bystander, flooding)
    flooded = await flooding
    assert flooded.reply is not None and flooded.reply["content"]["status"] == "ok"
    assert "[cellhub] Output truncated" in flooded.stream_text("stderr")
    sent = len(flooded.stream_text("stdout").encode())
    assert int(LIMITS["CELLHUB_OUTPUT_CAP"]) // 2 < sent <= int(LIMITS["CELLHUB_OUTPUT_CAP"])
    after = await run(kernel, emit("6 * 7"), timeout=15)
    assert result(after) == 42
    await kernel.close()
    await assert_service_unharmed(server, bystander)


FILL_DISK = """
import errno, os
where, written, failure = {where!r} or os.getcwd(), 0, None
try:
    for n in range(128):  # at most 512 MiB, in files of 8 MiB (below the file size limit)
        fd = os.open(os.path.join(where, f'fill{{n}}'), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for _ in range(2):
                written += os.write(fd, b'x' * (4 << 20))
        finally:
            os.close(fd)
except OSError as exc:
    failure = errno.errorcode[exc.errno]
for name in os.listdir(where):
    if name.startswith('fill'):
        os.unlink(os.path.join(where, name))
with open(os.path.join(where, 'after'), 'w') as f:
    f.write('still writable')
with open(os.path.join(where, 'after')) as f:
    after = f.read()
outcome = {{'failure': failure, 'written': written, 'after': after}}
print('RESULT', __import__('json').dumps(outcome))
"""


@pytest.mark.skipif(
    not LINUX,
    reason="the rlimit fallback has no disk quota: homes are on the host disk, and only "
    "RLIMIT_FSIZE bounds each file (tested below)",
)
@pytest.mark.parametrize("where", ["home", "/tmp"])
async def test_filling_the_disk_stops_at_the_quota(
    server: RunningHub, bystander: str, hub: Hub, where: str
) -> None:
    _, kernel = await hub.kernel()
    filled = await run(kernel, FILL_DISK.format(where="" if where == "home" else where))
    outcome = result(filled)
    assert outcome["failure"] == "ENOSPC"
    assert outcome["written"] <= int(LIMITS["CELLHUB_DISK_QUOTA"])
    assert outcome["after"] == "still writable", "the session lives on and can write again"
    await kernel.close()
    await assert_service_unharmed(server, bystander)


BIG_FILE = """
import errno, os
written, failure = 0, None
fd = os.open('big', os.O_WRONLY | os.O_CREAT, 0o600)
try:
    for _ in range(128):  # at most 512 MiB
        written += os.write(fd, b'x' * (4 << 20))
except OSError as exc:
    failure = errno.errorcode[exc.errno]
os.close(fd)
os.unlink('big')
print('RESULT', __import__('json').dumps({'failure': failure, 'written': written}))
"""


async def test_a_file_stops_at_the_file_size_limit(
    server: RunningHub, bystander: str, hub: Hub
) -> None:
    """RLIMIT_FSIZE, which the fallback has too (Python ignores SIGXFSZ: EFBIG)."""
    _, kernel = await hub.kernel()
    outcome = result(await run(kernel, BIG_FILE))
    assert outcome == {"failure": "EFBIG", "written": int(LIMITS["CELLHUB_FILE_SIZE"])}
    await kernel.close()
    await assert_service_unharmed(server, bystander)


OPEN_FILES = """
import errno, os, resource
fds, failure = [], None
try:
    for _ in range(100_000):
        fds.append(os.open('/dev/null', os.O_RDONLY))
except OSError as exc:
    failure = errno.errorcode[exc.errno]
opened = len(fds)
for fd in fds:
    os.close(fd)
limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
print('RESULT', __import__('json').dumps({'failure': failure, 'opened': opened, 'limit': limit}))
"""


async def test_thousands_of_open_files_stop_at_the_limit(
    server: RunningHub, bystander: str, hub: Hub
) -> None:
    _, kernel = await hub.kernel()
    outcome = result(await run(kernel, OPEN_FILES))
    limit = int(LIMITS["CELLHUB_OPEN_FILES"])
    assert outcome["failure"] == "EMFILE" and outcome["limit"] == limit
    assert limit - 64 < outcome["opened"] < limit
    assert result(await run(kernel, OPEN_FILES)) == outcome, "the files were closed again"
    await kernel.close()
    await assert_service_unharmed(server, bystander)


# --- nothing outlives its session ------------------------------------------------------------

ESCAPE = """
import json, os, time
r, w = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(w, str(os.getpid()).encode())
        deadline = time.monotonic() + 60  # gives up by itself if containment fails
        while time.monotonic() < deadline:
            time.sleep(0.1)
    os._exit(0)
os.wait()
escapee = int(os.read(r, 32))
print('RESULT', json.dumps({'session': os.getpid(), 'uid': os.getuid(), 'escapee': escapee}))
"""


@pytest.mark.parametrize("end", ["shutdown", "sigkill"])
async def test_a_double_forked_setsid_process_dies_with_its_session(
    server: RunningHub, bystander: str, hub: Hub, end: str
) -> None:
    kernel_id, kernel = await hub.kernel()
    outcome = result(await run(kernel, ESCAPE))
    mine = [host_pid(outcome["uid"], outcome[name]) for name in ("session", "escapee")]
    assert living(mine[1:]), "the escapee started"
    if end == "shutdown":
        assert (await hub.http.delete(f"/api/kernels/{kernel_id}")).status_code == 204
    else:
        os.kill(mine[0], signal.SIGKILL)
        reason = await wait_dead(kernel)
        assert "SIGKILL" in reason, reason
    assert await asyncio.to_thread(wait_for, lambda: living(mine)) == []
    if LINUX:  # the session's uid is its own: nothing may run under it any more
        assert await asyncio.to_thread(wait_for, lambda: with_uid(outcome["uid"])) == []
    await kernel.close()
    await assert_service_unharmed(server, bystander)


# --- what a session must not reach ---------------------------------------------------------

SNOOP = """
import errno, json, os
outcome = {{}}
for path in {paths!r}:
    try:
        with open(path, 'rb') as f:
            f.read(1)
        outcome[path] = 'read'
    except OSError as exc:
        outcome[path] = errno.errorcode[exc.errno]
for path in {listed!r}:
    try:
        outcome[path] = sorted(os.listdir(path))
    except OSError as exc:
        outcome[path] = errno.errorcode[exc.errno]
print('RESULT', json.dumps(outcome))
"""


@needs_linux_sandbox
async def test_another_sessions_home_the_keys_and_the_database_are_out_of_reach(
    server: RunningHub, bystander: str, hub: Hub
) -> None:
    _, owner = await hub.kernel()
    await run(owner, "open('diary', 'w').write('secret')")
    home = result(await run(owner, emit("__import__('os').getcwd()")))
    worker, template = worker_and_template(server)
    data = server.data_dir
    keys = sorted(str(p) for p in (data / "certs").iterdir())
    database = data / "cellhub.sqlite"
    assert keys and database.exists()
    paths = [
        f"{home}/diary",
        *keys,
        str(database),
        f"/proc/{worker.pid}/cmdline",
        f"/proc/{server.process.pid}/environ",
        f"/proc/{template.pid}/mem",
    ]
    listed = [str(data), str(data / "certs"), str(Path(home).parent), "/run/cellhub/uids"]
    _, snooper = await hub.kernel()
    outcome = result(await run(snooper, SNOOP.format(paths=paths, listed=listed)))
    for path in paths:
        assert outcome[path] in {"ENOENT", "EACCES"}, (path, outcome[path])
    assert outcome[str(data)] in (["sessions"], "ENOENT", "EACCES"), outcome[str(data)]
    assert outcome[str(data / "certs")] in {"ENOENT", "EACCES"}
    snooper_home = result(await run(snooper, emit("__import__('os').getcwd()")))
    assert outcome[str(Path(home).parent)] in (
        [Path(snooper_home).name],
        "ENOENT",
        "EACCES",
    ), "a session sees at most its own home"
    assert (
        outcome["/run/cellhub/uids"] in {"ENOENT", "EACCES"} or outcome["/run/cellhub/uids"] == []
    ), outcome["/run/cellhub/uids"]
    await owner.close()
    await snooper.close()
    await assert_service_unharmed(server, bystander)


SEARCH_COMMAND_LINES = """
import json, os
seen, found = 0, []
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            line = f.read()
    except OSError:
        continue
    seen += 1
    if TOKEN.encode() in line:
        found.append(int(pid))
print('RESULT', json.dumps({'seen': seen, 'found': found}))
"""


async def test_the_token_is_on_no_command_line_a_session_can_read(
    server: RunningHub, bystander: str, hub: Hub
) -> None:
    """In the fallback a session reads every command line of the worker's user."""
    _, kernel = await hub.kernel()
    code = f"TOKEN = {server.token!r}\n" + SEARCH_COMMAND_LINES
    outcome = result(await run(kernel, code))
    assert outcome["seen"] >= 1 and outcome["found"] == [], outcome
    await kernel.close()
    await assert_service_unharmed(server, bystander)


SIGNAL = """
import errno, json, os, signal
outcome = {{}}
for name, pid in {targets!r}.items():
    try:
        os.kill(pid, signal.SIGKILL)
        outcome[name] = 'killed'
    except OSError as exc:
        outcome[name] = errno.errorcode[exc.errno]
try:
    os.kill(-1, signal.SIGKILL)  # everything it may signal: at most its own processes
    outcome['all'] = 'sent'
except OSError as exc:
    outcome['all'] = errno.errorcode[exc.errno]
print('RESULT', json.dumps(outcome))
"""


@needs_linux_sandbox
async def test_signalling_the_worker_the_template_or_another_session_fails(
    server: RunningHub, bystander: str, hub: Hub
) -> None:
    other = await KernelClient.connect(server.url, server.token, bystander)
    ids = emit("[__import__('os').getuid(), __import__('os').getpid()]")
    victim = host_pid(*result(await run(other, ids, timeout=15)))
    await other.close()
    worker, template = worker_and_template(server)
    targets = {
        "serve": server.process.pid,
        "worker": worker.pid,
        "template": template.pid,
        "other session": victim,
        "init": 1,
    }
    _, kernel = await hub.kernel()
    outcome = result(await run(kernel, SIGNAL.format(targets=targets)))
    for name in targets:
        # In the linux sandbox pid 1 is the init of the session's own PID namespace,
        # which the kernel keeps from every signal sent from inside it.
        ignored = {"killed"} if LINUX and name == "init" else set()
        assert outcome[name] in {"EPERM", "ESRCH", *ignored}, (name, outcome[name])
    assert outcome["all"] in {"sent", "ESRCH"}
    assert living([server.process.pid, worker.pid, template.pid, victim]) == [
        server.process.pid,
        worker.pid,
        template.pid,
        victim,
    ]
    await kernel.close()
    await assert_service_unharmed(server, bystander)


CONNECT = """
import errno, json, socket
outcome = {{}}
for host, port in {targets!r}:
    if port is None:
        family = socket.AF_UNIX
    else:
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect(host if port is None else (host, port))
        outcome[f'{{host}}:{{port}}'] = 'connected'
    except OSError as exc:
        outcome[f'{{host}}:{{port}}'] = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    finally:
        s.close()
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))
    outcome['udp'] = 'sent'
except OSError as exc:
    outcome['udp'] = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
print('RESULT', json.dumps(outcome))
"""


@pytest.mark.skipif(
    not LINUX,
    reason="no network namespace in the rlimit fallback: sessions share the host's network",
)
async def test_no_network_not_even_the_hub_or_the_worker(
    server: RunningHub, bystander: str, hub: Hub
) -> None:
    hub_port = int(server.url.rstrip("/").rsplit(":", 1)[1])
    worker_line = next(line for line in server.output if "worker at" in line)
    worker_socket = re.search(r"worker at unix:(\S+);", worker_line).group(1)  # type: ignore[union-attr]
    targets = [
        ("127.0.0.1", hub_port),
        (worker_socket, None),
        ("::1", hub_port),
        ("1.1.1.1", 443),
        ("8.8.8.8", 53),
    ]
    _, kernel = await hub.kernel()
    outcome = result(await run(kernel, CONNECT.format(targets=targets)))
    assert "connected" not in outcome.values() and outcome["udp"] != "sent", outcome
    await kernel.close()
    await assert_service_unharmed(server, bystander)
