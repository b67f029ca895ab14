"""Sage in a real Chromium: the kernel choice, typeset math, plots, 3-D plots, @interact, a
cell's language (GP, Python, …), links with a language, and embedded Sage cells (tests/sage has
the kernel's own tests)."""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, expect

from tests.browser.conftest import ThirdPartySite, UiServer, open_worksheet
from tests.browser.test_embed import open_page
from tests.browser.worksheet_page import WorksheetPage
from tests.conftest import start_cellhub
from tests.sage.conftest import SAGE_AND_PYTHON, require_sage


@pytest.fixture(scope="module")
def sage_ui(site: ThirdPartySite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    """A cellhub offering Sage, whose kernels the third-party site may embed."""
    require_sage()
    public = {"CELLHUB_ALLOW_ANONYMOUS": "true", "CELLHUB_CORS_ORIGINS": site.origin}
    env = {**SAGE_AND_PYTHON, **public}
    server = start_cellhub(tmp_path_factory.mktemp("sage-ui"), env=env)
    yield UiServer(server.url, server.token)
    server.stop()


def sage_sheet(context: Any, server: UiServer) -> WorksheetPage:
    """The worksheet, its kernel switched to Sage with the kernel choice."""
    sheet = WorksheetPage(open_worksheet(context, server))
    sheet.page.get_by_role("combobox", name="Kernel").select_option(label="SageMath (cellhub)")
    sheet.kernel_state("idle")
    return sheet


def test_the_kernel_choice_gives_sage_with_typeset_math_and_plots(
    context: Any, sage_ui: UiServer
) -> None:
    sheet = sage_sheet(context, sage_ui)
    outputs = sheet.run_and_wait(
        0, "show(integrate(x^2 * sin(x), x))\nshow(QQ['t'])\nplot(sin(x), (x, 0, pi))"
    )
    expect(outputs.locator(".latex-output .katex")).to_have_count(2)
    expect(outputs.locator(".katex-error")).to_have_count(0)  # Sage's \Bold, defined inline
    expect(outputs.locator("img.image-output")).to_have_count(1)
    sheet.page.reload()
    sheet.kernel_state("idle")
    expect(sheet.page.get_by_role("combobox", name="Kernel")).to_have_value("sage")
    expect(sheet.run_and_wait(0, "2^10")).to_contain_text("1024")


def test_a_sage_interact_slider_driven_from_the_keyboard(context: Any, sage_ui: UiServer) -> None:
    sheet = sage_sheet(context, sage_ui)
    sheet.run_and_wait(0, "@interact\ndef f(n=(1, 10)):\n    print(n, n.is_prime())")
    expect(sheet.widget_text(0)).to_have_text("1 False")
    sheet.slide(0, "n", 2)
    expect(sheet.widget_text(0)).to_have_text("3 True")


def test_a_cell_in_gp_and_one_in_python_beside_sage(context: Any, sage_ui: UiServer) -> None:
    """Sage Cell's language per cell: the code is GP's (or plain Python), not Sage's; the
    choice shows under the prompt and stays across a reload, the code without its magic."""
    sheet = sage_sheet(context, sage_ui)
    language = sheet.cell(0).get_by_role("combobox", name="Cell language")
    language.select_option(label="GP")
    outputs = sheet.run_and_wait(0, "factor(2^64 + 1)")
    # GP's matrix of factors and exponents, its columns aligned
    expect(outputs).to_have_text(re.compile(r"\[\s*274177 1\]\s*\[67280421310721 1\]"))
    expect(sheet.cell(0).locator(".language-tag")).to_have_text("GP")
    sheet.add_cell()
    sheet.cell(1).get_by_role("combobox", name="Cell language").select_option(label="Python")
    expect(sheet.run_and_wait(1, "2^3, 1/2")).to_contain_text("(1, 0.5)")
    sheet.page.reload()
    sheet.kernel_state("idle")
    expect(sheet.cell(0).get_by_role("combobox", name="Cell language")).to_have_value("gp")
    assert sheet.sources()[0] == "factor(2^64 + 1)"
    expect(sheet.run_and_wait(0, "nextprime(2^64)")).to_contain_text("18446744073709551629")
    sheet.page.once("dialog", lambda dialog: dialog.accept())  # "Restart the kernel?"
    sheet.page.get_by_role("combobox", name="Kernel").select_option(value="python3")
    expect(sheet.cell(0).get_by_role("combobox", name="Cell language")).to_be_hidden()


@pytest.mark.parametrize(
    ("code", "lang", "answer"),
    [(b"factor(2^64 + 1)", "sage", "274177 * 67280421310721"), (b"isprime(2^61 - 1)", "gp", "1")],
)
def test_a_link_with_lang_opens_a_sage_kernel(
    context: Any, sage_ui: UiServer, code: bytes, lang: str, answer: str
) -> None:
    """``lang=sage`` as Sage Cell's links give it; ``lang=gp``: GP in a Sage cell."""
    z = base64.urlsafe_b64encode(zlib.compress(code)).decode().rstrip("=")
    page = context.new_page()
    page.goto(f"{sage_ui.url}?token={sage_ui.token}#z={z}&lang={lang}&run=1")
    expect(WorksheetPage(page).outputs(0)).to_have_text(re.compile(re.escape(answer)))


def test_an_embedded_sage_cell(context: Any, site: ThirdPartySite, sage_ui: UiServer) -> None:
    html = (
        '<div class="cellhub" data-lang="sage" data-cellhub-kernel="a" data-cellhub-autorun>'
        "1/2 + 1/3</div>"
        '<div class="cellhub" data-cellhub-autorun><script type="text/x-sage">\n'
        "[p for p in [1..20] if is_prime(p)]\n</script></div>"
        # GP in a Sage kernel, the first cell's (anonymous pages may have two kernels)
        '<div class="cellhub" data-lang="gp" data-cellhub-kernel="a" data-cellhub-autorun>'
        "primes(8)</div>"
        f'<script src="{sage_ui.url}static/embed.js"></script>'
    )
    page, errors = open_page(context, site, html)
    cells = page.locator("div.cellhub")
    expect(cells.nth(0).locator(".outputs")).to_have_text(re.compile(r"5/6"), timeout=60_000)
    expect(cells.nth(1).locator(".outputs")).to_contain_text("[2, 3, 5, 7, 11, 13, 17, 19]")
    expect(cells.nth(2).locator(".outputs")).to_contain_text("[2, 3, 5, 7, 11, 13, 17, 19]")
    assert errors == []


#: Run in a 3-D plot's frame: the share of the WebGL canvas's pixels that are coloured (the
#: surface, lit; the background is white and the frame's box and labels grey), once three.js
#: has drawn; false before. Sage's renderer keeps its drawing buffer, so it can be read back.
SCENE_DRAWN = """() => {
  const canvas = document.querySelector("body > canvas");
  if (typeof THREE !== "object" || !canvas || !canvas.width || !canvas.height) return false;
  const copy = document.createElement("canvas");
  copy.width = canvas.width;
  copy.height = canvas.height;
  const context = copy.getContext("2d");
  context.drawImage(canvas, 0, 0);
  const pixels = context.getImageData(0, 0, copy.width, copy.height).data;
  let coloured = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const [r, g, b] = [pixels[i], pixels[i + 1], pixels[i + 2]];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
  }
  const share = coloured / (pixels.length / 4);
  return share > 0.02 && share;
}"""


#: Run in a frame: the addresses its document loaded anything from (Resource Timing).
LOADED = "() => performance.getEntriesByType('resource').map((entry) => entry.name)"


class Traffic:
    """Every request the context's pages make, and what went wrong: failed requests, error
    responses, console errors (a script or frame refused by a policy says so there)."""

    def __init__(self, context: Any) -> None:
        self.urls: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        context.on("request", lambda request: self.urls.append(request.url))
        context.on("requestfailed", lambda request: self.failed.append(request.url))
        context.on("response", self.response)

    def response(self, response: Any) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")

    def console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def watch(self, page: Any) -> None:
        page.on("console", self.console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def assert_local_and_clean(self) -> None:
        hosts = {urlsplit(url).hostname for url in self.urls if url.startswith("http")}
        assert hosts == {"127.0.0.1"}, self.urls
        assert self.failed == [] and self.errors == []


def assert_scenes_drawn(outputs: Locator, count: int, hub_url: str) -> None:
    """``count`` three.js scenes, each in Sage's frame inside the sandboxed output frame,
    with three.js loaded from ``hub_url`` (the global THREE) and the surface drawn on a WebGL
    canvas."""
    frames = outputs.locator("iframe.html-output")
    expect(frames).to_have_count(count, timeout=60_000)  # an embedded cell starts its kernel
    for index in range(count):
        scene = frames.nth(index).content_frame.locator("iframe").content_frame
        canvas = scene.locator("body > canvas")
        expect(canvas).to_be_visible(timeout=30_000)
        frame = canvas.element_handle().owner_frame()
        assert frame is not None, "the canvas is in Sage's frame"
        assert frame.evaluate("() => origin") == "null"  # an opaque origin: not the hub's
        assert frame.wait_for_function(SCENE_DRAWN, timeout=30_000).json_value() > 0.02
        # What the scene's document loaded, as it saw it (Playwright does not report the
        # requests of an embedded cell's nested srcdoc frames): the hub's three.js alone.
        loaded = frame.evaluate(LOADED)
        assert len(loaded) == 1 and loaded[0].startswith(f"{hub_url}static/threejs/"), loaded
        box = canvas.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 300


def test_3d_plots_are_drawn_with_the_hubs_three_js(context: Any, sage_ui: UiServer) -> None:
    traffic = Traffic(context)
    sheet = sage_sheet(context, sage_ui)
    traffic.watch(sheet.page)
    code = "var('y')\nshow(plot3d(sin(x*y), (x, -2, 2), (y, -2, 2)))\nshow(sphere())"
    assert_scenes_drawn(sheet.run_and_wait(0, code), 2, sage_ui.url)
    traffic.assert_local_and_clean()


def test_an_embedded_3d_plot(context: Any, site: ThirdPartySite, sage_ui: UiServer) -> None:
    """The cell's output frame is a srcdoc frame of the third-party page: its ``<base>`` sends
    the plot's relative address of three.js to the hub, not to the page's own site."""
    traffic = Traffic(context)
    html = (
        '<div class="cellhub" data-cellhub-autorun><script type="text/x-sage">\n'
        "var('y')\nplot3d(sin(x*y), (x, -2, 2), (y, -2, 2))\n</script></div>"
        f'<script src="{sage_ui.url}static/embed.js"></script>'
    )
    page, errors = open_page(context, site, html)
    traffic.watch(page)
    assert_scenes_drawn(page.locator("div.cellhub .outputs"), 1, sage_ui.url)
    traffic.assert_local_and_clean()
    assert errors == []
