"""The stocks chapter's backend: the seed's study rebuilt, then forecasting as forecasters do.

Part 1, **the seed's study** (one origin per stock, stocks split 80/20):

* **windows**: cut each price series at a *forecast origin* ``c`` (a day index). The
  model reads the ``context`` days before it, ``prices[c - context : c]``, and must predict
  the ``horizon`` days from it on, ``prices[c : c + horizon]``. :func:`make_task` builds
  training and test windows from a table of prices and splits the tickers.
* **normalisation** (:func:`history_stats`, :func:`zscore`): every window is rescaled with
  the mean and standard deviation of its own series *before the origin* ``c``. Nothing on
  or after day ``c`` is used, so the targets cannot leak into the inputs (tested).
* **baselines**: :func:`persistence` (tomorrow = today), :func:`drift` and
  :class:`LinearAR` (a linear autoregression fitted by least squares).
* **metrics**: :func:`rmse` on raw prices, :func:`normalised_rmse` in units of each
  series' own standard deviation, :func:`relative_rmse` against persistence,
  :func:`error_share` (which series dominate the squared error).
* **models**: ``SEED_MODELS``: the seed's RNN and LSTM as :class:`ModelSpec`, and its
  Keras Transformers rebuilt layer for layer (:class:`KerasTransformer`, 2,019 and 16,248
  parameters as in its tables; :func:`mean_only_gap` tests that they see only the mean
  of each window). :func:`seed_study` trains them through :func:`rvt_lib.runner.run_study`
  with the seed's recipe (``SEED_TRAIN``).

Part 2, **rolling origins** (one global model for all stocks, split in time):

* :func:`rolling_folds`: expanding-window folds whose test blocks tile the end of the
  table; :func:`log_windows`: inputs and targets as log offsets from the last observed
  day (zero = persistence), scaled by each window's own volatility.
* baselines: persistence, :func:`drift_offsets`, a global direct AR(p) with p chosen on
  validation (:func:`choose_ar`), and NLinear/DLinear (Zeng et al., 2023) trained like
  the networks; :func:`rolling_specs`: every mixer in one block at matched parameters.
* :func:`run_rolling`: the runner per fold; RMSSE, MASE and R² against the random walk
  over all test windows, and one loss per test day; :func:`versus`: Diebold–Mariano
  verdicts over days with Holm's correction.

Every model maps a window to all ``horizon`` values at once (a "direct multi-output"
forecast): ``(B, context, 1) -> (B, horizon)``. Baselines and models answer exactly the
same question from exactly the same inputs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
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


# ----------------------------------------------------------------------------- the seed's models

HEAD_HIDDEN = 50  # the seed's "linear layer" between the sequence model and the output layer


class KerasTransformer(nn.Module):
    """The seed's Keras Transformer, layer for layer: ``(B, T, features) -> (B, horizon)``.

    Each of ``blocks`` blocks is Keras's time-series recipe::

        a = x + MultiHeadAttention(heads, key_dim)(LayerNorm(x))        # attention + residual
        x = a + Dense(features)(relu(Dense(ff_dim)(LayerNorm(a))))      # only if ff_dim > 0

    then ``GlobalAveragePooling1D`` over time, ``Dense(dense, relu)`` and
    ``Dense(horizon)``. Keras's ``MultiHeadAttention`` projects to ``heads x key_dim``
    and back to ``features`` (all with biases); its ``LayerNormalization`` uses
    ``epsilon=1e-3``. With one feature per day, one block and no feed-forward network this
    has the seed's 2,019 parameters; four blocks with ``ff_dim=960`` have the 16,248 of
    its "complicated" Transformer (our reconstruction: the post gives only the count).

    With ``features=1`` every LayerNorm sees a single number and returns its bias
    whatever the input: every block adds a constant to ``x``, so the output depends on the
    window only through its mean (``tests/test_experiments_stocks.py`` checks this).
    """

    def __init__(self, horizon: int, features: int = 1, blocks: int = 1, heads: int = 2,
                 key_dim: int = 64, ff_dim: int = 0, dense: int = HEAD_HIDDEN):
        super().__init__()
        self.heads, self.key_dim = heads, key_dim
        inner = heads * key_dim
        self.norms1 = nn.ModuleList(nn.LayerNorm(features, eps=1e-3) for _ in range(blocks))
        self.qkv = nn.ModuleList(nn.Linear(features, 3 * inner) for _ in range(blocks))
        self.outs = nn.ModuleList(nn.Linear(inner, features) for _ in range(blocks))
        self.ffs = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(features, eps=1e-3), nn.Linear(features, ff_dim), nn.ReLU(),
                          nn.Linear(ff_dim, features)) for _ in range(blocks if ff_dim else 0))
        self.head = nn.Sequential(nn.Linear(features, dense), nn.ReLU(), nn.Linear(dense, horizon))

    def _attend(self, i: int, x):  # x (B, T, features) -> (B, T, features)
        B, T, _ = x.shape
        q, k, v = self.qkv[i](self.norms1[i](x)).view(B, T, 3, self.heads, self.key_dim).unbind(2)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.outs[i](y.transpose(1, 2).reshape(B, T, -1))  # (B, T, features)

    def forward(self, x):  # x (B, T, features)
        for i in range(len(self.qkv)):
            x = x + self._attend(i, x)
            if self.ffs:
                x = x + self.ffs[i](x)
        return self.head(x.mean(dim=1))  # (B, horizon)


class NLinear(nn.Module):
    """NLinear (Zeng et al., 2023): one linear map from the window, minus its last value, to
    the horizon (plus that value back). Our windows are offsets from the last price
    already, so it is ``Linear(context -> horizon)`` on them."""

    def __init__(self, context: int, horizon: int):
        super().__init__()
        self.linear = nn.Linear(context, horizon)

    def forward(self, x):  # x (B, context, 1)
        last = x[:, -1]  # (B, 1)
        return self.linear(x[..., 0] - last) + last  # (B, horizon)


class DLinear(nn.Module):
    """DLinear (Zeng et al., 2023): a moving average splits the window into a trend and a
    remainder; one linear map each, summed. The average is over ``kernel`` days, with the
    window's end values repeated at both ends so every day has a full kernel."""

    def __init__(self, context: int, horizon: int, kernel: int = 25):
        super().__init__()
        if kernel % 2 == 0 or kernel < 1:
            raise ValueError(f"DLinear: kernel must be an odd integer >= 1, got {kernel!r}")
        self.kernel = kernel
        self.trend = nn.Linear(context, horizon)
        self.rest = nn.Linear(context, horizon)

    def forward(self, x):  # x (B, context, 1)
        s = x[..., 0]  # (B, context)
        pad = (self.kernel - 1) // 2
        padded = torch.cat([s[:, :1].expand(-1, pad), s, s[:, -1:].expand(-1, pad)], dim=1)
        trend = padded.unfold(1, self.kernel, 1).mean(-1)  # (B, context)
        return self.trend(trend) + self.rest(s - trend)  # (B, horizon)


