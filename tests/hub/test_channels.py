"""A kernel's output on the hub: delivered in order, acknowledged to the worker in batches,
each reply to the client that asked."""

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

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Nothing to close: the recorder holds no connection."""


def message(i: int, size: int = 100) -> bytes:
    return b'{"i":%d,"pad":"%s"}' % (i, b"x" * size)


async def test_small_output_is_acknowledged_once_after_a_pause() -> None:
    acks: list[int] = []
    kernel = KernelChannels("k", acks.append, lambda count: None)
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
    kernel = KernelChannels("k", acks.append, lambda count: None)
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


def reply(msg_id: str, session: str) -> bytes:
    header = b'{"msg_type":"execute_reply"}'
    parent = b'{"msg_id":"%s","session":"%s"}' % (msg_id.encode(), session.encode())
    return b'{"header":%s,"parent_header":%s,"content":{}}' % (header, parent)


async def test_replies_go_to_their_requester_and_iopub_to_all() -> None:
    """Two clients here; a third (session "elsewhere") asked through another hub, or asked
    before its socket dropped: a reply goes to the requester, by request or by session, and
    to no one who is known to be someone else."""
    counts: list[int] = []
    kernel = KernelChannels("k", lambda nbytes: None, counts.append)
    asker, watcher, anonymous = Recorder(), Recorder(), Recorder()
    kernel.add(asker, session="asker")
    kernel.add(watcher, session="watcher")
    try:
        kernel.route_reply("m1", asker)
        kernel.put(1, "shell", reply("m1", "asker"), None)
        kernel.put(2, "shell", reply("m2", "watcher"), None)  # asked before a reconnect
        kernel.put(3, "shell", reply("m3", "elsewhere"), None)  # asked through another hub
        kernel.put(4, "iopub", message(4), None)
        await until(lambda: len(watcher.texts) == 2, "the watcher's reply and the iopub message")
        kernel.add(anonymous)  # no session_id: it may be anyone, the requester included
        kernel.put(5, "shell", reply("m5", "elsewhere"), None)
        await until(lambda: bool(anonymous.texts), "the reply nobody else is known to want")
        assert [t[:20] for t in asker.texts] == ['{"cellhub_seq":1,"he', '{"cellhub_seq":4,"i"']
        assert [t[:20] for t in watcher.texts] == ['{"cellhub_seq":2,"he', '{"cellhub_seq":4,"i"']
        assert [t[:16] for t in anonymous.texts] == ['{"cellhub_seq":5']
        assert counts == [1, 2, 3], "the worker is told each client count"
        kernel.remove(watcher)
        assert counts[-1] == 2
    finally:
        kernel.close()
