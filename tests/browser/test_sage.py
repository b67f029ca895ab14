"""Sage in a real Chromium: the kernel choice, typeset math, plots, @interact, a cell's
language (GP, Python, …), links with a language, and embedded Sage cells (tests/sage has the
kernel's own tests)."""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ThirdPartySite, UiServer, open_worksheet
from tests.browser.test_embed import open_page
from tests.browser.worksheet_page import WorksheetPage
from tests.conftest import start_cellhub
from tests.sage.conftest import SAGE_AND_PYTHON, require_sage


@pytest.fixture(scope="module")
def sage_ui(site: ThirdPartySite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    """A cellhub offering Sage, whose kernels the third-party site may embed."""
    require_sage()
    public = {"CELLHUB_ALLOW_ANONYMOUS": "true", "CELLHUB_CORS_ORIGINS": site.origin}
    env = {**SAGE_AND_PYTHON, **public}
    server = start_cellhub(tmp_path_factory.mktemp("sage-ui"), env=env)
    yield UiServer(server.url, server.token)
    server.stop()


def sage_sheet(context: Any, server: UiServer) -> WorksheetPage:
    """The worksheet, its kernel switched to Sage with the kernel choice."""
    sheet = WorksheetPage(open_worksheet(context, server))
    sheet.page.get_by_role("combobox", name="Kernel").select_option(label="SageMath (cellhub)")
    sheet.kernel_state("idle")
    return sheet


def test_the_kernel_choice_gives_sage_with_typeset_math_and_plots(
    context: Any, sage_ui: UiServer
) -> None:
    sheet = sage_sheet(context, sage_ui)
    outputs = sheet.run_and_wait(
        0, "show(integrate(x^2 * sin(x), x))\nshow(QQ['t'])\nplot(sin(x), (x, 0, pi))"
    )
    expect(outputs.locator(".latex-output .katex")).to_have_count(2)
    expect(outputs.locator(".katex-error")).to_have_count(0)  # Sage's \Bold, defined inline
    expect(outputs.locator("img.image-output")).to_have_count(1)
    sheet.page.reload()
    sheet.kernel_state("idle")
    expect(sheet.page.get_by_role("combobox", name="Kernel")).to_have_value("sage")
    expect(sheet.run_and_wait(0, "2^10")).to_contain_text("1024")


def test_a_sage_interact_slider_driven_from_the_keyboard(context: Any, sage_ui: UiServer) -> None:
    sheet = sage_sheet(context, sage_ui)
    sheet.run_and_wait(0, "@interact\ndef f(n=(1, 10)):\n    print(n, n.is_prime())")
    expect(sheet.widget_text(0)).to_have_text("1 False")
    sheet.slide(0, "n", 2)
    expect(sheet.widget_text(0)).to_have_text("3 True")


def test_a_cell_in_gp_and_one_in_python_beside_sage(context: Any, sage_ui: UiServer) -> None:
    """Sage Cell's language per cell: the code is GP's (or plain Python), not Sage's; the
    choice shows under the prompt and stays across a reload, the code without its magic."""
    sheet = sage_sheet(context, sage_ui)
    language = sheet.cell(0).get_by_role("combobox", name="Cell language")
    language.select_option(label="GP")
    outputs = sheet.run_and_wait(0, "factor(2^64 + 1)")
    # GP's matrix of factors and exponents, its columns aligned
    expect(outputs).to_have_text(re.compile(r"\[\s*274177 1\]\s*\[67280421310721 1\]"))
    expect(sheet.cell(0).locator(".language-tag")).to_have_text("GP")
    sheet.add_cell()
    sheet.cell(1).get_by_role("combobox", name="Cell language").select_option(label="Python")
    expect(sheet.run_and_wait(1, "2^3, 1/2")).to_contain_text("(1, 0.5)")
    sheet.page.reload()
    sheet.kernel_state("idle")
    expect(sheet.cell(0).get_by_role("combobox", name="Cell language")).to_have_value("gp")
    assert sheet.sources()[0] == "factor(2^64 + 1)"
    expect(sheet.run_and_wait(0, "nextprime(2^64)")).to_contain_text("18446744073709551629")
    sheet.page.once("dialog", lambda dialog: dialog.accept())  # "Restart the kernel?"
    sheet.page.get_by_role("combobox", name="Kernel").select_option(value="python3")
    expect(sheet.cell(0).get_by_role("combobox", name="Cell language")).to_be_hidden()


@pytest.mark.parametrize(
    ("code", "lang", "answer"),
    [(b"factor(2^64 + 1)", "sage", "274177 * 67280421310721"), (b"isprime(2^61 - 1)", "gp", "1")],
)
def test_a_link_with_lang_opens_a_sage_kernel(
    context: Any, sage_ui: UiServer, code: bytes, lang: str, answer: str
) -> None:
    """``lang=sage`` as Sage Cell's links give it; ``lang=gp``: GP in a Sage cell."""
    z = base64.urlsafe_b64encode(zlib.compress(code)).decode().rstrip("=")
    page = context.new_page()
    page.goto(f"{sage_ui.url}?token={sage_ui.token}#z={z}&lang={lang}&run=1")
    expect(WorksheetPage(page).outputs(0)).to_have_text(re.compile(re.escape(answer)))


def test_an_embedded_sage_cell(context: Any, site: ThirdPartySite, sage_ui: UiServer) -> None:
    html = (
        '<div class="cellhub" data-lang="sage" data-cellhub-kernel="a" data-cellhub-autorun>'
        "1/2 + 1/3</div>"
        '<div class="cellhub" data-cellhub-autorun><script type="text/x-sage">\n'
        "[p for p in [1..20] if is_prime(p)]\n</script></div>"
        # GP in a Sage kernel, the first cell's (anonymous pages may have two kernels)
        '<div class="cellhub" data-lang="gp" data-cellhub-kernel="a" data-cellhub-autorun>'
        "primes(8)</div>"
        f'<script src="{sage_ui.url}static/embed.js"></script>'
    )
    page, errors = open_page(context, site, html)
    cells = page.locator("div.cellhub")
    expect(cells.nth(0).locator(".outputs")).to_have_text(re.compile(r"5/6"), timeout=60_000)
    expect(cells.nth(1).locator(".outputs")).to_contain_text("[2, 3, 5, 7, 11, 13, 17, 19]")
    expect(cells.nth(2).locator(".outputs")).to_contain_text("[2, 3, 5, 7, 11, 13, 17, 19]")
    assert errors == []
