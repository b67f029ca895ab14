"""The IPython shell a session runs cells in, built once in the template before any fork.

:class:`CellShell` is an ``InteractiveShell`` whose results, displays, errors and
pager output become Jupyter messages (as ipykernel's ``ZMQInteractiveShell``
does), sent through :attr:`CellShell.publisher`. The template has no socket, so
the publisher is ``None`` there and output of the warm-up work is discarded;
:func:`cellhub.session.process.run_session` sets it after the fork.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any

from IPython.core import page
from IPython.core.completer import provisionalcompleter
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.formatters import DisplayFormatter
from IPython.core.inputtransformer2 import TransformerManager
from IPython.core.interactiveshell import InteractiveShell
from traitlets import Instance, Type, default
from traitlets.config import Config

from cellhub.kernel_kinds import PYTHON3, KernelKind
from cellhub.session.comms import install_comms
from cellhub.session.outbox import Publisher
from cellhub.template.preload import prepare_environment

#: Environment a session's code and subprocesses see (as ipykernel sets it up).
SESSION_ENVIRONMENT = {
    "TERM": "xterm-color",
    "CLICOLOR": "1",
    "FORCE_COLOR": "1",
    "CLICOLOR_FORCE": "1",
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}
#: One thread per BLAS library: sessions are many, cores are few.
SINGLE_THREADED_BLAS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

WARM_UP_CELL = """\
_cellhub_x = [i * i for i in range(10)]
f"{_cellhub_x!r}"
del _cellhub_x
"""
#: Times the template runs the warm-up cell and a stored ``1+1``. CPython 3.11 rewrites
#: a function's bytecode in place once it has run a few times (quickening, then
#: specialization); done in the template, that write is shared by every session instead
#: of being copied into each (about 1.5 MiB per session).
WARM_UP_ROUNDS = 12


class CellDisplayHook(DisplayHook):
    """Turns the value of a cell's last expression into an ``execute_result`` message."""

    shell: CellShell

    def start_displayhook(self) -> None:
        self._is_active = True
        self.content: dict[str, Any] = {"data": {}, "metadata": {}, "execution_count": 0}

    def write_output_prompt(self) -> None:
        self.content["execution_count"] = self.prompt_count

    def write_format_data(
        self, format_dict: dict[str, Any], md_dict: dict[str, Any] | None = None
    ) -> None:
        self.content["data"] = format_dict
        self.content["metadata"] = md_dict or {}

    def update_user_ns(self, result: Any) -> None:
        """Keep results in ``Out`` and ``_``, except matplotlib artists of shown figures.

        ``plt.plot(...)`` as a cell's last line returns artists whose figure the
        inline backend has shown and closed; caching them would keep every such
        figure alive (half a megabyte each), so session memory would grow with
        every plot.
        """
        if not _is_plot_artist(result):
            super().update_user_ns(result)  # type: ignore[no-untyped-call]

    def quiet(self) -> bool:
        """Whether the cell ends in ``;``; IPython tokenizes every cell to know, but a cell
        without a semicolon anywhere cannot end in one."""
        parsed = self.shell.history_manager.input_hist_parsed  # type: ignore[union-attr]
        if not parsed or ";" not in parsed[-1]:
            return False
        return bool(self.semicolon_at_end_of_expression(parsed[-1]))  # type: ignore[no-untyped-call]

    def log_output(self, format_dict: dict[str, Any]) -> None:
        """Keep no copy of results in the history (IPython keeps every repr, forever).

        ``Out`` and ``_`` still hold the results, within IPython's cache size.
        """

    def finish_displayhook(self) -> None:
        self._is_active = False
        publisher = self.shell.publisher
        if publisher is not None and self.content["data"]:
            publisher.publish("execute_result", self.content)


def _is_plot_artist(result: Any) -> bool:
    if "matplotlib" not in sys.modules:
        return False
    from matplotlib.artist import Artist

    items = result if isinstance(result, list | tuple) and result else [result]
    return all(isinstance(item, Artist) for item in items)


