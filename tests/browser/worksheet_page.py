"""What a person sees and does on the worksheet page, for the browser tests."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Locator, Page, expect

RUN_TIMEOUT = 60_000


class WorksheetPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    @property
    def cells(self) -> Locator:
        return self.page.locator("section.cell")

    def cell(self, index: int) -> Locator:
        return self.cells.nth(index)

    def editor(self, index: int) -> Locator:
        return self.cell(index).locator(".cm-content")

    def outputs(self, index: int) -> Locator:
        # The cell's own output area; Output widgets nest output areas of their own inside it.
        return self.cell(index).locator(".cell-body > .outputs")

    def button(self, name: str) -> Locator:
        return self.page.get_by_role("button", name=name, exact=True)

    def type_code(self, index: int, code: str) -> None:
        """Replaces the cell's source, inserted as typed text (no auto-indent, no auto-close)."""
        self.editor(index).click()
        self.page.keyboard.press("ControlOrMeta+a")
        self.page.keyboard.press("Backspace")
        self.page.keyboard.insert_text(code)

    def run(self, index: int, code: str | None = None, key: str = "Control+Enter") -> None:
        if code is not None:
            self.type_code(index, code)
        else:
            self.editor(index).click()
        self.page.keyboard.press(key)

    def wait_done(self, index: int, timeout: int = RUN_TIMEOUT) -> None:
        expect(self.cell(index)).to_have_attribute("data-run-state", "idle", timeout=timeout)
        expect(self.cell(index).locator(".prompt")).to_have_text(
            re.compile(r"\[\d+\]:"), timeout=timeout
        )

    def run_and_wait(self, index: int, code: str, timeout: int = RUN_TIMEOUT) -> Locator:
        self.run(index, code)
        self.wait_done(index, timeout)
        return self.outputs(index)

    def kernel_state(self, state: str, timeout: int = RUN_TIMEOUT) -> None:
        expect(self.page.locator(".kernel-state")).to_have_attribute(
            "data-state", state, timeout=timeout
        )

    def sources(self) -> list[str]:
        result: Any = self.page.evaluate(
            "() => window.cellhub.worksheet.cells.map((cell) => cell.source)"
        )
        return list(result)

    def focused_cell_index(self) -> int:
        index: int = self.page.evaluate(
            """() => [...document.querySelectorAll('section.cell')]
                  .findIndex((cell) => cell.contains(document.activeElement))"""
        )
        return index

    # ---- widgets ---------------------------------------------------------------------------

    def widgets(self, index: int) -> Locator:
        """The live widget views in the cell's outputs (ipywidgets)."""
        return self.outputs(index).locator(".widget-area .jupyter-widgets").first

    def slider(self, index: int, name: str) -> Locator:
        """A slider's handle: keyboard-operable, named after the widget's description."""
        return self.outputs(index).get_by_role("slider", name=name, exact=True)

    def widget_output(self, index: int) -> Locator:
        """What an Output widget (interact's output) shows."""
        return self.outputs(index).locator(".widget-output").first

    def widget_text(self, index: int) -> Locator:
        """The printed text in an Output widget (interact's output)."""
        return self.widget_output(index).locator(".stream-text")

    def add_cell(self) -> None:
        self.page.get_by_role("button", name="+ Add cell").click()

    def slide(self, index: int, name: str, steps: int) -> None:
        """Moves a slider with the arrow keys, as a keyboard user does."""
        handle = self.slider(index, name)
        handle.focus()
        for _ in range(abs(steps)):
            self.page.keyboard.press("ArrowRight" if steps > 0 else "ArrowLeft")

    # ---- server worksheets -----------------------------------------------------------------

    def save_state(self) -> Locator:
        return self.page.locator(".save-state")

    def saved(self, timeout: int = 20_000) -> None:
        """Wait until every change is saved on the server."""
        expect(self.save_state()).to_have_attribute("data-state", "saved", timeout=timeout)

    def open_worksheet(self, name: str) -> None:
        """Open a worksheet from the Worksheets panel, and wait for it to load."""
        self.button("Worksheets").click()
        self.page.locator(".worksheet-list").get_by_role("link", name=name, exact=True).click()
        expect(self.page).to_have_url(re.compile(r"worksheet="))
        expect(self.page.locator(".title")).to_have_value(name)
        self.page.wait_for_selector(".cell .cm-content")
