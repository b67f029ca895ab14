"""``GET /metrics``: the hub's numbers in Prometheus's text format, for Prometheus to scrape.

Each hub keeps its metrics in a :class:`~prometheus_client.CollectorRegistry` of its own,
not prometheus_client's global one, so that several hubs in one process (the tests) do not
count into each other. Two kinds of numbers:

- **Events**, counted as they happen: HTTP responses by status class (:class:`ResponseCounter`,
  the outermost middleware, so refusals count too), kernel start latency (around
  :meth:`KernelService.start <cellhub.hub.kernels.KernelService.start>`), each execution's
  round trip through the hub (hub/channels.py), and each database statement's time
  (SQLAlchemy's cursor events on the engine, so no repository is touched).
- **States**, read when Prometheus scrapes (:class:`LiveCollector`): kernels starting on this
  hub, messages and bytes relayed to clients (hub/channels.py's :class:`Traffic` totals), and
  per worker its last load report (hub/workers.py): connected, kernels running, free
  sessions, capacity, memory headroom, spares per kernel kind, and the worker's own counts
  since it started: kernels ended per cause (culls, sandbox kills by SIGKILL or SIGXCPU),
  sessions a sandbox limit stopped per limit (out of memory, process limit, CPU time),
  flow-control pauses. The workers' numbers reach Prometheus through every
  hub rather than a port of the worker's own: the load report already carries them over
  the authenticated hub↔worker link, and a worker then needs no listener beside it.

``ADMIN``: the numbers describe the whole deployment. Prometheus sends the token as
``Authorization: token …`` (its scrape configuration's ``authorization`` with type
``token``). Every metric is listed, with its meaning, in docs/deployment.md ("Metrics"),
and deploy/grafana/cellhub.json charts them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cellhub.hub.access import Access, Guarded
from cellhub.hub.channels import Traffic
from cellhub.hub.kernels import KernelService
from cellhub.protocol.hub_worker import END_CAUSES, KILL_CAUSES

#: Kernel starts take from tens of milliseconds (a spare) to seconds (a cold start, Sage).
START_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: An execution's round trip: ``1+1`` takes about a millisecond; a cell may run for minutes.
ROUND_TRIP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 10.0, 60.0)
#: A database statement: sub-millisecond on SQLite, a network round trip on PostgreSQL.
DATABASE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.0)
#: Where a statement's start is kept on SQLAlchemy's execution context until it ends.
STARTED = "_cellhub_started"


class HubMetrics:
    """One hub's registry and the metrics counted as events happen; :meth:`watch` adds the
    ones read from the running hub, once its kernel service and database exist."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_responses = Counter(
            "cellhub_http_responses",
            "HTTP responses of this hub, by status class (2xx, 3xx, 4xx, 5xx).",
            ["status_class"],
            registry=self.registry,
        )
        self.kernel_start = Histogram(
            "cellhub_kernel_start_seconds",
            "Seconds from a kernel start request to the running kernel (successful starts).",
            buckets=START_BUCKETS,
            registry=self.registry,
        )
        self.round_trip = Histogram(
            "cellhub_execute_round_trip_seconds",
            "Seconds from a client's execute_request passing the hub to its execute_reply.",
            buckets=ROUND_TRIP_BUCKETS,
            registry=self.registry,
        )
        self.database = Histogram(
            "cellhub_database_seconds",
            "Seconds each database statement of this hub took.",
            buckets=DATABASE_BUCKETS,
            registry=self.registry,
        )

    def watch(self, service: KernelService, traffic: Traffic, engine: Engine) -> None:
        """Time ``service``'s starts, ``traffic``'s executions and ``engine``'s statements,
        and read their states at each scrape."""
        service.start_latency = self.kernel_start.observe
        traffic.round_trip = self.round_trip.observe
        time_statements(engine, self.database.observe)
        self.registry.register(LiveCollector(service, traffic))


def time_statements(engine: Engine, observe: Callable[[float], None]) -> None:
    """Tell ``observe`` the seconds of each statement ``engine`` runs to its end."""

    def before(*args: Any) -> None:
        context = args[4]
        setattr(context, STARTED, time.perf_counter())

    def after(*args: Any) -> None:
        started = getattr(args[4], STARTED, None)
        if started is not None:
            observe(time.perf_counter() - started)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)


