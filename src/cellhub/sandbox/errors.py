"""The one exception of the sandbox package, apart so that every module of it can raise it."""

from __future__ import annotations


class SandboxError(Exception):
    """The sandbox cannot be set up, or a session cannot be placed in it."""
