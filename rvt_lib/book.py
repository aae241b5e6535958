"""Helpers for the book's notebooks.

``glue(name, value)`` stores a computed value so that the prose can paste it with
``{glue:text}`name:.2f``` (see myst-nb). Two things go wrong with myst-nb's own ``glue``,
and this wrapper fixes both:

* numpy scalars (``np.float64(0.5)``) are stored by their repr, which myst-nb cannot
  format with ``:.2f``; they are converted to plain Python numbers first;
* myst-nb is a build dependency, absent in Colab: there, ``glue`` just displays the
  value when asked to (``display=True``) and otherwise does nothing.
"""
from __future__ import annotations

import numpy as np


def plain(value):
    """Convert numpy scalars (and 0-d arrays, and torch scalars) to Python numbers."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if type(value).__module__ == "torch" and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the built book (myst-nb), with numbers made plain."""
    value = plain(value)
    try:
        from myst_nb import glue as _glue
    except ImportError:  # e.g. in Colab: nothing renders glue there
        if display:
            from IPython.display import display as _display
            _display(value)
        return None
    _glue(name, value, display=display)
    return None  # nothing, so that a cell ending in glue(...) prints no stray output


def which_of(chosen, among) -> str:
    """How many of ``among`` are ``chosen``, in words, naming them: for glued counts.

    ``"none of the 5"``, ``"all 5"``, or ``"2 of the 5 (GRU, LSTM)"`` (in the order of
    ``among``), so that a sentence built on a computed count reads right whatever the
    count turns out to be (never "0 of the 5 ... for the other 5").
    """
    among, chosen = list(among), set(chosen)
    unknown = sorted(map(str, chosen.difference(among)))
    if unknown:
        raise ValueError(f"which_of: {unknown} are not among {among}")
    picked = [a for a in among if a in chosen]
    if len(among) == 1:
        return str(among[0]) if picked else "none"
    if not picked:
        return f"none of the {len(among)}"
    if len(picked) == len(among):
        return f"all {len(among)}"
    return f"{len(picked)} of the {len(among)} ({', '.join(map(str, picked))})"


# ----------------------------------------------------------------------------- widgets
#
# A widget needs a live kernel. On the published site there is none: ipywidgets' saved
# state draws the controls, but moving one changes nothing. So ``interact`` has two
# modes. Live (Colab, Jupyter): ``ipywidgets.interact``. Static (the book build, and the
# smoke tests, which exercise the very same code): the function is run once for every
# point of a grid over the controls, each output is captured (figures as PNG, printed
# text, HTML), and one self-contained HTML block with plain <select>/<input type=range>
# controls and a few lines of JavaScript swaps the precomputed outputs. It works in any
# browser with no server and no CDN.

def max_static_outputs() -> int:
    """Grid points rendered per static widget: 64 (each adds ~30-60 kB to the page), or 4
    under the smoke budget, which runs the same code on a coarser grid."""
    from rvt_lib.budget import pick
    return pick(smoke=4, book=64, full=64)


def widget_mode() -> str:
    """``"static"`` or ``"live"``: ``RVT_WIDGETS`` if set, else static under the smoke
    budget (tests, CI) and the dry one, live otherwise. The book build sets ``RVT_WIDGETS=static``."""
    import os
    from rvt_lib.budget import get_budget
    mode = os.environ.get("RVT_WIDGETS", "").strip().lower()
    if mode not in ("", "static", "live"):
        raise ValueError(f"RVT_WIDGETS must be 'static' or 'live', got {mode!r}")
    return mode or ("static" if get_budget() in ("smoke", "dry") else "live")


