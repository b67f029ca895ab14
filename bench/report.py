"""The figures the benchmark reports, their statistics, and the table and JSON it prints.

Each ``Metric`` reads one statistic (median, p95 or p99) of one series of samples. The ratio
column is cellhub's advantage: Jupyter / cellhub where lower is better (time, memory),
cellhub / Jupyter where higher is better (throughput, capacity, bytes delivered); above 1
means cellhub is better.
"""

from __future__ import annotations

import math
import platform
import statistics
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import psutil

from bench.workloads import Samples


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    series: str
    stat: str
    unit: str
    better: str


METRICS = [
    Metric(
        "start",
        "session start, numpy+mpl imported ({start_pause} apart)",
        "start_ms",
        "median",
        "ms",
        "lower",
    ),
    Metric("start_p95", "session start, p95", "start_ms", "p95", "ms", "lower"),
    Metric("start_bare", "session start, no imports", "start_bare_ms", "median", "ms", "lower"),
    Metric(
        "start_burst",
        "session start, no imports, back to back",
        "start_burst_ms",
        "median",
        "ms",
        "lower",
    ),
    Metric("roundtrip", "1+1 round trip", "roundtrip_ms", "median", "ms", "lower"),
    Metric("roundtrip_p95", "1+1 round trip, p95", "roundtrip_ms", "p95", "ms", "lower"),
    Metric(
        "cluster_start_direct",
        "cluster: start, straight to the server",
        "cluster_start_direct_ms",
        "median",
        "ms",
        "lower",
    ),
    Metric(
        "cluster_start_proxied",
        "cluster: start, through HAProxy",
        "cluster_start_proxied_ms",
        "median",
        "ms",
        "lower",
    ),
    Metric(
        "cluster_start_added",
        "cluster: start, added by HAProxy",
        "cluster_start_added_ms",
        "median",
        "ms",
        "none",
    ),
    Metric(
        "cluster_roundtrip_direct",
        "cluster: 1+1 round trip, straight",
        "cluster_roundtrip_direct_ms",
        "median",
        "ms",
        "lower",
    ),
    Metric(
        "cluster_roundtrip_proxied",
        "cluster: 1+1 round trip, through HAProxy",
        "cluster_roundtrip_proxied_ms",
        "median",
        "ms",
        "lower",
    ),
    Metric(
        "cluster_roundtrip_added",
        "cluster: 1+1 round trip, added by HAProxy",
        "cluster_roundtrip_added_ms",
        "median",
        "ms",
        "none",
    ),
    Metric(
        "class_p50",
        "class start ({class_size}, Jupyter {jupyter_class_size}, in {class_spread}): p50",
        "class_seconds",
        "median",
        "s",
        "lower",
    ),
    Metric("class_p99", "class start: p99 to first result", "class_seconds", "p99", "s", "lower"),
    Metric(
        "class_succeeded",
        "class start: clients with their result",
        "class_succeeded",
        "median",
        "clients",
        "none",
    ),
    Metric(
        "concurrency_rate",
        "{clients} clients: executions",
        "concurrency_rate",
        "median",
        "exec/s",
        "higher",
    ),
    Metric(
        "concurrency_p95", "{clients} clients: p95 latency", "concurrency_ms", "p95", "ms", "lower"
    ),
    Metric(
        "lines_seconds", "{lines} lines: to final idle", "lines_seconds", "median", "s", "lower"
    ),
    Metric("lines_bytes", "{lines} lines: bytes delivered", "lines_bytes", "median", "B", "higher"),
    Metric(
        "lines_missing", "{lines} lines: lines missing", "lines_missing", "median", "lines", "none"
    ),
    Metric(
        "bigprint_seconds",
        "{bigprint} print: to final idle",
        "bigprint_seconds",
        "median",
        "s",
        "lower",
    ),
    Metric(
        "bigprint_bytes",
        "{bigprint} print: bytes delivered",
        "bigprint_bytes",
        "median",
        "B",
        "higher",
    ),
    Metric("pss_one", "idle kernel PSS, 1 alive", "pss_one_mib", "median", "MiB", "lower"),
    Metric(
        "pss_idle", "idle kernel PSS, {memory_at} alive", "pss_idle_mib", "median", "MiB", "lower"
    ),
    Metric(
        "pss_tree",
        "server tree PSS / {memory_at} kernels",
        "pss_tree_mib",
        "median",
        "MiB",
        "lower",
    ),
    Metric("capacity", "idle kernels in {budget}", "capacity", "median", "kernels", "higher"),
    Metric(
        "sage_start",
        "Sage kernel start, to 2^3's result ({start_pause} apart)",
        "sage_start_ms",
        "median",
        "ms",
        "lower",
    ),
    Metric("sage_start_p95", "Sage kernel start, p95", "sage_start_ms", "p95", "ms", "lower"),
    Metric(
        "sage_pss_idle",
        "idle Sage kernel PSS, {sage_memory_at} alive",
        "sage_pss_idle_mib",
        "median",
        "MiB",
        "lower",
    ),
    Metric(
        "sage_pss_tree",
        "server tree PSS / {sage_memory_at} Sage kernels",
        "sage_pss_tree_mib",
        "median",
        "MiB",
        "lower",
    ),
]


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def statistic(values: list[float], stat: str) -> float:
    if stat.startswith("p"):
        return percentile(values, int(stat[1:]) / 100)
    return statistics.median(values)


