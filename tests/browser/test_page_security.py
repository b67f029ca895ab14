"""The worksheet under its Content-Security-Policy, and a same-site page forging requests with the
login cookie (hub/login.py, hub/security_headers.py, hub/output_frame.py), in Chromium."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import ThirdPartySite, UiServer, open_worksheet
from tests.browser.worksheet_page import WorksheetPage

#: A page of another origin on the same host (so the SameSite cookie goes along) that tries
#: to start a kernel and stop every kernel with the browser's login cookie.
FORGER = """<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="form" method="post" action="{hub}api/kernels" target="sink"></form>
<script>
async function forge() {{
  const results = [];
  const sent = {{ credentials: "include", mode: "no-cors" }};
  await fetch("{hub}api/kernels", {{ ...sent, method: "POST" }});
  results.push("post:sent");
  for (const id of {kernels}) {{
    await fetch("{hub}api/kernels/" + id, {{ ...sent, method: "DELETE" }}).catch(() => null);
  }}
  document.querySelector("iframe").addEventListener("load", () => {{
    results.push("form:sent");
    document.title = results.join(" ");
  }});
  document.getElementById("form").submit();
}}
forge();
</script></body></html>"""


def live_kernels(server: UiServer) -> set[str]:
    token = {"Authorization": f"token {server.token}"}
    answer = httpx.get(f"{server.url}api/kernels", headers=token)
    assert answer.status_code == 200
    return {kernel["id"] for kernel in answer.json()}


def test_a_same_site_page_cannot_use_the_login_cookie(
    context: Any, ui_server: UiServer, site: ThirdPartySite
) -> None:
    open_worksheet(context, ui_server)
    assert any(cookie["name"] == "cellhub_login" for cookie in context.cookies())
    before = live_kernels(ui_server)
    assert before, "the worksheet started a kernel"
    site.page = FORGER.format(hub=ui_server.url, kernels=sorted(before))
    forger = context.new_page()
    forger.goto(f"{site.origin}/forge")
    expect(forger).to_have_title("post:sent form:sent")
    assert live_kernels(ui_server) == before


def test_worksheet_runs_outputs_with_the_policy_in_force(context: Any, ui_server: UiServer) -> None:
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    answer = page.goto(f"{ui_server.url}?token={ui_server.token}")
    assert answer is not None and "script-src 'self'" in answer.headers["content-security-policy"]
    assert ui_server.token not in page.content()
    page.wait_for_selector('.kernel-state[data-state="idle"]', timeout=60_000)
    sheet = WorksheetPage(page)
    outputs = sheet.run_and_wait(
        0,
        "import matplotlib.pyplot as plt, ipywidgets as w\n"
        "from IPython.display import HTML, Math, Markdown, display\n"
        'display(HTML(\'<p id="x">static</p><script>'
        'document.getElementById("x").textContent = "ran in " + origin</script>\'))\n'
        "display(Math(r'\\int_0^1 x\\,dx'), Markdown('**bold** $x^2$'), w.IntSlider(3))\n"
        "plt.plot([1, 3, 2]); plt.show()",
    )
    expect(outputs.locator("img.image-output")).to_be_visible()
    expect(page.frame_locator("iframe.html-output").locator("#x")).to_have_text("ran in null")
    expect(outputs.locator(".latex-output .katex-display")).to_have_count(1)
    expect(outputs.locator(".markdown-output .katex")).to_have_count(1)
    expect(outputs.locator(".widget-slider").first).to_be_visible()
    assert problems == []

    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injected = true'; document.head.append(s); }"
    )
    assert page.evaluate("window.injected") is None
    assert any("Content Security Policy" in problem for problem in problems)
