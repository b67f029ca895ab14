"""The cluster figure: what HAProxy adds, as cellhub renders its configuration, to a kernel
start and to a round trip.

Each round puts an HAProxy in front of the server under test (``cellhub.deploy.render``,
the configuration a deployment gets: leastconn, health checks against the server's
``health_path``, keep-alive to the server) and measures the same server straight and
through HAProxy, in pairs, one right after the other, the order alternating from pair to
pair:

- **start**: ``POST /api/kernels`` → WebSocket → result of ``1+1`` (the session-start
  figure's bare start), ``pause`` seconds after each kernel is shut down, after one pair
  not counted;
- **round trip**: two kernels, one opened straight and one through HAProxy, warmed up, then
  ``1+1`` on each in turn.

Each pair gives a straight and a proxied sample and their difference; the median of the
differences is what HAProxy adds. HAProxy runs on the same cores as the server and the
client, as it would on a small load balancer host carrying little else.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

from bench.client import KernelsClient
from bench.servers import BenchServer, ServerFailed, die_with_parent, free_port
from bench.workloads import Samples, Target, close_kernel, expect, open_kernel
from cellhub.deploy.render import Endpoint, LoadBalancer, Server, haproxy_argv, render_haproxy

#: Debian installs it in /usr/sbin, which an ordinary user's PATH may leave out.
HAPROXY = shutil.which("haproxy", path="/usr/sbin:/usr/bin:/sbin:/bin")


@contextlib.asynccontextmanager
async def haproxy_in_front(server: BenchServer, timeout: float = 30.0) -> AsyncIterator[str]:
    """HAProxy in front of ``server``; yields its URL once the server answers through it."""
    if HAPROXY is None:
        raise ServerFailed("HAProxy is not installed (apt-get install haproxy)")
    directory = server.workdir / "haproxy"
    directory.mkdir(parents=True, exist_ok=True)
    balancer = LoadBalancer(
        [Server(server.name, Endpoint("127.0.0.1", server.port))],
        bind=Endpoint("127.0.0.1", free_port()),
        stats=Endpoint("127.0.0.1", free_port()),
        health_path=server.health_path,
    )
    config = directory / "haproxy.cfg"
    config.write_text(render_haproxy(balancer))
    log = directory / "haproxy.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            haproxy_argv(config, directory / "haproxy.pid", HAPROXY),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    url = f"http://{balancer.bind}"
    try:
        await serving(url + server.health_path, process, timeout)
        yield url
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 10)


async def serving(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until ``url`` answers 200 through HAProxy (its check has found the server)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2, trust_env=False) as http:
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise ServerFailed(f"nothing answered {url} through HAProxy within {timeout:.0f} s")


def record(samples: Samples, figure: str, straight: float, proxied: float) -> None:
    samples.add(f"cluster_{figure}_direct_ms", straight)
    samples.add(f"cluster_{figure}_proxied_ms", proxied)
    samples.add(f"cluster_{figure}_added_ms", proxied - straight)


async def in_turn(
    first: Callable[[], Awaitable[float]], second: Callable[[], Awaitable[float]], index: int
) -> tuple[float, float]:
    """Both measurements, ``first``'s then ``second``'s on even pairs, the other way on odd
    ones; returned in the order given."""
    if index % 2:
        later = await second()
        return await first(), later
    earlier = await first()
    return earlier, await second()


async def start_pairs(
    straight: Target, proxied: Target, count: int, pause: float, samples: Samples
) -> None:
    def start(target: Target) -> Callable[[], Awaitable[float]]:
        async def timed() -> float:
            began = time.perf_counter()
            kernel_id, channel = await open_kernel(target, imports=False)
            elapsed = (time.perf_counter() - began) * 1000
            await close_kernel(target, kernel_id, channel)
            await asyncio.sleep(pause)
            return elapsed

        return timed

    await in_turn(start(straight), start(proxied), 0)  # warm-up: the first start waits for
    for index in range(count):  # the template if the server has only just started
        record(samples, "start", *await in_turn(start(straight), start(proxied), index))


async def round_trip_pairs(
    straight: Target, proxied: Target, count: int, samples: Samples, warmup: int = 20
) -> None:
    opened = [await open_kernel(target, imports=False) for target in (straight, proxied)]
    channels = [channel for _, channel in opened]
    for _ in range(warmup):
        for channel in channels:
            expect(await channel.execute("1+1"), "2")

    def one(index: int) -> Callable[[], Awaitable[float]]:
        async def timed() -> float:
            return expect(await channels[index].execute("1+1"), "2").seconds * 1000

        return timed

    for index in range(count):
        record(samples, "roundtrip", *await in_turn(one(0), one(1), index))
    for target, (kernel_id, channel) in zip((straight, proxied), opened, strict=True):
        await close_kernel(target, kernel_id, channel)


async def cluster_overhead(target: Target, starts: int, roundtrips: int, pause: float) -> Samples:
    """One round of the cluster figure against ``target``'s server (see the module)."""
    samples = Samples()
    async with haproxy_in_front(target.server) as url:
        proxied = Target(target.server, KernelsClient(url, target.server.token))
        try:
            await start_pairs(target, proxied, starts, pause, samples)
            await round_trip_pairs(target, proxied, roundtrips, samples)
        finally:
            await proxied.client.aclose()
    return samples
