"""Whose worksheets a request reads and writes: the one place that says.

A logged-in account owns its own (``user:<id>``, the owner its kernels have: hub/callers.py),
whichever browser or device it comes from. Whoever holds the deployment's token (in a
header, or through a login made with it) is the bootstrap administrator, and its worksheets
are those of :data:`TOKEN_HOLDER`.

Anonymous clients own no worksheets on the server: they are a network address (hub/anonymous.py),
which many people may share behind one NAT and one person changes with every network, so
worksheets keyed by it would show to strangers and be lost on the next Wi-Fi; and storage open
to anyone is storage anyone can fill. Their page keeps its worksheet in the browser.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from cellhub.hub.auth import is_anonymous
from cellhub.hub.callers import caller

#: The owner of the token holder's worksheets.
TOKEN_HOLDER = "token"


def owner_of(conn: HTTPConnection) -> str | None:
    """The owner of this request's worksheets; None: it may keep none on the server."""
    who = caller(conn)
    if who is None or is_anonymous(conn):
        return None
    return who.owner if who.account is not None else TOKEN_HOLDER
