"""Benchmark: a slider under ``interact`` moved → the updated matplotlib plot on screen.

Each move is one ArrowRight on the slider's handle; the time runs from that keydown to the
first frame painted after the new plot image has been decoded. Also reports the gzipped size
of the page bundle and of the lazily loaded widget bundle. Not a test; prints medians.

    python -m bench.ui_widgets_bench            # against `cellhub serve`
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time

from playwright.sync_api import Page, sync_playwright

from bench.ui_bench import CHROMIUM_ARGS, STATIC, cellhub_backend

SLIDER_TO_PLOT_BUDGET_MS = 150
BUNDLE_BUDGET_KB = 500

PLOT_CODE = """\
import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import interact
xs = np.linspace(0, 2 * np.pi, 400)
@interact(k=(1, 100))
def plot(k=1):
    plt.figure(figsize=(5, 3))
    plt.plot(xs, np.sin(k * xs / 10))
    plt.show()
"""

WATCH_PLOT = """(area) => {
  const bench = (window.__bench = { start: 0, lastSrc: null, latencies: [] });
  document.addEventListener('keydown', () => { bench.start = performance.now(); }, true);
  const check = () => {
    const img = area.querySelector('img.image-output');
    if (!img || img.src === bench.lastSrc) return;
    bench.lastSrc = img.src;
    const start = bench.start;
    if (!start) return;
    img.decode().then(() => requestAnimationFrame(() => setTimeout(() => {
      bench.latencies.push(performance.now() - start);
    })));
  };
  check();
  new MutationObserver(check).observe(area, { subtree: true, childList: true, attributes: true });
}"""


def bundle_sizes() -> dict[str, float]:
    return {
        name: len(gzip.compress((STATIC / name).read_bytes(), 9)) / 1024
        for name in ["app.js", "app.css", "widgets.js", "widgets.css"]
    }


def slider_to_plot(page: Page, moves: int, setup: str = "") -> list[float]:
    cell = page.locator("section.cell").first
    cell.locator(".cm-content").click()
    page.keyboard.insert_text(setup + PLOT_CODE)
    page.keyboard.press("Control+Enter")
    area = cell.locator(".cell-body > .outputs .widget-output").first
    area.locator("img.image-output").wait_for(timeout=60_000)
    page.evaluate(WATCH_PLOT, area.element_handle())
    handle = cell.get_by_role("slider", name="k")
    handle.focus()
    for move in range(moves):
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"window.__bench.latencies.length > {move}", timeout=30_000)
        time.sleep(0.1)
    latencies: list[float] = page.evaluate("window.__bench.latencies")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument(
        "--setup",
        default="",
        help="code run before the plot, e.g. \"%%config InlineBackend.figure_formats = ['png']\"",
    )
    args = parser.parse_args()

    sizes = bundle_sizes()
    page_total = sizes["app.js"] + sizes["app.css"]
    print(
        "bundle, gzip -9: "
        + ", ".join(f"{name} {size:.1f} KB" for name, size in sizes.items())
        + f"; first paint loads {page_total:.1f} KB, all {sum(sizes.values()):.1f} KB"
        + f" (budget {BUNDLE_BUDGET_KB} KB)"
    )
    with cellhub_backend() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector('.kernel-state[data-state="idle"]', timeout=60_000)
            latencies = slider_to_plot(page, args.moves, f"{args.setup}\n" if args.setup else "")
        finally:
            browser.close()
    latencies.sort()
    median = statistics.median(latencies)
    print(
        f"slider moved → updated matplotlib plot painted: median {median:.0f} ms,"
        f" min {latencies[0]:.0f} ms, max {latencies[-1]:.0f} ms over {len(latencies)} moves"
        f" (budget {SLIDER_TO_PLOT_BUDGET_MS} ms)"
    )


if __name__ == "__main__":
    main()
