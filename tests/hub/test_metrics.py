"""``GET /metrics`` (hub/metrics.py) of a real ``cellhub serve``: Prometheus's format, as
prometheus_client's own parser reads it, refused without the token, and counting what
happens: a kernel start, an execution's messages and round trip, HTTP responses, database
statements, kernel ends by cause. And every metric the Grafana dashboard
(deploy/grafana/cellhub.json) charts is one the hub serves, and every one it serves is
documented (docs/deployment.md, Metrics). The database's statements are counted on SQLite
and on PostgreSQL (tests/hub/conftest.py); the rest is the database's alike.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cellhub.client import execute_content
from tests.conftest import start_cellhub
from tests.kernel_client import Hub, request_message
from tests.polling import until

pytestmark = pytest.mark.both_databases
#: The tests of what is not the database's: on SQLite alone, on the module's one hub.
NOT_THE_DATABASES = pytest.mark.sqlite_only("counters of the hub and worker, not the database")
ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "cellhub.json"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(hub: Hub) -> Samples:
    """Every sample of the hub's /metrics, by name and labels."""
    response = await hub.http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def per_worker(samples: Samples, name: str) -> list[float]:
    return [found for (each, _labels), found in samples.items() if each == name]


@NOT_THE_DATABASES
async def test_without_the_token_metrics_are_refused(hub: Hub) -> None:
    async with httpx.AsyncClient(base_url=hub.url) as anonymous:
        assert (await anonymous.get("/metrics")).status_code == 403
        wrong = await anonymous.get("/metrics", headers={"Authorization": "token wrong"})
        assert wrong.status_code == 403


async def test_counters_move_when_a_kernel_starts_and_runs(hub: Hub) -> None:
    before = await scrape(hub)
    kernel_id, client = await hub.kernel()
    async with client:
        execution = await client.execute("print('x' * 1000)")
        assert execution.stream_text() == "x" * 1000 + "\n"
        after = await scrape(hub)
        assert after.keys() >= before.keys()
        moved = {
            name: value(after, name) - value(before, name)
            for name in (
                "cellhub_kernel_start_seconds_count",
                "cellhub_execute_round_trip_seconds_count",
                "cellhub_relayed_messages_total",
                "cellhub_relayed_bytes_total",
                "cellhub_database_seconds_count",
            )
        }
        assert moved["cellhub_kernel_start_seconds_count"] == 1, moved
        assert moved["cellhub_execute_round_trip_seconds_count"] == 1, moved
        # busy, execute_input, stream, idle, execute_reply at least
        assert moved["cellhub_relayed_messages_total"] >= 5, moved
        assert moved["cellhub_relayed_bytes_total"] > 1000, moved
        assert moved["cellhub_database_seconds_count"] >= 1, moved
        assert value(after, "cellhub_kernel_start_seconds_sum") > value(
            before, "cellhub_kernel_start_seconds_sum"
        )
        ok = "cellhub_http_responses_total"
        assert value(after, ok, status_class="2xx") > value(before, ok, status_class="2xx")
        assert value(after, "cellhub_kernels_starting") == 0
        assert per_worker(after, "cellhub_worker_connected") == [1.0]
        await until(
            lambda: kernel_counted(hub, kernel_id), "the worker's load report counts the kernel"
        )
    await hub.http.delete(f"/api/kernels/{kernel_id}")


async def kernel_counted(hub: Hub, kernel_id: str) -> bool:
    """Whether the hub's gauges count at least the kernel ``kernel_id`` running."""
    samples = await scrape(hub)
    running = per_worker(samples, "cellhub_worker_kernels_running")
    return value(samples, "cellhub_kernels_running") >= 1 and running != [] and running[0] >= 1


@NOT_THE_DATABASES
async def test_a_refusal_counts_as_4xx(hub: Hub) -> None:
    before = await scrape(hub)
    async with httpx.AsyncClient(base_url=hub.url) as anonymous:
        assert (await anonymous.get("/api/kernels")).status_code == 403
    after = await scrape(hub)
    name = "cellhub_http_responses_total"
    assert value(after, name, status_class="4xx") == value(before, name, status_class="4xx") + 1


