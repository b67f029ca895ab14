"""No output runs script in the page's origin (issue 12, item 1), in a real Chromium.

Each case is a short link (``/s/{id}?run=1``) whose code shows one kind of output carrying a
script payload: a widget's HTML value, HTMLMath, an HTML description, a tooltip, Markdown,
LaTeX, SVG, text/html, an ANSI-coloured stream, a traceback, a widget the page cannot show.
The payload marks the document it runs in and writes to ``top``; the test waits until the
output is on the page (and its images have loaded or failed), then asserts that the page's
document is unmarked, ``window.__pwned`` unset, the title untouched, no dialog opened, and no
element carries an event-handler attribute or a ``javascript:`` URL. text/html runs its script
on purpose, in a frame whose sandbox is exactly ``allow-scripts``: the test sees it run there
and fail to reach the page. An embedded cell on a third-party page is checked the same way.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser import test_embed
from tests.browser.conftest import ThirdPartySite, UiServer
from tests.browser.worksheet_page import RUN_TIMEOUT, WorksheetPage
from tests.conftest import RunningHub

# A hub that serves embedded cells to the third-party page (conftest's site), as in test_embed.
public_hub = test_embed.public_hub

MARK = "data-payload-ran"


def script(kind: str) -> str:
    """JavaScript that marks the document it runs in, then reaches for the top page."""
    return (
        f"document.documentElement.setAttribute('{MARK}','{kind}');"
        f"top.__pwned='{kind}';top.document.title='pwned';alert('{kind}')"
    )


def markup(kind: str) -> str:
    """HTML that runs ``script(kind)`` in every way a sanitizer must stop, with a visible canary."""
    js = script(kind)
    return (
        f'<b class="canary">{kind}</b><img src="data:," onerror="{js}">'
        f'<svg onload="{js}"><script>{js}</script></svg>'
        f'<a href="javascript:{js}">link</a>'
        f'<details open ontoggle="{js}"><summary>more</summary></details>'
    )


def svg_markup(kind: str) -> str:
    """An SVG document (well-formed XML, as IPython's SVG requires) that runs ``script(kind)``."""
    js = script(kind)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9" onload="{js}">'
        f'<script>{js}</script><image href="data:," onerror="{js}"/>'
        f'<foreignObject><img xmlns="http://www.w3.org/1999/xhtml" src="data:," onerror="{js}"/>'
        f'</foreignObject><text class="canary">{kind}</text></svg>'
    )


@dataclass(frozen=True)
class Case:
    kind: str
    #: Code that shows the output; ``{markup}``, ``{svg}`` and ``{script}`` are the payload.
    code: str
    #: Inside the cell's outputs, what appears once the output is shown.
    shown: str
    #: Click what was shown (for outputs that would only misbehave on a click).
    click: bool = False

    def source(self) -> str:
        payloads = {"markup": markup, "svg": svg_markup, "script": script}
        return self.code.format(**{name: repr(make(self.kind)) for name, make in payloads.items()})


WIDGETS = "import ipywidgets as w\n"
DISPLAY = "from IPython.display import display, HTML, Latex, Markdown, SVG\n"
BROKEN_WIDGET = """\
import ipywidgets as w, traitlets as t
class Broken(w.DOMWidget):
    _view_name = t.Unicode({markup}).tag(sync=True)
    _view_module = t.Unicode('@jupyter-widgets/controls').tag(sync=True)
Broken()"""

CASES = [
    Case("widget-html", WIDGETS + "w.HTML({markup})", ".widget-html .canary"),
    Case(
        "widget-htmlmath", WIDGETS + "w.HTMLMath('$x^2$ ' + {markup})", ".widget-htmlmath .canary"
    ),
    Case(
        "widget-description",
        WIDGETS + "w.VBox([w.IntSlider(description={markup}, description_allow_html=True),"
        " w.Checkbox(description={markup}, description_allow_html=True),"
        " w.Text(description='$' + {markup} + '$', description_allow_html=True)])",
        ".widget-checkbox .canary",
    ),
    Case(
        "widget-tooltip",
        WIDGETS + "w.HBox([w.Button(description='b', tooltip={markup}),"
        " w.IntSlider(description='s', tooltip={markup}, description_allow_html=True),"
        " w.ToggleButtons(options=['a'], tooltips=[{markup}])])",
        ".widget-toggle-button",
    ),
    Case("widget-error-view", BROKEN_WIDGET, ".jupyter-widgets-error-widget", click=True),
    Case(
        "markdown", DISPLAY + "display(Markdown('**md** ' + {markup}))", ".markdown-output .canary"
    ),
    Case(
        "latex",
        DISPLAY + "display(Latex(r'$$\\href{{javascript:' + {script} + '}}{{x}}$$'))\n"
        "display(Latex('text ' + {markup}))",
        ".latex-output .canary",
    ),
    Case("svg", DISPLAY + "display(SVG({svg}))", "img.image-output"),
    Case("ansi-stream", "print('\\x1b[31m' + {markup} + '\\x1b[0m')", ".stream-text .ansi-fg-red"),
    Case("traceback", "raise ValueError({markup})", ".traceback"),
]