_LOCAL = {"keras_transformer": KerasTransformer, "nlinear": NLinear, "dlinear": DLinear}


class LocalSpec:
    """A recipe for one of this chapter's own models (``KerasTransformer``, ``NLinear``,
    ``DLinear``): ``build(seed)`` and ``n_params()``, what :func:`rvt_lib.runner.run_study`
    needs from a :class:`~rvt_lib.models.heads.ModelSpec`."""

    def __init__(self, kind: str, **kwargs):
        if kind not in _LOCAL:
            raise ValueError(f"LocalSpec: unknown kind {kind!r}; choose one of {list(_LOCAL)}")
        self.kind, self.kwargs = kind, dict(kwargs)

    def build(self, seed: int = 0) -> nn.Module:
        torch.manual_seed(seed)
        return _LOCAL[self.kind](**self.kwargs)

    def n_params(self) -> int:
        with torch.device("meta"):
            model = _LOCAL[self.kind](**self.kwargs)
        return sum(p.numel() for p in model.parameters())

    def but(self, **changes) -> "LocalSpec":
        return LocalSpec(self.kind, **{**self.kwargs, **changes})

    def __repr__(self) -> str:
        return f"LocalSpec({self.kind!r}, {self.kwargs})"


def _seed_model(kind: str, **kwargs) -> ModelSpec:
    """A seed-study recurrent forecaster: one price per day in, ``Linear(64 -> 50) -> ReLU`` before the output."""
    return ModelSpec(kind, "regress", input_size=1, head_hidden=HEAD_HIDDEN, **kwargs)


