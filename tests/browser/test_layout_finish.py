"""The worksheet's finish, as bench/screenshots.py compares it with JupyterLab's.

On a 375 px phone the page never scrolls sideways, the header's toolbar fits on the screen in
a few short rows and the cell toolbar fits beside the prompt; the cell that has the focus
shows it; a running cell shows a spinner and a coloured bar that go once it is done, and a
queued cell shows that it waits; the light and the dark scheme each apply.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.worksheet_page import WorksheetPage

PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}
PHONES = [pytest.param({"color_scheme": s, **PHONE}, id=s) for s in ("light", "dark")]
DESKTOPS = [pytest.param({"color_scheme": s}, id=s) for s in ("light", "dark")]
WIDE_OUTPUT = (
    "import pandas as pd\n"
    "print('a long line without spaces: ' + 'x' * 300)\n"
    "pd.DataFrame({f'column {i}': range(3) for i in range(12)})"
)
HEADER_MAX_PX = 200  # before the compact toolbar it was 290: more than a third of the screen

BOXES = """(selector) => [...document.querySelectorAll(selector)]
  .filter((el) => el.getClientRects().length > 0)
  .map((el) => { const r = el.getBoundingClientRect();
                 return { name: el.getAttribute('aria-label') || el.textContent.trim(),
                          left: r.left, right: r.right, top: r.top, height: r.height }; })"""
LUMINANCE = """(selector) => {
  const [r, g, b] = getComputedStyle(document.querySelector(selector)).backgroundColor
    .match(/\\d+/g).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}"""


def style(locator: Any, prop: str, pseudo: str | None = None) -> str:
    value: str = locator.evaluate(
        "(el, [prop, pseudo]) => getComputedStyle(el, pseudo).getPropertyValue(prop)",
        [prop, pseudo],
    )
    return value


@pytest.mark.parametrize("context", PHONES, indirect=True)
def test_phone_width_fits_without_sideways_scrolling(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run_and_wait(0, WIDE_OUTPUT)
    sheet.editor(0).click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "no sideways scrolling"

    header = page.locator(".topbar").bounding_box()
    assert header is not None and header["height"] <= HEADER_MAX_PX, header
    buttons = page.evaluate(BOXES, ".topbar button, .topbar summary")
    assert len(buttons) >= 10
    for box in [*buttons, *page.evaluate(BOXES, ".topbar .title, .topbar .kernel-state")]:
        assert box["left"] >= 0 and box["right"] <= 375, f"{box['name']} is cut off: {box}"
    for box in buttons:
        assert 24 <= box["height"] <= 40, f"{box['name']}: a touch target on one line: {box}"

    tools = page.evaluate(BOXES, "section.cell.selected .cell-toolbar > *")
    assert [tool["name"] for tool in tools][:2] == ["Run cell", "Move cell up"]
    editor = sheet.cell(0).locator(".editor").bounding_box()
    assert editor is not None
    for tool in tools:
        assert tool["left"] >= 0 and tool["right"] <= 375, f"{tool['name']} is cut off"
        assert tool["top"] + tool["height"] <= editor["y"] + 2, "the toolbar hides no code"


@pytest.mark.parametrize("context", DESKTOPS, indirect=True)
def test_focus_and_run_state_are_visible(page: Any) -> None:
    sheet = WorksheetPage(page)
    dark = page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    luminance = page.evaluate(LUMINANCE, "body")
    assert luminance < 0.2 if dark else luminance > 0.8, "the colour scheme applies"
    assert page.evaluate(LUMINANCE, ".cell-toolbar") == luminance

    sheet.run(0, "import time\ntime.sleep(3)", key="Alt+Enter")
    sheet.run(1, "'second'")
    running, queued = sheet.cell(0), sheet.cell(1)
    expect(running).to_have_attribute("data-run-state", "running")
    expect(queued).to_have_attribute("data-run-state", "queued")
    running_colour = style(page.locator(":root"), "--running").strip()
    assert style(running, "border-left-color") == hex_to_rgb(running_colour)
    assert style(queued, "border-left-style") == "dashed"
    spinner = running.locator(".prompt")
    assert style(spinner, "content", "::before") != "none", "a spinner beside [*]:"
    sheet.wait_done(0)
    sheet.wait_done(1)
    assert style(spinner, "content", "::before") == "none", "no spinner once done"
    assert style(running, "border-left-color") != hex_to_rgb(running_colour)
    expect(sheet.outputs(1)).to_have_text(re.compile("'second'"))

    # Edit mode: a ring around the editor; command mode (Escape): an outline around the cell.
    editor = sheet.cell(1).locator(".editor")
    assert style(editor, "box-shadow") != "none"
    page.keyboard.press("Escape")
    expect(sheet.cell(1)).to_be_focused()
    assert style(sheet.cell(1), "outline-style") == "solid"
    assert float(style(sheet.cell(1), "outline-width").removesuffix("px")) >= 2
    focus_colour = style(page.locator(":root"), "--focus").strip()
    assert style(sheet.cell(1), "outline-color") == hex_to_rgb(focus_colour)
    assert style(sheet.cell(1), "border-left-color") != style(sheet.cell(0), "border-left-color")


def hex_to_rgb(colour: str) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"
