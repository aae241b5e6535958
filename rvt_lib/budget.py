"""Experiment sizes, chosen in one place by the environment variable ``RVT_BUDGET``.

* ``smoke``: every notebook runs in seconds (tests and CI).
* ``book``:  the published build on a 2-core CPU (minutes per chapter). The default.
* ``full``:  paper-scale runs on a GPU.

Chapters never test the budget name themselves; they ask for a value per budget::

    from rvt_lib.budget import pick
    steps = pick(smoke=20, book=2_000, full=20_000)
"""
from __future__ import annotations

import os

BUDGETS = ("smoke", "book", "full")
DEFAULT = "book"


def get_budget() -> str:
    """Return the active budget name (read from ``RVT_BUDGET`` on every call)."""
    name = os.environ.get("RVT_BUDGET", DEFAULT).strip().lower() or DEFAULT
    if name not in BUDGETS:
        raise ValueError(
            f"RVT_BUDGET={name!r} is not a known budget; use one of {', '.join(BUDGETS)}"
        )
    return name


def pick(*, smoke, book, full=None):
    """Return the value for the active budget (``full`` falls back to ``book``)."""
    name = get_budget()
    if name == "smoke":
        return smoke
    if name == "full" and full is not None:
        return full
    return book
