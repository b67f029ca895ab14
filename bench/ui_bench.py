"""Benchmarks of the worksheet page in Debian's Chromium (not a test; prints medians).

- first paint of / (first-contentful-paint, and when the worksheet is ready to type in),
- the gzipped size of the JS + CSS bundle (the budget is 500 KB),
- keystroke latency with 200 cells on the page: from keydown to the next painted frame,
- big outputs (bench/big_outputs.py): 10**5 lines and one 20 MB line, in cellhub and, when
  JupyterLab is installed (the `bench` extra), in JupyterLab at its defaults.

    python -m bench.ui_bench                    # against `cellhub serve`
    python -m bench.ui_bench --only-big-outputs # just the big-output figures
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from bench import big_outputs
from bench.servers import CellhubServer, JupyterServer

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "src" / "cellhub" / "static"
TEMPLATES = ROOT / "src" / "cellhub" / "hub" / "templates"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BUNDLE_BUDGET = 500 * 1024
KEYSTROKE_BUDGET_MS = 50
FIRST_PAINT_BUDGET_MS = 300
BIG_OUTPUT_FRAME_BUDGET_MS = 200


@contextmanager
def cellhub_backend() -> Iterator[str]:
    """A ``cellhub serve`` started as the comparison harness starts it; yields the page URL."""
    with tempfile.TemporaryDirectory() as workdir:
        server = CellhubServer(Path(workdir))
        server.start()
        try:
            yield f"{server.base_url}/?token={server.token}"
        finally:
            server.stop()


@contextmanager
def jupyterlab_backend(tuned: bool) -> Iterator[big_outputs.Driver]:
    """Jupyter Server with JupyterLab, with a notebook for each workload; at its defaults, or
    with the IOPub rate limits off (``tuned``)."""
    with tempfile.TemporaryDirectory() as workdir:
        notebook = {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
            "cells": [
                {
                    "id": "c0",
                    "cell_type": "code",
                    "metadata": {},
                    "source": "",
                    "execution_count": None,
                    "outputs": [],
                }
            ],
        }
        for workload in big_outputs.WORKLOADS:
            path = Path(workdir) / big_outputs.notebook_name(workload)
            path.write_text(json.dumps(notebook))
        server = JupyterServer(Path(workdir), tuned=tuned)
        server.start()
        try:
            name = "JupyterLab, tuned" if tuned else "JupyterLab"
            yield big_outputs.jupyterlab_driver(name, server.base_url, server.token)
        finally:
            server.stop()


def bundle_size() -> int:
    return sum(
        len(gzip.compress((STATIC / name).read_bytes(), 9)) for name in ["app.js", "app.css"]
    )


def first_paint(browser: Any, url: str, runs: int) -> tuple[float, float]:
    paints, ready = [], []
    for _ in range(runs):
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector(".cell .cm-content")
        page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0")
        paints.append(
            page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
        )
        ready.append(page.evaluate("performance.getEntriesByName('cellhub:ready')[0].startTime"))
        context.close()
    return statistics.median(paints), statistics.median(ready)


def notebook_with(cells: int) -> dict[str, Any]:
    source = "\n".join(f"def f{i}(x):\n    return [x ** {i} for _ in range(10)]" for i in range(4))
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {
                "id": f"c{i}",
                "cell_type": "code",
                "metadata": {},
                "source": source,
                "execution_count": i + 1,
                "outputs": [{"output_type": "stream", "name": "stdout", "text": f"cell {i}\n"}],
            }
            for i in range(cells)
        ],
    }


MEASURE_KEYS = """() => {
  window.__latencies = [];
  document.addEventListener('keydown', () => {
    const start = performance.now();
    const done = () => window.__latencies.push(performance.now() - start);
    requestAnimationFrame(() => setTimeout(done));
  }, true);
}"""


def keystroke_latency(page: Page, cells: int, keys: int) -> tuple[float, float, int]:
    path = Path(tempfile.mkdtemp()) / "many.ipynb"
    path.write_text(json.dumps(notebook_with(cells)))
    page.locator("input[type=file]").set_input_files(str(path))
    page.wait_for_function(f"document.querySelectorAll('section.cell').length === {cells}")
    target = page.locator("section.cell").nth(cells // 2).locator(".cm-content")
    target.scroll_into_view_if_needed()
    target.click()
    page.keyboard.press("ControlOrMeta+End")
    page.evaluate(MEASURE_KEYS)
    for i in range(keys):
        page.keyboard.press("Enter" if i % 20 == 19 else "abcdefghij"[i % 10])
        page.wait_for_timeout(15)
    page.wait_for_timeout(300)
    latencies: list[float] = page.evaluate("window.__latencies")
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.95) - 1], len(latencies)


STREAM_CODE = "for i in range({lines}):\n    print(i)"

WATCH_FRAMES = """() => {
  window.__gaps = [];
  let last = performance.now();
  const tick = (now) => { window.__gaps.push(now - last); last = now;
                          if (!window.__stopFrames) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""


def streaming_responsiveness(page: Page, lines: int) -> tuple[float, float, float, str]:
    """Runs a cell printing `lines` lines; returns frame-gap median/p99/max and the last line."""
    editor = page.locator("section.cell").first.locator(".cm-content")
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(STREAM_CODE.format(lines=lines))
    page.evaluate(WATCH_FRAMES)
    started = time.monotonic()
    page.keyboard.press("Control+Enter")
    first = page.locator("section.cell").first
    page.wait_for_function(
        "(cell) => cell.dataset.runState === 'idle' && /\\[\\d+\\]/.test(cell.textContent)",
        arg=first.element_handle(),
        timeout=600_000,
    )
    elapsed = time.monotonic() - started
    page.evaluate("window.__stopFrames = true")
    gaps: list[float] = sorted(page.evaluate("window.__gaps"))
    tail = first.locator(".stream-text").last.inner_text().rstrip().rsplit("\n", 1)[-1]
    print(f"  streamed {lines:,} lines in {elapsed:.1f} s")
    return statistics.median(gaps), gaps[int(len(gaps) * 0.99) - 1], gaps[-1], tail


def page_figures(browser: Any, url: str, args: argparse.Namespace) -> None:
    """First paint, keystroke latency and frame gaps while streaming, in cellhub."""
    paint, ready = first_paint(browser, url, args.runs)
    print(f"first contentful paint of /: median {paint:.0f} ms (budget {FIRST_PAINT_BUDGET_MS} ms)")
    print(f"worksheet ready to type: median {ready:.0f} ms")
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector(".cell .cm-content")
    median, p95, count = keystroke_latency(page, args.cells, args.keys)
    print(
        f"keystroke to next frame, {args.cells} cells: median {median:.1f} ms, "
        f"p95 {p95:.1f} ms over {count} keys (budget {KEYSTROKE_BUDGET_MS} ms)"
    )
    context.close()
    if args.stream_lines:
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector('.kernel-state[data-state="idle"]', timeout=60_000)
        median_gap, p99_gap, max_gap, tail = streaming_responsiveness(page, args.stream_lines)
        print(
            f"frame gaps while streaming {args.stream_lines:,} lines:"
            f" median {median_gap:.1f} ms,"
            f" p99 {p99_gap:.1f} ms, max {max_gap:.0f} ms; last line shown: {tail}"
        )
        context.close()


def big_output_figures(browser: Any, url: str, timeout_s: float) -> None:
    """bench/big_outputs.py in cellhub, then in JupyterLab (defaults, tuned) if installed."""
    print(f"big outputs (frame target {BIG_OUTPUT_FRAME_BUDGET_MS} ms after arrival):")
    big_outputs.run_all(browser, [big_outputs.cellhub_driver(url)], timeout_s)
    if importlib.util.find_spec("jupyterlab") is None:
        print("  JupyterLab: not installed (pip install -e '.[bench]')")
        return
    for tuned in (False, True):
        with jupyterlab_backend(tuned) as driver:
            big_outputs.run_all(browser, [driver], timeout_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--stream-lines", type=int, default=10**6)
    parser.add_argument("--only-big-outputs", action="store_true")
    parser.add_argument("--big-output-timeout", type=float, default=300.0, help="seconds")
    args = parser.parse_args()

    size = bundle_size()
    print(
        f"bundle (app.js + app.css, gzip -9): {size / 1024:.1f} KB"
        f" (budget {BUNDLE_BUDGET // 1024} KB)"
    )
    with cellhub_backend() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        if not args.only_big_outputs:
            page_figures(browser, url, args)
        big_output_figures(browser, url, args.big_output_timeout)
        browser.close()


if __name__ == "__main__":
    main()
