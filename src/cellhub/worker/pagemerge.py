"""Same-page merging for the memory sessions inherit from the template.

A session starts sharing every page with the template, but CPython writes to the
objects it merely uses (reference counts, the adaptive interpreter's inline caches),
so each session soon holds private copies of a few MiB of template pages. Those
copies are mostly identical from one session to the next: every session forks from
the same heap and runs the same code. Linux's kernel same-page merging (KSM) finds
identical pages in regions marked ``MADV_MERGEABLE`` and shares them again,
copy-on-write.

The template marks its own private writable memory before forking; children
inherit the marking, so memory a session allocates later for the user's data is
never merged. Merging happens only while the host runs ``ksmd``
(``/sys/kernel/mm/ksm/run`` is 1). A worker running as root starts a stopped ``ksmd``
(setting ``ksmd_pages_to_scan``), as it sets up cgroups and uids for its sessions, and
puts the host's settings back when it stops. It writes down what it changed first,
so that after a worker killed with SIGKILL the next one puts them back instead.
docs/threat-model.md discusses what merging reveals between sessions.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
from pathlib import Path

MADV_MERGEABLE = 12
KSM = Path("/sys/kernel/mm/ksm")
#: Milliseconds ksmd sleeps between scans while a worker runs it. Each scan holds a
#: core for a few microseconds per page; frequent short scans keep a cell's round trip
#: steady, where the kernel's 20 ms between 1,000-page scans stalled one in thirty by
#: 3 ms or more.
KSMD_SLEEP_MS = 5
#: What a worker changes when it starts ksmd.
KSMD_SETTINGS = ("pages_to_scan", "sleep_millisecs", "run")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def private_writable_ranges(maps: str) -> list[tuple[int, int]]:
    """The private writable mappings of a ``/proc/PID/maps`` text: anonymous memory, the
    heap, and the data sections of the interpreter and extension modules, whose pages
    become anonymous copies once written."""
    ranges = []
    for line in maps.splitlines():
        fields = line.split()
        name = fields[5] if len(fields) > 5 else ""
        permissions = fields[1]
        if not permissions.startswith("rw") or permissions[3] != "p":
            continue
        if name.startswith("[") and name != "[heap]":
            continue  # the stack, vvar and the like
        start, end = (int(address, 16) for address in fields[0].split("-"))
        ranges.append((start, end))
    return ranges


def mark_mergeable() -> int:
    """Mark this process's private writable memory mergeable; return the bytes marked.

    Raises ``OSError`` where the kernel has no KSM (``EINVAL``).
    """
    marked = 0
    for start, end in private_writable_ranges(Path("/proc/self/maps").read_text()):
        if _libc.madvise(start, end - start, MADV_MERGEABLE) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"madvise(MADV_MERGEABLE): {os.strerror(err)}")
        marked += end - start
    return marked


def ksmd_running() -> bool:
    try:
        return (KSM / "run").read_text().strip() == "1"
    except OSError:
        return False


def run_ksmd(pages_to_scan: int, record: Path) -> dict[str, str]:
    """Start the host's ksmd, scanning ``pages_to_scan`` pages every ``KSMD_SLEEP_MS``, if
    it is stopped and this process may (root); return the settings to put back with
    :func:`restore_ksmd` (empty when nothing was changed).

    ``record`` keeps those settings until they are put back. A record left by a worker
    that could not put them back means ksmd runs because of it: this worker takes
    over, and will put back what the record says.
    """
    recorded = _recorded(record)
    if pages_to_scan <= 0:
        restore_ksmd(recorded, record)
        return {}
    if ksmd_running() and not recorded:
        return {}  # the host's own: left as it is
    try:
        saved = recorded or {name: (KSM / name).read_text().strip() for name in KSMD_SETTINGS}
        record.write_text(json.dumps(saved))
        (KSM / "pages_to_scan").write_text(str(pages_to_scan))
        (KSM / "sleep_millisecs").write_text(str(KSMD_SLEEP_MS))
        (KSM / "run").write_text("1")
    except OSError:  # not root: nothing was changed
        if not recorded:
            record.unlink(missing_ok=True)
        return recorded
    return saved


def _recorded(record: Path) -> dict[str, str]:
    try:
        saved = json.loads(record.read_text())
    except (OSError, ValueError):
        return {}
    return {name: str(saved[name]) for name in KSMD_SETTINGS if name in saved}


def restore_ksmd(saved: dict[str, str], record: Path) -> None:
    """Put back what :func:`run_ksmd` changed. Pages merged so far stay merged."""
    for name in KSMD_SETTINGS:
        if name in saved:
            with contextlib.suppress(OSError):
                (KSM / name).write_text(saved[name])
    if saved:
        record.unlink(missing_ok=True)


def enable(wanted: bool) -> str:
    """Mark the template's memory if ``wanted``; say what that achieves on this host."""
    if not wanted:
        return "page merging: off (merge_pages = false)"
    try:
        marked = mark_mergeable()
    except OSError as exc:
        return f"page merging: unavailable ({exc})"
    state = (
        "ksmd running"
        if ksmd_running()
        else "ksmd stopped on this host, so nothing is merged (run the worker as root, "
        "or echo 1 > /sys/kernel/mm/ksm/run)"
    )
    return f"page merging: {marked / 2**20:.0f} MiB of template memory marked; {state}"
