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
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn import metrics as skm
from sklearn.model_selection import train_test_split

from rvt_lib import stats
from rvt_lib.models.heads import ModelSpec, match_parameters
from rvt_lib.runner import Scores, Task

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
    probs, ys = [], []
    with torch.no_grad():
        for x, y in data:
            logits = model(x)  # (B, 2)
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


def fit_some_batched(models, train_sources, configs, *, val_sources=None, loss_fn=None, seeds=None):
    """A ``run_study`` trainer: the seed-batched :func:`rvt_lib.batched.fit_batched` for the bare
    GRU and LSTM (about twice as fast there on one CPU thread, same results), plain
    :func:`rvt_lib.train.fit` for the others (where batching measured no faster)."""
    from rvt_lib.batched import fit_batched
    from rvt_lib.models.gru import GRU
    from rvt_lib.models.lstm import LSTM
    from rvt_lib.runner import _default_trainer

    batched = all(isinstance(m.core, (GRU, LSTM)) for m in models)
    trainer = fit_batched if batched else _default_trainer
    return trainer(models, train_sources, configs, val_sources=val_sources, loss_fn=loss_fn, seeds=seeds)


def probabilities_on_test(result, task, model: str) -> list[np.ndarray]:
    """P(MI) on the (already scored, unsealed) test beats for each seed of ``model``."""
    data = task.test.open()
    out = []
    for seed in result.seeds:
        net = result.models[(model, seed)].eval()
        with torch.no_grad():
            out.append(np.concatenate([torch.softmax(net(x).double(), -1)[:, 1].numpy() for x, _ in data]))
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
