"""Huge pages: the template's memory is collapsed, a fork copies far fewer page-table
entries, and a session that writes to a huge page copies 4 KiB of it, not 2 MiB."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from cellhub.template.hugepages import HUGE_PAGE, aligned
from tests.conftest import RunningHub

THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def kernel_collapses() -> bool:
    """Transparent huge pages on (always or madvise) and ``MADV_COLLAPSE`` (Linux ≥ 6.1)."""
    if not THP.exists() or "[never]" in THP.read_text():
        return False
    major, minor = (int(part) for part in platform.release().split(".")[:2])
    return (major, minor) >= (6, 1)


needs_collapse = pytest.mark.skipif(
    not kernel_collapses(), reason="needs transparent huge pages and Linux ≥ 6.1"
)

#: In a fresh interpreter: 64 MiB of written anonymous memory collapsed; then a child
#: writes one byte in each of 16 of its huge pages. Reports the huge pages before and after
#: the collapse, and how much private memory the child's writes cost.
COLLAPSE_AND_WRITE = """
import json, mmap, os
from cellhub.template.hugepages import HUGE_PAGE, collapse
def rollup(field, pid="self"):
    for line in open(f"/proc/{pid}/smaps_rollup"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
memory = mmap.mmap(-1, 33 * HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
memory.write(b"x" * len(memory))
before = rollup("AnonHugePages")
collapsed = collapse()
after = rollup("AnonHugePages")
read, write = os.pipe()
child = os.fork()
if child == 0:
    dirty = rollup("Private_Dirty")
    for page in range(16):
        memory[HUGE_PAGE + page * HUGE_PAGE] = 0x79
    os.write(write, str(rollup("Private_Dirty") - dirty).encode())
    os._exit(0)
os.waitpid(child, 0)
copied = int(os.read(read, 100))
print(json.dumps({"before": before, "after": after, "collapsed": collapsed, "copied": copied}))
"""


def test_only_whole_huge_pages_within_a_range_are_chosen() -> None:
    assert aligned(HUGE_PAGE + 1, 4 * HUGE_PAGE - 1) == (2 * HUGE_PAGE, 3 * HUGE_PAGE)
    assert aligned(HUGE_PAGE, 3 * HUGE_PAGE) == (HUGE_PAGE, 3 * HUGE_PAGE)
    first, last = aligned(HUGE_PAGE + 1, 2 * HUGE_PAGE + 5)
    assert first == last, "no whole huge page inside"


@needs_collapse
def test_collapsed_memory_is_copied_4_kib_at_a_time_by_a_child() -> None:
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-c", COLLAPSE_AND_WRITE], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["after"] - seen["before"] >= 30 * HUGE_PAGE, seen
    assert seen["collapsed"] >= 30 * HUGE_PAGE, seen
    # 16 writes, each to its own huge page: 16 small pages (and page tables), not 32 MiB.
    assert 0 < seen["copied"] < 2 * 2**20, seen


@needs_collapse
def test_the_template_says_how_much_it_collapsed(cellhub_server: RunningHub) -> None:
    line = next(line for line in cellhub_server.output if "huge pages:" in line)
    assert "MiB of template memory collapsed" in line, line
