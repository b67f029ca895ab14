"""Share button, short links (/s/{id}) and self-contained links (#z=) in a real Chromium."""

from __future__ import annotations

import base64
import re
import urllib.parse
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import UiServer
from tests.browser.worksheet_page import WorksheetPage
from tests.conftest import RunningHub, start_cellhub

CLIPBOARD = {"permissions": ["clipboard-read", "clipboard-write"]}


def z_link(server: UiServer, code: str) -> str:
    z = base64.urlsafe_b64encode(zlib.compress(code.encode())).decode().rstrip("=")
    return f"{server.url}#z={z}"


PRIVATE_AUDIENCE = "people who have the token or are logged in"


@pytest.fixture(scope="module")
def anonymous_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    server = start_cellhub(
        tmp_path_factory.mktemp("anonymous"), env={"CELLHUB_ALLOW_ANONYMOUS": "true"}
    )
    yield server
    server.stop()


def make_short_link(server: UiServer, code: str) -> str:
    made = httpx.post(
        f"{server.url}api/permalinks",
        json={"code": code},
        headers={"Authorization": f"token {server.token}"},
    )
    url: str = made.json()["url"]
    return url


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

    expect(page.locator(".share-audience")).to_contain_text(PRIVATE_AUDIENCE)
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
    url = make_short_link(ui_server, "print('from a short link', 6 * 7)")
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


def log_in_on_the_refusal_page(context: Any, link: str, token: str) -> Any:
    """Open ``link`` in a browser that holds no login: the styled refusal page, then log in."""
    page = context.new_page()
    refused = page.goto(link)
    assert refused is not None and refused.status == 403
    stylesheet = page.locator('link[rel="stylesheet"]')
    expect(stylesheet).to_have_attribute("href", re.compile(r"^/static/app\.css\?v=[0-9a-f]+$"))
    main = page.locator("main.refusal")
    expect(main.get_by_role("heading")).to_have_text("Log in to open this link")
    expect(main).to_contain_text("only for people who have its access token")
    assert main.evaluate("(e) => getComputedStyle(e).borderTopLeftRadius") == "8px"
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Log in and open").click()
    page.wait_for_url(lambda url: url == link)
    return page


def test_a_short_link_refused_for_want_of_the_token_logs_in_and_comes_back(
    context: Any, ui_server: UiServer
) -> None:
    link = make_short_link(ui_server, "print('after logging in', 6 * 7)") + "?run=1"
    page = log_in_on_the_refusal_page(context, link, ui_server.token)
    assert page.url == link
    expect(WorksheetPage(page).outputs(0)).to_contain_text("after logging in 42", timeout=60_000)


def test_a_z_link_keeps_its_code_through_the_login(context: Any, ui_server: UiServer) -> None:
    link = z_link(ui_server, "print('z after login', 2 ** 10)") + "&run=1"
    page = context.new_page()
    page.goto(ui_server.url + "?token=wrong")
    expect(page.get_by_role("alert")).to_have_text(re.compile("not this cellhub's token"))
    page = log_in_on_the_refusal_page(context, link, ui_server.token)
    assert page.url == link  # the fragment, which never reaches the server, survived
    expect(WorksheetPage(page).outputs(0)).to_contain_text("z after login 1024", timeout=60_000)


def test_the_share_panel_says_anyone_may_open_links_of_an_anonymous_hub(
    context: Any, anonymous_hub: RunningHub
) -> None:
    page = context.new_page()
    page.goto(anonymous_hub.url)
    page.get_by_role("button", name="Share").click()
    audience = page.locator(".share-audience")
    expect(audience).to_have_text(re.compile(r"^Anyone with the link can open it"))
    expect(audience).not_to_contain_text(PRIVATE_AUDIENCE)
