"""A template that cannot make a session (here: its one uid is taken) fails the kernel start
that waits for it within a moment, saying why, instead of leaving it to time out.

Before, the template's refusal was only logged: the worker went on counting the fork as
pending, and the start hung until the hub gave up on it 30 s later.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import start_cellhub
from tests.kernel_client import Hub

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the uid pool is root's only")

#: A pool of one uid, of this test's own.
ONE_UID = {"CELLHUB_UID_POOL_START": "233000", "CELLHUB_UID_POOL_SIZE": "1"}


async def test_a_session_the_template_cannot_make_fails_the_start_with_why(
    tmp_path: Path,
) -> None:
    env = {**ONE_UID, "CELLHUB_PRELOAD": "", "CELLHUB_SPARE_SESSIONS": "1"}
    running = start_cellhub(tmp_path, env)
    hub = Hub(running.url, running.token)
    try:
        first = await hub.http.post("/api/kernels", json={"name": "python3"}, timeout=60)
        assert first.status_code == 201, first.text
        second = await hub.http.post("/api/kernels", json={"name": "python3"}, timeout=25)
        assert second.status_code == 500, second.text
        assert "no free uid left in 233000-233000" in second.json()["message"]
        again = await hub.http.get(f"/api/kernels/{first.json()['id']}")
        assert again.status_code == 200, "the kernel that has the uid goes on"
    finally:
        await hub.aclose()
        running.stop()
