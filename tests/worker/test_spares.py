"""The spare pool made bigger or smaller while it runs (``SparePool.resize``): it asks the
template for the missing forks, ends the newest spares beyond the new number, and ends a
fork asked for before a resize down that arrives with no start waiting for it; a start
still claims a spare. The pool alone, with the template's fork and kill recorded; a real
worker doing it is tests/hub/test_spares_api.py.
"""

from __future__ import annotations

import socket

from cellhub.worker.session_log import SessionLog
from cellhub.worker.spares import SparePool


class Template:
    """What the pool asked of the template: forks (each spare or not), and sessions ended."""

    def __init__(self) -> None:
        self.forks: list[bool] = []
        self.ended: list[int] = []
        self.sockets: dict[int, socket.socket] = {}

    def deliver(self, pool: SparePool, *pids: int) -> None:
        """The template's forks arrive as sessions ``pids``."""
        for pid in pids:
            ours, theirs = socket.socketpair()
            theirs.close()
            self.sockets[pid] = ours
            pool.on_forked(pid, ours)

    def close(self) -> None:
        """Close the sessions' sockets the pool still holds (its spares)."""
        for sock in self.sockets.values():
            sock.close()


def pool_of(template: Template, spares: int) -> SparePool:
    pool = SparePool(
        spares, 10, template.forks.append, lambda: 0, SessionLog(), template.ended.append
    )
    pool.template_ready.set()
    pool.refill()
    return pool


async def test_a_bigger_pool_forks_the_missing_spares_and_a_smaller_ends_the_newest() -> None:
    template = Template()
    pool = pool_of(template, 2)
    template.deliver(pool, 101, 102)
    pool.resize(4)
    assert template.forks == [True] * 4
    template.deliver(pool, 103, 104)
    pool.resize(1)
    assert template.ended == [104, 103, 102]
    assert list(pool.pids()) == [101]
    assert all(template.sockets[pid].fileno() == -1 for pid in template.ended)
    assert template.sockets[101].fileno() != -1
    session = await pool.take()
    session.close()
    assert session.pid == 101


async def test_a_fork_asked_for_before_a_resize_down_is_ended_when_it_arrives() -> None:
    template = Template()
    pool = pool_of(template, 1)
    template.deliver(pool, 201)
    pool.resize(3)
    pool.resize(1)
    assert (len(template.forks), template.ended) == (3, []), "two forks were on their way"
    template.deliver(pool, 202, 203)
    assert template.ended == [202, 203]
    assert list(pool.pids()) == [201]
    pool.on_exited(202, -9)  # the template reports the ends: no failure, no fork again
    assert (len(template.forks), pool.failures) == (3, 0)
    template.close()


async def test_a_pool_keeps_no_more_spares_than_kernels_could_claim() -> None:
    template = Template()
    pool = pool_of(template, 2)  # max_sessions 10
    template.deliver(pool, 301, 302)
    pool.resize(50)
    assert (pool.spare_sessions, len(template.forks)) == (10, 10)
    template.close()
