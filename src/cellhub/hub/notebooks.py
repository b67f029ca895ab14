"""What a worksheet is to the hub: a valid nbformat 4 notebook, kept as its JSON bytes.

Every save is validated against nbformat's own schema before it is stored, so the store only
ever holds notebooks that Jupyter and nbformat open; an invalid one is refused (400) rather
than kept with a warning as Jupyter Server does, since a worksheet the page cannot reopen is
lost work. Validation reads the notebook without changing it (``iter_validate``): what is
stored is what was sent.
"""

from __future__ import annotations

from typing import Any

import orjson
from nbformat.validator import iter_validate

#: A new worksheet: no cells, the current minor version.
EMPTY: dict[str, Any] = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}


class InvalidNotebook(ValueError):
    """Not a notebook the store keeps; the message says why, as Jupyter Server's does."""


def notebook_bytes(notebook: Any) -> bytes:
    """The notebook's JSON, once it is a valid nbformat 4 notebook."""
    if not isinstance(notebook, dict) or notebook.get("nbformat") != 4:
        raise InvalidNotebook("Notebook validation failed: not an nbformat 4 notebook")
    for problem in iter_validate(notebook):  # type: ignore[no-untyped-call]  # nbformat is untyped
        raise InvalidNotebook(f"Notebook validation failed: {problem.message}")
    try:
        return orjson.dumps(notebook)
    except orjson.JSONEncodeError as exc:  # nested deeper than JSON is written back
        raise InvalidNotebook(f"Notebook validation failed: {exc}") from None


def empty_notebook() -> bytes:
    return orjson.dumps(EMPTY)
