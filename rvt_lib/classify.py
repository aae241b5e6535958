"""Classifying whole sequences, and judging classifiers honestly.

A heartbeat classifier reads a sequence ``x`` of T samples and outputs a probability
``p = P(abnormal | x)``. This file holds everything around the model that decides
whether such a number is worth anything:

* **metrics** for a binary decision ``p >= threshold`` (1 = the positive class, e.g.
  myocardial infarction). With TP, FP, TN, FN the four cells of the confusion matrix::

      accuracy          = (TP + TN) / N
      sensitivity (TPR) = TP / (TP + FN)      share of the sick that we catch
      specificity (TNR) = TN / (TN + FP)      share of the healthy that we clear
      balanced accuracy = (sensitivity + specificity) / 2

  and the threshold-free **ROC AUC**: the probability that a random positive gets a
  higher score than a random negative (0.5 = a coin toss, 1 = perfect ranking).
  Balanced accuracy matters when classes are unequal: on ECG200 a model that calls
  every beat "normal" has 64% accuracy but 0.5 balanced accuracy.
* a **baseline** that needs no training: the 1-nearest-neighbour rule with Euclidean
  distance, the reference classifier of the UCR time-series archive;
* **standardisation** with statistics of the *training* set only (using the test set's
  mean would leak information from the data we evaluate on);
* :func:`train_classifier`: build any ``make_model`` kind, train it with
  :func:`rvt_lib.train.fit`, and return its metrics together with its cost (time, peak
  memory, parameters, from :func:`rvt_lib.measure.measure_training`).

    cfg = ClassifierConfig(kind="gru", pool="mean", epochs=40)
    runs = [train_classifier(cfg, X_train, y_train, X_test, y_test, seed=s) for s in range(5)]
    summarize([r.row() for r in runs])        # mean ± std over seeds

The metrics use scikit-learn; this file only fixes the conventions (label 1 = positive,
probabilities in, a dictionary of plain floats out).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np
import torch
import torch.nn.functional as F
from sklearn import metrics as skm

from rvt_lib.models.heads import ModelSpec
from rvt_lib.train import TrainConfig

METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "sensitivity", "specificity")
STANDARDIZE = (None, "global", "timestep")
CLASS_WEIGHTS = (None, "balanced")


# ----------------------------------------------------------------------------- input checks

def _as_labels(y, name: str = "y") -> np.ndarray:
    """``y`` as an int64 vector of 0/1 labels (raises on anything else)."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"{name}: expected a non-empty vector of labels of shape (N,), got shape {y.shape}")
    if y.dtype.kind not in "iub":
        raise TypeError(f"{name}: expected integer labels 0/1, got dtype {y.dtype}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{name}: labels must be 0 (negative) or 1 (positive), got {np.unique(y)}")
    return y.astype(np.int64)


