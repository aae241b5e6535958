"""The ECG chapter's backend: ECG200 under the book's protocol, and its nearest-neighbour baselines.

    task = make_task(X_train, y_train, X_test, y_test)          # val carved from TRAIN only
    specs = model_specs(target=10_000, seq_len=96)               # matched parameters
    result = run_study(specs, task, TrainConfig(epochs=150, ...), lr_grid=(1e-3, 3e-3, 1e-2))
    nn_vs = versus_baseline(result, "GRU", nn_correct)          # McNemar over test beats

What lives here:

* :func:`make_task`: a validation split carved, stratified, from the *training* beats only
  (the UCR test split stays sealed inside the :class:`rvt_lib.runner.Task` until every
  model is tuned), inputs standardised with statistics of the fitting beats, and a
  class-weighted cross-entropy (each class carries half of the loss).
* :func:`score_beats`: accuracy, balanced accuracy and ROC AUC; per beat ``"correct"``
  (0/1, for McNemar).
* :func:`model_specs`: LSTM, GRU, minGRU, minLSTM and a bidirectional GPT encoder at one
  parameter count. The min-RNNs sit in the pre-norm residual block with an MLP
  (``block="residual"``), as Feng et al. (2024) use them: a bare one-layer minGRU on one
  input channel computes its gate ``z_t = sigmoid(w x_t + b)`` from the current sample
  alone, so what it keeps is decided sample by sample, not by context.
* 1-NN baselines: Euclidean (:func:`euclidean_distances`) and dynamic time warping with a
  Sakoe-Chiba band (:func:`dtw_distances`, written out in NumPy; the band is chosen by
  leave-one-out on the training beats, :func:`choose_window`).
* :func:`ucr_resamples`: the UCR protocol of Bagnall et al. (2017): resample 0 is the
  archive's split, the others stratified train/test resamples of the pooled beats with the
  same sizes and class counts.

The seed-style reproduction (the coin toss and its ablation) trains one classifier at a
time by hand, outside the runner, with the tools that follow (moved here from the old
``rvt_lib.classify``): :func:`binary_metrics` and :func:`roc_points` (label 1 = MI is
the positive class), :func:`nearest_neighbor` (1-NN with a score for ROC curves),
:class:`Standardizer`, :class:`ClassifierConfig` and :func:`train_classifier`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np
import torch
import torch.nn.functional as F
from sklearn import metrics as skm
from sklearn.model_selection import train_test_split

from rvt_lib import stats
from rvt_lib.models.heads import ModelSpec, match_parameters
from rvt_lib.runner import Scores, Task
from rvt_lib.train import TrainConfig, _model_device

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


# ============================================================================= the protocol

KINDS = {"LSTM": "lstm", "GRU": "gru", "minGRU": "mingru", "minLSTM": "minlstm", "GPT": "gpt"}
RESIDUAL = ("mingru", "minlstm")  # the min-RNNs in the GPT's residual block (Feng et al. 2024)


# ----------------------------------------------------------------------------- input checks

def _beats(X, name: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (n_beats, n_samples) array, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return X


def _labels(y, n: int, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,) or not np.isin(y, (0, 1)).all():
        raise ValueError(f"{name} must be {n} labels in {{0, 1}}, got shape {y.shape}")
    if len(np.unique(y)) < 2:
        raise ValueError(f"{name} must contain both classes")
    return y.astype(np.int64)


# ----------------------------------------------------------------------------- the task

def _batches(X: np.ndarray, y: np.ndarray, batch_size: int) -> list:
    """A fixed list of (x (B, T, 1) float32, y (B,) int64) batches, in item order."""
    x = torch.as_tensor(X, dtype=torch.float32).unsqueeze(-1)
    t = torch.as_tensor(y)
    return [(x[i:i + batch_size], t[i:i + batch_size]) for i in range(0, len(t), batch_size)]


def score_beats(model, data) -> Scores:
    """Accuracy, balanced accuracy and ROC AUC of P(MI) (label 1); per beat ``"correct"`` (0/1)."""
    device = _model_device(model)
    probs, ys = [], []
    with torch.no_grad():
        for x, y in data:
            logits = model(x.to(device)).cpu()  # (B, 2)
            probs.append(torch.softmax(logits.double(), -1)[:, 1])
            ys.append(y)
    p, y = torch.cat(probs).numpy(), torch.cat(ys).numpy()
    pred = (p >= 0.5).astype(np.int64)
    correct = (pred == y).astype(np.float64)
    both = len(np.unique(y)) == 2
    return Scores({"accuracy": correct.mean(),
                   "balanced_accuracy": skm.balanced_accuracy_score(y, pred) if both else float("nan"),
                   "roc_auc": skm.roc_auc_score(y, p) if both else float("nan")},
                  {"correct": correct})


def make_task(X_train, y_train, X_test, y_test, *, val_size: float = 0.3, split_seed: int = 0,
              batch_size: int = 20, name: str = "ECG200") -> tuple[Task, dict]:
    """The study task: fit / validation split of the training beats, the test beats sealed.

    The validation beats (``val_size`` of the training split, stratified by class) choose
    the learning rate; the model trains on the rest. The standardisation (one mean and one
    std) and the class weights come from the fitting beats only. Returns the
    :class:`~rvt_lib.runner.Task` and ``info`` (split sizes, indices, class weights).
    """
    Xtr, Xte = _beats(X_train, "X_train"), _beats(X_test, "X_test")
    ytr, yte = _labels(y_train, len(Xtr), "y_train"), _labels(y_test, len(Xte), "y_test")
    if Xtr.shape[1] != Xte.shape[1]:
        raise ValueError(f"make_task: train beats have {Xtr.shape[1]} samples, test beats {Xte.shape[1]}")
    if not 0 < val_size < 1:
        raise ValueError(f"make_task: val_size must be in (0, 1), got {val_size!r}")
    fit_idx, val_idx = train_test_split(np.arange(len(ytr)), test_size=val_size, stratify=ytr,
                                        random_state=split_seed)
    mean, std = Xtr[fit_idx].mean(), Xtr[fit_idx].std() or 1.0
    z = lambda X: (X - mean) / std  # noqa: E731
    counts = np.bincount(ytr[fit_idx], minlength=2)
    weight = torch.as_tensor(len(fit_idx) / (2 * counts), dtype=torch.float32)
    xf = torch.as_tensor(z(Xtr[fit_idx]), dtype=torch.float32).unsqueeze(-1)  # (n_fit, T, 1)
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xf, torch.as_tensor(ytr[fit_idx])),
                                        batch_size=batch_size, shuffle=True)
    task = Task(name, train, _batches(z(Xtr[val_idx]), ytr[val_idx], 64), _batches(z(Xte), yte, 64),
                score_beats, loss_fn=lambda logits, y: F.cross_entropy(logits, y, weight=weight))
    info = {"n_fit": len(fit_idx), "n_val": len(val_idx), "n_test": len(yte), "fit_idx": fit_idx,
            "val_idx": val_idx, "class_weight": weight.numpy()}
    return task, info


def model_specs(target: int, seq_len: int, *, kinds=KINDS, n_layer: int = 1, n_head: int = 4,
                tol: float = 0.1) -> dict:
    """``{name: ModelSpec}`` of two-class, mean-pooled classifiers with about ``target`` parameters.

    The min-RNNs are in the residual block (see the module docstring), the GPT is a
    bidirectional encoder (``causal=False``) with learned positions, LSTM and GRU are
    the bare cells. Each width comes from :func:`~rvt_lib.models.heads.match_parameters`.
    """
    specs = {}
    for name, kind in kinds.items():
        extra = ({"causal": False, "n_head": n_head} if kind == "gpt" else
                 {"block": "residual"} if kind in RESIDUAL else {})
        base = ModelSpec(kind, "classify", input_size=1, n_out=2, pool="mean", d_model=8,
                         n_layer=n_layer, block_size=seq_len, **extra)
        specs[name] = match_parameters(base, target, tol=tol)
    return specs


def probabilities_on_test(result, task, model: str) -> list[np.ndarray]:
    """P(MI) on the (already scored, unsealed) test beats for each seed of ``model``."""
    data = task.test.open()
    out = []
    for seed in result.seeds:
        net = result.models[(model, seed)].eval()
        device = _model_device(net)
        with torch.no_grad():
            out.append(np.concatenate([torch.softmax(net(x.to(device)).double(), -1)[:, 1].cpu().numpy()
                                       for x, _ in data]))
    return out


# ----------------------------------------------------------------------------- 1-NN baselines

def euclidean_distances(A, B) -> np.ndarray:
    """(len(B), len(A)) Euclidean distances between the rows of B and the rows of A."""
    A, B = _beats(A, "A"), _beats(B, "B")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"euclidean_distances: {A.shape[1]} vs {B.shape[1]} samples per beat")
    d2 = (B ** 2).sum(1)[:, None] + (A ** 2).sum(1)[None, :] - 2.0 * B @ A.T
    return np.sqrt(np.maximum(d2, 0.0))


def dtw_distances(A, B, window: int) -> np.ndarray:
    """(len(B), len(A)) DTW distances with a Sakoe-Chiba band of half-width ``window`` samples.

    ``D[i, j] = (a_i - b_j)^2 + min(D[i-1, j-1], D[i-1, j], D[i, j-1])`` over the cells
    with ``|i - j| <= window``; the distance is ``sqrt(D[T-1, T-1])``. ``window=0`` is the
    Euclidean distance. The recursion runs cell by cell, vectorised over all pairs of beats.
    """
    A, B = _beats(A, "A"), _beats(B, "B")
    T = A.shape[1]
    if B.shape[1] != T:
        raise ValueError(f"dtw_distances: {A.shape[1]} vs {B.shape[1]} samples per beat")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 0:
        raise ValueError(f"dtw_distances: window must be an int >= 0, got {window!r}")
    w = min(int(window), T - 1)
    inf = np.full((len(B), len(A)), np.inf)
    prev = [inf] * T  # row i-1 of the cost table, one (len(B), len(A)) array per column j
    for i in range(T):
        row = [inf] * T
        for j in range(max(0, i - w), min(T, i + w + 1)):
            cost = (B[:, i][:, None] - A[:, j][None, :]) ** 2  # b_i against a_j
            if i == 0 and j == 0:
                row[j] = cost
                continue
            best = prev[j]
            if j > 0:
                best = np.minimum(best, np.minimum(prev[j - 1], row[j - 1]))
            row[j] = cost + best
        prev = row
    return np.sqrt(prev[T - 1])


def nn_predict(D, y_ref) -> np.ndarray:
    """1-NN labels from a (n_query, n_ref) distance matrix (ties: the first reference beat)."""
    D = np.asarray(D)
    y_ref = np.asarray(y_ref)
    if D.ndim != 2 or D.shape[1] != len(y_ref):
        raise ValueError(f"nn_predict: distances {D.shape} do not match {len(y_ref)} reference labels")
    return y_ref[np.argmin(D, axis=1)]


def choose_window(X_train, y_train, windows) -> tuple[int, dict]:
    """The DTW band with the best leave-one-out 1-NN accuracy on the training beats
    (ties: the narrowest), and ``{window: accuracy}``."""
    X = _beats(X_train, "X_train")
    y = _labels(y_train, len(X), "y_train")
    acc = {}
    for w in windows:
        D = dtw_distances(X, X, int(w))
        np.fill_diagonal(D, np.inf)  # leave the beat itself out
        acc[int(w)] = float((nn_predict(D, y) == y).mean())
    best = max(acc, key=lambda w: (acc[w], -w))
    return best, acc


# ----------------------------------------------------------------------------- the UCR protocol

def ucr_resamples(y_train, y_test, n_resamples: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Index pairs (train, test) into the pooled beats ``concat(train, test)``.

    Resample 0 is the archive's own split; each further one draws a new train set of the
    same size and class counts as the archive's (stratified), the rest being the test set
    (Bagnall et al. 2017).
    """
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"ucr_resamples: n_resamples must be a positive int, got {n_resamples!r}")
    y = np.concatenate([y_train, y_test])
    n_tr = len(y_train)
    out = [(np.arange(n_tr), np.arange(n_tr, len(y)))]
    for r in range(1, n_resamples):
        tr, te = train_test_split(np.arange(len(y)), train_size=n_tr, stratify=y, random_state=seed + r)
        out.append((np.sort(tr), np.sort(te)))
    return out


