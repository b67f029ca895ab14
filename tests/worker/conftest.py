"""Session tests share one fork-server driver per module; a module's ``PRELOAD`` list,
if it has one, is what that driver imports before forking."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.worker.session_client import SessionClient, SessionServer


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