class LiveCollector(Collector):
    """The hub's states, read at each scrape from the kernel service and the relay totals."""

    def __init__(self, service: KernelService, traffic: Traffic) -> None:
        self.service = service
        self.traffic = traffic

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "cellhub_kernels_starting",
            "Kernel starts under way on this hub.",
            value=self.service.starting,
        )
        yield CounterMetricFamily(
            "cellhub_relayed_messages",
            "Kernel messages this hub handed to its WebSocket clients.",
            value=self.traffic.messages,
        )
        yield CounterMetricFamily(
            "cellhub_relayed_bytes",
            "Bytes of the kernel messages relayed, as the kernel sent them, once per client.",
            value=self.traffic.bytes,
        )
        yield from self.worker_gauges()
        yield from self.worker_tallies()

    def worker_gauges(self) -> Iterator[Metric]:
        """Per worker, labelled by its address: whether it is connected, and its last load
        report; ``cellhub_kernels_running`` sums the connected workers' kernels."""
        gauges = {
            name: GaugeMetricFamily(name, text, labels=["worker"])
            for name, text in WORKER_GAUGES.items()
        }
        running = 0
        for link in list(self.service.links.values()):
            connected = link.connected.is_set()
            gauges["cellhub_worker_connected"].add_metric([link.address], int(connected))
            load = link.last_load
            if not connected or load is None:
                continue
            running += load.running
            reported = {
                "cellhub_worker_kernels_running": load.running,
                "cellhub_worker_sessions_free": load.free,
                "cellhub_worker_capacity": load.capacity,
                "cellhub_worker_memory_headroom_bytes": load.memory,  # 0: unknown, left out
            }
            for name, value in reported.items():
                if value or name != "cellhub_worker_memory_headroom_bytes":
                    gauges[name].add_metric([link.address], value)
        yield from gauges.values()
        yield GaugeMetricFamily(
            "cellhub_kernels_running",
            "Kernels running on the workers connected to this hub.",
            value=running,
        )

    def worker_tallies(self) -> Iterator[Metric]:
        """Per connected worker, what its last load report counts: spares per kernel kind,
        kernels ended per cause (culls, sandbox kills: ``hub_worker.END_CAUSES``), sessions
        stopped per sandbox limit (``hub_worker.KILL_CAUSES``), and flow pauses. Each worker
        counts from its own start, as Prometheus counters do."""
        spares = GaugeMetricFamily(
            "cellhub_worker_spares",
            "Sessions the worker holds ready, per kernel kind.",
            labels=["worker", "kind"],
        )
        ended = CounterMetricFamily(
            "cellhub_worker_kernels_ended",
            "Kernels ended on the worker since it started, per cause (requested, culled, "
            "lifetime, killed: SIGKILL, out of memory or a sandbox limit; cpu: SIGXCPU; "
            "template; exited).",
            labels=["worker", "cause"],
        )
        kills = CounterMetricFamily(
            "cellhub_worker_sandbox_kills",
            "Sessions ended on the worker since it started that a sandbox limit stopped, per "
            "limit (oom: the OOM killer killed a process of it; pids: a fork refused at its "
            "process limit; cpu: SIGXCPU, its CPU time ran out).",
            labels=["worker", "cause"],
        )
        pauses = CounterMetricFamily(
            "cellhub_worker_flow_pauses",
            "Times a kernel's output on the worker waited for a hub's acknowledgement.",
            labels=["worker"],
        )
        for link in list(self.service.links.values()):
            load = link.last_load
            if not link.connected.is_set() or load is None:
                continue
            for kind, count in load.spares.items():
                spares.add_metric([link.address, kind], count)
            for cause in END_CAUSES:
                ended.add_metric([link.address, cause], load.ended.get(cause, 0))
            for cause in KILL_CAUSES:
                kills.add_metric([link.address, cause], load.kills.get(cause, 0))
            pauses.add_metric([link.address], load.flow_pauses)
        yield from (spares, ended, kills, pauses)


#: The per-worker gauges and their help texts, in the order of :meth:`worker_gauges`.
WORKER_GAUGES = {
    "cellhub_worker_connected": "1 when this hub is connected to the worker, else 0.",
    "cellhub_worker_kernels_running": "Kernels the worker runs (its last load report).",
    "cellhub_worker_sessions_free": "Sessions the worker can still start (its last load report).",
    "cellhub_worker_capacity": "The worker's max_sessions (its last load report).",
    "cellhub_worker_memory_headroom_bytes": "Memory the worker can still give (when known).",
}


class ResponseCounter:
    """ASGI middleware counting each HTTP response by its status class."""

    def __init__(self, app: ASGIApp, metrics: HubMetrics) -> None:
        self.app = app
        self.responses = metrics.http_responses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.responses.labels(f"{message['status'] // 100}xx").inc()
            await send(message)

        await self.app(scope, receive, counted)


async def metrics(request: Request) -> Response:
    hub: HubMetrics = request.app.state.metrics
    return Response(generate_latest(hub.registry), media_type=CONTENT_TYPE_LATEST)


ROUTES = [Guarded(Access.ADMIN, Route("/metrics", metrics, methods=["GET"]))]