def resample_accuracies(D_pooled, y_pooled, splits) -> np.ndarray:
    """1-NN test accuracy on every (train, test) split, from the pooled distance matrix."""
    D, y = np.asarray(D_pooled), np.asarray(y_pooled)
    return np.array([float((nn_predict(D[np.ix_(te, tr)], y[tr]) == y[te]).mean()) for tr, te in splits])


# ----------------------------------------------------------------------------- verdicts

def versus_baseline(result, baseline_correct, baseline: str = "1-NN (Euclidean)") -> dict:
    """``{model: Verdict}``: McNemar of each model (right on a beat when right for most of its
    seeds) against a baseline's per-beat correctness, p-values Holm-adjusted over the models."""
    theirs = np.asarray(baseline_correct, dtype=bool)
    models = list(result.chosen)
    tests = [stats.mcnemar(result.pooled(m, "correct") > 0.5, theirs) for m in models]
    adjusted = stats.holm([t.p_value for t in tests])
    return {m: stats.verdict(t, m, baseline, lower_is_better=False, p_value=float(p), items="test beats")
            for m, t, p in zip(models, tests, adjusted)}


def versus_depth(deep, shallow, deep_label: str = "2 layers", shallow_label: str = "1 layer") -> dict:
    """``{model: Verdict}``: each model of ``deep`` (a study of deeper specs under the same
    names) against its namesake in ``shallow``, McNemar over the test beats (right on a beat
    when right for most of its seeds), p-values Holm-adjusted over the models."""
    models = [m for m in deep.chosen if m in shallow.chosen]
    if not models:
        raise ValueError("versus_depth: the two studies share no model name")
    tests = [stats.mcnemar(deep.pooled(m, "correct") > 0.5, shallow.pooled(m, "correct") > 0.5) for m in models]
    adjusted = stats.holm([t.p_value for t in tests])
    return {m: stats.verdict(t, f"{m}, {deep_label}", f"{m}, {shallow_label}", lower_is_better=False,
                             p_value=float(p), items="test beats")
            for m, t, p in zip(models, tests, adjusted)}


def claim_transformer_better(result, recurrent: list[str], gpt: str = "GPT"):
    """The seed's claim "the Transformer did (slightly) better than the RNN" against our data.

    The opponent is the recurrent model with the best mean *validation* accuracy (chosen
    without the test split); the test is McNemar over test beats. Returns
    ``(opponent, Verdict)`` from :func:`rvt_lib.stats.verdict_claim`.
    """
    val = result.runs.groupby("model")["val_accuracy"].mean()
    opponent = max(recurrent, key=lambda m: (val[m], -recurrent.index(m)))
    test = stats.mcnemar(result.pooled(gpt, "correct") > 0.5, result.pooled(opponent, "correct") > 0.5)
    return opponent, stats.verdict_claim(test, gpt, opponent, claim_a_better=True, lower_is_better=False,
                                         items="test beats")
