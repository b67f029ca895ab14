"""Interacts in a session: ipywidgets' interact, Sage-style @interact, coalesced updates."""

from __future__ import annotations

from tests.worker.session_client import Reply, SessionClient
from tests.worker.test_comms import WIDGETS_PRELOAD, model_id, update

PRELOAD = WIDGETS_PRELOAD


def value(kernel: SessionClient, expression: str) -> str:
    run = kernel.execute(expression)
    assert run.reply["content"]["status"] == "ok", run.of_type("error")
    return str(run.of_type("execute_result")[0]["content"]["data"]["text/plain"])


def test_ipywidgets_interact_reruns_into_its_output_widget(kernel: SessionClient) -> None:
    run = kernel.execute(
        "from ipywidgets import interact\n@interact(x=(0, 10))\ndef f(x):\n    print('x =', x)"
    )
    assert run.stream_text() == "x = 5\n"
    slider = model_id(run, "IntSliderModel")
    output = model_id(run, "OutputModel")
    msg_id = update(kernel, slider, value=8)
    rerun = kernel.collect(msg_id)
    kinds = rerun.msg_types
    assert kinds.index("clear_output") < kinds.index("stream")
    assert rerun.of_type("clear_output")[0]["content"] == {"wait": True}
    assert rerun.stream_text() == "x = 8\n"
    assert {m["parent_header"]["msg_id"] for m in rerun.messages} == {msg_id}
    capture = [
        m["content"]["data"]["state"]
        for m in rerun.of_type("comm_msg")
        if m["content"]["comm_id"] == output
    ]
    assert capture[0] == {"msg_id": msg_id} and capture[-1] == {"msg_id": ""}


def test_sage_interact_needs_no_import_and_infers_controls(kernel: SessionClient) -> None:
    run = kernel.execute(
        "@interact\n"
        "def f(n=(1, 10), t=(0.0, 1.0, 0.25), pick=['a', 'b', 'c'], many=list(range(9)),\n"
        "      flag=True, name='sage', expr=2, col=Color('red'), hexcol='#00ff00',\n"
        "      disc=(1, 2, 3, 5, 8), free=None,\n"
        "      s=slider(0, 100, 5, default=50, label='speed'), r=range_slider(0, 10),\n"
        "      box=input_box(3, type=int), sel=selector([(1, 'one'), (2, 'two')], buttons=False),\n"
        "      ok=checkbox(False), c2=color_selector((1, 0, 0))):\n"
        "    print(n, t, pick, many, flag, name, expr, col, hexcol, disc, free, s, r, box, sel,"
        " ok, c2, type(col).__name__)\n"
    )
    assert run.reply["content"]["status"] == "ok", run.of_type("error")
    assert run.stream_text() == (
        "1 0.0 a 0 True sage 2 red #00ff00 1 None 50 (0, 10) 3 1 False #ff0000 Color\n"
    )
    kinds = eval(value(kernel, "[type(w).__name__ for w in f.widget.kwargs_widgets]"))
    assert kinds == (
        [
            "IntSlider",
            "FloatSlider",
            "ToggleButtons",
            "Dropdown",
            "Checkbox",
            "InputBox",
            "InputBox",
            "ColorSelector",
            "ColorSelector",
            "SelectionSlider",
            "InputBox",
            "IntSlider",
            "IntRangeSlider",
            "InputBox",
            "Dropdown",
            "Checkbox",
            "ColorSelector",
        ]
    )
    assert value(kernel, "f.widget.kwargs_widgets[11].description") == "'speed'"
    assert "interact" not in kernel.execute("%who").stream_text()


def test_sage_interact_replaces_its_output_and_evaluates_input_boxes(
    kernel: SessionClient,
) -> None:
    run = kernel.execute("@interact\ndef g(expr=2):\n    print(expr * 2)")
    box = model_id(run, "TextModel")
    rerun = kernel.collect(update(kernel, box, value="[1] + [2]"))
    assert rerun.of_type("clear_output") and rerun.stream_text() == "[1, 2, 1, 2]\n"


def test_update_button_and_layout(kernel: SessionClient) -> None:
    run = kernel.execute(
        "@interact(auto_update=False, layout={'left': [['a']], 'bottom': [['b']]})\n"
        "def h(a=(0, 4), b=True):\n    print('ran', a, b)"
    )
    assert run.stream_text() == ""
    button = model_id(run, "ButtonModel")
    slider = model_id(run, "IntSliderModel")
    kernel.collect(update(kernel, slider, value=3))
    click = {"method": "custom", "content": {"event": "click"}}
    pressed = kernel.request("comm_msg", {"comm_id": button, "data": click})
    assert pressed.stream_text() == "ran 3 True\n"
    layout = value(kernel, "[type(c).__name__ for c in h.widget.children]")
    assert layout == "['Button', 'HBox', 'HBox']"


def test_rapid_updates_are_coalesced(kernel: SessionClient) -> None:
    """20 updates sent at once: the function runs a few times, ending on the last value."""
    run = kernel.execute(
        "import time\nruns = []\n"
        "@interact\ndef slow(v=(0, 100)):\n    runs.append(v)\n    time.sleep(0.05)\n"
        "    print('v', v)"
    )
    slider = model_id(run, "IntSliderModel")
    ids = [update(kernel, slider, value=i) for i in range(1, 21)]
    replies = [kernel.collect(msg_id) for msg_id in ids]
    statuses = [
        (m["parent_header"]["msg_id"], m["content"]["execution_state"])
        for reply in replies
        for m in reply.of_type("status")
    ]
    for msg_id in ids:  # every update is answered with busy and idle (ipywidgets counts them)
        assert (msg_id, "busy") in statuses and (msg_id, "idle") in statuses
    runs = eval(value(kernel, "runs"))
    assert runs[0] == 0 and runs[-1] == 20 and len(runs) <= 5, runs  # 0: the first run
    assert Reply(messages=[m for r in replies for m in r.messages]).stream_text().endswith("v 20\n")
    assert value(kernel, "slow.widget.kwargs_widgets[0].value") == "20"
