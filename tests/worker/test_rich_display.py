"""Rich output in a session: IPython.display, _repr_*_ objects, pandas, Pillow, sympy, plots."""

from __future__ import annotations

import base64
import struct
from typing import Any

import psutil

from cellhub.config import Config
from tests.worker.session_client import Reply, SessionClient

PRELOAD = list(Config().preload)


def outputs(run: Reply) -> list[dict[str, Any]]:
    assert run.reply["content"]["status"] == "ok", run.of_type("error")
    kinds = ("display_data", "execute_result", "update_display_data", "clear_output")
    return [
        m["content"] | {"type": m["header"]["msg_type"]}
        for m in run.messages
        if m["header"]["msg_type"] in kinds
    ]


def png_size(data: str) -> tuple[int, int]:
    raw = base64.b64decode(data)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", raw[16:24])
    return width, height


def test_ipython_display_objects(kernel: SessionClient) -> None:
    run = kernel.execute(
        "from IPython.display import HTML, Markdown, Latex, Math, SVG, JSON, Image\n"
        "display(HTML('<b>hi</b>'), Markdown('*md*'), Latex(r'$\\alpha$'), Math('x^2'))\n"
        'display(SVG(\'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>\'))\n'
        "display(JSON({'a': [1, 2]}))\n"
        "import io, PIL.Image\nbuf = io.BytesIO(); PIL.Image.new('RGB', (3, 2)).save(buf, 'png')\n"
        "display(Image(buf.getvalue()))\n"
    )
    datas = [o["data"] for o in outputs(run)]
    assert datas[0]["text/html"] == "<b>hi</b>"
    assert datas[1]["text/markdown"] == "*md*"
    assert datas[2]["text/latex"] == "$\\alpha$"
    assert datas[3]["text/latex"] == "$\\displaystyle x^2$"
    assert datas[4]["image/svg+xml"].startswith("<svg")
    assert datas[5]["application/json"] == {"a": [1, 2]}
    assert png_size(datas[6]["image/png"]) == (3, 2)


def test_clear_output_and_update_display(kernel: SessionClient) -> None:
    run = kernel.execute(
        "from IPython.display import clear_output, update_display, HTML\n"
        "print('gone')\nclear_output(wait=True)\n"
        "display(HTML('one'), display_id='d1')\nupdate_display(HTML('two'), display_id='d1')\n"
        "h = display('x', display_id=True)\nh.update('y')"
    )
    shown = outputs(run)
    assert shown[0] == {"type": "clear_output", "wait": True}
    assert shown[1]["type"] == "display_data" and shown[1]["transient"] == {"display_id": "d1"}
    assert shown[2]["type"] == "update_display_data" and shown[2]["data"]["text/html"] == "two"
    assert shown[2]["transient"] == {"display_id": "d1"}
    handle_id = shown[3]["transient"]["display_id"]
    assert shown[4]["type"] == "update_display_data"
    assert shown[4]["transient"]["display_id"] == handle_id
    assert shown[4]["data"]["text/plain"] == "'y'"


def test_repr_methods(kernel: SessionClient) -> None:
    run = kernel.execute(
        "class Rich:\n"
        "    def _repr_html_(self): return '<i>h</i>'\n"
        "    def _repr_svg_(self): return '<svg/>'\n"
        "    def _repr_latex_(self): return '$r$'\n"
        "    def _repr_markdown_(self): return '**m**'\n"
        "    def _repr_png_(self): return b'\\x89PNG\\r\\n\\x1a\\n' + bytes(16)\n"
        "class Bundle:\n"
        "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
        "        data = {'text/plain': 'B', 'application/x-custom': {'k': 1}}\n"
        "        return data, {'text/plain': {'m': 1}}\n"
        "display(Rich())\nBundle()"
    )
    rich, bundle = outputs(run)
    assert {"text/html", "image/svg+xml", "text/latex", "text/markdown", "image/png"} <= set(
        rich["data"]
    )
    assert base64.b64decode(rich["data"]["image/png"])[:4] == b"\x89PNG"
    assert bundle["type"] == "execute_result"
    assert bundle["data"]["application/x-custom"] == {"k": 1}
    assert bundle["metadata"] == {"text/plain": {"m": 1}}


