"""A cellhub deployment on hosts of its own, built as the multi-host steps of
docs/deployment.md build one: a CA and a certificate per host made with ``cellhub certs``,
PostgreSQL on its host, the schema made with ``cellhub db upgrade``, each worker on its host
(``cellhub worker`` with its certificate, a uid pool of its own), a workers file listing
them, hubs on their hosts (``cellhub hub`` on the database, with the same token, watching
the workers file, dialing every worker over mutual TLS, believing forwarded headers from
the load balancers only), and two load balancers (tests/cluster/balancers.py: HAProxy in
front of every hub, keepalived holding one virtual address).

Hosts are numbered on the /24 by kind (``FIRST_NUMBER``): .1 the test client, .10 the
database, .2N hub N, .3N worker N, .4N load balancer N, and .100 is the virtual address.
Hosts are numbered from 1, as the scenarios name them ("hub 1", "worker 2"); hubs, workers
and HAProxies can be started again, or more of them, while the cluster runs, and the
workers file written again. :attr:`Cluster.client_url` is where clients connect: the
virtual address.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import Engine

from cellhub.db.database import make_engine
from cellhub.db.kernels import KernelRepository
from cellhub.deploy.render import Endpoint, Server
from tests.cluster.balancers import Balancer
from tests.cluster.hosts import Host, Network
from tests.conftest import RunningHub, launch, start_cellhub, stop
from tests.db.postgres import running_postgres
from tests.deploy.cellhub_certs import certs, tls_flags

PREFIX = "chcl"
SUBNET = "10.231.14"
TOKEN = "cluster-t0ken"
#: Host KIND N is at SUBNET.(FIRST_NUMBER[KIND] + N).
FIRST_NUMBER = {"hub": 20, "worker": 30, "lb": 40}
#: The load balancers' virtual address is SUBNET.VIRTUAL_NUMBER.
VIRTUAL_NUMBER = 100
HUB_PORT = 8888
WORKER_PORT = 7000
#: The worker's line once its template has imported everything: it takes kernels from then on.
WORKER_READY = re.compile(r'"event":"ready","address":"([^"]+)"')
#: Room for every kernel of a scenario on any one worker, in a uid pool of its own: the
#: workers share this machine's uids, and each uid is claimed host-wide.
MAX_SESSIONS = 120
UID_POOL_SIZE = 160
#: Nothing preloaded: the cluster test is about hosts, and its workers start in seconds.
WORKER_ENV = {"CELLHUB_PRELOAD": ""}
#: Seconds the cluster has to settle: at start, and after a scenario killed one of its parts.
SETTLE_WAIT = 60.0


@dataclass
class ClusterWorker:
    """A ``cellhub worker`` process on its host, and what it printed."""

    host: Host
    process: subprocess.Popen[str]
    address: str
    output: list[str]

    def stop(self) -> None:
        stop(self.process)  # the worker ends its sessions


@dataclass
class Cluster:
    """The running deployment; ``hubs`` and ``workers`` by number."""

    network: Network
    workdir: Path
    database_url: str
    hubs: dict[int, RunningHub] = field(default_factory=dict)
    workers: dict[int, ClusterWorker] = field(default_factory=dict)
    balancers: dict[int, Balancer] = field(default_factory=dict)
    database: Engine | None = None

    @property
    def certificates(self) -> Path:
        return self.workdir / "certs"

    @property
    def workers_file(self) -> Path:
        """In a folder of its own: a hub reads the file again on any change in its folder."""
        return self.workdir / "etc" / "workers.toml"

    @property
    def virtual_address(self) -> str:
        return f"{self.network.subnet}.{VIRTUAL_NUMBER}"

    @property
    def client_url(self) -> str:
        """The base URL clients use: the load balancers' virtual address."""
        return f"http://{self.virtual_address}/"

    def host(self, kind: str, number: int) -> Host:
        """The host ``KIND NUMBER``, made on first use."""
        name = f"{kind}{number}"
        for host in self.network.hosts:
            if host.name == f"{self.network.prefix}-{name}":
                return host
        return self.network.add_host(name, FIRST_NUMBER[kind] + number)

    def numbers(self, kind: str) -> list[int]:
        """The numbers of the hosts of ``kind`` made so far."""
        name = re.compile(rf"{self.network.prefix}-{kind}(\d+)")
        found = (name.fullmatch(host.name) for host in self.network.hosts)
        return sorted(int(match.group(1)) for match in found if match)

    def start_worker(self, number: int) -> ClusterWorker:
        host = self.host("worker", number)
        name = f"worker-{number}"
        folder = str(self.certificates)
        certs("issue", name, "--role", "worker", "--host", host.address, "--dir", folder)
        argv = [
            "worker",
            *("--data-dir", str(self.workdir / name)),
            *("--worker-host", host.address, "--worker-port", str(WORKER_PORT)),
            *("--max-sessions", str(MAX_SESSIONS), "--uid-pool-size", str(UID_POOL_SIZE)),
            *("--uid-pool-start", str(310_000 + 1000 * number)),
            *tls_flags(self.certificates, name),
        ]
        process, ready, output = launch(argv, WORKER_READY, WORKER_ENV, prefix=host.enter)
        self.workers[number] = ClusterWorker(host, process, ready.group(1), output)
        return self.workers[number]

    def start_hub(self, number: int) -> RunningHub:
        """Start hub ``number`` (again, after it was killed: same host, same port)."""
        host = self.host("hub", number)
        name = f"hub-{number}"
        if not (self.certificates / f"{name}.crt").exists():
            certs("issue", name, "--role", "hub", "--dir", str(self.certificates))
        argv = [
            "hub",
            *("--data-dir", str(self.workdir / name)),
            *("--host", host.address, "--port", str(HUB_PORT)),
            *("--database-url", self.database_url),
            *("--workers-file", str(self.workers_file)),
            *("--forwarded-allow-ips", ",".join(self.balancer_addresses)),
            *tls_flags(self.certificates, name),
        ]
        env = {"CELLHUB_TOKEN": TOKEN}
        hub = start_cellhub(self.workdir / name, env=env, argv=argv, prefix=host.enter)
        self.hubs[number] = hub
        return hub

    def kill_hub(self, number: int) -> None:
        """SIGKILL hub ``number``, as a crash would end it."""
        process = self.hubs[number].process
        process.send_signal(signal.SIGKILL)
        process.wait(15)

    def start_balancer(self, number: int) -> Balancer:
        """Load balancer ``number``: HAProxy in front of every hub host, and keepalived."""
        hubs = [
            Server(f"hub{n}", Endpoint(self.host("hub", n).address, HUB_PORT))
            for n in self.numbers("hub")
        ]
        balancer = Balancer(number, self.host("lb", number), self.workdir / f"lb-{number}", hubs)
        peers = [address for address in self.balancer_addresses if address != balancer.host.address]
        balancer.start(self.virtual_address, peers)
        self.balancers[number] = balancer
        return balancer

    @property
    def balancer_addresses(self) -> list[str]:
        return [self.host("lb", number).address for number in self.numbers("lb")]

    def write_workers_file(self, draining: Collection[int] = ()) -> None:
        """List every worker started, ``draining`` ones so, the others active; the file is
        replaced at once, as deployment tools do (write, then rename)."""
        entries = [
            f'[[worker]]\nname = "worker-{number}"\naddress = "{worker.address}"\n'
            f'state = "{"draining" if number in draining else "active"}"\n'
            for number, worker in sorted(self.workers.items())
        ]
        self.workers_file.parent.mkdir(exist_ok=True)
        written = self.workers_file.with_suffix(".new")
        written.write_text("\n".join(entries))
        os.replace(written, self.workers_file)

    def holders(self) -> list[int]:
        """The load balancers whose host holds the virtual address now."""
        return [n for n, lb in sorted(self.balancers.items()) if lb.holds(self.virtual_address)]

    def unsettled(self) -> str:
        """What keeps the cluster from being as it started, "" once it is: balancer 1 alone
        holds the virtual address, every HAProxy sees every hub ready, the address answers."""
        holders = self.holders()
        if holders != [1]:
            return f"the virtual address is held by the load balancers {holders}, not by 1 alone"
        ready = {f"hub{number}": "UP" for number in self.hubs}
        try:
            for number, balancer in sorted(self.balancers.items()):
                assert balancer.haproxy is not None
                states = balancer.haproxy.server_states()
                if states != ready:
                    return f"load balancer {number} sees the hubs so: {states}"
            health = httpx.get(f"{self.client_url}api/health", timeout=5)
        except httpx.TransportError as exc:
            return f"no answer: {exc!r}"
        return "" if health.status_code == 200 else f"/api/health: {health.text}"

    def wait_until_settled(self) -> None:
        deadline = time.monotonic() + SETTLE_WAIT
        while unsettled := self.unsettled():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not settle in {SETTLE_WAIT} s: {unsettled}")
            time.sleep(0.1)

    def placement(self, kernel_ids: Iterable[str]) -> dict[str, int]:
        """The number of the worker that runs each of the live kernels ``kernel_ids``, as the
        kernels table, which an admin reads, records it."""
        if self.database is None:
            self.database = make_engine(self.database_url)
        wanted = set(kernel_ids)
        numbers = {worker.address: number for number, worker in self.workers.items()}
        live = KernelRepository(self.database).live()
        return {record.id: numbers[record.worker] for record in live if record.id in wanted}

    def logs(self, lines: int = 40) -> str:
        """The last ``lines`` each process printed, for a failed scenario's report."""
        printed = [
            *((f"hub {number}", hub.output) for number, hub in sorted(self.hubs.items())),
            *((f"worker {n}", worker.output) for n, worker in sorted(self.workers.items())),
        ]
        shown = [f"== {name}\n{''.join(output[-lines:])}" for name, output in printed]
        for number, balancer in sorted(self.balancers.items()):
            shown.append(f"== load balancer {number}\n{balancer.output(lines)}")
        return "\n".join(shown)

    def stop(self) -> None:
        """Stop every load balancer, hub, then worker, each as its admin would (SIGTERM)."""
        for balancer in self.balancers.values():
            balancer.stop()
        for hub in self.hubs.values():
            hub.stop()
        for worker in self.workers.values():
            worker.stop()
        if self.database is not None:
            self.database.dispose()


