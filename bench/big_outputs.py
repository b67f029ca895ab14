"""Big outputs in the browser: does the page survive 10**5 printed lines, or one 20 MB line?

For each workload, in cellhub's worksheet and (when it is installed) in JupyterLab — at its
defaults, whose IOPub rate limit stops the 20 MB line, and with the limits off — the same
cell is run in Chromium and the page itself records:

- the time from Shift/Ctrl+Enter until the cell is done (its prompt shows a number),
- the longest gap between animation frames from then until two seconds later (a frozen
  page shows as one long gap; the target is 200 ms), and from Ctrl+Enter on (while the
  output streams in: when a UI renders it shows here, whenever its prompt changes),
- the longest frame gap while the output is scrolled with the mouse wheel,
- how many characters of the output the DOM holds.

A workload that does not finish in ``timeout_s`` (the page hung) is reported as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

WORKLOADS = {
    "10**5 lines": "for i in range(10**5):\n    print(i)",
    "one 20 MB line": "print('x' * 20_000_000)",
}
SETTLE_MS = 2_000
SCROLL_STEPS = 20

WATCH = """() => {
  const state = { frames: [], arrived: null, started: performance.now(), stop: false };
  window.__big = state;
  const tick = (now) => { state.frames.push(now); if (!state.stop) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const poll = setInterval(() => {
    if (DONE) { state.arrived = performance.now(); clearInterval(poll); }
  }, 20);
}"""

LONGEST_GAP_AFTER = """(since) => {
  const frames = window.__big.frames;
  let longest = 0;
  for (let i = 1; i < frames.length; i++) {
    if (frames[i] > since) longest = Math.max(longest, frames[i] - frames[i - 1]);
  }
  return longest;
}"""


@dataclass
class Driver:
    """How to run a cell and read its output in one UI."""

    name: str
    open: Callable[[Page, str], None]  # opens the UI for one workload
    type_code: Callable[[Page, str], None]
    run_key: str
    done: str  # a JS expression, true once the cell has finished
    output: str  # a CSS selector of the cell's output area


@dataclass
class BigOutputFigure:
    ui: str
    workload: str
    seconds: float | None
    frame_while_ms: float
    frame_after_ms: float
    scroll_frame_ms: float
    dom_chars: int

    def line(self) -> str:
        took = "did not finish" if self.seconds is None else f"done in {self.seconds:.1f} s"
        return (
            f"{self.ui:16} {self.workload:15} {took}; longest frame from the start:"
            f" {self.frame_while_ms:.0f} ms, after: "
            f"{self.frame_after_ms:.0f} ms; while scrolling: {self.scroll_frame_ms:.0f} ms;"
            f" DOM holds {self.dom_chars:,} characters"
        )


def measure(page: Page, driver: Driver, workload: str, timeout_s: float) -> BigOutputFigure:
    """Runs one workload in a freshly opened page of `driver`'s UI."""
    driver.open(page, workload)
    driver.type_code(page, WORKLOADS[workload])
    page.evaluate(WATCH.replace("DONE", driver.done))
    page.keyboard.press(driver.run_key)
    try:
        page.wait_for_function(
            "() => window.__big.arrived !== null", timeout=timeout_s * 1000, polling=200
        )
    except PlaywrightTimeout:  # the page hung, which is the figure
        nan = float("nan")
        return BigOutputFigure(driver.name, workload, None, nan, nan, nan, 0)
    arrived: float = page.evaluate("window.__big.arrived")
    started: float = page.evaluate("window.__big.started")
    page.wait_for_timeout(SETTLE_MS)
    after: float = page.evaluate(LONGEST_GAP_AFTER, arrived)
    since_start: float = page.evaluate(LONGEST_GAP_AFTER, started)
    output = page.locator(driver.output).first
    dom_chars: int = output.evaluate("(element) => element.textContent.length")
    box = output.bounding_box() or {"x": 10, "y": 10, "width": 10, "height": 10}
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + min(box["height"] / 2, 200))
    scroll_from: float = page.evaluate("performance.now()")
    for step in range(SCROLL_STEPS):
        page.mouse.wheel(0, -300 if step < SCROLL_STEPS // 2 else 300)
        page.wait_for_timeout(50)
    page.wait_for_timeout(300)
    scrolling: float = page.evaluate(LONGEST_GAP_AFTER, scroll_from)
    page.evaluate("window.__big.stop = true")
    seconds = (arrived - started) / 1000
    return BigOutputFigure(driver.name, workload, seconds, since_start, after, scrolling, dom_chars)


def cellhub_driver(url: str) -> Driver:
    def open_page(page: Page, workload: str) -> None:
        page.goto(url)
        page.wait_for_selector('.kernel-state[data-state="idle"]', timeout=60_000)

    def type_code(page: Page, code: str) -> None:
        page.locator("section.cell").first.locator(".cm-content").click()
        page.keyboard.press("ControlOrMeta+a")
        page.keyboard.insert_text(code)

    first = "document.querySelector('section.cell')"
    return Driver(
        "cellhub",
        open_page,
        type_code,
        "Control+Enter",
        f"{first}.dataset.runState === 'idle' && /\\[\\d+\\]/.test({first}.textContent)",
        "section.cell .outputs",
    )


def notebook_name(workload: str) -> str:
    """Each workload runs in a notebook (and so a kernel) of its own in JupyterLab."""
    return f"big-{list(WORKLOADS).index(workload)}.ipynb"


def jupyterlab_driver(name: str, base_url: str, token: str) -> Driver:
    """JupyterLab on notebooks that exist (notebook_name) with one code cell."""

    def type_code(page: Page, code: str) -> None:
        page.locator(".jp-Notebook .jp-Cell .cm-content").first.click()
        page.keyboard.press("ControlOrMeta+a")
        page.keyboard.insert_text(code)

    def open_page(page: Page, workload: str) -> None:
        """Opens the notebook and runs `1` first, so the kernel is up before the workload."""
        page.goto(f"{base_url}/lab/tree/{notebook_name(workload)}?token={token}&reset")
        page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content", timeout=120_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
        type_code(page, "1")
        page.keyboard.press("Control+Enter")
        page.wait_for_function(f"/\\[1\\]/.test({prompt}.textContent)", timeout=120_000)

    prompt = "document.querySelector('.jp-Notebook .jp-Cell .jp-InputPrompt')"
    return Driver(
        name,
        open_page,
        type_code,
        "Control+Enter",
        f"/\\[2\\]/.test({prompt}.textContent)",
        ".jp-Notebook .jp-Cell .jp-OutputArea",
    )


def run_all(browser: Any, drivers: list[Driver], timeout_s: float) -> list[BigOutputFigure]:
    figures = []
    for driver in drivers:
        for workload in WORKLOADS:
            context = browser.new_context(viewport={"width": 1100, "height": 900})
            figure = measure(context.new_page(), driver, workload, timeout_s)
            print(" ", figure.line())
            figures.append(figure)
            context.close()
    return figures