def test_pandas_pillow_sympy(kernel: SessionClient) -> None:
    frame, image, expr = (
        outputs(kernel.execute(code))[0]["data"]
        for code in (
            "import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})",
            "import PIL.Image\nPIL.Image.new('RGB', (5, 4), 'red')",
            "import sympy\nx = sympy.Symbol('x')\nsympy.Integral(sympy.sqrt(x), x)",
        )
    )
    assert "<table" in frame["text/html"] and "text/plain" in frame
    assert png_size(image["image/png"]) == (5, 4)
    assert expr["text/latex"] == "$\\displaystyle \\int \\sqrt{x}\\, dx$"


def test_figures_in_order_retina_and_svg(kernel: SessionClient) -> None:
    run = kernel.execute(
        "import matplotlib.pyplot as plt\n"
        "plt.figure(figsize=(2, 1)); plt.plot([1, 2]); plt.show()\n"
        "print('between')\n"
        "plt.figure(figsize=(3, 1)); plt.plot([2, 1])\n"
        "plt.figure(figsize=(1, 1)); plt.plot([1, 1]);"
    )
    kinds = [m["header"]["msg_type"] for m in run.messages if m["header"]["msg_type"] != "status"]
    assert kinds == [
        "execute_input",
        "display_data",
        "stream",
        "display_data",
        "display_data",
        "execute_reply",
    ]
    widths = []
    for shown in run.of_type("display_data"):
        content = shown["content"]
        pixels = png_size(content["data"]["image/png"])
        meta = content["metadata"]["image/png"]
        assert pixels[0] >= 2 * meta["width"] - 2 and pixels[1] >= 2 * meta["height"] - 2
        widths.append(meta["width"])
    assert widths[0] < widths[1] and widths[2] < widths[0]
    assert (
        kernel.execute("len(plt.get_fignums())").of_type("execute_result")[0]["content"]["data"][
            "text/plain"
        ]
        == "0"
    )
    kernel.execute("%config InlineBackend.figure_formats = ['svg']")
    svg = outputs(kernel.execute("plt.plot([1, 3]);"))[0]["data"]
    assert "image/svg+xml" in svg and "image/png" not in svg


def test_memory_stays_flat_over_200_plots(kernel: SessionClient) -> None:
    """Ten plots a cell, the last one the cell's result (which IPython would keep in Out)."""
    session = psutil.Process(kernel.pid)
    cell = (
        "for _ in range(9):\n"
        "    plt.figure(figsize=(4, 3)); plt.plot(np.random.rand(50)); plt.show()\n"
        "plt.figure(figsize=(4, 3)); plt.plot(np.random.rand(50))"
    )
    kernel.execute("import numpy as np\nimport matplotlib.pyplot as plt")

    def plots(cells: int) -> None:
        for _ in range(cells):
            assert len(kernel.execute(cell).of_type("display_data")) == 10

    plots(2)
    after_20 = session.memory_info().rss
    plots(18)
    after_200 = session.memory_info().rss
    assert after_200 - after_20 < 10 * 2**20, (after_20 / 2**20, after_200 / 2**20)


def test_plain_values_format_as_ipython_formats_them(kernel: SessionClient) -> None:
    """The short cut for numbers and strings gives what IPython's full formatting gives,
    and steps aside once any other formatter has a printer for the type."""
    values = "[2, 2.5, 1j, True, 'x', b'y', None, 10**30]"
    run = kernel.execute(
        "from IPython.core.formatters import DisplayFormatter\n"
        "full = DisplayFormatter(parent=get_ipython())\n"
        f"same = [get_ipython().display_formatter.format(v) == full.format(v) for v in {values}]\n"
        "print(all(same), type(get_ipython().display_formatter).__name__)"
    )
    assert run.reply["content"]["status"] == "ok", run.of_type("error")
    assert run.stream_text() == "True CellDisplayFormatter\n"
    assert outputs(kernel.execute("1 + 1"))[0]["data"] == {"text/plain": "2"}
    kernel.execute("%precision 2")
    assert outputs(kernel.execute("1 / 3"))[0]["data"] == {"text/plain": "0.33"}
    kernel.execute(
        "get_ipython().display_formatter.formatters['text/html']"
        ".for_type(int, lambda n: f'<b>{n}</b>')"
    )
    assert outputs(kernel.execute("3"))[0]["data"] == {"text/plain": "3", "text/html": "<b>3</b>"}
    assert outputs(kernel.execute("True"))[0]["data"] == {
        "text/plain": "True",
        "text/html": "<b>True</b>",
    }
