"""Daemons with pid files (deploy/daemon.py): started detached with their output in a log,
stopped by their pid file, killed with their process group when they ignore the stop signal,
and never confused with another process that got a stale pid file's pid, nor lost when the
wall clock is stepped while they run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from cellhub.deploy.daemon import Daemon, uptime
from cellhub.deploy.daemon import started as start_of

AN_HOUR_AGO = time.time() - 3600


def daemon(tmp_path: Path) -> Daemon:
    return Daemon(tmp_path / "pids" / "d.pid", tmp_path / "logs" / "d.log")


def test_started_detached_and_stopped(tmp_path: Path) -> None:
    started = daemon(tmp_path)
    code = "import sys, time; print('hello', flush=True); time.sleep(60)"
    process = started.start([sys.executable, "-c", code], os.environ, None, tmp_path)
    assert started.pid_file.read_text() == f"{process.pid}\n"
    assert started.start_file.read_text() == f"{process.pid} {start_of(process.pid)}\n"
    assert os.getsid(process.pid) == process.pid, "a session of its own, away from our terminal"
    deadline = time.monotonic() + 30
    while "hello" not in started.tail() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "hello" in started.tail()
    found = started.process()
    assert found is not None and found.pid == process.pid
    assert started.log_file.stat().st_mode & 0o777 == 0o600
    assert started.stop(signal.SIGTERM) is True
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    assert not started.pid_file.exists() and not started.start_file.exists()
    assert started.process() is None
    assert started.stop(signal.SIGTERM) is False


def test_one_that_ignores_its_signal_is_killed_with_its_children(tmp_path: Path) -> None:
    stubborn = daemon(tmp_path)
    script = "trap '' TERM; sleep 60 & wait"
    process = stubborn.start(["sh", "-c", script], os.environ, None, tmp_path)
    deadline = time.monotonic() + 30
    while not process.children() and time.monotonic() < deadline:
        time.sleep(0.05)
    children = process.children()
    assert children
    began = time.monotonic()
    assert stubborn.stop(signal.SIGTERM, timeout=1) is True
    assert time.monotonic() - began < 15
    _, alive = psutil.wait_procs([process, *children], timeout=10)
    assert alive == []


def test_a_stale_pid_file_names_no_process(tmp_path: Path) -> None:
    """A pid file whose process started at another time is another's: not stopped. So is
    one of an older cellhub (no start in it) older than the process holding its pid."""
    stale = daemon(tmp_path)
    stale.pid_file.parent.mkdir()
    other = subprocess.Popen(["sleep", "60"])
    try:
        for start in [f"{other.pid} {start_of(other.pid) - 1}\n", None]:
            stale.pid_file.write_text(f"{other.pid}\n")
            os.utime(stale.pid_file, (AN_HOUR_AGO, AN_HOUR_AGO))
            if start is not None:
                stale.start_file.write_text(start)
            assert stale.process() is None, start
            assert stale.stop(signal.SIGTERM) is False
            assert other.poll() is None, "the other process lives on"
    finally:
        other.kill()
        other.wait()


def test_a_daemon_is_still_found_after_the_wall_clock_is_stepped(tmp_path: Path) -> None:
    """NTP or a resumed virtual machine steps the wall clock while a service runs: seen
    from the pid file's time, the process seems to have started long after it (here: the
    file's time set an hour back). It is still the service, and still stopped by it."""
    stepped = daemon(tmp_path)
    process = stepped.start(["sleep", "60"], os.environ, None, tmp_path)
    os.utime(stepped.pid_file, (AN_HOUR_AGO, AN_HOUR_AGO))
    found = stepped.process()
    assert found is not None and found.pid == process.pid
    assert 0 <= uptime(process.pid) < 60
    assert stepped.stop(signal.SIGTERM) is True
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
