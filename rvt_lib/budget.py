"""Experiment sizes, chosen in one place by the environment variable ``RVT_BUDGET``.

* ``smoke``: every notebook runs in seconds (tests and CI).
* ``book``:  the published build on a 2-core CPU (minutes per chapter). The default.
* ``full``:  paper-scale runs on a GPU.
* ``dry``:   a rehearsal of ``full`` on a CPU, in minutes: every model and training
  configuration is the ``full`` one, but every training run stops after
  :data:`DRY_STEPS` updates, evaluation reads at most :data:`DRY_BATCHES` batches, and
  the knobs that only set *how much* is run (seeds, learning-rate grids, sweep lengths,
  numbers of samples) take their ``dry=`` value. A shape error, a parameter count that
  cannot be matched or a bad setting of ``full`` then fails in minutes on a laptop,
  not hours into a GPU run (``tests/test_dry_run.py`` runs every chapter this way).

Chapters never test the budget name themselves; they ask for a value per budget::

    from rvt_lib.budget import pick
    steps = pick(smoke=20, book=2_000, full=20_000)
    seeds = pick(smoke=(0,), book=(0, 1, 2), full=(0, 1, 2, 3, 4), dry=(0,))

To state another budget's sizes in prose (say, what ``full`` would run), build the
configuration inside ``with using_budget("full"):``.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

BUDGETS = ("smoke", "book", "full", "dry")
DEFAULT = "book"
DRY_STEPS = 2    # updates per training run under the dry budget
DRY_BATCHES = 2  # batches per evaluation under the dry budget


def get_budget() -> str:
    """Return the active budget name (read from ``RVT_BUDGET`` on every call)."""
    name = os.environ.get("RVT_BUDGET", DEFAULT).strip().lower() or DEFAULT
    if name not in BUDGETS:
        raise ValueError(
            f"RVT_BUDGET={name!r} is not a known budget; use one of {', '.join(BUDGETS)}"
        )
    return name


def is_dry() -> bool:
    """True under ``RVT_BUDGET=dry``: training runs stop after ``DRY_STEPS`` updates."""
    return get_budget() == "dry"


def pick(*, smoke, book, full=None, dry=None):
    """Return the value for the active budget.

    ``full`` falls back to ``book``; ``dry`` falls back to ``full`` (so a knob without a
    ``dry=`` value is rehearsed at its full size).
    """
    name = get_budget()
    if name == "smoke":
        return smoke
    if name == "dry" and dry is not None:
        return dry
    if name in ("full", "dry") and full is not None:
        return full
    return book


@contextmanager
def using_budget(name: str):
    """Within the block, :func:`get_budget` (and so :func:`pick`) answers ``name``.

    For reading another budget's configuration, e.g. the ``full`` sizes a chapter states
    in its prose while it runs under ``book``; the previous setting is restored on exit.
    """
    if name not in BUDGETS:
        raise ValueError(f"using_budget: {name!r} is not a known budget; use one of {', '.join(BUDGETS)}")
    old = os.environ.get("RVT_BUDGET")
    os.environ["RVT_BUDGET"] = name
    try:
        yield name
    finally:
        if old is None:
            os.environ.pop("RVT_BUDGET", None)
        else:
            os.environ["RVT_BUDGET"] = old


def rehearsed_batches(data):
    """``data`` as is, except under ``RVT_BUDGET=dry``: a list of batches cut to
    ``DRY_BATCHES`` of each shape (sequence length), in order.

    Per shape, not overall: a split that holds several lengths keeps every one, so a
    rehearsal still scores the longest (the one that runs out of memory) and every metric
    named after a length exists. Anything that is not a list or tuple (a sampler) is
    returned as is.
    """
    if not (is_dry() and isinstance(data, (list, tuple))):
        return data
    kept, count = [], {}
    for batch in data:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        key = tuple(x.shape[1:]) if hasattr(x, "shape") else None
        if count.get(key, 0) < DRY_BATCHES:
            kept.append(batch)
            count[key] = count.get(key, 0) + 1
    return kept
