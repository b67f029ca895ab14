"""Waiting in tests for something to happen: poll the condition, bounded, never a fixed sleep.

A fixed sleep is either too short on a loaded machine (a flaky test) or longer than needed
everywhere else (a slow one). ``until`` returns as soon as the condition holds and fails the
test with ``what`` once ``timeout`` has passed without it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def until(
    condition: Callable[[], bool | Awaitable[bool]],
    what: str,
    timeout: float = 10.0,
    interval: float = 0.02,
) -> None:
    """``condition`` may return a bool or an awaitable one (a REST call, say)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        met = condition()
        if inspect.isawaitable(met):
            met = await met
        if met:
            return
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(interval)
