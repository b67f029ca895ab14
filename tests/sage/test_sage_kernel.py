"""The ``sage`` kernel, against a real cellhub: Sage's syntax, calculus, display and plots,
in a session forked from a template that imported Sage (cellhub.session.sage)."""

from __future__ import annotations

import asyncio
import base64
import html
import re
from pathlib import Path
from typing import Any

from tests.hub.test_permalinks import page_config
from tests.kernel_client import Execution, Hub, KernelClient
from tests.polling import until


def result(run: Execution) -> dict[str, Any]:
    """The data of the cell's execute_result, failing with everything heard if there is none."""
    assert run.reply is not None and run.reply["content"]["status"] == "ok", run.explain()
    assert "execute_result" in run.msg_types, run.explain()
    data: dict[str, Any] = run.first("execute_result")["content"]["data"]
    return data


async def plain(kernel: KernelClient, code: str) -> str:
    return str(result(await kernel.execute(code))["text/plain"])


async def test_kernelspecs_list_sage_with_its_logo(sage_hub: Hub) -> None:
    specs = (await sage_hub.http.get("/api/kernelspecs")).json()
    assert specs["default"] == "python3"
    assert list(specs["kernelspecs"]) == ["python3", "sage"]
    sage = specs["kernelspecs"]["sage"]
    assert sage["spec"]["language"] == "sage" and "Sage" in sage["spec"]["display_name"]
    assert (await sage_hub.http.get("/api/kernelspecs/sage")).json() == sage
    logo = await sage_hub.http.get(sage["resources"]["logo-64x64"])
    assert logo.status_code == 200 and logo.content.startswith(b"\x89PNG")


async def test_the_preparser_runs_on_every_cell(sage_hub: Hub) -> None:
    _, kernel = await sage_hub.kernel("sage")
    assert await plain(kernel, "2^3") == "8"
    assert await plain(kernel, "1/2 + 1/3") == "5/6"
    assert await plain(kernel, "parent(1/2)") == "Rational Field"
    assert await plain(kernel, "[1..5]") == "[1, 2, 3, 4, 5]"
    assert await plain(kernel, "R.<t> = QQ[]\n(t + 1)^2") == "t^2 + 2*t + 1"
    assert await plain(kernel, "f(x) = x^2 + 1\nf(3)") == "10"
    await kernel.close()


async def test_integrate_solve_and_show_as_latex(sage_hub: Hub) -> None:
    _, kernel = await sage_hub.kernel("sage")
    assert await plain(kernel, "integrate(x^2 * sin(x), x)") == "-(x^2 - 2)*cos(x) + 2*x*sin(x)"
    assert await plain(kernel, "integrate(exp(-x^2), x, -oo, oo)") == "sqrt(pi)"
    assert await plain(kernel, "solve(x^2 - 2 == 0, x)") == "[x == -sqrt(2), x == sqrt(2)]"
    assert await plain(kernel, "factor(2^64 + 1)") == "274177 * 67280421310721"
    shown = await kernel.execute("show(x^2 / 2)")
    data = shown.first("display_data")["content"]["data"]
    assert data["text/latex"] == "$\\displaystyle \\frac{1}{2} \\, x^{2}$"
    assert "text/html" not in data  # the page typesets LaTeX; Sage's HTML is a MathJax wrapper
    await kernel.close()


async def test_a_plot_is_an_inline_png(sage_hub: Hub) -> None:
    _, kernel = await sage_hub.kernel("sage")
    data = result(await kernel.execute("plot(sin(x), (x, 0, 2*pi))"))
    assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG")
    assert data["text/plain"] == "Graphics object consisting of 1 graphics primitive"
    await kernel.close()


