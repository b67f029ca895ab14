"""A cellhub that offers Sage kernels, for the tests of the ``sage`` kind.

They need Sage (passagemath, ``pip install 'cellhub[sage]'``): where it is not installed
they are skipped, saying so, except in CI, which installs it (``scripts/setup test``), so
that there a missing Sage fails instead of hiding every Sage test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from cellhub.kernel_kinds import SAGE
from tests.conftest import RunningHub, start_cellhub
from tests.kernel_client import Hub

SAGE_AND_PYTHON = {"CELLHUB_KERNELS": "python3,sage"}


def require_sage() -> None:
    if SAGE.available():
        return
    message = f"Sage (passagemath) is not installed: {SAGE.install}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def sage_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """A cellhub offering python3 and sage kernels, shared by the tests of one module."""
    require_sage()
    server = start_cellhub(tmp_path_factory.mktemp("sage"), env=SAGE_AND_PYTHON)
    yield server
    server.stop()


@pytest.fixture
async def sage_hub(sage_server: RunningHub) -> AsyncIterator[Hub]:
    client = Hub(sage_server.url, sage_server.token)
    yield client
    await client.aclose()
