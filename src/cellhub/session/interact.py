"""Sage-style ``@interact``, built on ipywidgets so one widget renderer shows both kinds.

Controls are inferred from a function's defaults as Sage infers them:

- ``(min, max)`` or ``(min, max, step)`` → a slider starting at ``min``; a longer
  tuple, or one of non-numbers → a slider over those values;
- a list → a selector (buttons for up to five short items, else a drop-down);
- a ``bool`` → a checkbox; a ``str`` → a text box; a number → an input box whose
  text is evaluated; a :class:`Color` → a color selector;
- a parameter without a default → an (evaluated) input box;
- a control helper (:func:`slider`, :func:`range_slider`, :func:`input_box`,
  :func:`selector`, :func:`checkbox`, :func:`color_selector`) or any ipywidgets
  value widget → itself.

``@interact`` (or ``@interact(layout=…, auto_update=False)``) displays the controls
and the function's output, and re-runs the function whenever a control changes
(or the *Update* button is pressed), replacing its previous output. It is an
``ipywidgets.interactive`` with Sage's inference, so the messages are the widget
protocol's own.

What the function receives is a value of the kernel's language: :data:`values` turns
the sliders' numbers and the input boxes' text into values, as Python has them, or,
in the ``sage`` kernel, as Sage has them (:mod:`cellhub.session.sage` sets it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from inspect import Parameter, signature
from numbers import Integral, Real
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]
from IPython.display import display
from ipywidgets.widgets.interaction import empty  # type: ignore[import-untyped]

SESSION_NAMES = (
    "interact",
    "slider",
    "range_slider",
    "input_box",
    "selector",
    "checkbox",
    "color_selector",
    "Color",
)
#: Where controls may go, in :func:`interact`'s ``layout`` (as in Sage).
LAYOUT_POSITIONS = ("top", "bottom", "left", "right")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


class Values:
    """How an interact's numbers and typed expressions become the kernel's values: Python's."""

    def number(self, value: Any) -> Any:
        """A slider's number (an int or a float)."""
        return value

    def evaluate(self, text: str, namespace: dict[str, Any]) -> Any:
        """An input box's text, as an expression of the kernel's language."""
        return eval(text, namespace)


#: The kernel's :class:`Values` (a kernel kind's set-up may replace it, in the template).
values = Values()


class NumberValue:
    """A slider whose value (a number, or a pair of them) reaches the function as the
    kernel's number (see :class:`Values`)."""

    value: Any

    def get_interact_value(self) -> Any:
        if isinstance(self.value, tuple):
            return tuple(values.number(number) for number in self.value)
        return values.number(self.value)


class IntSlider(NumberValue, widgets.IntSlider):  # type: ignore[misc]
    pass


class FloatSlider(NumberValue, widgets.FloatSlider):  # type: ignore[misc]
    pass


class IntRangeSlider(NumberValue, widgets.IntRangeSlider):  # type: ignore[misc]
    pass


class FloatRangeSlider(NumberValue, widgets.FloatRangeSlider):  # type: ignore[misc]
    pass


class Color(str):
    """A color an interact passes to its function: ``Color('red')``, ``Color('#ff0000')``."""

    def html_color(self) -> str:
        return str(self)


class ColorSelector(widgets.ColorPicker):  # type: ignore[misc]
    """A color picker whose value reaches the function as a :class:`Color`."""

    def get_interact_value(self) -> Color:
        return Color(self.value)