class CellDisplayPublisher(DisplayPublisher):
    """Sends ``display_data``, ``update_display_data`` and ``clear_output`` messages."""

    shell: CellShell

    def publish(  # type: ignore[override]
        self,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        *,
        transient: dict[str, Any] | None = None,
        update: bool = False,
        **kwargs: Any,
    ) -> None:
        self._validate_data(data, metadata)  # type: ignore[no-untyped-call]
        publisher = self.shell.publisher
        if publisher is None:
            return
        content = {"data": data, "metadata": metadata or {}, "transient": transient or {}}
        publisher.publish("update_display_data" if update else "display_data", content)

    def clear_output(self, wait: bool = False) -> None:
        publisher = self.shell.publisher
        if publisher is not None:
            publisher.publish("clear_output", {"wait": bool(wait)})


#: Exact types that nothing but text/plain represents, unless someone registers a printer.
PLAIN_TYPES = frozenset({int, float, complex, bool, str, bytes, type(None)})


class CellDisplayFormatter(DisplayFormatter):
    """IPython's display formatter with a short cut for plain values such as ``2``.

    The full way asks every MIME formatter in turn, each walking the type's bases for a
    printer; for ``1+1`` that is a third of the cell's run time. For an exact builtin
    type that no formatter but text/plain has a printer for (a user may register one
    at any time, so this is checked on every call), no other formatter can produce
    anything, and only text/plain runs.
    """

    def format(
        self, obj: Any, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        kind = type(obj)
        if kind in PLAIN_TYPES and not include and not exclude and self._plain_only(obj):
            data = self.formatters["text/plain"](obj)
            return ({} if data is None else {"text/plain": data}), {}
        formatted: tuple[dict[str, Any], dict[str, Any]]
        formatted = super().format(obj, include, exclude)  # type: ignore[no-untyped-call]
        return formatted

    def _plain_only(self, obj: Any) -> bool:
        others: list[Any] = [self.ipython_display_formatter, self.mimebundle_formatter]
        others += [f for mime, f in self.formatters.items() if mime != "text/plain"]
        bases = type(obj).__mro__
        for formatter in others:
            printers, deferred = formatter.type_printers, formatter.deferred_printers
            if id(obj) in formatter.singleton_printers:
                return False
            for base in bases:
                if base in printers or (base.__module__, base.__name__) in deferred:
                    return False
        return True


#: IPython syntax that a token transform rewrites starts with one of these characters,
#: or with one of ``,;/`` as the first thing on a line (the autocall escapes).
IPYTHON_SYNTAX = re.compile(r"[%!?]|^[^\S\n]*[,;/]", re.MULTILINE)


class CellTransformerManager(TransformerManager):
    """IPython's input transformer with a short cut for cells of plain Python.

    Finding ``%magic``, ``!cmd``, ``a = %x``, ``obj?`` and the autocall escapes means
    tokenizing the whole cell, again after each rewrite; a cell with none of the
    characters they start with has none of them. Transforms added by the user (or
    an extension) always run. A badly indented cell, which IPython's tokenizer would
    refuse here, goes on to Python's compiler and gets its IndentationError there.
    """

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.builtin_token_transformers = tuple(self.token_transformers)

    def do_token_transforms(self, lines: list[str]) -> list[str]:
        if tuple(self.token_transformers) == self.builtin_token_transformers and not (
            IPYTHON_SYNTAX.search("".join(lines))
        ):
            return lines
        transformed: list[str] = super().do_token_transforms(lines)  # type: ignore[no-untyped-call]
        return transformed


class CellShell(InteractiveShell):
    """An InteractiveShell whose output goes to Jupyter clients (see ipykernel's zmqshell)."""

    displayhook_class = Type(CellDisplayHook)
    input_transformer_manager = Instance(TransformerManager)
    display_pub_class = Type(CellDisplayPublisher)
    publisher: Publisher | None = None
    #: What ipykernel-aware libraries (ipywidgets) look for; set by :func:`install_comms`.
    kernel: Any = None
    #: The traceback of the last error shown, for the execute_reply (as ipykernel keeps it).
    last_traceback: list[str] | None = None
    #: What each session runs once, forked and sandboxed, before it serves: what a kernel
    #: kind's set-up (:mod:`cellhub.kernel_kinds`) must redo per session.
    session_start: list[Callable[[], None]]

    @default("input_transformer_manager")
    def _cell_transformer_manager(self) -> TransformerManager:
        return CellTransformerManager()

    def get_parent(self) -> dict[str, Any]:
        """The request current output belongs to, as ipykernel's shell gives it to ipywidgets."""
        return {"header": self.publisher.output_parent} if self.publisher is not None else {}

    def set_parent(self, parent: dict[str, Any]) -> None:
        if self.publisher is not None and parent.get("header"):
            self.publisher.output_parent = parent["header"]

    @property
    def payloads(self) -> Any:
        return self.payload_manager

    def should_run_async(
        self,
        raw_cell: str,
        *,
        transformed_cell: str | None = None,
        preprocessing_exc_tuple: Any = None,
    ) -> bool:
        """IPython compiles every cell an extra time to look for top-level ``await``;
        a cell without the words ``await`` or ``async`` cannot have any."""
        if transformed_cell is not None and not (
            "await" in transformed_cell or "async" in transformed_cell
        ):
            return False
        answer: bool = super().should_run_async(
            raw_cell,
            transformed_cell=transformed_cell,
            preprocessing_exc_tuple=preprocessing_exc_tuple,
        )
        return answer

    def init_display_formatter(self) -> None:
        self.display_formatter = CellDisplayFormatter(parent=self)
        self.configurables.append(self.display_formatter)  # type: ignore[arg-type]

    def init_hooks(self) -> None:
        super().init_hooks()  # type: ignore[no-untyped-call]
        hook: Any = page.as_hook
        self.set_hook("show_in_pager", hook(self._page_payload), 99)  # type: ignore[no-untyped-call]

    def _page_payload(
        self,
        strg: str | dict[str, Any],
        start: int = 0,
        screen_lines: int = 0,
        pager_cmd: Any = None,
    ) -> None:
        """``obj?`` and ``%magic?`` output goes to the execute_reply's payload, as in ipykernel."""
        data = strg if isinstance(strg, dict) else {"text/plain": strg}
        self.payloads.write_payload({"source": "page", "data": data, "start": max(0, start)})

    @contextlib.contextmanager
    def _tee(self, channel: str) -> Iterator[None]:
        """Do not copy every write into the history's outputs (IPython 9 does).

        That copy wraps ``write`` in Python code for each ``print`` and keeps all
        output of every cell in memory, which a session that prints 10**6 lines
        cannot afford; cellhub's history keeps inputs only.
        """
        yield

    def _get_exc_info(self, exc_tuple: Any = None) -> tuple[Any, Any, Any]:
        """The exception to show, without the frames of cellhub's own code at its end: the
        SIGINT handler that raised a KeyboardInterrupt (cellhub.session.interrupts) is not
        the user's code, and its server path means nothing to them (nor to a Jupyter
        client resolving the frames' paths)."""
        etype, value, tb = super()._get_exc_info(exc_tuple)  # type: ignore[no-untyped-call]
        return etype, value, without_own_frames(tb)

    def _showtraceback(
        self, etype: type[BaseException], evalue: BaseException, stb: list[str]
    ) -> None:
        self.last_traceback = stb
        if self.publisher is not None:
            content = {"traceback": stb, "ename": etype.__name__, "evalue": str(evalue)}
            self.publisher.publish("error", content)

    def set_next_input(self, s: str, replace: bool = False) -> None:
        self.payloads.write_payload({"source": "set_next_input", "text": s, "replace": replace})

    def ask_exit(self) -> None:
        self.payloads.write_payload({"source": "ask_exit", "keepkernel": False})

    def enable_gui(self, gui: Any = None) -> None:
        if gui not in (None, "inline"):
            from IPython.core.error import UsageError

            raise UsageError(f"GUI event loops ({gui}) are not available in cellhub")


#: Where cellhub's own modules live: frames from here are the service's, not the user's.
OWN_CODE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def without_own_frames(tb: TracebackType | None) -> TracebackType | None:
    """``tb`` cut before the run of cellhub frames it ends with (unchanged if none)."""
    last_foreign: TracebackType | None = None
    entry = tb
    while entry is not None:
        if not entry.tb_frame.f_code.co_filename.startswith(OWN_CODE):
            last_foreign = entry
        entry = entry.tb_next
    if last_foreign is not None:
        last_foreign.tb_next = None
    return tb


def build_shell(preload: Sequence[str], kind: KernelKind = PYTHON3) -> CellShell:
    """Build and warm the shell every session of ``kind`` will fork from.

    Wires Jupyter comms (:mod:`cellhub.session.comms`), imports ``preload`` (raising
    ``ImportError`` for a missing module), turns on the inline matplotlib backend
    (retina PNG) if matplotlib was preloaded, runs a throwaway cell,
    completion and inspection so that IPython, jedi and parso are warm, runs the kind's
    set-up (Sage's: :mod:`cellhub.session.sage`), and returns
    a clean shell: ``execution_count == 1``, no user variables, input history in an
    in-memory database (``In[1]`` is the first cell a session runs), and the names of
    :mod:`cellhub.template.preload` (Sage-style ``interact``) in the user namespace.
    Starts no thread and opens no socket, so it is safe to fork after.
    """
    for name in SINGLE_THREADED_BLAS:
        os.environ.setdefault(name, "1")
    os.environ.update(SESSION_ENVIRONMENT)
    config = Config()
    # An in-memory database: no file, no saving thread (which a fork would lose), and
    # inputs reach it only when a history_request asks (see introspection.history).
    config.HistoryManager.hist_file = ":memory:"
    config.InteractiveShell.autoindent = False
    config.InteractiveShell.readline_use = False
    config.InlineBackend.figure_formats = ["retina"]  # PNG at 2x, shown at 1x: sharp on HiDPI
    shell: CellShell = CellShell.instance(config=config)
    shell.session_start = []
    ip: Any = shell  # IPython's own methods are untyped
    install_comms(shell)  # before ipywidgets is imported: it registers its comm targets then
    for name in preload:
        importlib.import_module(name)
    if "matplotlib" in preload or "matplotlib.pyplot" in preload:
        ip.enable_matplotlib("inline")
        _warm_matplotlib()
    _warm(shell)
    if kind.setup:
        importlib.import_module(kind.setup).prepare(shell)
    prepare_environment(shell)
    if threading.active_count() != 1:
        raise RuntimeError("building the shell started a thread, which a fork would lose")
    return shell


def _warm_matplotlib() -> None:
    import io

    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(2, 2))
    plt.plot([0, 1], [1, 0], label="warm")
    plt.legend()
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)


def _warm(shell: CellShell) -> None:
    ip: Any = shell
    for _ in range(WARM_UP_ROUNDS):
        ip.run_cell(WARM_UP_CELL, store_history=False, silent=True)
        ip.run_cell("1 + 1", store_history=True, silent=False)
        ip.display_formatter.format(0)
    with provisionalcompleter():
        list(shell.Completer.completions("import o", 8))
        list(shell.Completer.completions("'abc'.upp", 9))
    ip.object_inspect_mime("print", detail_level=0)
    ip.object_inspect_mime("len", detail_level=1)
    shell.input_transformer_manager.check_complete("for i in range(3):")
    _forget_warm_up_history(shell)
    ip.payload_manager.clear_payload()
    shell.last_traceback = None
    shell.execution_count = 1


def _forget_warm_up_history(shell: CellShell) -> None:
    """Start history anew, as a fresh kernel's: session 1, no warm-up cells in ``In``."""
    history: Any = shell.history_manager
    history.db.close()
    history.init_db()
    history.db_input_cache.clear()
    ip: Any = shell
    ip.reset(new_session=True)
