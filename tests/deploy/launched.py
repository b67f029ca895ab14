"""A deployment run by ``cellhub up`` for tests: its deployment file written on ephemeral ports
of 127.0.0.1, the ``cellhub`` command run as an admin runs it, and every service stopped at
the end (``cellhub down``, then whatever its pid files still name or names its folder), even
when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.db.postgres import free_port

#: The hubs' and workers' settings: python3 kernels with nothing preloaded start in a second,
#: and the tests' many kernels come from one address.
SETTINGS = """\
kernels = ["python3"]
preload = []
client_kernel_starts = 0
client_max_kernels = 0
"""


@dataclass
class Launched:
    """A deployment file and the ``cellhub`` command that acts on it."""

    folder: Path

    @property
    def file(self) -> Path:
        return self.folder / "deployment.toml"

    @property
    def run_dir(self) -> Path:
        return self.folder / "run"

    def cellhub(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "cellhub", *argv, "--deployment", str(self.file)],
            capture_output=True,
            text=True,
            timeout=240,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"cellhub {' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
        return done

    def pids(self) -> dict[str, int]:
        folder = self.run_dir / "pids"
        found = folder.glob("*.pid") if folder.exists() else []
        return {path.stem: int(path.read_text()) for path in found}

    def token(self) -> str:
        return (self.run_dir / "secrets" / "token").read_text().strip()


def service(kind: str, port: int, **options: str | int) -> str:
    lines = ["[[service]]", f'kind = "{kind}"', f"port = {port}"]
    lines += [f"{key} = {value!r}".replace("'", '"') for key, value in options.items()]
    return "\n".join(lines) + "\n\n"


def family(pid: int) -> list[psutil.Process]:
    try:
        process = psutil.Process(pid)
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@contextlib.contextmanager
def launched(folder: Path, services: str, top: str = "") -> Iterator[Launched]:
    """A deployment of ``services`` (deployment file tables, after the keys ``top``) in
    ``folder``, not started yet; every process of it ends with the block."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.toml").write_text(SETTINGS)
    deployment = Launched(folder)
    deployment.file.write_text(f'settings = "settings.toml"\n{top}\n' + services)
    try:
        yield deployment
    finally:
        left = [p for pid in deployment.pids().values() for p in family(pid)]
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            deployment.cellhub("down")
        for process in left + strays(folder):
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()


def strays(folder: Path) -> list[psutil.Process]:
    """Every process whose command line names ``folder`` (each service's does: its settings,
    its data), with its children: those no pid file names any more, should the launcher
    have lost track of one, end with the test too."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if process.pid == os.getpid():
            continue
        if any(f"{folder}/" in part for part in process.info["cmdline"] or []):
            found += family(process.pid)
    return found


def ports(count: int) -> list[int]:
    return [free_port() for _ in range(count)]
