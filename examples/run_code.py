"""Run code on a cellhub (or any Jupyter kernels API) with nothing but the websockets package.

    python examples/run_code.py http://127.0.0.1:8888 TOKEN "print('hello'); 6 * 7"

Starts a kernel, executes the code, prints what the kernel sends, shuts the kernel down.
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
import uuid

import websockets


def rest(base: str, token: str, method: str, path: str) -> dict[str, object]:
    request = urllib.request.Request(
        f"{base}{path}", method=method, headers={"Authorization": f"token {token}"}, data=b"{}"
    )
    with urllib.request.urlopen(request) as response:
        body = response.read()
    return json.loads(body) if body else {}


async def run(base: str, token: str, code: str) -> int:
    kernel = rest(base, token, "POST", "/api/kernels")
    url = base.replace("http", "ws", 1) + f"/api/kernels/{kernel['id']}/channels?token={token}"
    status = 0
    async with websockets.connect(url) as ws:
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "session": uuid.uuid4().hex,
            "username": "example",
            "date": "",
            "version": "5.3",
        }
        await ws.send(
            json.dumps(
                {
                    "header": header,
                    "parent_header": {},
                    "metadata": {},
                    "content": {"code": code, "silent": False},
                    "channel": "shell",
                }
            )
        )
        idle = replied = False
        while not (idle and replied):
            msg = json.loads(await ws.recv())
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "stream":
                print(content["text"], end="")
            elif kind in ("execute_result", "display_data"):
                print(content["data"].get("text/plain", ""))
            elif kind == "error":
                print("\n".join(content["traceback"]), file=sys.stderr)
                status = 1
            elif kind == "status":
                idle = content["execution_state"] == "idle"
            elif kind == "execute_reply":
                replied = True
    rest(base, token, "DELETE", f"/api/kernels/{kernel['id']}")
    return status


if __name__ == "__main__":
    base_url, access_token, source = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    sys.exit(asyncio.run(run(base_url, access_token, source)))
