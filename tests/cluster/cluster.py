"""A cellhub deployment on hosts of its own, built as the multi-host steps of
docs/deployment.md build one: a CA and a certificate per host made with ``cellhub certs``,
PostgreSQL on its host, the schema made with ``cellhub db upgrade``, each worker on its host
(``cellhub worker`` with its certificate, a uid pool of its own), and hubs on theirs
(``cellhub hub`` on the database, with the same token, dialing every worker over mutual TLS).

Hosts are numbered on the /24 by kind (``FIRST_NUMBER``): .1 the test client, .10 the
database, .2N hub N, .3N worker N; the load balancers to come will be one more kind.
Hubs and workers are numbered from 1, as the scenarios name them ("hub 1", "worker 2"), and
can be started again, or more of them, while the cluster runs. :meth:`Cluster.client_urls`
is where clients connect: each running hub for now, the load balancers' virtual address
once there is one.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from cellhub.db.database import make_engine
from cellhub.db.kernels import KernelRepository
from tests.cluster.hosts import Host, Network
from tests.conftest import RunningHub, launch, start_cellhub, stop
from tests.db.postgres import running_postgres
from tests.deploy.cellhub_certs import certs, tls_flags

PREFIX = "chcl"
SUBNET = "10.231.14"
TOKEN = "cluster-t0ken"
#: Host KIND N is at SUBNET.(FIRST_NUMBER[KIND] + N).
FIRST_NUMBER = {"hub": 20, "worker": 30}
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
    database: Engine | None = None

    @property
    def certificates(self) -> Path:
        return self.workdir / "certs"

    def host(self, kind: str, number: int) -> Host:
        """The host ``KIND NUMBER``, made on first use."""
        name = f"{kind}{number}"
        for host in self.network.hosts:
            if host.name == f"{self.network.prefix}-{name}":
                return host
        return self.network.add_host(name, FIRST_NUMBER[kind] + number)

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
            *("--workers", ",".join(self.worker_addresses)),
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

    @property
    def worker_addresses(self) -> list[str]:
        return [self.workers[number].address for number in sorted(self.workers)]

    def client_urls(self) -> list[str]:
        """The base URLs clients use: every running hub's, by number (until load balancers
        hold a virtual address, which will be the only one)."""
        return [hub.url for _, hub in sorted(self.hubs.items()) if hub.process.poll() is None]

    def placement(self, kernel_ids: Iterable[str]) -> Counter[str]:
        """How many of the live kernels ``kernel_ids`` each worker (by address) runs, as the
        kernels table, which an admin reads, records it."""
        if self.database is None:
            self.database = make_engine(self.database_url)
        wanted = set(kernel_ids)
        live = KernelRepository(self.database).live()
        return Counter(record.worker for record in live if record.id in wanted)

    def logs(self, lines: int = 40) -> str:
        """The last ``lines`` each hub and worker printed, for a failed scenario's report."""
        printed = [
            *((f"hub {number}", hub.output) for number, hub in sorted(self.hubs.items())),
            *((f"worker {n}", worker.output) for n, worker in sorted(self.workers.items())),
        ]
        return "\n".join(f"== {name}\n{''.join(output[-lines:])}" for name, output in printed)

    def stop(self) -> None:
        """Stop every hub, then every worker, each as its admin would (SIGTERM)."""
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
def running_cluster(workdir: Path, workers: int = 3, hubs: int = 2) -> Iterator[Cluster]:
    """A cluster of ``workers`` workers and ``hubs`` hubs on one PostgreSQL; everything is
    stopped and every host removed when the ``with`` block ends, failed or not."""
    with Network(PREFIX, SUBNET) as network, contextlib.ExitStack() as stack:
        db = network.add_host("db", 10)
        url = stack.enter_context(
            running_postgres(workdir / "postgres", db.address, 5432, network.cidr, prefix=db.enter)
        )
        cluster = Cluster(network, workdir, url)
        stack.callback(cluster.stop)
        for kind, count in (("worker", workers), ("hub", hubs)):
            for number in range(1, count + 1):
                cluster.host(kind, number)  # one after the other: `ip` edits shared tables
        certs("init", "--dir", str(cluster.certificates))
        upgrade_database(cluster.host("hub", 1), url)
        in_parallel(cluster.start_worker, range(1, workers + 1))
        in_parallel(cluster.start_hub, range(1, hubs + 1))
        yield cluster
