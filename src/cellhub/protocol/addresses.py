"""Where a worker listens for hubs: TCP with mutual TLS, or a Unix socket on the same host.

Between hosts, a hub and a worker prove who they are with certificates signed by the
deployment's CA. A hub on the worker's own host (``cellhub serve``) connects through
a Unix socket instead, written ``unix:/path``: the file is the worker's user's alone
(mode 0600, in the 0700 data dir), and the worker also checks that the peer runs as
that user or as root. That spares every message the encryption, which cost a tenth of
a cell's round trip on one machine.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

UNIX_PREFIX = "unix:"
#: Longest path a Unix socket address holds on Linux (sun_path, less its final NUL).
MAX_UNIX_PATH = 107
_UCRED = struct.Struct("3i")

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def unix_path(address: str) -> str | None:
    """The socket path of a ``unix:`` address; None for host:port."""
    return address[len(UNIX_PREFIX) :] if address.startswith(UNIX_PREFIX) else None


def address_error(address: str) -> str | None:
    """Why ``address`` is not a worker's address (``HOST:PORT`` or ``unix:/PATH``); None
    when it is one."""
    path = unix_path(address)
    if path is not None:
        return None if path.startswith("/") else "a unix: address needs an absolute path"
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return "an address is HOST:PORT (port 1 to 65535) or unix:/PATH"
    return None


def fits_unix_socket(path: Path) -> bool:
    return len(os.fsencode(path)) <= MAX_UNIX_PATH


async def connect(
    address: str, context: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a hub's connection to the worker at ``address``."""
    path = unix_path(address)
    if path is not None:
        return await asyncio.open_unix_connection(path)
    host, _, port = address.rpartition(":")
    return await asyncio.open_connection(host, int(port), ssl=context, server_hostname=host)


async def listen_unix(handler: Handler, path: Path) -> tuple[asyncio.Server, str]:
    """Listen on ``path`` (replacing a socket a dead worker left); return the address."""
    path.unlink(missing_ok=True)
    server = await asyncio.start_unix_server(_same_user_only(_ends_when_cancelled(handler)), path)
    path.chmod(0o600)
    return server, f"{UNIX_PREFIX}{path}"


async def listen_tcp(
    handler: Handler,
    host: str,
    port: int,
    context: ssl.SSLContext,
    refused: Callable[[ssl.SSLError], None],
) -> tuple[asyncio.Server, str]:
    """Listen with TLS; each handshake this end refuses is passed to ``refused``, which
    asyncio's and uvloop's TLS servers would not tell (they log it in debug mode only).

    The hook is the context's SSLObject class (``context`` is changed): upgrading a plain
    stream with ``start_tls`` in the handler instead would lose a ClientHello that arrived
    before it (uvloop reads as soon as a connection is made), and the handshake would hang.
    """
    context.sslobject_class = _reporting(refused)
    server = await asyncio.start_server(_ends_when_cancelled(handler), host, port, ssl=context)
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    return server, f"{bound_host}:{bound_port}"


def _reporting(refused: Callable[[ssl.SSLError], None]) -> type[ssl.SSLObject]:
    class Reporting(ssl.SSLObject):
        def do_handshake(self) -> None:
            try:
                super().do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise  # not a failure: the handshake waits for the peer
            except ssl.SSLError as exc:
                refused(exc)
                raise

    return Reporting


def peer_uid(sock: socket.socket) -> int:
    _pid, uid, _gid = _UCRED.unpack(
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    )
    return int(uid)


def _ends_when_cancelled(handler: Handler) -> Handler:
    """A connection's handler cancelled (its server's loop ends: the service is stopping)
    closes the connection and returns: asyncio's streams on Python 3.11 ask a cancelled
    handler's task for its exception, which raises, and print a traceback for every
    connection open at the stop."""

    async def handling(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except asyncio.CancelledError:
            writer.close()

    return handling


def _same_user_only(handler: Handler) -> Handler:
    async def checked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is None or peer_uid(sock) not in (0, os.geteuid()):
            writer.close()
            return
        await handler(reader, writer)

    return checked
