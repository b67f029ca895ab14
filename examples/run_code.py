"""Run code on a cellhub (or any Jupyter kernels API) from a script.

    .venv/bin/python examples/run_code.py http://127.0.0.1:8888 TOKEN "print('hello'); 6 * 7"

Starts a kernel, executes the code, prints what the kernel sends, shuts the kernel down.
REST goes through the standard library; the channels WebSocket through ``cellhub.client``,
which needs nothing but the ``websockets`` package.
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
import uuid

from cellhub.client import KernelSocket, execute_content, request_message


def rest(base: str, token: str, method: str, path: str) -> dict[str, object]:
    request = urllib.request.Request(
        f"{base}{path}", method=method, headers={"Authorization": f"token {token}"}, data=b"{}"
    )
    with urllib.request.urlopen(request) as response:
        body = response.read()
    return json.loads(body) if body else {}


async def run(base: str, token: str, code: str) -> int:
    kernel_id = str(rest(base, token, "POST", "/api/kernels")["id"])
    status = 0
    kernel = await KernelSocket.connect(base, token, kernel_id)
    try:
        request = request_message(
            "execute_request", execute_content(code), session=uuid.uuid4().hex, username="example"
        )
        async for msg in kernel.answer(await kernel.send(request)):
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "stream":
                print(content["text"], end="")
            elif kind in ("execute_result", "display_data"):
                print(content["data"].get("text/plain", ""))
            elif kind == "error":
                print("\n".join(content["traceback"]), file=sys.stderr)
                status = 1
    finally:
        await kernel.close()
    rest(base, token, "DELETE", f"/api/kernels/{kernel_id}")
    return status


if __name__ == "__main__":
    base_url, access_token, source = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    sys.exit(asyncio.run(run(base_url, access_token, source)))
