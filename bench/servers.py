"""The servers under test: started on 127.0.0.1, measured through their process trees, stopped.

``BenchServer`` is the one base class. A subclass provides

- ``command()`` and ``environment()``: how to start it on a given port with a given token;
- ``session_processes(pids)``: the processes that are the kernels, given the pids the
  kernels reported themselves (``os.getpid()`` run in each kernel) — so memory is read
  from exactly the processes bound to kernels.

``CellhubServer`` runs ``cellhub serve``; ``JupyterServer`` runs Jupyter Server with
ipykernel, either at its defaults or "tuned" (TCP_NODELAY on kernel WebSockets and the
IOPub rate limits off; see ``bench/jupyter_tuning.py``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

from bench.memory import MiB

REPOSITORY = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In the child before exec: SIGTERM when the benchmark process dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _is_template_command(process: psutil.Process) -> bool:
    """Whether ``process`` runs cellhub's template, or is a session forked from one."""
    return any("cellhub.template.process" in part for part in process.cmdline())


class ServerFailed(RuntimeError):
    """The server did not come up, or died."""


class BenchServer:
    """One server process tree the benchmark starts, talks to and stops."""

    name = "server"
    description = ""
    #: What a load balancer in front of it asks to know it can serve (bench/cluster.py).
    health_path = "/api"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.token = secrets.token_hex(16)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"{self.name}.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self, timeout: float = 120.0) -> None:
        """Start the server and return once ``GET /api`` answers 200."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                cwd=self.workdir,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"{self.name} exited while starting:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/api", timeout=2, trust_env=False).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise ServerFailed(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, wait, then SIGKILL the process group and anything left of the tree."""
        if self.process is None:
            return
        left = self.descendants()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        for process in left:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        self.process = None

    def root(self) -> psutil.Process:
        if self.process is None or self.process.poll() is not None:
            raise ServerFailed(f"{self.name} is not running:\n{self.log_tail()}")
        return psutil.Process(self.process.pid)

    def descendants(self) -> list[psutil.Process]:
        try:
            children: list[psutil.Process] = self.root().children(recursive=True)
        except (psutil.NoSuchProcess, ServerFailed):
            return []
        return children

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds the server's processes have used, by part (:meth:`part_of`), those
        they started and reaped included."""
        # user, system, and the reaped children's
        return self._by_part(lambda process: sum(process.cpu_times()[:4]))

    def private_memory_mib(self) -> dict[str, float]:
        """Memory each part's processes hold as their own (USS: pages no other process maps),
        in MiB: what a class's sessions took, whatever else the machine frees meanwhile."""
        held = self._by_part(lambda process: process.memory_full_info().uss)
        return {part: round(used / MiB, 1) for part, used in held.items()}

    def _by_part(self, measure: Callable[[psutil.Process], float]) -> dict[str, float]:
        """``measure`` of each of the server's processes, summed by part (:meth:`part_of`); a
        process that exits meanwhile counts nothing."""
        summed: dict[str, float] = {}
        for process in [self.root(), *self.descendants()]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                value = measure(process)
                part = self.part_of(process)
                summed[part] = summed.get(part, 0.0) + value
        return summed

    def settle(self, timeout: float = 120.0) -> None:
        """Return once the server holds ready what it keeps ready between clients (nothing, by
        default), so that a class starts against a server as it is between classes."""

    def spares(self) -> int:
        """Sessions the server holds ready before a client asks for one (none by default)."""
        return 0

    def part_of(self, process: psutil.Process) -> str:
        """Which part of the server a process is: the server itself, or its kernels."""
        return "server" if process.pid == self.root().pid else "kernels"

    def session_processes(self, pids: list[int]) -> list[psutil.Process]:
        """The kernel processes, given the pids the kernels reported; must be in the tree."""
        tree = {process.pid: process for process in self.descendants()}
        missing = [pid for pid in pids if pid not in tree]
        if missing:
            raise ServerFailed(f"{self.name}: kernel pids {missing} are not in the server's tree")
        return [tree[pid] for pid in pids]

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


