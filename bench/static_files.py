"""``python -m bench.static_files``: static files per second from nginx and from the hub.

In production nginx serves ``/static/`` (deploy/templates/nginx.conf.j2) and HAProxy sends
the rest to the hubs; without nginx the hub serves them itself (hub/static_files.py). This
measures both on this machine, for app.js (the page's 800 KB bundle) and a small file
(favicon.svg): ``ab`` (Debian's apache2-utils) sends a bounded number of requests over
keep-alive connections, uncompressed, and each round measures nginx and the hub in turn
(alternating which goes first). It prints the median requests per second and their ratio.
A timing, not a test: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.servers import CellhubServer, ServerFailed, die_with_parent, free_port
from cellhub.deploy.render import Endpoint, StaticServer, nginx_argv, write_nginx_config
from cellhub.hub.static_files import versioned_url

AB = shutil.which("ab")
NGINX = shutil.which("nginx", path="/usr/sbin:/usr/bin:/sbin:/bin")
RATE = re.compile(r"Requests per second:\s+([0-9.]+)")
FAILED = re.compile(r"Failed requests:\s+([0-9]+)")
FILES = {"app.js": versioned_url("app.js"), "favicon.svg": versioned_url("favicon.svg")}


@contextlib.contextmanager
def nginx_serving(run_dir: Path, timeout: float = 30) -> Iterator[str]:
    """nginx as the launcher runs it, serving the package's static folder; its base URL."""
    if NGINX is None:
        raise ServerFailed("nginx is not installed (apt-get install nginx-light)")
    server = StaticServer(Endpoint("127.0.0.1", free_port()), run_dir)
    write_nginx_config(server)
    process = subprocess.Popen(
        nginx_argv(server, NGINX), stdin=subprocess.DEVNULL, preexec_fn=die_with_parent
    )
    url = f"http://{server.bind}"
    try:
        deadline = time.monotonic() + timeout
        while not answers(url + FILES["favicon.svg"]):
            if process.poll() is not None or time.monotonic() > deadline:
                raise ServerFailed(f"nginx did not start: see {run_dir}/nginx-error.log")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def answers(url: str) -> bool:
    with contextlib.suppress(httpx.TransportError):
        return httpx.get(url, timeout=2, trust_env=False).status_code == 200
    return False


def requests_per_second(url: str, requests: int, concurrency: int) -> float:
    """One ``ab`` run: keep-alive, no compression asked; every request must succeed."""
    assert AB is not None
    argv = [AB, "-q", "-k", "-n", str(requests), "-c", str(concurrency), url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    rate, failed = RATE.search(done.stdout), FAILED.search(done.stdout)
    if done.returncode != 0 or rate is None or failed is None or int(failed.group(1)):
        raise ServerFailed(f"ab {url} failed:\n{done.stdout}{done.stderr}")
    return float(rate.group(1))


def measure(servers: dict[str, str], rounds: int, requests: int, concurrency: int) -> None:
    print(f"{'file':12} {'nginx req/s':>12} {'hub req/s':>12} {'ratio':>7}  ({rounds} rounds)")
    for name, path in FILES.items():
        rates: dict[str, list[float]] = {server: [] for server in servers}
        for round_ in range(rounds):
            order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
            for server in order:
                rates[server].append(
                    requests_per_second(servers[server] + path, requests, concurrency)
                )
        nginx, hub = (statistics.median(rates[server]) for server in ("nginx", "hub"))
        print(f"{name:12} {nginx:12.0f} {hub:12.0f} {nginx / hub:6.1f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000, help="per run of ab")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="1 round of 200 requests")
    args = parser.parse_args()
    if AB is None:
        raise SystemExit("ab is not installed (apt-get install apache2-utils)")
    rounds, requests = (1, 200) if args.quick else (args.rounds, args.requests)
    with tempfile.TemporaryDirectory() as scratch:
        hub = CellhubServer(Path(scratch) / "hub")
        hub.start()
        try:
            with nginx_serving(Path(scratch) / "nginx") as nginx:
                measure({"nginx": nginx, "hub": hub.base_url}, rounds, requests, args.concurrency)
        finally:
            hub.stop()


if __name__ == "__main__":
    main()
