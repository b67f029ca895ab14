"""JSON the hub cannot decode or encode again (too deep, wrong types, NUL characters) gets a
4xx or a protocol error reply with a message: never a 500, a closed socket or a traceback."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningHub, start_cellhub
from tests.kernel_client import Hub, request_message


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def no_traceback(server: RunningHub, since: int) -> None:
    output = "".join(server.output[since:])
    assert "Traceback" not in output, output[-3000:]


@pytest.mark.parametrize(
    "body",
    [
        {"code": "1", "interact_state": nested(260)},
        {"code": "1", "interact_state": {"x": nested(250)}},
        {"code": "1\x00"},
        {"code": "1", "kernel_name": "python3\x00"},
    ],
    ids=["260-deep", "250-deep", "nul-code", "nul-name"],
)
async def test_permalink_bodies_the_hub_cannot_store(
    cellhub_server: RunningHub, hub: Hub, body: dict[str, Any]
) -> None:
    since = len(cellhub_server.output)
    response = await hub.http.post("/api/permalinks", content=json.dumps(body))
    assert response.status_code == 400 and response.json()["message"], response.text
    no_traceback(cellhub_server, since)


@pytest.mark.parametrize(
    "body",
    [json.dumps({"name": nested(300)}), json.dumps({"name": 3}), "[" * 2000, '"\\ud800"'],
    ids=["deep-name", "number-name", "deep-invalid", "lone-surrogate"],
)
async def test_kernel_start_bodies_the_hub_cannot_use(
    cellhub_server: RunningHub, hub: Hub, body: str
) -> None:
    since = len(cellhub_server.output)
    response = await hub.http.post("/api/kernels", content=body)
    assert response.status_code == 400 and response.json()["message"], response.text
    no_traceback(cellhub_server, since)


@pytest.mark.parametrize("kernel_id", ["%00", "x" * 5000, "..%2F..%2Fetc"])
async def test_odd_kernel_ids_are_no_kernel(
    cellhub_server: RunningHub, hub: Hub, kernel_id: str
) -> None:
    since = len(cellhub_server.output)
    response = await hub.http.get(f"/api/kernels/{kernel_id}")
    assert response.status_code == 404
    no_traceback(cellhub_server, since)


def deep_messages() -> list[str | bytes]:
    deep_header = request_message("bogus_request", {})
    deep_header["header"]["extra"] = nested(250)
    deep_content = request_message("execute_request", {"code": "1", "x": nested(250)})
    deep_part = json.dumps(request_message("kernel_info_request", {"x": nested(250)})).encode()
    binary = struct.pack(">III", 2, 12, 12 + len(deep_part)) + deep_part + b"\x01"
    return [json.dumps(deep_header), json.dumps(deep_content), binary]


async def test_websocket_messages_too_deep_to_answer(cellhub_server: RunningHub, hub: Hub) -> None:
    since = len(cellhub_server.output)
    _, kernel = await hub.kernel()
    for raw in deep_messages():
        await kernel.ws.send(raw)
        answer = await kernel.recv()
        assert answer["content"]["ename"] == "InvalidMessage", answer
        assert "deep" in answer["content"]["evalue"] or "encoded" in answer["content"]["evalue"]
    still = await kernel.execute("1 + 1")
    assert still.first("execute_result")["content"]["data"]["text/plain"] == "2"
    await kernel.close()
    no_traceback(cellhub_server, since)


@pytest.fixture(scope="module")
def on_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """An anonymous-friendly hub on PostgreSQL, whose text columns refuse NUL characters."""
    from tests.db.postgres import running_postgres

    workdir = tmp_path_factory.mktemp("nul")
    with running_postgres(workdir / "pg") as url:
        env = {"CELLHUB_DATABASE_URL": url, "CELLHUB_ALLOW_ANONYMOUS": "1"}
        server = start_cellhub(workdir / "data", env=env)
        yield server
        server.stop()


async def test_nul_characters_never_reach_postgresql(on_postgres: RunningHub) -> None:
    since = len(on_postgres.output)
    auth = {"Authorization": f"token {on_postgres.token}"}
    async with httpx.AsyncClient(base_url=on_postgres.url) as http:
        assert (await http.get("/api/kernels/%00", headers=auth)).status_code == 404
        assert (await http.get("/api/kernels/%00")).status_code == 403  # anonymous
        shared = await http.post("/api/permalinks", json={"code": "\x00"}, headers=auth)
        assert shared.status_code == 400
    no_traceback(on_postgres, since)
