"""Same-page merging: the template marks its memory, sessions inherit the marking, and
what a session allocates for the user's data is never marked."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cellhub.worker.pagemerge import (
    KSM,
    KSMD_SETTINGS,
    KSMD_SLEEP_MS,
    private_writable_ranges,
    restore_ksmd,
    run_ksmd,
)
from tests.conftest import RunningHub
from tests.kernel_client import Hub

MAPS = """\
55d0c0000000-55d0c0021000 r--p 00000000 08:01 123  /usr/bin/python3.11
55d0c0221000-55d0c0400000 rw-p 00221000 08:01 123  /usr/bin/python3.11
55d0c1000000-55d0c2000000 rw-p 00000000 00:00 0    [heap]
7f0000000000-7f0000100000 rw-p 00000000 00:00 0
7f0000100000-7f0000101000 ---p 00000000 00:00 0
7f0000200000-7f0000300000 rw-s 00000000 00:01 99   /dev/zero (deleted)
7f0000400000-7f0000500000 r--p 00000000 00:00 0
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0    [stack]
"""

#: Where this process's heap, a fresh 64 MiB buffer and its stack lie, and which of their
#: mappings carry the ``mg`` (mergeable) flag in /proc/self/smaps.
WHERE_MERGEABLE = """\
import ctypes, json
buffer = bytearray(64 << 20)
address = ctypes.addressof((ctypes.c_char * len(buffer)).from_buffer(buffer))
flags, current = {}, None
for line in open("/proc/self/smaps"):
    fields = line.split()
    if "-" in fields[0] and not fields[0].endswith(":"):
        start, end = (int(x, 16) for x in fields[0].split("-"))
        current = (start, end, fields[5] if len(fields) > 5 else "")
    elif fields[0] == "VmFlags:":
        flags[current] = "mg" in fields[1:]
heap = any(mg for (start, end, name), mg in flags.items() if name == "[heap]")
fresh = [mg for (start, end, name), mg in flags.items() if start <= address < end]
print(json.dumps({"heap": heap, "fresh": fresh, "marked": sum(flags.values())}))
"""


def test_only_private_writable_mappings_but_the_stack_are_chosen() -> None:
    assert private_writable_ranges(MAPS) == [
        (0x55D0C0221000, 0x55D0C0400000),  # the interpreter's data section
        (0x55D0C1000000, 0x55D0C2000000),
        (0x7F0000000000, 0x7F0000100000),
    ]


async def test_sessions_inherit_the_marking_but_not_for_new_memory(
    cellhub_server: RunningHub, hub: Hub
) -> None:
    line = next(line for line in cellhub_server.output if "page merging:" in line)
    assert "MiB of template memory marked" in line, line
    _, client = await hub.kernel()
    try:
        run = await client.execute(WHERE_MERGEABLE)
        assert run.reply is not None and run.reply["content"]["status"] == "ok", run.iopub
        found = json.loads(run.stream_text())
    finally:
        await client.close()
    assert found["heap"] is True and found["marked"] > 1
    assert found["fresh"] == [False]


@pytest.fixture
def host_ksmd() -> Iterator[None]:
    """Stop the host's ksmd for the test and put its settings back afterwards."""
    if os.geteuid() != 0 or not (KSM / "run").exists():
        pytest.skip("starting ksmd needs root and a kernel with KSM")
    saved = {name: (KSM / name).read_text().strip() for name in KSMD_SETTINGS}
    (KSM / "run").write_text("0")  # stopped; what it merged stays merged
    (KSM / "pages_to_scan").write_text("100")
    (KSM / "sleep_millisecs").write_text("20")
    yield
    for name in KSMD_SETTINGS:
        (KSM / name).write_text(saved[name])


def read(name: str) -> str:
    return (KSM / name).read_text().strip()


def host_settings() -> tuple[str, str, str]:
    return read("run"), read("pages_to_scan"), read("sleep_millisecs")


def test_a_stopped_ksmd_is_started_and_put_back(host_ksmd: None, tmp_path: Path) -> None:
    record = tmp_path / "ksmd.json"
    assert run_ksmd(0, record) == {}  # 0: leave it alone
    assert read("run") == "0" and not record.exists()
    changed = run_ksmd(1234, record)
    assert host_settings() == ("1", "1234", str(KSMD_SLEEP_MS))
    assert json.loads(record.read_text()) == changed
    assert run_ksmd(999, tmp_path / "other.json") == {}  # running: someone else's, left alone
    assert read("pages_to_scan") == "1234"
    restore_ksmd(changed, record)
    assert host_settings() == ("0", "100", "20")
    assert not record.exists()


def test_the_next_worker_puts_back_what_a_killed_one_changed(
    host_ksmd: None, tmp_path: Path
) -> None:
    record = tmp_path / "ksmd.json"
    run_ksmd(1234, record)  # ... and the worker is killed: nothing is put back
    assert host_settings() == ("1", "1234", str(KSMD_SLEEP_MS))
    taken_over = run_ksmd(500, record)
    assert read("pages_to_scan") == "500"
    restore_ksmd(taken_over, record)
    assert host_settings() == ("0", "100", "20") and not record.exists()

    run_ksmd(1234, record)  # killed again; the next worker leaves ksmd to the host
    assert run_ksmd(0, record) == {}
    assert host_settings() == ("0", "100", "20") and not record.exists()


def test_without_root_ksmd_is_left_alone(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("as root the worker may start ksmd (the test above)")
    before = (KSM / "run").read_text() if (KSM / "run").exists() else None
    assert run_ksmd(1000, tmp_path / "ksmd.json") == {}
    assert ((KSM / "run").read_text() if (KSM / "run").exists() else None) == before
    assert not (tmp_path / "ksmd.json").exists()
