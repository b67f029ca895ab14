"""The ``cellhub`` command as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import start_cellhub
from tests.kernel_client import Hub, KernelClient


async def test_serve_from_a_private_directory_with_a_relative_data_dir(tmp_path: Path) -> None:
    """Sessions (other uids when root) must work wherever serve was started from."""
    private = tmp_path / "private" / "project"
    private.mkdir(parents=True)
    (tmp_path / "private").chmod(0o700)
    server = start_cellhub(
        private / "data", argv=["serve", "--port", "0", "--data-dir", "data"], cwd=private
    )
    try:
        assert (private / "data" / "cellhub.sqlite").exists()
        hub = Hub(server.url, server.token)
        kernel_id = await hub.start_kernel()
        kernel = await KernelClient.connect(server.url, server.token, kernel_id)
        run = await kernel.execute("import os\nprint(os.getcwd() == os.path.expanduser('~'))")
        assert run.stream_text() == "True\n"
        await kernel.close()
        await hub.aclose()
    finally:
        server.stop()
    assert "failed to start" not in "".join(server.output)


def test_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cellhub", "serve", "--port", "eighty", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "port" in done.stderr and "Traceback" not in done.stderr
