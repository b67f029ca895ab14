"""The Jupyter project's kernel conformance suite, ``jupyter_kernel_test``, run against cellhub.

Its ``KernelTests`` class runs unchanged — every check and its message-schema validation
(``msgspec_v5``) are the Jupyter project's; only how the kernel is reached differs: instead of
``jupyter_client.start_new_kernel`` (a local process over ZeroMQ) the kernel is started with
``POST /api/kernels`` on a real ``cellhub serve`` and spoken to over its WebSocket by
tests/clients/blocking_kernel_client.py. The samples below are what the suite asks a kernel
author to supply, written for IPython.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.clients.blocking_kernel_client import RemoteKernel
from tests.conftest import RunningHub

pytest.importorskip("jupyter_kernel_test")

import jupyter_kernel_test as jkt


@pytest.fixture(scope="module", autouse=True)
def cellhub_for_suite(cellhub_server: RunningHub) -> Iterator[None]:
    """Module-scoped, so it is in place before unittest's ``setUpClass`` runs."""
    CellhubKernelTests.hub = cellhub_server
    yield


class CellhubKernelTests(jkt.KernelTests):  # type: ignore[misc]  # the package has no types
    hub: RunningHub

    @classmethod
    def setUpClass(cls) -> None:
        cls.km = RemoteKernel(cls.hub.url, cls.hub.token, cls.kernel_name)
        cls.kc = cls.km.client()

    kernel_name = "python3"
    language_name = "python"
    file_extension = ".py"
    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; sys.stderr.write('to stderr\\n')"
    completion_samples = [
        {"text": "pri", "matches": {"print"}},
        {
            "text": "import os; os.pa",
            "matches": {"pardir", "path", "pathconf", "pathconf_names", "pathsep"},
        },
    ]
    complete_code_samples = ["x = 1", "for i in range(3):\n    pass\n\n"]
    incomplete_code_samples = ["for i in range(3):", "s = '''open"]
    invalid_code_samples = ["1 = = 2"]
    code_page_something = "len?"
    code_generate_error = "1 / 0"
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "sorted({3, 1, 2})", "result": "[1, 2, 3]"},
    ]
    code_display_data = [
        {
            "code": "from IPython.display import HTML, display; display(HTML('<i>hi</i>'))",
            "mime": "text/html",
        },
        {
            "code": "from IPython.display import Markdown, display; display(Markdown('*hi*'))",
            "mime": "text/markdown",
        },
    ]
    code_history_pattern = "6 ?*"
    # As the suite's own configuration for ipykernel (its test_ipykernel.py): IPython answers
    # a range of the current session with session 0 in each row, ipykernel passes that on,
    # and cellhub does the same, where the suite's range check expects the session's number.
    supported_history_operations = ("tail", "search")
    code_inspect_sample = "len"
    code_clear_output = "from IPython.display import clear_output; clear_output(wait=True)"
