"""``python -m bench.sandbox_enter``: what preparing and entering a session's sandbox costs.

A session start pays ``prepare`` (a uid, a cgroup, a home) and ``enter`` (namespaces,
mounts, the uid change, rlimits, the seccomp filter) once, mostly while it is a spare.
This prints the median and p95 of each over ``--rounds`` forked children, for the rlimit
sandbox and, as root, the linux one. A timing, not a test: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from cellhub.sandbox import LinuxSandbox, RlimitSandbox, SandboxLimits, SessionSandbox

#: Uids of this benchmark's own, apart from a deployment's pool and the tests'.
BENCH_UIDS = range(232_000, 232_016)


def timed_cycle(sandbox: SessionSandbox) -> tuple[float, float]:
    """Prepare, enter in a forked child, release; the seconds prepare and enter took."""
    start = time.perf_counter()
    lease = sandbox.prepare()
    prepared = time.perf_counter() - start
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            begin = time.perf_counter()
            sandbox.enter(lease)
            os.write(write_end, str(time.perf_counter() - begin).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    entered = float(os.read(read_end, 64) or "nan")
    os.close(read_end)
    os.waitpid(pid, 0)
    sandbox.release(lease)
    return prepared, entered


def report(kind: str, sandbox: SessionSandbox, rounds: int) -> None:
    times = [timed_cycle(sandbox) for _ in range(rounds)]
    sandbox.close()
    for name, values in (("prepare", [t[0] for t in times]), ("enter", [t[1] for t in times])):
        values.sort()
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(
            f"{kind:7} {name:8} median {statistics.median(values) * 1e3:6.2f} ms  "
            f"p95 {p95 * 1e3:6.2f} ms  ({rounds} rounds)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as scratch:
        state = Path(scratch) / "sessions"
        report("rlimit", RlimitSandbox(SandboxLimits(), state), rounds)
        if os.geteuid() == 0:
            report("linux", LinuxSandbox(SandboxLimits(), state, uid_range=BENCH_UIDS), rounds)


if __name__ == "__main__":
    main()