SEED_MODELS = {
    # two recurrent layers of width 64, read at the last step
    "RNN": _seed_model("rnn", d_model=64, n_layer=2, pool="last"),
    "LSTM": _seed_model("lstm", d_model=64, n_layer=2, pool="last"),
    # the seed's own Transformer: LayerNorm over the single feature, 2-head attention
    # (keys of 64) with its residual, average pooling, Dense(50), Dense(horizon)
    "Transformer": LocalSpec("keras_transformer", horizon=20),
    # its "complicated" variant: four blocks, each with a feed-forward network (16,248 parameters)
    "Transformer (complicated)": LocalSpec("keras_transformer", horizon=20, blocks=4, ff_dim=960),
}
# the seed study's training: Keras's Adam default learning rate, batches of 25 windows
SEED_TRAIN = TrainConfig(epochs=30, batch_size=25, lr=1e-3)


def forecaster_spec(name: str, context: int, horizon: int, **overrides):
    """The spec of ``SEED_MODELS[name]`` for windows of ``context`` days and ``horizon``
    forecasts; ``overrides`` replace entries (e.g. ``d_model=32``)."""
    if name not in SEED_MODELS:
        raise ValueError(f"forecaster_spec: unknown model {name!r}; choose one of {list(SEED_MODELS)}")
    spec = SEED_MODELS[name]
    if isinstance(spec, LocalSpec):
        return spec.but(horizon=horizon, **overrides)
    return spec.but(n_out=horizon, **overrides)


def make_forecaster(name: str, context: int, horizon: int, seed: int = 0, **overrides):
    """One of ``SEED_MODELS``, weights drawn from ``seed``: ``(B, context, 1) prices -> (B, horizon)``.

    The recurrent ones are ``Linear(1 -> 64) -> core -> LayerNorm -> last step ->
    Linear(64 -> 50) -> ReLU -> Linear(50 -> horizon)``; the Transformers are
    :class:`KerasTransformer`.
    """
    return forecaster_spec(name, context, horizon, **overrides).build(seed)


