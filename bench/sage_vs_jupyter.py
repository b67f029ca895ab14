"""The Sage figures of ``python -m bench``: Sage kernels in cellhub and in Jupyter Server.

What is measured, the same way on both sides (docs/performance.md, docs/sage.md):

- **start** (``sagestart``): ``POST /api/kernels`` for a ``sage`` kernel → its WebSocket →
  the result of ``2^3`` (``8``: Sage's preparser ran), in ms, one kernel at a time;
- **idle memory** (``sagememory``): ``N`` Sage kernels alive and idle (each has answered
  ``2^3``), then the PSS of each kernel's processes and the whole server tree's PSS
  divided by ``N`` (cellhub's template and spare sessions included).

cellhub runs ``kernels = sage``, so that its tree holds the Sage template and nothing of
Python's. Jupyter Server runs passagemath's own Jupyter kernel, as passagemath's kernelspec
starts it (``python -m sage.repl.ipython_kernel``, Sage's ``SageKernel`` on ipykernel), from
``--sage-python``: an interpreter where ``sage.all_cmdline`` (passagemath-standard, all of
Sage) is installed. Without one (cellhub's ``sage`` extra installs only the parts its kernel
imports, and no ``sage.all_cmdline``), the same kernel runs with a ``sage.all_cmdline`` made
of those parts, so that both sides import the same Sage; the servers' descriptions, printed
with the table, say which ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.memory import MiB, ksmd, merged, subtree_pss
from bench.sage_start import templates_ready
from bench.servers import CellhubServer, JupyterServer
from bench.workloads import GETPID, Samples, Target, WorkloadError, expect, gather_limited

SAGE = "sage"
#: The code whose result ends a start: it is Sage's only once the preparser has run.
FIRST_CELL = "2^3"
#: The names cellhub's Sage kernel starts with (cellhub.session.sage.NAMESPACE), for the
#: stand-in ``sage.all_cmdline`` where passagemath-standard is not installed.
PARTS_ONLY_ALL_CMDLINE = """\
sage_mode = "cmdline"
from sage.all__sagemath_repl import *
from sage.all__sagemath_plot import *
from sage.all__sagemath_symbolics import *
"""


def sage_installed() -> bool:
    """Whether this interpreter can run cellhub's Sage kernels."""
    from cellhub.kernel_kinds import SAGE as KIND

    return KIND.available()


def has_modules(python: str, *names: str) -> bool:
    """Whether ``python`` finds every module of ``names`` (found, not imported)."""
    check = (
        "import importlib.util, sys\n"
        "sys.exit(any(importlib.util.find_spec(n) is None for n in sys.argv[1:]))"
    )
    return subprocess.run([python, "-c", check, *names], check=False).returncode == 0


@dataclass(frozen=True)
class JupyterSageKernel:
    """passagemath's Jupyter kernel as Jupyter Server starts it: a kernelspec named ``sage``."""

    python: str
    #: None: ``python`` has ``sage.all_cmdline``; else the directory of the stand-in.
    stand_in: Path | None

    @classmethod
    def choose(cls, python: str | None, workdir: Path) -> JupyterSageKernel:
        """The kernel of ``python`` (default: this interpreter), with all of Sage if it has it."""
        python = python or sys.executable
        if not has_modules(python, "ipykernel", "sage.repl.ipython_kernel"):
            raise SystemExit(f"{python} has no ipykernel or passagemath-repl: no Sage kernel")
        if has_modules(python, "sage.all_cmdline"):
            return cls(python, None)
        stand_in = workdir / "sage-all-cmdline"
        (stand_in / "sage").mkdir(parents=True, exist_ok=True)  # sage is a namespace package
        (stand_in / "sage" / "all_cmdline.py").write_text(PARTS_ONLY_ALL_CMDLINE)
        return cls(python, stand_in)

    @property
    def description(self) -> str:
        what = (
            "with all of Sage (passagemath-standard)"
            if self.stand_in is None
            else "with sage.all_cmdline standing for the passagemath parts cellhub's kernel "
            "imports (passagemath-standard not installed there)"
        )
        command = f"{self.python} -m sage.repl.ipython_kernel"
        return f"passagemath's Jupyter kernel ({command}) {what}"

    def kernelspec(self, dot_sage: Path) -> dict[str, object]:
        """passagemath's own kernelspec, with its interpreter named and Sage's files kept in
        the benchmark's directory (``DOT_SAGE``, as cellhub keeps each session's in its home)."""
        env = {"DOT_SAGE": str(dot_sage)}
        if self.stand_in is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(self.stand_in), os.environ.get("PYTHONPATH")])
            )
        return {
            "argv": [self.python, "-m", "sage.repl.ipython_kernel", "-f", "{connection_file}"],
            "display_name": "SageMath (passagemath)",
            "language": "sage",
            "env": env,
        }


