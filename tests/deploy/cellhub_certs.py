"""``cellhub certs`` run as an admin runs it, and the flags that give its files to a hub or a
worker: shared by the tests of hubs and workers on different hosts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def certs(*argv: str) -> str:
    """Run ``cellhub certs ARGV``; its output (the test fails if the command does)."""
    done = subprocess.run(
        [sys.executable, "-m", "cellhub", "certs", *argv], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def tls_flags(folder: Path, name: str) -> list[str]:
    """The flags that make a hub or worker show ``NAME.crt`` from ``folder`` and trust its CA."""
    return [
        *("--tls-certificate", str(folder / f"{name}.crt")),
        *("--tls-key", str(folder / f"{name}.key")),
        *("--tls-ca", str(folder / "ca.crt")),
    ]
