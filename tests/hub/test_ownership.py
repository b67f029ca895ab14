"""Accounts on a real ``cellhub serve`` (hub/ownership.py): each sees and uses only its own
kernels — REST and WebSocket — within its kernel limit, an administrator sees all, and an
admin's reset ends the account's kernels. Accounts and tokens are made with
``cellhub users``, as an administrator would on the host. On SQLite and on PostgreSQL
(tests/hub/conftest.py)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from cellhub.config import Config
from cellhub.db.accounts import AccountRepository
from cellhub.db.api_tokens import ApiTokenRepository
from cellhub.db.database import make_engine
from tests.conftest import RunningHub, start_cellhub
from tests.hub.databases import database_env
from tests.polling import until

pytestmark = pytest.mark.both_databases


def users(data_dir: Path, database_url: str, *argv: str) -> str:
    """Run ``cellhub users ARGV`` on the data dir; what it prints."""
    done = subprocess.run(
        [sys.executable, "-m", "cellhub", "users", *argv, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **database_env(database_url)},
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def tokens(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[tuple[RunningHub, dict[str, str]]]:
    """A hub whose accounts ada and bob (users) and root (admin) have API tokens; root's
    made with the command, the others' in process (each command is a second of start-up)."""
    data_dir = tmp_path_factory.mktemp("accounts")
    users(data_dir, module_database_url, "add", "root", "--admin")
    engine = make_engine(Config(data_dir=str(data_dir), database_url=module_database_url).db_url)
    made = {"root": users(data_dir, module_database_url, "token", "root")}
    for name in ("ada", "bob"):
        account = AccountRepository(engine).create(name)
        made[name] = ApiTokenRepository(engine).create(account.id)[0]
    engine.dispose()
    limits = {"CELLHUB_USER_MAX_KERNELS": "1", "CELLHUB_USER_MEMORY": str(ACCOUNT_MEMORY)}
    server = start_cellhub(data_dir, env={**limits, **database_env(module_database_url)})
    made["deployment"] = server.token
    yield server, made
    server.stop()


ACCOUNT_MEMORY = 300 * 2**20


def session_memory_limits(server: RunningHub) -> list[int]:
    """The memory limit of every session cgroup of the server's deployment, found below the
    memory cgroup its worker's sandbox line names (v1: ``memory: PATH``; v2: ``v2 (PATH)``)."""
    line = "".join(server.output)
    parent = re.search(r"memory: (/\S+?)[,)]|cgroup v2 \((/\S+?)\)", line)
    assert parent is not None, line
    found = []
    for directory in Path(parent.group(1) or parent.group(2)).glob("session-*"):
        for name in ("memory.limit_in_bytes", "memory.max"):
            with contextlib.suppress(OSError, ValueError):
                found.append(int((directory / name).read_text()))
    return found


def as_(server: RunningHub, token: str) -> httpx.AsyncClient:
    headers = {"Authorization": f"token {token}"}
    return httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30)


async def kernel_ids(http: httpx.AsyncClient) -> set[str]:
    return {model["id"] for model in (await http.get("api/kernels")).json()}


async def test_accounts_see_and_use_their_own_kernels(
    tokens: tuple[RunningHub, dict[str, str]],
) -> None:
    server, made = tokens
    async with (
        as_(server, made["ada"]) as ada,
        as_(server, made["bob"]) as bob,
        as_(server, made["root"]) as root,
        as_(server, made["deployment"]) as deployment,
    ):
        started = await ada.post("api/kernels", json={})
        assert started.status_code == 201, started.text
        kernel_id = started.json()["id"]
        if "sandbox: linux" in "".join(server.output):  # cgroups: the account's memory limit
            assert ACCOUNT_MEMORY in session_memory_limits(server)
        second = await ada.post("api/kernels", json={})
        assert second.status_code == 429 and "your account may run 1" in second.text
        assert await kernel_ids(ada) == {kernel_id}
        assert kernel_id not in await kernel_ids(bob)
        assert kernel_id in await kernel_ids(root) and kernel_id in await kernel_ids(deployment)
        for method, path in [
            ("GET", ""),
            ("POST", "/interrupt"),
            ("POST", "/restart"),
            ("DELETE", ""),
        ]:
            refused = await bob.request(method, f"api/kernels/{kernel_id}{path}")
            assert refused.status_code == 403, (method, path)
        assert (await root.get(f"api/kernels/{kernel_id}")).status_code == 200

        ws = server.url.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels"
        with pytest.raises(websockets.exceptions.InvalidStatus) as denied:
            await websockets.connect(f"{ws}?token={made['bob']}")
        assert denied.value.response.status_code == 403
        async with websockets.connect(f"{ws}?token={made['ada']}"):
            pass

        reset = await root.post("api/users/ada/reset")
        assert reset.status_code == 200
        await until(
            lambda: gone(deployment, kernel_id), "the reset account's kernel to end", timeout=30
        )
        assert (await ada.get("api/kernels")).status_code == 403


async def gone(http: httpx.AsyncClient, kernel_id: str) -> bool:
    return kernel_id not in await kernel_ids(http)
