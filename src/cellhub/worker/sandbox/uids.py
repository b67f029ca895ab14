"""The pool of uids handed to sessions: one uid (and the gid of the same number) per session."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from cellhub.worker.sandbox.base import SandboxError

DEFAULT_UID_RANGE = range(200_000, 200_000 + 4096)
"""High ids that no distribution assigns to users; no /etc/passwd entries are needed."""


class UidPool:
    """Hands out each uid to one lease at a time, least recently used first.

    A uid comes back only through :meth:`give_back`, which the sandbox calls
    once no process with that uid is left; a uid whose processes could not be
    killed is :meth:`quarantine`\\ d for the life of the template instead.
    """

    def __init__(self, ids: range) -> None:
        if not ids or ids.start < 1:
            raise SandboxError(f"invalid uid range {ids!r}")
        self.ids = ids
        self._free = deque(ids)
        self.quarantined: set[int] = set()

    def take(self, usable: Callable[[int], bool]) -> int:
        """The least recently used free uid for which ``usable(uid)`` holds."""
        for _ in range(len(self._free)):
            uid = self._free.popleft()
            if usable(uid):
                return uid
            self._free.append(uid)
        raise SandboxError(f"no free uid left in {self.ids.start}-{self.ids.stop - 1}")

    def give_back(self, uid: int) -> None:
        self._free.append(uid)

    def quarantine(self, uid: int) -> None:
        self.quarantined.add(uid)

    def __len__(self) -> int:
        return len(self._free)
