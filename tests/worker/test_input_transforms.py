"""The session's input transformer skips tokenizing plain Python and changes nothing else."""

from __future__ import annotations

import argparse
import inspect
import json.decoder
import textwrap
from typing import Any

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from cellhub.session.shell import IPYTHON_SYNTAX, CellTransformerManager

IPYTHON_CELLS = [
    "%time 1",
    "%%timeit\nx = 1",
    "a = %pwd",
    "files = !ls",
    "!echo hi",
    "!!echo hi",
    "len?",
    "len??",
    "os.path.join?",
    "%magic?",
    "/print 3",
    ",print a b",
    ";print a b",
    "if True:\n    !echo indented",
    "if True:\n    ,print a b",
    "x = (1,\n,2)",
    'print("%d" % 3)',
    "x != 1",
    "# what? a comment",
    ">>> 1 + 1",
    "In [1]: 2",
    "   1 + 1",
    "",
    "\n\n1",
]


def outcome(manager: TransformerManager, cell: str) -> str:
    try:
        return manager.transform_cell(cell)
    except Exception as exc:  # noqa: BLE001 - the two managers must fail alike too
        return f"{type(exc).__name__}: {exc}"


def source_chunks() -> list[str]:
    """Pieces of real code, cut anywhere (unbalanced brackets included)."""
    chunks = []
    for module in (argparse, json.decoder, textwrap):
        lines = inspect.getsource(module).splitlines(keepends=True)
        chunks += ["".join(lines[i : i + 17]) for i in range(0, len(lines), 11)]
    return chunks


@pytest.mark.parametrize("cell", IPYTHON_CELLS)
def test_ipython_syntax_is_transformed_as_ipython_does(cell: str) -> None:
    theirs = TransformerManager()  # type: ignore[no-untyped-call]  # IPython's is unannotated
    assert outcome(CellTransformerManager(), cell) == outcome(theirs, cell)


def compiles(code: str) -> bool:
    try:
        compile(code, "<cell>", "exec")
    except SyntaxError:
        return False
    return True


def test_real_code_is_transformed_as_ipython_does() -> None:
    """Where IPython's tokenizer gives up on a badly indented piece, the short cut hands
    it on unchanged, and Python's compiler rejects it instead."""
    ours, theirs = CellTransformerManager(), TransformerManager()  # type: ignore[no-untyped-call]
    chunks = source_chunks()
    skipped = [chunk for chunk in chunks if not IPYTHON_SYNTAX.search(chunk)]
    assert len(skipped) > len(chunks) // 4  # the short cut is taken, and often
    rejected = 0
    for chunk in chunks:
        expected = outcome(theirs, chunk)
        if chunk in skipped and expected.startswith("IndentationError"):
            assert not compiles(ours.transform_cell(chunk)), chunk
            rejected += 1
        else:
            assert outcome(ours, chunk) == expected, chunk
    assert rejected < len(skipped) // 4


def test_user_token_transforms_still_run() -> None:
    class Shout:
        """A token transform that upper-cases the first line (found everywhere)."""

        priority = 0

        def __init__(self, start: tuple[int, int]) -> None:
            self.start_line, self.start_col = start

        @classmethod
        def find(cls, tokens_by_line: list[list[Any]]) -> Shout | None:
            return cls((0, 0)) if tokens_by_line[0][0].string.islower() else None

        @staticmethod
        def sortby(transformer: Shout) -> tuple[int, int, int]:
            return (transformer.start_line, transformer.start_col, transformer.priority)

        def transform(self, lines: list[str]) -> list[str]:
            return [lines[0].upper(), *lines[1:]]

    manager = CellTransformerManager()
    manager.token_transformers.append(Shout)
    assert manager.transform_cell("x = 1") == "X = 1\n"
