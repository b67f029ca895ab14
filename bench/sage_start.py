"""``python -m bench.sage_start``: how fast a Sage kernel starts in cellhub, and what it costs.

Starts ``cellhub serve`` offering python3 and sage (``kernels = python3,sage``; Sage must be
installed: ``pip install 'cellhub[sage]'``) and prints, for each kind: the seconds until
the worker's templates were ready (their imports and warm-up, side by side), and over
``--rounds`` starts the median and p95 of ``POST /api/kernels`` and of start → result of
``1+1``; for Sage also the first ``integrate`` of a fresh kernel (Maxima, warmed in the
template) and then the USS of its session (its private memory, as it reads it itself). A
timing, not a test: run it on a quiet machine. docs/sage.md has the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bench.client import KernelsClient
from bench.servers import CellhubServer


def spread(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms"


def templates_ready(server: CellhubServer, timeout: float = 300.0) -> float:
    """Seconds from the server's start until its worker's line (every template ready)."""
    started = time.monotonic()
    while "; sandbox: " not in server.log_path.read_text(errors="replace"):
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"no worker line after {timeout:.0f} s:\n{server.log_tail()}")
        time.sleep(0.05)
    return time.monotonic() - started


async def starts(client: KernelsClient, kind: str, rounds: int) -> tuple[list[float], list[float]]:
    """Milliseconds of each ``POST /api/kernels``, and of start → the result of ``1+1``."""
    posts, firsts = [], []
    for _ in range(rounds):
        began = time.perf_counter()
        kernel_id = await client.start_kernel(kind)
        posts.append((time.perf_counter() - began) * 1000)
        channel = await client.connect(kernel_id)
        assert (await channel.execute("1+1")).result == "2"
        firsts.append((time.perf_counter() - began) * 1000)
        await channel.close()
        await client.shutdown_kernel(kernel_id)
        await asyncio.sleep(0.3)  # the spare pool refills, as between people's starts
    return posts, firsts


#: The session's own USS, in KiB, as its /proc (its PID namespace's) tells it.
USS = "sum(int(line.split()[1]) for line in open('/proc/self/smaps_rollup') if 'Private_' in line)"


async def sage_kernel(client: KernelsClient) -> tuple[float, float]:
    """A fresh Sage kernel's first ``integrate`` (seconds), and then its session's USS (MiB)."""
    kernel_id = await client.start_kernel("sage")
    channel = await client.connect(kernel_id)
    first = await channel.execute("integrate(x^2 * sin(x), x)")
    uss = int((await channel.execute(USS)).result or 0) / 1024
    await channel.close()
    await client.shutdown_kernel(kernel_id)
    return first.seconds, uss


async def measure(server: CellhubServer, rounds: int) -> None:
    ready = templates_ready(server)
    print(f"templates ready (python3 and sage, side by side): {ready:.1f} s after start")
    client = KernelsClient(server.base_url, server.token)
    try:
        for kind in ("python3", "sage"):
            posts, firsts = await starts(client, kind, rounds)
            print(f"{kind}: POST /api/kernels {spread(posts)}; to 1+1's result {spread(firsts)}")
        integrate, uss = await sage_kernel(client)
        print(f"sage: a new kernel's first integrate {integrate * 1000:.0f} ms; USS {uss:.1f} MiB")
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sage_start")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cellhub-sage-bench-") as work:
        server = CellhubServer(Path(work), {"kernels": "python3,sage"})
        server.start()
        try:
            asyncio.run(measure(server, args.rounds))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
