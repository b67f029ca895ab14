"""The worksheet in a real Chromium: run code, see outputs, control the kernel."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.worksheet_page import WorksheetPage


def test_type_code_run_and_see_output(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.type_code(0, "print(6 * 7)")
    page.keyboard.press("Shift+Enter")
    expect(sheet.outputs(0)).to_contain_text("42")
    sheet.wait_done(0)
    expect(sheet.cells).to_have_count(2)
    assert sheet.focused_cell_index() == 1, "Shift+Enter focuses the new cell at the end"

    page.keyboard.insert_text("6 * 7")
    page.keyboard.press("Control+Enter")
    sheet.wait_done(1)
    expect(sheet.outputs(1).locator(".execute-result")).to_have_text("42")
    expect(sheet.cell(1).locator(".prompt")).to_have_text("[2]:")


def test_matplotlib_plot_appears_as_image(page: Any) -> None:
    sheet = WorksheetPage(page)
    outputs = sheet.run_and_wait(
        0, "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"
    )
    image = outputs.locator("img.image-output")
    expect(image).to_be_visible()
    source = image.get_attribute("src")
    assert source is not None, "the image has its data as its source"
    assert source.startswith("data:image/png;base64,")
    assert page.evaluate("(img) => img.naturalWidth", image.element_handle()) > 100


def test_exception_shows_traceback(page: Any) -> None:
    sheet = WorksheetPage(page)
    outputs = sheet.run_and_wait(0, "def f():\n    return 1 / 0\nf()")
    error = outputs.locator(".output.error")
    expect(error).to_contain_text("ZeroDivisionError")
    expect(error).to_contain_text("return 1 / 0")
    # IPython colours its tracebacks; they arrive as ANSI and are shown as coloured spans.
    assert error.locator("span[class*='ansi-']").count() > 0
    assert "\x1b" not in error.inner_text()


def test_interrupt_button_stops_infinite_loop(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run(0, "while True:\n    pass")
    expect(sheet.cell(0)).to_have_attribute("data-run-state", "running")
    sheet.kernel_state("busy")
    sheet.button("Interrupt").click()
    expect(sheet.outputs(0)).to_contain_text("KeyboardInterrupt")
    sheet.wait_done(0)
    sheet.kernel_state("idle")


def answer_dialogs(page: Any, answers: list[bool]) -> list[str]:
    """Answers the page's confirm() dialogs with `answers` in turn (then declines); returns
    their messages, as they come."""
    messages: list[str] = []

    def answer(dialog: Any) -> None:
        messages.append(dialog.message)
        accept = answers[len(messages) - 1] if len(messages) <= len(answers) else False
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", answer)
    return messages


def test_restart_asks_first_then_clears_state(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run_and_wait(0, "secret = 41")
    asked = answer_dialogs(page, [False, True])
    sheet.button("Restart").click()
    assert len(asked) == 1 and "variables" in asked[0]
    expect(sheet.run_and_wait(0, "secret + 1")).to_contain_text("42")
    sheet.button("Restart").click()
    sheet.kernel_state("idle")
    expect(sheet.run_and_wait(0, "secret + 1")).to_contain_text("NameError")


def test_restart_of_a_kernel_where_nothing_ran_asks_nothing(page: Any) -> None:
    sheet = WorksheetPage(page)
    asked = answer_dialogs(page, [])
    sheet.button("Restart").click()
    sheet.kernel_state("idle")
    expect(sheet.run_and_wait(0, "'fresh'")).to_contain_text("fresh")
    assert asked == []


def test_new_worksheet_starts_blank_with_a_fresh_kernel_and_keeps_the_old_one(page: Any) -> None:
    """Logged in, worksheets live on the server: a new one discards nothing, so nothing asks."""
    sheet = WorksheetPage(page)
    sheet.run_and_wait(0, "kept = 1")
    sheet.page.get_by_role("textbox", name="Worksheet title").fill("Lab 3")
    sheet.page.keyboard.press("Enter")
    sheet.saved()
    asked = answer_dialogs(page, [])
    sheet.button("New worksheet").click()
    expect(page).to_have_url(re.compile(r"worksheet=Untitled"))
    page.wait_for_selector(".cell .cm-content")
    expect(sheet.cells).to_have_count(1)
    assert sheet.sources() == [""]
    expect(sheet.outputs(0)).to_be_hidden()
    title = page.get_by_role("textbox", name="Worksheet title")
    expect(title).to_have_value(re.compile("^Untitled"))
    expect(sheet.run_and_wait(0, "kept")).to_contain_text("NameError")
    assert asked == []
    sheet.open_worksheet("Lab 3")
    assert sheet.sources() == ["kept = 1"], "the old worksheet is kept on the server"


def test_dataframe_looks_as_in_jupyterlab(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run_and_wait(
        0, "import pandas as pd\npd.DataFrame({'a': [1, 2, 3], 'b': [4.5, 5.5, 6.5]})"
    )
    table = page.frame_locator("iframe.html-output").locator("table.dataframe")
    expect(table).to_be_visible()
    style = "(element, property) => getComputedStyle(element)[property]"
    rows = table.locator("tbody tr")
    assert rows.nth(1).evaluate(style, "backgroundColor") != rows.nth(0).evaluate(
        style, "backgroundColor"
    ), "zebra rows"
    assert table.locator("thead").evaluate(style, "borderBottomStyle") == "solid"
    assert table.locator("td").first.evaluate(style, "textAlign") == "right"
    assert table.locator("thead th").last.evaluate(style, "fontWeight") == "700"
    assert table.locator("td").first.evaluate(style, "borderTopStyle") == "none"


def test_ten_thousand_lines_end_with_9999(page: Any) -> None:
    sheet = WorksheetPage(page)
    outputs = sheet.run_and_wait(0, "for i in range(10**4):\n    print(i)")
    text = outputs.locator(".stream-text")
    expect(text).to_contain_text("9999")
    assert text.inner_text().rstrip().endswith("\n9999")
    # The end of a long output is what stays in view.
    assert page.evaluate(
        "(pre) => pre.scrollHeight - pre.scrollTop - pre.clientHeight < 30", text.element_handle()
    )
    expect(outputs.get_by_role("button", name="Expand output")).to_be_visible()


def test_input_box_answers_input(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run(0, "name = input('Your name: ')\nprint('hello', name)")
    box = sheet.cell(0).get_by_role("textbox", name="Your name:")
    expect(box).to_be_focused()
    box.fill("Ada")
    box.press("Enter")
    expect(sheet.outputs(0)).to_contain_text("hello Ada")
    sheet.wait_done(0)


def test_rich_outputs(page: Any) -> None:
    sheet = WorksheetPage(page)
    code = (
        "from IPython.display import display, HTML, Markdown, Math, JSON, update_display\n"
        "display(HTML('<b id=\"bold\">bold</b>'))\n"
        "display(Markdown('**strong** and $x^2$'))\n"
        "display(Math(r'\\int_0^1 x\\,dx'))\n"
        "display('first', display_id='d1')\n"
        "update_display('second', display_id='d1')\n"
    )
    outputs = sheet.run_and_wait(0, code)
    frame = outputs.locator("iframe.html-output")
    expect(frame).to_have_attribute("sandbox", re.compile(r"^allow-scripts(?!.*same-origin)"))
    expect(page.frame_locator("iframe.html-output").locator("#bold")).to_have_text("bold")
    expect(outputs.locator(".markdown-output strong")).to_have_text("strong")
    expect(outputs.locator(".markdown-output .katex")).to_have_count(1)
    expect(outputs.locator(".latex-output .katex-display")).to_have_count(1)
    expect(outputs).to_contain_text("'second'")
    expect(outputs).not_to_contain_text("'first'")


def test_sandboxed_html_cannot_read_the_page(page: Any) -> None:
    sheet = WorksheetPage(page)
    code = (
        "from IPython.display import HTML, display\n"
        "display(HTML('''<p id=\"probe\">?</p><script>\n"
        "let found = [];\n"
        "try { found.push(parent.document.body.innerHTML.length) }\n"
        "catch (e) { found.push('dom-blocked') }\n"
        "try { found.push(localStorage.length) } catch (e) { found.push('storage-blocked') }\n"
        "try { found.push(document.cookie) } catch (e) { found.push('cookie-blocked') }\n"
        "document.getElementById('probe').textContent = found.join(',');\n"
        "</script>'''))"
    )
    sheet.run_and_wait(0, code)
    probe = page.frame_locator("iframe.html-output").locator("#probe")
    expect(probe).to_have_text("dom-blocked,storage-blocked,cookie-blocked")


def test_clear_output_wait(page: Any) -> None:
    sheet = WorksheetPage(page)
    code = (
        "from IPython.display import clear_output\n"
        "import time\n"
        "for i in range(5):\n"
        "    clear_output(wait=True)\n"
        "    print('step', i)\n"
        "    time.sleep(0.05)\n"
    )
    outputs = sheet.run_and_wait(0, code)
    expect(outputs.locator(".stream-text")).to_have_text("step 4\n")


def test_tab_completion_and_shift_tab_docs(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run(0, "import math", key="Shift+Enter")
    sheet.wait_done(0)
    page.keyboard.type("math.sqr")
    page.keyboard.press("Tab")
    option = page.locator(".cm-tooltip-autocomplete li", has_text="sqrt")
    expect(option).to_be_visible()
    page.keyboard.press("Enter")
    expect(sheet.editor(1)).to_have_text("math.sqrt")
    page.keyboard.press("Shift+Tab")
    expect(page.locator(".inspect-tooltip")).to_contain_text("square root")


def test_the_page_loads_with_no_failed_request_and_has_an_icon(
    context: Any, ui_server: Any
) -> None:
    page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{ui_server.url}?token={ui_server.token}")
    page.wait_for_selector('.kernel-state[data-state="idle"]', timeout=60_000)
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert icon is not None
    response = page.request.get(ui_server.url + icon.lstrip("/"))
    assert response.ok and response.headers["content-type"].startswith("image/svg+xml")
    assert failed == []
