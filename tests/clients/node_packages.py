"""The npm packages of a test-owned folder, installed with ``npm ci`` from its committed lock file.

tests/clients/node (@jupyterlab/services) and tests/clients/thebe (Thebe) each hold a
package.json and package-lock.json. Their node_modules/ (git-ignored) is installed the first
time a test needs it and again whenever the lock file changes, which a stamp in node_modules/
records, so later runs cost nothing. Without npm the tests skip, as the bundle test does.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

STAMP = ".cellhub-lock-sha256"


def installed(folder: Path) -> Path:
    """``folder``'s node_modules, as its lock file says; ``npm ci`` first when out of date."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    modules = folder / "node_modules"
    wanted = hashlib.sha256((folder / "package-lock.json").read_bytes()).hexdigest()
    stamp = modules / STAMP
    if not stamp.is_file() or stamp.read_text() != wanted:
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder,
            check=True,
            capture_output=True,
            timeout=900,
        )
        stamp.write_text(wanted)
    return modules
