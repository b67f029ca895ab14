"""A worker's Unix socket: its user's alone, and a peer running as anyone else is turned away."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from pathlib import Path

import pytest

from cellhub.protocol import addresses

NOBODY = 65534


async def echo_server(path: Path, seen: list[int]) -> asyncio.Server:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(1)
        writer.write(await reader.readexactly(4))
        await writer.drain()
        writer.close()

    server, address = await addresses.listen_unix(handler, path)
    assert address == f"unix:{path}" and addresses.unix_path(address) == str(path)
    return server


async def test_the_socket_replaces_a_stale_one_and_is_the_users_alone(tmp_path: Path) -> None:
    path = tmp_path / "worker.sock"
    path.write_text("left by a dead worker")
    seen: list[int] = []
    server = await echo_server(path, seen)
    try:
        assert path.is_socket() and path.stat().st_mode & 0o777 == 0o600
        reader, writer = await addresses.connect(f"unix:{path}", context=None)  # type: ignore[arg-type]
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping" and seen == [1]
        writer.close()
    finally:
        server.close()


def connect_as_nobody(path: Path) -> bytes:
    """In a child running as nobody: connect, send, and report what came back."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(5)
                sock.connect(str(path))
                sock.sendall(b"ping")
                os.write(w, b"reply:" + sock.recv(4))
        except OSError as exc:
            os.write(w, f"error:{type(exc).__name__}".encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as result:
        answer = result.read()
    os.waitpid(pid, 0)
    return answer


async def test_a_peer_of_another_user_is_turned_away() -> None:
    if os.geteuid() != 0:
        pytest.skip("running a peer as another user needs root")
    # pytest's own temporary directories are closed to other users
    with tempfile.TemporaryDirectory() as where:
        Path(where).chmod(0o755)
        await check_turned_away(Path(where) / "worker.sock")


async def check_turned_away(path: Path) -> None:
    seen: list[int] = []
    server = await echo_server(path, seen)
    try:
        refused = await asyncio.to_thread(connect_as_nobody, path)
        assert refused == b"error:PermissionError"  # the file's mode stops it first
        path.chmod(0o666)  # and were the mode wrong, the peer check stops it
        turned_away = await asyncio.to_thread(connect_as_nobody, path)
        # the worker closes at once: the peer sees a reset or a broken pipe, by timing
        assert turned_away in (b"reply:", b"error:ConnectionResetError", b"error:BrokenPipeError")
        assert seen == []
    finally:
        server.close()


def test_long_paths_do_not_fit_a_unix_socket(tmp_path: Path) -> None:
    assert addresses.fits_unix_socket(tmp_path / "worker.sock")
    assert not addresses.fits_unix_socket(tmp_path / ("x" * 120) / "worker.sock")