async def per_cause(hub: Hub, counter: str, cause: str) -> float:
    """What the workers' reports count in ``counter`` for ``cause``, summed over workers."""
    samples = await scrape(hub)
    return sum(
        found
        for (name, labels), found in samples.items()
        if name == counter and ("cause", cause) in labels
    )


async def ended(hub: Hub, cause: str) -> float:
    """Kernels the worker reports ended for ``cause``."""
    return await per_cause(hub, "cellhub_worker_kernels_ended_total", cause)


async def sandbox_kills(hub: Hub, cause: str) -> float:
    """Sessions the worker reports a sandbox limit stopped (``oom``, ``pids``, ``cpu``)."""
    return await per_cause(hub, "cellhub_worker_sandbox_kills_total", cause)


@NOT_THE_DATABASES
async def test_a_killed_session_and_a_shutdown_count_by_cause(hub: Hub) -> None:
    killed, requested = await ended(hub, "killed"), await ended(hub, "requested")
    kernel_id, client = await hub.kernel()
    async with client:
        kill = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
        await client.send(request_message("execute_request", execute_content(kill)))
        assert "SIGKILL" in await client.dead_reason()

    async def killed_counted() -> bool:
        return await ended(hub, "killed") == killed + 1

    await until(killed_counted, "the worker's report counts the killed session")
    assert (await hub.http.get(f"/api/kernels/{kernel_id}")).status_code == 404
    shut = await hub.start_kernel()
    assert (await hub.http.delete(f"/api/kernels/{shut}")).status_code == 204

    async def requested_counted() -> bool:
        return await ended(hub, "requested") == requested + 1

    await until(requested_counted, "the worker's report counts the shutdown")
    samples = await scrape(hub)
    assert [
        labels for (name, labels), _ in samples.items() if name == "cellhub_worker_spares"
    ] != [], "spares per kind are reported"
    assert per_worker(samples, "cellhub_worker_flow_pauses_total") != []


@NOT_THE_DATABASES
async def test_flow_pauses_and_culls_are_counted(tmp_path: Path) -> None:
    """A flow window of one stream chunk closes at each chunk; an idle kernel is culled."""
    env = {
        "CELLHUB_FLOW_WINDOW": str(64 * 1024),
        "CELLHUB_IDLE_TIMEOUT": "1",
        "CELLHUB_CULL_INTERVAL": "0.25",
    }
    server = start_cellhub(tmp_path / "data", env=env)
    hub = Hub(server.url, server.token)
    try:
        _kernel_id, client = await hub.kernel()
        async with client:
            printed = await client.execute("print('x' * 300_000)")
            assert len(printed.stream_text()) == 300_001

        async def paused() -> bool:
            pauses = per_worker(await scrape(hub), "cellhub_worker_flow_pauses_total")
            return pauses != [] and pauses[0] >= 1

        async def culled() -> bool:
            return await ended(hub, "culled") == 1

        await until(paused, "the worker's report counts the flow pauses")
        await until(culled, "the idle kernel is culled and counted", timeout=30)
    finally:
        await hub.aclose()
        server.stop()


def dashboard_metrics() -> set[str]:
    """The metric names the dashboard's queries read."""
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    return {name for expr in expressions for name in re.findall(r"\bcellhub_\w+", expr)}


@NOT_THE_DATABASES
async def test_the_dashboard_charts_only_metrics_the_hub_serves(hub: Hub) -> None:
    charted = dashboard_metrics()
    assert len(charted) >= 10
    _kernel_id, client = await hub.kernel()  # so that every histogram and worker gauge has samples
    async with client:
        await client.execute("1+1")
    families = list(text_string_to_metric_families((await hub.http.get("/metrics")).text))
    # A family is served even when it has no sample yet (a worker whose memory is unknown).
    served = {family.name for family in families} | {
        sample.name for family in families for sample in family.samples
    }
    assert charted <= served, charted - served


@NOT_THE_DATABASES
async def test_every_served_metric_is_documented(hub: Hub) -> None:
    text = (await hub.http.get("/metrics")).text
    served = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in text_string_to_metric_families(text)
        if not family.name.endswith("_created")  # prometheus_client's creation times
    }
    documented = set(re.findall(r"^\| `(cellhub_\w+)`", DEPLOYMENT_DOC.read_text(), re.M))
    assert served == documented
