"""Share button, short links (/s/{id}) and self-contained links (#z=) in a real Chromium."""

from __future__ import annotations

import base64
import re
import urllib.parse
import zlib
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import UiServer
from tests.browser.worksheet_page import WorksheetPage

CLIPBOARD = {"permissions": ["clipboard-read", "clipboard-write"]}


def z_link(server: UiServer, code: str) -> str:
    z = base64.urlsafe_b64encode(zlib.compress(code.encode())).decode().rstrip("=")
    return f"{server.url}#z={z}"


@pytest.mark.parametrize("context", [CLIPBOARD], indirect=True)
def test_share_button_offers_both_links_and_copies(page: Any, ui_server: UiServer) -> None:
    sheet = WorksheetPage(page)
    code = "shared = 'über'\nprint(shared * 2)"
    sheet.type_code(0, code)
    page.get_by_role("button", name="Share").click()
    short = page.get_by_label("Short link")
    expect(short).to_have_value(re.compile(r"/s/[0-9A-Za-z]{6,}$"))
    long = page.get_by_label("Self-contained link")
    expect(long).to_have_value(re.compile(r"#z=[A-Za-z0-9_-]+$"))
    z = long.input_value().split("#z=")[1]
    assert zlib.decompress(base64.urlsafe_b64decode(z + "=" * (-len(z) % 4))).decode() == code

    page.locator(".share-copy").first.click()
    expect(page.locator(".share-status")).to_have_text("Short link copied.")
    assert page.evaluate("navigator.clipboard.readText()") == short.input_value()

    link_id = short.input_value().rsplit("/", 1)[1]
    got = httpx.get(
        f"{ui_server.url}api/permalinks/{link_id}",
        headers={"Authorization": f"token {ui_server.token}"},
    )
    assert got.json()["code"] == code


def test_short_link_with_run_shows_output(context: Any, ui_server: UiServer) -> None:
    made = httpx.post(
        f"{ui_server.url}api/permalinks",
        json={"code": "print('from a short link', 6 * 7)"},
        headers={"Authorization": f"token {ui_server.token}"},
    )
    url = made.json()["url"]
    page = context.new_page()
    page.goto(f"{url}?run=1&token={ui_server.token}")
    sheet = WorksheetPage(page)
    expect(sheet.outputs(0)).to_contain_text("from a short link 42", timeout=60_000)
    expect(page.locator(".title")).to_have_value("Shared code")


def test_z_link_opens_code_without_replacing_the_worksheet(page: Any, ui_server: UiServer) -> None:
    sheet = WorksheetPage(page)
    sheet.type_code(0, "mine = 1")
    page.wait_for_timeout(1500)  # the worksheet is saved to localStorage after a short delay
    code = "import math\nprint(math.factorial(5))"
    page.goto(z_link(ui_server, code))
    expect(sheet.editor(0)).to_have_text(re.compile(r"import math\s*print\(math.factorial\(5\)\)"))
    sheet.run(0)
    expect(sheet.outputs(0)).to_contain_text("120")

    c = urllib.parse.quote('print("c link")')
    page.goto(f"{ui_server.url}?c={c}&run=1")
    expect(sheet.outputs(0)).to_contain_text("c link", timeout=60_000)

    page.goto(ui_server.url)
    expect(sheet.editor(0)).to_have_text("mine = 1")
