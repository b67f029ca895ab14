"""Data files for embedded cells: a page that embeds cells names files (embed.js's
``data-cellhub-files``, ``"files"`` in ``POST /api/kernels``) that are in the kernel's
working directory before its first cell runs, so that ``pd.read_csv("data.csv")`` works in
a textbook's cell as it does on the author's machine.

The hub fetches each URL itself and hands the bytes to the worker (protocol ``put_file``),
all before it answers the start. It fetches only from the origins the deployment lists in
``data_origins`` (the sites whose pages embed its cells, or its own static site), never
follows a redirect (which could lead anywhere, the hub's own network included), uses no
proxy from its environment, and stops reading past ``data_files_size`` bytes in all: a page
can make the hub neither a proxy into its network nor the filler of a home. A file is named
by the last segment of its URL's path, which must be a plain, visible name, and a start
names each name once.

Errors are the API's (``{"message", "reason"}``): 400 for a list, URL or name refused,
saying which and why; 413 past ``data_files_size``; 502 when the origin did not give the
file, with its answer. The URLs are checked before a kernel is started; the files are
fetched once it is (so that the client's start budget counts them), and the kernel is shut
down when one cannot be fetched or written: a kernel without the data its cells expect
would only fail later, less clearly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from cellhub.hub.json_api import Refused, error
from cellhub.hub.kernels import KernelService
from cellhub.protocol import hub_worker

#: Most data files one start may name.
MOST_FILES = 20
#: Seconds to fetch each file (connect, and between pieces read).
FETCH_TIMEOUT = 20.0
#: Seconds the worker may take to write a file into the home (the session may still be
#: entering its sandbox).
PUT_TIMEOUT = 60.0


@dataclass(frozen=True)
class DataFile:
    url: str
    name: str


def requested(value: Any, origins: list[str]) -> list[DataFile]:
    """The data files a start's ``files`` names; :class:`Refused` (400) for anything else."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(url, str) for url in value):
        raise Refused(error(400, "'files' must be a list of URLs"))
    if len(value) > MOST_FILES:
        raise Refused(error(400, f"a kernel may start with at most {MOST_FILES} data files"))
    allowed = {origin.rstrip("/").lower() for origin in origins}
    files = [checked(url, allowed) for url in value]
    twice = [name for name, count in Counter(file.name for file in files).items() if count > 1]
    if twice:
        raise Refused(error(400, f"two data files would both be named {twice[0]!r}"))
    return files


def checked(url: str, allowed: set[str]) -> DataFile:
    """One data file's URL, if the hub may fetch it, and the name it gets in the home."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Refused(error(400, f"data file {url!r}: not an http or https URL"))
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if origin not in allowed:
        raise Refused(
            error(
                400,
                f"data file {url!r}: this hub fetches data files only from the origins its "
                f"deployment lists in data_origins, and {origin} is not one of them",
            )
        )
    name = unquote(parts.path.rsplit("/", 1)[-1])
    if not name or name.startswith(".") or any(c in name for c in "/\\\x00") or len(name) > 255:
        raise Refused(error(400, f"data file {url!r}: {name!r} is not a plain file name"))
    return DataFile(url, name)


async def fetched(files: list[DataFile], most: int) -> list[tuple[str, bytes]]:
    """Each file's name and bytes, fetched in turn; :class:`Refused` (413, 502) as the
    module says."""
    got: list[tuple[str, bytes]] = []
    total = 0
    timeout = httpx.Timeout(FETCH_TIMEOUT)
    async with httpx.AsyncClient(follow_redirects=False, timeout=timeout, trust_env=False) as web:
        for file in files:
            data = await fetch_one(web, file, most - total, most)
            total += len(data)
            got.append((file.name, data))
    return got


async def fetch_one(web: httpx.AsyncClient, file: DataFile, room: int, most: int) -> bytes:
    try:
        async with web.stream("GET", file.url) as answer:
            if answer.status_code != 200:
                why = f"its site answered {answer.status_code} {answer.reason_phrase}"
                if answer.is_redirect:
                    why += " (redirects are not followed)"
                raise Refused(error(502, f"data file {file.url}: {why}"))
            data = bytearray()
            async for piece in answer.aiter_bytes():
                data += piece
                if len(data) > room:
                    message = f"the data files take more than {most} bytes (data_files_size)"
                    raise Refused(error(413, message))
            return bytes(data)
    except httpx.HTTPError as exc:
        raise Refused(error(502, f"data file {file.url}: {exc or type(exc).__name__}")) from None


async def fill_home(
    kernels: KernelService, kernel_id: str, files: list[DataFile], most: int
) -> None:
    """Fetch the files into the new kernel's home. Fetched only once the kernel is started,
    so that the client's start budget counts them; the kernel is shut down if any fails."""
    try:
        contents = await fetched(files, most)
        link = await kernels.locate(kernel_id)
        for name, data in contents:
            await link.request(hub_worker.PutFile(kernel_id, name, data), timeout=PUT_TIMEOUT)
    except BaseException as exc:
        with contextlib.suppress(Exception):  # it may be gone already
            await kernels.shutdown(kernel_id)
        if isinstance(exc, Refused | asyncio.CancelledError):
            raise
        raise Refused(error(500, f"the data files could not be put in the kernel: {exc}")) from exc
