"""A session's way out: frames leave from the caller's thread, in order, held back on request."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from cellhub.session.outbox import DEFAULT_MAX_QUEUED, Outbox


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def available(sock: socket.socket) -> bytes:
    """Everything readable right now, without waiting."""
    chunks: list[bytes] = []
    while True:
        try:
            chunk = sock.recv(1 << 20, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return b"".join(chunks)
        chunks.append(chunk)


def receive(sock: socket.socket, size: int) -> bytes:
    sock.settimeout(10)
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(1 << 20)
        assert chunk, "the outbox's socket closed early"
        data += chunk
    return bytes(data)


def test_a_frame_leaves_without_the_writer_thread(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    outbox = Outbox(ours)  # its writer thread is never started
    outbox.put(b"one")
    outbox.put(b"two")
    assert available(theirs) == b"onetwo"


def test_held_frames_wait_for_release_and_leave_together(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    outbox = Outbox(ours)
    outbox.put(b"busy")
    outbox.hold()
    for frame in (b"input", b"result", b"reply", b"idle"):
        outbox.put(frame)
    assert available(theirs) == b"busy"
    outbox.release()
    assert available(theirs) == b"inputresultreplyidle"
    outbox.release()  # nothing held: nothing happens
    outbox.put(b"later")
    assert available(theirs) == b"later"


def test_muted_frames_are_dropped(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    outbox = Outbox(ours)
    outbox.muted = True
    outbox.put(b"rehearsal")
    outbox.muted = False
    outbox.put(b"real")
    assert available(theirs) == b"real"


def started_on_a_small_buffer(sock: socket.socket, max_queued: int = DEFAULT_MAX_QUEUED) -> Outbox:
    """An outbox with its writer running, on a socket that takes only 4 KiB at a time."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    outbox = Outbox(sock, max_queued)
    outbox.start()
    return outbox


def test_what_the_socket_cannot_take_goes_through_the_writer_in_order(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    outbox = started_on_a_small_buffer(ours)
    frames = [bytes([i]) * 100_000 for i in range(20)]  # far more than the socket buffer
    for frame in frames:
        outbox.put(frame)
    assert receive(theirs, 2_000_000) == b"".join(frames)


def test_a_full_queue_lets_held_frames_go_instead_of_blocking_forever(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    outbox = started_on_a_small_buffer(ours, max_queued=64 * 1024)
    outbox.hold()
    frames = [bytes([i]) * 10_000 for i in range(50)]  # 500 kB through a 64 kB queue

    def produce() -> None:
        for frame in frames:
            outbox.put(frame)

    producer = threading.Thread(target=produce)
    producer.start()
    assert receive(theirs, 500_000) == b"".join(frames)
    producer.join(10)
    assert not producer.is_alive()
