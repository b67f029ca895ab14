"""A service run as a daemon: detached from the command that started it, its pid in a pid file,
its output appended to a log file; stopped by its pid file.

The process is started in a session of its own (no terminal, no signal from the shell that
ran ``cellhub up``), runs in the foreground as systemd would run it, and is not restarted if
it dies: ``cellhub status`` shows it dead and ``cellhub up`` starts it again (production
hosts use the systemd units, which restart it).

A pid file outlives its process, and the kernel reuses pids: beside the pid file (one pid,
as ``kill $(cat NAME.pid)`` and other tools expect), ``NAME.start`` records when that process
started, on the boot clock (``/proc/PID/stat``), and a process holding the pid counts as the
service's only if it started then. Not the wall clock: NTP or a resumed virtual machine
steps it, and a service started before a step of more than a second or two would then be
taken for another process, to be started again beside it rather than stopped.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

#: Seconds a service has to exit after its stop signal before it (its process group) is killed.
STOP_TIMEOUT = 30.0
#: Seconds of slack between a process's start and the time of a pid file that does not
#: record the start (written by cellhub before it did): the clock's granularity.
START_SLACK = 2.0
#: The daemons this process started, kept so that Python neither warns that they still run
#: when their handle would be collected, nor reaps them behind psutil's back.
STARTED: list[subprocess.Popen[bytes]] = []


def as_user(user: str | None) -> dict[str, Any]:
    """``subprocess`` arguments that run a program as ``user`` (None: as we are) with that
    user's group and no other: ``user=`` alone would keep root's supplementary groups."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def started(pid: int) -> int:
    """When process ``pid`` started, in clock ticks since boot (field 22 of /proc/PID/stat,
    after the command name, which may hold spaces and parentheses)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[19])


def uptime(pid: int) -> float:
    """Seconds process ``pid`` has run, on the boot clock (see :func:`started`)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME) - started(pid) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Daemon:
    """One service's pid file and log file."""

    pid_file: Path
    log_file: Path

    def process(self) -> psutil.Process | None:
        """The running process the pid file names, or None (no file, gone, or another's)."""
        try:
            process = psutil.Process(int(self.pid_file.read_text()))
            if not self.started_as_recorded(process):
                return None  # the pid was reused since
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
        except (OSError, ValueError, psutil.Error):
            return None
        return process

    @property
    def start_file(self) -> Path:
        """The pid and start (:func:`started`) of the process the pid file names."""
        return self.pid_file.with_suffix(".start")

    def started_as_recorded(self, process: psutil.Process) -> bool:
        """Whether ``process`` started when the start file says; with no start file (a pid
        file of an older cellhub), whether it started before the pid file was written."""
        try:
            pid, start = self.start_file.read_text().split()
        except FileNotFoundError:
            return bool(process.create_time() <= self.pid_file.stat().st_mtime + START_SLACK)
        return int(pid) == process.pid and int(start) == started(process.pid)

    def forget(self) -> None:
        """No process is the service's any more."""
        self.pid_file.unlink(missing_ok=True)
        self.start_file.unlink(missing_ok=True)

    def start(
        self, argv: list[str], env: Mapping[str, str], user: str | None, cwd: Path
    ) -> psutil.Process:
        for folder in (self.pid_file.parent, self.log_file.parent):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
        fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as log:
            log.write(f"--- started {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
            log.flush()
            child = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=dict(env),
                cwd=cwd,
                **as_user(user),
            )
        STARTED.append(child)
        for path, text in [
            (self.start_file, f"{child.pid} {started(child.pid)}"),
            (self.pid_file, f"{child.pid}"),
        ]:
            partial = path.with_name(f".{path.name}.new")
            partial.write_text(f"{text}\n")
            os.replace(partial, path)
        return psutil.Process(child.pid)

    def stop(self, stop_signal: signal.Signals, timeout: float = STOP_TIMEOUT) -> bool:
        """Stop the process (``stop_signal``, then SIGKILL to its process group after
        ``timeout``); False if none was running."""
        process = self.process()
        if process is None:
            self.forget()
            return False
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(stop_signal)
        try:
            process.wait(timeout)
        except psutil.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(psutil.TimeoutExpired):
                process.wait(10)
        for child in [child for child in STARTED if child.pid == process.pid]:
            child.poll()  # psutil reaped it: the handle learns it has ended
            STARTED.remove(child)
        self.forget()
        return True

    def tail(self, lines: int = 40) -> str:
        """The end of the log, for a message about a service that would not start."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
