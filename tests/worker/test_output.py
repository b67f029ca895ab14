"""No lost output: every line, in order, then idle and the reply — every time."""

from __future__ import annotations

import asyncio

from tests.kernel_client import Hub, request_message

TEN_THOUSAND = "\n".join(str(i) for i in range(10**4)) + "\n"


async def test_ten_thousand_lines_fifty_times_on_one_kernel(hub: Hub) -> None:
    _, kernel = await hub.kernel()
    for _ in range(50):
        run = await kernel.execute("for i in range(10**4): print(i)")
        assert run.stream_text() == TEN_THOUSAND
        assert run.msg_types[-1] == "status" and run.reply is not None
        assert run.reply["content"]["status"] == "ok"
    await kernel.close()


async def test_ten_thousand_lines_on_fresh_kernels(hub: Hub) -> None:
    async def one() -> None:
        kernel_id, kernel = await hub.kernel()
        run = await kernel.execute("for i in range(10**4): print(i)")
        assert run.stream_text() == TEN_THOUSAND
        await kernel.close()
        await hub.http.delete(f"/api/kernels/{kernel_id}")

    for _ in range(10):
        await asyncio.gather(*(one() for _ in range(5)))


async def test_a_million_lines(hub: Hub) -> None:
    _, kernel = await hub.kernel()
    run = await kernel.execute("for i in range(10**6): print(i)", timeout=120)
    lines = run.stream_text().splitlines()
    assert len(lines) == 10**6
    assert lines == [str(i) for i in range(10**6)]
    assert run.reply is not None and run.reply["content"]["status"] == "ok"
    await kernel.close()


async def test_one_twenty_megabyte_print(hub: Hub) -> None:
    _, kernel = await hub.kernel()
    run = await kernel.execute("print('x' * (20 * 2**20))", timeout=120)
    assert run.stream_text() == "x" * (20 * 2**20) + "\n"
    await kernel.close()


async def test_output_cap_truncates_with_a_notice(hub: Hub) -> None:
    _, kernel = await hub.kernel()
    run = await kernel.execute("for i in range(60): print('y' * 2**20)", timeout=120)
    out = run.stream_text()
    assert 49 * 2**20 < len(out) <= 50 * 2**20 + 2**20
    assert "truncated" in run.stream_text("stderr")
    assert run.msg_types[-1] == "status" and run.reply is not None
    after = await kernel.execute("print('still here')")
    assert after.stream_text() == "still here\n"
    await kernel.close()


async def test_slow_reader_slows_the_producer(hub: Hub) -> None:
    """A client that stops reading pauses the session instead of filling memory."""
    _, kernel = await hub.kernel()
    _, probe = await hub.kernel()
    code = "import time\nt0 = time.time()\nfor i in range(40): print(i, 'x' * 2**20)\n"
    code += "print('took', time.time() - t0)"
    await kernel.send(request_message("execute_request", {"code": code, "silent": False}))
    await asyncio.sleep(3)  # kept: the test is a client that reads nothing for 3 s
    other = await probe.execute("1 + 1")
    assert other.reply is not None, "another kernel must not be held up by a slow client"
    collected = ""
    while True:
        msg = await kernel.recv()
        if msg["header"]["msg_type"] == "stream":
            collected += msg["content"]["text"]
        if msg["header"]["msg_type"] == "execute_reply":
            break
    lines = collected.splitlines()
    assert lines[:-1] == [f"{i} " + "x" * 2**20 for i in range(40)]
    assert float(lines[-1].split()[1]) > 2.0, "the session should have waited for the reader"
    await kernel.close()
    await probe.close()
