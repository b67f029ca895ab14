"""embed.js on a third-party page (another origin): live cells, linked kernels, no clashes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ThirdPartySite
from tests.conftest import RunningHub, start_cellhub

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>A course page</title>
<style>div { color: red; font-size: 40px; } button { display: none !important; }</style>
<script>
  window.jQuery = window.$ = function () { return "the page's jQuery"; };
  window.MathJax = { version: "the page's MathJax" };
  window.globalsBefore = Object.keys(window);
</script>
</head><body>
<h1>Variables carry over between linked cells</h1>
<div class="cellhub" data-cellhub-kernel="lesson">
  x = 21
</div>
<p>Some prose between the cells.</p>
<div class="cellhub" data-cellhub-kernel="lesson"><script type="text/x-python">
if x < 100:
    print(x * 2)
</script></div>
<div class="cellhub" data-cellhub-autorun data-cellhub-read-only>print("auto", 1 + 1)</div>
<div class="cellhub" data-cellhub-hide-editor data-cellhub-autorun>print("hidden editor")</div>
<script src="HUB/static/embed.js"></script>
<script src="HUB/static/embed.js"></script>
</body></html>
"""


@pytest.fixture(scope="module")
def public_hub(
    site: ThirdPartySite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    env = {
        "CELLHUB_ALLOW_ANONYMOUS": "true",
        "CELLHUB_CORS_ORIGINS": site.origin,
        "CELLHUB_ANONYMOUS_KERNELS_PER_CLIENT": "8",
        "CELLHUB_DATA_ORIGINS": site.origin,  # for test_embed_data.py
    }
    server = start_cellhub(tmp_path_factory.mktemp("public"), env=env)
    yield server
    server.stop()


def open_page(context: Any, site: ThirdPartySite, html: str) -> tuple[Any, list[str]]:
    """Serve ``html`` as the third-party site's page and open it; also return its errors."""
    site.page = html
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site.origin + "/")
    return page, errors


def test_linked_cells_on_a_third_party_page(
    context: Any, site: ThirdPartySite, public_hub: RunningHub
) -> None:
    page, errors = open_page(context, site, PAGE.replace("HUB/", public_hub.url))
    cells = page.locator("div.cellhub")
    expect(cells).to_have_count(4)
    for index in range(4):
        expect(cells.nth(index).locator(".cellhub-cell")).to_have_count(1)

    first, second = cells.nth(0), cells.nth(1)
    expect(first.locator(".cm-content")).to_have_text("x = 21")
    expect(second.locator(".cm-content")).to_contain_text("if x < 100:")
    run = first.locator("button.cellhub-run")
    expect(run).to_be_visible()  # the page's `button {display: none}` does not reach in
    run.click()
    expect(first).to_have_attribute("data-cellhub-state", "idle", timeout=60_000)
    second.locator("button.cellhub-run").click()
    expect(second.locator(".outputs")).to_contain_text("42", timeout=60_000)

    expect(cells.nth(2).locator(".outputs")).to_contain_text("auto 2", timeout=60_000)
    assert cells.nth(2).locator(".cm-content").get_attribute("contenteditable") == "false"
    expect(cells.nth(3).locator(".outputs")).to_contain_text("hidden editor", timeout=60_000)
    expect(cells.nth(3).locator(".editor")).to_be_hidden()

    added = page.evaluate("Object.keys(window).filter((k) => !window.globalsBefore.includes(k))")
    assert added == ["globalsBefore", "cellhub"]  # the page's own, and ours
    assert page.evaluate("window.$()") == "the page's jQuery"
    assert page.evaluate("window.MathJax.version") == "the page's MathJax"
    assert page.evaluate("window.cellhub.cells.length") == 4
    assert errors == []


def test_origins_not_configured_get_no_kernel(
    context: Any, public_hub: RunningHub, tmp_path: Path
) -> None:
    other = ThirdPartySite()
    try:
        other.page = '<div class="cellhub" data-cellhub-autorun>1</div>' + (
            f'<script src="{public_hub.url}static/embed.js"></script>'
        )
        page = context.new_page()
        page.goto(other.origin + "/")
        expect(page.locator(".cellhub-status")).to_have_text("Kernel stopped", timeout=30_000)
        message = page.locator(".cellhub-message")
        expect(message).to_contain_text(f'add "{other.origin}" to the cellhub\'s cors_origins')
    finally:
        other.close()


