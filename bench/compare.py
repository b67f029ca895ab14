"""``python -m bench``: cellhub and Jupyter Server side by side, interleaved, in one run.

Steps: start every server under test; for each figure, run its rounds, and in each round
run the same workload against every server in turn (the order rotates from round to round,
so no server always goes first); stop the servers; print the table, then the JSON (or
write the JSON to ``--json``). The Sage figures run afterwards, against servers of their own
that offer Sage kernels (bench/sage_vs_jupyter.py), so that no Sage template weighs on the
Python figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench import class_start, cluster, report, sage_vs_jupyter
from bench.client import KernelsClient
from bench.servers import BenchServer, CellhubServer, JupyterServer, ServerFailed
from bench.workloads import (
    FAILURES,
    Samples,
    Target,
    big_print,
    concurrent_clients,
    fill_memory,
    printed_lines,
    round_trip,
    session_start,
)
from cellhub.template.pagemerge import KSM, ksmd_running

GiB = 2**30
FIGURES = [
    "start",
    "roundtrip",
    "cluster",
    "classstart",
    "concurrency",
    "lines",
    "bigprint",
    "memory",
    "capacity",
    "sagestart",
    "sagememory",
]
#: Figures of Sage kernels, measured against servers that offer them.
SAGE_FIGURES = ("sagestart", "sagememory")
SERVERS = ["cellhub", "cellhub-ready", "jupyter", "jupyter-tuned"]
#: cellhub with a spare session ready for every client of the class, as an administrator
#: prepares for one (``cellhub workers --spares`` the class's size, ahead of it): it runs the
#: class start alone, in a phase of its own, so that its idle spares take no memory or CPU
#: from the other figures.
READY = "cellhub-ready"


@dataclass(frozen=True)
class Plan:
    """How much of each workload to run: rounds times samples per round."""

    start_rounds: int = 10
    starts_per_round: int = 5
    start_pause: float = 0.2
    roundtrip_rounds: int = 5
    roundtrips_per_round: int = 100
    cluster_rounds: int = 5
    cluster_starts_per_round: int = 8
    cluster_roundtrips_per_round: int = 100
    class_size: int = 500
    jupyter_class_size: int = 100
    class_spread: float = 5.0
    class_timeout: float = 300.0
    clients: int = 8
    concurrency_seconds: float = 10.0
    concurrency_rounds: int = 2
    lines: int = 10**6
    lines_rounds: int = 3
    bigprint: int = 20_000_000
    bigprint_rounds: int = 3
    memory_at: int = 20
    budget: int = 4 * GiB
    output_timeout: float = 300.0
    ksm: bool = False
    merge_wait: float = 300.0
    sage_start_rounds: int = 5
    sage_starts_per_round: int = 2
    sage_memory_at: int = 20


FULL = Plan()
QUICK = Plan(
    start_rounds=3,
    starts_per_round=1,
    roundtrip_rounds=2,
    roundtrips_per_round=50,
    cluster_rounds=1,
    cluster_starts_per_round=2,
    cluster_roundtrips_per_round=50,
    class_size=50,
    jupyter_class_size=10,
    concurrency_seconds=3.0,
    concurrency_rounds=1,
    lines_rounds=1,
    bigprint_rounds=1,
    memory_at=10,
    budget=1 * GiB,
    output_timeout=120.0,
    merge_wait=20.0,
    sage_start_rounds=2,
    sage_starts_per_round=1,
    sage_memory_at=3,
)

Workload = Callable[[Target], Awaitable[Samples]]


def is_cellhub(target: Target) -> bool:
    return isinstance(target.server, CellhubServer)


def class_of(plan: Plan, target: Target) -> Awaitable[Samples]:
    """The class start: cellhub's class through HAProxy, Jupyter's (as many kernels as fit)
    straight."""
    size = plan.class_size if is_cellhub(target) else plan.jupyter_class_size
    return class_start.class_start(
        target, size, plan.class_spread, plan.class_timeout, through_haproxy=is_cellhub(target)
    )


def rounds(plan: Plan, figures: list[str]) -> list[tuple[str, int, Workload]]:
    """(figure, number of rounds, one round's workload) for each selected figure; memory
    and capacity share one ramp."""
    memory_at = plan.memory_at if "memory" in figures else 0
    budget = plan.budget if "capacity" in figures else 0
    table: dict[str, tuple[int, Workload]] = {
        "start": (
            plan.start_rounds,
            lambda t: session_start(t, plan.starts_per_round, plan.start_pause),
        ),
        "roundtrip": (plan.roundtrip_rounds, lambda t: round_trip(t, plan.roundtrips_per_round)),
        "cluster": (
            plan.cluster_rounds,
            lambda t: cluster.cluster_overhead(
                t,
                plan.cluster_starts_per_round,
                plan.cluster_roundtrips_per_round,
                plan.start_pause,
            ),
        ),
        "classstart": (1, lambda t: class_of(plan, t)),
        "concurrency": (
            plan.concurrency_rounds,
            lambda t: concurrent_clients(t, plan.clients, plan.concurrency_seconds),
        ),
        "lines": (plan.lines_rounds, lambda t: printed_lines(t, plan.lines, plan.output_timeout)),
        "bigprint": (
            plan.bigprint_rounds,
            lambda t: big_print(t, plan.bigprint, plan.output_timeout),
        ),
        "memory": (1, lambda t: fill_memory(t, memory_at, budget, plan.ksm, plan.merge_wait)),
        "sagestart": (
            plan.sage_start_rounds,
            lambda t: sage_vs_jupyter.sage_start(t, plan.sage_starts_per_round, plan.start_pause),
        ),
        "sagememory": (
            1,
            lambda t: sage_vs_jupyter.sage_memory(
                t, plan.sage_memory_at, plan.ksm, plan.merge_wait
            ),
        ),
    }
    if "capacity" in figures:
        figures = [*figures, "memory"]
    return [(name, *table[name]) for name in table if name in figures]


def log(message: str, started: float = time.monotonic()) -> None:
    print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)


async def run(servers: list[BenchServer], plan: Plan, figures: list[str]) -> dict[str, Samples]:
    results = {server.name: Samples() for server in servers}
    targets = [Target(server, KernelsClient(server.base_url, server.token)) for server in servers]
    try:
        for figure, count, workload in rounds(plan, figures):
            for index in range(count):
                shift = index % len(targets)
                for target in targets[shift:] + targets[:shift]:
                    name = target.server.name
                    log(f"{figure} round {index + 1}/{count}: {name}")
                    try:
                        results[name].merge(await workload(target))
                    except FAILURES as error:
                        log(f"{figure}: {name} failed: {error!r}")
                        traceback.print_exc(file=sys.stderr)
                        results[name].details.setdefault("errors", []).append(
                            f"{figure}: {type(error).__name__}: {error}"[:500]
                        )
                        try:
                            await target.client.shutdown_all()
                        except FAILURES as cleanup:
                            log(f"{name}: cleanup failed: {cleanup!r}")
    finally:
        for target in targets:
            await target.client.aclose()
    return results


def make_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m bench``, before its choices are checked."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the same kernels-API workload against cellhub and Jupyter Server "
        "(at its defaults), interleaved, and report each side's median and the ratio.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer rounds, 3 s of concurrency, a 1 GiB capacity budget, "
        "10 kernels for memory (under 2 minutes on 2 cores)",
    )
    parser.add_argument(
        "--tuned",
        action="store_true",
        help="also run Jupyter Server with TCP_NODELAY on kernel WebSockets "
        "and the IOPub rate limits off",
    )
    parser.add_argument(
        "--only", default="", help=f"comma-separated servers to run, of {','.join(SERVERS)}"
    )
    parser.add_argument(
        "--figures",
        default=",".join(FIGURES),
        help=f"comma-separated figures, of {','.join(FIGURES)}",
    )
    add_run_options(parser)
    return parser


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options of how the figures run and where their results go."""
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="memory budget of the capacity figure in GiB (default 4, or 1 with --quick)",
    )
    parser.add_argument(
        "--ksm",
        action="store_true",
        help="run the host's ksmd (kernel same-page merging; root only) during the memory "
        "and capacity figures, restoring its settings after; memory is read once pages are merged",
    )
    parser.add_argument("--clients", type=int, default=None, help="concurrent clients (default 8)")
    parser.add_argument(
        "--cellhub-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a cellhub setting (passed as CELLHUB_NAME), repeatable",
    )
    parser.add_argument(
        "--sage-python",
        default=None,
        metavar="PYTHON",
        help="interpreter whose passagemath runs Jupyter's Sage kernel in the Sage figures; "
        "one with passagemath-standard gives all of Sage (default: this one)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="write the JSON here instead of printing it after the table",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="directory for server data and logs (default: a temporary one, removed afterwards)",
    )


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The parsed command line; the figures and servers named are checked, and ``--ksm``
    refused where the host cannot merge pages or this process may not ask it to."""
    parser = make_parser()
    arguments = parser.parse_args(argv)
    arguments.figures = chosen_figures(parser, arguments.figures)
    names = [n for n in arguments.only.split(",") if n] or SERVERS
    if not arguments.tuned and not arguments.only:
        names = [n for n in names if n != "jupyter-tuned"]
    unknown = set(names) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    if arguments.only and READY in names and "classstart" not in arguments.figures:
        parser.error(f"{READY} runs the classstart figure alone; add it to --figures")
    arguments.servers = names
    if arguments.ksm and (os.geteuid() != 0 or not KSM.is_dir()):
        parser.error("--ksm needs root and a kernel with KSM (/sys/kernel/mm/ksm)")
    return arguments


def chosen_figures(parser: argparse.ArgumentParser, text: str) -> list[str]:
    """The figures ``--figures`` names; those through HAProxy are left out of the default
    run when it is not installed, and refused when asked for."""
    chosen = [f for f in text.split(",") if f]
    unknown = set(chosen) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figures: {', '.join(sorted(unknown))}")
    through_haproxy = [figure for figure in ("cluster", "classstart") if figure in chosen]
    if through_haproxy and cluster.HAPROXY is None:
        if chosen != FIGURES:
            parser.error(f"{', '.join(through_haproxy)} need HAProxy: apt-get install haproxy")
        log("HAProxy is not installed: the cluster and classstart figures are left out")
        chosen = [figure for figure in chosen if figure not in through_haproxy]
    of_sage = [figure for figure in SAGE_FIGURES if figure in chosen]
    if of_sage and not sage_vs_jupyter.sage_installed():
        if chosen != FIGURES:
            parser.error(f"{', '.join(of_sage)} need Sage: pip install 'cellhub[sage]'")
        log("Sage is not installed: the Sage figures are left out")
        chosen = [figure for figure in chosen if figure not in of_sage]
    return chosen


def lines_label(lines: int) -> str:
    exponent = len(str(lines)) - 1
    return f"10**{exponent}" if lines == 10**exponent else f"{lines:,}"


def labels(plan: Plan) -> dict[str, str]:
    """What fills the placeholders of the figures' labels ({clients}, {budget}, …)."""
    return {
        "clients": str(plan.clients),
        "lines": lines_label(plan.lines),
        "bigprint": f"{plan.bigprint / 1e6:g} MB",
        "budget": f"{plan.budget / GiB:g} GiB",
        "memory_at": str(plan.memory_at),
        "start_pause": f"{plan.start_pause:g} s",
        "class_size": str(plan.class_size),
        "jupyter_class_size": str(plan.jupyter_class_size),
        "class_spread": f"{plan.class_spread:g} s",
        "sage_memory_at": str(plan.sage_memory_at),
    }


