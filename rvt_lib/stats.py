"""Statistics for comparing models: summaries, intervals, paired tests, power laws, verdicts.

Every comparison in the book ends in one of three sentences, "A beats B", "B beats A" or
"no clear difference", and this module is the only place that writes them. The path is
always the same:

    test = paired_bootstrap(loss_lstm, loss_gpt)          # per-item scores, same test items
    v = verdict(test, "LSTM", "GPT", lower_is_better=True, unit="nats/char")
    glue("lstm_vs_gpt", v.text)                           # never typed into prose

Which paired test fits which experiment:

* :func:`paired_bootstrap`: per-item scores of two models on the *same* test items
  (per-window loss, per-item accuracy); resamples the items.
* :func:`mcnemar`: paired right/wrong answers of two classifiers; exact binomial test.
* :func:`diebold_mariano` and :func:`block_bootstrap`: forecast losses over *time*, where
  neighbouring days are correlated and resampling single days would overstate certainty.
* :func:`paired_seeds`: one number per training seed for each model, matched by seed.

Each returns a :class:`PairedTest` whose ``estimate`` is the mean difference ``a - b`` in
the metric's units, with a confidence interval and a two-sided p-value. :func:`verdict`
turns it into words; :func:`verdict_claim` checks a claim from a source against it;
:func:`holm` adjusts p-values when one chapter makes many comparisons.

The rest: :func:`summarize` (the one "mean ± std" table of the library; :func:`mean_std`
is its text for a single sample), :func:`mean_ci`,
:func:`wilson_interval`, :func:`bootstrap_ci`, and the power laws of the scaling chapter
(:func:`fit_power_law`, :func:`crossover`, :func:`crossings`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats as st

# ----------------------------------------------------------------------------- vocabulary
# Every verdict word this module can write. Chapters glue these; a test may grep prose
# for them to make sure no verdict was typed by hand.

A_BETTER, B_BETTER, NO_CLEAR = "a_better", "b_better", "no_clear_difference"
LABELS = (A_BETTER, B_BETTER, NO_CLEAR)

BEATS = "beats"
NO_CLEAR_DIFFERENCE = "no clear difference"

SUPPORTED, NOT_SUPPORTED, CONTRADICTED = "supported", "not supported", "contradicted"
CLAIM_WORDS = (SUPPORTED, NOT_SUPPORTED, CONTRADICTED)
# the same three outcomes, worded for "we re-ran the source's experiment"
CONFIRMED, QUALIFIED, REFUTED = "confirmed", "qualified", "refuted"
REPLICATION_WORDS = (CONFIRMED, QUALIFIED, REFUTED)

VERDICT_WORDS = (BEATS, NO_CLEAR_DIFFERENCE, *CLAIM_WORDS, *REPLICATION_WORDS)

MINUS = "\u2212"  # a typographic minus sign for prose


# ----------------------------------------------------------------------------- input checks

def _values(values, fn: str, name: str = "values", min_n: int = 1) -> np.ndarray:
    """A finite 1-D float array with at least ``min_n`` entries, or a ValueError that says why."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{fn}: {name} must be numbers, got {type(values).__name__}") from err
    if arr.ndim != 1:
        raise ValueError(f"{fn}: {name} must be 1-D, got shape {arr.shape}")
    if arr.size < min_n:
        raise ValueError(f"{fn}: {name} needs at least {min_n} value(s), got {arr.size}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{fn}: {name} has {int(bad.sum())} NaN/infinite value(s) "
                         f"(first at index {int(np.argmax(bad))}); drop or fix them first")
    return arr


