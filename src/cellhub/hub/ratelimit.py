"""Per-client budgets, so that one abusive client cannot slow down everyone else.

A client is its network address (the hub sees HAProxy's forwarded address once it
is configured to trust it). Kernel starts over budget are refused with 429 and a
``Retry-After``; WebSocket messages over budget are not refused but read more
slowly, so nothing a client sent is lost and TCP pushes back on a flood.
"""

from __future__ import annotations

import time
from collections import OrderedDict

#: Clients remembered at once; the least recently seen are forgotten first.
MAX_CLIENTS = 65536


class TokenBucket:
    """``rate`` events per second on average, up to ``burst`` at once."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> float:
        """Spend one token; return 0, or how many seconds to wait until one is available."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class ClientBudget:
    """One kind of budget (say, kernel starts) for every client; ``rate`` 0 means unlimited."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, client: str) -> float:
        if self.rate <= 0:
            return 0.0
        bucket = self.buckets.get(client)
        if bucket is None:
            bucket = self.buckets[client] = TokenBucket(self.rate, self.burst)
            if len(self.buckets) > MAX_CLIENTS:
                self.buckets.popitem(last=False)
        else:
            self.buckets.move_to_end(client)
        return bucket.take()
