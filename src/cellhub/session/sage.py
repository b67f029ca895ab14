"""The ``sage`` kernel kind: Sage's syntax, display and names in the template's shell.

:func:`prepare` runs once in the template of the ``sage`` kind
(:data:`cellhub.kernel_kinds.SAGE`), after the shell is built. It imports Sage
(passagemath's symbolics, plot, Maxima, PARI and Singular parts, see docs/sage.md), sets the
shell up as passagemath's own Jupyter kernel does (``SageCustomizations``: the
preparser as an IPython input transformer, ``%display`` and the other Sage magics,
``%gp``, ``%gap``, ``%maxima``, ``%singular`` … for Sage's interfaces), puts Sage's names
in the user namespace and warms what a first cell would otherwise pay for: Maxima above
all, seconds of loading into ECL that no session repeats.

Sage Cell's other languages are cell magics, as in Sage: a cell that starts with
``%%gp``, ``%%gap``, ``%%maxima`` or ``%%singular`` goes to that program, which the
session starts as its child on first use; a cell that starts with
``%%python`` is plain Python, run in the session's namespace without the preparser
(:func:`plain_python_cells`; IPython's own ``%%python`` would run a separate
interpreter). The page's per-cell language choice prefixes a cell with these lines.

Display goes through passagemath's IPython notebook backend, with one change for
cellhub's page: output that is only math (``show(expr)``, ``%display latex``) is sent
as ``text/latex``, which the page typesets, without the HTML wrapper Sage puts beside
it for MathJax (the page would prefer the HTML, and shows HTML in a sandboxed frame
without MathJax). Plots are PNG images; 3-D plots are Sage's three.js page, in a frame,
which loads three.js from the hub (:func:`threejs_script`), never from a CDN.

Two things must be redone in every session, once forked (:attr:`CellShell.session_start
<cellhub.session.shell.CellShell.session_start>`):

- ``DOT_SAGE``, the directory Sage writes its caches and logs to, and Sage's temporary
  directory (3-D plots, compiled code) move into the session's home (the template's are
  temporary directories it removes once warm; the sandbox keeps the rest of the
  filesystem read-only, and a home is removed with its session, under either sandbox);
- SIGINT goes to cysignals again, after the session's interrupt gate took it: cysignals'
  handler interrupts computations in compiled code (PARI, FLINT, Maxima), and hands every
  other SIGINT on to the gate.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cellhub.session.shell import CellShell

#: Modules whose names a Sage user finds defined, in order: a later one's win (the repl
#: part alone sets ``Integer = int``, for plain Python; the others define Sage's).
NAMESPACE = ("sage.all__sagemath_repl", "sage.all__sagemath_plot", "sage.all__sagemath_symbolics")
#: What the template runs once, so that no session pays for it: the preparser, Maxima
#: (``integrate``, ``solve``), PARI, LaTeX, the rich output of a formula and of a plot.
WARM_UP_CELL = """\
_cellhub_x = var('x')
_cellhub_f = integrate(_cellhub_x^2 * sin(_cellhub_x), _cellhub_x)
solve(_cellhub_x^2 - 2 == 0, _cellhub_x); limit(sin(_cellhub_x) / _cellhub_x, x=0)
factor(2^64 + 1); [1..10]; 1/2
get_ipython().display_formatter.format(_cellhub_f)
show(_cellhub_f)
get_ipython().display_formatter.format(plot(sin(_cellhub_x), (_cellhub_x, 0, 1), figsize=2))
del _cellhub_x, _cellhub_f
"""
#: What stands in place of a cell's ``%%python`` line: a comment, so that line numbers stay.
PLAIN_PYTHON = "# %%python: plain Python, not preparsed\n"


def prepare(shell: CellShell) -> None:
    """Make ``shell`` a Sage shell, warm; called in the template, never in a session."""
    dot_sage = tempfile.mkdtemp(prefix="cellhub-sage-")
    os.environ["DOT_SAGE"] = dot_sage
    modules = [importlib.import_module(name) for name in NAMESPACE]
    from sage.repl.ipython_extension import SageCustomizations  # type: ignore[import-untyped]
    from sage.repl.rich_output import get_display_manager  # type: ignore[import-untyped]

    SageCustomizations(shell=shell)  # with SAGE_IMPORTALL=no (the kind's environment)
    plain_python_cells(shell)
    gap_without_workspace()
    get_display_manager().switch_backend(math_as_latex_backend(), shell=shell)
    install_names(shell, modules)
    use_sage_values_in_interacts()
    ip: Any = shell
    warm = ip.run_cell(WARM_UP_CELL, store_history=False, silent=True)
    if not warm.success:
        raise RuntimeError(
            f"Sage's warm-up failed: {warm.error_before_exec or warm.error_in_exec!r}"
        )
    shutil.rmtree(dot_sage, ignore_errors=True)
    shell.session_start.append(SageFiles(shell, dot_sage).move_to_home)
    shell.session_start.append(interrupts_to_cysignals())


def install_names(shell: CellShell, modules: list[Any]) -> None:
    """Sage's names in the user namespace, hidden from ``%who`` as the builtins are; Sage's
    ``var`` and ``function`` define their variables there (``user_globals``)."""
    from sage.misc.lazy_import import clean_namespace  # type: ignore[import-untyped]
    from sage.repl.user_globals import set_globals  # type: ignore[import-untyped]

    names: dict[str, Any] = {}
    for module in modules:
        names.update((key, value) for key, value in vars(module).items() if key[0] != "_")
    clean_namespace(names)
    shell.user_ns.update(names)
    shell.user_ns_hidden.update(names)
    set_globals(shell.user_ns)


def plain_python_cells(shell: CellShell) -> None:
    """A cell that starts with ``%%python`` runs as plain Python: Sage Cell's ``python``.

    The line becomes a comment before IPython looks for cell magics (a cleanup transform),
    and the preparser, which Sage installed as the last of the shell's transforms, leaves
    a cell that starts with that comment alone. Nothing is remembered between the two:
    IPython may transform a cell more than once.
    """
    from sage.repl.interpreter import SagePreparseTransformer  # type: ignore[import-untyped]

    def python_line_to_comment(lines: list[str]) -> list[str]:
        if lines and lines[0].rstrip() == "%%python":
            return [PLAIN_PYTHON, *lines[1:]]
        return lines

    def preparse_unless_python(lines: list[str]) -> list[str]:
        if lines and lines[0] == PLAIN_PYTHON:
            return lines
        preparsed: list[str] = SagePreparseTransformer(lines)
        return preparsed

    cleanup = shell.input_transformer_manager.cleanup_transforms
    cleanup.insert(1, python_line_to_comment)  # after the removal of leading blank lines
    post = shell.input_transformers_post
    post[post.index(SagePreparseTransformer)] = preparse_unless_python


def gap_without_workspace() -> None:
    """Sage's GAP interface (``%gap``, ``gap(…)``) starts GAP without its saved workspace.

    By default Sage saves a workspace (about 60 MB) in ``DOT_SAGE`` when GAP first starts,
    to start it faster later; a session's ``DOT_SAGE`` is in its home, a tmpfs charged to
    its memory, and a session starts GAP once (about a second, the same as making the
    workspace). The interface object is made here, in the template, before anything has
    looked it up (Sage's names for it are lazy imports); without passagemath-gap, nothing.
    """
    try:
        from sage.interfaces import gap  # type: ignore[import-untyped]
    except ImportError:
        return
    gap.gap = gap.Gap(use_workspace_cache=False)


def use_sage_values_in_interacts() -> None:
    """``@interact`` functions get Sage's numbers, and input boxes evaluate Sage's syntax
    (``1/2`` a rational, ``2^3`` a power), as in Sage."""
    try:
        from cellhub.session import interact
    except ImportError:  # ipywidgets is not installed: no interacts
        return
    from sage.all__sagemath_symbolics import RR, ZZ, sage_eval  # type: ignore[import-untyped]

    class SageValues(interact.Values):
        def number(self, value: Any) -> Any:
            return ZZ(value) if isinstance(value, int) else RR(value)

        def evaluate(self, text: str, namespace: dict[str, Any]) -> Any:
            return sage_eval(text, locals=namespace)

    interact.values = SageValues()


def math_as_latex_backend() -> Any:
    """passagemath's IPython notebook backend, sending math alone as ``text/latex`` and
    loading three.js for 3-D plots from the hub."""
    from sage.repl.rich_output.backend_ipython import (  # type: ignore[import-untyped]
        BackendIPythonNotebook,
    )
    from sage.repl.rich_output.output_catalog import OutputHtml  # type: ignore[import-untyped]

    script = threejs_script()

    class MathAsLatex(BackendIPythonNotebook):  # type: ignore[misc]
        def displayhook(self, plain_text: Any, rich_output: Any) -> tuple[dict[str, Any], Any]:
            data, metadata = super().displayhook(plain_text, rich_output)
            if isinstance(rich_output, OutputHtml) and rich_output.latex is not None:
                data.pop("text/html", None)  # only MathJax's wrapper of the LaTeX
            return data, metadata

        def threejs_offline_scripts(self) -> str:
            return script

    return MathAsLatex()


def threejs_script() -> str:
    """The script tag that loads three.js into a 3-D plot's page: the hub's copy.

    Sage's 3-D plots are an HTML page that needs three.js (Sage's own build, with
    ``OrbitControls`` and the fat lines). Sage's notebook backend names Jupyter's
    ``/nbextensions/`` and falls back to a CDN; cellhub ships the build of the version Sage
    names (``threejs/VERSION/three.min.js`` in the static files), and the plot loads it from
    the hub that serves the page. The address is relative: the output frame resolves it
    against the hub (its own address, or the ``<base>`` an embedded cell's frame gets), so
    it holds behind a path prefix too, and it carries the file's hash (``?v=``), as the
    pages' addresses do, so that browsers keep it.
    """
    from sage.features.threejs import Threejs  # type: ignore[import-untyped]

    from cellhub.hub.static_files import versioned_url

    address = versioned_url(f"threejs/{Threejs().required_version()}/three.min.js")
    return f'<script src="{address.removeprefix("/")}"></script>'


class SageFiles:
    """Where Sage writes, moved from the template's directories to each session's home.

    Sage reads ``DOT_SAGE`` once, at import, and a few modules keep it (or paths under
    it) as module constants; they are found here, in the template, so that a session
    rewrites those few entries instead of reading every module (which would copy pages
    of the template into each session: reading an object writes its reference count).
    Sage's temporary directory, made at import too, is made anew in ``DOT_SAGE``.
    """

    def __init__(self, shell: CellShell, template_dot_sage: str) -> None:
        from sage.misc import temporary_file  # type: ignore[import-untyped]

        temporary_file.TMP_DIR_FILENAME_BASE.cleanup()  # the template's, in the host's /tmp
        self.temporary_file = temporary_file
        self.old = template_dot_sage
        namespaces = [vars(m) for name, m in sys.modules.items() if name.startswith("sage.") and m]
        self.places = [
            (namespace, key, value[len(self.old) :])
            for namespace in [*namespaces, shell.user_ns]
            for key, value in namespace.items()
            if isinstance(value, str) and value.startswith(self.old)
        ]

    def move_to_home(self) -> None:
        new = os.path.join(os.environ["HOME"], ".sage")
        for namespace, key, rest in self.places:
            namespace[key] = new + rest
        os.environ["DOT_SAGE"] = new
        with contextlib.suppress(OSError):  # Sage says so when it needs it and cannot write
            os.makedirs(new, mode=0o700, exist_ok=True)
            self.temporary_file.TMP_DIR_FILENAME_BASE = tempfile.TemporaryDirectory(
                prefix="sage_", dir=new
            )


def interrupts_to_cysignals() -> Callable[[], None]:
    """What gives SIGINT back to cysignals' handler, as the template's imports set it."""
    from cysignals.pysignals import getossignal, setossignal  # type: ignore[import-untyped]

    handler = getossignal(signal.SIGINT)
    return lambda: setossignal(signal.SIGINT, handler)