def mean_only_gap(model, x) -> float:
    """How much ``model``'s forecasts change when each window is replaced by a flat window at
    its mean: ``max |f(x) - f(mean(x))|`` over the windows x (N, context). Zero (to float
    precision) for a forecaster that sees only the mean of its window."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)[:, :, None]  # (N, context, 1)
    flat = x.mean(dim=1, keepdim=True).expand_as(x)
    model.eval()
    with torch.no_grad():
        return float((model(x) - model(flat)).abs().max())


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


# ----------------------------------------------------------------------------- the seed's study, on the runner

def _loader(x, y, batch_size: int, shuffle: bool):
    """(x (N, context) -> (N, context, 1), y (N, horizon)) as float32 batches."""
    from torch.utils.data import DataLoader, TensorDataset

    data = TensorDataset(torch.as_tensor(np.asarray(x), dtype=torch.float32)[:, :, None],
                         torch.as_tensor(np.asarray(y), dtype=torch.float32))
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle)


def score_windows(model, data):
    """:func:`rvt_lib.runner.score_regression`, whose ``mse`` is also the training loss
    (``F.mse_loss``): given as ``"loss"``, so the runner scores each split in one pass."""
    from rvt_lib.runner import score_regression

    scores = score_regression(model, data)
    scores.metrics["loss"] = scores.metrics["mse"]
    return scores


def seed_study(task: ForecastTask, names, seeds, *, normalise: bool = True, train: TrainConfig = SEED_TRAIN,
               val_frac: float = 0.2, split_seed: int = 0, progress=None):
    """The seed's experiment, run by :func:`rvt_lib.runner.run_study`.

    A reproduction keeps the seed's recipe: one learning rate (``train.lr``, Keras's Adam
    default), so the validation split (``val_frac`` of the training stocks, held out)
    chooses nothing; it is reported. normalise: z-scored windows (forecasts mapped back to
    prices before scoring) or, as in the seed's first run, raw prices.
    Returns ``(result, runs, forecasts)``: the :class:`~rvt_lib.runner.StudyResult`, its
    ``runs`` table with :func:`scores` added (raw RMSE, normalised RMSE, ratio to
    persistence) and ``param_KB``, and ``forecasts[(name, seed)]``, the raw-price test forecasts.
    """
    from rvt_lib.runner import Task, run_study

    if not 0 < val_frac < 1:
        raise ValueError(f"seed_study: val_frac must be in (0, 1), got {val_frac!r}")
    xtr, ytr, xte, yte = task.normalised() if normalise else (task.x_train, task.y_train, task.x_test, task.y_test)
    order = np.random.default_rng(split_seed).permutation(len(xtr))
    n_val = max(1, int(round(val_frac * len(xtr))))
    val, fit_rows = order[:n_val], order[n_val:]
    study_task = Task(f"stocks, seed study ({'normalised' if normalise else 'raw prices'})",
                      _loader(xtr[fit_rows], ytr[fit_rows], train.batch_size, shuffle=True),
                      list(_loader(xtr[val], ytr[val], 256, shuffle=False)),
                      list(_loader(xte, yte, 256, shuffle=False)), score_windows, loss_fn=F.mse_loss)
    specs = {name: forecaster_spec(name, task.context, task.horizon) for name in names}
    result = run_study(specs, study_task, train, seeds=tuple(seeds), lr_grid=(train.lr,),
                       tune_seeds=(seeds[0],), progress=progress)
    preds, extra = {}, []
    for name in names:
        for seed in seeds:
            out = forecast(result.models[(name, seed)], task.x_test if not normalise else xte)
            preds[(name, seed)] = unzscore(out, task.mean_test, task.std_test) if normalise else out
            extra.append({"model": name, "seed": seed, **scores(preds[(name, seed)], task)})
    runs = result.runs.merge(pd.DataFrame(extra), on=["model", "seed"])
    runs["param_KB"] = runs["param_bytes"] / 1000
    return result, runs, preds


# ----------------------------------------------------------------------------- forecasting as forecasters do

@dataclass(frozen=True)
class Fold:
    """One fold of an expanding-window evaluation. Origins are day indices: the last day a
    forecast may see. A window at origin ``t`` reads days ``t - context + 1 .. t`` and
    predicts days ``t + 1 .. t + horizon``."""

    index: int
    train: np.ndarray  # every origin whose targets end before the first validation target
    val: np.ndarray    # origins whose targets end by the first test origin
    test: np.ndarray   # consecutive origins, after all of the above


def rolling_folds(n_days: int, *, context: int, horizon: int, n_folds: int, test_origins: int,
                  val_origins: int, min_train: int = 5) -> list[Fold]:
    """Expanding-window folds whose test blocks tile the end of the table, oldest first.

    Fold k tests ``test_origins`` consecutive origins; its validation origins are the
    ``val_origins`` latest whose targets end on or before the first test origin, and its
    training origins all those whose targets end on or before the first validation
    origin. So no target of training or validation lies in the test period, and no
    training target in the validation period (``tests/test_experiments_stocks.py``).
    """
    for name, v in (("context", context), ("horizon", horizon), ("n_folds", n_folds),
                    ("test_origins", test_origins), ("val_origins", val_origins), ("min_train", min_train)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"rolling_folds: {name} must be a positive int, got {v!r}")
    last = n_days - 1 - horizon  # the last origin with a full target
    folds = []
    for k in range(n_folds):
        end = last - (n_folds - 1 - k) * test_origins
        test = np.arange(end - test_origins + 1, end + 1)
        val = np.arange(test[0] - horizon - val_origins + 1, test[0] - horizon + 1)
        train = np.arange(context - 1, val[0] - horizon + 1)
        if len(train) < min_train:
            need = context + 2 * horizon + val_origins + n_folds * test_origins + min_train - 1
            raise ValueError(f"rolling_folds: fold {k} has {max(len(train), 0)} training origins (need "
                             f"{min_train}); a table of {n_days} days is too short for context {context}, "
                             f"horizon {horizon}, {n_folds} folds of {test_origins} test and {val_origins} "
                             f"validation origins (that needs about {need} days)")
        folds.append(Fold(k, train, val, test))
    return folds


@dataclass
class Windows:
    """Windows of log prices, as offsets from the last observed day (so 0 = persistence).

    x (N, context): ``log p_{t-i} - log p_t``; y (N, horizon): ``log p_{t+h} - log p_t``,
    the cumulative log return; sigma (N,): the standard deviation of the window's daily log
    returns (the model sees ``x / sigma`` and predicts ``y / sigma``; it uses only the
    input days); origin, series (N,): day index and series index. Rows are origin-major.
    """

    x: np.ndarray
    y: np.ndarray
    sigma: np.ndarray
    origin: np.ndarray
    series: np.ndarray


SIGMA_FLOOR = 1e-4  # a window whose price never moved still gets a finite scale


def log_windows(log_prices: np.ndarray, origins, context: int, horizon: int) -> Windows:
    """The :class:`Windows` of every series (rows of ``log_prices`` (S, days)) at ``origins``."""
    origins = np.asarray(origins, dtype=np.int64)
    if origins.min() < context - 1 or origins.max() + horizon >= log_prices.shape[1]:
        raise ValueError(f"log_windows: origins must lie in [{context - 1}, {log_prices.shape[1] - 1 - horizon}], "
                         f"got {origins.min()}..{origins.max()}")
    S, O = log_prices.shape[0], len(origins)
    past = log_prices[:, origins[:, None] + np.arange(-context + 1, 1)]  # (S, O, context)
    future = log_prices[:, origins[:, None] + np.arange(1, horizon + 1)]  # (S, O, horizon)
    last = past[..., -1:]
    sigma = np.maximum(np.diff(past, axis=-1).std(axis=-1), SIGMA_FLOOR)  # (S, O)
    om = lambda a: np.swapaxes(a, 0, 1).reshape(S * O, *a.shape[2:])  # noqa: E731  origin-major rows
    return Windows(om(past - last), om(future - last), om(sigma), np.repeat(origins, S), np.tile(np.arange(S), O))


def in_sample_scales(log_prices: np.ndarray, last_day: int) -> tuple[np.ndarray, np.ndarray]:
    """Per series, from the daily log returns up to ``last_day`` (the training period):
    (root mean square, mean absolute value): the RMSSE and MASE denominators, i.e. the
    in-sample errors of the one-day naive forecast (Hyndman and Koehler, 2006)."""
    r = np.diff(log_prices[:, :last_day + 1], axis=1)
    return np.maximum(np.sqrt((r ** 2).mean(axis=1)), SIGMA_FLOOR), np.maximum(np.abs(r).mean(axis=1), SIGMA_FLOOR)


# baselines: forecasts of y (log offsets), from the windows alone

def drift_offsets(w: Windows, horizon: int) -> np.ndarray:
    """The window's average daily log return, continued: ``h * (log p_t - log p_{t-c+1}) / (c - 1)``."""
    per_day = -w.x[:, 0] / (w.x.shape[1] - 1)  # (N,)
    return per_day[:, None] * np.arange(1, horizon + 1)  # (N, horizon)


