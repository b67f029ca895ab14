"""Everything by keyboard; readable on a phone and in dark mode."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.worksheet_page import WorksheetPage


def test_keyboard_only_use(page: Any) -> None:
    """A worksheet is written, run and rearranged without the mouse; Tab reaches every
    control, its focus visible."""
    sheet = WorksheetPage(page)
    write_and_run(page, sheet)
    edit_in_command_mode(page, sheet)

    # Tab from a cell in command mode reaches its toolbar, whose buttons are labelled.
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused == "Run cell"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "keyboard focus is visible"

    # The kernel controls are reachable with Tab from the top of the page.
    page.get_by_role("textbox", name="Worksheet title").focus()
    labels = tab_labels(page, 12)
    for control in [
        "Run all",
        "Interrupt",
        "Restart",
        "Restart & run all",
        "Clear outputs",
        "Download .ipynb",
    ]:
        assert control in labels


def write_and_run(page: Any, sheet: WorksheetPage) -> None:
    """Type and run two cells, the caret moving on as it would for a mouse-less user."""
    # The page opens with the caret in the first cell.
    assert sheet.focused_cell_index() == 0
    page.keyboard.type("x = 2")
    page.keyboard.press("Shift+Enter")
    assert sheet.focused_cell_index() == 1
    page.keyboard.type("x ** 10")
    page.keyboard.press("Alt+Enter")
    expect(sheet.outputs(1)).to_contain_text("1024")
    expect(sheet.cells).to_have_count(3)
    assert sheet.focused_cell_index() == 2


def edit_in_command_mode(page: Any, sheet: WorksheetPage) -> None:
    """Command mode: Escape, then single keys change, delete, undo, move, copy and add cells."""
    page.keyboard.type("Euler: $e^{i\\pi} = -1$")
    page.keyboard.press("Escape")
    expect(sheet.cell(2)).to_be_focused()
    page.keyboard.press("m")
    page.keyboard.press("Control+Enter")
    expect(sheet.cell(2).locator(".rendered-markdown .katex")).to_have_count(1)

    page.keyboard.press("k")
    expect(sheet.cell(1)).to_be_focused()
    page.keyboard.press("d")
    page.keyboard.press("d")
    expect(sheet.cells).to_have_count(2)
    page.keyboard.press("z")
    expect(sheet.cells).to_have_count(3)
    assert sheet.sources()[1] == "x ** 10"

    page.keyboard.press("Control+Shift+ArrowUp")
    assert sheet.sources()[0] == "x ** 10"
    page.keyboard.press("c")
    page.keyboard.press("v")
    assert sheet.sources()[:2] == ["x ** 10", "x ** 10"]
    page.keyboard.press("a")
    assert sheet.focused_cell_index() == 1
    page.keyboard.type("'typed'")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.keyboard.press("Control+Enter")
    expect(sheet.outputs(1)).to_contain_text("'typed'")


def tab_labels(page: Any, presses: int) -> list[str]:
    """The label (or text) of each element focused by ``presses`` presses of Tab."""
    labels = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        labels.append(
            page.evaluate(
                "(el => el.getAttribute('aria-label') || el.textContent)(document.activeElement)"
            )
        )
    return labels


def test_every_button_has_a_name(page: Any) -> None:
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('button, select, input:not([type=file])')]
              .filter((el) => !(el.getAttribute('aria-label') || el.textContent.trim()
                                || el.labels?.length))
              .map((el) => el.outerHTML)"""
    )
    assert unnamed == []


@pytest.mark.parametrize(
    "context",
    [
        {
            "viewport": {"width": 375, "height": 740},
            "color_scheme": "dark",
            "is_mobile": True,
            "has_touch": True,
        }
    ],
    indirect=True,
)
def test_phone_width_and_dark_mode(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run_and_wait(0, "print('a fairly long line of output ' * 8)\n1/0")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "no sideways scrolling"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(22, 24, 28)", "dark colours follow prefers-color-scheme"
    for name in ["Interrupt", "Restart", "Download .ipynb"]:
        box = sheet.button(name).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert box["height"] >= 24, "touch targets stay usable"
