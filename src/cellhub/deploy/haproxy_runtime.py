"""Talking to a running HAProxy: its runtime API (a Unix socket on its host) to drain a hub and
put it back, and its stats page (HTTP, from any host) to see each hub's state.

A rolling restart (deploy/rolling_restart.py) drains a hub so that no new connection goes to
it, restarts it, and waits until every HAProxy of the deployment counts it UP again before it
takes the next one out: otherwise the last hub standing could be the one being restarted.
"""

from __future__ import annotations

import csv
import socket
from pathlib import Path

import httpx

#: The backend of the hubs in deploy/templates/haproxy.cfg.j2.
BACKEND = "hubs"
#: Seconds one command or stats request may take.
TIMEOUT = 5.0


class HAProxyError(RuntimeError):
    """HAProxy refused a command or did not answer."""


def runtime_command(admin_socket: Path, command: str) -> str:
    """One command of HAProxy's runtime API, and its answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(TIMEOUT)
            connection.connect(str(admin_socket))
            connection.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
    except OSError as exc:
        raise HAProxyError(f"HAProxy's runtime API at {admin_socket}: {exc}") from None
    answer = b"".join(chunks).decode(errors="replace").strip()
    if answer and not answer.startswith("#"):
        raise HAProxyError(f"HAProxy refused {command!r}: {answer}")
    return answer


def set_hub_state(admin_socket: Path, hub: str, state: str) -> None:
    """``ready``, ``drain`` (no new connection; those open go on) or ``maint``."""
    runtime_command(admin_socket, f"set server {BACKEND}/{hub} state {state}")


def hub_states(stats: str) -> dict[str, str]:
    """Each hub's status as the HAProxy whose stats are at ``stats`` (HOST:PORT) counts it:
    UP, DOWN, DRAIN, MAINT, or on the way (``UP 1/2``)."""
    try:
        response = httpx.get(f"http://{stats}/stats;csv", timeout=TIMEOUT)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise HAProxyError(f"HAProxy's stats at {stats}: {exc}") from None
    rows = csv.DictReader(response.text.removeprefix("# ").splitlines())
    return {
        row["svname"]: row["status"]
        for row in rows
        if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")
    }