def _ar_features(w: Windows, p: int) -> np.ndarray:
    """The last ``p`` daily log returns of each window, in units of its sigma, and a 1."""
    r = np.diff(w.x, axis=1)[:, -p:] / w.sigma[:, None]  # (N, p)
    return np.hstack([r, np.ones((len(r), 1))])


def fit_ar(w: Windows, p: int) -> np.ndarray:
    """A global direct AR(p): least squares from the last ``p`` returns (and an intercept) to
    all ``horizon`` offsets, in units of each window's sigma. Returns the (p + 1, horizon) weights."""
    if not 1 <= p < w.x.shape[1]:
        raise ValueError(f"fit_ar: p must be in [1, {w.x.shape[1] - 1}], got {p!r}")
    coef, *_ = np.linalg.lstsq(_ar_features(w, p), w.y / w.sigma[:, None], rcond=None)
    return coef


def ar_offsets(w: Windows, coef: np.ndarray) -> np.ndarray:
    return (_ar_features(w, coef.shape[0] - 1) @ coef) * w.sigma[:, None]


def choose_ar(train: Windows, val: Windows, orders) -> tuple[int, np.ndarray, dict]:
    """The AR order with the lowest validation MSE (in sigma units, the networks' loss);
    returns (p, weights, {p: val MSE})."""
    losses, fits = {}, {}
    for p in orders:
        fits[p] = fit_ar(train, p)
        losses[p] = float((((ar_offsets(val, fits[p]) - val.y) / val.sigma[:, None]) ** 2).mean())
    best = min(losses, key=losses.get)
    return best, fits[best], losses


