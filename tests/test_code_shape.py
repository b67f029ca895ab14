"""The shape STYLE.md asks of our Python: no function over 60 lines, and every module that
holds code opens with a docstring stating its contract. Ruff counts statements, not
lines, and has no rule for a module's docstring, so these are checked here, on every
Python file of the project's own trees."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREES = ("src", "tests", "bench", "examples", "scripts")
MAX_LINES = 60


def python_files() -> list[Path]:
    """Every ``.py`` file of the project's trees, outside installed or built ones."""
    skipped = {"node_modules", ".venv", "build", "__pycache__"}
    return [
        path
        for tree in TREES
        for path in sorted((ROOT / tree).rglob("*.py"))
        if not skipped & set(path.relative_to(ROOT).parts)
    ]


def long_functions(path: Path, tree: ast.Module) -> list[str]:
    """``file:line name (N lines)`` for each function of ``tree`` over the limit."""
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := (node.end_lineno or node.lineno) - node.lineno + 1) > MAX_LINES
    ]


def test_the_checks_see_the_project() -> None:
    files = python_files()
    assert len(files) > 300
    assert ROOT / "src" / "cellhub" / "cli.py" in files


def test_no_function_is_over_60_lines() -> None:
    found = [
        line
        for path in python_files()
        for line in long_functions(path, ast.parse(path.read_text(), str(path)))
    ]
    assert found == [], "split these functions:\n" + "\n".join(found)


def test_every_module_with_code_has_a_docstring() -> None:
    found = [
        str(path.relative_to(ROOT))
        for path in python_files()
        if (tree := ast.parse(path.read_text(), str(path))).body and not ast.get_docstring(tree)
    ]
    assert found == [], "these modules say nothing of their contract:\n" + "\n".join(found)


def test_a_long_function_is_found() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    tree = ast.parse(f"def long():\n{body}\n")
    assert long_functions(ROOT / "x.py", tree) == [f"x.py:1 long ({MAX_LINES + 1} lines)"]
