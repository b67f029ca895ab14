"""Data files for embedded cells, through a real hub and worker and a real web site of the
test's own: a start that names files has them in the kernel's working directory before its
first cell runs; a URL from an origin the deployment did not list, a name that is not a
plain file name, a redirect, a missing file and files past the size are refused with a
message that says which, and leave no kernel behind."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest

from tests.conftest import RunningHub, start_cellhub
from tests.hub.databases import database_env
from tests.kernel_client import Hub, KernelClient

pytestmark = pytest.mark.both_databases

SIZE = 4096


class DataSite(http.server.SimpleHTTPRequestHandler):
    """Serves its folder; ``/moved.csv`` redirects to ``/data.csv``."""

    def do_GET(self) -> None:
        if self.path == "/moved.csv":
            self.send_response(302)
            self.send_header("Location", "/data.csv")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test's output is the test's."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("site")
    (folder / "data.csv").write_text("a,b\n1,2\n")
    (folder / "table.txt").write_text("x y\n")
    (folder / "big.bin").write_bytes(b"\x00" * (SIZE + 1))
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(DataSite, directory=str(folder))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def cellhub_server(
    tmp_path_factory: pytest.TempPathFactory, site: str, module_database_url: str
) -> Iterator[RunningHub]:
    """The module's hub (and so the ``hub`` fixture's): it fetches from the site."""
    env = {"CELLHUB_DATA_ORIGINS": site, "CELLHUB_DATA_FILES_SIZE": str(SIZE)}
    env.update(database_env(module_database_url))
    running = start_cellhub(tmp_path_factory.mktemp("cellhub") / "data", env=env)
    yield running
    running.stop()


async def kernel_ids(hub: Hub) -> set[str]:
    return {model["id"] for model in (await hub.http.get("/api/kernels")).json()}


async def test_named_files_are_in_the_home_before_the_first_cell(hub: Hub, site: str) -> None:
    body = {"name": "python3", "files": [f"{site}/data.csv", f"{site}/table.txt"]}
    started = await hub.http.post("/api/kernels", json=body)
    assert started.status_code == 201, started.text
    kernel_id = started.json()["id"]
    async with await KernelClient.connect(hub.url, hub.token, kernel_id) as kernel:
        done = await kernel.execute(
            "import csv, os\nprint(list(csv.reader(open('data.csv'))), open('table.txt').read())"
            "\nprint(os.stat('data.csv').st_uid == os.getuid())"
        )
    assert done.reply is not None and done.reply["content"]["status"] == "ok", done.explain()
    assert "[['a', 'b'], ['1', '2']] x y" in done.stream_text()
    assert "True" in done.stream_text()
    assert (await hub.http.delete(f"/api/kernels/{kernel_id}")).status_code == 204


@pytest.mark.parametrize(
    ("files", "status", "says"),
    [
        ("data.csv", 400, "must be a list of URLs"),
        (["http://127.0.0.1:1/data.csv"], 400, "is not one of them"),
        (["file:///etc/passwd"], 400, "not an http or https URL"),
        (["{site}/"], 400, "is not a plain file name"),
        (["{site}/.hidden"], 400, "is not a plain file name"),
        (["{site}/data.csv", "{site}/sub/data.csv"], 400, "both be named 'data.csv'"),
        (["{site}/moved.csv"], 502, "redirects are not followed"),
        (["{site}/missing.csv"], 502, "404"),
        (["{site}/big.bin"], 413, f"more than {SIZE} bytes"),
    ],
)
async def test_refused_files_say_why_and_leave_no_kernel(
    hub: Hub, site: str, files: Any, status: int, says: str
) -> None:
    named = [url.format(site=site) for url in files] if isinstance(files, list) else files
    before = await kernel_ids(hub)
    answer = await hub.http.post("/api/kernels", json={"files": named})
    assert answer.status_code == status, answer.text
    assert says in answer.json()["message"]
    assert await kernel_ids(hub) == before


async def test_a_hub_that_lists_no_origin_fetches_nothing(
    fresh_server: RunningHub, site: str
) -> None:
    headers = {"Authorization": f"token {fresh_server.token}"}
    async with httpx.AsyncClient(base_url=fresh_server.url, headers=headers) as http:
        answer = await http.post("/api/kernels", json={"files": [f"{site}/data.csv"]})
    assert answer.status_code == 400 and "data_origins" in answer.json()["message"]


def test_the_site_serves_what_the_tests_expect(site: str) -> None:
    """The refusals above are the hub's, not a broken site's."""
    assert httpx.get(f"{site}/data.csv").text == "a,b\n1,2\n"
    assert len(httpx.get(f"{site}/big.bin").content) == SIZE + 1
