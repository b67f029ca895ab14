"""What a session holds of the host, tried through a real ``cellhub serve`` (issue 12: 2, 4, 5).

- **Environment**: ``cellhub serve`` runs with the token, a database URL and a canary in
  its environment; neither ``os.environ`` nor ``/proc/self/environ`` of a session (nor of
  the worker or the template) has them, while the deployment's ``session_environment``
  reaches the session.
- **File descriptors**: a session holds its socket and pipes and ``/dev/null``, nothing
  of the host; the service's log (a file here, as under systemd or a redirect) cannot be
  written, forged or truncated from a session. What a session has to say reaches the
  log through the worker, marked with the kernel id and rate-limited.
- **System calls**: the seccomp filter refuses namespaces, keyrings, mount, ptrace, bpf…
  with EPERM, while numpy, matplotlib, subprocesses, threads and multiprocessing work.

The filter, the environment and the descriptors are the same in the rlimit fallback, so
these cases run as an ordinary user too (each ``syscall`` probe forks, so a session's
threads do not change what the kernel answers).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PYTHON3_ONLY, UNLIMITED_CLIENTS, URL_LINE, RunningHub
from tests.kernel_client import Hub
from tests.worker.test_abuse import (
    LINUX,
    ClosingHub,
    assert_service_unharmed,
    data_root,
    emit,
    result,
    run,
    worker_and_template,
)
from tests.worker.test_sandbox import Send, make_sandbox, needs_root, session

pytestmark = pytest.mark.timeout(180)

CANARY = secrets.token_hex(12)
#: What the service's environment holds that no session may see.
SECRET_NAMES = ("CELLHUB_TOKEN", "CELLHUB_DATABASE_URL", "HARDENING_CANARY")


@dataclass
class LoggedServer(RunningHub):
    """A ``cellhub serve`` whose stdout and stderr go to a file: the service's log."""

    log: Path = Path()
    #: Name → value of what the service's environment holds that no session may see.
    secrets: dict[str, str] = field(default_factory=dict)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while needle not in (text := self.log_text()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not in the log:\n{text[-3000:]}")
            time.sleep(0.05)
        return text


def start_logged(data_dir: Path, log: Path, env: dict[str, str]) -> LoggedServer:
    """Start ``cellhub serve`` with ``env`` added to ours, its output going to ``log``."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cellhub", "serve", "--port", "0", "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **PYTHON3_ONLY, **env},
        )
    deadline = time.monotonic() + 90
    # serve prints its address, then its worker's line once the template is ready
    while not (match := URL_LINE.search(text := log.read_text(errors="replace"))) or (
        "; sandbox: " not in text
    ):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("cellhub serve did not start:\n" + text)
        time.sleep(0.05)
    output = text.splitlines()
    secret = {name: env[name] for name in SECRET_NAMES}
    return LoggedServer(
        process, match.group(1) + "/", match.group(2), data_dir, output, log, secret
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedServer]:
    root = data_root(tmp_path_factory)
    data = root / "data"
    env = {
        **UNLIMITED_CLIENTS,
        "CELLHUB_TOKEN": secrets.token_hex(16),
        "CELLHUB_DATABASE_URL": f"sqlite:///{data}/cellhub.sqlite",
        "HARDENING_CANARY": CANARY,
        "DEPLOY_PASSED_ON": "passed-on",
        "CELLHUB_SESSION_ENVIRONMENT": "DEPLOY_PASSED_ON,DEPLOY_SET=set-by-setting",
        "CELLHUB_SPARE_SESSIONS": "1",
    }
    running = start_logged(data, root / "service.log", env)
    yield running
    running.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def hub(server: LoggedServer) -> Any:
    client = ClosingHub(server.url, server.token)
    yield client
    await client.aclose()


# --- environment ----------------------------------------------------------------------------

ENVIRONMENT = """
import json, os, subprocess
with open('/proc/self/environ', 'rb') as f:
    initial = f.read().decode(errors='replace')
child = subprocess.run(['env'], capture_output=True, text=True).stdout
print('RESULT', json.dumps({'environ': dict(os.environ), 'initial': initial, 'child': child,
                            'cwd': os.getcwd()}))
"""


def assert_no_secret(where: str, text: str, server: LoggedServer) -> None:
    for name, value in server.secrets.items():
        assert name not in text and value not in text, f"{name} is in {where}"


async def test_a_session_sees_the_allowlist_not_the_services_environment(
    server: LoggedServer, hub: Hub
) -> None:
    _, kernel = await hub.kernel()
    seen = result(await run(kernel, ENVIRONMENT))
    assert_no_secret("os.environ", json.dumps(seen["environ"]), server)
    assert_no_secret("/proc/self/environ", seen["initial"], server)
    assert_no_secret("a subprocess's environment", seen["child"], server)
    environ = seen["environ"]
    assert environ["DEPLOY_PASSED_ON"] == "passed-on"
    assert environ["DEPLOY_SET"] == "set-by-setting"
    assert "DEPLOY_SET=set-by-setting" in seen["child"]
    assert environ["HOME"] == seen["cwd"] and "PATH" in environ
    for process in worker_and_template(server):
        initial = Path(f"/proc/{process.pid}/environ").read_bytes().decode(errors="replace")
        assert_no_secret(f"the environment of {process.name()} {process.pid}", initial, server)


# --- file descriptors and the service's log ----------------------------------------------------

DESCRIPTORS = """
import json, os, stat
fds = {}
for name in os.listdir('/proc/self/fd'):
    try:
        mode = os.fstat(int(name)).st_mode
        fds[name] = [os.readlink(f'/proc/self/fd/{name}'), stat.S_ISREG(mode), stat.S_ISSOCK(mode)]
    except OSError:
        pass  # the descriptor of the listing itself, closed by now
print('RESULT', json.dumps(fds))
"""


def host_targets(server: RunningHub) -> set[str]:
    """What the descriptors of serve, the worker and the template point to."""
    targets = set()
    for pid in [server.process.pid, *(p.pid for p in worker_and_template(server))]:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                targets.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return targets


async def test_a_session_holds_no_file_of_the_host(server: LoggedServer, hub: Hub) -> None:
    _, kernel = await hub.kernel()
    fds = result(await run(kernel, DESCRIPTORS))
    shared = host_targets(server) - {"/dev/null"}
    for fd, (target, regular, _) in fds.items():
        assert not regular, f"fd {fd} is a file: {target}"
        assert target == "/dev/null" or target.split(":")[0] in {"socket", "pipe", "anon_inode"}
        assert target not in shared, f"fd {fd} ({target}) is shared with the service"
    assert sum(sock for _, _, sock in fds.values()) == 1, "one socket: the session's own"
    await kernel.close()


TAMPER = """
import errno, json, os, stat
outcome = {}
for name in os.listdir('/proc/self/fd'):
    fd = int(name)
    try:
        if stat.S_ISSOCK(os.fstat(fd).st_mode):
            continue  # the session's own socket: garbage there only ends this kernel
        os.write(fd, b'\\ncellhub: serving at http://forged/?token=FORGED-BY-A-SESSION\\n')
        outcome[name] = 'written'
        os.ftruncate(fd, 0)
        outcome[name] = 'truncated'
    except OSError as exc:
        outcome.setdefault(name, errno.errorcode[exc.errno])
print('RESULT', json.dumps(outcome))
"""


async def test_a_session_cannot_write_or_truncate_the_services_log(
    server: LoggedServer, hub: Hub
) -> None:
    before = server.log_text()
    _, kernel = await hub.kernel()
    outcome = result(await run(kernel, TAMPER))
    assert "truncated" not in outcome.values(), outcome
    after = server.log_text()
    assert after.startswith(before), "the log was truncated or rewritten"
    assert "FORGED-BY-A-SESSION" not in after
    await kernel.close()


FLOOD_DIAGNOSTICS = """
import gc
from cellhub.session.process import Session
session = next(o for o in gc.get_objects() if isinstance(o, Session))
for n in range(1000):
    session.log(f'DIAGNOSTIC {n}\\x1b[2J\\ncellhub: serving at http://forged/?token=FORGED-LOG')
print('RESULT', 1000)
"""


async def test_session_diagnostics_reach_the_log_marked_and_rate_limited(
    server: LoggedServer, hub: Hub
) -> None:
    before = len(server.log_text())
    kernel_id, kernel = await hub.kernel()
    assert result(await run(kernel, FLOOD_DIAGNOSTICS)) == 1000
    assert await run(kernel, emit("1")) is not None  # the session lives on
    text = server.wait_for_log("DIAGNOSTIC 0")[before:]
    lines = [line for line in text.splitlines() if "DIAGNOSTIC" in line or "FORGED" in line]
    assert lines, text
    for line in lines:
        assert line.startswith(f"cellhub-worker: kernel {kernel_id}"), line
    assert len([line for line in lines if "DIAGNOSTIC" in line]) <= 2, "rate-limited"
    assert "\x1b" not in text, "control characters are escaped"
    assert len(text) < 64 * 1024
    await kernel.close()
    await assert_service_unharmed(server, await hub.start_kernel())


# --- system calls ------------------------------------------------------------------------------

PROBES = """
import ctypes, errno, json, os, platform, signal, time
NUMBERS = {
    'x86_64': dict(unshare=272, setns=308, add_key=248, keyctl=250, mount=165, bpf=321,
                   perf_event_open=298, userfaultfd=323, ptrace=101, clone3=435, open_tree=428),
    'aarch64': dict(unshare=97, setns=268, add_key=217, keyctl=219, mount=40, bpf=280,
                    perf_event_open=241, userfaultfd=282, ptrace=117, clone3=435, open_tree=428),
}[platform.machine()]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def call(name, *args):
    ctypes.set_errno(0)
    args = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    if libc.syscall(NUMBERS[name], *args) >= 0:
        return 'ok'
    return errno.errorcode[ctypes.get_errno()]

def forked(probe):
    # In a fresh single-threaded child: the kernel refuses some calls to threaded processes.
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(w, probe().encode())
        finally:
            os._exit(0)
    os.close(w)
    answer = os.read(r, 64).decode()
    os.waitpid(pid, 0)
    os.close(r)
    return answer

def mount_in_a_user_namespace():
    call('unshare', 0x10000000 | 0x00020000)  # CLONE_NEWUSER | CLONE_NEWNS: may fail
    return call('mount', b'none', b'/tmp', b'tmpfs', 0, None)

def ptrace_own_child():
    child = os.fork()
    if child == 0:
        time.sleep(30)
        os._exit(0)
    answer = call('ptrace', 16, child, None, None)  # PTRACE_ATTACH
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    return answer

PROBE = {
    'unshare': lambda: call('unshare', 0x10000000),
    'setns': lambda: call('setns', -1, 0),
    'add_key': lambda: call('add_key', b'user', b'cellhub-test', b'secret', 6, -4),
    'keyctl': lambda: call('keyctl', 0, -4, 0),  # KEYCTL_GET_KEYRING_ID of the user keyring
    'mount': mount_in_a_user_namespace,
    'bpf': lambda: call('bpf', 9999, None, 0),
    'perf_event_open': lambda: call('perf_event_open', None, 0, -1, -1, 0),
    'userfaultfd': lambda: call('userfaultfd', 1),  # UFFD_USER_MODE_ONLY
    'ptrace': ptrace_own_child,
    'clone3': lambda: call('clone3', None, 0),
    'open_tree': lambda: call('open_tree', -100, b'/', 0),
}
print('RESULT', json.dumps({name: forked(probe) for name, probe in PROBE.items()}))
"""
REFUSED = {name: "EPERM" for name in ("unshare", "setns", "add_key", "keyctl", "mount", "bpf")}
REFUSED |= {name: "EPERM" for name in ("perf_event_open", "userfaultfd", "ptrace", "open_tree")}
REFUSED["clone3"] = "ENOSYS"  # so that glibc falls back to clone, whose flags the filter sees


async def test_the_filter_refuses_namespaces_keyrings_mount_ptrace_and_bpf(
    server: LoggedServer, hub: Hub
) -> None:
    _, kernel = await hub.kernel()
    assert result(await run(kernel, PROBES)) == REFUSED
    command = (
        "import subprocess\np = subprocess.run(['unshare', '-Ur', 'true'], capture_output=True)"
    )
    unshared = result(await run(kernel, command + "\n" + emit("[p.returncode, p.stderr.decode()]")))
    assert unshared[0] != 0 and "Operation not permitted" in unshared[1], unshared
    status = result(await run(kernel, emit("open('/proc/self/status').read()")))
    assert "Seccomp:\t2" in status
    await kernel.close()


WORKLOAD = """
import concurrent.futures, io, json, multiprocessing, os, subprocess, sys, threading
import numpy as np
import matplotlib.pyplot as plt
outcome = {'numpy': float(np.linalg.inv(np.eye(3) * 2).sum())}
fig = plt.figure(); plt.plot([1, 2, 3]); png = io.BytesIO(); fig.savefig(png, format='png')
plt.close(fig)
outcome['png'] = png.getvalue()[:4] == b'\\x89PNG'
outcome['subprocess'] = subprocess.run([sys.executable, '-c', 'print(6 * 7)'],
                                       capture_output=True, text=True).stdout.strip()
outcome['shell'] = subprocess.run('echo hi | tr a-z A-Z', shell=True, capture_output=True,
                                  text=True).stdout.strip()
pid = os.posix_spawn('/bin/true', ['true'], dict(os.environ))
outcome['posix_spawn'] = os.waitpid(pid, 0)[1]
seen = []
threads = [threading.Thread(target=seen.append, args=(n,)) for n in range(8)]
for t in threads: t.start()
for t in threads: t.join()
outcome['threads'] = sorted(seen)
with multiprocessing.get_context('fork').Pool(2) as pool:
    outcome['fork pool'] = pool.map(abs, [-1, -2, -3])
with concurrent.futures.ProcessPoolExecutor(2) as executor:
    outcome['executor'] = list(executor.map(abs, [-4, -5]))
print('RESULT', json.dumps(outcome))
"""


async def test_the_scientific_stack_subprocesses_threads_and_multiprocessing_still_work(
    server: LoggedServer, hub: Hub
) -> None:
    _, kernel = await hub.kernel()
    assert result(await run(kernel, WORKLOAD, timeout=120)) == {
        "numpy": 1.5,
        "png": True,
        "subprocess": "42",
        "shell": "HI",
        "posix_spawn": 0,
        "threads": list(range(8)),
        "fork pool": [1, 2, 3],
        "executor": [4, 5],
    }
    await kernel.close()


async def test_the_sandbox_line_names_the_filter(server: LoggedServer) -> None:
    line = next(line for line in server.output if "sandbox:" in line)
    assert "seccomp: " in line and "system calls refused" in line, line
    assert ("linux sandbox" in line) == LINUX


def _seccomp_status(send: Send) -> str:
    return Path("/proc/self/status").read_text().split("Seccomp:")[1].split()[0]


@pytest.mark.parametrize("kind", ["rlimit", pytest.param("linux", marks=needs_root)])
@pytest.mark.parametrize("on", [True, False])
def test_the_seccomp_setting_turns_the_filter_on_and_off(
    kind: str, tmp_path: Path, on: bool
) -> None:
    sandbox = make_sandbox(kind, tmp_path, seccomp=on)
    with session(sandbox, _seccomp_status) as forked:
        assert forked.result() == ("2" if on else "0")
    assert ("system calls refused" in sandbox.describe()) == on