def _pair(a, b, fn: str, names=("a", "b"), min_n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Two finite 1-D arrays of the same length (paired observations)."""
    a, b = _values(a, fn, names[0], min_n), _values(b, fn, names[1], min_n)
    if a.shape != b.shape:
        raise ValueError(f"{fn}: {names[0]} and {names[1]} must be paired (same length), "
                         f"got {a.size} and {b.size}")
    return a, b


def _level(level: float, fn: str) -> float:
    if not isinstance(level, (int, float)) or not 0.0 < level < 1.0:
        raise ValueError(f"{fn}: level must be a number in (0, 1), e.g. 0.95, got {level!r}")
    return float(level)


def _n_boot(n_boot: int, fn: str) -> int:
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 100:
        raise ValueError(f"{fn}: n_boot must be an integer >= 100, got {n_boot!r}")
    return int(n_boot)


# ----------------------------------------------------------------------------- intervals

class Interval(NamedTuple):
    """A point estimate with a confidence interval; unpacks as ``est, low, high``."""

    estimate: float
    low: float
    high: float


def _bounds(bounds, fn: str):
    """``None`` or a checked ``(low, high)`` with low < high."""
    if bounds is None:
        return None
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{fn}: bounds must be (low, high), got {bounds!r}") from err
    if not lo < hi:
        raise ValueError(f"{fn}: bounds must have low < high, got {bounds!r}")
    return lo, hi


def _within(x: np.ndarray, bounds, fn: str, name: str = "values") -> None:
    """A ValueError when a value lies outside the range it was declared to take."""
    if bounds is not None and x.size and (x.min() < bounds[0] or x.max() > bounds[1]):
        raise ValueError(f"{fn}: {name} must lie in {list(bounds)} (bounds), "
                         f"got values from {x.min():g} to {x.max():g}")


def _cut(low: float, high: float, bounds) -> tuple[float, float]:
    """An interval cut to the range the mean can take (NaN stays NaN)."""
    if bounds is None:
        return low, high
    return (low if math.isnan(low) else max(low, bounds[0]),
            high if math.isnan(high) else min(high, bounds[1]))


def mean_ci(values, level: float = 0.95, *, bounds=None) -> Interval:
    """The mean with its t interval.

    ``mean ± t_{(1+level)/2, n-1} · s / sqrt(n)``, with ``s`` the sample standard
    deviation (ddof=1). Exact for normal data, a good approximation otherwise when n is
    not tiny. Needs at least two values.

    bounds: ``(low, high)``, the range every value can take (``(0, 1)`` for accuracies).
    The t interval of a few bounded values can reach past the range (five seeds at
    accuracies near 0 give a lower end below 0); it is then cut to the range. The true
    mean lies in the range, so the cut interval covers it whenever the uncut one does:
    the coverage is unchanged. Values outside ``bounds`` raise a ValueError.
    """
    x = _values(values, "mean_ci", min_n=2)
    level = _level(level, "mean_ci")
    bounds = _bounds(bounds, "mean_ci")
    _within(x, bounds, "mean_ci")
    g = _group_stats(x, level, ".3f", False, bounds)  # the interval summarize reports
    return Interval(float(g["mean"]), float(g["ci_low"]), float(g["ci_high"]))


def wilson_interval(k: int, n: int, level: float = 0.95) -> Interval:
    """The accuracy ``k / n`` with its Wilson score interval (Wilson, 1927).

    With ``p = k/n`` and ``z`` the normal quantile at ``(1+level)/2``::

        centre = (p + z²/2n) / (1 + z²/n)
        half   = z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²)

    Unlike ``p ± z·sqrt(p(1-p)/n)`` it stays inside [0, 1] and is honest at 0% or 100%.
    """
    if isinstance(k, bool) or isinstance(n, bool) or not all(isinstance(v, (int, np.integer)) for v in (k, n)):
        raise ValueError(f"wilson_interval: k and n must be integers (counts), got {k!r} and {n!r}")
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"wilson_interval: need n >= 1 and 0 <= k <= n, got k={k}, n={n}")
    level = _level(level, "wilson_interval")
    z = st.norm.ppf((1 + level) / 2)
    p = k / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return Interval(float(p), float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def bootstrap_ci(values, statistic=np.mean, n_boot: int = 2000, level: float = 0.95, seed: int = 0,
                 method: str = "percentile") -> Interval:
    """``statistic(values)`` with a bootstrap interval (``scipy.stats.bootstrap``).

    Resamples ``values`` with replacement ``n_boot`` times and recomputes the statistic.
    ``method="percentile"`` takes the central ``level`` quantiles of the resampled
    statistics; ``"BCa"`` corrects them for bias and skew. ``statistic`` should accept an
    ``axis`` argument (as ``np.mean``/``np.median`` do) to be fast.
    """
    x = _values(values, "bootstrap_ci", min_n=2)
    level, n_boot = _level(level, "bootstrap_ci"), _n_boot(n_boot, "bootstrap_ci")
    if method not in ("percentile", "BCa", "basic"):
        raise ValueError(f"bootstrap_ci: method must be 'percentile', 'BCa' or 'basic', got {method!r}")
    res = st.bootstrap((x,), statistic, n_resamples=n_boot, confidence_level=level, method=method,
                       rng=np.random.default_rng(seed))
    ci = res.confidence_interval
    return Interval(float(statistic(x)), float(ci.low), float(ci.high))


# ----------------------------------------------------------------------------- summaries

def _mean_std_text(mean: float, std: float, fmt: str, integer: bool = False) -> str:
    """``"0.880 ± 0.012"``; just the mean when there is no spread (one run, or a constant).

    integer: the column holds counts (parameters); a constant count is written ``"12,345"``.
    """
    if not np.isfinite(mean):
        return "n/a"
    if not np.isfinite(std) or std == 0:
        return f"{int(mean):,}" if integer and float(mean).is_integer() else format(mean, fmt)
    return f"{format(mean, fmt)} ± {format(std, fmt)}"


def mean_std(values, fmt: str = ".3f") -> str:
    """``"0.880 ± 0.012"``: the mean and sample standard deviation (ddof=1) of one sample,
    e.g. one model's accuracy over its seeds (just the mean for one value or no spread).

    The text of :func:`summarize`'s ``"mean ± std"`` column, for a single group.
    """
    x = _values(values, "mean_std")
    return _group_stats(x, 0.95, fmt, False, None)["mean ± std"]


def _group_stats(x: np.ndarray, level: float, fmt: str, integer: bool, bounds) -> dict:
    """n, mean, std, sem, t interval (cut to ``bounds``) and text of one group's finite values."""
    n = x.size
    mean = x.mean() if n else np.nan
    std = x.std(ddof=1) if n > 1 else np.nan
    sem = std / math.sqrt(n) if n > 1 else np.nan
    half = st.t.ppf((1 + level) / 2, df=n - 1) * sem if n > 1 else np.nan
    low, high = _cut(mean - half, mean + half, bounds)
    return {"n": n, "mean": mean, "std": std, "sem": sem, "ci_low": low, "ci_high": high,
            "mean ± std": _mean_std_text(mean, std, fmt, integer)}


