"""Whether rsyslogd can run the log service here: the daemon and the modules its
configuration loads (rsyslog, rsyslog-relp, rsyslog-pgsql), and PostgreSQL to write to."""

from __future__ import annotations

import glob
import shutil

import pytest

from cellhub.deploy.postgres import pg_bindir

RSYSLOGD = shutil.which("rsyslogd", path="/usr/sbin:/usr/bin:/sbin:/bin")
MODULES = ("imuxsock", "imrelp", "omrelp", "mmjsonparse", "ompgsql")


def missing_modules() -> list[str]:
    return [m for m in MODULES if not glob.glob(f"/usr/lib/*/rsyslog/{m}.so")]


needs_rsyslog = pytest.mark.skipif(
    RSYSLOGD is None or bool(missing_modules()) or pg_bindir() is None,
    reason="needs rsyslog, rsyslog-relp, rsyslog-pgsql and postgresql (scripts/test installs them)",
)
