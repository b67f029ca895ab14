"""Several workers on one host run its ksmd together: the first starts it, the last puts
the host's settings back, and a worker killed with SIGKILL is not counted forever.

Each worker here is a process of its own that joins, then leaves when its stdin closes,
or is killed. They work on a stand-in for ``/sys/kernel/mm/ksm`` (three files), so that
the tests run as any user and never stop the host's ksmd under another deployment; one
test at the end uses the real one, as root, when it is stopped and no worker runs it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from cellhub.template.pagemerge import KSM
from cellhub.worker.ksmd import KSMD_SLEEP_MS, SHARE_DIR, KsmdShare

#: The host's own settings in the stand-in: ksmd stopped.
HOST = {"run": "0", "pages_to_scan": "100", "sleep_millisecs": "20"}

WORKER = """
import sys
from pathlib import Path
from cellhub.worker.ksmd import KsmdShare
sysfs, directory, pages, legacy = sys.argv[1:]
share = KsmdShare(Path(sysfs), Path(directory))
share.join(int(pages), Path(legacy) if legacy else None)
print("joined", flush=True)
sys.stdin.read()
share.leave()
"""


@dataclass
class Host:
    sysfs: Path
    share: Path

    def settings(self) -> dict[str, str]:
        return {name: (self.sysfs / name).read_text().strip() for name in HOST}

    def running_with(self, pages: int) -> dict[str, str]:
        return {"run": "1", "pages_to_scan": str(pages), "sleep_millisecs": str(KSMD_SLEEP_MS)}

    def worker(self, pages: int, legacy: Path | None = None, prefix: Sequence[str] = ()) -> Worker:
        """A worker that joins; ``prefix`` runs it through another command (``setpriv``)."""
        arguments = [str(self.sysfs), str(self.share), str(pages), str(legacy or "")]
        process = subprocess.Popen(
            [*prefix, sys.executable, "-c", WORKER, *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None and process.stdout.readline() == "joined\n"
        return Worker(process)

    def leftovers(self) -> list[str]:
        """What a share leaves in its directory: the lock file alone, once no worker runs."""
        return sorted(str(p.relative_to(self.share)) for p in self.share.rglob("*"))


@dataclass
class Worker:
    process: subprocess.Popen[str]

    def stop(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        assert self.process.wait(10) == 0
        self.process.stdout.close()

    def kill(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.process.stdin.close()
        self.process.stdout.close()


@pytest.fixture
def host(tmp_path: Path) -> Host:
    sysfs = tmp_path / "ksm"
    sysfs.mkdir()
    for name, value in HOST.items():
        (sysfs / name).write_text(value + "\n")
    return Host(sysfs, tmp_path / "share")


IDLE = ["lock", "workers"]


def test_the_first_starts_ksmd_and_the_last_puts_the_host_settings_back(host: Host) -> None:
    first = host.worker(250)
    assert host.settings() == host.running_with(250)
    second = host.worker(900)  # joins: ksmd keeps the first one's settings
    assert host.settings() == host.running_with(250)
    first.stop()
    assert host.settings() == host.running_with(250)
    second.stop()
    assert host.settings() == HOST
    assert host.leftovers() == IDLE


def test_a_killed_worker_is_not_counted(host: Host) -> None:
    first, second = host.worker(250), host.worker(250)
    first.kill()
    assert host.settings() == host.running_with(250)
    second.stop()
    assert host.settings() == HOST
    assert host.leftovers() == IDLE


def test_after_the_last_worker_was_killed_the_next_one_takes_over(host: Host) -> None:
    host.worker(250).kill()
    assert host.settings() == host.running_with(250)  # nobody left to put them back
    successor = host.worker(500)
    assert host.settings() == host.running_with(500)
    successor.stop()
    assert host.settings() == HOST

    host.worker(250).kill()
    host.worker(0).stop()  # one that leaves ksmd to the host puts the host's settings back
    assert host.settings() == HOST
    assert host.leftovers() == IDLE


def test_pages_to_scan_zero_leaves_ksmd_alone(host: Host) -> None:
    host.worker(0).stop()
    assert host.settings() == HOST
    running = host.worker(250)
    bystander = host.worker(0)  # does not stop ksmd under a worker that runs it
    bystander.stop()
    assert host.settings() == host.running_with(250)
    running.stop()
    assert host.settings() == HOST


def test_a_ksmd_the_host_runs_is_left_alone(host: Host) -> None:
    (host.sysfs / "run").write_text("1")
    first, second = host.worker(250), host.worker(250)
    first.stop()
    second.stop()
    assert host.settings() == {**HOST, "run": "1"}


def test_a_record_an_older_worker_left_in_its_data_dir_is_put_back(
    host: Host, tmp_path: Path
) -> None:
    legacy = tmp_path / "data" / "ksmd-settings.json"
    legacy.parent.mkdir()
    legacy.write_text(json.dumps(HOST))
    for name, value in host.running_with(1000).items():
        (host.sysfs / name).write_text(value)  # what that worker set before it was killed
    worker = host.worker(250, legacy)
    assert host.settings() == host.running_with(250) and not legacy.exists()
    worker.stop()
    assert host.settings() == HOST


#: As root, the worker runs without the capabilities that let root write any file.
WITHOUT_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-fowner", "--"]


def test_without_the_right_to_change_ksmd_nothing_is_done(host: Host) -> None:
    for name in HOST:
        (host.sysfs / name).chmod(0o444)
    host.worker(250, prefix=WITHOUT_OVERRIDE if os.geteuid() == 0 else ()).stop()
    assert host.settings() == HOST
    assert not host.share.exists()


@pytest.fixture
def host_without_ksmd() -> Host:
    """The real ksmd, if it is stopped and no worker runs it: the test changes nothing else."""
    if os.geteuid() != 0 or not (KSM / "run").exists():
        pytest.skip("starting the host's ksmd needs root and a kernel with KSM")
    host = Host(KSM, SHARE_DIR)
    if host.settings()["run"] != "0" or KsmdShare().record.exists():
        pytest.skip("ksmd runs on this host now (its administrator's, or a worker's)")
    return host


def test_on_the_real_host_two_workers_leave_ksmd_as_they_found_it(
    host_without_ksmd: Host,
) -> None:
    host = host_without_ksmd
    before = host.settings()
    first = host.worker(250)
    second = host.worker(250)
    assert host.settings() == host.running_with(250)
    first.stop()
    assert host.settings() == host.running_with(250)
    second.stop()
    if KsmdShare().record.exists():
        pytest.skip("another worker on this host started meanwhile, and runs ksmd now")
    assert host.settings() == before
