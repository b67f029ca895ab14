"""The pool of uids handed to sessions: one uid (and the gid of the same number) per session.

Several workers may run on one host (a second deployment, or tests). A uid is
therefore claimed host-wide with an ``flock`` on ``/run/cellhub/uids/<uid>``
for as long as a lease holds it; the kernel drops the lock if the template dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections import deque
from collections.abc import Callable
from pathlib import Path

from cellhub.sandbox.base import SandboxError

DEFAULT_UID_RANGE = range(200_000, 200_000 + 4096)
"""High ids that no distribution assigns to users; no /etc/passwd entries are needed."""
LOCK_DIR = Path("/run/cellhub/uids")


class UidPool:
    """Hands out each uid to one lease at a time, least recently used first.

    A uid comes back only through :meth:`give_back`, which the sandbox calls
    once no process with that uid is left; a uid whose processes could not be
    killed is :meth:`quarantine`\\ d for the life of the template instead (and
    stays locked, so no other worker on the host takes it either).

    Making sure of "no process left" means reading all of ``/proc``, which costs about
    0.15 ms per process on the host: some 100 ms with hundreds of sessions alive, far more
    than the rest of a session's end. So a released uid is first :meth:`set_aside`, still
    locked and out of the free list, and one look at ``/proc`` :meth:`verify`\\ s a whole
    batch of them at once.
    """

    def __init__(self, ids: range, lock_dir: Path = LOCK_DIR) -> None:
        if not ids or ids.start < 1:
            raise SandboxError(f"invalid uid range {ids!r}")
        self.ids = ids
        self.lock_dir = lock_dir
        lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._free = deque(ids)
        self._locks: dict[int, int] = {}
        self.quarantined: set[int] = set()
        #: Released uids not yet seen free of processes (still locked, not in the free list).
        self.unverified: set[int] = set()
        os.register_at_fork(after_in_child=self._forget_locks)

    def _forget_locks(self) -> None:
        """A forked session must not keep other sessions' uid locks alive (or its own)."""
        for fd in self._locks.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._locks = {}

    def _lock(self, uid: int) -> bool:
        fd = os.open(self.lock_dir / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._locks[uid] = fd
        return True

    def _unlock(self, uid: int) -> None:
        fd = self._locks.pop(uid, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def take(self, usable: Callable[[int], bool]) -> int:
        """The least recently used free uid that no other worker holds and ``usable`` accepts."""
        for _ in range(len(self._free)):
            uid = self._free.popleft()
            if self._lock(uid):
                if usable(uid):
                    return uid
                self._unlock(uid)
            self._free.append(uid)
        raise SandboxError(f"no free uid left in {self.ids.start}-{self.ids.stop - 1}")

    def give_back(self, uid: int) -> None:
        self._unlock(uid)
        self._free.append(uid)

    def set_aside(self, uid: int) -> None:
        """Hold a released ``uid`` until :meth:`verify` finds no process of it left."""
        self.unverified.add(uid)

    def verify(self, in_use: set[int]) -> set[int]:
        """Give back every set-aside uid that ``in_use`` (the uids of the living processes)
        lacks; the set-aside uids still in use, which stay set aside."""
        busy = self.unverified & in_use
        for uid in self.unverified - busy:
            self.give_back(uid)
        self.unverified = busy
        return busy

    def quarantine(self, uid: int) -> None:
        self.unverified.discard(uid)
        self.quarantined.add(uid)

    def __len__(self) -> int:
        return len(self._free)