class JupyterSageServer(JupyterServer):
    """Jupyter Server with passagemath's Sage kernel installed as the kernelspec ``sage``."""

    def __init__(self, workdir: Path, kernel: JupyterSageKernel, tuned: bool = False) -> None:
        super().__init__(workdir, tuned)
        self.kernel = kernel
        self.description = f"{self.description}; {kernel.description}"

    def start(self, timeout: float = 120.0) -> None:
        spec_dir = self.workdir / "jupyter-data" / "kernels" / SAGE
        spec_dir.mkdir(parents=True, exist_ok=True)
        spec = self.kernel.kernelspec(self.workdir / "dot_sage")
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
        super().start(timeout)


class CellhubSageServer(CellhubServer):
    """cellhub offering Sage kernels alone (one template: the Sage one), measured once its
    template is ready: the hub answers before, and a first kernel would wait for Sage's
    import and warm-up, which a deployment pays once, at its start."""

    def __init__(self, workdir: Path, settings: dict[str, str]) -> None:
        super().__init__(workdir, {**settings, "kernels": SAGE})
        self.description += " (passagemath parts of the cellhub[sage] extra)"

    def start(self, timeout: float = 120.0) -> None:
        super().start(timeout)
        templates_ready(self, timeout)


async def sage_start(target: Target, count: int, pause: float) -> Samples:
    """``count`` Sage kernels one after another: start → result of ``2^3``, in ms."""
    samples = Samples()
    for _ in range(count):
        began = time.perf_counter()
        kernel_id = await target.client.start_kernel(SAGE)
        channel = await target.client.connect(kernel_id)
        expect(await channel.execute(FIRST_CELL), "8")
        samples.add("sage_start_ms", (time.perf_counter() - began) * 1000)
        await channel.close()
        await target.client.shutdown_kernel(kernel_id)
        await asyncio.sleep(pause)
    return samples


async def idle_sage_kernel(target: Target) -> int:
    """A Sage kernel that answered ``2^3``, no client attached; its pid."""
    kernel_id = await target.client.start_kernel(SAGE)
    channel = await target.client.connect(kernel_id)
    expect(await channel.execute(FIRST_CELL), "8")
    pid = expect(await channel.execute(GETPID)).result
    await channel.close()
    if pid is None or not pid.isdigit():
        raise WorkloadError(f"Sage kernel reported pid {pid!r}")
    return int(pid)


async def sage_memory(
    target: Target, count: int, ksm: bool = False, merge_wait: float = 300.0, parallel: int = 2
) -> Samples:
    """PSS of each of ``count`` idle Sage kernels, and of the server tree per kernel."""
    samples = Samples()
    with ksmd() if ksm else contextlib.nullcontext():
        pids = await gather_limited(parallel, [lambda: idle_sage_kernel(target)] * count)
        await asyncio.sleep(1.0)  # let the last kernel's start settle
        samples.details["sage_ksm_wait_seconds"] = await merged(merge_wait)
        processes = target.server.session_processes(pids)
        samples.add("sage_pss_idle_mib", *(subtree_pss(p) / MiB for p in processes))
        samples.add("sage_pss_tree_mib", subtree_pss(target.server.root()) / count / MiB)
    await target.client.shutdown_all()
    return samples
