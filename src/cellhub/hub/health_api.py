"""``GET /api/health`` (readiness) and ``GET /api/health/live`` (liveness), for load
balancers and supervisors.

- **Ready** means this hub can serve kernels: the database answers a trivial query within
  ``DATABASE_TIMEOUT`` seconds, and at least one worker is connected. 200 then; else 503,
  and ``problems`` says in words which part is not ready. HAProxy sends clients only to
  ready hubs (deploy/templates/haproxy.cfg.j2).
- **Live** means the process answers: always 200, touching neither the database nor the
  workers, so that a supervisor restarting hung processes does not restart every hub when
  the database is down (which restarting would not cure).

Both are public (``Access.ANYONE``): a load balancer holds no token. They tell nothing about
the deployment beyond counts: not the database's URL or its error, not the workers'
addresses. And since anyone may ask, the database is asked once at a time, and its answer
is reused for ``DATABASE_REUSE`` seconds: asking often cannot become load on the database,
and a database that hangs holds one thread, not one per request.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cellhub.hub.access import Access, Guarded
from cellhub.hub.kernels_api import service

#: Seconds the database has to answer ``SELECT 1`` before the hub counts it unreachable.
DATABASE_TIMEOUT = 2.0
#: Seconds an answer of the database (or its silence) is reused for the next callers.
DATABASE_REUSE = 1.0


class DatabaseProbe:
    """Whether the database answers: at most one query at a time, its answer reused for a
    while."""

    def __init__(
        self, engine: Engine, timeout: float = DATABASE_TIMEOUT, reuse: float = DATABASE_REUSE
    ) -> None:
        self.engine = engine
        self.timeout = timeout
        self.reuse = reuse
        #: The query under way (in a thread), shared by every caller until it ends.
        self.query: asyncio.Future[None] | None = None
        #: When the last answer came (time.monotonic) and the problem it showed (None: none).
        self.answered: tuple[float, str | None] | None = None

    def select_one(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    async def problem(self) -> str | None:
        """None when the database answered; else what is wrong with it, in words."""
        if self.answered is not None and time.monotonic() - self.answered[0] < self.reuse:
            return self.answered[1]
        if self.query is None or self.query.done():
            self.query = asyncio.get_running_loop().run_in_executor(None, self.select_one)
        problem: str | None = None
        try:
            await asyncio.wait_for(asyncio.shield(self.query), self.timeout)
        except TimeoutError:
            problem = f"the database did not answer within {self.timeout:g} s"
        except (SQLAlchemyError, OSError):  # not told: the driver's text may hold the URL
            problem = "the database is unreachable"
        self.answered = (time.monotonic(), problem)
        return problem


def workers_problem(request: Request) -> tuple[dict[str, int], str | None]:
    """How many of the hub's workers are connected, and the problem when none is."""
    links = list(service(request).links.values())
    connected = sum(link.connected.is_set() for link in links)
    counts = {"connected": connected, "known": len(links)}
    return counts, None if connected else f"no worker connected ({len(links)} known)"


async def ready(request: Request) -> Response:
    probe: DatabaseProbe = request.app.state.database_probe
    database = await probe.problem()
    workers, no_worker = workers_problem(request)
    problems = [problem for problem in (database, no_worker) if problem is not None]
    body = {
        "ready": not problems,
        "database": database is None,
        "workers": workers,
        "problems": problems,
    }
    return JSONResponse(body, status_code=503 if problems else 200)


async def live(request: Request) -> Response:
    return JSONResponse({"live": True})


ROUTES = [
    Guarded(Access.ANYONE, Route("/api/health", ready, methods=["GET"])),
    Guarded(Access.ANYONE, Route("/api/health/live", live, methods=["GET"])),
]