#: Marks left by the payload in this document or any open shadow root: handlers, script URLs.
ARMED_ELEMENTS = """() => {
  const found = [];
  const visit = (root) => {
    for (const el of root.querySelectorAll('*')) {
      for (const attr of el.attributes) {
        const armed = /^on/i.test(attr.name) || /^\\s*javascript:/i.test(attr.value);
        if (armed) found.push(el.tagName + ' ' + attr.name);
      }
      if (el.shadowRoot) visit(el.shadowRoot);
    }
  };
  visit(document);
  return found;
}"""

#: Every image in the document (and open shadow roots) has loaded or failed, so any onerror ran.
IMAGES_SETTLED = """() => {
  const images = [];
  const visit = (root) => {
    images.push(...root.querySelectorAll('img'));
    for (const el of root.querySelectorAll('*')) if (el.shadowRoot) visit(el.shadowRoot);
  };
  visit(document);
  return images.every((image) => image.complete);
}"""

NEXT_TASK = "() => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)))"


def watch_dialogs(context: Any) -> list[str]:
    """The messages of every dialog any page of ``context`` opens (each is dismissed)."""
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    context.on("dialog", dismiss)
    return dialogs


def open_short_link(context: Any, server: UiServer, code: str) -> Page:
    made = httpx.post(
        f"{server.url}api/permalinks",
        json={"code": code},
        headers={"Authorization": f"token {server.token}"},
    )
    made.raise_for_status()
    page: Page = context.new_page()
    page.goto(f"{made.json()['url']}?run=1&token={server.token}")
    return page


def assert_nothing_ran(page: Page, dialogs: list[str]) -> None:
    page.wait_for_function(IMAGES_SETTLED)
    page.evaluate(NEXT_TASK)
    assert page.evaluate(f"document.documentElement.getAttribute('{MARK}')") is None
    assert page.evaluate("window.__pwned") is None
    assert page.title() != "pwned"
    assert dialogs == []
    assert page.evaluate(ARMED_ELEMENTS) == []


@pytest.mark.parametrize("case", CASES, ids=[case.kind for case in CASES])
def test_output_runs_no_script_in_the_page(context: Any, ui_server: UiServer, case: Case) -> None:
    dialogs = watch_dialogs(context)
    page = open_short_link(context, ui_server, case.source())
    outputs = WorksheetPage(page).outputs(0)
    shown = outputs.locator(case.shown).first
    expect(shown).to_be_attached(timeout=RUN_TIMEOUT)
    if case.click:
        shown.click()
    assert_nothing_ran(page, dialogs)


def test_html_output_runs_only_in_a_frame_sandboxed_to_scripts(
    context: Any, ui_server: UiServer
) -> None:
    code = DISPLAY + f"display(HTML({markup('text-html')!r}))"
    dialogs = watch_dialogs(context)
    page = open_short_link(context, ui_server, code)
    frame = WorksheetPage(page).outputs(0).locator("iframe.html-output")
    expect(frame).to_have_attribute("sandbox", "allow-scripts", timeout=RUN_TIMEOUT)
    # The frame's own script runs (HTML output keeps its scripts) but cannot reach the page.
    inside = page.frame_locator("iframe.html-output").locator(f"html[{MARK}]")
    expect(inside).to_have_attribute(MARK, "text-html")
    assert_nothing_ran(page, dialogs)


EMBED_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>A course page</title></head><body>
<div class="cellhub" data-cellhub-autorun>CODE</div>
<script src="HUB/static/embed.js"></script>
</body></html>
"""


def test_embedded_widget_html_runs_no_script_in_the_embedding_page(
    context: Any, site: ThirdPartySite, public_hub: RunningHub
) -> None:
    payload = repr(markup("embed"))
    code = (
        "import ipywidgets as w\n"
        f"w.VBox([w.HTML({payload}), w.HTMLMath({payload}),"
        f" w.Checkbox(description={payload}, description_allow_html=True)])"
    )
    page_html = EMBED_PAGE.replace("HUB/", public_hub.url).replace("CODE", html.escape(code))
    dialogs = watch_dialogs(context)
    page, errors = test_embed.open_page(context, site, page_html)
    cell: Locator = page.locator("div.cellhub")
    expect(cell.locator(".widget-checkbox .canary")).to_be_attached(timeout=RUN_TIMEOUT)
    expect(cell.locator(".widget-html .canary")).to_have_text("embed")
    assert_nothing_ran(page, dialogs)
    assert page.title() == "A course page"
    assert errors == []
