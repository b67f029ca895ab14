"""Screenshots of cellhub's worksheet beside JupyterLab's notebook, running the same cells.

    python -m bench.screenshots --out DIR

Starts ``cellhub serve`` and Jupyter Server with JupyterLab (``bench/servers.py``) on
ephemeral 127.0.0.1 ports, opens the same notebook (``CELLS``: a print, a traceback, a
matplotlib plot, a DataFrame, a cell still running, a cell with the focus) in Debian's
Chromium, runs the cells with Shift+Enter as a person would, and writes, for each colour
scheme (light, dark) and width (375 px, 1280 px):

- ``DIR/cellhub-{scheme}-{width}.png`` and ``DIR/jupyterlab-{scheme}-{width}.png``,
- ``DIR/side-by-side-{scheme}-{width}.png``: cellhub left, JupyterLab right.

JupyterLab follows the browser's colour scheme (its adaptive theme) and shows no news or
update notices. Colab cannot be run offline, so it is not among them. Exits non-zero when a
server does not start or a cell does not finish in time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect, sync_playwright

from bench.servers import BenchServer, CellhubServer, JupyterServer
from bench.ui_bench import CHROMIUM_ARGS

CELLS = [
    "print('Hello from a worksheet')",
    "def ratio(counts):\n    return counts['done'] / counts['total']\n\nratio({'done': 3})",
    "import matplotlib.pyplot as plt\n\nplt.figure(figsize=(5, 2.6))\n"
    "plt.plot([1, 3, 2, 4], marker='o')\nplt.title('A small plot')\nplt.show()",
    "import pandas as pd\n\npd.DataFrame({'city': ['Oslo', 'Lima', 'Pune'],"
    " 'temp': [4.5, 19.0, 27.25]})",
    "import time\n\ntime.sleep(120)  # still running in the picture",
    "answer = 42  # this cell has the focus",
]
SCHEMES = ("light", "dark")
WIDTHS = {375: 1700, 1280: 1500}  # viewport width: height, tall enough for every cell
DONE = r"\[\d+\]:"
RUN_TIMEOUT_MS = 90_000
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
JUPYTERLAB_SETTINGS = {
    "apputils-extension/themes": {"adaptive-theme": True},
    "apputils-extension/notification": {"checkForUpdates": False, "fetchNews": "false"},
    "notebook-extension/tracker": {"windowingMode": "none"},
}
SCROLL_TO_TOP = """() => {
  window.scrollTo(0, 0);
  for (const element of document.querySelectorAll('*')) {
    if (element.scrollTop) element.scrollTop = 0;
  }
}"""


@dataclass
class Ui:
    """Where one UI keeps its cells, prompts and editors, and how it opens a notebook."""

    server: BenchServer
    name: str = ""
    cell: str = ""  # CSS selector of one cell
    prompt: str = ""  # within a cell: the execution count, "[*]:" while queued or running
    editor: str = ".cm-content"  # within a cell: the text the caret goes into

    def open(self, page: Page, notebook: Path) -> None:
        raise NotImplementedError

    def settle(self, page: Page) -> None:
        """Before the picture: every scrolled area at its top, transient notices gone."""
        page.evaluate(SCROLL_TO_TOP)
        page.mouse.move(0, 0)  # hovering nothing in the worksheet


@dataclass
class CellhubUi(Ui):
    name: str = "cellhub"
    cell: str = "section.cell"
    prompt: str = ".prompt"

    def open(self, page: Page, notebook: Path) -> None:
        page.goto(f"{self.server.base_url}/?token={self.server.token}")
        page.wait_for_selector('.kernel-state[data-state="idle"]', timeout=RUN_TIMEOUT_MS)
        page.locator("input[type=file]").set_input_files(str(notebook))
        expect(page.locator(self.cell)).to_have_count(len(CELLS))

    def settle(self, page: Page) -> None:
        super().settle(page)
        expect(page.locator(".toast")).to_be_hidden(timeout=10_000)  # "Opened … (6 cells)."


@dataclass
class JupyterLabUi(Ui):
    name: str = "jupyterlab"
    cell: str = ".jp-Notebook .jp-Cell"
    prompt: str = ".jp-InputPrompt"

    def open(self, page: Page, notebook: Path) -> None:
        target = self.server.workdir / notebook.name
        target.write_bytes(notebook.read_bytes())
        workspace = notebook.stem  # a new one each time: no tabs restored from the last shot
        page.goto(
            f"{self.server.base_url}/lab/workspaces/{workspace}/tree/{notebook.name}"
            f"?token={self.server.token}"
        )
        status = page.locator(".jp-StatusBar-Widget").filter(has_text="| Idle")
        status.wait_for(timeout=RUN_TIMEOUT_MS)
        left = page.locator("#jp-left-stack")
        if left.is_visible():
            page.keyboard.press("ControlOrMeta+b")  # the file browser: JupyterLab's, not ours
            expect(left).to_be_hidden()


def write_notebook(path: Path) -> Path:
    cells: list[dict[str, Any]] = [
        {"id": f"c{i}", "cell_type": "code", "metadata": {}, "source": source}
        | {"execution_count": None, "outputs": []}
        for i, source in enumerate(CELLS)
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": kernelspec}}
    path.write_text(json.dumps(notebook | {"cells": cells}))
    return path


def run_cells(ui: Ui, page: Page) -> None:
    """Shift+Enter in each cell but the last; all finish except the one that sleeps, which
    is running when this returns, with the caret in the last cell."""
    cells = page.locator(ui.cell)
    for index in range(len(CELLS) - 1):
        cells.nth(index).locator(ui.editor).click()
        page.keyboard.press("Shift+Enter")
        prompt = cells.nth(index).locator(ui.prompt)
        if index < len(CELLS) - 2:
            expect(prompt).to_have_text(re.compile(DONE), timeout=RUN_TIMEOUT_MS)
        else:
            expect(prompt).to_have_text(re.compile(r"\[\*\]:"), timeout=RUN_TIMEOUT_MS)
    cells.nth(2).locator("img").first.wait_for()
    page.wait_for_timeout(500)  # the plot decoded, the running cell's first frame drawn


def shoot(browser: Any, ui: Ui, scheme: str, width: int, out: Path) -> Path:
    """One screenshot of ``ui`` at ``width`` px in ``scheme``; interrupts the sleeping cell."""
    context = browser.new_context(
        viewport={"width": width, "height": WIDTHS[width]},
        color_scheme=scheme,
        is_mobile=width < 600,
        has_touch=width < 600,
    )
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        notebook = write_notebook(out / f"look-{scheme}-{width}.ipynb")
        ui.open(page, notebook)
        run_cells(ui, page)
        ui.settle(page)
        path = out / f"{ui.name}-{scheme}-{width}.png"
        page.screenshot(path=str(path))
        page.keyboard.press("Escape")
        page.keyboard.press("i")
        page.keyboard.press("i")
        return path
    finally:
        context.close()
        (out / f"look-{scheme}-{width}.ipynb").unlink(missing_ok=True)


def side_by_side(left: Path, right: Path, path: Path) -> None:
    """The two screenshots next to each other, each under a caption with its file's name."""
    images = [Image.open(left).convert("RGB"), Image.open(right).convert("RGB")]
    gap, caption = 16, 28
    width = sum(image.width for image in images) + gap
    height = max(image.height for image in images) + caption
    sheet = Image.new("RGB", (width, height), (128, 128, 128))
    draw = ImageDraw.Draw(sheet)
    x = 0
    for image, source in zip(images, (left, right), strict=True):
        draw.text((x + 8, 8), source.stem, fill=(255, 255, 255))
        sheet.paste(image, (x, caption))
        x += image.width + gap
    sheet.save(path)


