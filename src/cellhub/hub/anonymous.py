"""Anonymous access: clients without the token, for embedded cells and public pages.

When a deployment sets ``allow_anonymous``, a client without the token may start kernels
of its own — at most ``anonymous_kernels_per_client`` at once, each culled after
``anonymous_idle_timeout`` idle and ended after ``anonymous_max_lifetime`` (the worker
enforces both; the hub passes them in the start frame) — and use only those: look them up,
interrupt, restart, shut down, connect to their channels. It may also create and read
permalinks and read the kernel specs. It never sees or touches anyone else's kernel: its
kernel list holds its own kernels only, and any other kernel id answers 403. Its Jupyter
sessions (``/api/sessions``) are kept to its own by the sessions API (hub/sessions_api.py).

Which routes let anonymous clients in, and from which origins, the route table declares
and hub/access.py enforces; this module says on what terms such a client runs kernels, and
hub/ownership.py what it (like every client) may then touch.

An anonymous client is its network address (as for the per-client budgets); its kernels
are recorded with the owner ``anonymous:<address>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from cellhub.config import Config
from cellhub.hub.auth import client_address

OWNER_PREFIX = "anonymous:"


@dataclass(frozen=True)
class AnonymousPolicy:
    allowed: bool
    kernels_per_client: int
    idle_timeout: float
    max_lifetime: float
    origins: list[str]

    @classmethod
    def from_config(cls, config: Config) -> AnonymousPolicy:
        return cls(
            config.allow_anonymous,
            config.anonymous_kernels_per_client,
            config.anonymous_idle_timeout,
            config.anonymous_max_lifetime,
            config.cors_origins,
        )

    def kernel_options(self) -> dict[str, float]:
        """What the worker enforces for an anonymous kernel (see worker/server.py's start)."""
        return {"idle_timeout": self.idle_timeout, "max_lifetime": self.max_lifetime}


def owner(conn: HTTPConnection) -> str:
    return OWNER_PREFIX + client_address(conn)