class CellhubServer(BenchServer):
    """``cellhub serve`` with its worker, template and forked sessions.

    ``settings`` become ``CELLHUB_*`` environment variables. On top of them the benchmark
    lifts the limits that would measure the benchmark rather than cellhub (``BENCH_SETTINGS``,
    each only if this cellhub has it): the session cap, so that capacity measures memory; and
    the per-client limits on kernel starts, kernels alive and WebSocket messages, because one
    benchmark process with one token plays every client. Jupyter Server has no such limits.
    The kernels are python3 alone: a Sage template (where Sage is installed) would hold CPU
    and memory that no benchmarked kernel uses. With ``class_spares``, the server is asked
    before each class to keep that many spare sessions, as an administrator does ahead of a
    class (``cellhub workers --spares N``, through the same hub API).
    """

    name = "cellhub"
    health_path = "/api/health"
    BENCH_SETTINGS = {
        "max_sessions": "100000",
        "client_kernel_starts": "0",
        "client_max_kernels": "0",
        "client_message_rate": "0",
        "kernels": "python3",
    }

    def __init__(
        self,
        workdir: Path,
        settings: dict[str, str] | None = None,
        name: str = "cellhub",
        class_spares: int = 0,
    ) -> None:
        self.name = name
        super().__init__(workdir)
        from cellhub.config import SETTINGS

        lifted = {k: v for k, v in self.BENCH_SETTINGS.items() if k in SETTINGS}
        self.settings = {**lifted, **(settings or {})}
        self.class_spares = class_spares
        shown = " ".join(f"{k}={v}" for k, v in sorted(self.settings.items()))
        ahead = f", then `cellhub workers --spares {class_spares}`" if class_spares else ""
        self.description = f"cellhub serve ({shown}){ahead}"

    def command(self) -> list[str]:
        executable = Path(sys.executable).with_name("cellhub")
        return [
            str(executable),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.workdir / "data"),
        ]

    def environment(self) -> dict[str, str]:
        environment = {**os.environ, "CELLHUB_TOKEN": self.token}
        for key, value in self.settings.items():
            environment[f"CELLHUB_{key.upper()}"] = value
        return environment

    def settle(self, timeout: float = 120.0) -> None:
        """Return once the worker reports its full pool of spare sessions (``spare_sessions``)
        and the server has stopped using CPU for a moment (the spares have entered their
        sandboxes); ServerFailed after ``timeout`` seconds. With ``class_spares``, asks
        every worker for that many spares first."""
        wanted = self.class_spares or int(self.settings.get("spare_sessions", "2"))
        if self.class_spares:
            from cellhub.workers_table import fetch_workers, set_spares

            for worker in fetch_workers(self.base_url, self.token):
                set_spares(self.base_url, self.token, worker["name"], self.class_spares)
        deadline = time.monotonic() + timeout
        before = sum(self.cpu_seconds().values())
        while time.monotonic() < deadline:
            time.sleep(0.5)
            used = sum(self.cpu_seconds().values())
            if self.spares() >= wanted and used - before < 0.05:
                return
            before = used
        raise ServerFailed(f"{self.name}: its spare sessions are not ready after {timeout:.0f} s")

    def spares(self) -> int:
        """The spare sessions the hub's metrics count, over every worker and kernel kind."""
        metrics = httpx.get(
            f"{self.base_url}/metrics", headers={"Authorization": f"token {self.token}"}
        ).text
        lines = (line.split() for line in metrics.splitlines())
        return sum(
            int(float(f[-1])) for f in lines if f and f[0].startswith("cellhub_worker_spares{")
        )

    def part_of(self, process: psutil.Process) -> str:
        """The hub (``cellhub serve`` itself), the worker, a template, or sessions.

        A session is forked from the template and keeps its command line: it is told apart
        by its parent, a template (or a session, for what a session starts).
        """
        if process.pid == self.root().pid:
            return "hub"
        if _is_template_command(process):
            parent = process.parent()
            forked = parent is not None and _is_template_command(parent)
            return "sessions" if forked else "template"
        command = " ".join(process.cmdline())
        worker = "cellhub.worker" in command or "cellhub worker" in command
        return "worker" if worker else "sessions"

    def session_processes(self, pids: list[int]) -> list[psutil.Process]:
        """The sessions bound to kernels, by reported pid or else from the template's children.

        If the kernels report pids that are not in the tree (a session in its own pid
        namespace would), take the template's children without the youngest ones: those
        are the pre-forked spares, since the pool is refilled after each claim.
        """
        try:
            return super().session_processes(pids)
        except ServerFailed:
            pass
        children = sorted(self.template().children(), key=lambda p: (p.create_time(), p.pid))
        if len(children) < len(pids):
            raise ServerFailed(f"cellhub: {len(children)} sessions for {len(pids)} kernels")
        return children[: len(pids)]

    def template(self) -> psutil.Process:
        for process in self.descendants():
            try:
                if self.part_of(process) == "template":
                    return process
            except psutil.NoSuchProcess:
                continue
        raise ServerFailed("cellhub: no template process (cmdline cellhub.template.process)")


class JupyterServer(BenchServer):
    """Jupyter Server + ipykernel, isolated from the user's Jupyter and IPython config.

    At its defaults unless ``tuned``: then kernel WebSockets get TCP_NODELAY and the IOPub
    message and data rate limits are off.
    """

    def __init__(self, workdir: Path, tuned: bool = False) -> None:
        self.tuned = tuned
        self.name = "jupyter-tuned" if tuned else "jupyter"
        super().__init__(workdir)
        self.description = (
            "Jupyter Server + ipykernel, TCP_NODELAY on kernel WebSockets, IOPub rate limits 0"
            if tuned
            else "Jupyter Server + ipykernel at their defaults"
        )

    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={self.workdir}",
            f"--IdentityProvider.token={self.token}",
        ]
        if os.geteuid() == 0:
            command.append("--allow-root")
        if self.tuned:
            command += [
                "--ServerApp.kernel_websocket_connection_class="
                "bench.jupyter_tuning.NoDelayChannelsConnection",
                "--ZMQChannelsWebsocketConnection.iopub_data_rate_limit=0",
                "--ZMQChannelsWebsocketConnection.iopub_msg_rate_limit=0",
            ]
        return command

    def environment(self) -> dict[str, str]:
        home = self.workdir
        return {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
            "JUPYTER_DATA_DIR": str(home / "jupyter-data"),
            "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),
            "IPYTHONDIR": str(home / "ipython"),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])
            ),
        }
