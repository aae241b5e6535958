"""The book's recurring figures, drawn the same way in every chapter.

Call :func:`style` once at the top of a chapter. It gives every figure a solid white
background (readable in dark-mode viewers), a light grid and a colour-blind-safe palette
(Okabe & Ito). Each model kind keeps one colour throughout the book (``MODEL_COLORS``),
so "the orange curve" means minGRU in every chapter.

Every function here labels its axes, with units, and returns the ``Axes`` it drew on.
"""
from __future__ import annotations

import itertools
import math

import matplotlib
import matplotlib.ticker
import numpy as np

from rvt_lib.stats import fit_power_law

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common form of
# colour blindness. Yellow (#F0E442) is left out: too faint on white.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#7F7F7F"]

MODEL_COLORS = {
    "rnn": "#56B4E9",          # sky blue
    "gru": "#0072B2",          # blue
    "lstm": "#009E73",         # bluish green
    "mingru": "#E69F00",       # orange
    "minlstm": "#D55E00",      # vermillion
    "gpt": "#CC79A7",          # reddish purple
    "transformer": "#CC79A7",  # the same model family as gpt
    "persistence": "#7F7F7F",  # grey: naive baselines
    "baseline": "#7F7F7F",
    "linear": "#000000",       # black: the simple reference model
}


