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

    config = HeatmapConfig(train=TrainConfig(steps=300, batch_size=32))
    results = run_heatmap(config)                # {task: runner.StudyResult}
    table = cell_verdicts(results, config)       # one row per task x model x length
    plot_heatmap(table, factor=4)

The depth chapter asks, per task x model x training length T, for the fewest layers that
track (:func:`run_depth`, :class:`DepthConfig`, read by :func:`fewest_layers`,
:func:`depth_trend` and :func:`depth_agreement` against :data:`DEPTH_PREDICTIONS`).

The chapter's first studies (parity and the flip-flop, one learning rate for every model,
equal widths) use the older tracking runner kept below, :func:`run_tracking_study`:

A state-tracking task (``rvt_lib.data.automata``) feeds a model a stream of symbols and
asks, at *every* position, for the state reached so far (the running parity, the last
written bit, the running product of permutations). A model that has really learned the
automaton's update rule gives the right answer at any length; a model that learned a
*shortcut* that happens to work on the training sequences does not. So we

1. train at one length ``T`` (``TrackingConfig.train_length``), on fresh random
   sequences at every step, with a loss at every position;
2. test on new sequences of length ``T`` (in distribution), ``2T`` and ``4T`` (length
   generalisation), and of length ``T`` drawn from a *shifted* input distribution
   (e.g. parity with P(1) = 0.9 instead of 0.5);
3. report the accuracy at every position, and one number per test: the mean accuracy
   over the **last T positions** of the test sequences. At ``T`` that is every
   position; at ``2T`` and ``4T`` it is the stretch farthest from anything seen in
   training.

Every model kind of :func:`rvt_lib.models.heads.make_model` works here. The model is the
usual ``SequenceModel`` (token embedding -> core -> LayerNorm -> per-position linear
head); the only change is the head, which predicts one of ``n_states`` states instead of
the next token, with its own weights (for a GPT the language-model head would be *tied*
to the input embedding, which makes no sense when inputs and outputs are different
things).

A GPT gets ``block_size = T * max(eval_factors)`` learned positions, so that it can *read*
the long test sequences at all. Positions beyond ``T`` are never trained: their
embeddings stay at their random initial values. That is part of what the length tests
measure, and the book says so.

    cfg = TrackingConfig(task="parity", train_length=32, train=TrainConfig(steps=500, batch_size=64))
    study = run_tracking_study({"LSTM": dict(kind="lstm"), "GPT-2": dict(kind="gpt", n_layer=2)},
                               cfg, seeds=[0, 1, 2])
    study.summary        # one row per (model, seed): accuracies at T, 2T, 4T and under shift
    rvt_lib.stats.summarize(study.summary, ["acc_T", "acc_4T"])   # mean ± std per model
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from rvt_lib.data.automata import TASKS, identity_symbol, label_inputs, make_task, task_spec
from rvt_lib.models.heads import KINDS, ModelSpec, SequenceModel, match_parameters
from rvt_lib.runner import Scores, Task, run_study
from rvt_lib.stats import mean_ci
from rvt_lib.train import TrainConfig, _model_device, fit

__all__ = ["HEATMAP_TASKS", "HEATMAP_MODELS", "PREDICTIONS", "THRESHOLD", "HeatmapConfig",
           "tracking_task", "score_tracking", "heatmap_specs", "run_heatmap", "cell_verdict",
           "cell_verdicts", "plot_heatmap", "plot_heatmap_row", "PROBES", "PROBE_PREDICTIONS", "probe_inputs", "probe_verdicts",
           # depth against length
           "DEPTH_TASKS", "DEPTH_MODELS", "DEPTH_PREDICTIONS", "DepthConfig", "run_depth", "fewest_layers",
           "depth_trend", "depth_agreement", "depth_verdicts",
           # the original tracking runner
           "DEFAULT_SHIFT", "TrackingConfig", "TrackingResult", "tracker_spec", "build_tracker", "batch_sampler",
           "predict_states", "position_accuracy", "train_tracker", "evaluate_tracker", "run_tracking_study"]

# ============================================================================= the original runner
# The shifted test distribution used when TrackingConfig.shift_kwargs is left at None.
# Tasks whose generator has no distribution to move (cyclic, s3, a5, s5) have no entry:
# their shift test is skipped (NaN in the tables).
DEFAULT_SHIFT = {
    "parity": {"p_one": 0.9},                 # trained at P(1) = 0.5: far more ones
    "flipflop": {"probs": (0.4, 0.4, 0.2)},   # trained at (0.1, 0.1, 0.8): far more writes
}


