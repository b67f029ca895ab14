"""The committed bundle in src/cellhub/static/ is exactly what frontend/ builds.

`pip install` ships the bundle without Node, so a change to the TypeScript sources must come
with a rebuilt bundle (`cd frontend && npm ci && npm run build`). This test rebuilds from a
clean copy of the sources and compares byte for byte; it also type-checks the sources.
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
STATIC = ROOT / "src" / "cellhub" / "static"
REBUILD = "rebuild the bundle: cd frontend && npm run build"
SOURCES = ["package.json", "package-lock.json", "build.mjs", "tsconfig.json", "src"]


def files_under(directory: Path) -> set[str]:
    return {str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file()}


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    work = tmp_path_factory.mktemp("frontend")
    for name in SOURCES:
        source = FRONTEND / name
        if source.is_dir():
            shutil.copytree(source, work / name)
        else:
            shutil.copy2(source, work / name)
    run = {"cwd": work, "check": True, "capture_output": True, "text": True, "timeout": 600}
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], **run)  # type: ignore[call-overload]
    subprocess.run(["node", "build.mjs", "--outdir", str(work / "static")], **run)  # type: ignore[call-overload]
    return work


def test_committed_bundle_matches_sources(rebuilt: Path) -> None:
    built = rebuilt / "static"
    assert files_under(built) == files_under(STATIC), REBUILD
    _, mismatch, errors = filecmp.cmpfiles(built, STATIC, sorted(files_under(built)), shallow=False)
    assert not mismatch and not errors, f"stale {mismatch + errors}: {REBUILD}"


def test_sources_type_check(rebuilt: Path) -> None:
    result = subprocess.run(
        ["node", "node_modules/typescript/bin/tsc", "--noEmit", "-p", "tsconfig.json"],
        cwd=rebuilt,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_embed_script_is_part_of_the_bundle(rebuilt: Path) -> None:
    """embed.js (for third-party pages) is built and compared like the app's own bundle."""
    assert (rebuilt / "static" / "embed.js").is_file()
    assert (STATIC / "embed.js").is_file(), REBUILD
