"""Jupyter widgets in a real Chromium on a real cellhub: ipywidgets, interact and Sage's @interact.

The kernel side speaks the widget protocol (comm_open/comm_msg/comm_close); the page renders
the views with ipywidgets' own models and views (frontend/src/widgets/).
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.worksheet_page import WorksheetPage

INTERACT_DOUBLE = "from ipywidgets import interact\ninteract(lambda x: print(x * 2), x=(0, 10))"

ALL_WIDGETS = """\
import ipywidgets as w
w.VBox([
    w.IntSlider(description='int'),
    w.FloatSlider(description='float'),
    w.IntRangeSlider(description='range'),
    w.HBox([w.IntText(description='it'), w.FloatText(description='ft')]),
    w.Text(description='text'),
    w.Textarea(description='area'),
    w.Checkbox(description='check'),
    w.Dropdown(options=['a', 'b'], description='drop'),
    w.RadioButtons(options=['r1', 'r2'], description='radio'),
    w.ToggleButtons(options=['t1', 't2'], description='toggle'),
    w.Button(description='Press'),
    w.ColorPicker(description='colour', value='#ff0000'),
    w.Output(),
])"""

# The image's PNG bytes travel as a binary buffer (Jupyter's binary WebSocket frame).
IMAGE_AND_BUTTON = """\
import io, ipywidgets as w
from PIL import Image as P
buf = io.BytesIO()
P.new('RGB', (20, 10), 'red').save(buf, 'PNG')
img = w.Image(value=buf.getvalue(), format='png')
b = w.Button(description='Grow')
out = w.Output()
def grow(_):
    img.width = '60'
    with out:
        print('grown')