@dataclass
class TrackingConfig:
    """One state-tracking experiment: the task, the lengths, the model size and the training.

    task:          a task name of ``rvt_lib.data.automata`` ("parity", "flipflop", ...).
    task_kwargs:   the training distribution, passed to ``make_task`` (e.g. ``{"p_one": 0.5}``).
    shift_kwargs:  the shifted test distribution (same keys); ``None`` uses ``DEFAULT_SHIFT``
                   for the task, ``{}`` or a task without an entry skips the shift test.
    train_length:  T, the length of every training sequence.
    eval_factors:  test lengths as multiples of T; must contain 1 (the in-distribution test).
    n_eval:        test sequences per test.
    train:         the training run (a :class:`rvt_lib.train.TrainConfig` in ``steps``;
                   ``train.batch_size`` sequences per step, each step a fresh random batch).
    d_model, n_head: the width of every model, and the GPT's heads.
    """

    task: str = "parity"
    task_kwargs: dict = field(default_factory=dict)
    shift_kwargs: dict | None = None
    train_length: int = 32
    eval_factors: tuple = (1, 2, 4)
    n_eval: int = 256
    train: TrainConfig = TrainConfig(steps=500, batch_size=64, lr=3e-3, warmup=50, clip=1.0,
                                     schedule="cosine")
    d_model: int = 32
    n_head: int = 4

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"TrackingConfig: unknown task {self.task!r}; tasks: {', '.join(TASKS)}")
        task_spec(self.task, **self.task_kwargs)              # checks the keyword arguments
        if self.shift_kwargs:
            task_spec(self.task, **self.shift_kwargs)
        if not isinstance(self.train, TrainConfig) or self.train.steps is None:
            raise ValueError(f"TrackingConfig: train must be a TrainConfig(steps=...) (every step draws "
                             f"a fresh batch, there are no epochs), got {self.train!r}")
        for name in ("train_length", "n_eval", "d_model", "n_head"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TrackingConfig: {name} must be a positive int, got {value!r}")
        factors = tuple(self.eval_factors)
        if not factors or 1 not in factors or any(
                isinstance(f, bool) or not isinstance(f, int) or f < 1 for f in factors):
            raise ValueError(f"TrackingConfig: eval_factors must be positive ints including 1 "
                             f"(the training length), got {self.eval_factors!r}")
        self.eval_factors = tuple(sorted(set(factors)))

    @property
    def max_length(self) -> int:
        """The longest test sequence, T * max(eval_factors): the GPT's block_size."""
        return self.train_length * max(self.eval_factors)

    @property
    def shift(self) -> dict:
        """The shifted test distribution's task kwargs ({} when there is no shift test)."""
        if self.shift_kwargs is None:
            return dict(DEFAULT_SHIFT.get(self.task, {}))
        return dict(self.shift_kwargs)


# ----------------------------------------------------------------------------- the model

def tracker_spec(kind: str, config: TrackingConfig, *, n_layer: int = 1, **model_kwargs) -> ModelSpec:
    """The model that reads task symbols and predicts the state at every position.

    A token embedding, the core and a per-position ``"tag"`` head with ``n_states``
    outputs: logits of shape (B, L, n_states). ``model_kwargs`` go to ``make_model``
    (e.g. ``mode="sequential"``, ``attention="plain"``, ``block="residual"``).
    """
    if kind not in KINDS:
        raise ValueError(f"build_tracker: unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    spec = task_spec(config.task, **config.task_kwargs)
    return ModelSpec(kind, "tag", vocab_size=spec.n_inputs, n_out=spec.n_states, d_model=config.d_model,
                     n_layer=n_layer, n_head=config.n_head, block_size=config.max_length, **model_kwargs)


def build_tracker(kind: str, config: TrackingConfig, *, n_layer: int = 1, seed: int = 0,
                  **model_kwargs) -> SequenceModel:
    """:func:`tracker_spec` built with weights drawn from ``seed``."""
    return tracker_spec(kind, config, n_layer=n_layer, **model_kwargs).build(seed)


# ----------------------------------------------------------------------------- data

def batch_sampler(config: TrackingConfig, seed: int = 0, length: int | None = None, **task_kwargs):
    """A zero-argument callable returning a fresh ``(inputs, states)`` batch at each call.

    Both are int64 tensors of shape (batch_size, length) (default: the training length).
    Call ``k`` draws with seed ``(seed, k)``, so the stream is reproducible; ``task_kwargs``
    override the config's training distribution.
    """
    length = config.train_length if length is None else length
    kwargs = {**config.task_kwargs, **task_kwargs}
    counter = iter(range(2**62))

    def sample():
        k = next(counter)
        return make_task(config.task, config.train.batch_size, length,
                         seed=int(np.random.SeedSequence([seed, k]).generate_state(1)[0]), **kwargs)

    return sample


# ----------------------------------------------------------------------------- predictions

@torch.no_grad()
def predict_states(model: nn.Module, inputs: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """The model's probability of every state at every position: (N, L, n_states).

    Runs in eval mode, in batches of ``batch_size`` sequences, and restores the mode.
    """
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != 2:
        shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
        raise ValueError(f"predict_states: expected token ids of shape (N, L), got {shape}")
    was_training = model.training
    model.eval()
    try:
        device = _model_device(model)
        out = [torch.softmax(model(inputs[i:i + batch_size].to(device)), dim=-1).cpu()  # (b, L, n_states)
               for i in range(0, inputs.shape[0], batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out, dim=0)                                          # (N, L, n_states)


def position_accuracy(model: nn.Module, inputs: torch.Tensor, states: torch.Tensor) -> np.ndarray:
    """Fraction of sequences whose state the model gets right, at each position: (L,)."""
    if not isinstance(states, torch.Tensor) or states.shape != inputs.shape:
        raise ValueError(f"position_accuracy: states must have the shape of inputs {tuple(inputs.shape)}, "
                         f"got {tuple(states.shape) if isinstance(states, torch.Tensor) else type(states).__name__}")
    pred = predict_states(model, inputs).argmax(dim=-1)                   # (N, L)
    return (pred == states).double().mean(dim=0).numpy()                  # (L,)


# ----------------------------------------------------------------------------- train and test

def train_tracker(kind: str, config: TrackingConfig, *, n_layer: int = 1, seed: int = 0,
                  **model_kwargs):
    """Build a model (initialised with ``seed``) and train it at length T. Returns (model, History)."""
    model = build_tracker(kind, config, n_layer=n_layer, seed=seed, **model_kwargs)
    history = fit(model, batch_sampler(config, seed=seed), config.train, seed=seed, progress=False)
    return model, history


def _test_sets(config: TrackingConfig, seed: int) -> dict:
    """The test sequences, keyed "T", "2T", ... and "shift"; disjoint seeds from training."""
    T = config.train_length
    sets = {}
    for i, f in enumerate(config.eval_factors):
        name = "T" if f == 1 else f"{f}T"
        sets[name] = make_task(config.task, config.n_eval, f * T, seed=10_000 + 100 * seed + i,
                               **config.task_kwargs)
    if config.shift:
        sets["shift"] = make_task(config.task, config.n_eval, T, seed=10_000 + 100 * seed + 99,
                                  **config.shift)
    return sets


def evaluate_tracker(model: nn.Module, config: TrackingConfig, seed: int = 0) -> dict:
    """Per-position accuracy on every test: a dict name -> array (length of that test,).

    Names: ``"T"``, ``"2T"``, ``"4T"`` (for ``eval_factors=(1, 2, 4)``) and ``"shift"``
    (when the task has a shifted distribution). The test sequences depend on ``seed``
    only, never on the training stream.
    """
    return {name: position_accuracy(model, x, y) for name, (x, y) in _test_sets(config, seed).items()}


def _last_T(curve: np.ndarray, T: int) -> float:
    return float(curve[-T:].mean())


@dataclass
class TrackingResult:
    """What :func:`run_tracking_study` returns.

    summary: one row per (model, seed): ``model``, ``kind``, ``n_layer``, ``seed``,
             ``params``, ``train_s``, ``final_loss`` and one ``acc_<test>`` column per test
             (mean accuracy over the last T positions).
    curves:  long format, one row per (model, seed, test, position): ``accuracy``.
    models:  the trained models, keyed ``(model label, seed)`` (for widgets and plots).
    config:  the TrackingConfig used.
    """

    summary: pd.DataFrame
    curves: pd.DataFrame
    models: dict
    config: TrackingConfig


def run_tracking_study(models: dict, config: TrackingConfig, seeds=(0, 1, 2), keep_models: bool = True,
              verbose: bool = False) -> TrackingResult:
    """Train and test every model of ``models`` with every seed (one lr, no tuning: the
    chapter's original set-up, kept as a reproduction; the heatmap uses the runner).

    ``models`` maps a label to the keyword arguments of :func:`train_tracker`, e.g.
    ``{"GPT-2": dict(kind="gpt", n_layer=2), "LSTM": dict(kind="lstm")}``.
    """
    if not models:
        raise ValueError("run_tracking_study: no models given")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("run_tracking_study: give at least one seed")
    rows, curve_rows, kept = [], [], {}
    T = config.train_length
    for label, spec in models.items():
        spec = dict(spec)
        if "kind" not in spec:
            raise ValueError(f"run_tracking_study: model {label!r} needs a 'kind', got {spec}")
        kind = spec.pop("kind")
        n_layer = spec.pop("n_layer", 1)
        for seed in seeds:
            t0 = time.perf_counter()
            model, hist = train_tracker(kind, config, n_layer=n_layer, seed=seed, **spec)
            train_s = time.perf_counter() - t0
            curves = evaluate_tracker(model, config, seed=seed)
            row = {"model": label, "kind": kind, "n_layer": n_layer, "seed": seed,
                   "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
                   "train_s": train_s, "final_loss": hist.train_loss[-1]}
            for name, curve in curves.items():
                row[f"acc_{name}"] = _last_T(curve, T)
                curve_rows.append(pd.DataFrame({"model": label, "seed": seed, "test": name,
                                                "position": np.arange(1, len(curve) + 1),
                                                "accuracy": curve}))
            rows.append(row)
            if keep_models:
                kept[(label, seed)] = model
            if verbose:
                accs = ", ".join(f"{k}={v:.3f}" for k, v in row.items() if k.startswith("acc_"))
                print(f"{label:>10} seed {seed}: {accs} ({train_s:.1f} s)", flush=True)
    return TrackingResult(pd.DataFrame(rows), pd.concat(curve_rows, ignore_index=True), kept, config)


# ============================================================================= the heatmap

# label -> (task name of rvt_lib.data.automata, its keyword arguments)
HEATMAP_TASKS = {
    "flip-flop": ("flipflop", {}),
    "parity": ("parity", {}),
    "Z3": ("cyclic", {"n": 3}),
    "S3": ("s3", {}),
    "A5": ("a5", {}),
}
# label -> ModelSpec keyword arguments (positions=False: the GPT without position embedding, NoPE).
# mode: the faster of each model's two exact modes at these sizes on one CPU thread (the
# parity cell, book budget: minGRU loop 4.1 s against 7.8 s for its log-space scan, the
# signed minGRU 4.0 s against 6.3 s for its Blelloch scan; the
# LRU loop 7.7 s against 8.0 s, and 14.2 against 19.4 s at the depth chapter's T = 64;
# DeltaNet's WY form 13.5 s against 33.3 s for its loop, parity and S3 together).
HEATMAP_MODELS = {
    "minGRU [0,1]": dict(kind="mingru", mode="sequential"),
    "minGRU [-1,1]": dict(kind="mingru_signed", mode="sequential"),
    "complex diag. (LRU)": dict(kind="lru", mode="sequential"),
    "DeltaNet [-1,1]": dict(kind="deltanet"),
    "LSTM": dict(kind="lstm"),
    "GPT": dict(kind="gpt"),
    "GPT, NoPE": dict(kind="gpt", positions=False),
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
    over lr_grid). extend: rates the grid may add past each end while a model's best
    sits there (:func:`rvt_lib.runner.run_study`'s ``extend``). n_val, n_test: sequences
    in the validation and each test length.
    """

    train_length: int = 16
    factors: tuple = (1, 4)
    n_layer: int = 1
    n_head: int = 2
    target_params: int = 6000
    train: TrainConfig = TrainConfig(steps=300, batch_size=32, lr=3e-3, warmup=20, clip=1.0,
                                     schedule="cosine")
    lr_grid: tuple = (3e-3, 1e-2)
    extend: int = 0
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
        if isinstance(self.extend, bool) or not isinstance(self.extend, int) or self.extend < 0:
            raise ValueError(f"HeatmapConfig: extend must be an int >= 0, got {self.extend!r}")
        object.__setattr__(self, "factors", tuple(sorted(set(f))))

    @property
    def max_length(self) -> int:
        return self.train_length * max(self.factors)


# ----------------------------------------------------------------------------- the task

def score_tracking(train_length: int):
    """A runner score: accuracy over the last ``train_length`` positions, per test length.

    The data is a list of (x, y) batches, possibly of several lengths L; metrics
    ``acc_<L // T>T`` for each, and per item (one per sequence of the longest length) the
    fraction of its last T positions that are right (``"correct"``).
    """
    T = train_length

    def score(model, data) -> Scores:
        device = _model_device(model)   # the runner trains on a GPU under "full"
        right: dict[int, list] = {}
        for x, y in data:
            pred = model(x.to(device)).argmax(-1).cpu()                # (B, L)
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

    Train: every call draws a new batch, whose seed comes from NumPy's global generator,
    which ``fit`` seeds with the run's seed (no model draws from it). So a run's batches
    depend on its seed alone: every model of a study trained with seed s sees the same
    training sequences, whatever ran before it, and a member trained seed-batched sees
    what it would see alone. Val: length T. Test: ``n_test`` sequences at every length
    f * T. Val and test come from fixed seeds of their own.
    """
    if label not in HEATMAP_TASKS:
        raise ValueError(f"tracking_task: unknown task {label!r}; tasks: {', '.join(HEATMAP_TASKS)}")
    name, kw = HEATMAP_TASKS[label]
    T, B = config.train_length, config.train.batch_size
    def train():
        return make_task(name, B, T, seed=int(np.random.randint(0, 2**62)), **kw)   # the run's RNG

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
        kind = opts.pop("kind")
        base = dict(vocab_size=s.n_inputs, n_out=s.n_states, n_layer=config.n_layer, d_model=8, **opts)
        if kind in ("gpt", "deltanet"):
            base["n_head"] = config.n_head
        if kind == "gpt":
            base["block_size"] = config.max_length
        spec = ModelSpec(kind, "tag", **base)
        specs[m] = match_parameters(spec, config.target_params, tol=0.1)
    return specs


def run_heatmap(config: HeatmapConfig, tasks=None, models: dict | None = None, trainer=None,
                device=None) -> dict:
    """``{task label: runner.StudyResult}``: tune, retrain over seeds, test once, per task.

    trainer and device go to :func:`rvt_lib.runner.run_study`.
    """
    out = {}
    for label in (tasks or HEATMAP_TASKS):
        specs = heatmap_specs(label, config, models)
        out[label] = run_study(specs, tracking_task(label, config), config.train, seeds=config.seeds,
                               lr_grid=config.lr_grid, extend=config.extend, tune_seeds=(config.seeds[0],),
                               trainer=trainer,
                               device=device, progress=False)
    return out


# ----------------------------------------------------------------------------- verdicts

def cell_verdict(accuracies, threshold: float = THRESHOLD) -> tuple[str, object]:
    """``("tracked" | "fails" | "undecided", Interval)`` from the seeds' accuracies.

    The rule: the seeds' mean with its 95% t interval (:func:`rvt_lib.stats.mean_ci`, cut
    to [0, 1], which an accuracy cannot leave; the cut never moves an end across a
    threshold inside (0, 1), so it changes no verdict); "tracked" when the lower bound is
    above ``threshold``, "fails" when the upper bound is below it, "undecided" otherwise.
    (Seeds that all score exactly the same give an interval of width zero.)
    """
    ci = mean_ci(np.asarray(accuracies, dtype=float), bounds=(0, 1))
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
    """One row per task x model x test length: mean, 95% interval, verdict, prediction, agreement,
    and the learning rate chosen (``lr_at_edge``: at an end of the rates tried)."""
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
                             "params": int(runs["params"].iloc[0]), "lr": float(runs["lr"].iloc[0]),
                             "lr_at_edge": res.at_edge(model)})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- the probes

# Two structured test sets at the longest test length, one sequence per symbol s that is not
# the identity e: "one symbol repeated" (s, s, s, ...: parity's all-ones input, and the
# constant input that the convergence arguments are about) and "write, then ignore"
# (s, e, e, ...: the flip-flop's write followed by L ignores; the state never changes).
PROBES = ("one symbol repeated", "write, then ignore")


def _probe_prediction(model: str, task: str, probe: str):
    """What the theory says of a trained one-layer model on a probe (see PROBE_PREDICTIONS)."""
    on_task = PREDICTIONS.get((model, task))
    if probe == "one symbol repeated" and task != "flip-flop":
        # the target is periodic (period 2, or 3 for a 3-cycle) and the input constant
        if model == "minGRU [0,1]":
            return "fail"    # a positive diagonal state converges on a constant input
        if model in ("minGRU [-1,1]", "DeltaNet [-1,1]") and task in _ORDER3:
            return "fail"    # a real diagonal, or one reflection, repeated: period <= 2
    return "track" if on_task == "track" else None


# (model, task, probe) -> "track" | "fail" | None. "track" where the model is predicted to
# track the task (then it tracks every input, these included); "fail" where the argument is
# about exactly this input (a constant input to a positive diagonal, or to a real diagonal
# or a reflection when the target has period 3); None otherwise: a model predicted to fail
# the task (the LRU on A5) may still get one probe right, and a model with no prediction
# gets none here either. Finite precision (a gate can round to exactly 1) is why "write,
# then ignore" is predicted to track: the contraction argument against it needs every
# ignore gate strictly below 1, which rounding does not guarantee.
PROBE_PREDICTIONS = {(m, t, p): _probe_prediction(m, t, p)
                     for m in HEATMAP_MODELS for t in HEATMAP_TASKS for p in PROBES}


def probe_inputs(label: str, length: int) -> dict:
    """``{probe: (inputs, states)}`` for heatmap task ``label``: (S, length) int64 each, S =
    the number of symbols other than the identity (one sequence per symbol, in order)."""
    if label not in HEATMAP_TASKS:
        raise ValueError(f"probe_inputs: unknown task {label!r}; tasks: {', '.join(HEATMAP_TASKS)}")
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise ValueError(f"probe_inputs: length must be an int >= 2, got {length!r}")
    name, kw = HEATMAP_TASKS[label]
    e = identity_symbol(name, **kw)
    symbols = torch.tensor([s for s in range(task_spec(name, **kw).n_inputs) if s != e])  # (S,)
    repeated = symbols[:, None].expand(-1, length).contiguous()                         # (S, L)
    written = torch.full((len(symbols), length), e, dtype=torch.int64)                  # (S, L)
    written[:, 0] = symbols
    return {p: (x, label_inputs(name, x, **kw)) for p, x in zip(PROBES, (repeated, written))}


def probe_verdicts(results: dict, config: HeatmapConfig, predictions: dict | None = None) -> pd.DataFrame:
    """One row per task x model x probe, scored like the test split (accuracy over the last
    T positions, here of length ``config.max_length``) on every trained seed: mean, 95%
    interval, verdict (:func:`cell_verdict`), prediction, agreement, ``n_sequences``.

    The probes choose nothing: they are scored after the study, on its trained models.
    """
    predictions = PROBE_PREDICTIONS if predictions is None else predictions
    score = score_tracking(config.train_length)
    key = f"acc_{max(config.factors)}T"
    rows = []
    for task, res in results.items():
        probes = probe_inputs(task, config.max_length)
        for model in res.chosen:
            runs = res.runs[res.runs["model"] == model]
            for probe, (x, y) in probes.items():
                with torch.no_grad():
                    acc = [math.nan if r.diverged else score(res.models[(model, r.seed)].eval(), [(x, y)]).metrics[key]
                           for r in runs.itertuples()]
                measured, ci = cell_verdict(acc)
                pred = predictions.get((model, task, probe))
                rows.append({"task": task, "model": model, "probe": probe, "mean": ci.estimate,
                             "low": ci.low, "high": ci.high, "verdict": measured, "predicted": pred,
                             "agreement": _agreement(pred, measured), "n_sequences": len(x)})
    return pd.DataFrame(rows)


def plot_heatmap(table: pd.DataFrame, factor, ax=None, title: str = "", column: str = "factor"):
    """Mean accuracy per cell where ``table[column] == factor`` (a test length's factor, or a
    probe with ``column="probe"``); solid red outline: predicted to track, dashed white: to
    fail. Cells missing from the table are left grey."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    t = table[table[column] == factor]
    tasks, models = list(dict.fromkeys(t["task"])), list(dict.fromkeys(t["model"]))
    grid = t.pivot(index="model", columns="task", values="mean").reindex(index=models, columns=tasks)
    ax = ax or plt.subplots(figsize=(1.3 * len(tasks) + 2.5, 0.55 * len(models) + 1.2))[1]
    ax.set_facecolor("#DDDDDD")
    im = ax.imshow(grid.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for _, r in t.iterrows():
        i, j = models.index(r["model"]), tasks.index(r["task"])
        text = "n/a" if np.isnan(r["mean"]) else f"{r['mean']:.2f}"
        ax.text(j, i, text, ha="center", va="center", fontsize=8,
                color="white" if not r["mean"] >= 0.6 else "black")
        if isinstance(r["predicted"], str):
            ax.add_patch(Rectangle((j - 0.46, i - 0.46), 0.92, 0.92, fill=False, lw=2,
                                   ls="-" if r["predicted"] == "track" else "--",
                                   ec="red" if r["predicted"] == "track" else "white"))
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_yticks(range(len(models)), models)
    ax.set_xlabel("task")
    ax.grid(False)
    ax.set_title(title or f"accuracy at {factor}T (last T positions)")
    return ax, im


def plot_heatmap_row(table: pd.DataFrame, values, column: str = "factor", titles=None, suptitle: str = ""):
    """One :func:`plot_heatmap` panel per value of ``table[column]`` (test lengths, or probes),
    side by side with one colour bar; the outline key goes under ``suptitle``."""
    import matplotlib.pyplot as plt

    values = list(values)
    titles = list(titles) if titles is not None else [""] * len(values)
    fig, axes = plt.subplots(1, len(values), figsize=(6 * len(values), 4.6), sharey=True, squeeze=False)
    for ax, value, title in zip(axes[0], values, titles):
        _, im = plot_heatmap(table, value, ax=ax, title=title, column=column)
    fig.colorbar(im, ax=list(axes[0]), shrink=0.8, label="accuracy, last T positions")
    fig.suptitle(f"{suptitle}\nRed outline: predicted to track; white dashed: predicted to fail", y=1.04)
    return fig


# ============================================================================= depth against length

# What the theory says of the fewest layers that track each task as T grows (chapter section
# "Depth against length"): "one" (one layer at every T), "flat" (a number of layers that
# does not depend on T), "grows" (no fixed number of layers works for every T).
DEPTH_TASKS = ("S3", "A5")
DEPTH_MODELS = ("GPT", "complex diag. (LRU)", "LSTM")
DEPTH_PREDICTIONS = {
    ("LSTM", "S3"): "one", ("LSTM", "A5"): "one",                  # any automaton, one step per symbol
    ("complex diag. (LRU)", "S3"): "flat",   # solvable: a cascade of diagonal layers (Krohn-Rhodes)
    ("complex diag. (LRU)", "A5"): "grows",  # TC^0 at every fixed depth, unless TC^0 = NC^1
    ("GPT", "S3"): "flat",                   # Liu et al.: constant-depth shortcuts for solvable groups
    ("GPT", "A5"): "grows",                  # TC^0; Liu et al.'s O(log T) construction
}


@dataclass(frozen=True)
class DepthConfig:
    """Sizes of the depth study: for every task x model x T, the fewest layers that track.

    lengths: the training lengths T. depths: the layer counts tried, in increasing order;
    the search stops at the first that tracks (:func:`cell_verdict` at length T). controls:
    models run at one layer only (the LSTM: the theory needs no more, and its result says
    whether the training budget suffices at that task and T). heat: the shared sizes
    (``target_params`` is per layer: a d-layer model is matched to d x target_params, so
    the width stays about the same as depth grows), training, learning-rate grid, seeds and
    split sizes; its ``train_length``, ``n_layer`` and ``factors`` are replaced.
    skip_settled: stop a row (task x model) at the first T where it is :func:`depth_settled`:
    no longer T could change whether it agrees with a prediction, so they are not trained
    (:func:`fewest_layers` marks them ``NOT_TRIED``).
    """

    lengths: tuple = (8, 16, 32, 64)
    depths: tuple = (1, 2, 3)
    tasks: tuple = DEPTH_TASKS
    models: tuple = DEPTH_MODELS
    controls: tuple = ("LSTM",)
    heat: HeatmapConfig = HeatmapConfig()
    skip_settled: bool = True

    def __post_init__(self):
        for name in ("lengths", "depths"):
            v = tuple(getattr(self, name))
            if not v or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in v):
                raise ValueError(f"DepthConfig: {name} must be positive ints, got {getattr(self, name)!r}")
            if list(v) != sorted(set(v)):
                raise ValueError(f"DepthConfig: {name} must be increasing, got {v!r}")
            object.__setattr__(self, name, v)
        unknown = [t for t in self.tasks if t not in HEATMAP_TASKS]
        unknown += [m for m in self.models + tuple(self.controls) if m not in HEATMAP_MODELS]
        if unknown or not self.tasks or not self.models:
            raise ValueError(f"DepthConfig: unknown or missing tasks/models {unknown!r}; tasks: "
                             f"{', '.join(HEATMAP_TASKS)}; models: {', '.join(HEATMAP_MODELS)}")

    def cell(self, T: int, n_layer: int) -> HeatmapConfig:
        """The heatmap sizes of one cell: length T, ``n_layer`` layers, tested at T only."""
        return replace(self.heat, train_length=T, n_layer=n_layer, factors=(1,),
                       target_params=self.heat.target_params * n_layer)


def run_depth(config: DepthConfig, trainer=None, device=None) -> pd.DataFrame:
    """One row per task x model x T x depth tried x seed: ``acc`` (accuracy at T), ``lr``,
    ``params``, ``lr_at_edge`` (the lr chosen sits at an end of the rates tried),
    ``verdict`` (the cell's, from all its seeds).

    For every task, model and T the depths are tried in increasing order and the search
    stops at the first whose cell is "tracked"; controls run at the first depth only. With
    ``config.skip_settled`` a row stops at the first T where it is :func:`depth_settled`.
    Each cell goes through :func:`run_heatmap` (tuned on validation, retrained over the
    seeds, tested once); trainer and device are passed on.
    """
    rows = []
    for task in config.tasks:
        for model in config.models:
            depths = config.depths[:1] if model in config.controls else config.depths
            fewest = []  # the fewest layers tracked at each T so far (None: not reached)
            for T in config.lengths:
                if config.skip_settled and depth_settled(fewest):
                    break
                fewest.append(None)
                for d in depths:
                    cfg = config.cell(T, d)
                    res = run_heatmap(cfg, tasks=[task], models={model: HEATMAP_MODELS[model]},
                                      trainer=trainer, device=device)[task]
                    runs = res.runs[res.runs["model"] == model]
                    verdict, _ = cell_verdict(runs["test_acc_1T"].to_numpy(dtype=float))
                    rows += [{"task": task, "model": model, "T": T, "n_layer": d, "seed": int(r.seed),
                              "acc": float(r.test_acc_1T), "lr": float(r.lr), "params": int(r.params),
                              "lr_at_edge": res.at_edge(model), "verdict": verdict}
                             for r in runs.itertuples()]
                    if verdict == "tracked":
                        fewest[-1] = d
                        break
    return pd.DataFrame(rows)


NOT_TRIED = "not tried"  # a length after a row was settled (DepthConfig.skip_settled)


def _missing_as_inf(depths) -> list:
    """A fewest-layers row with "not reached" (None, or pandas' NaN) as infinitely deep."""
    return [math.inf if x is None or (isinstance(x, float) and math.isnan(x)) else x for x in depths]


def depth_settled(fewest) -> bool:
    """Whether a fewest-layers row (None: not reached), read so far, can no longer agree
    or disagree with any prediction, whatever the longer lengths give.

    That is the case once the row went down (it stays "irregular"), or once some T is not
    reached and the depths reached before it are all the same, or there are none: every
    continuation then reads "not reached", "lost" or "irregular" (:func:`depth_trend`),
    which :func:`depth_agreement` reads as n/a. After a rise ([1, 2, None]) it is not: the
    row reads "grows" unless a longer T is tracked again.
    """
    d = _missing_as_inf(fewest)
    if any(a > b for a, b in zip(d, d[1:])):
        return True
    return math.inf in d and len(set(d[:d.index(math.inf)])) <= 1


def fewest_layers(runs: pd.DataFrame) -> pd.DataFrame:
    """Task x model rows, one column per T: the fewest layers tracked, None (no depth tried
    tracks) or ``NOT_TRIED`` (the row was settled before that T: :func:`depth_settled`)."""
    cells = runs.drop_duplicates(["task", "model", "T", "n_layer"])
    tracked = cells[cells["verdict"] == "tracked"].groupby(["task", "model", "T"])["n_layer"].min()
    tried = set(cells[["task", "model", "T"]].itertuples(index=False, name=None))
    index = pd.MultiIndex.from_frame(cells[["task", "model"]].drop_duplicates())
    lengths = sorted(cells["T"].unique())
    found = {key: int(d) for key, d in tracked.items()}

    def entry(key):
        return found.get(key) if key in tried else NOT_TRIED
    return pd.DataFrame([[entry((task, model, T)) for T in lengths] for task, model in index],
                        index=index, columns=lengths, dtype=object)


def depth_trend(depths) -> str:
    """The shape of a fewest-layers sequence over increasing T (None: not reached;
    trailing ``NOT_TRIED`` entries are left out: the row was settled before them).

    "not reached" (never), "one" (one layer at every T), "flat" (the same number at every
    T), "grows" (never decreasing and rising at least once between two depths that were
    reached; a "not reached" after that counts as deeper still), "lost" (the same depth
    up to some T, then no depth tried tracks: the depths tried ran out, or the training
    budget did, and the row cannot tell which), "irregular" otherwise.
    """
    depths = list(depths)
    while depths and depths[-1] == NOT_TRIED:
        depths.pop()
    if NOT_TRIED in depths:
        raise ValueError(f"depth_trend: {NOT_TRIED!r} only after the lengths tried, got {depths!r}")
    d = [x if x == math.inf else int(x) for x in _missing_as_inf(depths)]
    if not d:
        raise ValueError("depth_trend: no lengths")
    if all(x == math.inf for x in d):
        return "not reached"
    if any(a > b for a, b in zip(d, d[1:])):
        return "irregular"
    reached = [x for x in d if x != math.inf]
    if len(set(reached)) > 1:
        return "grows"
    if len(reached) < len(d):
        return "lost"
    return "one" if d[0] == 1 else "flat"


def depth_agreement(predicted: str, measured: str) -> str:
    """"agrees" | "disagrees" | "n/a" (nothing tracked, or "lost": a budget limit says nothing).

    "one" is a case of "flat"; a measured "one" agrees with a predicted "flat".
    """
    if measured in ("not reached", "lost", "irregular") or predicted is None:
        return "n/a"
    if predicted == "grows":
        return "agrees" if measured == "grows" else "disagrees"
    if predicted == "one":
        return "agrees" if measured == "one" else "disagrees"
    return "agrees" if measured in ("one", "flat") else "disagrees"


def depth_verdicts(fewest: pd.DataFrame, predictions: dict | None = None) -> pd.DataFrame:
    """One row per task x model of :func:`fewest_layers`: ``task, model, predicted, measured``
    (:func:`depth_trend`) and ``agreement`` (:func:`depth_agreement`)."""
    predictions = DEPTH_PREDICTIONS if predictions is None else predictions
    rows = []
    # to_numpy(dtype=object): a row of None and "not tried" read as a Series would turn
    # into strings and NaN
    for (task, model), depths in zip(fewest.index, fewest.to_numpy(dtype=object)):
        trend, pred = depth_trend(list(depths)), predictions.get((model, task))
        rows.append({"task": task, "model": model, "predicted": pred, "measured": trend,
                     "agreement": depth_agreement(pred, trend)})
    return pd.DataFrame(rows, columns=["task", "model", "predicted", "measured", "agreement"])