def make_servers(names: list[str], workdir: Path, settings: list[str]) -> list[BenchServer]:
    cellhub_settings = dict(setting.split("=", 1) for setting in settings)
    made: dict[str, BenchServer] = {
        "cellhub": CellhubServer(workdir / "cellhub", cellhub_settings),
        "jupyter": JupyterServer(workdir / "jupyter"),
        "jupyter-tuned": JupyterServer(workdir / "jupyter-tuned", tuned=True),
    }
    return [made[name] for name in SERVERS if name in names and name in made]


def make_sage_servers(
    names: list[str], workdir: Path, settings: list[str], sage_python: str | None
) -> list[BenchServer]:
    """The servers of the Sage figures: cellhub offering Sage alone, Jupyter Server with
    passagemath's Sage kernel."""
    cellhub_settings = dict(setting.split("=", 1) for setting in settings)
    made: dict[str, BenchServer] = {}
    if "cellhub" in names:
        made["cellhub"] = sage_vs_jupyter.CellhubSageServer(
            workdir / "cellhub-sage", cellhub_settings
        )
    jupyters = [name for name in names if name.startswith("jupyter")]
    if jupyters:
        kernel = sage_vs_jupyter.JupyterSageKernel.choose(sage_python, workdir)
        for name in jupyters:
            tuned = name == "jupyter-tuned"
            made[name] = sage_vs_jupyter.JupyterSageServer(workdir / f"{name}-sage", kernel, tuned)
    return [made[name] for name in SERVERS if name in made]