async def test_a_3d_plot_loads_three_js_from_the_hub_that_serves_it(sage_hub: Hub) -> None:
    """Sage's three.js page names the hub's copy of the version Sage asks for, relative to
    the hub, and no other host; the hub serves that address, the same bytes as Sage's own."""
    from sage.features.threejs import Threejs  # type: ignore[import-untyped]

    _, kernel = await sage_hub.kernel("sage")
    for code in ("var('y')\nplot3d(sin(x*y), (x, -2, 2), (y, -2, 2))", "show(sphere())"):
        run = await kernel.execute(code)
        kind = "display_data" if code.startswith("show") else "execute_result"
        assert kind in run.msg_types, run.explain()
        page = html.unescape(run.first(kind)["content"]["data"]["text/html"])  # an iframe's srcdoc
        scripts = re.findall(r'<script src="([^"]*)"', page)
        assert len(scripts) == 1, scripts
        version = re.escape(Threejs().required_version())
        assert re.fullmatch(
            rf"static/threejs/{version}/three\.min\.js\?v=[0-9a-f]{{12}}", scripts[0]
        )
        assert re.findall(r'(?:src|href)="([^"]*)"', page) == scripts
        assert "cdn" not in page.lower()
    served = await sage_hub.http.get(scripts[0])
    assert served.status_code == 200, served.text
    assert served.headers["content-type"].startswith("text/javascript")
    assert served.content == Path(Threejs().absolute_filename()).read_bytes()
    await kernel.close()


async def test_pari_gp_and_maxima_through_their_magics(sage_hub: Hub) -> None:
    _, kernel = await sage_hub.kernel("sage")
    assert await plain(kernel, "%gp nextprime(2^64)") == "18446744073709551629"
    printed = (await kernel.execute("%%gp\nv = [1, 2, 3];\nvecsum(v)")).stream_text()
    assert printed.strip() == "6"
    assert await plain(kernel, "%maxima integrate(x^2, x)") == "x^3/3"
    await kernel.close()


async def test_gap_and_singular_through_their_magics(sage_hub: Hub) -> None:
    """Sage Cell's GAP and Singular: programs the session starts as its children."""
    _, kernel = await sage_hub.kernel("sage")
    assert await plain(kernel, "%gap Size(SymmetricGroup(5))") == "120"
    printed = await kernel.execute("%%gap\nG := SmallGroup(24, 12);;\nStructureDescription(G);")
    assert printed.stream_text().strip() == '"S4"', printed.explain()  # GAP's string
    factors = await kernel.execute(
        "%%singular\nring r = 0, (x, y), dp;\npoly f = x^2 - y^2;\nfactorize(f);"
    )
    assert "x-y" in factors.stream_text() and "x+y" in factors.stream_text(), factors.explain()
    assert await plain(kernel, "%singular 2 + 3") == "5"
    # Sage's own multivariate polynomials are libSingular's, in the session itself.
    assert await plain(kernel, "R.<a, b> = QQ[]\nfactor(a^2 - b^2)") == "(a - b) * (a + b)"
    await kernel.close()


async def test_gap_leaves_no_workspace_in_the_session_home(sage_hub: Hub) -> None:
    """Sage would save GAP's workspace (tens of MB) in DOT_SAGE, a tmpfs of the session's."""
    _, kernel = await sage_hub.kernel("sage")
    assert await plain(kernel, "%gap 2^10") == "1024"
    code = "import os\nos.path.exists(os.path.join(os.environ['DOT_SAGE'], 'gap'))"
    assert await plain(kernel, code) == "False"
    await kernel.close()


async def test_a_python_cell_is_plain_python_in_the_same_namespace(sage_hub: Hub) -> None:
    """Sage Cell's ``python``: no preparser (``^`` is xor, ``1/2`` a float), same variables."""
    _, kernel = await sage_hub.kernel("sage")
    assert await plain(kernel, "%%python\n2^3") == "1"
    assert await plain(kernel, "%%python\nn = 1/2\nn, type(n).__name__") == "(0.5, 'float')"
    assert await plain(kernel, "n, 2^3") == "(0.5, 8)"
    failed = await kernel.execute("%%python\n\nraise ValueError('line 3')")
    assert failed.reply is not None and failed.reply["content"]["ename"] == "ValueError"
    assert "3" in "".join(failed.reply["content"]["traceback"])  # line numbers stay the cell's
    await kernel.close()


async def test_a_restarted_sage_kernel_is_sage_again(sage_hub: Hub) -> None:
    kernel_id, kernel = await sage_hub.kernel("sage")
    assert await plain(kernel, "a = 2^5; a") == "32"
    restarted = await sage_hub.http.post(f"/api/kernels/{kernel_id}/restart")
    assert restarted.status_code == 200 and restarted.json()["name"] == "sage"
    assert await plain(kernel, "'a' in globals(), 2^5") == "(False, 32)"
    await kernel.close()


