"""Hubs started and left as the reconnect tests need them: a ``cellhub hub`` on a port of the
test's choosing (so a second hub can take the place of a killed one), and a client that
reads a long numbered print until its reply, telling whether the connection dropped first.

Shared by the reconnect test on one host and the cluster test's across hosts.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import websockets

from tests.conftest import RunningHub, start_cellhub
from tests.kernel_client import KernelClient

#: A print of 10**5 numbered lines, slow enough that a hub can be killed in the middle of it.
LONG_PRINT = (
    "import time\nfor i in range(10**5):\n    print(i)\n    if i % 1000 == 0: time.sleep(0.01)"
)
#: Everything LONG_PRINT prints, each line exactly once.
LONG_PRINT_OUTPUT = "".join(f"{i}\n" for i in range(10**5))


def start_hub(data_dir: Path, worker: str, port: int, token: str) -> RunningHub:
    argv = ["hub", "--data-dir", str(data_dir), "--workers", worker, "--port", str(port)]
    return start_cellhub(data_dir, env={"CELLHUB_TOKEN": token}, argv=argv)


async def collect(kernel: KernelClient, lines: list[str], seqs: list[int]) -> bool:
    """Read stream output until the execute_reply; False if the connection dropped first."""
    try:
        while True:
            msg = json.loads(await asyncio.wait_for(kernel.ws.recv(), 60))
            seqs.append(msg["cellhub_seq"])
            if msg["header"]["msg_type"] == "stream":
                lines.append(msg["content"]["text"])
            if msg["header"]["msg_type"] == "execute_reply":
                return True
    except websockets.exceptions.ConnectionClosed:
        return False