# metrics over test windows

def _error_sums(pred: np.ndarray, w: Windows, q: np.ndarray, m: np.ndarray, origins: np.ndarray) -> dict:
    """Everything the metrics need from one fold, for one forecaster (pred: log offsets)."""
    e, rw = pred - w.y, -w.y  # the random walk (persistence) forecasts 0
    sq = (e / q[w.series, None]) ** 2  # (N, horizon), in units of the series' in-sample scale
    daily = sq.mean(axis=1).reshape(len(origins), -1).mean(axis=1)  # (O,): one loss per test origin
    return {"sq": float(sq.sum()), "abs": float((np.abs(e) / m[w.series, None]).sum()), "n": e.size,
            "rw_sq": float(((rw / q[w.series, None]) ** 2).sum()), "daily": daily}


def _metrics(sums: list[dict]) -> dict:
    sq, ab, n, rw = (sum(s[k] for s in sums) for k in ("sq", "abs", "n", "rw_sq"))
    return {"rmsse": float(np.sqrt(sq / n)), "mase": float(ab / n), "r2_rw": float(1.0 - sq / rw)}


ROLLING_KINDS = ("rnn", "lstm", "mingru", "gpt")


def rolling_specs(context: int, horizon: int, target: int, *, kinds=ROLLING_KINDS, n_layer: int = 2,
                  tol: float = 0.08) -> dict:
    """Every mixer in the same pre-norm residual block with an MLP, at ``target`` parameters
    (:func:`~rvt_lib.models.heads.match_parameters`), read at the last day; plus NLinear and
    DLinear (Zeng et al., 2023), trained by the same runner."""
    from rvt_lib.models.heads import KIND_NAMES, match_parameters

    specs = {}
    for kind in kinds:
        extra = {"block_size": context, "n_head": 1} if kind == "gpt" else {}  # one head: widths move by 1
        base = ModelSpec(kind, "regress", input_size=1, n_out=horizon, n_layer=n_layer, pool="last",
                         block="residual", d_model=16, **extra)
        specs[KIND_NAMES[kind]] = match_parameters(base, target, tol=tol)
    specs["NLinear"] = LocalSpec("nlinear", context=context, horizon=horizon)
    specs["DLinear"] = LocalSpec("dlinear", context=context, horizon=horizon, kernel=min(25, context - (1 - context % 2)))
    return specs


def _scaled(w: Windows):
    return w.x / w.sigma[:, None], w.y / w.sigma[:, None]


