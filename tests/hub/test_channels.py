"""A kernel's output on the hub: delivered in order, acknowledged to the worker in batches."""

from __future__ import annotations

from cellhub.hub import channels
from cellhub.hub.channels import KernelChannels
from tests.polling import until


class Recorder:
    """A client that keeps what it is sent."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def send_text(self, data: str) -> None:
        self.texts.append(data)

    async def send_bytes(self, data: bytes) -> None:
        raise AssertionError("no binary message was sent")


def message(i: int, size: int = 100) -> bytes:
    return b'{"i":%d,"pad":"%s"}' % (i, b"x" * size)


async def test_small_output_is_acknowledged_once_after_a_pause() -> None:
    acks: list[int] = []
    kernel = KernelChannels("k", acks.append)
    client = Recorder()
    kernel.add(client)
    try:
        sent = [message(i) for i in range(1, 6)]
        for seq, data in enumerate(sent, 1):
            kernel.put(seq, "iopub", data, None)
        await until(lambda: len(client.texts) == 5, "the five messages delivered")
        assert [int(t.split(",")[0].split(":")[1]) for t in client.texts] == [1, 2, 3, 4, 5]
        assert acks == []  # five small messages: one acknowledgement, a moment later
        await until(lambda: bool(acks), "the acknowledgement", timeout=channels.ACK_DELAY * 20)
        assert acks == [sum(map(len, sent))]
    finally:
        kernel.close()


async def test_streaming_output_is_acknowledged_as_it_goes() -> None:
    acks: list[int] = []
    kernel = KernelChannels("k", acks.append)
    kernel.add(Recorder())
    try:
        sent = [message(i, 4096) for i in range(1, 41)]  # 160 kB: ten acknowledgement batches
        for seq, data in enumerate(sent, 1):
            kernel.put(seq, "iopub", data, None)
        await until(lambda: len(acks) >= 9, "nine full acknowledgements")
        assert all(n >= channels.ACK_BATCH for n in acks)
        await until(lambda: sum(acks) >= sum(map(len, sent)), "every byte acknowledged")
        assert sum(acks) == sum(map(len, sent))  # every byte, exactly once
    finally:
        kernel.close()
