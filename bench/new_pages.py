"""``python -m bench.new_pages``: what a new page of memory costs this machine, and whether
the cost rises with how much new memory is taken.

A process's first write to a page it has never had costs the kernel a page fault and a
zeroed page (a session's copy-on-write fault, a copied one). On bare metal the cost is the
same for the first GiB and the tenth. On a virtual machine whose host backs the guest's
memory only when the guest first touches it (and takes back what the guest frees: free
page reporting), the cost can rise several-fold once the memory the host holds ready for
the guest runs out. A class start makes some 10 MiB of new pages per session (the
session's copy-on-write faults, its page tables, its init): 5 GiB for a class of 500, so
where this cost rises bounds how large a class the machine can start in a given time
(docs/performance.md).

This maps ``--step-mib`` of private anonymous memory at a time, writes one byte in each
4 KiB page of it and prints the microseconds a page took, step after step, up to
``--gib`` GiB, keeping every step mapped until the end (as a class keeps its sessions).
Contract: it never maps more than the machine's available memory less 1 GiB, frees
everything before it returns, and with ``--json`` prints one JSON object: the steps as
``[GiB mapped after the step, µs per page]`` pairs.
"""

from __future__ import annotations

import argparse
import json
import mmap
import time

from cellhub.worker.load import mem_available

PAGE = 4096
MiB = 2**20
GiB = 2**30
#: Memory the probe leaves available to everything else, whatever ``--gib`` asks for.
HEADROOM = 1 * GiB


def touch_step(size: int) -> tuple[mmap.mmap, float]:
    """Map ``size`` bytes and write each page once: the mapping and the µs per page."""
    memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    began = time.perf_counter()
    for offset in range(0, size, PAGE):
        memory[offset] = 1
    return memory, (time.perf_counter() - began) / (size // PAGE) * 1e6


def probe(total: int, step: int) -> list[tuple[float, float]]:
    """``[GiB mapped, µs per page]`` for each step of ``step`` bytes up to ``total``."""
    total = min(total, max(0, mem_available() - HEADROOM))
    held: list[mmap.mmap] = []
    steps: list[tuple[float, float]] = []
    try:
        while (len(held) + 1) * step <= total:
            memory, micros = touch_step(step)
            held.append(memory)
            steps.append((round(len(held) * step / GiB, 3), round(micros, 2)))
    finally:
        for memory in held:
            memory.close()
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=6.0, help="new memory to take, at most")
    parser.add_argument("--step-mib", type=int, default=512, help="memory taken per step")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    steps = probe(int(args.gib * GiB), args.step_mib * MiB)
    if args.json:
        print(json.dumps({"step_mib": args.step_mib, "steps": steps}))
        return
    print(f"{'GiB taken':>10}  µs per new page")
    for taken, micros in steps:
        print(f"{taken:10.2f}  {micros:8.2f}")
    if steps:
        first = steps[0][1]
        print(f"dearest step: {max(m for _, m in steps) / first:.1f} times the first")


if __name__ == "__main__":
    main()
