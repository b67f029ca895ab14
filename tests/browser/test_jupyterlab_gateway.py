"""JupyterLab, served by ``jupyter server --gateway-url``, runs a notebook on cellhub's kernels.

The person's path through JupyterLab in Chromium: open a notebook, run a cell, see a
matplotlib plot, move an IntSlider on the page and read its value in the kernel, press Tab
after ``np.`` and pick ``array``, restart the kernel and see no "kernel died" dialog.
Every kernel behind the page is cellhub's (tests/clients/jupyter_gateway.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import nbformat
import pytest

from tests.clients.jupyter_gateway import JupyterGateway, start_jupyter_gateway
from tests.conftest import RunningHub

pytest.importorskip("jupyterlab")

CELLS = [
    "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()",
    "import ipywidgets\nmy_slider = ipywidgets.IntSlider(max=50)\nmy_slider",
    "print('slider at', my_slider.value)",
    "import numpy as np",
    "",
]


@pytest.fixture(scope="module")
def gateway(
    cellhub_server: RunningHub, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JupyterGateway]:
    home = tmp_path_factory.mktemp("jupyterlab")
    server = start_jupyter_gateway(cellhub_server, home)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, home / "root" / "gateway.ipynb")
    yield server
    server.stop()


@pytest.fixture
def lab(context: Any, gateway: JupyterGateway) -> Any:
    page = context.new_page()
    page.goto(f"{gateway.url}lab/tree/gateway.ipynb?token={gateway.token}")
    wait_idle(page)
    return page


def wait_idle(page: Any) -> None:
    """Until the status bar says the connected kernel is idle (the toolbar's circle says
    idle before the kernel has even connected)."""
    page.locator(".jp-StatusBar-Widget").filter(has_text="(cellhub) | Idle").wait_for(
        timeout=60_000
    )


def cell(page: Any, index: int) -> Any:
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def run(page: Any, index: int) -> Any:
    cell(page, index).locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    return cell(page, index).locator(".jp-OutputArea-output")


def test_plot_slider_completion_restart(lab: Any) -> None:
    run(lab, 0).locator("img").wait_for()

    handle = run(lab, 1).locator(".noUi-handle")
    handle.focus()
    for _ in range(3):
        lab.keyboard.press("ArrowRight")
    readout = cell(lab, 1).locator(".widget-readout")
    lab.wait_for_function("e => e.textContent.trim() !== '0'", arg=readout.element_handle())
    moved = readout.inner_text().strip()
    run(lab, 2).filter(has_text=f"slider at {moved}").wait_for()

    run(lab, 3)
    cell(lab, 4).locator(".cm-content").click()
    lab.keyboard.type("np.")
    lab.keyboard.press("Tab")
    lab.locator(".jp-Completer-item[data-value='array']").wait_for()
    lab.keyboard.press("Escape")

    lab.locator(".jp-NotebookPanel-toolbar [data-command='notebook:restart-kernel']").click()
    lab.locator(".jp-Dialog .jp-mod-accept").click()
    wait_idle(lab)
    run(lab, 2).filter(has_text="NameError").wait_for()
    assert lab.locator(".jp-Dialog").count() == 0, lab.locator(".jp-Dialog").inner_text()