WIDGETS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Widgets on a course page</title>
<script>window.globalsBefore = Object.keys(window);</script>
</head><body>
<div class="cellhub" data-cellhub-autorun><script type="text/x-python">
from ipywidgets import interact
interact(lambda x: print(x * 2), x=(0, 10))
</script></div>
<div class="cellhub" data-cellhub-autorun><script type="text/x-python">
@interact
def shout(n=(1, 9)):
    print("n is", n)
</script></div>
<script src="HUB/static/embed.js"></script>
</body></html>
"""


def slide(page: Any, handle: Any, steps: int) -> None:
    """Moves a slider with the arrow keys, as a keyboard user does."""
    handle.focus()
    for _ in range(steps):
        page.keyboard.press("ArrowRight")


def test_interact_in_cells_with_their_own_kernels(
    context: Any, site: ThirdPartySite, public_hub: RunningHub
) -> None:
    page, errors = open_page(context, site, WIDGETS_PAGE.replace("HUB/", public_hub.url))
    doubled, shouted = page.locator("div.cellhub").nth(0), page.locator("div.cellhub").nth(1)

    x = doubled.get_by_role("slider", name="x", exact=True)
    expect(x).to_have_attribute("aria-valuenow", re.compile(r"^5(\.0)?$"), timeout=60_000)
    printed = doubled.locator(".widget-output .stream-text")
    expect(printed).to_have_text("10")
    n = shouted.get_by_role("slider", name="n", exact=True)
    # Sage's interact starts a range at its lower end.
    expect(n).to_have_attribute("aria-valuenow", re.compile(r"^1(\.0)?$"), timeout=60_000)
    expect(shouted.locator(".widget-output .stream-text")).to_have_text("n is 1")

    slide(page, x, 3)
    expect(printed).to_have_text("16")
    slide(page, n, 2)
    expect(shouted.locator(".widget-output .stream-text")).to_have_text("n is 3")
    expect(printed).to_have_text("16")  # each kernel drives only its own widgets
    # The printed value lives in interact's Output widget, not beside it in the cell.
    expect(doubled.locator(".cellhub-cell > .outputs > .output.stream")).to_have_count(0)

    # widgets.css applies inside each cell's shadow root, and never to the page itself.
    margin = "(e) => getComputedStyle(e).getPropertyValue('--jp-widgets-margin').trim()"
    for cell in (doubled, shouted):
        track = cell.locator(".noUi-target").first
        assert track.evaluate("(e) => getComputedStyle(e).position") == "relative"
        assert track.evaluate(margin) == "2px"
    assert page.locator("body").evaluate(margin) == ""
    assert page.locator("head link, head style").count() == 0
    added = page.evaluate("Object.keys(window).filter((k) => !window.globalsBefore.includes(k))")
    assert added == ["globalsBefore", "cellhub"]
    assert errors == []


COMPLETION_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Completion</title></head><body>
<div class="cellhub">pri</div>
<script src="HUB/static/embed.js"></script>
</body></html>
"""


def test_tab_completes_and_shift_tab_documents_from_the_cells_kernel(
    context: Any, site: ThirdPartySite, public_hub: RunningHub
) -> None:
    page, errors = open_page(context, site, COMPLETION_PAGE.replace("HUB/", public_hub.url))
    cell = page.locator("div.cellhub")
    editor = cell.locator(".cm-content")
    expect(editor).to_have_text("pri")
    editor.click()
    page.keyboard.press("End")
    # No cell has run: Tab starts the kernel, and the completions come once it is up.
    page.keyboard.press("Tab")
    options = cell.locator(".cm-tooltip-autocomplete li")
    expect(options.filter(has_text=re.compile(r"^print$"))).to_have_count(1, timeout=60_000)
    page.keyboard.press("Tab")  # accepts the selected completion, as in the worksheet
    expect(editor).to_have_text(re.compile(r"^print"))
    expect(cell.locator(".cellhub-status")).to_have_attribute("data-state", "idle")
    page.keyboard.press("Shift+Tab")  # the kernel's documentation of the name
    expect(cell.locator(".inspect-tooltip")).to_contain_text("Prints the values")
    assert errors == []