def ratio(metric: Metric, cellhub: float | None, other: float | None) -> float | None:
    if metric.better == "none" or cellhub is None or other is None:
        return None
    numerator, denominator = (other, cellhub) if metric.better == "lower" else (cellhub, other)
    return numerator / denominator if denominator else None


def is_jupyter(server: str) -> bool:
    """Whether ``server`` is one cellhub's advantage is counted against (not a cellhub of
    other settings)."""
    return server.startswith("jupyter")


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line)
    except (OSError, StopIteration):
        pass
    versions: dict[str, str | None] = {}
    for package in (
        "cellhub",
        "jupyter_server",
        "ipykernel",
        "jupyter_client",
        "tornado",
        "pyzmq",
        "websockets",
        "h11",
        "numpy",
        "matplotlib",
        "ipython",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": cpu,
        "cores": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": [round(load, 2) for load in psutil.getloadavg()],
        "versions": versions,
    }


def build(
    results: dict[str, Samples],
    descriptions: dict[str, str],
    parameters: dict[str, Any],
    labels: dict[str, str],
    machine_info: dict[str, Any],
) -> dict[str, Any]:
    """The JSON document: machine, parameters, servers, and every figure per server.

    ``labels`` fill the placeholders of the metric labels (``{clients}``, ``{budget}``, …).
    """
    figures: dict[str, Any] = {}
    for metric in METRICS:
        values = {
            name: statistic(samples.series[metric.series], metric.stat)
            for name, samples in results.items()
            if samples.series.get(metric.series)
        }
        if not values:
            continue
        cellhub = values.get("cellhub")
        figures[metric.key] = {
            "label": metric.label.format(**labels),
            "unit": metric.unit,
            "statistic": metric.stat,
            "better": metric.better,
            "values": values,
            "samples": {
                name: len(samples.series[metric.series])
                for name, samples in results.items()
                if samples.series.get(metric.series)
            },
            "cellhub_advantage": {
                name: ratio(metric, cellhub, value)
                for name, value in values.items()
                if is_jupyter(name) and ratio(metric, cellhub, value) is not None
            },
        }
    return {
        "machine": machine_info,
        "parameters": parameters,
        "servers": descriptions,
        "figures": figures,
        "details": {name: samples.details for name, samples in results.items()},
    }


def number(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(document: dict[str, Any]) -> str:
    """A plain-text table: one row per figure, a value column per server, ratios after each."""
    servers = list(document["servers"])
    others = [name for name in servers if is_jupyter(name)]
    header = ["figure", "unit", *servers]
    if "cellhub" in servers:
        header += [f"x vs {name}" for name in others]
    rows = [header]
    for figure in document["figures"].values():
        row = [figure["label"], figure["unit"]]
        row += [number(figure["values"].get(name)) for name in servers]
        if "cellhub" in servers:
            row += [
                number(figure["cellhub_advantage"].get(name))
                + ("" if figure["cellhub_advantage"].get(name) is None else "x")
                for name in others
            ]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    notes = [f"{name}: {text}" for name, text in document["servers"].items()]
    if "ksmd" in document["machine"]:
        notes.append(f"host ksmd (same-page merging): {document['machine']['ksmd']}")
    if "cellhub" in servers and others:
        notes.append(
            "x = cellhub's advantage (>1: cellhub better): Jupyter/cellhub for times and memory, "
            "cellhub/Jupyter for rates, capacity and bytes."
        )
    return "\n".join([*lines, "", *notes])
