"""The page and embedded cells ride out a hub killed mid-output: they reconnect by themselves,
resume after the last message they had, and show every line exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ThirdPartySite, UiServer, open_worksheet
from tests.browser.test_embed import open_page
from tests.browser.worksheet_page import WorksheetPage
from tests.conftest import RunningHub
from tests.db.postgres import free_port
from tests.hubs import start_hub, start_worker

TOKEN = "resume-t0ken"
LINES = 800
#: Long enough to kill the hub while it prints; the page's reconnect may come after the end.
PRINT_SLOWLY = f"import time\nfor i in range({LINES}):\n    print(i)\n    time.sleep(0.02)"
EXPECTED = "".join(f"{i}\n" for i in range(LINES))
EMBEDDING_PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>A lesson</title></head><body>
<div class="cellhub" data-cellhub-autorun><script type="text/x-python">
{PRINT_SLOWLY}
</script></div>
<script src="HUB/static/embed.js" data-cellhub-init="manual"></script>
<script>cellhub.init({{token: "{TOKEN}"}});</script>
</body></html>
"""


@dataclass
class Restartable:
    """A hub in front of a worker of its own, which a test may kill and start again."""

    hub: RunningHub
    worker: str
    port: int
    data_dir: Path
    env: dict[str, str]

    def kill_and_restart(self) -> None:
        os.kill(self.hub.process.pid, signal.SIGKILL)
        self.hub.process.wait()
        self.hub = start_hub(self.data_dir, self.worker, self.port, TOKEN, self.env)


@pytest.fixture
def restartable(tmp_path: Path, site: ThirdPartySite) -> Iterator[Restartable]:
    """The hub lets the site's pages use it (CORS), as a course site's pages would."""
    worker: subprocess.Popen[str]
    worker, address = start_worker(tmp_path)
    port, env = free_port(), {"CELLHUB_CORS_ORIGINS": site.origin}
    hub = start_hub(tmp_path, address, port, TOKEN, env)
    served = Restartable(hub, address, port, tmp_path, env)
    yield served
    served.hub.stop()
    worker.terminate()
    worker.wait(15)


def test_page_and_embedded_cell_resume_after_their_hub_is_killed(
    context: Any, site: ThirdPartySite, restartable: Restartable
) -> None:
    hub = restartable.hub
    sheet = WorksheetPage(open_worksheet(context, UiServer(hub.url, hub.token)))
    sheet.run(0, PRINT_SLOWLY)
    lesson, errors = open_page(context, site, EMBEDDING_PAGE.replace("HUB/", hub.url))
    embedded = lesson.locator("div.cellhub")
    sheet_text = sheet.outputs(0).locator(".stream-text")
    embedded_text = embedded.locator(".outputs .stream-text")
    expect(sheet_text).to_contain_text("\n10\n", timeout=60_000)
    expect(embedded_text).to_contain_text("\n10\n", timeout=60_000)

    restartable.kill_and_restart()

    sheet.wait_done(0, timeout=120_000)
    expect(embedded).to_have_attribute("data-cellhub-state", "idle", timeout=120_000)
    for shown in (sheet_text, embedded_text):
        assert shown.text_content() == EXPECTED, "every line, once, in order"
    sheet.kernel_state("idle")
    assert sheet.page.evaluate("window.cellhub.worksheet.cells[0].outputs.all.length") == 1
    assert errors == []
