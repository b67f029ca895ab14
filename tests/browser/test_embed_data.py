"""Data files for embedded cells, in Chromium: a cell on a third-party page names a file of
that site (``data-cellhub-files``), and its code reads it from the working directory on its
first run; a file from an origin the hub does not fetch from is refused, and the cell says
why."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import ThirdPartySite
from tests.browser.test_embed import open_page, public_hub
from tests.conftest import RunningHub

__all__ = ["public_hub"]  # the fixture: a hub that fetches from the site

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Statistics, chapter 1</title></head><body>
<div class="cellhub" id="reads" data-cellhub-autorun data-cellhub-files="data/heights.csv">
import csv
print(list(csv.reader(open("heights.csv"))))
</div>
<div class="cellhub" id="refused" data-cellhub-autorun
     data-cellhub-files="http://127.0.0.1:1/elsewhere.csv">print("never")</div>
<script src="HUB/static/embed.js"></script>
</body></html>
"""


def test_an_embedded_cell_reads_the_data_file_its_page_names(
    context: Any, site: ThirdPartySite, public_hub: RunningHub
) -> None:
    site.files["/data/heights.csv"] = b"name,cm\nada,170\n"
    page, errors = open_page(context, site, PAGE.replace("HUB/", public_hub.url))
    reads = page.locator("#reads")
    expect(reads.locator(".outputs")).to_contain_text(
        "[['name', 'cm'], ['ada', '170']]", timeout=30_000
    )
    refused = page.locator("#refused")
    expect(refused.locator(".cellhub-message")).to_contain_text("data_origins", timeout=30_000)
    expect(refused.locator(".outputs")).not_to_contain_text("never")
    assert errors == []
