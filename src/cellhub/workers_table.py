"""``cellhub workers``: ask a running hub which workers it uses, and show them as a table.

It asks one hub's ``GET /api/workers`` (hub/workers_api.py) with the deployment's token
rather than reading the workers file: the file says what should be, a hub what is —
whether each worker is connected, its sessions, capacity and memory headroom from its last
load report, and the removed workers still draining. Every hub reads the same file, so any
hub lists the deployment's workers; whether each is connected is that hub's own view.

``cellhub workers --spares N [--worker NAME]`` first has the named worker (or each worker
the hub lists) keep ``N`` spare sessions ready (``POST /api/workers/spares``): before a
class that starts at once, each worker's share of the class; afterwards, a few again.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

COLUMNS = (
    "NAME",
    "ADDRESS",
    "STATE",
    "WEIGHT",
    "CONNECTED",
    "SESSIONS",
    "CAPACITY",
    "FREE",
    "SPARES",
    "MEMORY",
)
GiB = 2**30
MiB = 2**20


class HubUnavailable(Exception):
    """The hub could not be asked, or refused; the message says which and what to do."""


def fetch_workers(hub_url: str, token: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The hub's answer to ``GET /api/workers``."""
    workers: list[dict[str, Any]] = ask(hub_url, "/api/workers", token, None, timeout)
    return workers


def set_spares(
    hub_url: str, token: str, worker: str, spares: int, timeout: float = 30.0
) -> dict[str, Any]:
    """Have ``worker`` keep ``spares`` spare sessions; the hub's listing of it."""
    body = {"worker": worker, "spares": spares}
    listed: dict[str, Any] = ask(hub_url, "/api/workers/spares", token, body, timeout)
    return listed


def ask(hub_url: str, path: str, token: str, body: dict[str, Any] | None, timeout: float) -> Any:
    """The hub's JSON answer to a GET of ``path`` (or a POST of ``body``); HubUnavailable,
    saying what to do, when it cannot be asked or refuses."""
    request = urllib.request.Request(
        f"{hub_url.rstrip('/')}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 403:
            raise HubUnavailable(
                f"the hub at {hub_url} refused the token: give --token, or --data-dir of the hub"
            ) from None
        raise HubUnavailable(f"the hub at {hub_url} answered {exc.code}: {said(exc)}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HubUnavailable(f"no hub answers at {hub_url} ({reason}); give --hub URL") from None


def said(refusal: urllib.error.HTTPError) -> str:
    """The message of the hub's JSON error, or the HTTP reason."""
    try:
        return str(json.loads(refusal.read())["message"])
    except (ValueError, KeyError, TypeError, OSError):
        return str(refusal.reason)


def render(workers: list[dict[str, Any]]) -> str:
    """The workers as an aligned table, a header line first."""
    rows = [COLUMNS, *(row(worker) for worker in workers)]
    widths = [max(len(cells[n]) for cells in rows) for n in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        for cells in rows
    )


def row(worker: dict[str, Any]) -> tuple[str, ...]:
    return (
        worker["name"],
        worker["address"],
        worker["state"],
        f"{worker['weight']:g}",
        "yes" if worker["connected"] else "no",
        *(count(worker.get(key)) for key in ("sessions", "capacity", "free", "spares")),
        size(worker["memory"]),
    )


def count(value: int | None) -> str:
    return "-" if value is None else str(value)


def size(value: int | None) -> str:
    """Bytes in GiB or MiB; "-" when unknown."""
    if value is None:
        return "-"
    return f"{value / GiB:.1f} GiB" if value >= GiB else f"{value // MiB} MiB"
