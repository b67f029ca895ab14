"""The benchmark harness runs end to end: ``python -m bench --quick`` against cellhub alone.

Two cheap figures (session start and round trip) in under a minute, the cluster figure
(through HAProxy), a class start of 50 and the Sage kernels' start (where Sage is
installed) likewise, so CI notices when the harness or cellhub's kernels API drifts apart;
and a small run of the machine's new-page probe (``python -m bench.new_pages``).
The numbers themselves are not checked beyond being plausible, and the class start's CPU
time beyond being counted for the right part: performance is measured by
``python -m bench``, not by tests.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.haproxy import needs_haproxy
from tests.deploy.nginx import needs_nginx
from tests.sage.conftest import require_sage

REPOSITORY = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(90)


def quick_bench(
    tmp_path: Path, figures: str, server: str = "cellhub"
) -> tuple[str, dict[str, Any]]:
    """``python -m bench --quick`` against ``server`` alone: what it printed, and its
    figures."""
    output = tmp_path / "bench.json"
    bench = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--only",
            server,
            "--figures",
            figures,
            "--json",
            str(output),
            "--workdir",
            str(tmp_path / "work"),
        ],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = bench.communicate(timeout=50)
    except subprocess.TimeoutExpired:
        bench.terminate()  # the harness stops its servers on SIGTERM
        stdout, stderr = bench.communicate(timeout=25)
        pytest.fail(f"python -m bench took over 50 s:\n{stderr[-4000:]}")
    assert bench.returncode == 0, stderr[-4000:]
    measured: dict[str, Any] = json.loads(output.read_text())["figures"]
    return stdout, measured


def test_quick_start_and_roundtrip_against_cellhub(tmp_path: Path) -> None:
    stdout, figures = quick_bench(tmp_path, "start,roundtrip")
    assert "1+1 round trip" in stdout
    assert {"start", "start_p95", "start_bare", "start_burst", "roundtrip", "roundtrip_p95"} <= set(
        figures
    )
    for figure in figures.values():
        assert 0 < figure["values"]["cellhub"] < 10_000
    assert figures["roundtrip"]["samples"]["cellhub"] == 100
    assert figures["start"]["samples"]["cellhub"] == 3
    assert figures["start_burst"]["samples"]["cellhub"] == 3


@needs_haproxy
def test_quick_cluster_figure_against_cellhub(tmp_path: Path) -> None:
    """Straight and through HAProxy, in pairs: each pair's difference is a sample too."""
    stdout, figures = quick_bench(tmp_path, "cluster")
    assert "added by HAProxy" in stdout
    for way in ("direct", "proxied", "added"):
        assert figures[f"cluster_start_{way}"]["samples"]["cellhub"] == 2
        assert figures[f"cluster_roundtrip_{way}"]["samples"]["cellhub"] == 50
    for way in ("direct", "proxied"):
        for kind in ("start", "roundtrip"):
            assert 0 < figures[f"cluster_{kind}_{way}"]["values"]["cellhub"] < 10_000


@needs_haproxy
def test_quick_class_start_counts_sessions_apart_from_the_template(tmp_path: Path) -> None:
    """A session is a fork of the template and keeps its command line; its CPU time still goes
    under ``sessions``, not ``template``. A session's start and ``1+1`` take some 10 to 40 ms of
    CPU here (0.3 to 0.7 s for 50); counted as the template's, ``sessions`` held only the init
    maker and the inits (0.08 s for 50). The memory a session takes is counted from the
    sessions themselves: the fall in ``MemAvailable`` (some 400 MiB for 50 here) also moves
    with whatever else the machine takes or frees meanwhile."""
    _, figures = quick_bench(tmp_path, "classstart")
    assert figures["class_succeeded"]["values"]["cellhub"] == 50
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["details"]["cellhub"]["class_spares_ready"] == [[2]]
    [[used]] = report["details"]["cellhub"]["class_cpu_seconds"]
    assert set(used) == {"client", "hub", "worker", "template", "sessions"}
    assert used["template"] > 0
    assert used["sessions"] >= 50 * 0.003, used
    # Each session holds a few MiB of its own: the template's pages it has written to.
    [[held]] = report["details"]["cellhub"]["class_private_memory_mib"]
    assert held["sessions"] >= 50 * 1.0, held
    [[taken]] = report["details"]["cellhub"]["class_new_memory_mib"]
    assert isinstance(taken, int), taken


@needs_haproxy
def test_quick_class_start_with_a_spare_ready_for_every_client(tmp_path: Path) -> None:
    """``cellhub-ready`` is asked for a spare session for each of the class's clients, as an
    administrator asks ahead of a class (``cellhub workers --spares 50``): the class begins
    once all 50 are ready, and every client is served (each by a spare, the pool refilling
    behind them)."""
    stdout, figures = quick_bench(tmp_path, "classstart", server="cellhub-ready")
    assert "then `cellhub workers --spares 50`" in stdout
    assert figures["class_succeeded"]["values"]["cellhub-ready"] == 50
    assert figures["class_succeeded"]["cellhub_advantage"] == {}
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["details"]["cellhub-ready"]["class_spares_ready"] == [[50]]


@pytest.mark.skipif(shutil.which("ab") is None, reason="apt-get install apache2-utils")
@needs_nginx
def test_quick_static_files_figure() -> None:
    """``python -m bench.static_files --quick``: nginx's and the hub's rates, each file."""
    bench = subprocess.run(
        [sys.executable, "-m", "bench.static_files", "--quick"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=80,
    )
    assert bench.returncode == 0, bench.stderr[-4000:]
    rows = {line.split()[0]: line.split()[1:] for line in bench.stdout.splitlines()[1:]}
    assert set(rows) == {"app.js", "favicon.svg"}
    for nginx, hub, _ in rows.values():
        assert float(nginx) > 0 and float(hub) > 0


def test_quick_sage_start_against_cellhub(tmp_path: Path) -> None:
    """The Sage figures run against a cellhub of their own, offering Sage kernels alone."""
    require_sage()
    stdout, figures = quick_bench(tmp_path, "sagestart")
    assert "Sage kernel start, to 2^3's result" in stdout and "kernels=sage" in stdout
    assert figures["sage_start"]["samples"]["cellhub"] == 2
    assert 0 < figures["sage_start"]["values"]["cellhub"] < 10_000


def test_new_pages_probe_prints_each_step() -> None:
    """``python -m bench.new_pages``: a small run prints one plausible cost per step."""
    probe = subprocess.run(
        [sys.executable, "-m", "bench.new_pages", "--gib", "0.25", "--step-mib", "64", "--json"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr[-4000:]
    report = json.loads(probe.stdout)
    assert report["step_mib"] == 64
    assert [taken for taken, _ in report["steps"]] == [0.062, 0.125, 0.188, 0.25]
    for _, micros in report["steps"]:
        assert 0.01 < micros < 10_000, report
