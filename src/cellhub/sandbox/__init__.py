"""How sessions are confined: a small base class and one implementation per mechanism.

- ``linux`` (:class:`LinuxSandbox`, root only): a uid per session, namespaces, a cgroup.
- ``rlimit`` (:class:`RlimitSandbox`): rlimits and process trees, for a worker without root.
- ``auto``: ``linux`` when running as root, else ``rlimit``; if ``linux`` cannot be set up
  (no cgroup controllers, an old kernel), ``rlimit``, saying why in ``describe()``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cellhub.sandbox.base import (
    SandboxError,
    SandboxLease,
    SandboxLimits,
    SessionSandbox,
)
from cellhub.sandbox.linux import LinuxSandbox
from cellhub.sandbox.rlimit import RlimitSandbox
from cellhub.sandbox.uids import DEFAULT_UID_RANGE

__all__ = [
    "DEFAULT_UID_RANGE",
    "LinuxSandbox",
    "RlimitSandbox",
    "SandboxError",
    "SandboxLease",
    "SandboxLimits",
    "SessionSandbox",
    "sandbox_for",
]

SANDBOXES: dict[str, type[SessionSandbox]] = {
    LinuxSandbox.name: LinuxSandbox,
    RlimitSandbox.name: RlimitSandbox,
}


def sandbox_for(
    name: str, limits: SandboxLimits, state_dir: Path, *, uid_range: range = DEFAULT_UID_RANGE
) -> SessionSandbox:
    """The sandbox called ``name`` in the configuration: ``auto``, ``linux`` or ``rlimit``."""
    if name == "auto":
        if os.geteuid() != 0:
            return RlimitSandbox(limits, state_dir)
        try:
            return LinuxSandbox(limits, state_dir, uid_range=uid_range)
        except (SandboxError, OSError) as exc:
            return RlimitSandbox(limits, state_dir, reason=f"linux sandbox unavailable: {exc}")
    if name == LinuxSandbox.name:
        return LinuxSandbox(limits, state_dir, uid_range=uid_range)
    if name == RlimitSandbox.name:
        return RlimitSandbox(limits, state_dir)
    raise ValueError(f"unknown sandbox {name!r}: choose 'auto', 'linux' or 'rlimit'")
