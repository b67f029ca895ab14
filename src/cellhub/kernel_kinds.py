"""The kinds of kernel cellhub can offer — ``python3`` and ``sage`` — each declared once.

A kind says which module sets its template's shell up, after the ``preload`` setting's
imports (read in the template, :mod:`cellhub.session.shell`), the environment that must
be in place before any import, how ``/api/kernelspecs``
describes it (display name, language, logos; read by the hub) and what must be installed
for a worker to offer it. Each kind a worker offers has its own template process and
spare sessions (:mod:`cellhub.worker.session_sources`), so a Sage session is forked from
a template that has imported Sage already.

The ``kernels`` setting names the kinds a worker offers; ``auto`` is ``python3``, and
``sage`` too where Sage (passagemath: ``pip install 'cellhub[sage]'``) is installed.
:func:`offered` resolves it and says why a kind is left out, for the worker's start-up
line. This module imports nothing of what a kind needs: the hub, which may run where
Sage is not installed, reads it too.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

AUTO = "auto"


@dataclass(frozen=True)
class KernelKind:
    """One kind of kernel: what its template loads, and how Jupyter clients see it."""

    name: str
    display_name: str
    #: The kernel spec's ``language`` (what JupyterLab groups launchers by).
    language: str
    #: A module with ``prepare(shell)``, run in the template once the shell is built and
    #: the ``preload`` setting's modules imported: the kind's own imports, syntax, display
    #: and names (empty: none).
    setup: str = ""
    #: Environment the template needs before its imports (a library's start-up switches).
    environment: dict[str, str] = field(default_factory=dict)
    #: Modules that must be importable for a worker to offer this kind (none: always).
    requires: tuple[str, ...] = ()
    #: How to install what ``requires``, for the message that says it is missing.
    install: str = ""
    #: The package the logos are in, found at run time (it may not be installed).
    logo_package: str = "cellhub.hub"
    #: The logos by the file name Jupyter clients ask for (``logo-64x64.png``: the resource
    #: ``logo-64x64``), each a path in ``logo_package``.
    logos: dict[str, str] = field(
        default_factory=lambda: {
            name: f"kernelspec/{name}"
            for name in ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg")
        }
    )

    def missing(self) -> list[str]:
        """What of ``requires`` this host lacks (found, never imported)."""
        return [name for name in self.requires if not _importable(name)]

    def available(self) -> bool:
        """Whether this host can run kernels of this kind."""
        return not self.missing()

    def logo_files(self) -> dict[str, Path]:
        """The logos this host (the hub's) has, by the file name clients ask for."""
        try:
            spec = importlib.util.find_spec(self.logo_package)
        except ImportError:
            return {}
        found: dict[str, Path] = {}
        for location in (spec.submodule_search_locations or []) if spec else []:
            for name, path in self.logos.items():
                if name not in found and (Path(location) / path).is_file():
                    found[name] = Path(location) / path
        return found


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a parent package is missing
        return False


PYTHON3 = KernelKind("python3", "Python 3 (cellhub)", "python")
SAGE = KernelKind(
    "sage",
    "SageMath (cellhub)",
    "sage",
    setup="cellhub.session.sage",
    environment={
        # Maxima runs in ECL, whose garbage collector would start marker threads, which a
        # fork loses (the session would hang in its first collection): mark in one thread.
        "GC_MARKERS": "1",
        # Sage's IPython set-up leaves the user namespace to cellhub.session.sage.
        "SAGE_IMPORTALL": "no",
    },
    # One module of each passagemath part of the cellhub[sage] extra (pyproject.toml).
    requires=tuple(
        f"sage.all__sagemath_{part}"
        for part in ("repl", "symbolics", "maxima", "plot", "pari", "gap", "singular")
    ),
    install="pip install 'cellhub[sage]'",
    logo_package="sage",
    logos={
        "logo-64x64.png": "ext_data/notebook-ipython/logo-64x64.png",
        "logo-svg.svg": "ext_data/notebook-ipython/logo.svg",
    },
)
#: Every kind, by name; the first is the default kernel where it is offered.
KINDS = {kind.name: kind for kind in (PYTHON3, SAGE)}


@dataclass(frozen=True)
class Offer:
    """The kinds a worker offers, and why any other is not offered (for its start-up line)."""

    names: tuple[str, ...]
    left_out: tuple[str, ...] = ()

    def describe(self) -> str:
        return ", ".join(self.names) + "".join(f"; {why}" for why in self.left_out)


def check_setting(names: list[str]) -> None:
    """Raise ``ValueError`` unless ``names`` is ``["auto"]`` or distinct known kinds."""
    if names == [AUTO]:
        return
    unknown = [name for name in names if name not in KINDS]
    if unknown or not names or len(set(names)) != len(names):
        raise ValueError(
            f"kernels takes 'auto' alone, or distinct names among {', '.join(KINDS)}; "
            f"not {', '.join(names) or 'nothing'}"
        )


def offered(names: list[str]) -> Offer:
    """The kinds of the ``kernels`` setting ``names``: with ``auto``, each installed one.

    Kinds named explicitly are offered as named: a template that cannot import what its
    kind needs then stops the worker with the error, rather than offering less than asked.
    """
    if names != [AUTO]:
        return Offer(tuple(names))
    installed = [kind for kind in KINDS.values() if kind.available()]
    left_out = tuple(
        f"{kind.name} not offered: {', '.join(kind.missing())} not installed ({kind.install})"
        for kind in KINDS.values()
        if kind not in installed
    )
    return Offer(tuple(kind.name for kind in installed), left_out)
