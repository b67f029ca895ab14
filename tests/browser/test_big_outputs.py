"""Big outputs keep the page usable: 10**5 printed lines, or one 20 MB line.

The page shows a bounded window of a long stream (its first and last lines, long lines cut)
with "Show all" and "Download"; the whole text stays available. Timing targets live in
bench/ui_bench.py; here the bounds are generous, to catch a page that hangs, not a slow one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.worksheet_page import WorksheetPage

BIG_RUN_TIMEOUT = 180_000
# The window: about 100 head lines and 1,000 tail lines, whatever the stream's length.
MAX_RENDERED_LINES = 1_500
RESPONSIVE_WITHIN_S = 5.0

RENDERED_LINES = "(pre) => pre.textContent.split('\\n').length"


def test_hundred_thousand_lines_show_head_tail_and_offer_all(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.add_cell()
    sheet.type_code(1, "'other cell'")
    outputs = sheet.run_and_wait(0, "for i in range(10**5):\n    print(i)", BIG_RUN_TIMEOUT)
    text = outputs.locator(".stream-text")
    assert text.inner_text().rstrip().endswith("\n99998\n99999"), "the tail ends the output"
    assert page.evaluate(RENDERED_LINES, text.element_handle()) < MAX_RENDERED_LINES
    expect(outputs.get_by_role("note")).to_contain_text("lines hidden")

    started = time.monotonic()
    sheet.editor(1).click()
    sheet.cell(1).get_by_role("button", name="Run cell").click()
    expect(sheet.outputs(1)).to_contain_text("other cell")
    assert time.monotonic() - started < RESPONSIVE_WITHIN_S, "the page answers a click"

    with page.expect_download() as download:
        outputs.get_by_role("button", name="Download").click()
    saved = Path(download.value.path()).read_text()
    assert saved.splitlines() == [str(i) for i in range(10**5)]

    outputs.get_by_role("button", name="Show all").click()
    expect(text).to_contain_text("\n50000\n")
    expect(outputs.get_by_role("note")).to_have_count(0)


def test_one_twenty_megabyte_line_is_cut_and_downloadable(page: Any) -> None:
    sheet = WorksheetPage(page)
    outputs = sheet.run_and_wait(0, "print('x' * 20_000_000)", BIG_RUN_TIMEOUT)
    started = time.monotonic()
    assert page.evaluate("1 + 1") == 2
    assert time.monotonic() - started < RESPONSIVE_WITHIN_S, "the page answers"
    rendered = page.evaluate(
        "(pre) => pre.textContent.length", outputs.locator("pre").element_handle()
    )
    assert rendered < 100_000, "the page holds a window of the line, not all of it"
    expect(outputs.get_by_role("note")).to_contain_text("characters hidden")
    expect(outputs.get_by_role("button", name="Download")).to_be_visible()
    expect(outputs.get_by_role("button", name="Show all")).to_be_hidden()
    total = page.evaluate("() => window.cellhub.worksheet.cells[0].outputs.all[0].text.length")
    assert total == 20_000_001, "the model keeps the whole line"


def test_show_all_gives_way_when_the_stream_outgrows_it(page: Any) -> None:
    sheet = WorksheetPage(page)
    code = (
        "import time\nfor i in range(10**5):\n    print(i)\ntime.sleep(5)\nprint('x' * 2_000_000)"
    )
    sheet.run(0, code)
    outputs = sheet.outputs(0)
    outputs.get_by_role("button", name="Show all").click()
    expect(outputs.get_by_role("note")).to_have_count(0)
    sheet.wait_done(0, BIG_RUN_TIMEOUT)
    expect(outputs.get_by_role("note")).to_contain_text("lines hidden")
    rendered = page.evaluate(
        "(pre) => pre.textContent.length", outputs.locator("pre").element_handle()
    )
    assert rendered < 200_000, "past a million characters the page holds a window again"