def stop_on_sigterm(signum: int, frame: object) -> None:
    """Let SIGTERM unwind like Ctrl+C, so the servers are stopped on the way out."""
    raise KeyboardInterrupt


Phase = tuple[list[BenchServer], list[str]]


def make_phases(arguments: argparse.Namespace, workdir: Path, plan: Plan) -> list[Phase]:
    """The servers and figures of each phase: Python's figures, the class start with spares
    ready for the class, then Sage's."""
    python_figures = [f for f in arguments.figures if f not in SAGE_FIGURES]
    sage_figures = [f for f in arguments.figures if f in SAGE_FIGURES]
    phases: list[Phase] = []
    if python_figures:
        servers = make_servers(arguments.servers, workdir, arguments.cellhub_setting)
        if servers:
            phases.append((servers, python_figures))
    if "classstart" in python_figures and READY in arguments.servers:
        settings = dict(s.split("=", 1) for s in arguments.cellhub_setting)
        ready = CellhubServer(workdir / READY, settings, READY, class_spares=plan.class_size)
        phases.append(([ready], ["classstart"]))
    if sage_figures:
        servers = make_sage_servers(
            arguments.servers, workdir, arguments.cellhub_setting, arguments.sage_python
        )
        phases.append((servers, sage_figures))
    return phases


