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


def _initial(control):
    """The value ipywidgets would start a control at (widget, list of options, range, constant)."""
    import ipywidgets as widgets
    if isinstance(control, widgets.fixed):
        return control.value
    if isinstance(control, widgets.Widget):
        return control.value
    if isinstance(control, dict):
        return next(iter(control.values()))
    if isinstance(control, list):
        first = control[0]
        return first[1] if isinstance(first, tuple) and len(first) == 2 else first
    if isinstance(control, tuple) and all(isinstance(v, (int, float)) for v in control):
        lo, hi = control[0], control[1]
        mid = (lo + hi) / 2
        return int(mid) if all(isinstance(v, int) for v in control) else mid
    return control


def interact(fn, **controls):
    """``ipywidgets.interact(fn, **controls)``, except under ``RVT_BUDGET=smoke``.

    Under the smoke budget (tests and CI) ``fn`` is called once with each control's
    initial value: the code runs, but no widget output is captured. Executing notebooks
    headless (nbclient) occasionally hung on ``interact``'s output capture, with the kernel
    idle; tests must never hang. In a live notebook (``book``/``full``) the real widget.
    """
    from rvt_lib.budget import get_budget
    if get_budget() == "smoke":
        return fn(**{name: _initial(c) for name, c in controls.items()})
    import ipywidgets as widgets
    return widgets.interact(fn, **controls)
