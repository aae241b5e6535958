"""Forecasting daily prices: windows, per-series normalisation, baselines, metrics, models.

A forecasting experiment has more ways to fool itself than a classification one, so the
pieces here are small and each does one thing:

* **windows**: cut each price series at a *forecast origin* ``c`` (a day index). The
  model reads the ``context`` days before it, ``prices[c - context : c]``, and must predict
  the ``horizon`` days from it on, ``prices[c : c + horizon]``. :func:`make_task` builds
  training and test windows from a table of prices and splits the tickers.
* **normalisation** (:func:`history_stats`, :func:`zscore`): every window is rescaled with
  the mean and standard deviation of its own series *before the origin* ``c``. Nothing on
  or after day ``c`` is used, so the targets cannot leak into the inputs (tested).
* **baselines** every forecaster must beat: :func:`persistence` (tomorrow = today),
  :func:`drift` (continue the straight line through the first and last observed days) and
  :class:`LinearAR` (a linear autoregression fitted by least squares).
* **metrics**: :func:`rmse` on raw prices, :func:`normalised_rmse` in units of each
  series' own standard deviation, :func:`relative_rmse` against persistence,
  :func:`error_share` (which series dominate the squared error), a paired bootstrap
  over series (:func:`bootstrap_relative_rmse`, :func:`compare_to_baseline`) and
  :func:`path_similarity` (do the forecasts of different series follow one path?).
* **models**: the configurations of the seed study (``SEED_MODELS``, one
  :class:`~rvt_lib.models.heads.ModelSpec` each, and its training ``SEED_TRAIN``), trained
  with :func:`rvt_lib.train.fit` and
  measured with :func:`rvt_lib.measure.measure_training` (:func:`run_models`);
  :func:`plot_window` draws one test window with every forecast.

Every model here maps a window to all ``horizon`` values at once (a "direct multi-output"
forecast): ``(B, context, 1) -> (B, horizon)``. Baselines and models therefore answer
exactly the same question from exactly the same inputs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from rvt_lib.models.heads import ModelSpec
from rvt_lib.train import TrainConfig

# ----------------------------------------------------------------------------- checks


def _as_2d(a, name: str, what: str = "(series, days)") -> np.ndarray:
    """``a`` as a float64 array of shape ``what``; raises a clear error otherwise."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"{name}: expected a numeric array of shape {what}, got dtype {a.dtype}")
    if a.ndim != 2:
        raise ValueError(f"{name}: expected an array of shape {what}, got shape {a.shape} (rank {a.ndim})")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty array of shape {what}, got shape {a.shape}")
    return a.astype(np.float64)


def _same_shape(pred, target, name: str) -> tuple[np.ndarray, np.ndarray]:
    pred = _as_2d(pred, name, "(windows, horizon)")
    target = _as_2d(target, name, "(windows, horizon)")
    if pred.shape != target.shape:
        raise ValueError(f"{name}: predictions {pred.shape} and targets {target.shape} must have the same "
                         f"shape (windows, horizon)")
    return pred, target


def _per_window(v, n: int, name: str, what: str) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if v.shape != (n,):
        raise ValueError(f"{name}: {what} must have shape ({n},), one value per window, got {v.shape}")
    return v


# ----------------------------------------------------------------------------- splits and windows


