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
(``/sys/kernel/mm/ksm/run`` is 1); a worker running as root starts a stopped one,
together with every other worker on the host (:mod:`cellhub.worker.ksmd`).
docs/threat-model.md discusses what merging reveals between sessions.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

MADV_MERGEABLE = 12
KSM = Path("/sys/kernel/mm/ksm")
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
