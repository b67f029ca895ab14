"""Session tests share one fork-server driver per module; a module's ``PRELOAD`` list,
if it has one, is what that driver imports before forking. Sandboxes a test made itself
are closed after it (:func:`opened`), so no deployment cgroup stays on the host."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cellhub.sandbox import SessionSandbox
from tests.worker.session_client import SessionClient, SessionServer

#: Sandboxes the running test made, to close when it ends.
OPEN_SANDBOXES: list[SessionSandbox] = []


def opened(sandbox: SessionSandbox) -> SessionSandbox:
    """``sandbox``, to be closed once the test that made it ends."""
    OPEN_SANDBOXES.append(sandbox)
    return sandbox


@pytest.fixture(autouse=True)
def close_sandboxes() -> Iterator[None]:
    yield
    while OPEN_SANDBOXES:
        OPEN_SANDBOXES.pop().close()


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SessionServer]:
    directory = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    preload = getattr(request.module, "PRELOAD", None)
    driver = SessionServer(directory, preload) if preload is not None else SessionServer(directory)
    yield driver
    driver.close()


@pytest.fixture
def kernel(server: SessionServer) -> Iterator[SessionClient]:
    with server.session() as client:
        yield client
