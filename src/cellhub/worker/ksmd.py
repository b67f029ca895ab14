"""The host's ``ksmd``, run together by every worker on the host that wants it.

``ksmd`` (kernel same-page merging, see :mod:`cellhub.template.pagemerge`) is one setting
of the whole host, ``/sys/kernel/mm/ksm/run``. Several workers may run on one host (two
deployments, or tests); if each started ksmd on its own and put the host's settings back
when it stopped, one worker stopping would stop merging under the others. So a worker
running as root takes part through a :class:`KsmdShare`, counted in a directory that
every worker on the host shares:

- the first worker that finds ksmd stopped saves the host's settings and starts it
  (``ksmd_pages_to_scan`` pages every :data:`KSMD_SLEEP_MS` ms); later ones only join,
  and ksmd keeps the first one's settings;
- the last one to leave puts the host's settings back;
- a worker killed with SIGKILL leaves nothing counted: each worker holds an ``flock`` on
  a file of its own, which the kernel drops when the process dies, so the count is the
  number of those files still locked. If the last worker was killed, the next worker to
  come takes over (or, with ``ksmd_pages_to_scan = 0``, puts the host's settings back);
- a ksmd that was already running when no worker held it is the host administrator's,
  and is left alone, as it is by a worker with ``ksmd_pages_to_scan = 0``.

The directory is in ``/run``, emptied at boot as the settings themselves are reset.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from cellhub.template.pagemerge import KSM

SHARE_DIR = Path("/run/cellhub/ksmd")
#: Milliseconds ksmd sleeps between scans while workers run it. Each scan holds a core
#: for a few microseconds per page; frequent short scans keep a cell's round trip steady,
#: where the kernel's 20 ms between 1,000-page scans stalled one in thirty by 3 ms or more.
KSMD_SLEEP_MS = 5
#: What a worker changes when it starts ksmd, in the order it writes them back.
KSMD_SETTINGS = ("pages_to_scan", "sleep_millisecs", "run")


class KsmdShare:
    """One worker's part in running the host's ksmd: :meth:`join` once, :meth:`leave` once.

    In ``directory``: ``lock`` serializes joining and leaving host-wide;
    ``host-settings.json`` holds the host's settings from before the first worker started
    ksmd, and exists exactly while ksmd runs because of workers; ``workers/`` holds one
    file per worker in the count, ``flock``\\ ed by it for as long as it runs.
    """

    def __init__(self, sysfs: Path = KSM, directory: Path = SHARE_DIR) -> None:
        self.sysfs = sysfs
        self.directory = directory
        self.record = directory / "host-settings.json"
        self.holders = directory / "workers"
        self._held: tuple[int, Path] | None = None

    def join(self, pages_to_scan: int, legacy_record: Path | None = None) -> None:
        """Run ksmd for this worker, or with ``pages_to_scan = 0`` leave it to the host.

        ``legacy_record`` is where an older worker kept the settings it changed (in its
        data dir); one found there is the host's, saved by a worker that was killed.
        Without the right to change ksmd (not root, no KSM) nothing is done.
        """
        if not os.access(self.sysfs / "run", os.W_OK):
            return
        try:
            with self._locked():
                saved = self._saved() or self._adopt(legacy_record)
                holders = self._count_holders()
                if pages_to_scan <= 0:
                    if saved and not holders:
                        self._restore(saved)
                elif saved or not self._running():
                    self._run(pages_to_scan, saved, holders)
        except OSError:
            pass  # ksmd is an optimisation: a worker runs without it rather than not at all

    def leave(self) -> None:
        """Leave the count; as the last one in it, put the host's settings back."""
        if self._held is None:
            return
        with self._locked():
            fd, path = self._held
            self._held = None
            path.unlink(missing_ok=True)
            os.close(fd)
            saved = self._saved()
            if saved and not self._count_holders():
                self._restore(saved)

    def _run(self, pages_to_scan: int, saved: dict[str, str], holders: int) -> None:
        """Start ksmd with our settings unless other workers already run it; join them."""
        if not saved:
            saved = {name: self._read(name) for name in KSMD_SETTINGS}
            self._save(saved)
        if not holders or not self._running():
            try:
                self._write("pages_to_scan", str(pages_to_scan))
                self._write("sleep_millisecs", str(KSMD_SLEEP_MS))
                self._write("run", "1")
            except OSError:
                self._restore(saved)
                raise
        self._hold()

    def _hold(self) -> None:
        path = self.holders / f"{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._held = (fd, path)

    def _count_holders(self) -> int:
        """The workers in the count; the files of dead ones (lockable again) are removed."""
        alive = 0
        for path in self.holders.iterdir():
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                alive += 1
            else:
                path.unlink(missing_ok=True)
            finally:
                os.close(fd)
        return alive

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.holders.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _saved(self) -> dict[str, str]:
        return _read_settings(self.record)

    def _adopt(self, legacy_record: Path | None) -> dict[str, str]:
        if legacy_record is None:
            return {}
        saved = _read_settings(legacy_record)
        if saved:
            self._save(saved)
        legacy_record.unlink(missing_ok=True)
        return saved

    def _save(self, saved: dict[str, str]) -> None:
        partial = self.record.with_suffix(".partial")
        partial.write_text(json.dumps(saved))
        partial.replace(self.record)

    def _restore(self, saved: dict[str, str]) -> None:
        """Put the host's settings back. Pages merged so far stay merged."""
        for name in KSMD_SETTINGS:
            if name in saved:
                with contextlib.suppress(OSError):
                    self._write(name, saved[name])
        self.record.unlink(missing_ok=True)

    def _running(self) -> bool:
        return self._read("run") == "1"

    def _read(self, name: str) -> str:
        return (self.sysfs / name).read_text().strip()

    def _write(self, name: str, value: str) -> None:
        (self.sysfs / name).write_text(value)


def _read_settings(record: Path) -> dict[str, str]:
    try:
        saved = json.loads(record.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(saved, dict):
        return {}
    return {name: str(saved[name]) for name in KSMD_SETTINGS if name in saved}