b.on_click(grow)
w.VBox([img, b, out])"""


def test_interact_slider_with_keyboard_reprints_value(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run_and_wait(0, INTERACT_DOUBLE)
    handle = sheet.slider(0, "x")
    expect(handle).to_have_attribute("aria-valuenow", re.compile(r"^5(\.0)?$"))
    expect(sheet.widget_text(0)).to_have_text("10")
    sheet.slide(0, "x", 3)
    expect(handle).to_have_attribute("aria-valuenow", re.compile(r"^8(\.0)?$"))
    expect(sheet.widget_text(0)).to_have_text("16")
    # The printed value lives in the interact's Output widget, not beside it in the cell.
    expect(sheet.outputs(0).locator(":scope > .output.stream")).to_have_count(0)


def test_drag_slider_with_mouse(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run_and_wait(0, INTERACT_DOUBLE)
    handle = sheet.slider(0, "x")
    track = sheet.outputs(0).locator(".noUi-target").first
    expect(handle).to_be_visible()
    box = handle.bounding_box()
    target = track.bounding_box()
    assert box is not None and target is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["x"] + target["width"] - 1, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    expect(handle).to_have_attribute("aria-valuenow", re.compile(r"^10(\.0)?$"))
    expect(sheet.widget_text(0)).to_have_text("20")


def test_fast_slider_moves_do_not_queue_stale_runs(page: Any) -> None:
    sheet = WorksheetPage(page)
    code = (
        "import time\nfrom ipywidgets import interact\nruns = []\n"
        "def slow(x):\n    runs.append(x)\n    time.sleep(0.3)\n    print('value', x)\n"
        "interact(slow, x=(0, 40))"
    )
    sheet.run_and_wait(0, code)
    expect(sheet.widget_text(0)).to_have_text("value 20")
    sheet.slide(0, "x", 15)
    expect(sheet.widget_text(0)).to_have_text("value 35", timeout=20_000)
    sheet.add_cell()
    sheet.run_and_wait(1, "print(len(runs), runs[-1])")
    printed = sheet.outputs(1).locator(".stream-text")
    expect(printed).to_have_text(re.compile(r"^\d+ 35\s*$"))
    count = printed.inner_text().split()[0]
    # One run at creation, then at most one per update in flight: far fewer than 15 moves.
    assert int(count) <= 8, f"{count} runs for 15 key presses"


def test_pick_dropdown_value(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run_and_wait(
        0,
        "from ipywidgets import interact\n"
        "interact(lambda colour: print('picked', colour), colour=['red', 'green', 'blue'])",
    )
    expect(sheet.widget_text(0)).to_have_text("picked red")
    dropdown = sheet.outputs(0).get_by_role("combobox", name="colour")
    dropdown.select_option("blue")
    expect(sheet.widget_text(0)).to_have_text("picked blue")


def test_matplotlib_plot_under_interact_updates(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run_and_wait(
        0,
        "import matplotlib.pyplot as plt\nimport numpy as np\nfrom ipywidgets import interact\n"
        "def plot(k=(1, 5)):\n"
        "    x = np.linspace(0, 6, 200)\n    plt.plot(x, np.sin(k * x))\n    plt.show()\n"
        "interact(plot)",
    )
    image = sheet.widget_output(0).locator("img.image-output")
    expect(image).to_be_visible()
    before = image.get_attribute("src")
    assert before and before.startswith("data:image/png;base64,")
    sheet.slide(0, "k", 1)
    expect(image).not_to_have_attribute("src", before)
    expect(sheet.widget_output(0).locator("img.image-output")).to_have_count(1)


def test_sage_style_interact_needs_no_import(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run_and_wait(
        0,
        "@interact\ndef f(n=(1, 10), shout=False, word='hi', pick=['a', 'b']):\n"
        "    print(word.upper() if shout else word, n, pick)",
    )
    expect(sheet.slider(0, "n")).to_be_visible()
    expect(sheet.outputs(0).get_by_role("checkbox", name="shout")).to_be_visible()
    expect(sheet.outputs(0).get_by_role("textbox", name="word")).to_be_visible()
    expect(sheet.widget_output(0)).to_contain_text("hi")
    sheet.slide(0, "n", 2)
    expect(sheet.widget_output(0)).to_contain_text(re.compile(r"hi \d+ a"))


def test_all_basic_widgets_render_with_labels(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run_and_wait(
        0,
        ALL_WIDGETS,
    )
    outputs = sheet.outputs(0)
    for name in ["int", "float", "range (lower)", "range (upper)"]:
        expect(outputs.get_by_role("slider", name=name, exact=True)).to_be_visible()
    for name in ["it", "ft", "text", "area"]:
        expect(
            outputs.get_by_role("textbox", name=name, exact=True).or_(
                outputs.get_by_role("spinbutton", name=name, exact=True)
            )
        ).to_be_visible()
    expect(outputs.get_by_role("checkbox", name="check")).to_be_visible()
    expect(outputs.get_by_role("combobox", name="drop")).to_be_visible()
    expect(outputs.get_by_role("radiogroup", name="radio")).to_be_visible()
    expect(outputs.get_by_role("button", name="t2")).to_be_visible()
    expect(outputs.get_by_role("button", name="Press")).to_be_visible()
    expect(outputs.locator(".widget-colorpicker")).to_be_visible()


def test_widget_state_flows_both_ways(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run_and_wait(0, "import ipywidgets as w\ns = w.IntSlider(description='level')\ns")
    handle = sheet.slider(0, "level")
    sheet.slide(0, "level", 4)
    expect(handle).to_have_attribute("aria-valuenow", re.compile(r"^4(\.0)?$"))
    sheet.add_cell()
    sheet.run_and_wait(1, "print(s.value)\ns.value = 42")
    expect(sheet.outputs(1).locator(".stream-text")).to_have_text("4")
    expect(handle).to_have_attribute("aria-valuenow", re.compile(r"^42(\.0)?$"))


def test_button_click_and_binary_image(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run_and_wait(
        0,
        IMAGE_AND_BUTTON,
    )
    picture = sheet.outputs(0).locator("img.widget-image")
    expect(picture).to_be_visible()
    assert page.evaluate("(img) => img.naturalWidth", picture.element_handle()) == 20
    sheet.outputs(0).get_by_role("button", name="Grow").click()
    expect(sheet.widget_text(0)).to_have_text("grown")
    expect(picture).to_have_attribute("width", "60")


def test_widgets_come_back_after_reload(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run_and_wait(0, INTERACT_DOUBLE)
    sheet.slide(0, "x", 1)
    expect(sheet.widget_text(0)).to_have_text("12")
    page.reload()
    page.wait_for_selector('.kernel-state[data-state="idle"]', timeout=60_000)
    handle = sheet.slider(0, "x")
    expect(handle).to_have_attribute("aria-valuenow", re.compile(r"^6(\.0)?$"))
    expect(sheet.widget_text(0)).to_have_text("12")
    sheet.slide(0, "x", 1)
    expect(sheet.widget_text(0)).to_have_text("14")


def test_restart_says_widgets_stopped(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run_and_wait(0, INTERACT_DOUBLE)
    expect(sheet.slider(0, "x")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())  # the kernel holds state: Restart asks
    sheet.button("Restart").click()
    sheet.kernel_state("idle")
    expect(sheet.outputs(0).locator(".widget-missing")).to_contain_text("run the cell again")
    sheet.run_and_wait(0, INTERACT_DOUBLE)
    sheet.slide(0, "x", 1)
    expect(sheet.widget_text(0)).to_have_text("12")
