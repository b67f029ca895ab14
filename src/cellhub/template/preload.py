"""What a session finds ready without importing anything: display setup and Sage-style names.

Called once in the template, after the preload imports and the warm-up, so every
session forks with it done: sympy expressions display as LaTeX (as after
``sympy.init_printing()`` in Jupyter) and ``interact`` with its control helpers
(:mod:`cellhub.session.interact`) is in the user namespace, hidden from ``%who``.
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cellhub.session.shell import CellShell


def prepare_environment(shell: CellShell) -> None:
    if "matplotlib" in sys.modules:
        release_renderers_on_close(shell)
    _sympy_printing(shell)
    try:
        from cellhub.session import interact
    except ImportError:  # ipywidgets is not installed: no interacts
        return
    names = {name: getattr(interact, name) for name in interact.SESSION_NAMES}
    shell.user_ns.update(names)
    shell.user_ns_hidden.update(names)


def _sympy_printing(shell: CellShell) -> None:
    """LaTeX for sympy objects: now if sympy was preloaded, else on first display of one."""
    if "sympy" in sys.modules:
        _init_sympy_printing()
        return
    display_formatter: Any = shell.display_formatter
    formatter = display_formatter.formatters["text/latex"]

    def first_latex(obj: Any) -> str:
        """Set sympy's printing up (it replaces this formatter) and format ``obj``."""
        _init_sympy_printing()
        import sympy  # type: ignore[import-untyped]

        return f"$\\displaystyle {sympy.latex(obj, mode='plain')}$"

    for module, name in (
        ("sympy.core.basic", "Basic"),
        ("sympy.matrices.matrixbase", "MatrixBase"),
    ):
        formatter.for_type_by_name(module, name, first_latex)


def _init_sympy_printing() -> None:
    import sympy

    sympy.init_printing(use_latex="mathjax")
    x = sympy.Symbol("x")
    sympy.latex(sympy.sqrt(x) / 2 + sympy.Integral(x**2, x))  # warm the printers


def release_renderers_on_close(shell: CellShell) -> None:
    """Free closed figures at the end of the cell that closed them.

    The inline backend closes every figure after showing it, but a figure is a
    web of reference cycles holding the pixel buffer of its last (2x, retina)
    drawing, megabytes that only a full garbage collection frees, and those are
    rare. So after a cell that closed a figure the session collects (cheap: the
    template's objects are frozen out of the collector), and each closed figure's
    canvas drops its cached renderer at once, for figures a cell's result (an
    artist kept in ``Out``) keeps alive. Memory stays flat over hundreds of plots.
    """
    from matplotlib._pylab_helpers import Gcf
    from matplotlib.text import Text

    destroy, destroy_all = Gcf.destroy, Gcf.destroy_all
    closed = False

    def release(manager: Any) -> None:
        nonlocal closed
        canvas = getattr(manager, "canvas", None)
        if canvas is not None:
            canvas.__dict__.pop("renderer", None)
            canvas.__dict__.pop("_lastKey", None)
            for text in canvas.figure.findobj(Text):
                text._renderer = None  # texts keep the renderer they were drawn with
            closed = True

    def destroy_one(num: Any) -> None:
        manager = num if hasattr(num, "canvas") else Gcf.figs.get(num)
        destroy(num)
        release(manager)

    def destroy_every() -> None:
        managers = list(Gcf.figs.values())
        destroy_all()
        for manager in managers:
            release(manager)

    def collect_closed_figures() -> None:
        nonlocal closed
        if closed:
            closed = False
            gc.collect()

    Gcf.destroy = destroy_one  # type: ignore[method-assign]
    Gcf.destroy_all = destroy_every  # type: ignore[method-assign]
    shell.events.register("post_execute", collect_closed_figures)
