"""The one study runner: tune on validation, retrain over seeds, score the test split once.

Every comparison in the book follows the same protocol, and this module is the only place
that carries it out::

    result = run_study({"LSTM": lstm_spec, "GPT": gpt_spec}, task, TrainConfig(steps=500),
                       seeds=(0, 1, 2, 3, 4), lr_grid=(1e-3, 3e-3, 1e-2))
    result.runs                                  # one row per model x seed (tidy)
    result.summary()                             # mean ± std and a 95% interval per model
    result.compare("LSTM", "GPT", lower_is_better=True)   # a stats.Verdict, for glue

What ``run_study`` does, for every model (a :class:`rvt_lib.models.heads.ModelSpec`):

1. **Tune.** Train once per learning rate in ``lr_grid`` and seed in ``tune_seeds`` on
   the train split, and score each run on the validation split. The learning rate with
   the best mean validation score wins (``select``, default the validation loss; a run
   that diverged counts as the worst; ties go to the smaller learning rate). With
   ``extend=k``, a winner at an end of the grid is not taken on trust: the grid grows past
   that end, one learning rate at a time (:func:`next_lr`), up to ``k`` times per end, until
   a rate that does no better lies on either side of the winner (a *bracketed* choice; an
   added rate takes over only when strictly better) or the budget is spent.
   ``StudyResult.grids`` says which rates each model tried and ``StudyResult.at_edge`` which
   choices are still unbracketed.
2. **Retrain** the chosen setting once per seed in ``seeds``. A tuning run whose seed is
   also in ``seeds`` and whose learning rate won *is* that run (same initialisation, same
   batches, same updates: ``spec.build(seed)`` and ``fit(..., seed=seed)``), so it is
   kept instead of trained twice; ``tests/test_runner.py`` checks that the kept run
   equals a fresh one.
3. **Test, once.** Only after every model has been tuned and retrained is the test split
   unsealed, and every (model, seed) is scored on it exactly once.

The test split travels inside :class:`Sealed`, which raises ``RuntimeError`` when read
before step 3: a task (or runner) that peeks at the test data while choosing
hyperparameters fails loudly instead of reporting an optimistic number.

A task's ``score(model, data)`` returns :class:`Scores`: metrics and one score per test
item; :func:`score_classes` (logits: classification, language model, tagging) and
:func:`score_regression` are ready-made ones.

Cost is measured around each training run with :func:`rvt_lib.measure.measure_training`
(training time without evaluation, peak memory, parameter bytes), parameters come from
``spec.n_params()``, and throughput is counted from the batches' shapes.

The default trainer runs :func:`rvt_lib.train.fit` once per member. ``trainer=`` takes
any function with the signature of :func:`rvt_lib.batched.fit_batched` (a list of
models, train sources, configs; ``val_sources``, ``loss_fn``, ``seeds``; returns one
History per model); it is then called once per group of members that share an
architecture (all learning rates x tune seeds of a model; then all its seeds), and the
group's time and memory are shared out among its members.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from rvt_lib.train import _rng_preserved, progress_enabled, set_seed

SEALED_MESSAGE = "the test split is sealed until the hyperparameters are chosen"
TESTS = ("paired_bootstrap", "mcnemar", "diebold_mariano")
SCORE_SEED = 0  # scoring a random source (a batch sampler) draws the same batches for every model


# ----------------------------------------------------------------------------- the task

@dataclass
class Scores:
    """What a task's ``score(model, data)`` returns for one split.

    metrics:  named numbers, e.g. ``{"loss": 1.52, "accuracy": 0.87}``.
    per_item: one score per item of the split, in a fixed item order (per-window loss,
              per-beat 0/1 correctness, per-day squared error): the paired statistics
              compare two models item by item. A 1-D array, or a dict of them when a task
              has several (e.g. ``{"loss": ..., "correct": ...}``).
    """

    metrics: dict[str, float]
    per_item: np.ndarray | dict[str, np.ndarray]

    def __post_init__(self):
        if not isinstance(self.metrics, dict):
            raise TypeError(f"Scores: metrics must be a dict of name -> number, got {type(self.metrics).__name__}")
        self.metrics = {str(k): float(v) for k, v in self.metrics.items()}
        items = self.per_item if isinstance(self.per_item, dict) else {"score": self.per_item}
        if not items:
            raise ValueError("Scores: per_item is empty; give one array of per-item scores")
        self.per_item = {k: _one_dim(k, v) for k, v in items.items()}


def _one_dim(name: str, values) -> np.ndarray:
    arr = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"Scores: per_item[{name!r}] must be a non-empty 1-D array (one score per item), "
                         f"got shape {arr.shape}")
    return arr


class Sealed:
    """A data split that refuses to be read until it is unsealed.

    Iterating, calling, ``len``, attribute access and :meth:`open` all raise
    ``RuntimeError(SEALED_MESSAGE)`` while sealed; unsealed, they reach the wrapped data.
    The runner seals the test split when a study starts and unseals it after the last
    model has been trained.
    """

    def __init__(self, data):
        if isinstance(data, Sealed):
            data = data._data
        self._data = data
        self.sealed = True

    def seal(self) -> None:
        self.sealed = True

    def unseal(self) -> None:
        self.sealed = False

    def open(self):
        """The wrapped data; ``RuntimeError`` while sealed."""
        if self.sealed:
            raise RuntimeError(SEALED_MESSAGE)
        return self._data

    def __iter__(self):
        return iter(self.open())

    def __call__(self, *args, **kwargs):
        return self.open()(*args, **kwargs)

    def __len__(self):
        return len(self.open())

    def __getattr__(self, name):  # only reached for names Sealed itself lacks
        if name.startswith("__") or name == "_data":
            raise AttributeError(name)
        return getattr(self.open(), name)

    def __repr__(self) -> str:
        return f"Sealed({'sealed' if self.sealed else type(self._data).__name__})"


@dataclass
class Task:
    """One experiment's data and scoring.

    name: for tables and messages.
    train, val, test: what :func:`rvt_lib.train.fit` accepts: a re-iterable of (x, y)
        batches (a DataLoader, a list) or a zero-argument callable returning one batch.
        ``test`` is wrapped in :class:`Sealed`.
    score: ``score(model, data) -> Scores`` for one split's data (:func:`score_classes`
        and :func:`score_regression` cover the usual heads); called in eval mode,
        without gradients, with the random generators seeded (so a sampler draws the same
        batches for every model). A metric named ``"loss"`` replaces the runner's own.
    loss_fn: the training loss (``fit``'s ``loss_fn``; None: cross-entropy). The runner
        also reports it on validation and test (``val_loss``, ``test_loss``).
    """

    name: str
    train: Any
    val: Any
    test: Any
    score: Callable[[torch.nn.Module, Any], Scores]
    loss_fn: Callable | None = None

    def __post_init__(self):
        if not isinstance(self.test, Sealed):
            self.test = Sealed(self.test)
        if not callable(self.score):
            raise TypeError(f"Task {self.name!r}: score must be a function score(model, data) -> Scores")
        if self.val is None or self.train is None:
            raise ValueError(f"Task {self.name!r}: train and val are required (val chooses the hyperparameters)")


# ----------------------------------------------------------------------------- standard scores

def _is_sampler(data) -> bool:
    """A zero-argument batch sampler (callable), rather than a re-iterable of batches."""
    return callable(data) and not hasattr(data, "__iter__")


def _fixed_batches(data, fn: str):
    if _is_sampler(data):
        raise TypeError(f"{fn}: paired statistics need the same items for every model: give a fixed "
                        f"list of batches (e.g. [sampler() for _ in range(50)]), not a sampler")
    return data


def _outputs(model, data, fn: str):
    """(model output, y) for every batch of ``data``, on the CPU."""
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for x, y in _fixed_batches(data, fn):
            pred = model(x.to(device))
            out.append(((pred[0] if isinstance(pred, tuple) else pred).float().cpu(), y.cpu()))
    return out


def score_classes(model, data) -> Scores:
    """Cross-entropy and accuracy of class logits; per item: ``"loss"`` and ``"correct"``.

    (B, C) logits, (B,) targets (classification): an item is a sequence, ``correct`` is 0/1
    (for McNemar). (B, T, C) logits, (B, T) targets (language model, tagging): an item is
    a window, ``loss`` its mean over positions (nats per token), ``correct`` the fraction
    of its positions right; the metrics are means over all positions.
    """
    losses, correct = [], []
    for logits, y in _outputs(model, data, "score_classes"):
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                               reduction="none").view(y.shape)  # (B,) or (B, T)
        right = (logits.argmax(-1) == y).float()
        losses.append(ce.reshape(len(y), -1))
        correct.append(right.reshape(len(y), -1))
    loss, right = torch.cat(losses), torch.cat(correct)  # (n_items, T or 1)
    return Scores({"loss": loss.mean(), "accuracy": right.mean()},
                  {"loss": loss.mean(1).numpy(), "correct": right.mean(1).numpy()})


def score_regression(model, data) -> Scores:
    """Mean squared and absolute error; per item: ``"sqerr"`` (squared error, mean over outputs)."""
    sq, ab = [], []
    for pred, y in _outputs(model, data, "score_regression"):
        err = (pred - y.float()).reshape(len(y), -1)  # (B, n_out)
        sq.append(err.pow(2))
        ab.append(err.abs())
    sq, ab = torch.cat(sq), torch.cat(ab)
    return Scores({"mse": sq.mean(), "mae": ab.mean()}, {"sqerr": sq.mean(1).numpy()})


# ----------------------------------------------------------------------------- helpers

@contextmanager
def _seeded(seed: int):
    """Run a block with every random generator seeded, then put their states back."""
    with _rng_preserved():
        set_seed(seed)
        yield


class _Bar:
    """A tqdm.auto bar over training runs, or nothing."""

    def __init__(self, total: int, enabled: bool, desc: str):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total, unit="run", desc=desc, leave=False)

    def step(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(text)
            self.bar.update(1)

    def grow(self, n: int) -> None:
        if self.bar is not None:
            self.bar.total += n
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _batch_shape(train) -> tuple[int, int]:
    """(samples, input positions) in one training batch, drawn without disturbing any generator.

    Throughput is ``steps * that / train_seconds``; in ``epochs`` mode a pass's short last
    batch is counted as full, so it reads slightly high there.
    """
    with _seeded(SCORE_SEED):
        batch = train() if _is_sampler(train) else next(iter(train))
    x = batch[0]
    # a time axis: token ids (B, T) or features (B, T, F); plain features (B, F) have none
    has_time = x.dim() == 3 or (x.dim() == 2 and not torch.is_floating_point(x))
    return int(x.shape[0]), int(x.shape[0]) * (int(x.shape[1]) if has_time else 1)


# ----------------------------------------------------------------------------- one trained member

@dataclass
class _Run:
    """A trained member: which model, seed and lr, the model itself, its history and cost."""

    name: str
    seed: int
    lr: float
    model: torch.nn.Module | None
    history: Any
    cost: dict
    val: dict = field(default_factory=dict)
    reused: bool = False


def _default_trainer(models, train_sources, configs, *, val_sources=None, loss_fn=None, seeds=None):
    """``rvt_lib.train.fit`` on each member in turn (the trainer signature of ``fit_batched``)."""
    from rvt_lib.train import fit

    vals = val_sources or [None] * len(models)
    return [fit(m, tr, c, val=v, loss_fn=loss_fn, seed=s, progress=False)
            for m, tr, c, v, s in zip(models, train_sources, configs, vals, seeds)]


class _Study:
    """What one ``run_study`` call shares between its steps (task, settings, progress)."""

    def __init__(self, task: Task, config, trainer, measure_cost: bool, device, bar: _Bar):
        self.task, self.config, self.device, self.bar = task, config, device, bar
        self.trainer = trainer
        self.measure_cost = measure_cost
        self.samples, self.tokens = _batch_shape(task.train)
        self._n_params = {}  # name -> spec.n_params(), counted once

    # ------------------------------------------------------------------ training
    def train(self, spec, name: str, members: list[tuple[float, int]]) -> list[_Run]:
        """Train the (lr, seed) members of one model: one by one (default) or as one trainer call."""
        if self.trainer is None:
            runs = [r for m in members for r in self._train_group(spec, name, [m], _default_trainer)]
        else:
            runs = self._train_group(spec, name, members, self.trainer)
        return runs

    def _train_group(self, spec, name, members, trainer) -> list[_Run]:
        from rvt_lib.measure import measure_training

        models = [spec.build(seed=s) for _, s in members]
        if self.device is not None:
            models = [m.to(self.device) for m in models]
        configs, seeds, K = [self.config.but(lr=lr) for lr, _ in members], [s for _, s in members], len(members)
        out = {}

        def train_fn():
            out["histories"] = list(trainer(models, [self.task.train] * K, configs,
                                            val_sources=[self.task.val] * K, loss_fn=self.task.loss_fn,
                                            seeds=seeds))
            return out["histories"][0] if K == 1 else None  # one History: its time excludes evaluation

        if self.measure_cost:
            row = measure_training(name, models[0], train_fn, device=self.device)
            seconds, peak = row["train_time_s"] / K, row["peak_train_mem_MB"]
        else:
            train_fn()
            seconds, peak = out["histories"][0].train_time_s / K, math.nan
        if len(out["histories"]) != K:
            raise RuntimeError(f"run_study: the trainer returned {len(out['histories'])} histories for {K} models")
        runs = [self._run(spec, name, m, h, lr, s, seconds, peak, K)
                for (lr, s), m, h in zip(members, models, out["histories"])]
        for r in runs:
            self.bar.step(f"{name} lr={r.lr:g} seed={r.seed}")
        return runs

    def _run(self, spec, name, model, history, lr, seed, seconds, peak, K) -> _Run:
        from rvt_lib.measure import parameter_bytes

        steps = history.steps_done
        rate = (lambda n: steps * n / seconds) if seconds and seconds > 0 else (lambda n: math.nan)
        if name not in self._n_params:
            self._n_params[name] = spec.n_params()
        cost = {"params": self._n_params[name], "param_bytes": parameter_bytes(model), "train_seconds": seconds,
                "peak_MB": peak, "samples_per_s": rate(self.samples), "tokens_per_s": rate(self.tokens),
                "steps": steps, "group_size": K}
        return _Run(name, seed, lr, model, history, cost)

    # ------------------------------------------------------------------ scoring
    def score(self, model, data) -> tuple[dict, dict | None]:
        """({"loss": ..., **task metrics}, per-item scores) on one split; deterministic.

        When the task's score already gives a ``"loss"``, that is the loss (one pass over
        the split instead of two); otherwise the runner evaluates ``task.loss_fn``.
        """
        from rvt_lib.train import evaluate

        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            return {"loss": math.nan}, None  # diverged: nothing worth scoring
        data = _rehearsed(data)
        was_training = model.training
        model.eval()
        try:
            with _seeded(SCORE_SEED), torch.no_grad():
                scores = self.task.score(model, data)
        finally:
            model.train(was_training)
        if not isinstance(scores, Scores):
            raise TypeError(f"Task {self.task.name!r}: score must return a runner.Scores, got {type(scores).__name__}")
        if "loss" in scores.metrics:
            loss = float(scores.metrics["loss"])
        else:
            n = self.config.eval_batches if _is_sampler(data) else None
            with _seeded(SCORE_SEED):
                loss = evaluate(model, data, self.task.loss_fn, n_batches=n)
        if not math.isfinite(loss):  # a diverged model: nothing more worth scoring
            return {"loss": loss}, None
        return {"loss": loss, **scores.metrics}, scores.per_item


def _rehearsed(data):
    """The batches a split is scored on: all, or under ``RVT_BUDGET=dry`` a few of each shape."""
    from rvt_lib.budget import rehearsed_batches

    return rehearsed_batches(data)


def _diverged(run: _Run) -> bool:
    return bool(getattr(run.history, "diverged", False)) or not math.isfinite(run.val.get("val_loss", math.nan))


def _choose(name: str, runs: list[_Run], select: str, maximize: bool) -> float:
    """The lr with the best mean ``select`` over tune seeds; diverged = worst; ties -> smaller lr."""
    if not any(select in r.val for r in runs):
        if any(math.isfinite(r.val["val_loss"]) for r in runs):
            have = sorted({k for r in runs for k in r.val})
            raise ValueError(f"run_study: select={select!r} is not a validation score; the task gives {have}")
        raise RuntimeError(f"run_study: every learning rate diverged for {name!r}; lower the lr_grid")
    badness = _badness(runs, select, maximize)
    best = min(sorted(badness), key=badness.get)  # sorted: among equals, min() keeps the smaller lr
    if badness[best] == math.inf:
        raise RuntimeError(f"run_study: every learning rate diverged for {name!r}; lower the lr_grid")
    return best


def _badness(runs: list[_Run], select: str, maximize: bool) -> dict[float, float]:
    """``{lr: mean select score over tune seeds}``, signed so that lower is better; inf: diverged."""
    by_lr: dict[float, list[float]] = {}
    for r in runs:
        by_lr.setdefault(r.lr, []).append(math.nan if _diverged(r) else r.val.get(select, math.nan))
    means = {lr: float(np.mean(v)) for lr, v in by_lr.items()}  # NaN if any tune seed diverged
    return {lr: math.inf if not math.isfinite(v) else (-v if maximize else v) for lr, v in means.items()}


def _prefixed(prefix: str, metrics: dict) -> dict:
    return {f"{prefix}_{k}": v for k, v in metrics.items()}


_SERIES = (1.0, 3.0)  # the 1-3-10 series of learning rates: ..., 1e-3, 3e-3, 1e-2, 3e-2, ...


def lr_end(chosen: float, tried) -> str:
    """``"low"`` or ``"high"`` when ``chosen`` is the smallest or largest of two or more
    rates ``tried`` (a choice no tried rate brackets on that side), else ``""``."""
    tried = sorted(tried)
    if len(tried) < 2 or chosen not in (tried[0], tried[-1]):
        return ""
    return "low" if chosen == tried[0] else "high"


def _on_series(lr: float) -> bool:
    mantissa = lr / 10 ** math.floor(math.log10(lr) + 1e-9)
    return any(math.isclose(mantissa, m, rel_tol=1e-6) for m in _SERIES)


def next_lr(grid, upward: bool) -> float:
    """The learning rate one step past an end of ``grid`` (two or more rates), up or down.

    On a grid of the 1-3-10 series (every rate 1 or 3 times a power of ten, as in
    ``(1e-3, 3e-3, 1e-2)``) the next rate of that series: 3e-2 above 1e-2, 3e-4 below 1e-3.
    On any other grid, one more step of the ratio between the two rates at that end,
    rounded to three significant digits (``(0.002, 0.004)``: 0.008 above, 0.001 below).
    """
    grid = sorted(float(v) for v in grid)
    if len(grid) < 2:
        raise ValueError(f"next_lr: a step needs a grid of two or more rates, got {grid}")
    end = grid[-1] if upward else grid[0]
    if all(_on_series(v) for v in grid):
        decade = 10 ** math.floor(math.log10(end) + 1e-9)
        ladder = sorted(m * decade * 10 ** k for k in (-1, 0, 1) for m in _SERIES)  # around end
        i = next(i for i, v in enumerate(ladder) if math.isclose(v, end, rel_tol=1e-6))
        step = ladder[i + 1] if upward else ladder[i - 1]
    else:
        step = end * (grid[-1] / grid[-2] if upward else grid[0] / grid[1])
    return float(f"{step:.3g}")


def _score_val(study: _Study, runs: list[_Run]) -> list[_Run]:
    for r in runs:
        r.val = _prefixed("val", study.score(r.model, study.task.val)[0])
    return runs


def _tune(study: _Study, name: str, spec, lr_grid, tune_seeds, select: str, maximize: bool, extend: int = 0):
    """Train every (lr, tune seed), score each on validation, choose the lr. Returns (lr, runs).

    With ``extend``, while the choice sits at an end of the rates tried so far, the next
    rate past that end (:func:`next_lr`) is tried too, at most ``extend`` times per end.
    An added rate must do strictly better to take over: one that only ties (two rates at
    100% validation accuracy, say) leaves the choice where it was, now bracketed.
    """
    runs = _score_val(study, study.train(spec, name, [(lr, s) for lr in lr_grid for s in tune_seeds]))
    best, tried, added = _choose(name, runs, select, maximize), sorted(lr_grid), {True: 0, False: 0}
    while len(tried) > 1:
        upward = best == tried[-1]
        if not (upward or best == tried[0]) or added[upward] >= extend:
            break
        added[upward] += 1
        lr = next_lr(tried, upward)
        study.bar.grow(len(tune_seeds))
        runs += _score_val(study, study.train(spec, name, [(lr, s) for s in tune_seeds]))
        tried = sorted(tried + [lr])
        badness = _badness(runs, select, maximize)
        if badness[lr] < badness[best]:
            best = lr
    return best, runs


def _retrain(study: _Study, name: str, spec, lr: float, seeds, tuned: list[_Run]) -> list[_Run]:
    """One run per seed at the chosen lr; a tuning run with that (lr, seed) is kept, not repeated."""
    kept = {r.seed: r for r in tuned if r.lr == lr and r.seed in seeds}
    for r in tuned:
        r.reused = kept.get(r.seed) is r
        if not r.reused:
            r.model = None  # a tuning run not reported: its history stays, its weights go
    fresh = study.train(spec, name, [(lr, s) for s in seeds if s not in kept]) if len(kept) < len(seeds) else []
    _score_val(study, fresh)
    by_seed = {**kept, **{r.seed: r for r in fresh}}
    return [by_seed[s] for s in seeds]


def _tuning_row(r: _Run, chosen: float, grid) -> dict:
    cost = {k: r.cost[k] for k in ("train_seconds", "peak_MB", "steps")}
    return {"model": r.name, "lr": r.lr, "seed": r.seed, **r.val, **cost,
            "diverged": _diverged(r), "chosen": r.lr == chosen, "extended": r.lr not in grid}


def _test_row(study: _Study, r: _Run, test_data) -> tuple[dict, dict | None]:
    metrics, per_item = study.score(r.model, test_data)
    row = {"model": r.name, "seed": r.seed, "lr": r.lr, "params": r.cost["params"],
           **_prefixed("test", metrics), **r.val, **{k: v for k, v in r.cost.items() if k != "params"},
           "diverged": _diverged(r) or per_item is None, "reused": r.reused}
    return row, per_item


def _check_grid(values, what: str, kind) -> tuple:
    values = tuple(values) if not isinstance(values, (str, bytes)) and hasattr(values, "__iter__") else None
    if not values:
        raise ValueError(f"run_study: {what} must be a non-empty sequence, got {values!r}")
    if kind is int and not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        raise ValueError(f"run_study: {what} must hold integers, got {values!r}")
    if kind is float and not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"run_study: {what} must hold positive finite numbers, got {values!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"run_study: {what} has repeated values: {values!r}")
    return tuple(int(v) for v in values) if kind is int else tuple(float(v) for v in values)


def _check_study(specs, task, config, select, trainer) -> None:
    from rvt_lib.train import TrainConfig

    if not isinstance(specs, dict) or not specs:
        raise ValueError("run_study: specs must be a non-empty dict {name: ModelSpec}")
    for name, spec in specs.items():
        if not isinstance(name, str) or not (hasattr(spec, "build") and hasattr(spec, "n_params")):
            raise TypeError(f"run_study: specs must map names (str) to ModelSpecs; got {name!r}: {type(spec).__name__}")
    if not isinstance(task, Task):
        raise TypeError(f"run_study: task must be a runner.Task, got {type(task).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"run_study: config must be a rvt_lib.train.TrainConfig, got {type(config).__name__}")
    if not isinstance(select, str) or not select.startswith("val_"):
        raise ValueError(f"run_study: select must name a validation score, 'val_loss' or 'val_<metric>' "
                         f"of the task's score(), got {select!r} (the test split never chooses)")
    if trainer is not None and not callable(trainer):
        raise TypeError(f"run_study: trainer must be None or a function like rvt_lib.batched.fit_batched")


# ----------------------------------------------------------------------------- the study

def run_study(specs: dict, task: Task, config, *, seeds=(0, 1, 2, 3, 4), lr_grid=(1e-3, 3e-3, 1e-2),
              tune_seeds=(0,), extend: int = 0, select: str = "val_loss", maximize: bool = False,
              measure_cost: bool = True, trainer=None, device=None, progress: bool | None = None) -> "StudyResult":
    """Tune on validation, retrain over seeds, score the test split once (see the module docstring).

    specs: ``{name: ModelSpec}``; names label the rows. task: a :class:`Task`. config: the
    :class:`rvt_lib.train.TrainConfig` shared by every run; its ``lr`` is replaced by the
    values of ``lr_grid``. seeds: the seeds of the reported runs (model init and batch
    order). tune_seeds: the seeds each learning rate is tried with. extend: how many rates
    the grid may grow past each of its ends while a model's best rate sits at that end
    (0: the grid as given; see the module docstring). select: the validation
    score that chooses, ``"val_loss"`` or ``"val_<metric>"`` of ``task.score``; lower wins
    unless ``maximize=True``. measure_cost: time and peak memory of every run (parameters
    are always counted). trainer: None (``fit`` per run) or a function with the signature
    of ``rvt_lib.batched.fit_batched``. device: where the models train. progress: a tqdm
    bar over runs (default: only in interactive sessions, never in a book build).
    """
    _check_study(specs, task, config, select, trainer)
    seeds, tune_seeds = _check_grid(seeds, "seeds", int), _check_grid(tune_seeds, "tune_seeds", int)
    lr_grid = _check_grid(lr_grid, "lr_grid", float)
    if isinstance(extend, bool) or not isinstance(extend, (int, np.integer)) or extend < 0:
        raise ValueError(f"run_study: extend must be a whole number >= 0 (rates added per end of the grid), "
                         f"got {extend!r}")
    task.test.seal()
    n_runs = len(specs) * (len(lr_grid) * len(tune_seeds) + len(set(seeds) - set(tune_seeds)))
    bar = _Bar(n_runs, progress_enabled(progress), desc=task.name)
    try:
        study = _Study(task, config, trainer, measure_cost, device, bar)
        chosen, tuned = {}, {}
        for name, spec in specs.items():  # 1. tune every model on validation
            chosen[name], tuned[name] = _tune(study, name, spec, lr_grid, tune_seeds, select, maximize, extend)
        final = {name: _retrain(study, name, spec, chosen[name], seeds, tuned[name])  # 2. retrain
                 for name, spec in specs.items()}
    finally:
        bar.close()
    task.test.unseal()  # 3. the hyperparameters are chosen and every model trained: test, once
    return _result(study, task.test.open(), chosen, tuned, final, seeds, select, maximize, lr_grid)


def _result(study, test_data, chosen, tuned, final, seeds, select, maximize, lr_grid) -> "StudyResult":
    rows, per_item, histories, models = [], {}, {}, {}
    for name, runs in final.items():
        for r in runs:
            row, items = _test_row(study, r, test_data)
            rows.append(row)
            per_item[(name, r.seed)] = items
            histories[(name, r.seed)], models[(name, r.seed)] = r.history, r.model
    tuning = pd.DataFrame([_tuning_row(r, chosen[name], lr_grid) for name, runs in tuned.items() for r in runs])
    tuning_histories = {(r.name, r.lr, r.seed): r.history for runs in tuned.values() for r in runs}
    grids = {name: tuple(sorted({r.lr for r in runs})) for name, runs in tuned.items()}
    return StudyResult(pd.DataFrame(rows), tuning, per_item, histories, tuning_histories, chosen, models,
                       seeds, select, maximize, grids)


@dataclass
class StudyResult:
    """What :func:`run_study` returns.

    runs: one row per model x seed: ``model, seed, lr, params``, the test scores
        (``test_loss``, ``test_<metric>``), the validation scores, the cost
        (``param_bytes, train_seconds, peak_MB, samples_per_s, tokens_per_s, steps,
        group_size``), ``diverged`` and ``reused`` (the run is the tuning run of that seed).
    tuning: one row per model x lr x tune seed: the validation scores, time, steps,
        ``diverged``, ``chosen`` and ``extended`` (a rate added past the given grid): the
        tuning curve.
    per_item: ``{(model, seed): {name: array}}``, the per-test-item scores (None for a
        run that diverged). histories: ``{(model, seed): History}``; tuning_histories:
        ``{(model, lr, seed): History}``. chosen: ``{model: lr}``. models: the trained
        models, ``{(model, seed): nn.Module}``. grids: ``{model: the rates it tried}``, sorted
        (the given grid plus any added by ``extend``).
    """

    runs: pd.DataFrame
    tuning: pd.DataFrame
    per_item: dict
    histories: dict
    tuning_histories: dict
    chosen: dict
    models: dict
    seeds: tuple
    select: str = "val_loss"
    maximize: bool = False
    grids: dict = field(default_factory=dict)

    def at_edge(self, model: str) -> bool:
        """Whether ``model``'s chosen rate is the smallest or largest it tried (of two or more):
        an unbracketed choice, where a rate past that end might have done better."""
        if model not in self.chosen:
            raise ValueError(f"StudyResult: no model {model!r}; the study has {list(self.chosen)}")
        return lr_end(self.chosen[model], self.grids[model]) != ""

    def summary(self, value=None, **kwargs) -> pd.DataFrame:
        """Mean ± std and the t interval over seeds per model (:func:`rvt_lib.stats.summarize`).

        value: a column of ``runs`` or a list of them; default the test scores, the
        validation loss, and the cost columns that were measured.
        """
        from rvt_lib.stats import summarize

        if value is None:
            tests = [c for c in self.runs.columns if c.startswith("test_")]
            cost = [c for c in ("params", "train_seconds", "peak_MB", "tokens_per_s")
                    if self.runs[c].notna().all()]
            value = tests + ["val_loss"] + cost
        return summarize(self.runs, value, by="model", **kwargs)

    def pooled(self, model: str, metric: str | None = None) -> np.ndarray:
        """Per-item scores of ``model`` averaged over its seeds: one value per test item."""
        if model not in self.chosen:
            raise ValueError(f"StudyResult: no model {model!r}; the study has {list(self.chosen)}")
        arrays = []
        for s in self.seeds:
            items = self.per_item[(model, s)]
            if items is None:
                raise ValueError(f"StudyResult: {model!r} seed {s} diverged and has no per-item test scores")
            if metric is None and len(items) > 1:
                raise ValueError(f"StudyResult: say which per-item score to compare: metric in {sorted(items)}")
            key = next(iter(items)) if metric is None else metric
            if key not in items:
                raise ValueError(f"StudyResult: no per-item score {key!r}; the task gives {sorted(items)}")
            arrays.append(np.asarray(items[key], dtype=float))
        if len({a.size for a in arrays}) != 1:
            raise ValueError(f"StudyResult: {model!r} has different numbers of test items across seeds")
        return np.mean(arrays, axis=0)  # (n_items,)

    def compare(self, a: str, b: str, metric: str | None = None, lower_is_better: bool | None = None,
                test: str = "paired_bootstrap", *, alpha: float = 0.05, min_effect: float = 0.0,
                unit: str = "", items: str | None = None, **test_kwargs):
        """A :class:`rvt_lib.stats.Verdict` on ``a`` against ``b`` from their per-item test scores.

        Each model's per-item scores are averaged over its seeds (one number per test
        item), then compared item by item with ``test``: ``"paired_bootstrap"`` (any
        per-item score), ``"mcnemar"`` (0/1 correctness; an item counts as right when the
        model is right for more than half of its seeds) or ``"diebold_mariano"`` (per-time
        forecast losses, in time order). ``test_kwargs`` go to the test (``n_boot``,
        ``horizon``, ...), the rest to :func:`rvt_lib.stats.verdict`.
        """
        from rvt_lib import stats

        if test not in TESTS:
            raise ValueError(f"StudyResult.compare: test must be one of {TESTS}, got {test!r}")
        if a == b:
            raise ValueError(f"StudyResult.compare: compare two different models, got {a!r} twice")
        xa, xb = self.pooled(a, metric), self.pooled(b, metric)
        if xa.size != xb.size:
            raise ValueError(f"StudyResult.compare: {a!r} and {b!r} were scored on different numbers of items")
        if test == "mcnemar":
            for name, x in ((a, xa), (b, xb)):
                if not np.all((x >= 0) & (x <= 1)):
                    raise ValueError(f"StudyResult.compare: mcnemar needs 0/1 correctness; {name!r} has other values")
            result = stats.mcnemar(xa > 0.5, xb > 0.5, **test_kwargs)
        elif test == "diebold_mariano":
            result = stats.diebold_mariano(xa, xb, **test_kwargs)
        else:
            result = stats.paired_bootstrap(xa, xb, lower_is_better=lower_is_better, **test_kwargs)
        return stats.verdict(result, a, b, lower_is_better=lower_is_better, alpha=alpha,
                             min_effect=min_effect, unit=unit, items=items)
