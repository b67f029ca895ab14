"""The worker answers every failed request, and logs each kind of failure once, not per request."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

import pytest

from cellhub.config import load_config
from cellhub.protocol.hub_worker import Request, Start
from cellhub.worker.server import HubConnection, Worker
from tests.polling import until


class RecordingHub:
    def __init__(self) -> None:
        self.replies: list[tuple[int, bool, Any]] = []

    def reply(self, req: int, answer: Any) -> None:
        self.replies.append((req, True, answer))

    def failure(self, req: int, status: int, message: str) -> None:
        self.replies.append((req, False, {"status": status, "message": message}))


async def test_a_repeated_failure_is_logged_once_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = Worker(load_config(environ={}, overrides={"data_dir": str(tmp_path)}))
    worker.failures.interval = 0.2

    async def failing(asked: Request) -> Any:
        assert isinstance(asked, Start)
        raise RuntimeError(f"client-chosen text [{asked.kernel_id}]")

    monkeypatch.setattr(worker, "answer", failing)
    hub = RecordingHub()
    for req in range(1000):
        await worker.request(cast(HubConnection, hub), req, Start(str(req), "python3"))
    assert len(hub.replies) == 1000 and all(not ok for _, ok, _ in hub.replies)
    assert hub.replies[-1][2]["message"] == "RuntimeError: client-chosen text [999]"
    logged = ""

    def counted() -> list[int]:
        nonlocal logged
        logged += capsys.readouterr().err
        return [int(n) for n in re.findall(r"(\d+) more in the last 0.2 s", logged)]

    # The count is written at the end of the interval.
    await until(lambda: sum(counted()) >= 999, "the repeats counted")
    assert logged.count("Traceback") == 1
    assert sum(counted()) == 999 and len(logged) < 8000
