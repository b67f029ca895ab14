"""``jupyter server --gateway-url`` uses cellhub as its Kernel Gateway.

Jupyter Server's REST and WebSocket API (what JupyterLab speaks) is driven here, and every
kernel behind it is cellhub's: the kernel started through Jupyter Server must be listed by
cellhub under the same id, and code run through Jupyter Server's WebSocket must run there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cellhub.db.accounts import AccountRepository
from cellhub.db.api_tokens import ApiTokenRepository
from cellhub.db.database import make_engine
from tests.clients.jupyter_gateway import JupyterGateway, start_jupyter_gateway
from tests.conftest import RunningHub
from tests.kernel_client import Hub, KernelClient

pytest.importorskip("jupyter_server")


@pytest.fixture(scope="module")
def gateway(
    cellhub_server: RunningHub, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JupyterGateway]:
    server = start_jupyter_gateway(cellhub_server, tmp_path_factory.mktemp("jupyter"))
    yield server
    server.stop()


@pytest.fixture
async def jupyter(gateway: JupyterGateway) -> AsyncIterator[Hub]:
    client = Hub(gateway.url, gateway.token)
    yield client
    await client.aclose()


async def test_kernelspecs_come_from_cellhub(jupyter: Hub) -> None:
    specs = (await jupyter.http.get("/api/kernelspecs")).json()
    assert specs["default"] == "python3"
    assert "python3" in specs["kernelspecs"]


async def test_kernel_runs_on_cellhub(jupyter: Hub, hub: Hub, gateway: JupyterGateway) -> None:
    kernel_id, kernel = await jupyter.kernel()
    try:
        assert kernel_id in [k["id"] for k in (await hub.http.get("/api/kernels")).json()]
        execution = await kernel.execute("import os\nprint('hi', os.uname().nodename)\n6 * 7")
        assert execution.reply is not None and execution.reply["content"]["status"] == "ok"
        assert execution.stream_text() == "hi cellhub\n"
        assert execution.first("execute_result")["content"]["data"]["text/plain"] == "42"
    finally:
        await kernel.close()
    assert (await jupyter.http.delete(f"/api/kernels/{kernel_id}")).status_code == 204
    assert kernel_id not in [k["id"] for k in (await hub.http.get("/api/kernels")).json()]


async def test_session_through_the_gateway(jupyter: Hub, gateway: JupyterGateway) -> None:
    body = {"path": "a.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    response = await jupyter.http.post("/api/sessions", json=body)
    assert response.status_code == 201, response.text
    session = response.json()
    kernel = await KernelClient.connect(gateway.url, gateway.token, session["kernel"]["id"])
    try:
        assert (await kernel.execute("print(2 ** 10)")).stream_text() == "1024\n"
    finally:
        await kernel.close()
    assert (await jupyter.http.delete(f"/api/sessions/{session['id']}")).status_code == 204


async def test_a_persons_gateway_runs_their_own_kernels(
    cellhub_server: RunningHub, tmp_path: Path, hub: Hub
) -> None:
    """JupyterLab through the gateway, per person: with an account's API token, the kernels
    it starts are that account's, which another account does not see."""
    engine = make_engine(f"sqlite:///{cellhub_server.data_dir / 'cellhub.sqlite'}")
    accounts, tokens = AccountRepository(engine), ApiTokenRepository(engine)
    ada, bob = accounts.create("gateway-ada"), accounts.create("gateway-bob")
    ada_token, bob_token = tokens.create(ada.id)[0], tokens.create(bob.id)[0]
    engine.dispose()
    gateway = start_jupyter_gateway(cellhub_server, tmp_path, ada_token)
    try:
        jupyter = Hub(gateway.url, gateway.token)
        kernel_id, kernel = await jupyter.kernel()
        execution = await kernel.execute("6 * 7")
        assert execution.first("execute_result")["content"]["data"]["text/plain"] == "42"
        await kernel.close()
        await jupyter.aclose()
        for token, sees in ((ada_token, True), (bob_token, False)):
            listed = await hub.http.get("/api/kernels", headers={"Authorization": f"token {token}"})
            assert (kernel_id in [k["id"] for k in listed.json()]) is sees
    finally:
        gateway.stop()
