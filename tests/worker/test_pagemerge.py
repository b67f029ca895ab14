"""Same-page merging: the template marks its memory, sessions inherit the marking, and
what a session allocates for the user's data is never marked."""

from __future__ import annotations

import json

from cellhub.template.pagemerge import private_writable_ranges
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
