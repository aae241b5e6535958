"""State tracking: train any sequence model on an automaton task, then test how far it carries.

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

    cfg = TrackingConfig(task="parity", train_length=32, steps=500)
    study = run_study({"LSTM": dict(kind="lstm"), "GPT-2": dict(kind="gpt", n_layer=2)},
                      cfg, seeds=[0, 1, 2])
    study.summary        # one row per (model, seed): accuracies at T, 2T, 4T and under shift
    summarize(study.summary)   # mean ± std per model
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from rvt_lib.data.automata import TASKS, make_task, task_spec
from rvt_lib.models.heads import KINDS, ModelSpec, SequenceModel
from rvt_lib.train import TrainConfig, fit

__all__ = [
    "DEFAULT_SHIFT",
    "TrackingConfig",
    "StudyResult",
    "tracker_spec",
    "build_tracker",
    "batch_sampler",
    "predict_states",
    "position_accuracy",
    "train_tracker",
    "evaluate_tracker",
    "run_study",
    "summarize",
]

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
        out = [torch.softmax(model(inputs[i:i + batch_size]), dim=-1)     # (b, L, n_states)
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
class StudyResult:
    """What :func:`run_study` returns.

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


def run_study(models: dict, config: TrackingConfig, seeds=(0, 1, 2), keep_models: bool = True,
              verbose: bool = False) -> StudyResult:
    """Train and test every model of ``models`` with every seed.

    ``models`` maps a label to the keyword arguments of :func:`train_tracker`, e.g.
    ``{"GPT-2": dict(kind="gpt", n_layer=2), "LSTM": dict(kind="lstm")}``.
    """
    if not models:
        raise ValueError("run_study: no models given")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("run_study: give at least one seed")
    rows, curve_rows, kept = [], [], {}
    T = config.train_length
    for label, spec in models.items():
        spec = dict(spec)
        if "kind" not in spec:
            raise ValueError(f"run_study: model {label!r} needs a 'kind', got {spec}")
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
    return StudyResult(pd.DataFrame(rows), pd.concat(curve_rows, ignore_index=True), kept, config)


def summarize(summary: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Mean ± std (over seeds) of every ``acc_*`` column, one row per model, as text."""
    acc_cols = [c for c in summary.columns if c.startswith("acc_")]
    if "model" not in summary.columns or not acc_cols:
        raise ValueError("summarize: expected a run_study summary with 'model' and acc_* columns")
    grouped = summary.groupby("model", sort=False)[acc_cols]
    mean, std, n = grouped.mean(), grouped.std(ddof=1), grouped.size()
    out = pd.DataFrame(index=mean.index)
    for c in acc_cols:
        out[c.removeprefix("acc_")] = [
            "n/a" if np.isnan(m) else (f"{m:.{digits}f}" if np.isnan(s) else f"{m:.{digits}f} ± {s:.{digits}f}")
            for m, s in zip(mean[c], std[c])]
    out["seeds"] = n
    return out
