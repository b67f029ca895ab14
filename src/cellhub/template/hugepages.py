"""Huge pages for the template's memory, so that forking a session copies less.

``fork()`` copies the page tables of the parent's private memory: for a template that
imported numpy, pandas and matplotlib, some 120 MiB of anonymous memory, that is about
30,000 page-table entries, most of the CPU time of every session start and the one part of
it that the template (a single process) does for every session in turn. Collapsed into
2 MiB transparent huge pages, each 2 MiB costs one entry instead of 512.

After the preload, the template asks the kernel to collapse its private writable memory
(``MADV_COLLAPSE``, Linux ≥ 6.1; where it is missing, or a range cannot be collapsed, that
range keeps its small pages and nothing else changes). A session still copies only what it
writes: a write to a huge page shared with the template splits the session's mapping of it
and copies the 4 KiB page written, not 2 MiB (Linux ≥ 5.8). The cost is paid once per
template: a fraction of a second of CPU, and a few MiB of memory where a range had holes.

Two things split the huge pages again, each for good: the template's own writes after a
fork (a write to a huge page a session shares splits the template's mapping of it), and
page merging (:mod:`cellhub.template.pagemerge`): ksmd merging one 4 KiB page of a huge page
splits it. With both on, as by default, most of the collapsed memory is small pages again
within a minute; docs/performance.md has the figures.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

from cellhub.template.pagemerge import private_writable_ranges

MADV_HUGEPAGE = 14
MADV_COLLAPSE = 25
HUGE_PAGE = 2 * 2**20
_libc = ctypes.CDLL(None, use_errno=True)
_libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def aligned(start: int, end: int) -> tuple[int, int]:
    """The whole huge pages within ``[start, end)`` (empty when there is none)."""
    first = -(-start // HUGE_PAGE) * HUGE_PAGE
    last = end // HUGE_PAGE * HUGE_PAGE
    return first, max(first, last)


def collapse() -> int:
    """Collapse this process's private writable memory into huge pages; the bytes that were.

    Ranges the kernel refuses (file-backed data sections, sparse reservations, a kernel
    without ``MADV_COLLAPSE``) are left as they are.
    """
    collapsed = 0
    for start, end in private_writable_ranges(Path("/proc/self/maps").read_text()):
        first, last = aligned(start, end)
        if last == first:
            continue
        _libc.madvise(first, last - first, MADV_HUGEPAGE)
        if _libc.madvise(first, last - first, MADV_COLLAPSE) == 0:
            collapsed += last - first
    return collapsed


def enable(wanted: bool) -> str:
    """Collapse the template's memory if ``wanted``; say what came of it."""
    if not wanted:
        return "huge pages: off (huge_pages = false)"
    collapsed = collapse()
    if not collapsed:
        return "huge pages: none (the kernel collapsed nothing: Linux ≥ 6.1 with THP is needed)"
    return f"huge pages: {collapsed / 2**20:.0f} MiB of template memory collapsed"
