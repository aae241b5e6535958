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


def glue(name: str, value, display: bool = False):
    """Store ``value`` under ``name`` for the built book (myst-nb), with numbers made plain."""
    value = plain(value)
    try:
        from myst_nb import glue as _glue
    except ImportError:  # e.g. in Colab: nothing renders glue there
        if display:
            from IPython.display import display as _display
            _display(value)
        return value
    _glue(name, value, display=display)
    return value