def describe(phases: list[Phase]) -> dict[str, str]:
    """Each server name's description, of every phase it ran in."""
    descriptions: dict[str, str] = {}
    for servers, _ in phases:
        for server in servers:
            before = descriptions.get(server.name)
            descriptions[server.name] = (
                f"{before}; then {server.description}" if before else server.description
            )
    return descriptions


def measure_phase(
    servers: list[BenchServer], plan: Plan, figures: list[str], results: dict[str, Samples]
) -> bool:
    """Start ``servers``, run ``figures`` against them, stop them; merge into ``results``
    (by server name). False if a server did not start."""
    try:
        for server in servers:
            log(f"starting {server.name}: {server.description}")
            try:
                server.start()
            except ServerFailed as failed:
                log(str(failed))
                return False
        runner = asyncio.run
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
        for name, samples in runner(run(servers, plan, figures)).items():
            results.setdefault(name, Samples()).merge(samples)
    finally:
        for server in servers:
            server.stop()
    return True


def main(argv: list[str] | None = None) -> int:
    arguments = parse(argv)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    plan = QUICK if arguments.quick else FULL
    if arguments.budget is not None:
        plan = replace(plan, budget=int(arguments.budget * GiB))
    if arguments.ksm:
        plan = replace(plan, ksm=True)
    if arguments.clients is not None:
        plan = replace(plan, clients=arguments.clients)
    workdir = arguments.workdir or Path(tempfile.mkdtemp(prefix="cellhub-bench-"))
    phases = make_phases(arguments, workdir, plan)
    machine = report.machine()
    machine["ksmd"] = (
        "run by the benchmark during the memory and capacity figures"
        if arguments.ksm
        else ("running" if ksmd_running() else "stopped")
    )
    results: dict[str, Samples] = {}
    try:
        for servers, figures in phases:
            if not measure_phase(servers, plan, figures, results):
                return 2
    finally:
        if arguments.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    parameters: dict[str, Any] = {
        **asdict(plan),
        "mode": "quick" if arguments.quick else "full",
        "figures": arguments.figures,
    }
    document = report.build(results, describe(phases), parameters, labels(plan), machine)
    print(report.table(document))
    encoded = json.dumps(document, indent=2)
    if arguments.json:
        arguments.json.write_text(encoded + "\n")
        log(f"JSON written to {arguments.json}")
    else:
        print()
        print(encoded)
    errors = [e for samples in results.values() for e in samples.details.get("errors", [])]
    return 1 if errors else 0
