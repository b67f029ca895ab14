"""The worksheet survives a reload, and round-trips through a downloaded .ipynb."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
from playwright.sync_api import expect

from tests.browser.conftest import UiServer, open_worksheet
from tests.browser.worksheet_page import WorksheetPage


def test_reload_keeps_cells_and_outputs(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run(0, "answer = 42\nprint('answer is', answer)", key="Shift+Enter")
    sheet.wait_done(0)
    page.keyboard.insert_text("# Heading\nwith $x^2$")
    page.keyboard.press("Escape")
    page.keyboard.press("m")
    page.keyboard.press("Control+Enter")
    expect(sheet.cell(1).locator(".rendered-markdown h1")).to_have_text("Heading")

    page.reload()
    page.wait_for_selector(".cell .cm-content")
    expect(sheet.cells).to_have_count(2)
    assert sheet.sources() == ["answer = 42\nprint('answer is', answer)", "# Heading\nwith $x^2$"]
    expect(sheet.outputs(0)).to_contain_text("answer is 42")
    expect(sheet.cell(0).locator(".prompt")).to_have_text("[1]:")
    expect(sheet.cell(1).locator(".rendered-markdown .katex")).to_have_count(1)
    # The same kernel is still attached: its variables are still there.
    sheet.kernel_state("idle")
    outputs = sheet.run_and_wait(0, "answer + 1")
    expect(outputs).to_contain_text("43")


def test_download_then_open_ipynb(page: Any, ui_server: UiServer, tmp_path: Path) -> None:
    sheet = WorksheetPage(page)
    sheet.run(
        0,
        "import matplotlib.pyplot as plt\nprint('out')\nplt.plot([1, 2]); plt.show()\n7 * 6",
        key="Shift+Enter",
    )
    sheet.wait_done(0)
    page.keyboard.insert_text("raise ValueError('bad')")
    page.keyboard.press("Alt+Enter")
    sheet.wait_done(1)
    page.keyboard.insert_text("Some **notes**")
    page.keyboard.press("Escape")
    page.keyboard.press("m")

    title = page.get_by_role("textbox", name="Worksheet title")
    title.fill("Round trip")
    title.press("Enter")
    with page.expect_download() as download_info:
        sheet.button("Download .ipynb").click()
    download = download_info.value
    assert download.suggested_filename == "Round_trip.ipynb"
    path = tmp_path / download.suggested_filename
    download.save_as(path)

    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4 and notebook.nbformat_minor == 5
    assert [cell.cell_type for cell in notebook.cells] == ["code", "code", "markdown"]
    first = notebook.cells[0].outputs
    assert [output.output_type for output in first] == ["stream", "display_data", "execute_result"]
    assert "image/png" in first[1].data
    assert first[2].data["text/plain"] == "42"
    assert notebook.cells[1].outputs[0].ename == "ValueError"

    # Start from an empty worksheet in a new browser profile, then open the file.
    context = page.context.browser.new_context()
    try:
        other = open_worksheet(context, ui_server)
        other_sheet = WorksheetPage(other)
        expect(other_sheet.cells).to_have_count(1)
        other.locator("input[type=file]").set_input_files(str(path))
        expect(other_sheet.cells).to_have_count(3)
        expect(other.get_by_role("textbox", name="Worksheet title")).to_have_value("Round trip")
        expect(other_sheet.outputs(0)).to_contain_text("out")
        expect(other_sheet.outputs(0).locator("img.image-output")).to_be_visible()
        expect(other_sheet.outputs(0).locator(".execute-result")).to_have_text("42")
        expect(other_sheet.outputs(1)).to_contain_text("ValueError")
        expect(other_sheet.cell(2).locator(".rendered-markdown strong")).to_have_text("notes")
    finally:
        context.close()


def test_opens_notebooks_written_by_jupyter(page: Any, tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# From Jupyter"),
        nbformat.v4.new_code_cell(
            "print('hi')",
            execution_count=3,
            outputs=[nbformat.v4.new_output("stream", name="stdout", text=["hi\n", "there\n"])],
        ),
    ]
    path = tmp_path / "jupyter.ipynb"
    path.write_text(json.dumps(notebook))
    page.locator("input[type=file]").set_input_files(str(path))
    sheet = WorksheetPage(page)
    expect(sheet.cell(0).locator(".rendered-markdown h1")).to_have_text("From Jupyter")
    expect(sheet.outputs(1).locator(".stream-text")).to_have_text("hi\nthere\n")
    expect(sheet.cell(1).locator(".prompt")).to_have_text("[3]:")
