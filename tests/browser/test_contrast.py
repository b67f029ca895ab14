"""Tracebacks and coloured streams are readable: axe-core's color-contrast rule (WCAG AA) finds
nothing in them, in the light and the dark theme.

IPython marks the failing expression with black on yellow (``ESC[30;43m``) and colours
keywords with a 256-colour green (``ESC[38;5;28m``); the sixteen ANSI colours are checked on
stdout and stderr. axe-core comes from the front end's own packages (``npm ci`` in
frontend/), installed into a temporary directory when frontend/node_modules is absent, as
tests/test_frontend_bundle.py does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.worksheet_page import WorksheetPage

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
AXE = Path("node_modules") / "axe-core" / "axe.min.js"

FAILING = "def g(d):\n    return 1 + d['k'] * 2\n\ng({})"
COLOURS = (
    "import sys\n"
    "codes = [*range(30, 38), *range(90, 98)]\n"
    "line = ' '.join(f'\\x1b[{c}mcolour {c}\\x1b[0m' for c in codes)\n"
    "print(line)\n"
    "print(line, file=sys.stderr)"
)
CONTRAST = """async () => {
  const outputs = { include: [[".output.error"], [".output.stream"]] };
  const result = await axe.run(outputs, { runOnly: ["color-contrast"] });
  return {
    violations: result.violations.flatMap((rule) => rule.nodes.map((node) => node.failureSummary)),
    checked: result.passes.reduce((count, rule) => count + rule.nodes.length, 0),
  };
}"""


@pytest.fixture(scope="module")
def axe_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if (FRONTEND / AXE).is_file():
        return FRONTEND / AXE
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    work = tmp_path_factory.mktemp("axe")
    for name in ["package.json", "package-lock.json"]:
        shutil.copy2(FRONTEND / name, work / name)
    subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=work,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return work / AXE


@pytest.mark.parametrize(
    "context",
    [{"color_scheme": "light", "bypass_csp": True}, {"color_scheme": "dark", "bypass_csp": True}],
    ids=["light", "dark"],
    indirect=True,
)
def test_traceback_and_ansi_colours_meet_wcag_aa(page: Any, axe_script: Path) -> None:
    sheet = WorksheetPage(page)
    outputs = sheet.run_and_wait(0, FAILING)
    expect(outputs.locator(".traceback .ansi-bg-yellow").first).to_be_visible()
    sheet.add_cell()
    sheet.run_and_wait(1, COLOURS)
    expect(sheet.outputs(1).locator(".stream.stderr")).to_contain_text("colour 97")
    page.add_script_tag(path=str(axe_script))
    result = page.evaluate(CONTRAST)
    assert result["violations"] == []
    assert result["checked"] > 20, "axe looked at the coloured text"