def in_parallel(start: Callable[[int], object], numbers: Iterable[int]) -> None:
    """Start several hosts' services at once: each waits seconds for its ready line."""
    with ThreadPoolExecutor() as pool:
        for _ in pool.map(start, numbers):
            pass


def upgrade_database(host: Host, url: str) -> None:
    """``cellhub db upgrade`` from a hub's host, once, before hubs start at the same time."""
    argv = [sys.executable, "-m", "cellhub", "db", "upgrade", "--database-url", url]
    done = subprocess.run([*host.enter, *argv], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"cellhub db upgrade failed:\n{done.stdout}{done.stderr}")


@contextlib.contextmanager
def running_cluster(
    workdir: Path, workers: int = 3, hubs: int = 2, balancers: int = 2
) -> Iterator[Cluster]:
    """A cluster of ``workers`` workers and ``hubs`` hubs on one PostgreSQL behind
    ``balancers`` load balancers, settled; everything is stopped and every host removed
    when the ``with`` block ends, failed or not."""
    with Network(PREFIX, SUBNET) as network, contextlib.ExitStack() as stack:
        db = network.add_host("db", 10)
        url = stack.enter_context(
            running_postgres(workdir / "postgres", db.address, 5432, network.cidr, prefix=db.enter)
        )
        cluster = Cluster(network, workdir, url)
        stack.callback(cluster.stop)
        for kind, count in (("worker", workers), ("hub", hubs), ("lb", balancers)):
            for number in range(1, count + 1):
                cluster.host(kind, number)  # one after the other: `ip` edits shared tables
        certs("init", "--dir", str(cluster.certificates))
        upgrade_database(cluster.host("hub", 1), url)
        in_parallel(cluster.start_balancer, range(1, balancers + 1))
        in_parallel(cluster.start_worker, range(1, workers + 1))
        cluster.write_workers_file()
        in_parallel(cluster.start_hub, range(1, hubs + 1))
        cluster.wait_until_settled()
        yield cluster