def control_values(control) -> tuple[list, list[str], int]:
    """A control's possible values, their labels and the index of its initial value.

    Accepts what ``ipywidgets.interact`` accepts: a widget (sliders, dropdowns,
    selection sliders, checkboxes, ``fixed``), a list of options or of (label, value)
    pairs, a dict {label: value}, an (min, max[, step]) tuple, or a constant.
    """
    import ipywidgets as widgets
    if isinstance(control, widgets.fixed):
        return [control.value], [str(control.value)], 0
    if isinstance(control, (widgets.IntSlider, widgets.FloatSlider)):
        n = int(round((control.max - control.min) / control.step)) + 1
        values = [control.min + i * control.step for i in range(n)]
        if isinstance(control, widgets.IntSlider):
            values = [int(round(v)) for v in values]
        else:
            values = [round(v, 10) for v in values]
        start = min(range(n), key=lambda i: abs(values[i] - control.value))
        return values, [_label(v) for v in values], start
    if isinstance(control, widgets.Checkbox):
        return [False, True], ["off", "on"], int(bool(control.value))
    if isinstance(control, widgets.widgets.widget_selection._Selection):
        labels, values = list(control._options_labels), list(control._options_values)
        return values, labels, max(0, control.index or 0)
    if isinstance(control, widgets.Widget):
        raise TypeError(f"interact: no static rendering for {type(control).__name__}")
    if isinstance(control, dict):
        return list(control.values()), [str(k) for k in control], 0
    if isinstance(control, list):
        if control and all(isinstance(c, tuple) and len(c) == 2 for c in control):
            return [v for _, v in control], [str(k) for k, _ in control], 0
        return list(control), [str(c) for c in control], 0
    if isinstance(control, tuple) and 2 <= len(control) <= 3 and all(
            isinstance(v, (int, float)) for v in control):
        is_int = all(isinstance(v, int) for v in control)
        lo, hi = control[0], control[1]
        step = control[2] if len(control) == 3 else (1 if is_int else (hi - lo) / 100)
        widget = (widgets.IntSlider if is_int else widgets.FloatSlider)(
            min=lo, max=hi, step=step, value=lo + ((hi - lo) // 2 if is_int else (hi - lo) / 2))
        return control_values(widget)
    return [control], [str(control)], 0


def _label(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _is_slider(control) -> bool:
    import ipywidgets as widgets
    return isinstance(control, (widgets.IntSlider, widgets.FloatSlider, widgets.SelectionSlider)) or (
        isinstance(control, tuple) and all(isinstance(v, (int, float)) for v in control))


def static_grid(controls: dict, max_outputs: int) -> dict:
    """Thin the controls' values so that the grid has at most ``max_outputs`` points.

    Sliders are thinned first (evenly, always keeping the initial value, down to that
    value alone); lists of options only if the sliders alone cannot make the grid fit.
    Returns {name: (values, labels, start index)}.
    """
    if max_outputs < 1:
        raise ValueError(f"max_outputs must be >= 1, got {max_outputs}")
    grid = {name: control_values(c) for name, c in controls.items()}
    sliders = [name for name, c in controls.items() if _is_slider(c)]
    options = [name for name in grid if name not in sliders]
    for name in sorted(options, key=lambda n: -len(grid[n][0])):  # rarely needed
        while _grid_size(grid, options) > max_outputs and len(grid[name][0]) > 1:
            grid[name] = _thin(*grid[name], len(grid[name][0]) // 2)
    budget = max_outputs / _grid_size(grid, options)
    for i, name in enumerate(sorted(sliders, key=lambda n: len(grid[n][0]))):
        n_keep = max(1, min(len(grid[name][0]), int(budget ** (1 / (len(sliders) - i)) + 1e-9)))
        grid[name] = _thin(*grid[name], n_keep)
        budget /= len(grid[name][0])
    return grid


def _grid_size(grid: dict, names) -> int:
    return int(np.prod([len(grid[n][0]) for n in names])) if names else 1


def _thin(values: list, labels: list, start: int, n_keep: int):
    """``n_keep`` evenly spaced values (ends included) and always the initial one."""
    if n_keep >= len(values):
        return values, labels, start
    keep = [start] if n_keep == 1 else sorted(
        set(np.linspace(0, len(values) - 1, n_keep - 1).round().astype(int).tolist()) | {start})
    return [values[i] for i in keep], [labels[i] for i in keep], keep.index(start)


def _capture(fn, kwargs) -> str:
    """Run ``fn(**kwargs)`` and return its output as HTML: printed text, displayed rich
    outputs and every matplotlib figure it left open (closed afterwards)."""
    import base64
    import html
    import io

    import matplotlib.pyplot as plt
    from IPython.utils.capture import capture_output

    before = set(plt.get_fignums())
    with capture_output(display=True) as captured:
        result = fn(**kwargs)
    parts = [f"<pre>{html.escape(captured.stdout)}</pre>"] if captured.stdout.strip() else []
    for out in captured.outputs:
        data = out.data
        if "image/png" in data:
            parts.append(f'<img alt="output" src="data:image/png;base64,{data["image/png"]}">')
        elif "text/html" in data:
            parts.append(data["text/html"])
        elif "text/plain" in data:
            parts.append(f"<pre>{html.escape(data['text/plain'])}</pre>")
    if result is not None and not hasattr(result, "savefig"):  # as interact shows a return value
        parts.append(f"<pre>{html.escape(repr(result))}</pre>")
    for num in [n for n in plt.get_fignums() if n not in before]:
        fig = plt.figure(num)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight")
        plt.close(fig)
        parts.append('<img alt="figure" src="data:image/png;base64,'
                     f'{base64.b64encode(buffer.getvalue()).decode()}">')
    return "\n".join(parts)


_STATIC_JS = """
(function () {
  var root = document.getElementById("%(id)s");
  var strides = %(strides)s;
  var inputs = root.querySelectorAll("[data-rvt-control]");
  function update() {
    var index = 0;
    inputs.forEach(function (el, i) {
      index += parseInt(el.value, 10) * strides[i];
      var shown = root.querySelector('[data-rvt-value="' + i + '"]');
      if (shown) { shown.textContent = el.dataset.labels.split("\\u001f")[el.value]; }
    });
    root.querySelectorAll("[data-rvt-output]").forEach(function (out) {
      out.style.display = (parseInt(out.dataset.rvtOutput, 10) === index) ? "" : "none";
    });
  }
  inputs.forEach(function (el) { el.addEventListener("input", update); el.addEventListener("change", update); });
  update();
})();
"""


def static_widget_html(fn, controls: dict, max_outputs: int | None = None) -> str:
    """The self-contained HTML (controls, precomputed outputs, script) for ``fn``."""
    import html
    import itertools
    import json
    import uuid

    grid = static_grid(controls, max_outputs or max_static_outputs())
    for control in controls.values():  # read: close them, so the page saves no widget state
        if hasattr(control, "close"):  # (which would load ipywidgets' manager from a CDN)
            control.close()
    names = list(grid)
    sizes = [len(grid[n][0]) for n in names]
    strides = [int(np.prod(sizes[i + 1:])) for i in range(len(names))]
    wid = f"rvt-widget-{uuid.uuid4().hex[:10]}"
    rows = []
    for i, name in enumerate(names):
        values, labels, start = grid[name]
        joined = html.escape("\u001f".join(labels), quote=True)
        if len(values) > 1 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                   for v in values):
            control = (f'<input type="range" min="0" max="{len(values) - 1}" step="1" '
                       f'value="{start}" data-rvt-control="{i}" data-labels="{joined}" '
                       f'aria-label="{html.escape(name)}"> <span data-rvt-value="{i}"></span>')
        else:
            options = "".join(f'<option value="{j}"{" selected" if j == start else ""}>'
                              f"{html.escape(label)}</option>" for j, label in enumerate(labels))
            control = (f'<select data-rvt-control="{i}" data-labels="{joined}" '
                       f'aria-label="{html.escape(name)}">{options}</select>')
        rows.append(f'<label style="margin-right:1.5em">{html.escape(name)} {control}</label>')
    outputs = []
    for index, combo in enumerate(itertools.product(*[range(s) for s in sizes])):
        kwargs = {n: grid[n][0][j] for n, j in zip(names, combo)}
        outputs.append(f'<div data-rvt-output="{index}">{_capture(fn, kwargs)}</div>')
    note = (f'<div style="font-size:80%;color:#555">Precomputed for {len(outputs)} '
            "setting(s) of the controls; open the chapter in Colab for the live widget.</div>")
    script = _STATIC_JS % {"id": wid, "strides": json.dumps(strides)}
    return (f'<div id="{wid}" class="rvt-static-widget">'
            f'<div class="rvt-controls">{"".join(rows)}</div>{note}{"".join(outputs)}'
            f"<script>{script}</script></div>")


def interact(fn, *, max_outputs: int | None = None, **controls):
    """``ipywidgets.interact(fn, **controls)`` live; a precomputed HTML control static.

    See :func:`widget_mode` for which one runs. The static control shows the same
    function's outputs over a grid of the controls' values (:func:`static_grid`), so it
    works on the published site, which has no kernel.
    """
    if widget_mode() == "live":
        import ipywidgets as widgets
        return widgets.interact(fn, **controls)
    from IPython.display import HTML, display
    display(HTML(static_widget_html(fn, controls, max_outputs)))
    return None