def _as_scores(p, n: int, name: str = "scores") -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.shape != (n,):
        raise ValueError(f"{name}: expected one score per example, shape ({n},), got {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return p


def _as_beats(X, name: str = "X") -> np.ndarray:
    """``X`` as a float array (N, T) or (N, T, F), with N, T >= 1."""
    X = np.asarray(X)
    if X.dtype.kind != "f":
        raise TypeError(f"{name}: expected a float array of shape (N, T) or (N, T, F), got dtype {X.dtype}")
    if X.ndim not in (2, 3) or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty array of shape (N, T) or (N, T, F), got {X.shape}")
    return X


# ----------------------------------------------------------------------------- metrics

def binary_metrics(y_true, p_pos, threshold: float = 0.5) -> dict:
    """Metrics of the decision ``p_pos >= threshold`` against labels ``y_true`` (1 = positive).

    Returns plain floats: ``accuracy``, ``balanced_accuracy``, ``roc_auc`` (NaN when
    ``y_true`` holds one class only: a ranking needs both), ``sensitivity``,
    ``specificity``, and the confusion counts ``tn``, ``fp``, ``fn``, ``tp``.
    A rate whose denominator is zero (e.g. sensitivity without positives) is NaN.
    """
    y = _as_labels(y_true, "y_true")
    p = _as_scores(p_pos, len(y), "p_pos")
    pred = (p >= threshold).astype(np.int64)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()  # rows: truth, cols: prediction
    sens = tp / (tp + fn) if tp + fn > 0 else float("nan")
    spec = tn / (tn + fp) if tn + fp > 0 else float("nan")
    both = len(np.unique(y)) == 2
    return {
        "accuracy": float((tp + tn) / len(y)),
        "balanced_accuracy": float((sens + spec) / 2),
        "roc_auc": float(skm.roc_auc_score(y, p)) if both else float("nan"),
        "sensitivity": float(sens),
        "specificity": float(spec),
        "tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp),
    }


def confusion(y_true, p_pos, threshold: float = 0.5) -> np.ndarray:
    """The 2x2 confusion matrix ``[[TN, FP], [FN, TP]]`` (rows: truth 0/1, columns: predicted 0/1)."""
    y = _as_labels(y_true, "y_true")
    p = _as_scores(p_pos, len(y), "p_pos")
    return skm.confusion_matrix(y, (p >= threshold).astype(np.int64), labels=[0, 1])


def roc_points(y_true, p_pos) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC curve: ``(fpr, tpr, thresholds)``, one point per distinct threshold.

    Point i is the decision ``p_pos >= thresholds[i]``: ``fpr = 1 - specificity`` and
    ``tpr = sensitivity``. The first point, threshold ``inf``, calls everything negative
    (0, 0); lowering the threshold walks towards (1, 1).
    """
    y = _as_labels(y_true, "y_true")
    if len(np.unique(y)) < 2:
        raise ValueError("roc_points: y_true must contain both classes")
    p = _as_scores(p_pos, len(y), "p_pos")
    fpr, tpr, thresholds = skm.roc_curve(y, p, drop_intermediate=False)
    return fpr, tpr, thresholds


def summarize(rows, by: str = "model", columns=METRICS) -> "pandas.DataFrame":
    """Mean and standard deviation (over seeds) of each metric, one row per ``by`` group.

    ``rows`` is a list of dicts (e.g. ``ClassifierResult.row()``). Returns a DataFrame
    with columns ``<metric>_mean``, ``<metric>_std`` and ``seeds`` (the number of runs);
    the standard deviation is the sample one (``ddof=1``), 0 for a single run. Groups
    keep the order in which they first appear.
    """
    import pandas as pd

    df = pd.DataFrame(list(rows))
    if df.empty:
        raise ValueError("summarize: no rows")
    missing = [c for c in (by, *columns) if c not in df.columns]
    if missing:
        raise ValueError(f"summarize: rows lack the columns {missing}")
    g = df.groupby(by, sort=False)
    out = pd.DataFrame(index=pd.Index(list(g.groups), name=by))
    for c in columns:
        out[f"{c}_mean"] = g[c].mean()
        out[f"{c}_std"] = g[c].std(ddof=1).fillna(0.0)
    out["seeds"] = g.size()
    return out


def format_mean_std(summary, columns=METRICS, digits: int = 3) -> "pandas.DataFrame":
    """A :func:`summarize` table as strings ``"0.880 ± 0.012"``, one column per metric."""
    import pandas as pd

    out = pd.DataFrame(index=summary.index)
    for c in columns:
        m, s = summary[f"{c}_mean"], summary[f"{c}_std"]
        out[c] = [f"{a:.{digits}f} ± {b:.{digits}f}" for a, b in zip(m, s)]
    out["seeds"] = summary["seeds"]
    return out


# ----------------------------------------------------------------------------- baseline: 1-NN

def nearest_neighbor(X_train, y_train, X_test) -> tuple[np.ndarray, np.ndarray]:
    """The 1-nearest-neighbour rule with Euclidean distance.

    Each test beat gets the label of the closest training beat. Returns ``(pred, score)``:
    ``pred`` the 0/1 labels, ``score = d0 / (d0 + d1)`` where ``d0`` and ``d1`` are the
    distances to the nearest training beat of class 0 and of class 1. The score is 0.5
    exactly where the two are equally close, so ``score >= 0.5`` is the 1-NN decision
    (a tie counts as positive, as ``p >= threshold`` does in :func:`binary_metrics`), and
    the score ranks beats for a ROC curve. Both classes must appear in ``y_train``.
    """
    A = _as_beats(X_train, "X_train").astype(np.float64)
    B = _as_beats(X_test, "X_test").astype(np.float64)
    y = _as_labels(y_train, "y_train")
    if len(y) != len(A):
        raise ValueError(f"nearest_neighbor: {len(A)} training beats but {len(y)} labels")
    if A.shape[1:] != B.shape[1:]:
        raise ValueError(f"nearest_neighbor: train beats have shape {A.shape[1:]}, test beats {B.shape[1:]}")
    if len(np.unique(y)) < 2:
        raise ValueError("nearest_neighbor: y_train must contain both classes")
    A, B = A.reshape(len(A), -1), B.reshape(len(B), -1)  # (N, D), (M, D)
    # squared distances through |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, clipped at 0 against round-off
    d2 = (B ** 2).sum(1)[:, None] + (A ** 2).sum(1)[None, :] - 2.0 * B @ A.T  # (M, N)
    d = np.sqrt(np.maximum(d2, 0.0))
    d0 = d[:, y == 0].min(axis=1)  # (M,) nearest normal beat
    d1 = d[:, y == 1].min(axis=1)  # (M,) nearest positive beat
    total = d0 + d1
    score = np.where(total > 0, d0 / np.where(total > 0, total, 1.0), 0.5)
    pred = (d1 <= d0).astype(np.int64)
    return pred, score


# ----------------------------------------------------------------------------- standardisation

@dataclass
class Standardizer:
    """``x -> (x - mean) / std`` with ``mean`` and ``std`` taken from the training set.

    ``per="global"``: one mean and one std over every training value (the shape of each
    beat is kept, only the units change). ``per="timestep"``: one mean and std per time
    step (and feature), so every position of the beat is centred on the training average.
    A std of zero (a constant position, e.g. zero padding) is replaced by 1.
    """
    mean: np.ndarray
    std: np.ndarray
    per: str = "global"

    @classmethod
    def fit(cls, X_train, per: str = "global") -> "Standardizer":
        X = _as_beats(X_train, "X_train").astype(np.float64)
        if per == "global":
            mean, std = np.array(X.mean()), np.array(X.std())
        elif per == "timestep":
            mean, std = X.mean(axis=0), X.std(axis=0)  # (T,) or (T, F)
        else:
            raise ValueError(f"Standardizer: per must be 'global' or 'timestep', got {per!r}")
        std = np.where(std > 0, std, 1.0)
        return cls(mean=mean, std=std, per=per)

    def transform(self, X) -> np.ndarray:
        X = _as_beats(X)
        if self.per == "timestep" and X.shape[1:] != self.mean.shape:
            raise ValueError(f"Standardizer: fitted on beats of shape {self.mean.shape}, got {X.shape[1:]}")
        return ((X - self.mean) / self.std).astype(X.dtype)


def balanced_class_weights(y, n_classes: int = 2) -> np.ndarray:
    """Weights ``N / (n_classes * N_c)`` per class c: each class then carries the same total
    weight in the loss, as if the classes were balanced (scikit-learn's "balanced")."""
    y = _as_labels(y)
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    if (counts == 0).any():
        raise ValueError(f"balanced_class_weights: class counts {counts.tolist()}; every class needs examples")
    return len(y) / (n_classes * counts)


# ----------------------------------------------------------------------------- training

_TRAIN_FIELDS = {f.name for f in fields(TrainConfig)}


@dataclass(frozen=True)
class ClassifierConfig:
    """One way of training a sequence classifier; every field is a knob of the chapter's ablation.

    kind:         ``"rnn" | "gru" | "lstm" | "mingru" | "minlstm" | "gpt"`` (``make_model``).
    d_model, n_layer, n_head: sizes (``n_head`` for the GPT only).
    pool:         ``"mean"`` over all time steps or the ``"last"`` step's output.
    causal:       GPT only: False lets every position attend to the whole beat.
    dropout:      dropout of the model.
    class_weight: ``"balanced"`` weighs the loss by :func:`balanced_class_weights`, None not.
    standardize:  ``"global"``, ``"timestep"`` or None (see :class:`Standardizer`).
    threshold:    the decision ``P(positive) >= threshold``.
    train:        the training run (:class:`rvt_lib.train.TrainConfig`, in ``epochs``;
                  ``batch_size`` is the loader's).
    """
    kind: str = "gru"
    d_model: int = 32
    n_layer: int = 1
    n_head: int = 4
    pool: str = "mean"
    causal: bool = False
    dropout: float = 0.0
    class_weight: str | None = "balanced"
    standardize: str | None = "global"
    threshold: float = 0.5
    train: TrainConfig = TrainConfig(epochs=40, batch_size=20, lr=3e-3, weight_decay=0.01,
                                     schedule="cosine")

    def __post_init__(self):
        if self.class_weight not in CLASS_WEIGHTS:
            raise ValueError(f"ClassifierConfig: class_weight must be one of {CLASS_WEIGHTS}, got {self.class_weight!r}")
        if self.standardize not in STANDARDIZE:
            raise ValueError(f"ClassifierConfig: standardize must be one of {STANDARDIZE}, got {self.standardize!r}")
        if not isinstance(self.train, TrainConfig) or self.train.epochs is None:
            raise ValueError(f"ClassifierConfig: train must be a TrainConfig(epochs=...), got {self.train!r}")
        for name in ("d_model", "n_layer", "n_head"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"ClassifierConfig: {name} must be a positive integer, got {v!r}")
        self.spec(seq_len=1)  # checks the kind

    def but(self, **changes) -> "ClassifierConfig":
        """A copy with some fields changed: ``base.but(pool="mean")``. Names of
        :class:`~rvt_lib.train.TrainConfig` fields change ``train``: ``base.but(epochs=5)``."""
        train = {k: changes.pop(k) for k in list(changes) if k in _TRAIN_FIELDS}
        if train:
            changes["train"] = changes.get("train", self.train).but(**train)
        return replace(self, **changes)

    def spec(self, seq_len: int, n_features: int = 1) -> ModelSpec:
        """The model: a two-class ``"classify"`` head on ``kind``, for beats of ``seq_len`` steps."""
        extra = {"causal": self.causal} if self.kind == "gpt" else {}
        return ModelSpec(self.kind, "classify", input_size=n_features, n_out=2, pool=self.pool,
                         d_model=self.d_model, n_layer=self.n_layer, n_head=self.n_head,
                         block_size=seq_len, dropout=self.dropout, **extra)


@dataclass
class ClassifierResult:
    """What :func:`train_classifier` returns: metrics on the test set, cost, and predictions."""
    name: str
    seed: int
    metrics: dict
    cost: dict                 # train_time_s, wall_time_s, peak_train_mem_MB, params, param_KB
    p_test: np.ndarray         # (M,) predicted P(positive) for each test sequence
    history: object = field(repr=False, default=None)  # rvt_lib.train.History
    model: object = field(repr=False, default=None)     # the trained model, if keep_model=True
    scaler: "Standardizer | None" = field(repr=False, default=None)  # what was fitted on the training set

    def row(self) -> dict:
        """One flat dict (model name, seed, metrics, cost) for a table."""
        return {"model": self.name, "seed": self.seed, **self.metrics, **self.cost}


def _to_tensor(X: np.ndarray) -> torch.Tensor:
    X = torch.as_tensor(np.ascontiguousarray(X), dtype=torch.float32)
    return X.unsqueeze(-1) if X.dim() == 2 else X  # (N, T) -> (N, T, 1)


def build_classifier(config: ClassifierConfig, seq_len: int, n_features: int = 1, seed: int = 0):
    """The ``SequenceModel`` described by ``config``, its initial weights drawn from ``seed``."""
    return config.spec(seq_len, n_features).build(seed)


def predict_proba(model: torch.nn.Module, X) -> np.ndarray:
    """``P(class 1 | x)`` for every sequence in ``X`` (N, T) or (N, T, F): softmax of the logits."""
    from rvt_lib.train import predict

    logits = predict(model, _to_tensor(_as_beats(X)))  # (N, 2)
    return torch.softmax(logits.double(), dim=-1)[:, 1].numpy()


def train_classifier(config: ClassifierConfig, X_train, y_train, X_test, y_test, *, seed: int = 0,
                     name: str | None = None, keep_model: bool = False) -> ClassifierResult:
    """Train ``config`` on the training set and score it on the test set.

    The steps, in order: standardise with training statistics; build the model (weights
    from ``seed``); train with :func:`rvt_lib.train.fit` (shuffled mini-batches, cross-entropy,
    class weights if asked) while :func:`rvt_lib.measure.measure_training` records time,
    peak memory and parameters; predict ``P(positive)`` on the test set and compute
    :func:`binary_metrics`. No early stopping and no choice by test score: the test set
    is looked at once, after training.
    """
    from rvt_lib.measure import measure_training
    from rvt_lib.train import fit

    Xtr, Xte = _as_beats(X_train, "X_train"), _as_beats(X_test, "X_test")
    ytr, yte = _as_labels(y_train, "y_train"), _as_labels(y_test, "y_test")
    if len(Xtr) != len(ytr) or len(Xte) != len(yte):
        raise ValueError(f"train_classifier: {len(Xtr)} / {len(Xte)} sequences but "
                         f"{len(ytr)} / {len(yte)} labels (train / test)")
    if Xtr.shape[1:] != Xte.shape[1:]:
        raise ValueError(f"train_classifier: train sequences have shape {Xtr.shape[1:]}, test {Xte.shape[1:]}")
    scaler = None
    if config.standardize is not None:
        scaler = Standardizer.fit(Xtr, per=config.standardize)
        Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)

    xt, yt = _to_tensor(Xtr), torch.as_tensor(ytr)  # (N, T, F), (N,)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xt, yt),
                                         batch_size=config.train.batch_size, shuffle=True)
    if config.class_weight == "balanced":
        w = torch.as_tensor(balanced_class_weights(ytr), dtype=torch.float32)
        loss_fn = lambda logits, y: F.cross_entropy(logits, y, weight=w)  # noqa: E731
    else:
        loss_fn = None  # plain cross-entropy

    model = build_classifier(config, seq_len=xt.shape[1], n_features=xt.shape[2], seed=seed)
    out = {}

    def run():
        out["history"] = fit(model, loader, config.train, loss_fn=loss_fn, seed=seed, progress=False)
        return out["history"]

    name = name or config.kind
    cost = measure_training(name, model, run)
    cost = {k: cost[k] for k in ("train_time_s", "wall_time_s", "peak_train_mem_MB", "params", "param_KB")}
    p = predict_proba(model, Xte)
    return ClassifierResult(name=name, seed=seed, metrics=binary_metrics(yte, p, config.threshold),
                            cost=cost, p_test=p, history=out["history"],
                            model=model if keep_model else None, scaler=scaler)