def split_tickers(tickers, test_frac: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """Shuffle ``tickers`` with a fixed seed and split them into (train, test), each sorted.

    ``round(test_frac * n)`` tickers go to the test set (at least one, and at least one is
    left for training).
    """
    tickers = list(tickers)
    if len(tickers) < 2:
        raise ValueError(f"split_tickers: need at least 2 tickers, got {len(tickers)}")
    if len(set(tickers)) != len(tickers):
        raise ValueError("split_tickers: tickers must be unique")
    if not 0.0 < test_frac < 1.0:
        raise ValueError(f"split_tickers: test_frac must be in (0, 1), got {test_frac}")
    n_test = min(max(1, round(test_frac * len(tickers))), len(tickers) - 1)
    order = np.random.default_rng(seed).permutation(len(tickers))
    test = sorted(tickers[i] for i in order[:n_test])
    train = sorted(tickers[i] for i in order[n_test:])
    return train, test


def windows(prices, cuts, context: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Input and target windows of every series at every forecast origin in ``cuts``.

    prices: (series, days). For an origin ``c`` the input is ``prices[:, c - context : c]``
    and the target ``prices[:, c : c + horizon]``. Rows are ordered origin by origin:
    all series at ``cuts[0]``, then all series at ``cuts[1]``, ...
    Returns X (series * len(cuts), context) and Y (series * len(cuts), horizon).
    """
    prices = _as_2d(prices, "windows: prices")
    n_days = prices.shape[1]
    if not isinstance(context, (int, np.integer)) or context < 1:
        raise ValueError(f"windows: context must be a positive int, got {context!r}")
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"windows: horizon must be a positive int, got {horizon!r}")
    cuts = [int(c) for c in np.atleast_1d(cuts)]
    if not cuts:
        raise ValueError("windows: cuts is empty; give at least one forecast origin")
    for c in cuts:
        if c - context < 0 or c + horizon > n_days:
            raise ValueError(f"windows: origin {c} needs days {c - context}..{c + horizon - 1}, "
                             f"but the series have days 0..{n_days - 1} (context={context}, horizon={horizon})")
    X = np.concatenate([prices[:, c - context:c] for c in cuts])  # (S * len(cuts), context)
    Y = np.concatenate([prices[:, c:c + horizon] for c in cuts])  # (S * len(cuts), horizon)
    return X, Y


# ----------------------------------------------------------------------------- normalisation


def history_stats(prices, cuts) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each series over the days *before* each origin.

    For origin ``c`` the statistics use ``prices[:, :c]`` only: what was known when the
    forecast was made. Rows are ordered as in :func:`windows`. A series that was constant
    before ``c`` gets a standard deviation of 1 (there is no scale to divide by).
    Returns mean, std, each (series * len(cuts),).
    """
    prices = _as_2d(prices, "history_stats: prices")
    cuts = [int(c) for c in np.atleast_1d(cuts)]
    for c in cuts:
        if not 1 <= c <= prices.shape[1]:
            raise ValueError(f"history_stats: origin {c} outside 1..{prices.shape[1]} (needs at least one past day)")
    mean = np.concatenate([prices[:, :c].mean(axis=1) for c in cuts])  # (N,)
    std = np.concatenate([prices[:, :c].std(axis=1) for c in cuts])    # (N,)
    std = np.where(std > 0, std, 1.0)
    return mean, std


def zscore(a, mean, std) -> np.ndarray:
    """``(a - mean) / std`` row by row: a (N, k), mean and std (N,)."""
    a = _as_2d(a, "zscore", "(windows, days)")
    mean = _per_window(mean, a.shape[0], "zscore", "mean")
    std = _per_window(std, a.shape[0], "zscore", "std")
    if np.any(std <= 0):
        raise ValueError("zscore: every std must be > 0")
    return (a - mean[:, None]) / std[:, None]


def unzscore(a, mean, std) -> np.ndarray:
    """The inverse of :func:`zscore`: ``a * std + mean`` row by row."""
    a = _as_2d(a, "unzscore", "(windows, days)")
    mean = _per_window(mean, a.shape[0], "unzscore", "mean")
    std = _per_window(std, a.shape[0], "unzscore", "std")
    return a * std[:, None] + mean[:, None]


# ----------------------------------------------------------------------------- the task


@dataclass
class ForecastTask:
    """Training and test windows of one forecasting experiment, in raw prices.

    ``x_*`` (N, context) and ``y_*`` (N, horizon) are prices; ``mean_*`` and ``std_*`` (N,)
    are each window's normalisation statistics (from its series before its origin);
    ``tickers_*`` and ``cut_*`` (N,) say which series and which origin (day index into
    ``dates``) each row comes from.
    """

    context: int
    horizon: int
    dates: pd.DatetimeIndex
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    mean_train: np.ndarray
    std_train: np.ndarray
    mean_test: np.ndarray
    std_test: np.ndarray
    tickers_train: np.ndarray
    tickers_test: np.ndarray
    cut_train: np.ndarray
    cut_test: np.ndarray

    def normalised(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x_train, y_train, x_test, y_test), each z-scored with its window's statistics."""
        return (zscore(self.x_train, self.mean_train, self.std_train),
                zscore(self.y_train, self.mean_train, self.std_train),
                zscore(self.x_test, self.mean_test, self.std_test),
                zscore(self.y_test, self.mean_test, self.std_test))

    @property
    def lookahead_days(self) -> int:
        """How many calendar days that training *targets* cover fall on or after the first test origin.

        Zero for an honest time split. When training targets share days with the test
        period, a model can learn what the whole market did on those days, which nobody
        knows when the forecast is made.
        """
        first_test = int(self.cut_test.min())
        days = {int(c) + h for c in np.unique(self.cut_train) for h in range(self.horizon)}
        return sum(d >= first_test for d in days)


def make_task(prices: pd.DataFrame, *, context: int, horizon: int, train_cuts, test_cuts,
              test_frac: float = 0.2, split_seed: int = 0) -> ForecastTask:
    """Split the tickers (columns) of ``prices`` and cut windows at the given origins.

    prices: a (days, tickers) DataFrame without missing values (drop incomplete columns
    first, e.g. ``df.dropna(axis=1)``). Training windows come from the training tickers at
    the origins ``train_cuts``; test windows from the test tickers at ``test_cuts``.
    """
    if not isinstance(prices, pd.DataFrame):
        raise TypeError(f"make_task: prices must be a pandas DataFrame (days, tickers), got {type(prices).__name__}")
    if prices.isna().any().any():
        bad = list(prices.columns[prices.isna().any()])[:5]
        raise ValueError(f"make_task: prices has missing values (e.g. in {bad}); drop those columns first")
    train, test = split_tickers(prices.columns, test_frac=test_frac, seed=split_seed)
    train_cuts = [int(c) for c in np.atleast_1d(train_cuts)]
    test_cuts = [int(c) for c in np.atleast_1d(test_cuts)]

    def part(names, cuts):
        p = prices[names].to_numpy(dtype=np.float64).T  # (series, days)
        x, y = windows(p, cuts, context, horizon)
        mean, std = history_stats(p, cuts)
        return (x, y, mean, std, np.tile(np.asarray(names), len(cuts)),
                np.repeat(np.asarray(cuts), len(names)))

    xtr, ytr, mtr, str_, ttr, ctr = part(train, train_cuts)
    xte, yte, mte, ste, tte, cte = part(test, test_cuts)
    return ForecastTask(context=context, horizon=horizon, dates=pd.DatetimeIndex(prices.index),
                        x_train=xtr, y_train=ytr, x_test=xte, y_test=yte,
                        mean_train=mtr, std_train=str_, mean_test=mte, std_test=ste,
                        tickers_train=ttr, tickers_test=tte, cut_train=ctr, cut_test=cte)


# ----------------------------------------------------------------------------- baselines


def _check_horizon(horizon):
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a positive int, got {horizon!r}")


def persistence(x, horizon: int) -> np.ndarray:
    """Every future day equals the last observed day: x (N, context) -> (N, horizon)."""
    x = _as_2d(x, "persistence", "(windows, context)")
    _check_horizon(horizon)
    return np.repeat(x[:, -1:], horizon, axis=1)


def drift(x, horizon: int) -> np.ndarray:
    """Continue the line through the first and last observed days.

    The forecast ``h`` days ahead is ``x_last + h * (x_last - x_first) / (context - 1)``:
    persistence plus the average daily change over the window. x (N, context) -> (N, horizon).
    """
    x = _as_2d(x, "drift", "(windows, context)")
    _check_horizon(horizon)
    if x.shape[1] < 2:
        raise ValueError("drift: needs a context of at least 2 days to measure a slope")
    slope = (x[:, -1] - x[:, 0]) / (x.shape[1] - 1)  # (N,) average change per day
    h = np.arange(1, horizon + 1)                     # (H,)
    return x[:, -1:] + slope[:, None] * h[None, :]    # (N, H)


class LinearAR:
    """A linear autoregression, fitted by least squares, one output per horizon step.

    From the last ``p`` observed values it predicts all ``horizon`` future values at
    once (the "direct" strategy, the same question the neural models answer)::

        y_{t+h} = c_h + a_{1,h} x_t + a_{2,h} x_{t-1} + ... + a_{p,h} x_{t-p+1}

    ``coef_`` has shape (p, horizon); row ``k`` holds ``a_{k+1}``, the weight of the value
    ``k`` days before the last one (row 0: the last value). ``intercept_`` is (horizon,).
    With ``intercept=False`` the constants are fixed at 0.
    """

    def __init__(self, p: int = 5, intercept: bool = True):
        if not isinstance(p, (int, np.integer)) or p < 1:
            raise ValueError(f"LinearAR: p must be a positive int, got {p!r}")
        self.p = int(p)
        self.intercept = intercept
        self.coef_: np.ndarray | None = None
        self.intercept_: np.ndarray | None = None

    def _lags(self, x) -> np.ndarray:
        x = _as_2d(x, "LinearAR", "(windows, context)")
        if x.shape[1] < self.p:
            raise ValueError(f"LinearAR: p={self.p} lags need a context of at least {self.p} days, "
                             f"got windows of shape {x.shape}")
        return x[:, ::-1][:, :self.p]  # (N, p): the last value first

    def fit(self, x, y) -> "LinearAR":
        """Least squares on windows x (N, context) and their targets y (N, horizon)."""
        lags = self._lags(x)
        y = _as_2d(y, "LinearAR.fit: y", "(windows, horizon)")
        if y.shape[0] != lags.shape[0]:
            raise ValueError(f"LinearAR.fit: x has {lags.shape[0]} windows but y has {y.shape[0]}")
        design = np.hstack([lags, np.ones((len(lags), 1))]) if self.intercept else lags  # (N, p [+1])
        if design.shape[0] < design.shape[1]:
            raise ValueError(f"LinearAR.fit: {design.shape[0]} windows cannot determine {design.shape[1]} "
                             f"coefficients per output")
        w, *_ = np.linalg.lstsq(design, y, rcond=None)  # (p [+1], H)
        self.coef_ = w[:self.p]
        self.intercept_ = w[self.p] if self.intercept else np.zeros(y.shape[1])
        return self

    def predict(self, x) -> np.ndarray:
        """Forecasts (N, horizon) for windows x (N, context)."""
        if self.coef_ is None:
            raise ValueError("LinearAR.predict: call fit first")
        return self._lags(x) @ self.coef_ + self.intercept_  # (N, p) @ (p, H) + (H,)


# ----------------------------------------------------------------------------- metrics


def rmse(pred, target) -> float:
    """Root mean squared error over all windows and horizon steps, in the targets' units."""
    pred, target = _same_shape(pred, target, "rmse")
    return float(np.sqrt(np.mean((pred - target) ** 2)))


def normalised_rmse(pred, target, std) -> float:
    """RMSE after dividing each window's errors by its series' standard deviation.

    With ``std`` from :func:`history_stats` this is the RMSE in z-units, where a
    $6,000 stock and a $20 stock count alike.
    """
    pred, target = _same_shape(pred, target, "normalised_rmse")
    std = _per_window(std, len(pred), "normalised_rmse", "std")
    return float(np.sqrt(np.mean(((pred - target) / std[:, None]) ** 2)))


def relative_rmse(pred, base, target, std=None) -> float:
    """RMSE of ``pred`` divided by the RMSE of the baseline ``base`` on the same targets.

    Below 1: better than the baseline. With ``std``, both RMSEs are normalised first.
    """
    pred, target = _same_shape(pred, target, "relative_rmse")
    base, _ = _same_shape(base, target, "relative_rmse")
    if std is None:
        std = np.ones(len(pred))
    num, den = normalised_rmse(pred, target, std), normalised_rmse(base, target, std)
    if den == 0:
        raise ValueError("relative_rmse: the baseline is exact (RMSE 0); the ratio is undefined")
    return num / den


def per_series_rmse(pred, target, groups) -> pd.Series:
    """RMSE of each series (rows grouped by ``groups``, e.g. tickers), in the targets' units."""
    pred, target = _same_shape(pred, target, "per_series_rmse")
    groups = np.asarray(groups)
    if groups.shape != (len(pred),):
        raise ValueError(f"per_series_rmse: groups must have shape ({len(pred)},), got {groups.shape}")
    sq = pd.Series(np.mean((pred - target) ** 2, axis=1), index=groups)
    return np.sqrt(sq.groupby(level=0, sort=False).mean())


def error_share(pred, target, groups) -> pd.DataFrame:
    """Which series carry the squared error: one row per group, largest first.

    Columns: ``rmse`` (the series' own RMSE), ``share`` (its fraction of the total squared
    error, so the shares sum to 1) and ``cumulative share``.
    """
    pred, target = _same_shape(pred, target, "error_share")
    groups = np.asarray(groups)
    if groups.shape != (len(pred),):
        raise ValueError(f"error_share: groups must have shape ({len(pred)},), got {groups.shape}")
    sq = pd.Series(np.sum((pred - target) ** 2, axis=1), index=groups).groupby(level=0).sum()
    n = pd.Series(np.full(len(pred), pred.shape[1]), index=groups).groupby(level=0).sum()
    total = sq.sum()
    out = pd.DataFrame({"rmse": np.sqrt(sq / n), "share": sq / total if total > 0 else 0.0})
    out = out.sort_values("share", ascending=False)
    out["cumulative share"] = out["share"].cumsum()
    out.index.name = "series"
    return out


def bootstrap_relative_rmse(pred, base, target, std, groups, n_boot: int = 2000,
                            seed: int = 0) -> np.ndarray:
    """Paired bootstrap over series of :func:`relative_rmse` (normalised).

    Resamples the series (all windows of a series together) with replacement and
    recomputes the ratio ``n_boot`` times. The spread says how much the ratio could
    change had other tickers landed in the test set. Returns (n_boot,) ratios.
    """
    pred, target = _same_shape(pred, target, "bootstrap_relative_rmse")
    base, _ = _same_shape(base, target, "bootstrap_relative_rmse")
    std = _per_window(std, len(pred), "bootstrap_relative_rmse", "std")
    groups = np.asarray(groups)
    keys, inverse = np.unique(groups, return_inverse=True)
    # squared normalised errors summed per series: (G,)
    se_p = np.bincount(inverse, weights=(((pred - target) / std[:, None]) ** 2).sum(axis=1))
    se_b = np.bincount(inverse, weights=(((base - target) / std[:, None]) ** 2).sum(axis=1))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(keys), size=(n_boot, len(keys)))  # (n_boot, G)
    # the counts of windows cancel in the ratio of the two RMSEs
    return np.sqrt(se_p[draws].sum(axis=1) / se_b[draws].sum(axis=1))


def compare_to_baseline(preds, base, target, std, groups, n_boot: int = 2000, seed: int = 0,
                        level: float = 0.9) -> dict:
    """Is a model better than a baseline, given both sources of chance we can measure?

    preds: the model's forecasts from several training seeds, a list of (N, horizon)
    arrays. For each seed, :func:`bootstrap_relative_rmse` resamples the test series; the
    pooled draws over all seeds mix the seed-to-seed spread with the luck of which
    series landed in the test set. Returns a dict with

    * ``mean``, ``std``: the ratio to the baseline over the seeds (std with ddof=1),
    * ``lo``, ``hi``: the central ``level`` interval of the pooled draws,
    * ``verdict``: ``"better"`` if ``hi < 1``, ``"worse"`` if ``lo > 1``, else ``"no clear difference"``.
    """
    preds = list(preds)
    if not preds:
        raise ValueError("compare_to_baseline: preds is empty; give one forecast per seed")
    if not 0.0 < level < 1.0:
        raise ValueError(f"compare_to_baseline: level must be in (0, 1), got {level}")
    ratios = np.array([relative_rmse(p, base, target, std) for p in preds])
    draws = np.concatenate([bootstrap_relative_rmse(p, base, target, std, groups, n_boot=n_boot, seed=seed)
                            for p in preds])
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    verdict = "better" if hi < 1 else "worse" if lo > 1 else "no clear difference"
    return {"mean": float(ratios.mean()), "std": float(ratios.std(ddof=1)) if len(ratios) > 1 else float("nan"),
            "lo": float(lo), "hi": float(hi), "verdict": verdict}


def path_similarity(paths) -> float:
    """Mean correlation, over all pairs of windows, of their day-to-day changes.

    paths: (N, horizon) forecasts or actual prices. Near 1: every window follows the same
    zig-zag (e.g. a model replaying one memorised market path); near 0: unrelated moves.
    Needs a horizon of at least 3 days (2 changes).
    """
    paths = _as_2d(paths, "path_similarity", "(windows, horizon)")
    if paths.shape[1] < 3 or paths.shape[0] < 2:
        raise ValueError(f"path_similarity: needs at least 2 windows and a horizon of 3, got {paths.shape}")
    steps = np.diff(paths, axis=1)  # (N, horizon - 1)
    steps = steps - steps.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(steps, axis=1, keepdims=True)
    steps = steps[norm[:, 0] > 0] / norm[norm[:, 0] > 0]  # unit vectors; flat paths are left out
    n = len(steps)
    if n < 2:
        raise ValueError("path_similarity: fewer than 2 windows move at all")
    corr = steps @ steps.T  # (n, n) correlations
    return float((corr.sum() - n) / (n * (n - 1)))


# ----------------------------------------------------------------------------- the seed's models

HEAD_HIDDEN = 50  # the seed's "linear layer" between the sequence model and the output layer

def _seed_model(kind: str, **kwargs) -> ModelSpec:
    """A seed-study forecaster: one price per day in, ``Linear(64 -> 50) -> ReLU`` before the output."""
    return ModelSpec(kind, "regress", input_size=1, head_hidden=HEAD_HIDDEN, **kwargs)


SEED_MODELS = {
    # two recurrent layers of width 64, read at the last step
    "RNN": _seed_model("rnn", d_model=64, n_layer=2, pool="last"),
    "LSTM": _seed_model("lstm", d_model=64, n_layer=2, pool="last"),
    # one attention-only block (LayerNorm + 2-head attention, no feed-forward network),
    # bidirectional, averaged over time
    "Transformer": _seed_model("gpt", d_model=64, n_layer=1, n_head=2, mlp=False, causal=False, pool="mean"),
    # the seed's "complicated" variant: more blocks, each with its feed-forward network
    "Transformer (complicated)": _seed_model("gpt", d_model=64, n_layer=4, n_head=2, mlp=True,
                                             causal=False, pool="mean"),
}
# the seed study's training: Keras's Adam default learning rate, batches of 25 windows
SEED_TRAIN = TrainConfig(epochs=30, batch_size=25, lr=1e-3)


def forecaster_spec(name: str, context: int, horizon: int, **overrides) -> ModelSpec:
    """The :class:`ModelSpec` of ``SEED_MODELS[name]`` for windows of ``context`` days and
    ``horizon`` forecasts; ``overrides`` replace entries (e.g. ``d_model=32``)."""
    if name not in SEED_MODELS:
        raise ValueError(f"make_forecaster: unknown model {name!r}; choose one of {list(SEED_MODELS)}")
    spec = SEED_MODELS[name].but(n_out=horizon, **overrides)
    return spec.but(block_size=context) if spec.kind == "gpt" and "block_size" not in overrides else spec


def make_forecaster(name: str, context: int, horizon: int, head_hidden: int = HEAD_HIDDEN,
                    seed: int = 0, **overrides):
    """One of ``SEED_MODELS``, weights drawn from ``seed``: ``(B, context, 1) prices -> (B, horizon)``.

    The model is ``Linear(1 -> 64) -> core -> LayerNorm -> pool -> Linear(64 -> 50) -> ReLU
    -> Linear(50 -> horizon)``. ``overrides`` replace entries of the configuration
    (e.g. ``d_model=32``).
    """
    return forecaster_spec(name, context, horizon, head_hidden=head_hidden, **overrides).build(seed)


def keras_parameter_counts(hidden: int = 64, dense: int = 50, n_out: int = 20, features: int = 1,
                           heads: int = 2, key_dim: int = 64) -> dict:
    """Parameter counts of the seed's Keras models, from the layers it describes.

    * RNN / LSTM: two ``SimpleRNN``/``LSTM`` layers of ``hidden`` units (the first reads
      ``features`` inputs), ``Dense(dense)``, ``Dense(n_out)``.
    * Transformer: ``LayerNormalization`` on the ``features`` inputs,
      ``MultiHeadAttention(heads, key_dim)`` with its residual, ``GlobalAveragePooling1D``
      over time (leaving ``features`` numbers), ``Dense(dense)``, ``Dense(n_out)``.

    With the defaults this gives the seed's 16,750 / 54,190 / 2,019 parameters; with
    ``n_out=1`` its one-day-ahead counts 15,781 / 53,221 / 1,050.
    """
    head = hidden * dense + dense + dense * n_out + n_out

    def rnn_layer(n_in, gates):  # kernel (n_in, g*h) + recurrent kernel (h, g*h) + bias (g*h)
        return gates * (n_in * hidden + hidden * hidden + hidden)

    rnn = rnn_layer(features, 1) + rnn_layer(hidden, 1) + head
    lstm = rnn_layer(features, 4) + rnn_layer(hidden, 4) + head
    # query, key, value: (features, heads, key_dim) kernels + (heads, key_dim) biases; output (heads*key_dim, features) + bias
    mha = 3 * (features * heads * key_dim + heads * key_dim) + heads * key_dim * features + features
    transformer = 2 * features + mha + features * dense + dense + dense * n_out + n_out
    return {"RNN": rnn, "LSTM": lstm, "Transformer": transformer}


# ----------------------------------------------------------------------------- training and scoring


def fit_forecaster(model, x, y, config: TrainConfig = SEED_TRAIN, *, seed: int = 0):
    """Train ``model`` on windows x (N, context) -> y (N, horizon) with the MSE loss.

    Mini-batches of ``config.batch_size`` windows, shuffled with ``seed``; everything else
    is :func:`rvt_lib.train.fit` as ``config`` says. Returns its History.
    """
    from torch.utils.data import DataLoader, TensorDataset

    from rvt_lib.train import fit

    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(y), dtype=torch.float32)
    if x.dim() != 2 or y.dim() != 2 or len(x) != len(y):
        raise ValueError(f"fit_forecaster: expected x (N, context) and y (N, horizon), got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    data = TensorDataset(x[:, :, None], y)  # inputs (N, context, 1): one feature per day
    loader = DataLoader(data, batch_size=config.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    return fit(model, loader, config, loss_fn=F.mse_loss, seed=seed, progress=False)


def forecast(model, x, batch_size: int = 256) -> np.ndarray:
    """The model's forecasts (N, horizon) for windows x (N, context), as float64."""
    from rvt_lib.train import predict

    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)[:, :, None]  # (N, context, 1)
    return predict(model, list(torch.split(x, batch_size))).double().numpy()  # a list of (b, context, 1) batches


def scores(pred, task: ForecastTask) -> dict:
    """Raw RMSE, normalised RMSE and RMSE relative to persistence of raw-price forecasts."""
    base = persistence(task.x_test, task.horizon)
    return {"rmse": rmse(pred, task.y_test),
            "rmse_norm": normalised_rmse(pred, task.y_test, task.std_test),
            "rel_persistence": relative_rmse(pred, base, task.y_test, task.std_test)}


def baseline_forecasts(task: ForecastTask, p: int = 5) -> dict:
    """Raw-price forecasts of persistence, drift and a linear AR(p) (fitted on z-scored windows)."""
    xtr, ytr, xte, _ = task.normalised()
    ar = LinearAR(p).fit(xtr, ytr)
    return {"persistence": persistence(task.x_test, task.horizon),
            "drift": drift(task.x_test, task.horizon),
            f"linear AR({p})": unzscore(ar.predict(xte), task.mean_test, task.std_test)}


def run_models(task: ForecastTask, names, seeds, *, normalise: bool = True, train: TrainConfig = SEED_TRAIN,
               epochs: int | None = None, batch_size: int | None = None, lr: float | None = None,
               **model_overrides):
    """Train every model in ``names`` once per seed; score and measure each run.

    normalise: train on z-scored windows (forecasts are mapped back to prices before
    scoring) or, as in the seed's first run, on raw prices.
    train: the training run (default the seed study's, ``SEED_TRAIN``); ``epochs``,
    ``batch_size`` and ``lr`` change those fields of it.
    Returns (runs, forecasts): ``runs`` is a DataFrame with one row per (model, seed) holding
    the cost columns of :func:`rvt_lib.measure.measure_training` and the :func:`scores`;
    ``forecasts[(name, seed)]`` is the (N_test, horizon) raw-price forecast.
    """
    from rvt_lib.measure import measure_training

    changes = {k: v for k, v in dict(epochs=epochs, batch_size=batch_size, lr=lr).items() if v is not None}
    train = train.but(**changes)
    if normalise:
        xtr, ytr, xte, _ = task.normalised()
    else:
        xtr, ytr, xte = task.x_train, task.y_train, task.x_test
    rows, preds = [], {}
    for name in names:
        spec = forecaster_spec(name, task.context, task.horizon, **model_overrides)
        for seed in seeds:
            model = spec.build(seed)  # the initial weights depend on the seed too
            row = measure_training(name, model, lambda: fit_forecaster(model, xtr, ytr, train, seed=seed))
            out = forecast(model, xte)
            if normalise:
                out = unzscore(out, task.mean_test, task.std_test)
            preds[(name, seed)] = out
            row.update(seed=seed, **scores(out, task))
            rows.append(row)
    return pd.DataFrame(rows), preds


def _fmt(v: float, digits: int) -> str:
    """Integers with thousands separators (parameter counts), other numbers to ``digits`` figures."""
    if float(v).is_integer() and abs(v) < 1e9:
        return f"{int(v):,}"
    return f"{v:.{digits}g}"


def mean_std(df: pd.DataFrame, columns, by: str = "model", digits: int = 3) -> pd.DataFrame:
    """``"mean ± std"`` strings of ``columns`` per ``by`` group (std over the runs, ddof=1).

    A column that is the same in every run of a group (e.g. the parameter count) is shown
    as that one value; a group with a single run has no std either.
    """
    columns = list(columns)
    missing = [c for c in columns + [by] if c not in df.columns]
    if missing:
        raise ValueError(f"mean_std: no columns {missing}; columns are {list(df.columns)}")
    g = df.groupby(by, sort=False)[columns]
    mean, std, spread = g.mean(), g.std(), g.max() - g.min()
    out = pd.DataFrame(index=mean.index)
    for c in columns:
        out[c] = [_fmt(m, digits) if not np.isfinite(s) or r == 0 else f"{m:.{digits}g} ± {s:.{digits}g}"
                  for m, s, r in zip(mean[c], std[c], spread[c])]
    return out


# ----------------------------------------------------------------------------- figure


def plot_window(task: ForecastTask, row: int, forecasts: dict, ax=None, history: int = 60,
                title: str | None = None):
    """One test window: its last ``history`` input days, the actual future and each forecast.

    forecasts: name -> (N_test, horizon) raw-price forecasts; row: which test window.
    Returns the Axes.
    """
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    from rvt_lib.plots import PALETTE, color_for

    if not 0 <= row < len(task.x_test):
        raise ValueError(f"plot_window: row must be in 0..{len(task.x_test) - 1}, got {row}")
    if ax is None:
        _, ax = plt.subplots()
    c, H = int(task.cut_test[row]), task.horizon
    k = min(history, task.context)
    past = task.dates[c - k:c]
    future = task.dates[c:c + H]
    ax.plot(past, task.x_test[row, -k:], color="#444444", lw=1.4, label="observed (input)")
    ax.plot(future, task.y_test[row], color="black", lw=2.2, label="actual")
    spare = iter([col for col in PALETTE if col not in ("#444444", "#000000")])
    for name, pred in forecasts.items():
        style = "--" if name in ("persistence", "drift") or name.startswith("linear") else "-"
        ax.plot(future, pred[row], style, color=color_for(name) or next(spare), lw=1.6, label=name)
    ax.axvline(task.dates[c], color="#999999", lw=1, ls=":")
    locator = mdates.AutoDateLocator(maxticks=6)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # short, unrotated dates
    ax.set_xlabel("date")
    ax.set_ylabel("adjusted close (USD)")
    ax.set_title(title if title is not None else f"{task.tickers_test[row]}: forecast from {task.dates[c].date()}")
    return ax
