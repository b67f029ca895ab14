"""The requests that ask about code without running it: completion, inspection, history,
kernel info.

Each function takes the shell and a request's ``content`` and returns the reply's
content, as ipykernel's handlers of the same names do. A request whose fields have the
wrong types gets a ``status: error`` reply naming the field, not a traceback in the log.
"""

from __future__ import annotations

import functools
import sys
import tempfile
from pathlib import Path
from typing import Any

from IPython.core.completer import provisionalcompleter, rectify_completions
from IPython.utils.tokenutil import token_at_cursor

import cellhub
from cellhub.protocol import jupyter
from cellhub.session.shell import CellShell


def complete(shell: CellShell, content: dict[str, Any]) -> dict[str, Any]:
    code = str(content.get("code", ""))
    cursor_pos = content.get("cursor_pos")
    cursor = len(code) if cursor_pos is None else int(cursor_pos)
    with provisionalcompleter():
        completions = list(rectify_completions(code, shell.Completer.completions(code, cursor)))
    types = [
        {"start": c.start, "end": c.end, "text": c.text, "type": c.type, "signature": c.signature}
        for c in completions
    ]
    start, end = (completions[0].start, completions[0].end) if completions else (cursor, cursor)
    return {
        "status": "ok",
        "matches": [c.text for c in completions],
        "cursor_start": start,
        "cursor_end": end,
        "metadata": {"_jupyter_types_experimental": types},
    }


def use_private_caches() -> None:
    """Point jedi's and parso's on-disk caches at a directory of this session's own.

    Both fixed their cache paths when the template imported them, under the template's
    home, which a sandboxed session cannot write: every completion that needed a module's
    source then failed (``os.pa`` found nothing). A directory shared between sessions
    would also let one plant pickles that another loads.
    """
    import jedi  # type: ignore[import-untyped]  # jedi ships no type information
    import parso.cache

    directory = Path(tempfile.mkdtemp(prefix="cellhub-completion-"))
    parso.cache._default_cache_path = directory / "parso"
    jedi.settings.cache_directory = str(directory / "jedi")


#: Each ``history_request`` field: its type and its default, as ipykernel's ``do_history``.
HISTORY_FIELDS: dict[str, tuple[Any, Any]] = {
    "hist_access_type": (str, "tail"),
    "output": (bool, False),
    "raw": (bool, True),
    "session": (int, 0),
    "start": (int, 0),
    "stop": (int | None, None),
    "n": (int | None, None),
    "pattern": (str, "*"),
    "unique": (bool, False),
}


def history(shell: CellShell, content: dict[str, Any]) -> dict[str, Any]:
    """The input history, as ipykernel answers: ``[session, line, input]`` rows (with
    ``output``, ``[session, line, [input, None]]``: results are not kept, see shell.py)."""
    args: dict[str, Any] = {}
    for name, (kind, default) in HISTORY_FIELDS.items():
        value = content.get(name, default)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            return {
                "status": "error",
                "ename": "TypeError",
                "evalue": f"bad {name!r}",
                "traceback": [],
                "history": [],
            }
        args[name] = value
    manager: Any = shell.history_manager
    access, raw, output = args["hist_access_type"], args["raw"], args["output"]
    if access == "tail":
        rows = manager.get_tail(args["n"], raw=raw, output=output, include_latest=True)
    elif access == "range":
        rows = manager.get_range(args["session"], args["start"], args["stop"], raw, output)
    elif access == "search":
        rows = manager.search(
            args["pattern"], raw=raw, output=output, n=args["n"], unique=args["unique"]
        )
    else:
        rows = []
    return {"status": "ok", "history": [list(row) for row in rows]}


def inspect(shell: CellShell, content: dict[str, Any]) -> dict[str, Any]:
    code = str(content.get("code", ""))
    cursor_pos = content.get("cursor_pos")
    name = token_at_cursor(code, len(code) if cursor_pos is None else int(cursor_pos))
    reply: dict[str, Any] = {"status": "ok", "data": {}, "metadata": {}, "found": False}
    ip: Any = shell  # IPython's own methods are untyped
    try:
        bundle = ip.object_inspect_mime(
            name,
            detail_level=int(content.get("detail_level", 0)),
            omit_sections=tuple(content.get("omit_sections", ())),
        )
    except KeyError:
        return reply
    if not shell.enable_html_pager:
        bundle.pop("text/html", None)
    reply["data"] = bundle
    reply["found"] = True
    return reply


def is_complete(shell: CellShell, content: dict[str, Any]) -> dict[str, Any]:
    code = str(content.get("code", ""))
    status, indent = shell.input_transformer_manager.check_complete(code)
    reply: dict[str, Any] = {"status": status}
    if status == "incomplete":
        reply["indent"] = " " * (indent or 0)
    return reply


#: What ipykernel's kernel_info_reply lists, so that clients show the same Help menu.
HELP_LINKS = [
    {
        "text": "Python Reference",
        "url": f"https://docs.python.org/{sys.version_info[0]}.{sys.version_info[1]}",
    },
    {"text": "IPython Reference", "url": "https://ipython.readthedocs.io/en/stable/"},
    {"text": "NumPy Reference", "url": "https://docs.scipy.org/doc/numpy/reference/"},
    {"text": "SciPy Reference", "url": "https://docs.scipy.org/doc/scipy/reference/"},
    {"text": "Matplotlib Reference", "url": "https://matplotlib.org/contents.html"},
    {"text": "SymPy Reference", "url": "http://docs.sympy.org/latest/index.html"},
    {"text": "pandas Reference", "url": "https://pandas.pydata.org/pandas-docs/stable/"},
]


@functools.cache
def kernel_info(shell: CellShell) -> dict[str, Any]:
    """The kernel_info_reply content, as ipykernel gives it (implementation aside).

    Made once per shell and never changed: the template makes it before it forks (template/
    process.py), so a session does not pay, in copy-on-write faults, for IPython's banner."""
    version = sys.version_info
    return {
        "status": "ok",
        "protocol_version": jupyter.PROTOCOL_VERSION,
        "implementation": "cellhub",
        "implementation_version": cellhub.__version__,
        "language_info": {
            "name": "python",
            "version": sys.version.split()[0],
            "mimetype": "text/x-python",
            "codemirror_mode": {"name": "ipython", "version": version[0]},
            "pygments_lexer": f"ipython{version[0]}",
            "nbconvert_exporter": "python",
            "file_extension": ".py",
        },
        "banner": shell.banner,
        "help_links": HELP_LINKS,
        "supported_features": [],
    }
