"""What each model can track: the automata chapter's heatmap, through the study runner.

Tasks {flip-flop, parity, Z_3, S_3, A_5} x models {minGRU [0, 1], minGRU [-1, 1], complex
diagonal (LRU), DeltaNet [-1, 1], LSTM, GPT with learned positions, GPT without positions
(NoPE)}. Every model reads the task's symbols and predicts the state at *every* position
(the ``"tag"`` head). For every task, :func:`rvt_lib.runner.run_study` tunes each model's
learning rate on a validation split at the training length T, retrains it over the seeds
and scores the sealed test split once. The test split holds sequences of length f * T
for every f in ``HeatmapConfig.factors``; the score of a length is the accuracy over its
**last T positions** (at f = 1 every position), so at 4T it is the stretch farthest from
anything seen in training.

:data:`PREDICTIONS` is what the chapter's theory says of each cell, at the depth used here
(one layer): ``"track"`` (correct at every length, in finite precision), ``"fail"``
(wrong at some length, whatever the weights) or ``None`` (the theory makes no prediction
at this depth: the GPT's limits here are learnability and untrained positions, not
expressivity). :func:`cell_verdicts` turns the seeds' accuracies into a verdict per cell
with the rule fixed before the run (:func:`cell_verdict`).

    config = HeatmapConfig(steps=300)
    results = run_heatmap(config)                # {task: runner.StudyResult}
    table = cell_verdicts(results, config)       # one row per task x model x length
    plot_heatmap(table, factor=4)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from rvt_lib.data.automata import make_task, task_spec
from rvt_lib.models.heads import ModelSpec, match_parameters
from rvt_lib.runner import Scores, Task, run_study
from rvt_lib.stats import mean_ci
from rvt_lib.train import TrainConfig

__all__ = ["HEATMAP_TASKS", "HEATMAP_MODELS", "PREDICTIONS", "THRESHOLD", "HeatmapConfig", "NoPESpec",
           "tracking_task", "score_tracking", "heatmap_specs", "run_heatmap", "cell_verdict",
           "cell_verdicts", "plot_heatmap"]

# label -> (task name of rvt_lib.data.automata, its keyword arguments)
HEATMAP_TASKS = {
    "flip-flop": ("flipflop", {}),
    "parity": ("parity", {}),
    "Z3": ("cyclic", {"n": 3}),
    "S3": ("s3", {}),
    "A5": ("a5", {}),
}
# label -> ModelSpec keyword arguments ("nope": the GPT with its position table zeroed and frozen)
HEATMAP_MODELS = {
    "minGRU [0,1]": dict(kind="mingru"),
    "minGRU [-1,1]": dict(kind="mingru_signed"),
    "complex diag. (LRU)": dict(kind="lru", mode="sequential"),
    "DeltaNet [-1,1]": dict(kind="deltanet", mode="sequential"),
    "LSTM": dict(kind="lstm"),
    "GPT": dict(kind="gpt"),
    "GPT, NoPE": dict(kind="gpt", nope=True),
}
_ORDER3 = ("Z3", "S3", "A5")  # the tasks with an element of order 3
PREDICTIONS = {  # (model, task) -> "track" | "fail" | None, for ONE layer
    **{("minGRU [0,1]", t): "fail" for t in ("parity",) + _ORDER3},
    ("minGRU [0,1]", "flip-flop"): "track",
    **{("minGRU [-1,1]", t): "track" for t in ("flip-flop", "parity")},
    **{("minGRU [-1,1]", t): "fail" for t in _ORDER3},
    **{("complex diag. (LRU)", t): "track" for t in ("flip-flop", "parity", "Z3")},
    ("complex diag. (LRU)", "S3"): None,     # solvable: a cascade of layers could; one layer: open
    ("complex diag. (LRU)", "A5"): "fail",   # TC^0, unless TC^0 = NC^1
    **{("DeltaNet [-1,1]", t): "track" for t in ("flip-flop", "parity")},
    **{("DeltaNet [-1,1]", t): "fail" for t in _ORDER3},  # one reflection per token: period <= 2
    **{("LSTM", t): "track" for t in HEATMAP_TASKS},
    **{(g, t): None for g in ("GPT", "GPT, NoPE") for t in HEATMAP_TASKS},
}
THRESHOLD = 0.95  # a cell is "tracked" when its 95% interval lies above this accuracy


@dataclass(frozen=True)
class HeatmapConfig:
    """Sizes of the heatmap study (every task and model share them).

    train_length: T. factors: test lengths as multiples of T (must include 1).
    target_params: every model's width is matched to this many trainable parameters
    (per task: the vocabularies differ). train: the TrainConfig (steps; its lr is tuned
    over lr_grid). n_val, n_test: sequences in the validation and each test length.
    """

    train_length: int = 16
    factors: tuple = (1, 4)
    n_layer: int = 1
    n_head: int = 2
    target_params: int = 6000
    train: TrainConfig = TrainConfig(steps=300, batch_size=32, lr=3e-3, warmup=20, clip=1.0,
                                     schedule="cosine")
    lr_grid: tuple = (3e-3, 1e-2)
    seeds: tuple = (0, 1, 2)
    n_val: int = 128
    n_test: int = 128
    eval_batch: int = 64

    def __post_init__(self):
        for name in ("train_length", "n_layer", "n_head", "target_params", "n_val", "n_test", "eval_batch"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"HeatmapConfig: {name} must be a positive int, got {v!r}")
        f = tuple(self.factors)
        if 1 not in f or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in f):
            raise ValueError(f"HeatmapConfig: factors must be positive ints including 1, got {self.factors!r}")
        if len(self.seeds) < 2:
            raise ValueError("HeatmapConfig: the 95% interval needs at least 2 seeds")
        object.__setattr__(self, "factors", tuple(sorted(set(f))))

    @property
    def max_length(self) -> int:
        return self.train_length * max(self.factors)


class NoPESpec(ModelSpec):
    """A GPT spec whose learned position table is zeroed and frozen: no positions (NoPE).

    ``rvt_lib.models.gpt`` has no switch for this, so the model is built as usual and its
    ``core.wpe`` is set to zero with ``requires_grad=False``: attention then sees only the
    tokens (the causal mask still tells order apart). ``n_params`` leaves the table out.
    """

    def __init__(self, head: str = "tag", **kwargs):
        super().__init__("gpt", head, **kwargs)

    def build(self, seed: int = 0):
        model = super().build(seed)
        with torch.no_grad():
            model.core.wpe.weight.zero_()
        model.core.wpe.weight.requires_grad_(False)
        return model

    def n_params(self) -> int:
        return super().n_params() - self.kwargs.get("block_size", 256) * self.kwargs.get("d_model", 128)

    def but(self, **changes) -> "NoPESpec":
        kwargs = {**self.kwargs, **changes}
        if kwargs.pop("kind", "gpt") != "gpt":
            raise ValueError("NoPESpec: the kind is always 'gpt'")
        return NoPESpec(kwargs.pop("head", self.head), **kwargs)

    def __reduce__(self):
        return (_nope_from, (self.head, dict(self.kwargs)))

    def __repr__(self) -> str:
        return "NoPE" + super().__repr__()


def _nope_from(head: str, kwargs: dict) -> NoPESpec:
    return NoPESpec(head, **kwargs)


# ----------------------------------------------------------------------------- the task

def score_tracking(train_length: int):
    """A runner score: accuracy over the last ``train_length`` positions, per test length.

    The data is a list of (x, y) batches, possibly of several lengths L; metrics
    ``acc_<L // T>T`` for each, and per item (one per sequence of the longest length) the
    fraction of its last T positions that are right (``"correct"``).
    """
    T = train_length

    def score(model, data) -> Scores:
        right: dict[int, list] = {}
        for x, y in data:
            pred = model(x).argmax(-1)                                 # (B, L)
            right.setdefault(x.shape[1], []).append((pred == y)[:, -T:].double().mean(1))  # (B,)
        per = {L: torch.cat(v).numpy() for L, v in right.items()}
        metrics = {f"acc_{L // T}T": float(v.mean()) for L, v in sorted(per.items())}
        return Scores(metrics, {"correct": per[max(per)]})

    return score


def _batches(name: str, kw: dict, n: int, length: int, batch: int, seed: int) -> list:
    x, y = make_task(name, n, length, seed=seed, **kw)
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]


def tracking_task(label: str, config: HeatmapConfig) -> Task:
    """The runner Task of heatmap task ``label``: fresh training batches at T, fixed val and test.

    Train: every call draws a new batch (seeded by a counter, so reproducible). Val: length
    T. Test: ``n_test`` sequences at every length f * T. All three from disjoint seeds.
    """
    if label not in HEATMAP_TASKS:
        raise ValueError(f"tracking_task: unknown task {label!r}; tasks: {', '.join(HEATMAP_TASKS)}")
    name, kw = HEATMAP_TASKS[label]
    T, B = config.train_length, config.train.batch_size
    counter = iter(range(2**62))

    def train():
        k = next(counter)
        return make_task(name, B, T, seed=int(np.random.SeedSequence([7, k]).generate_state(1)[0]), **kw)

    val = _batches(name, kw, config.n_val, T, config.eval_batch, seed=1_000_001)
    test = [b for i, f in enumerate(config.factors)
            for b in _batches(name, kw, config.n_test, f * T, config.eval_batch, seed=2_000_000 + i)]
    return Task(label, train, val, test, score_tracking(T))


# ----------------------------------------------------------------------------- the models

def heatmap_specs(label: str, config: HeatmapConfig, models: dict | None = None) -> dict:
    """``{model label: spec}`` for task ``label``, every width matched to ``target_params``."""
    models = HEATMAP_MODELS if models is None else models
    name, kw = HEATMAP_TASKS[label]
    s = task_spec(name, **kw)
    specs = {}
    for m, opts in models.items():
        opts = dict(opts)
        kind, nope = opts.pop("kind"), opts.pop("nope", False)
        base = dict(vocab_size=s.n_inputs, n_out=s.n_states, n_layer=config.n_layer, d_model=8, **opts)
        if kind in ("gpt", "deltanet"):
            base["n_head"] = config.n_head
        if kind == "gpt":
            base["block_size"] = config.max_length
        spec = NoPESpec("tag", **base) if nope else ModelSpec(kind, "tag", **base)
        specs[m] = match_parameters(spec, config.target_params, tol=0.1)
    return specs


def run_heatmap(config: HeatmapConfig, tasks=None, models: dict | None = None, trainer=None) -> dict:
    """``{task label: runner.StudyResult}``: tune, retrain over seeds, test once, per task."""
    out = {}
    for label in (tasks or HEATMAP_TASKS):
        specs = heatmap_specs(label, config, models)
        out[label] = run_study(specs, tracking_task(label, config), config.train, seeds=config.seeds,
                               lr_grid=config.lr_grid, tune_seeds=(config.seeds[0],), trainer=trainer,
                               progress=False)
    return out


# ----------------------------------------------------------------------------- verdicts

def cell_verdict(accuracies, threshold: float = THRESHOLD) -> tuple[str, object]:
    """``("tracked" | "fails" | "undecided", Interval)`` from the seeds' accuracies.

    The rule: the seeds' mean with its 95% t interval (:func:`rvt_lib.stats.mean_ci`);
    "tracked" when the lower bound is above ``threshold``, "fails" when the upper bound is
    below it, "undecided" otherwise. (Seeds that all score exactly the same give an
    interval of width zero.)
    """
    ci = mean_ci(np.asarray(accuracies, dtype=float))
    if ci.low > threshold:
        return "tracked", ci
    if ci.high < threshold:
        return "fails", ci
    return "undecided", ci


def _agreement(predicted, measured: str) -> str:
    if not isinstance(predicted, str) or measured == "undecided":
        return "n/a"
    return "agrees" if (predicted == "track") == (measured == "tracked") else "disagrees"


def cell_verdicts(results: dict, config: HeatmapConfig, predictions: dict | None = None) -> pd.DataFrame:
    """One row per task x model x test length: mean, 95% interval, verdict, prediction, agreement."""
    predictions = PREDICTIONS if predictions is None else predictions
    rows = []
    for task, res in results.items():
        for model in res.chosen:
            runs = res.runs[res.runs["model"] == model]
            for f in config.factors:
                acc = runs[f"test_acc_{f}T"].to_numpy(dtype=float)
                measured, ci = cell_verdict(acc)
                pred = predictions.get((model, task))
                rows.append({"task": task, "model": model, "factor": f, "mean": ci.estimate, "low": ci.low,
                             "high": ci.high, "verdict": measured, "predicted": pred,
                             "agreement": _agreement(pred, measured) if f == max(config.factors) else "n/a",
                             "params": int(runs["params"].iloc[0]), "lr": float(runs["lr"].iloc[0])})
    return pd.DataFrame(rows)


def plot_heatmap(table: pd.DataFrame, factor: int, ax=None, title: str = ""):
    """Mean accuracy per cell at ``factor`` x T; solid outline: predicted to track, dashed: to fail."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    t = table[table["factor"] == factor]
    tasks, models = list(dict.fromkeys(t["task"])), list(dict.fromkeys(t["model"]))
    grid = t.pivot(index="model", columns="task", values="mean").loc[models, tasks]
    ax = ax or plt.subplots(figsize=(1.3 * len(tasks) + 2.5, 0.55 * len(models) + 1.2))[1]
    im = ax.imshow(grid.to_numpy(), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for _, r in t.iterrows():
        i, j = models.index(r["model"]), tasks.index(r["task"])
        ax.text(j, i, f"{r['mean']:.2f}", ha="center", va="center", fontsize=8,
                color="white" if r["mean"] < 0.6 else "black")
        if isinstance(r["predicted"], str):
            ax.add_patch(Rectangle((j - 0.46, i - 0.46), 0.92, 0.92, fill=False, lw=2,
                                   ls="-" if r["predicted"] == "track" else "--",
                                   ec="red" if r["predicted"] == "track" else "white"))
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_yticks(range(len(models)), models)
    ax.set_title(title or f"accuracy at {factor}T (last T positions)")
    return ax, im
