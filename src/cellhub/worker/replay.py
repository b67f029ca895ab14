"""The last messages a kernel sent, numbered, so that a client that reconnects misses nothing.

Every message a kernel sends gets the next number of its sequence. A client that
comes back (after a dropped connection, or after its hub restarted) names the last
number it saw and receives everything after it, exactly once. The buffer is
bounded in bytes; when a client has been away so long that the messages it needs
were evicted, it is told how many it lost instead of silently missing them.
"""

from __future__ import annotations

from collections import deque

Entry = tuple[int, str, bytes]


class ReplayBuffer:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.entries: deque[Entry] = deque()
        self.size = 0
        self.next_seq = 1

    def append(self, channel: str, data: bytes) -> int:
        """Number and keep one message; evict the oldest beyond the byte budget."""
        seq = self.next_seq
        self.next_seq += 1
        self.entries.append((seq, channel, data))
        self.size += len(data)
        while self.size > self.max_bytes and len(self.entries) > 1:
            self.size -= len(self.entries.popleft()[2])
        return seq

    def since(self, after: int) -> tuple[int, list[Entry]]:
        """Messages numbered above ``after``, and how many of those were already evicted."""
        oldest = self.entries[0][0] if self.entries else self.next_seq
        lost = max(0, oldest - after - 1)
        return lost, [entry for entry in self.entries if entry[0] > after]
