"""The workers file read: every worker with its defaults, and each kind of mistake refused
with a message that names it and its line (tests/hub/test_workers_file.py runs the file
watched by a real hub)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cellhub.hub.roster import RosterError, WorkerEntry, parse_roster, read_roster

TWO = """\
[[worker]]
name = "w1"
address = "192.0.2.2:7000"

[[worker]]
name = "w2"
address = "unix:/run/cellhub/worker.sock"
weight = 2.5
state = "draining"
"""


def test_workers_are_read_in_order_with_their_defaults() -> None:
    assert parse_roster(TWO) == [
        WorkerEntry("w1", "192.0.2.2:7000", weight=1.0, state="active"),
        WorkerEntry("w2", "unix:/run/cellhub/worker.sock", weight=2.5, state="draining"),
    ]


def test_inline_tables_are_workers_too() -> None:
    text = 'worker = [{name = "w1", address = "h:1", weight = 3}]'
    assert parse_roster(text) == [WorkerEntry("w1", "h:1", weight=3.0)]


def with_second(line: str) -> str:
    """TWO with ``line`` added to its second worker (which starts at line 5)."""
    return TWO + line + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[worker]]\nname = "w1"\naddress = \n', "not TOML: Invalid value (at line 3, column 11)"),
        ("", "no [[worker]] table: a hub needs at least one worker"),
        ("worker = 3", "no [[worker]] table"),
        ('hubs = ["a"]\n' + TWO, "unknown key 'hubs': the file holds [[worker]] tables only"),
        (with_second('colour = "red"'), "line 5, worker 'w2': unknown key 'colour'"),
        ('[[worker]]\naddress = "h:1"\n', "line 1: a worker needs a name"),
        ('[[worker]]\nname = "w"\n', "line 1, worker 'w': a worker needs an address"),
        ('[[worker]]\nname = "w"\naddress = "h"\n', "address 'h': an address is HOST:PORT"),
        ('[[worker]]\nname = "w"\naddress = "h:0"\n', "(port 1 to 65535)"),
        ('[[worker]]\nname = "w"\naddress = "unix:w.sock"\n', "needs an absolute path"),
        (
            TWO.replace('state = "draining"', 'state = "gone"'),
            "line 5, worker 'w2': state must be 'active' or 'draining', not 'gone'",
        ),
        (TWO.replace("2.5", "0"), "line 5, worker 'w2': weight must be a number above 0, not 0"),
        (TWO.replace("2.5", "true"), "weight must be a number above 0, not True"),
        (TWO.replace("2.5", "nan"), "weight must be a number above 0, not nan"),
        (TWO.replace('"w2"', '"w1"'), "line 5: name 'w1' is also that of line 1"),
        (
            TWO.replace("unix:/run/cellhub/worker.sock", "192.0.2.2:7000"),
            "line 5: address '192.0.2.2:7000' is also that of line 1",
        ),
        ("worker = [3]", "worker 1: a worker is a table"),
    ],
)
def test_a_mistake_is_refused_with_what_and_where(text: str, message: str) -> None:
    with pytest.raises(RosterError) as refused:
        parse_roster(text)
    assert message in str(refused.value)


def test_a_file_that_cannot_be_read_is_refused_too(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="cannot read it"):
        read_roster(tmp_path / "workers.toml")
