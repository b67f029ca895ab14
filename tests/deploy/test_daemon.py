"""Daemons with pid files (deploy/daemon.py): started detached with their output in a log,
stopped by their pid file, killed with their process group when they ignore the stop signal,
and never confused with another process that got a stale pid file's pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from cellhub.deploy.daemon import Daemon


def daemon(tmp_path: Path) -> Daemon:
    return Daemon(tmp_path / "pids" / "d.pid", tmp_path / "logs" / "d.log")


def test_started_detached_and_stopped(tmp_path: Path) -> None:
    started = daemon(tmp_path)
    code = "import sys, time; print('hello', flush=True); time.sleep(60)"
    process = started.start([sys.executable, "-c", code], os.environ, None, tmp_path)
    assert started.pid_file.read_text() == f"{process.pid}\n"
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
    assert not started.pid_file.exists() and started.process() is None
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
    """A pid file older than the process holding its pid is another's: not stopped."""
    stale = daemon(tmp_path)
    stale.pid_file.parent.mkdir()
    other = subprocess.Popen(["sleep", "60"])
    try:
        stale.pid_file.write_text(f"{other.pid}\n")
        an_hour_ago = time.time() - 3600
        os.utime(stale.pid_file, (an_hour_ago, an_hour_ago))
        assert stale.process() is None
        assert stale.stop(signal.SIGTERM) is False
        assert other.poll() is None, "the other process lives on"
    finally:
        other.kill()
        other.wait()
