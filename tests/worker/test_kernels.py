"""The worker's kernel (worker/kernels.py): its flow window counts each pause, once per
closing, for the hubs' /metrics; and the causes of a session's end, as metrics count them."""

from __future__ import annotations

from typing import Any

from cellhub.protocol.hub_worker import END_CAUSES
from cellhub.worker.kernels import KILLED, OUT_OF_CPU, WorkerKernel, cause_of


class Link:
    """A hub connection that takes every frame."""

    def __init__(self) -> None:
        self.frames: list[list[Any]] = []

    def send(self, frame: list[Any]) -> None:
        self.frames.append(frame)


def test_each_closing_of_the_window_is_one_pause() -> None:
    kernel = WorkerKernel("k", "python3", 100, 10_000, lambda *_: None, lambda *_: None)
    link = Link()
    kernel.attach(link, 1)
    kernel.broadcast("iopub", "stream", b"x" * 60, None)
    assert kernel.window_open.is_set() and kernel.flow_pauses == 0
    kernel.broadcast("iopub", "stream", b"x" * 60, None)
    kernel.broadcast("iopub", "stream", b"x" * 60, None)  # still closed: the same pause
    assert not kernel.window_open.is_set() and kernel.flow_pauses == 1
    kernel.ack(link, 180)
    assert kernel.window_open.is_set()
    kernel.broadcast("iopub", "stream", b"x" * 120, None)
    assert kernel.flow_pauses == 2
    assert len(link.frames) == 4


def test_a_session_s_end_has_a_counted_cause() -> None:
    assert cause_of(KILLED) == "killed"
    assert cause_of(OUT_OF_CPU) == "cpu"
    assert cause_of("session exited with code 1") == "exited"
    assert {"killed", "cpu", "exited"} <= set(END_CAUSES)