def style() -> None:
    """Set matplotlib's rcParams for the book (call once per notebook)."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update({
        # solid white everywhere: no transparent PNGs that vanish on dark backgrounds
        "figure.facecolor": "white",
        "axes.facecolor": "white",
        "savefig.facecolor": "white",
        "savefig.transparent": False,
        "figure.figsize": (6.4, 4.0),
        "figure.dpi": 110,
        "savefig.dpi": 150,
        "savefig.bbox": "tight",
        # readable text
        "font.size": 11,
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "legend.fontsize": 10,
        "xtick.labelsize": 10,
        "ytick.labelsize": 10,
        # a light grid under the data, no box
        "axes.grid": True,
        "axes.axisbelow": True,
        "grid.color": "#dddddd",
        "grid.linewidth": 0.6,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "lines.linewidth": 1.8,
        "legend.frameon": False,
        "axes.prop_cycle": cycler(color=PALETTE),
    })


def color_for(label: str) -> str | None:
    """The book's colour for a label that starts with a model kind, e.g. ``"minGRU (h=64)"``.

    Case is ignored; ``None`` when the label names no kind in ``MODEL_COLORS``.
    """
    name = str(label).lower().strip()
    matches = [kind for kind in MODEL_COLORS if name.startswith(kind)]
    return MODEL_COLORS[max(matches, key=len)] if matches else None


def _colors(labels) -> list:
    """One colour per label: its kind's colour when that kind appears once, else the next free one.

    Two runs of the same kind (``"gru h=32"``, ``"gru h=64"``) must not share a colour, so
    they both take colours from the palette that no other label uses.
    """
    kinds = [color_for(label) for label in labels]
    own = [c if c is not None and kinds.count(c) == 1 else None for c in kinds]
    free = [c for c in PALETTE if c not in own] or PALETTE
    cycle = itertools.cycle(free)
    return [c if c is not None else next(cycle) for c in own]


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


# ----------------------------------------------------------------------------- curves

def loss_curves(histories: dict, x: str = "step", ax=None,
                ylabel: str = "validation loss (nats/token)", which: str = "val",
                logy: bool = False, title: str | None = None):
    """Loss against training steps or training seconds, one curve per model.

    ``histories`` maps a label to a :class:`rvt_lib.train.History`. ``x="seconds"`` uses
    training time (evaluation excluded), the fair axis when models differ in speed.
    ``which`` is ``"val"`` (falls back to the train loss for a run without validation),
    ``"train"`` or ``"both"`` (train dashed). Change ``ylabel`` when the loss is not
    cross-entropy per token (e.g. ``"validation MSE (scaled price)^2"``).
    """
    if x not in ("step", "seconds"):
        raise ValueError(f"x must be 'step' or 'seconds', got {x!r}")
    if which not in ("val", "train", "both"):
        raise ValueError(f"which must be 'val', 'train' or 'both', got {which!r}")
    if not histories:
        raise ValueError("loss_curves: no histories to plot")
    ax = _axes(ax)
    for (label, h), color in zip(histories.items(), _colors(list(histories))):
        show_val = which in ("val", "both") and len(h.val_loss) > 0
        show_train = which in ("train", "both") or not show_val
        if show_val:
            xs = h.val_steps if x == "step" else h.val_seconds
            ax.plot(xs, h.val_loss, color=color, marker="o", markersize=3, label=label)
        if show_train:
            xs = h.train_steps if x == "step" else h.train_seconds
            ax.plot(xs, h.train_loss, color=color, alpha=0.6 if show_val else 1.0,
                    linestyle="--" if show_val else "-", label=f"{label} (train)")
    ax.set_xlabel("training step" if x == "step" else "training time (s)")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


# ----------------------------------------------------------------------------- scaling laws

def plot_loglog(x, ys: dict, ax=None, *, xlabel: str, ylabel: str, fit: bool = True,
                title: str | None = None):
    """Plot each series in ``ys`` against ``x`` on log-log axes, with its fitted exponent.

    ``ys`` maps a label to values aligned with ``x``; a missing value (``None``/NaN, e.g.
    a run that ran out of memory) is skipped. With ``fit``, a dashed least-squares line
    is drawn and the legend reads ``"gpt (slope 1.98)"``. ``xlabel``/``ylabel`` are
    required: say the units, e.g. ``"sequence length (tokens)"``, ``"time per step (ms)"``.

    Returns ``(ax, slopes)`` with ``slopes`` a dict label -> exponent (only with ``fit``).
    """
    ax = _axes(ax)
    x = np.asarray(x, dtype=float)
    slopes = {}
    for (label, values), color in zip(ys.items(), _colors(list(ys))):
        y = np.asarray([np.nan if v is None else v for v in values], dtype=float)
        if y.shape != x.shape:
            raise ValueError(f"plot_loglog: series {label!r} has {y.size} values for {x.size} x values")
        keep = np.isfinite(y) & (y > 0)
        text = label
        if fit and keep.sum() >= 2:
            law = fit_power_law(x, y)
            slope = slopes[label] = law.exponent
            text = f"{label} (slope {slope:.2f})"
            grid = np.geomspace(x[keep].min(), x[keep].max(), 50)
            ax.plot(grid, law(grid), color=color, linestyle="--",
                    linewidth=1.0, alpha=0.8)
        ax.plot(x[keep], y[keep], color=color, marker="o", linestyle="-", label=text)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = np.unique(x[np.isfinite(x) & (x > 0)])
    if len(ticks) <= 10:  # label the measured x values themselves (64, 128, ...), not only powers of 10
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax, slopes


# ----------------------------------------------------------------------------- results over seeds

def mean_std_bar(df, *, value: str, by: str = "model", hue: str | None = None, ax=None,
                 ylabel: str | None = None, xlabel: str | None = None, title: str | None = None):
    """Bars of the mean of ``value`` per ``by`` group, with ± one standard deviation.

    ``df`` holds one row per run (e.g. columns ``model``, ``seed``, ``val loss (nats/token)``).
    With ``hue`` (e.g. ``"seq_len"``), bars are grouped: one bar per hue value in each
    ``by`` group. The standard deviation is the sample one (ddof=1) over the runs; a group
    with a single run gets no error bar. The number of runs is written on each bar.
    ``ylabel`` defaults to ``value``: name that column with its unit.
    """
    for col in [value, by] + ([hue] if hue else []):
        if col not in df.columns:
            raise ValueError(f"mean_std_bar: no column {col!r}; columns are {list(df.columns)}")
    if len(df) == 0:
        raise ValueError("mean_std_bar: empty DataFrame")
    ax = _axes(ax)
    keys = [by] + ([hue] if hue else [])
    stats = df.groupby(keys, sort=False)[value].agg(["mean", "std", "count"])
    groups = list(dict.fromkeys(df[by]))
    hues = list(dict.fromkeys(df[hue])) if hue else [None]
    width = 0.8 / len(hues)
    colors = _colors([str(g) for g in groups]) if hue is None else _colors([f"{hue}={h}" for h in hues])
    for j, h in enumerate(hues):
        for i, g in enumerate(groups):
            key = (g, h) if hue else g
            if key not in stats.index:
                continue
            mean, std, count = stats.loc[key]
            pos = i + (j - (len(hues) - 1) / 2) * width
            color = colors[i] if hue is None else colors[j]
            err = None if count < 2 or math.isnan(std) else std
            ax.bar(pos, mean, width=width * 0.9, yerr=err, capsize=4, color=color,
                   label=f"{hue}={h}" if hue and i == 0 else None)
            top = mean + (err or 0.0) if mean >= 0 else mean - (err or 0.0)
            ax.annotate(f"n={int(count)}", (pos, top), textcoords="offset points",
                        xytext=(0, 3 if mean >= 0 else -3), ha="center",
                        va="bottom" if mean >= 0 else "top", fontsize=8)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([str(g) for g in groups])
    ax.set_xlabel(xlabel if xlabel is not None else by)
    ax.set_ylabel(ylabel if ylabel is not None else value)
    if hue:
        ax.legend(title=None)
    if title:
        ax.set_title(title)
    return ax