@dataclass
class RollingResult:
    """What :func:`run_rolling` returns.

    runs: one row per network x seed over all folds (``rmsse, mase, r2_rw``, ``params``,
    ``train_seconds`` summed over folds, ``lrs``: the learning rate chosen in each fold).
    baselines: one row per baseline (``ar_orders``: the order chosen in each fold).
    daily: ``{(model, seed): (n_origins,)}`` and baseline_daily ``{name: (n_origins,)}``:
    the loss of each test origin (mean over series and horizons of the squared error in
    units of the series' in-sample scale), in time order. tuning: one row per fold x model x lr.
    forecasts: ``{(name, fold): (N, horizon)}`` test log offsets (networks: first seed);
    test: ``{fold: Windows}``. series: the tickers; dates: the table's days.
    """

    runs: pd.DataFrame
    baselines: pd.DataFrame
    daily: dict
    baseline_daily: dict
    tuning: pd.DataFrame
    forecasts: dict
    test: dict
    folds: list
    origins: np.ndarray
    series: list
    dates: pd.DatetimeIndex
    horizon: int
    seeds: tuple

    def pooled_daily(self, name: str) -> np.ndarray:
        """A forecaster's daily losses; for a network, the mean over its seeds."""
        if name in self.baseline_daily:
            return self.baseline_daily[name]
        days = [self.daily[(name, s)] for s in self.seeds if (name, s) in self.daily]
        if not days:
            raise ValueError(f"RollingResult: no forecaster {name!r}; have {self.names}")
        return np.mean(days, axis=0)

    @property
    def names(self) -> list:
        return list(dict.fromkeys(self.runs["model"])) + list(self.baseline_daily)

    def choices(self) -> pd.DataFrame:
        """One row per fold x network: the rate chosen, the rates tried, ``at_edge`` (the
        choice is the smallest or largest of two or more rates tried: unbracketed) and
        ``end`` (``"low"``, ``"high"``, or ``""`` for a bracketed choice)."""
        from rvt_lib.runner import lr_end

        rows = []
        for (fold, model), g in self.tuning.groupby(["fold", "model"], sort=False):
            tried = sorted(set(g["lr"]))
            lr = float(g.loc[g["chosen"], "lr"].iloc[0])
            end = lr_end(lr, tried)
            rows.append({"fold": fold, "model": model, "lr": lr, "tried": tried, "at_edge": end != "",
                         "end": end})
        return pd.DataFrame(rows)


