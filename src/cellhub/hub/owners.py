"""Whose worksheets a request reads and writes: the one place that says.

Today whoever holds the deployment's token (in a header, or through a login cookie) is its
one user, so every such request owns the same worksheets, whichever browser or device it
comes from: :data:`TOKEN_HOLDER`. When accounts land, :func:`owner_of` returns
``user:<id>`` for a logged-in account, and nothing else changes.

Anonymous clients own no worksheets on the server: they are a network address (hub/anonymous.py),
which many people may share behind one NAT and one person changes with every network, so
worksheets keyed by it would show to strangers and be lost on the next Wi-Fi; and storage open
to anyone is storage anyone can fill. Their page keeps its worksheet in the browser.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from cellhub.hub.auth import is_anonymous, is_authenticated

#: The owner of the token holder's worksheets.
TOKEN_HOLDER = "token"


def owner_of(conn: HTTPConnection) -> str | None:
    """The owner of this request's worksheets; None: it may keep none on the server."""
    if is_anonymous(conn) or not is_authenticated(conn, conn.app.state.token):
        return None
    return TOKEN_HOLDER