async def test_sage_writes_to_its_directory_in_the_session_home(sage_hub: Hub) -> None:
    _, kernel = await sage_hub.kernel("sage")
    code = (
        "import os, sage.env, sage.misc.misc\n"
        "d = os.environ['DOT_SAGE']\n"
        "(d == os.path.join(os.environ['HOME'], '.sage') == sage.env.DOT_SAGE"
        " == sage.misc.misc.DOT_SAGE, os.access(d, os.W_OK), tmp_filename().startswith(d))"
    )
    assert await plain(kernel, code) == "(True, True, True)"
    three_d = result(await kernel.execute("var('y')\nplot3d(x * y, (x, -1, 1), (y, -1, 1))"))
    assert "<iframe" in three_d["text/html"]  # written through a temporary file
    await kernel.close()


async def test_an_interrupt_stops_a_computation_in_compiled_code(sage_hub: Hub) -> None:
    """PARI factors without returning to Python: only cysignals' handler can stop it."""
    kernel_id, kernel = await sage_hub.kernel("sage")
    running = asyncio.create_task(kernel.execute("factor(2^997 - 1)", timeout=90))

    async def busy() -> bool:
        model = (await sage_hub.http.get(f"/api/kernels/{kernel_id}")).json()
        return bool(model["execution_state"] == "busy")

    await until(busy, "the kernel busy factoring", timeout=30)
    assert (await sage_hub.http.post(f"/api/kernels/{kernel_id}/interrupt")).status_code == 204
    run = await running
    assert run.reply is not None and run.reply["content"]["ename"] == "KeyboardInterrupt"
    assert await plain(kernel, "2^10") == "1024"
    await kernel.close()


async def test_an_interrupt_stops_gap_and_gap_goes_on(sage_hub: Hub) -> None:
    """A GAP cell runs in the session's GAP process: the interrupt stops it through Sage's
    interface, which starts GAP anew (as in Sage), and GAP answers the next cell."""
    kernel_id, kernel = await sage_hub.kernel("sage")
    assert await plain(kernel, "%gap 1 + 1") == "2"
    loop = "%%gap\nx := 0;; for i in [1 .. 10^10] do x := x + 1; od;"
    running = asyncio.create_task(kernel.execute(loop, timeout=90))

    async def busy() -> bool:
        model = (await sage_hub.http.get(f"/api/kernels/{kernel_id}")).json()
        return bool(model["execution_state"] == "busy")

    await until(busy, "the kernel busy in GAP", timeout=30)
    assert (await sage_hub.http.post(f"/api/kernels/{kernel_id}/interrupt")).status_code == 204
    run = await running
    assert run.reply is not None and run.reply["content"]["ename"] == "KeyboardInterrupt"
    assert await plain(kernel, "%gap Size(SymmetricGroup(4))") == "24"
    await kernel.close()


async def test_an_interact_gives_its_function_sage_values(sage_hub: Hub) -> None:
    _, kernel = await sage_hub.kernel("sage")
    shown = await kernel.execute(
        "@interact\ndef f(n=(1, 10), r=range_slider(0, 4), q=input_box(1/2)):\n"
        "    print(n + 1/2, r, q, parent(q))"
    )
    assert shown.stream_text() == "3/2 (0, 4) 1/2 Rational Field\n", shown.explain()
    moved = await kernel.execute("f.widget.kwargs_widgets[0].value = 7")
    assert moved.stream_text() == "15/2 (0, 4) 1/2 Rational Field\n", moved.explain()
    typed = await kernel.execute("f.widget.kwargs_widgets[2].value = '2^10'")
    assert typed.stream_text() == "15/2 (0, 4) 1024 Integer Ring\n", typed.explain()
    await kernel.close()


async def test_a_permalink_with_kernel_sage_opens_a_sage_worksheet(sage_hub: Hub) -> None:
    made = await sage_hub.http.post(
        "/api/permalinks", json={"code": "factor(2^64 + 1)", "kernel_name": "sage"}
    )
    assert made.status_code == 201, made.text
    link = made.json()
    stored = (await sage_hub.http.get(f"/api/permalinks/{link['id']}")).json()
    assert stored["kernel_name"] == "sage"
    page = await sage_hub.http.get(f"/s/{link['id']}")
    assert page_config(page.text)["kernelName"] == "sage"
