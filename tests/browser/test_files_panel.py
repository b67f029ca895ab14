"""The files panel in Chromium: a CSV uploaded with the panel is read by name in a cell of the
page's kernel (which was running already), and an upload over the quota shows the hub's
message naming the quota. The hub here has a small quota, so exceeding it is cheap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.worksheet_page import WorksheetPage
from tests.conftest import RunningHub, start_cellhub

QUOTA = 100_000


@pytest.fixture(scope="module")
def cellhub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    env = {"CELLHUB_USER_FILES_QUOTA": str(QUOTA)}
    server = start_cellhub(tmp_path_factory.mktemp("cellhub"), env=env)
    yield server
    server.stop()


def files_panel(sheet: WorksheetPage) -> Any:
    sheet.button("Files").click()
    panel = sheet.page.locator(".files-panel")
    expect(panel).to_be_visible()
    return panel


def upload(panel: Any, file: Path) -> None:
    """Upload with the panel's button, choosing ``file`` in the browser's file chooser."""
    with panel.page.expect_file_chooser() as chooser:
        panel.get_by_role("button", name="Upload", exact=True).click()
    chooser.value.set_files(str(file))


def test_an_uploaded_csv_is_read_in_a_cell(page: Any, tmp_path: Path) -> None:
    sheet = WorksheetPage(page)
    csv_file = tmp_path / "scores.csv"
    csv_file.write_text("name,score\nada,36\nbob,6\n")
    panel = files_panel(sheet)
    upload(panel, csv_file)
    expect(panel.locator("li[data-path='scores.csv']")).to_be_visible()
    code = (
        "import csv\n"
        "rows = list(csv.DictReader(open('scores.csv')))\n"
        "print(sum(int(row['score']) for row in rows))"
    )
    expect(sheet.run_and_wait(0, code)).to_contain_text("42")
    download = panel.get_by_role("link", name="scores.csv")
    with page.expect_download() as started:
        download.click()
    assert Path(started.value.path()).read_text() == csv_file.read_text()


def test_an_upload_over_the_quota_says_so(page: Any, tmp_path: Path) -> None:
    sheet = WorksheetPage(page)
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(QUOTA + 1))
    panel = files_panel(sheet)
    upload(panel, big)
    message = panel.locator(".files-message")
    expect(message).to_contain_text("quota")
    expect(message).to_contain_text("user_files_quota")
    expect(panel.locator("li[data-path='big.bin']")).to_have_count(0)


def test_files_dropped_on_the_panel_are_uploaded(page: Any) -> None:
    panel = files_panel(WorksheetPage(page))
    dropped = page.evaluate_handle(
        """() => {
          const data = new DataTransfer();
          data.items.add(new File(["x,y\\n1,2\\n"], "dropped.csv", { type: "text/csv" }));
          return data;
        }"""
    )
    panel.dispatch_event("drop", {"dataTransfer": dropped})
    expect(panel.locator("li[data-path='dropped.csv']")).to_be_visible()
