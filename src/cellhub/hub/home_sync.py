"""The hub's side of "the files are the session's home": a logged-in user's kernel gets the
user's files in its home before its start is answered, and what its code writes there is
saved back into the user's files: every ``files_save_interval`` seconds, when asked
(``POST /api/kernels/{id}/files``), and before the kernel is shut down through the API.

Per kernel this hub restored, it remembers the owner and ``since``, the last of the
kernel's commits the store holds: a save asks the worker for the commits after it, and the
store appends them, merging with what changed meanwhile (storage/user_files.py). A save the
store refuses (the quota) leaves ``since`` where it was, so nothing is skipped next time.

A kernel culled by its worker (idle, lifetime) loses what its code wrote after the last
timed save: the worker ends it without asking a hub.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from cellhub.hub.kernels import KernelService
from cellhub.protocol import hub_worker
from cellhub.storage.user_files import QuotaExceeded, Saved, UserFiles

log = logging.getLogger("cellhub.hub.files")
#: Largest piece of a bundle in one frame (the frame limit is 64 MiB).
PIECE = 8 * 1024 * 1024


@dataclass
class Tracked:
    owner: str
    since: str


class HomeSync:
    def __init__(self, files: UserFiles) -> None:
        self.files = files
        self.tracked: dict[str, Tracked] = {}
        self.saving: dict[str, asyncio.Lock] = {}

    async def restore(self, kernels: KernelService, kernel_id: str, owner: str) -> None:
        """Put ``owner``'s files into the kernel's home. An owner with no files yet costs the
        start nothing more: the home is empty, and the worker finds it at the first save."""
        found = await asyncio.to_thread(self.files.full_bundle, owner)
        if found is None:
            self.tracked[kernel_id] = Tracked(owner, "")
            return
        head, bundle = found
        link = await kernels.locate(kernel_id)
        for offset in range(0, len(bundle), PIECE):
            piece = bundle[offset : offset + PIECE]
            asked = hub_worker.RestoreFiles(kernel_id, offset, piece, len(bundle))
            await link.request(asked, timeout=120)
        self.tracked[kernel_id] = Tracked(owner, head)

    async def push(self, kernels: KernelService, owner: str) -> None:
        """The owner's files as they are now into the homes of the owner's kernels this hub
        restored (after an upload); a kernel that cannot take them is logged and left."""
        for kernel_id, tracked in list(self.tracked.items()):
            if tracked.owner != owner:
                continue
            try:
                async with self.saving.setdefault(kernel_id, asyncio.Lock()):
                    await self.send_update(kernels, kernel_id, tracked)
            except Exception as exc:  # noqa: BLE001 - the kernel may have ended meanwhile
                log.warning("upload not put in the home: %s", exc, extra={"kernel_id": kernel_id})

    async def send_update(self, kernels: KernelService, kernel_id: str, tracked: Tracked) -> None:
        bundle = await asyncio.to_thread(self.files.bundle_since, tracked.owner, tracked.since)
        if bundle is None:
            return
        link = await kernels.locate(kernel_id)
        for offset in range(0, len(bundle), PIECE):
            piece = bundle[offset : offset + PIECE]
            asked = hub_worker.UpdateFiles(kernel_id, offset, piece, len(bundle))
            await link.request(asked, timeout=120)

    async def save(self, kernels: KernelService, kernel_id: str) -> Saved | None:
        """Save the kernel's home into its owner's files; None: nothing changed (or the
        kernel is not one this hub restored)."""
        tracked = self.tracked.get(kernel_id)
        if tracked is None:
            return None
        async with self.saving.setdefault(kernel_id, asyncio.Lock()):
            bundle = await self.fetch(kernels, kernel_id, tracked)
            if bundle is None:
                return None
            saved = await asyncio.to_thread(
                self.files.take_save, tracked.owner, tracked.since, bundle
            )
            tracked.since = saved.session_head
        if saved.conflicts:
            log.info(
                "saved with conflict copies: %s",
                ", ".join(saved.conflicts),
                extra={"kernel_id": kernel_id},
            )
        return saved

    async def fetch(self, kernels: KernelService, kernel_id: str, tracked: Tracked) -> bytes | None:
        """The worker's bundle of the kernel's commits after ``since``, piece by piece."""
        link = await kernels.locate(kernel_id)
        limit = self.files.quota
        data = bytearray()
        while True:
            asked = hub_worker.SaveFiles(kernel_id, tracked.since, len(data), limit)
            answer: hub_worker.FilesSaved | None = await link.request(asked, timeout=120)
            if answer is None:
                return None
            data += answer["piece"]
            if len(data) >= answer["total"] or not answer["piece"]:
                return bytes(data)

    async def save_quietly(self, kernels: KernelService, kernel_id: str) -> None:
        """A save whose failure is logged, not raised (a timer's, a shutdown's)."""
        try:
            await self.save(kernels, kernel_id)
        except QuotaExceeded as exc:
            log.warning("not saved: %s", exc, extra={"kernel_id": kernel_id})
        except Exception as exc:  # noqa: BLE001 - the kernel may be gone; the next save retries
            log.warning("not saved: %s", exc, extra={"kernel_id": kernel_id})

    async def save_owner(self, kernels: KernelService, owner: str) -> None:
        """Save the homes of the owner's kernels this hub restored (before a cloud push)."""
        for kernel_id, tracked in list(self.tracked.items()):
            if tracked.owner == owner:
                await self.save_quietly(kernels, kernel_id)

    def forget(self, kernel_id: str) -> None:
        self.tracked.pop(kernel_id, None)
        self.saving.pop(kernel_id, None)

    async def save_forever(self, kernels: KernelService, interval: float) -> None:
        """Save every tracked kernel's home each ``interval`` seconds; forget ended ones."""
        while True:
            await asyncio.sleep(interval)
            for kernel_id in list(self.tracked):
                if kernel_id in kernels.gone:
                    self.forget(kernel_id)
                    continue
                await self.save_quietly(kernels, kernel_id)
