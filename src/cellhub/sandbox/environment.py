"""The environment variables a session starts with: an allowlist, never the service's own.

``cellhub serve`` is often started with its secrets in the environment
(``CELLHUB_TOKEN``, a ``CELLHUB_DATABASE_URL`` with its password, a cloud key the admin
happened to export). A session is a fork of the template, and the template's
``/proc/<pid>/environ`` is the block it was *executed* with, which a forked session
still shows after ``os.environ`` is cleared. So nothing may be removed after the fact:
the worker and the template are each executed with :func:`session_environment`, built
from :data:`PASSED_ON` and the deployment's ``session_environment`` setting, and
nothing else of the service's environment reaches them or any session.

Contract: :func:`session_environment` returns the variables of ``source`` whose names
are in :data:`PASSED_ON` (or start with ``LC_``) or are named in ``entries``, plus each
``NAME=VALUE`` of ``entries``; :func:`parse_entries` raises ``ValueError`` for a
malformed entry or a ``CELLHUB_*`` name, which never reaches a session.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

#: Names passed on from the service's environment: the locale, the terminal, the time
#: zone, where programs and modules are found, and the user (the session overrides
#: HOME, USER and LOGNAME with its own).
PASSED_ON = frozenset(
    {
        "HOME",
        "USER",
        "LOGNAME",
        "PATH",
        "LANG",
        "LANGUAGE",
        "TERM",
        "TZ",
        "MPLBACKEND",
        "PYTHONPATH",
        "PYTHONUTF8",
        "PYTHONIOENCODING",
        "PYTHONHASHSEED",
        "PYTHONDONTWRITEBYTECODE",
    }
)
PASSED_ON_PREFIX = "LC_"
#: The service's own settings (the token, the database URL) never reach a session.
REFUSED_PREFIX = "CELLHUB_"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_entries(entries: Iterable[str]) -> tuple[set[str], dict[str, str]]:
    """Split ``NAME`` and ``NAME=VALUE`` entries into passed-on names and assignments."""
    names: set[str] = set()
    values: dict[str, str] = {}
    for entry in entries:
        name, has_value, value = entry.partition("=")
        if not _NAME.fullmatch(name):
            raise ValueError(f"{entry!r} is not NAME or NAME=VALUE")
        if name.startswith(REFUSED_PREFIX):
            raise ValueError(f"{name}: the service's own CELLHUB_* settings never reach sessions")
        if has_value:
            values[name] = value
        else:
            names.add(name)
    return names, values


def session_environment(source: Mapping[str, str], entries: Iterable[str]) -> dict[str, str]:
    """The environment to execute the worker or the template with (see the module doc)."""
    names, values = parse_entries(entries)
    passed = {
        name: value
        for name, value in source.items()
        if name in PASSED_ON or name in names or name.startswith(PASSED_ON_PREFIX)
    }
    return {**passed, **values}