class InputBox(widgets.Text):  # type: ignore[misc]
    """A text box whose text is evaluated in the user namespace (``type=None``) or converted."""

    def __init__(self, value_type: Callable[[str], Any] | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.value_type = value_type

    def get_interact_value(self) -> Any:
        """The converted text; evaluated, an empty box is ``None``."""
        if self.value_type is not None:
            return self.value_type(self.value)
        from IPython import get_ipython

        if not self.value.strip():
            return None
        ip = get_ipython()
        return values.evaluate(self.value, ip.user_ns if ip is not None else {})


def slider(
    vmin: Any,
    vmax: Any = None,
    step_size: Any = None,
    default: Any = None,
    label: str | None = None,
    display_value: bool = True,
) -> widgets.ValueWidget:
    """A slider from ``vmin`` to ``vmax``, or over the values of a list ``vmin``."""
    description = label or ""
    if vmax is None:
        values = list(vmin)
        value = default if default in values else values[0]
        return widgets.SelectionSlider(
            options=values, value=value, description=description, readout=display_value
        )
    numbers = (vmin, vmax, step_size if step_size is not None else 1)
    integral = all(isinstance(n, Integral) for n in numbers)
    cls = IntSlider if integral else FloatSlider
    step = step_size if step_size is not None else (1 if integral else (vmax - vmin) / 100)
    return cls(
        min=vmin,
        max=vmax,
        step=step,
        value=vmin if default is None else default,
        description=description,
        readout=display_value,
    )


def range_slider(
    vmin: Any,
    vmax: Any,
    step_size: Any = None,
    default: tuple[Any, Any] | None = None,
    label: str | None = None,
    display_value: bool = True,
) -> widgets.ValueWidget:
    """A slider choosing an interval ``(low, high)`` of ``[vmin, vmax]``."""
    numbers = (vmin, vmax, step_size if step_size is not None else 1)
    integral = all(isinstance(n, Integral) for n in numbers)
    cls = IntRangeSlider if integral else FloatRangeSlider
    step = step_size if step_size is not None else (1 if integral else (vmax - vmin) / 100)
    return cls(
        min=vmin,
        max=vmax,
        step=step,
        value=(vmin, vmax) if default is None else tuple(default),
        description=label or "",
        readout=display_value,
    )


def input_box(
    default: Any = None,
    label: str | None = None,
    type: Callable[[str], Any] | None = None,
    width: int | None = None,
) -> widgets.ValueWidget:
    """A text box; its text is evaluated (``type=None``, as in Sage) or given to ``type``."""
    if type is None and isinstance(default, str):
        type = str
    text = "" if default is None else (default if isinstance(default, str) else repr(default))
    layout = widgets.Layout(width=f"{width}em") if width else None
    box = InputBox(type, value=text, description=label or "", continuous_update=False)
    if layout is not None:
        box.layout = layout
    return box


def selector(
    values: Sequence[Any],
    label: str | None = None,
    default: Any = None,
    buttons: bool | None = None,
) -> widgets.ValueWidget:
    """Choose one of ``values`` (items or ``(value, label)`` pairs) by buttons or drop-down."""
    options = [
        (str(v[1]), v[0]) if isinstance(v, tuple) and len(v) == 2 else (str(v), v) for v in values
    ]
    if buttons is None:
        buttons = len(options) <= 5 and all(len(text) <= 12 for text, _ in options)
    cls = widgets.ToggleButtons if buttons else widgets.Dropdown
    choices = [value for _, value in options]
    value = default if default in choices else choices[0]
    return cls(options=options, value=value, description=label or "")


def checkbox(default: bool = True, label: str | None = None) -> widgets.ValueWidget:
    return widgets.Checkbox(value=bool(default), description=label or "")


def color_selector(default: Any = "#0000ff", label: str | None = None) -> widgets.ValueWidget:
    """A color picker; ``default`` is a color name, ``#rrggbb`` or an RGB tuple in [0, 1]."""
    if isinstance(default, tuple):
        default = "#" + "".join(f"{round(float(c) * 255):02x}" for c in default[:3])
    return ColorSelector(value=str(default), description=label or "")


class SageInteractive(widgets.interactive):  # type: ignore[misc]
    """``ipywidgets.interactive`` with Sage's rules for turning defaults into controls."""

    @classmethod
    def widget_from_abbrev(cls, abbrev: Any, default: Any = empty) -> Any:
        if isinstance(abbrev, widgets.ValueWidget | widgets.fixed):
            return abbrev
        if isinstance(abbrev, Color):
            return color_selector(abbrev)
        if isinstance(abbrev, tuple):
            numeric = all(isinstance(v, Real) and not isinstance(v, bool) for v in abbrev)
            if numeric and len(abbrev) in (2, 3):
                return slider(*abbrev)
            return slider(list(abbrev))
        if isinstance(abbrev, list):
            return selector(abbrev)
        if isinstance(abbrev, bool):
            return checkbox(abbrev)
        if isinstance(abbrev, str):
            return color_selector(abbrev) if _HEX.match(abbrev) else input_box(abbrev, type=str)
        return input_box(abbrev)


def interact(
    f: Callable[..., Any] | None = None,
    *,
    layout: dict[str, Sequence[Sequence[str]]] | None = None,
    auto_update: bool = True,
    **controls: Any,
) -> Any:
    """Show controls for ``f``'s parameters and its output, re-run on every change.

    ``layout`` places controls, by parameter name, in rows at ``top``, ``bottom``,
    ``left`` or ``right`` of the output (unplaced ones go on top);
    ``auto_update=False`` adds an *Update* button and runs ``f`` only when pressed.
    Returns ``f``, with the interactive widget as ``f.widget``.
    """
    if f is None:
        return lambda g: interact(g, layout=layout, auto_update=auto_update, **controls)
    for name, param in signature(f).parameters.items():
        named = param.kind in (Parameter.POSITIONAL_OR_KEYWORD, Parameter.KEYWORD_ONLY)
        if named and param.default is Parameter.empty and name not in controls:
            controls[name] = input_box()
    options = {"manual": not auto_update, "manual_name": "Update", "auto_display": True}
    widget = SageInteractive(f, options, **controls)
    if layout:
        widget.children = _arrange(widget, layout)
    display(widget)  # type: ignore[no-untyped-call]
    f.widget = widget  # type: ignore[attr-defined]
    return f


def _arrange(widget: Any, layout: dict[str, Sequence[Sequence[str]]]) -> list[Any]:
    unknown = set(layout) - set(LAYOUT_POSITIONS)
    if unknown:
        raise ValueError(f"layout positions must be among {LAYOUT_POSITIONS}, not {unknown}")
    by_name = {w._kwarg: w for w in widget.kwargs_widgets if isinstance(w, widgets.DOMWidget)}
    placed: set[str] = set()

    def rows(position: str) -> list[Any]:
        boxes = []
        for row in layout.get(position, ()):
            placed.update(row)
            boxes.append(widgets.HBox([by_name[name] for name in row]))
        return boxes

    top, bottom, left, right = (rows(p) for p in LAYOUT_POSITIONS)
    rest = [w for name, w in by_name.items() if name not in placed]
    if widget.manual:
        rest.append(widget.manual_button)
    middle = widgets.HBox([widgets.VBox(left), widget.out, widgets.VBox(right)])
    return [*rest, *top, middle, *bottom]