def run_rolling(prices: pd.DataFrame, specs: dict, config: TrainConfig, *, seeds, lr_grid, context: int,
                horizon: int, n_folds: int, test_origins: int, val_origins: int,
                ar_orders=(1, 2, 5, 10, 20), extend: int = 0, progress=None) -> RollingResult:
    """Global forecasters over rolling origins, under the book's protocol, fold by fold.

    For every fold (:func:`rolling_folds`): windows of every series at every origin
    (:func:`log_windows`); :func:`rvt_lib.runner.run_study` tunes each spec's learning rate
    on the fold's validation origins, retrains it over ``seeds`` and only then scores the
    test origins; the AR order is chosen on the same validation origins
    (:func:`choose_ar`); persistence and drift need no fitting. The metrics pool the test
    windows of all folds: RMSSE and MASE (errors divided by each series' in-sample
    one-day naive error, :func:`in_sample_scales`) and the out-of-sample R² against the
    random walk, ``1 - SSE / SSE_persistence`` in those units. extend: rates each fold's
    grid may add past an end while a model's best sits there (``run_study``'s ``extend``);
    ``tuning`` has every rate tried, per fold.
    """
    from rvt_lib.runner import Task, run_study

    if not isinstance(prices, pd.DataFrame) or prices.isna().any().any() or (prices.to_numpy() <= 0).any():
        raise ValueError("run_rolling: prices must be a DataFrame (days, tickers) of positive prices without "
                         "gaps (use rvt_lib.data.stocks.clean_prices)")
    logp = np.log(prices.to_numpy(dtype=np.float64).T)  # (series, days)
    folds = rolling_folds(logp.shape[1], context=context, horizon=horizon, n_folds=n_folds,
                          test_origins=test_origins, val_origins=val_origins)
    sums, base_sums, tuning, forecasts, tests, ar_chosen, runs_cost = {}, {}, [], {}, {}, {}, {}
    for fold in folds:
        q, m = in_sample_scales(logp, fold.val[0])  # training-period returns only
        w = {part: log_windows(logp, getattr(fold, part), context, horizon) for part in ("train", "val", "test")}
        tests[fold.index] = w["test"]
        (xtr, ytr), (xva, yva), (xte, yte) = (_scaled(w[p]) for p in ("train", "val", "test"))
        task = Task(f"stocks, fold {fold.index + 1}/{len(folds)}", _loader(xtr, ytr, config.batch_size, True),
                    list(_loader(xva, yva, 1024, False)), list(_loader(xte, yte, 1024, False)),
                    score_windows, loss_fn=F.mse_loss)
        result = run_study(specs, task, config, seeds=tuple(seeds), lr_grid=lr_grid, tune_seeds=(seeds[0],),
                           extend=extend, progress=progress)
        tuning.append(result.tuning.assign(fold=fold.index))
        for _, row in result.runs.iterrows():
            key = (row["model"], int(row["seed"]))
            pred = forecast(result.models[key], xte) * w["test"].sigma[:, None]
            sums.setdefault(key, []).append(_error_sums(pred, w["test"], q, m, fold.test))
            cost = runs_cost.setdefault(key, {"params": int(row["params"]), "train_seconds": 0.0, "lrs": []})
            cost["train_seconds"] += float(row["train_seconds"])
            cost["lrs"].append(float(row["lr"]))
            if key[1] == seeds[0]:
                forecasts[(key[0], fold.index)] = pred.astype(np.float32)
        p, coef, _ = choose_ar(w["train"], w["val"], [o for o in ar_orders if o < context])
        ar_chosen.setdefault("AR(p)", []).append(p)
        base = {"persistence": np.zeros_like(w["test"].y), "drift": drift_offsets(w["test"], horizon),
                "AR(p)": ar_offsets(w["test"], coef)}
        for name, pred in base.items():
            base_sums.setdefault(name, []).append(_error_sums(pred, w["test"], q, m, fold.test))
            forecasts[(name, fold.index)] = pred.astype(np.float32)
    runs = pd.DataFrame([{"model": k[0], "seed": k[1], **_metrics(v), **runs_cost[k]} for k, v in sums.items()])
    baselines = pd.DataFrame([{"model": k, **_metrics(v), "ar_orders": ar_chosen.get(k)} for k, v in base_sums.items()])
    return RollingResult(runs, baselines, {k: np.concatenate([s["daily"] for s in v]) for k, v in sums.items()},
                         {k: np.concatenate([s["daily"] for s in v]) for k, v in base_sums.items()},
                         pd.concat(tuning, ignore_index=True), forecasts, tests, folds,
                         np.concatenate([f.test for f in folds]), list(prices.columns),
                         pd.DatetimeIndex(prices.index), horizon, tuple(seeds))


def versus(result: RollingResult, names, baseline: str = "persistence", *, alpha: float = 0.05) -> pd.DataFrame:
    """Each forecaster in ``names`` against ``baseline``, over the test origins in time order.

    The Diebold–Mariano test (lag ``horizon - 1``: h-day-ahead errors overlap) of the daily
    losses decides, with Holm's correction over ``names``; the verdict comes from
    :func:`rvt_lib.stats.verdict`. A circular block bootstrap over days (blocks of
    ``horizon`` origins) is reported next to it as a check. Columns: ``delta`` (mean daily
    loss difference, negative = better than the baseline), its interval, ``p``,
    ``p_holm``, the bootstrap interval, ``verdict`` (a label) and ``text`` (for glue).
    """
    from rvt_lib import stats

    names = list(names)
    base = result.pooled_daily(baseline)
    tests = {n: stats.diebold_mariano(result.pooled_daily(n), base, horizon=result.horizon) for n in names}
    adjusted = stats.holm([t.p_value for t in tests.values()])
    rows = []
    for (name, test), p_adj in zip(tests.items(), adjusted):
        boot = stats.block_bootstrap(result.pooled_daily(name), base, block=result.horizon)
        v = stats.verdict(test, name, baseline, lower_is_better=True, alpha=alpha, p_value=float(p_adj),
                          unit="", items="test days")
        rows.append({"model": name, "delta": test.estimate, "lo": test.ci_low, "hi": test.ci_high,
                     "p": test.p_value, "p_holm": float(p_adj), "boot_lo": boot.ci_low, "boot_hi": boot.ci_high,
                     "verdict": v.label, "winner": v.winner, "text": v.text})
    return pd.DataFrame(rows).set_index("model")


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