def _summary_of(df: pd.DataFrame, value: str, keys: list, level: float, fmt: str, nan: str,
                bounds) -> pd.DataFrame:
    """:func:`summarize` for one value column: one row per group."""
    col = pd.to_numeric(df[value], errors="coerce")
    if nan == "raise" and col.isna().any():
        where = df.loc[col.isna(), keys].drop_duplicates().to_dict("records")
        raise ValueError(f"summarize: column {value!r} has NaN or non-numeric values (in {where}); "
                         f"fix them or pass nan='omit'")
    _within(col.dropna().to_numpy(float), bounds, "summarize", f"column {value!r}")
    groups = col.groupby(df[keys[0]] if len(keys) == 1 else [df[k] for k in keys], sort=False)
    integer = pd.api.types.is_integer_dtype(df[value])
    rows = {g: _group_stats(x.dropna().to_numpy(float), level, fmt, integer, bounds) for g, x in groups}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.names = keys
    return out.astype({"n": int, "mean": float, "std": float, "sem": float, "ci_low": float, "ci_high": float})


def summarize(df: pd.DataFrame, value, by="model", level: float = 0.95, *, fmt: str = ".3f",
              nan: str = "raise", text: bool = False, bounds=None) -> pd.DataFrame:
    """Mean ± std over the runs (seeds) of each group: the one summary table of the book.

    df: tidy results, one row per run (e.g. model × seed). value: a column name, or a
    list of them. by: the grouping column (or a list); groups keep their first-appearance order.

    For one group of n runs with values x: ``mean``, ``std = sqrt(Σ(x - mean)² / (n-1))``,
    ``sem = std / sqrt(n)`` and the t interval ``mean ± t_{(1+level)/2, n-1} · sem``
    (``ci_low``, ``ci_high``; NaN for a single run). The column ``"mean ± std"`` is the
    text for a table, numbers formatted with ``fmt`` (``".3f"``, or ``".3g"`` for values
    of very different sizes); a value that is the same in every run is shown once, and
    a constant integer column (a parameter count) with thousands separators.

    One value: columns ``n, mean, std, sem, ci_low, ci_high, mean ± std``. Several values:
    ``<value>_n, <value>_mean, ...`` for each, its text in a column named ``<value>``.
    ``text=True`` keeps only ``n`` and the text columns (the table a chapter shows).
    nan: ``"raise"`` (a NaN result is an error) or ``"omit"`` (left out; ``n`` counts
    what is left, and a group with no values reads ``"n/a"``).
    bounds: ``(low, high)``, the range every value can take, e.g. ``(0, 1)`` for
    accuracies: the interval is cut to it (see :func:`mean_ci`), and a value outside
    it raises a ValueError.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"summarize: df must be a pandas DataFrame, got {type(df).__name__}")
    values = [value] if isinstance(value, str) else list(value)
    keys = [by] if isinstance(by, str) else list(by)
    if df.empty or not values or not keys:
        raise ValueError("summarize: nothing to summarize (empty frame, or no value or group column)")
    missing = [c for c in values + keys if c not in df.columns]
    if missing:
        raise ValueError(f"summarize: no columns {missing}; columns are {list(df.columns)}")
    if nan not in ("raise", "omit"):
        raise ValueError(f"summarize: nan must be 'raise' or 'omit', got {nan!r}")
    level = _level(level, "summarize")
    bounds = _bounds(bounds, "summarize")
    tables = {v: _summary_of(df, v, keys, level, fmt, nan, bounds) for v in values}
    if len(values) == 1:
        out = tables[values[0]]
        return out[["n", "mean ± std"]] if text else out
    out = pd.concat([t.rename(columns=lambda c, v=v: v if c == "mean ± std" else f"{v}_{c}")
                     for v, t in tables.items()], axis=1)
    if not text:
        return out
    counts = out[[f"{v}_n" for v in values]]
    if (counts.nunique(axis=1) == 1).all():  # every value counted on the same runs: one n
        return pd.concat([counts.iloc[:, 0].rename("n"), out[values]], axis=1)
    return out[list(counts.columns) + values]


# ----------------------------------------------------------------------------- paired tests

@dataclass(frozen=True)
class PairedTest:
    """The result of a paired comparison of two models, A and B.

    estimate: the mean difference ``a - b`` in the metric's units (loss, accuracy, ...);
    ci_low, ci_high: its ``level`` confidence interval; p_value: two-sided, for "no
    difference"; n: the number of paired items (test items, days, seeds), described by
    ``items``. lower_is_better: True for losses, False for accuracies, None if the test
    cannot know (then :func:`verdict` must be told).
    """

    name: str
    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    level: float = 0.95
    lower_is_better: bool | None = None
    items: str = "items"
    statistic: float = float("nan")


def _bootstrap_summary(est: float, boot: np.ndarray, level: float) -> tuple[float, float, float]:
    """Percentile interval and two-sided p-value from bootstrap draws of a mean difference.

    The p-value inverts the percentile interval: ``p = 2 · min(P*(Δ* ≤ 0), P*(Δ* ≥ 0))``
    with the "+1" correction ``(count + 1) / (B + 1)``, so ``p < 1 - level`` exactly when
    zero lies outside the ``level`` interval (up to that correction).
    """
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    if est == 0 and lo == hi == 0:  # every item tied: no evidence either way
        return 0.0, 0.0, 1.0
    b = boot.size
    below, above = (np.sum(boot <= 0) + 1) / (b + 1), (np.sum(boot >= 0) + 1) / (b + 1)
    return float(lo), float(hi), float(min(1.0, 2 * min(below, above)))


def _resampled_means(d: np.ndarray, index_fn, n_boot: int, rng) -> np.ndarray:
    """Means of ``d[index_fn(rng, rows)]`` for ``n_boot`` resamples, in chunks of ~4M indices."""
    chunk = max(1, 4_000_000 // d.size)
    out = [d[index_fn(rng, min(chunk, n_boot - i))].mean(axis=1) for i in range(0, n_boot, chunk)]
    return np.concatenate(out)


def paired_bootstrap(a, b, n_boot: int = 2000, level: float = 0.95, seed: int = 0, *,
                     lower_is_better: bool | None = None) -> PairedTest:
    """Paired bootstrap over test items of the mean difference ``mean(a - b)``.

    a, b: per-item scores of two models on the *same* test items (per-window loss,
    per-item 0/1 accuracy), in the same order. The items are resampled with replacement
    ``n_boot`` times, keeping each item's pair together, so what the two models share
    (easy and hard items) cancels. Interval: the percentile interval of the resampled
    mean differences; p-value: see ``_bootstrap_summary``. Items must be independent;
    for days of one time series use :func:`block_bootstrap`.
    """
    a, b = _pair(a, b, "paired_bootstrap")
    level, n_boot = _level(level, "paired_bootstrap"), _n_boot(n_boot, "paired_bootstrap")
    d = a - b  # (n,)
    n = d.size
    boot = _resampled_means(d, lambda rng, rows: rng.integers(0, n, size=(rows, n)), n_boot,
                            np.random.default_rng(seed))
    lo, hi, p = _bootstrap_summary(float(d.mean()), boot, level)
    return PairedTest("paired bootstrap", float(d.mean()), lo, hi, p, n, level, lower_is_better,
                      items="test items")


def _as_bool(x, fn: str, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{fn}: {name} must be a non-empty 1-D array of right/wrong, got shape {arr.shape}")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{fn}: {name} must hold booleans (or 0/1): True where the model was right")
        arr = arr.astype(bool)
    return arr


def mcnemar(correct_a, correct_b, level: float = 0.95) -> PairedTest:
    """McNemar's test for two classifiers answering the same items (exact binomial form).

    correct_a, correct_b: booleans, True where each model was right, item by item. Only
    the discordant items tell the models apart: ``n10`` (A right, B wrong) and ``n01``
    (A wrong, B right). If the models were equally accurate, each discordant item would
    be a fair coin, so ``n10 ~ Binomial(n10 + n01, 1/2)``: the p-value is
    ``scipy.stats.binomtest(n10, n10 + n01)``.

    estimate: the accuracy difference ``acc_a - acc_b = (n10 - n01) / n``, with the Wald
    interval of a paired difference, ``± z · sqrt(((n10 + n01)/n - estimate²) / n)``.
    """
    a, b = _as_bool(correct_a, "mcnemar", "correct_a"), _as_bool(correct_b, "mcnemar", "correct_b")
    if a.shape != b.shape:
        raise ValueError(f"mcnemar: correct_a and correct_b must be paired (same length), got {a.size} and {b.size}")
    level = _level(level, "mcnemar")
    n = a.size
    n10, n01 = int(np.sum(a & ~b)), int(np.sum(~a & b))
    discordant = n10 + n01
    p = st.binomtest(n10, discordant, 0.5).pvalue if discordant else 1.0
    est = (n10 - n01) / n
    se = math.sqrt(max(discordant / n - est**2, 0.0) / n)
    half = st.norm.ppf((1 + level) / 2) * se
    return PairedTest("McNemar", est, float(est - half), float(est + half), float(p), n, level, lower_is_better=False,
                      items="test items", statistic=float(n10))


def _long_run_variance(d: np.ndarray, h: int, kernel: str) -> float:
    """HAC variance of the mean of ``d``: ``(γ_0 + 2 Σ_{k=1}^{h-1} w_k γ_k) / T``."""
    T = d.size
    dc = d - d.mean()
    gamma = [dc[k:] @ dc[:T - k] / T for k in range(h)]  # γ_0 .. γ_{h-1}
    weights = [1.0 if kernel == "uniform" else 1.0 - k / h for k in range(h)]
    return float((gamma[0] + 2 * sum(w * g for w, g in zip(weights[1:], gamma[1:]))) / T)


def diebold_mariano(loss_a, loss_b, horizon: int = 1, level: float = 0.95, *,
                    kernel: str = "uniform") -> PairedTest:
    """Diebold–Mariano test of equal forecast accuracy, with the Harvey–Leybourne–Newbold correction.

    loss_a, loss_b: the losses (e.g. squared errors) of two forecasts of the same series,
    one per forecast origin, in time order. With ``d_t = loss_a_t - loss_b_t`` (T of them)
    and ``d̄`` their mean, the autocovariances ``γ_k = (1/T) Σ_{t>k} (d_t - d̄)(d_{t-k} - d̄)``
    give the long-run (HAC) variance of ``d̄`` with lag ``h - 1`` (``h = horizon``)::

        V = (γ_0 + 2 Σ_{k=1}^{h-1} w_k γ_k) / T

    The errors of h-step forecasts are correlated up to lag h-1, hence the lag.
    ``kernel="uniform"``: ``w_k = 1``, Diebold and Mariano's truncated estimator, the one
    the HLN correction was derived for (if it comes out non-positive, the Bartlett
    weights are used instead); ``"bartlett"``: Newey–West weights ``w_k = 1 - k/h``,
    never negative but smaller, so the test rejects a little too often at short T. The
    two agree for ``horizon=1``. The statistic ``DM = d̄ / sqrt(V)`` is multiplied by the
    small-sample factor ``sqrt((T + 1 - 2h + h(h-1)/T) / T)`` and compared with a t
    distribution on T-1 degrees of freedom; for ``horizon=1`` this is exactly the paired
    t test. The interval is ``d̄ ± t_{(1+level)/2, T-1} · sqrt(V) / factor``.

    F. X. Diebold and R. S. Mariano (1995), "Comparing predictive accuracy", Journal of
    Business & Economic Statistics 13(3), 253–263. D. Harvey, S. Leybourne and P. Newbold
    (1997), "Testing the equality of prediction mean squared errors", International
    Journal of Forecasting 13(2), 281–291.
    """
    a, b = _pair(loss_a, loss_b, "diebold_mariano", ("loss_a", "loss_b"), min_n=3)
    level = _level(level, "diebold_mariano")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"diebold_mariano: horizon must be an integer >= 1, got {horizon!r}")
    if kernel not in ("bartlett", "uniform"):
        raise ValueError(f"diebold_mariano: kernel must be 'uniform' or 'bartlett', got {kernel!r}")
    d = a - b  # (T,)
    T, h, mean = d.size, int(horizon), float(d.mean())
    if h >= T:
        raise ValueError(f"diebold_mariano: horizon ({h}) must be smaller than the number of forecasts ({T})")
    if np.all(d == d[0]):  # identical differences: no noise at all
        return PairedTest("Diebold–Mariano", mean, mean, mean, 1.0 if mean == 0 else 0.0, T, level, True,
                          items="forecasts")
    var = _long_run_variance(d, h, kernel)
    if var <= 0:
        var = _long_run_variance(d, h, "bartlett")
    factor = math.sqrt((T + 1 - 2 * h + h * (h - 1) / T) / T)
    stat = mean / math.sqrt(var) * factor
    p = 2 * st.t.sf(abs(stat), df=T - 1)
    half = st.t.ppf((1 + level) / 2, df=T - 1) * math.sqrt(var) / factor
    return PairedTest("Diebold–Mariano", mean, mean - half, mean + half, float(p), T, level,
                      lower_is_better=True, items="forecasts", statistic=float(stat))


def block_bootstrap(loss_a, loss_b, block: int | None = None, n_boot: int = 2000, level: float = 0.95,
                    seed: int = 0, *, circular: bool = True) -> PairedTest:
    """Block bootstrap over time of the mean loss differential ``mean(loss_a - loss_b)``.

    Days of one series are not independent: a hard week is hard for both models, and
    errors cluster. Resampling single days (:func:`paired_bootstrap`) would then make the
    interval too narrow. Here the series of differences ``d_t`` is cut into blocks of
    ``block`` consecutive days, resampled block by block (starts drawn uniformly) and
    glued back to length T, so correlation within a block survives (Künsch, 1989).
    ``circular=True`` wraps blocks around the end, giving every day the same chance
    (Politis and Romano, 1992); ``False`` is the moving block bootstrap.
    block: default ``round(T ** (1/3))``, the usual rate for a mean. Interval and
    p-value as in :func:`paired_bootstrap`.
    """
    a, b = _pair(loss_a, loss_b, "block_bootstrap", ("loss_a", "loss_b"), min_n=3)
    level, n_boot = _level(level, "block_bootstrap"), _n_boot(n_boot, "block_bootstrap")
    d = a - b  # (T,)
    T = d.size
    block = max(1, round(T ** (1 / 3))) if block is None else block
    if not isinstance(block, (int, np.integer)) or not 1 <= block <= T:
        raise ValueError(f"block_bootstrap: block must be an integer in [1, {T}], got {block!r}")
    n_blocks = -(-T // block)  # ceil
    offsets = np.arange(block)

    def indices(rng, rows):  # (rows, T) day indices
        starts = rng.integers(0, T if circular else T - block + 1, size=(rows, n_blocks, 1))
        idx = starts + offsets  # (rows, n_blocks, block)
        return (idx % T if circular else idx).reshape(rows, -1)[:, :T]

    boot = _resampled_means(d, indices, n_boot, np.random.default_rng(seed))
    lo, hi, p = _bootstrap_summary(float(d.mean()), boot, level)
    return PairedTest(f"block bootstrap (block {block})", float(d.mean()), lo, hi, p, T, level,
                      lower_is_better=True, items="days")


def paired_seeds(a, b, level: float = 0.95, *, lower_is_better: bool | None = None) -> PairedTest:
    """Paired t test over training seeds (``scipy.stats.ttest_rel``).

    a, b: one result per seed for each model, matched by seed: arrays in the same seed
    order, or pandas Series indexed by seed (aligned on the index, which must agree),
    e.g. ``w = df.pivot(index="seed", columns="model", values="test_loss")`` then
    ``paired_seeds(w["lstm"], w["gpt"])``. With ``d_i = a_i - b_i`` over n seeds:
    ``t = d̄ / (s_d / sqrt(n))`` on n-1 degrees of freedom, interval ``d̄ ± t* s_d / sqrt(n)``.
    It answers "is the difference larger than the seed-to-seed spread?", not "on how
    many test items"; with 3-5 seeds only large differences can be significant.
    """
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        if set(a.index) != set(b.index) or a.index.has_duplicates:
            raise ValueError(f"paired_seeds: the seeds differ: {sorted(a.index)} vs {sorted(b.index)}")
        b = b.loc[a.index]
    a, b = _pair(a, b, "paired_seeds")
    level = _level(level, "paired_seeds")
    d = a - b
    if np.all(d == d[0]):  # no spread: t is 0/0 or infinite
        p = 1.0 if d[0] == 0 else 0.0
        return PairedTest("paired t test", float(d[0]), float(d[0]), float(d[0]), p, d.size, level,
                          lower_is_better, items="seeds")
    res = st.ttest_rel(a, b)
    ci = res.confidence_interval(level)
    return PairedTest("paired t test", float(d.mean()), float(ci.low), float(ci.high), float(res.pvalue),
                      d.size, level, lower_is_better, items="seeds", statistic=float(res.statistic))


# ----------------------------------------------------------------------------- multiple comparisons

def holm(p_values) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (Holm, 1979), in the input order.

    Sort the m p-values ``p_(1) ≤ ... ≤ p_(m)``; the adjusted value of the i-th smallest
    is ``max_{j ≤ i} min(1, (m - j + 1) · p_(j))``. Rejecting where the adjusted p is
    below alpha keeps the chance of *any* false "A beats B" in a chapter below alpha.
    Pass the adjusted p to :func:`verdict` (``p_value=``).
    """
    p = _values(p_values, "holm", "p_values")
    if ((p < 0) | (p > 1)).any():
        raise ValueError("holm: p-values must lie in [0, 1]")
    m = p.size
    order = np.argsort(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


# ----------------------------------------------------------------------------- verdicts

@dataclass(frozen=True)
class Verdict:
    """A paired result in words. ``str(v)`` is ``v.text``, ready for ``glue``.

    label: one of :data:`LABELS`; winner: the better model's name, or None;
    claim: for :func:`verdict_claim`, one of :data:`CLAIM_WORDS` (or
    :data:`REPLICATION_WORDS`); None otherwise. test and p_value: what it was decided on.
    """

    label: str
    winner: str | None
    text: str
    test: PairedTest
    p_value: float
    claim: str | None = None

    def __str__(self) -> str:
        return self.text


def _decimals(test: PairedTest) -> int:
    """Decimals that show the interval's half-width to two significant digits."""
    half = (test.ci_high - test.ci_low) / 2
    if not np.isfinite(half) or half <= 0:
        scale = abs(test.estimate) if test.estimate else 1.0
        return int(min(6, max(0, 2 - math.floor(math.log10(scale)))))
    return int(min(6, max(0, 1 - math.floor(math.log10(half)))))


def _num(x: float, decimals: int) -> str:
    return f"{x:,.{decimals}f}".replace("-", MINUS)


def _p_text(p: float, adjusted: bool) -> str:
    name = "adjusted p" if adjusted else "p"
    return f"{name} < 0.001" if p < 0.001 else f"{name} = {p:.3f}" if p < 0.1 else f"{name} = {p:.2f}"


def _evidence(test: PairedTest, p: float, adjusted: bool, unit: str, items: str | None, decimals: int) -> str:
    """The numbers behind a verdict, e.g. ``"Δ = −0.052 nats/char, 95% CI [−0.071, −0.033],
    p = 0.001 (paired bootstrap over 2,000 test windows)"``."""
    u = f" {unit}" if unit else ""
    # an adjusted p answers for the whole family; the interval is still this comparison's own
    ci = f"unadjusted {test.level:.0%} CI" if adjusted else f"{test.level:.0%} CI"
    return (f"Δ = {_num(test.estimate, decimals)}{u}, {ci} "
            f"[{_num(test.ci_low, decimals)}, {_num(test.ci_high, decimals)}], {_p_text(p, adjusted)} "
            f"({test.name} over {test.n:,} {items or test.items})")


def _decide(test: PairedTest, lower_is_better, alpha: float, min_effect: float, p_value) -> tuple[str, float, bool]:
    """The label, the p-value used and whether the effect was too small to matter."""
    if not isinstance(test, PairedTest):
        raise ValueError(f"verdict: test must be a PairedTest, got {type(test).__name__}")
    if lower_is_better is None:
        lower_is_better = test.lower_is_better
    if lower_is_better is None:
        raise ValueError(f"verdict: say lower_is_better=True (losses) or False (accuracies) for the {test.name}")
    if test.lower_is_better is not None and bool(lower_is_better) != test.lower_is_better:
        raise ValueError(f"verdict: lower_is_better={lower_is_better} contradicts the {test.name}, "
                         f"which compares {'losses' if test.lower_is_better else 'scores'}")
    if not 0 < alpha < 1:
        raise ValueError(f"verdict: alpha must be in (0, 1), got {alpha!r}")
    if min_effect < 0:
        raise ValueError(f"verdict: min_effect must be >= 0, got {min_effect!r}")
    p = test.p_value if p_value is None else float(p_value)
    if not 0 <= p <= 1:
        raise ValueError(f"verdict: p_value must be in [0, 1], got {p!r}")
    excludes_zero = test.ci_low > 0 or test.ci_high < 0
    too_small = abs(test.estimate) <= min_effect
    if p < alpha and excludes_zero and not too_small:
        a_wins = test.estimate < 0 if lower_is_better else test.estimate > 0
        return (A_BETTER if a_wins else B_BETTER), p, False
    return NO_CLEAR, p, too_small and p < alpha and excludes_zero


def verdict(test: PairedTest, a: str, b: str, *, lower_is_better: bool | None = None, alpha: float = 0.05,
            min_effect: float = 0.0, p_value: float | None = None, unit: str = "", items: str | None = None,
            decimals: int | None = None) -> Verdict:
    """THE one function that turns a paired result into words.

    A model is declared better only when all three hold: ``p < alpha``, the interval
    excludes zero, and ``|estimate| > min_effect`` (the smallest difference that matters,
    in the metric's units). Which side is better follows ``lower_is_better`` (taken from
    the test when it knows: losses for DM and the block bootstrap, accuracy for McNemar).

    a, b: the names of the models in the order they were passed to the test (the
    estimate is ``a - b``). p_value: an already-adjusted p (e.g. from :func:`holm`)
    replacing the test's own; the text then calls the interval "unadjusted" (it is this
    comparison's own, so it can exclude zero while the adjusted p finds no clear
    difference). unit: the metric's unit for the text (``"nats/char"``);
    items: what ``n`` counts (``"test windows"``), by default the test's.

    The text reads e.g. "LSTM beats GPT: Δ = −0.052 nats/char, 95% CI [−0.071, −0.033],
    p = 0.001 (paired bootstrap over 2,000 test windows)" or "no clear difference
    between LSTM and GPT: ...".
    """
    label, p, too_small = _decide(test, lower_is_better, alpha, min_effect, p_value)
    digits = _decimals(test) if decimals is None else decimals
    evidence = _evidence(test, p, p_value is not None, unit, items, digits)
    if label == NO_CLEAR:
        text = f"{NO_CLEAR_DIFFERENCE} between {a} and {b}: {evidence}"
        if too_small:
            smallest = _num(min_effect, digits) + (f" {unit}" if unit else "")
            text += f"; |Δ| is below the smallest difference that matters ({smallest})"
        return Verdict(label, None, text, test, p)
    winner, loser = (a, b) if label == A_BETTER else (b, a)
    return Verdict(label, winner, f"{winner} {BEATS} {loser}: {evidence}", test, p)


def verdict_claim(test: PairedTest, a: str, b: str, claim_a_better: bool = True, *,
                  wording: str = "claim", **kwargs) -> Verdict:
    """Check a claim from a source ("A beats B") against our paired result.

    claim_a_better: True for the claim "a beats b", False for "b beats a". The outcome
    (``Verdict.claim``) is ``"supported"`` when our :func:`verdict` names the claimed
    winner, ``"contradicted"`` when it names the other model, and ``"not supported"``
    when it finds no clear difference. ``wording="replication"`` says the same with
    ``"confirmed"`` / ``"qualified"`` / ``"refuted"``. Other keywords go to :func:`verdict`.
    """
    if wording not in ("claim", "replication"):
        raise ValueError(f"verdict_claim: wording must be 'claim' or 'replication', got {wording!r}")
    v = verdict(test, a, b, **kwargs)
    claimed, other = (a, b) if claim_a_better else (b, a)
    words = CLAIM_WORDS if wording == "claim" else REPLICATION_WORDS
    outcome = words[0] if v.winner == claimed else words[2] if v.winner == other else words[1]
    text = f"the claim that {claimed} {BEATS} {other} is {outcome}; {v.text}"
    return Verdict(v.label, v.winner, text, test, v.p_value, claim=outcome)


# ----------------------------------------------------------------------------- power laws

@dataclass(frozen=True)
class PowerLaw:
    """``y = prefactor · x ** exponent``: a straight line of slope ``exponent`` on log-log axes.

    r2: the R² of the fit on log-log axes; exponent_low/high: its ``level`` interval
    (t on n-2 degrees of freedom; NaN with only two points); n: the points fitted.
    """

    exponent: float
    prefactor: float
    r2: float = float("nan")
    exponent_se: float = float("nan")
    exponent_low: float = float("nan")
    exponent_high: float = float("nan")
    n: int = 0

    @property
    def coefficient(self) -> float:
        """The prefactor, as ``coefficient`` (the name the older sweeps used)."""
        return self.prefactor

    def __call__(self, x):
        return self.prefactor * np.asarray(x, dtype=float) ** self.exponent


def fit_power_law(x, y, level: float = 0.95) -> PowerLaw:
    """Least squares on ``(log x, log y)``: ``log y = log c + p · log x`` (``scipy.stats.linregress``).

    The slope ``p`` is the scaling exponent (1 for linear cost, 2 for quadratic). Its
    interval is ``p ± t_{(1+level)/2, n-2} · se(p)``. Points where x or y is missing,
    non-finite or not positive are skipped (a run that was skipped or ran out of
    memory); at least two with distinct x must remain.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"fit_power_law: x and y must be 1-D of the same length, got {x.shape} and {y.shape}")
    level = _level(level, "fit_power_law")
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 2 or np.unique(x[keep]).size < 2:
        raise ValueError("fit_power_law: needs at least two points with distinct positive x and positive y")
    res = st.linregress(np.log(x[keep]), np.log(y[keep]))
    n = int(keep.sum())
    half = st.t.ppf((1 + level) / 2, df=n - 2) * res.stderr if n > 2 else float("nan")
    return PowerLaw(exponent=float(res.slope), prefactor=float(math.exp(res.intercept)),
                    r2=float(res.rvalue**2), exponent_se=float(res.stderr) if n > 2 else float("nan"),
                    exponent_low=float(res.slope - half), exponent_high=float(res.slope + half), n=n)


def crossover(a, b) -> float | None:
    """The ``x > 0`` where the power laws ``a(x) == b(x)``; None when the exponents are equal.

    From ``c_a x^p_a = c_b x^p_b``: ``x* = (c_b / c_a) ** (1 / (p_a - p_b))``. For
    ``x > x*`` the law with the larger exponent is the larger one.
    """
    ca, cb = (law.prefactor if hasattr(law, "prefactor") else law.coefficient for law in (a, b))
    if a.exponent == b.exponent:
        return None
    return float((cb / ca) ** (1.0 / (a.exponent - b.exponent)))


def crossings(x, ya, yb) -> list[float]:
    """Every ``x`` at which the measured curves ``ya`` and ``yb`` swap order, in increasing order.

    Between the two measured points that bracket a swap, ``log y`` is interpolated
    linearly in ``log x`` (a power law on that interval); if the curves meet exactly at
    measured points in between, the crossing is the first of them. Points with a NaN or
    a non-positive value are skipped. Noisy timings of two close curves can swap
    several times; the *last* crossing is the one beyond which the order held.
    """
    x, ya, yb = (np.asarray(v, dtype=float) for v in (x, ya, yb))
    if not x.shape == ya.shape == yb.shape or x.ndim != 1:
        raise ValueError("crossings: x, ya and yb must be 1-D of the same length")
    keep = np.isfinite(x) & np.isfinite(ya) & np.isfinite(yb) & (x > 0) & (ya > 0) & (yb > 0)
    lx, gap = np.log(x[keep]), np.log(ya[keep]) - np.log(yb[keep])  # gap > 0: a above b
    out, last = [], None  # last: index of the last point where the curves differed
    for i in range(gap.size):
        if gap[i] == 0:
            continue
        if last is not None and np.sign(gap[i]) != np.sign(gap[last]):
            if i - last > 1:  # equal at the measured points in between: cross at the first
                out.append(float(np.exp(lx[last + 1])))
            else:
                frac = gap[last] / (gap[last] - gap[i])  # where the interpolated gap is zero
                out.append(float(np.exp(lx[last] + frac * (lx[i] - lx[last]))))
        last = i
    return out