def jupyterlab_server(workdir: Path) -> JupyterServer:
    """Jupyter Server with JupyterLab settings of its own (``JUPYTERLAB_SETTINGS``)."""
    server = JupyterServer(workdir)
    settings = workdir / "jupyter-config" / "lab" / "user-settings" / "@jupyterlab"
    for name, values in JUPYTERLAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
    return server


@contextmanager
def started(workdir: Path, names: list[str]) -> Iterator[list[Ui]]:
    """The named UIs (cellhub, jupyterlab), each on a server of its own, stopped after."""
    uis: list[Ui] = []
    try:
        for name in names:
            if name == "cellhub":
                uis.append(CellhubUi(CellhubServer(workdir / name)))
            else:
                uis.append(JupyterLabUi(jupyterlab_server(workdir / name)))
            uis[-1].server.start()
        yield uis
    finally:
        for ui in uis:
            ui.server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    parser.add_argument("--only", choices=["cellhub", "jupyterlab"], help="one UI, no pairs")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    names = [args.only] if args.only else ["cellhub", "jupyterlab"]
    with (
        tempfile.TemporaryDirectory() as workdir,
        started(Path(workdir), names) as uis,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for scheme in SCHEMES:
            for width in WIDTHS:
                shots = [shoot(browser, ui, scheme, width, out) for ui in uis]
                if len(shots) == 2:
                    side_by_side(shots[0], shots[1], out / f"side-by-side-{scheme}-{width}.png")
                print(f"{scheme} {width} px: " + ", ".join(shot.name for shot in shots))
        browser.close()


if __name__ == "__main__":
    main()
