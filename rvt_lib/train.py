"""The one small training loop used by every chapter.

Every experiment in the book trains a model the same way, so that comparisons between
models are comparisons between *models*, not between training scripts. The settings
live in one place, a :class:`TrainConfig`; :func:`fit` reads them:

* AdamW (PyTorch's fused kernel), with weight decay only on weight matrices and embeddings (tensors with two or
  more dimensions), never on biases or LayerNorm gains (as in nanoGPT);
* gradient clipping by the global norm of all gradients;
* a learning rate that rises linearly during ``warmup`` steps and then stays constant
  or follows a cosine down to ``min_lr_ratio * lr``;
* an optional validation set, evaluated every ``eval_every`` steps without touching the
  random generators, and early stopping after ``patience`` evaluations without
  improvement (the best weights are then restored);
* a loss that turns NaN or infinite stops the run, recorded in the History
  (``diverged``, ``stop_reason``), instead of crashing the chapter;
* fixed seeds, so the same call gives the same history.

Data comes in one of two forms, both yielding ``(x, y)`` batches:

* a re-iterable, e.g. a ``torch.utils.data.DataLoader``: train for ``epochs`` passes
  (or for ``steps`` updates, starting a new pass whenever one runs out);
* a zero-argument callable returning one batch, e.g. ``lambda: sample_windows(text)``:
  train for ``steps`` updates.

    config = TrainConfig(epochs=5, lr=1e-3)
    history = fit(model, train_loader, config, val=val_loader)
    history.to_frame()        # one row per step: train loss, val loss, seconds, lr
    fit(model, sampler, config.but(epochs=None, steps=500, schedule="cosine"))
"""
from __future__ import annotations

import math
import os
import random
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from rvt_lib.measure import keep_freed_memory

DEFAULT_EVAL_BATCHES = 20  # batches drawn from a callable validation source
SCHEDULES = ("constant", "cosine")


# ----------------------------------------------------------------------------- config

def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@dataclass(frozen=True)
class TrainConfig:
    """Every training setting, in one place. Give exactly one of ``steps`` and ``epochs``.

    Experiment configs embed one (``train: TrainConfig``) instead of restating fields;
    ``config.but(lr=1e-3)`` is a copy with some fields changed.
    """
    steps: int | None = None          # number of updates
    epochs: int | None = None         # passes over an iterable train source
    batch_size: int = 32              # for experiment code that builds loaders/samplers
    lr: float = 3e-3                  # peak learning rate
    weight_decay: float = 0.01        # AdamW, on >= 2-D tensors only
    betas: tuple[float, float] = (0.9, 0.99)
    clip: float | None = 1.0          # global-norm gradient clipping; None = off
    warmup: int = 0                   # linear warmup steps
    schedule: str = "constant"        # or "cosine" down to min_lr_ratio * lr
    min_lr_ratio: float = 0.1
    eval_every: int | None = None     # default: ten evaluations over a steps run, else once per epoch
    eval_batches: int | None = None   # batches drawn (once, then reused) from a callable val source
    patience: int | None = None       # early stopping, in evaluations; restores the best weights

    def __post_init__(self):
        def bad(name, want):
            raise ValueError(f"TrainConfig: {name} must be {want}, got {getattr(self, name)!r}")
        if (self.steps is None) == (self.epochs is None):
            raise ValueError("TrainConfig: give exactly one of steps= (number of updates) and "
                             f"epochs= (passes over the data), got steps={self.steps!r}, epochs={self.epochs!r}")
        for name in ("steps", "epochs", "eval_every", "eval_batches", "patience"):
            if getattr(self, name) is not None and not _positive_int(getattr(self, name)):
                bad(name, "a positive int or None")
        if not _positive_int(self.batch_size):
            bad("batch_size", "a positive int")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            bad("lr", "a finite number > 0")
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0):
            bad("weight_decay", ">= 0")
        betas = tuple(self.betas) if isinstance(self.betas, (tuple, list)) else ()
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
            bad("betas", "two numbers in [0, 1)")
        object.__setattr__(self, "betas", betas)
        if self.clip is not None and not (isinstance(self.clip, (int, float)) and self.clip > 0):
            bad("clip", "a number > 0, or None for no clipping")
        if not (isinstance(self.warmup, int) and not isinstance(self.warmup, bool) and self.warmup >= 0):
            bad("warmup", "an int >= 0")
        if self.schedule not in SCHEDULES:
            bad("schedule", f"one of {SCHEDULES}")
        if not (isinstance(self.min_lr_ratio, (int, float)) and 0 <= self.min_lr_ratio <= 1):
            bad("min_lr_ratio", "in [0, 1]")

    def but(self, **changes) -> "TrainConfig":
        """A copy with ``changes`` applied (and validated), e.g. ``config.but(lr=1e-3)``."""
        return replace(self, **changes)

    def lr_at(self, step: int, total_steps: int | None = None) -> float:
        """Learning rate for update number ``step`` (0-based) of ``total_steps`` (default ``steps``).

        * warmup: ``lr * (step + 1) / warmup`` for the first ``warmup`` updates, so the
          last warmup update uses the full ``lr``;
        * ``"constant"``: ``lr`` afterwards;
        * ``"cosine"``: from ``lr`` at update ``warmup`` down to ``min_lr_ratio * lr`` at
          the last update ``total_steps - 1``, along half a cosine.
        """
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        if self.schedule == "constant":
            return self.lr
        total_steps = self.steps if total_steps is None else total_steps
        if total_steps is None:
            raise ValueError("the cosine schedule needs the total number of steps")
        min_lr = self.lr * self.min_lr_ratio
        progress = min(max((step - self.warmup) / max(1, total_steps - 1 - self.warmup), 0.0), 1.0)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (self.lr - min_lr)


# ----------------------------------------------------------------------------- seeds

def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and PyTorch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


@contextmanager
def _rng_preserved():
    """Run a block without disturbing any random generator.

    Evaluation draws batches (a shuffled DataLoader, a random-window sampler); doing that
    inside this block means that *how often* we evaluate never changes the training run.
    """
    py_state, np_state = random.getstate(), np.random.get_state()
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


# ----------------------------------------------------------------------------- loss, optimizer

def default_loss(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for class logits, including a language model's logits.

    * classification: ``pred`` (B, C) logits, ``y`` (B,) class indices
    * per position (language model, tagging): ``pred`` (B, T, V) logits, ``y`` (B, T)
      indices; the loss is the mean over all B*T positions, in nats per token.

    For regression (float targets) pass ``loss_fn=torch.nn.functional.mse_loss``: we
    refuse to guess, because cross-entropy on float targets silently means something else.
    """
    if not isinstance(y, torch.Tensor) or torch.is_floating_point(y) or y.dtype == torch.bool:
        what = y.dtype if isinstance(y, torch.Tensor) else type(y).__name__
        raise TypeError(
            f"the default loss is cross-entropy and needs integer class targets, got {what}; "
            "for regression pass loss_fn=torch.nn.functional.mse_loss"
        )
    if pred.dim() < 2 or tuple(pred.shape[:-1]) != tuple(y.shape):
        raise ValueError(
            f"cross-entropy expects logits of shape (*, classes) and targets of shape (*), "
            f"got logits {tuple(pred.shape)} and targets {tuple(y.shape)}"
        )
    return F.cross_entropy(pred.reshape(-1, pred.shape[-1]), y.reshape(-1))  # (B*T, V) vs (B*T,)


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float = 0.01,
                   betas=(0.9, 0.99)) -> torch.optim.AdamW:
    """AdamW with two parameter groups: decay on >= 2-D tensors, none on biases and norms.

    PyTorch's fused AdamW kernel where every parameter allows it (floating point, on a CPU
    or GPU): the same update as the default per-tensor loop, in one call per step instead
    of a dozen operations per tensor, which matters for the book's small models
    (``benchmarks/bench_optimizer.py`` measures it).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    decay = [p for p in params if p.dim() >= 2]      # weight matrices, embeddings
    no_decay = [p for p in params if p.dim() < 2]    # biases, LayerNorm gains
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), fused=fused)


# ----------------------------------------------------------------------------- history

@dataclass(repr=False)
class History:
    """What happened during :func:`fit`.

    ``train_steps[i]`` is the number of updates done when ``train_loss[i]`` (the loss of
    that update) was recorded. ``*_seconds`` are *training* seconds elapsed at that
    point: the time spent evaluating is measured separately (``eval_time_s``) and not
    counted, so curves against seconds compare models fairly however often they were
    evaluated. ``diverged`` is True when the loss became NaN or infinite; training then
    stopped before that update, and ``stop_reason`` says when and at which learning rate.
    """
    train_steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)          # learning rate of each update
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_seconds: list[float] = field(default_factory=list)
    best_val: float | None = None   # lowest validation loss (None without validation data)
    best_step: int | None = None    # updates done when it was reached
    train_time_s: float = 0.0       # training only, evaluation excluded
    eval_time_s: float = 0.0
    steps_done: int = 0
    epochs_done: int = 0            # complete passes over an iterable (0 for a callable)
    stopped_early: bool = False     # patience ran out
    diverged: bool = False          # the training loss became NaN or infinite
    stop_reason: str | None = None  # why training ended before the planned length

    def to_frame(self):
        """One row per step (indexed by ``step``): train loss, val loss, seconds, lr."""
        import pandas as pd

        train = pd.DataFrame({"step": self.train_steps, "train_loss": self.train_loss,
                              "seconds": self.train_seconds, "lr": self.lr})
        val = pd.DataFrame({"step": self.val_steps, "val_loss": self.val_loss,
                            "val_seconds": self.val_seconds})
        df = train.merge(val, on="step", how="outer").sort_values("step")
        df["seconds"] = df["seconds"].fillna(df["val_seconds"])
        return df.set_index("step")[["train_loss", "val_loss", "seconds", "lr"]]

    def __repr__(self) -> str:
        last = f"{self.train_loss[-1]:.4f}" if self.train_loss else "n/a"
        best = f"{self.best_val:.4f} at step {self.best_step}" if self.best_val is not None else "n/a"
        end = f", {self.stop_reason}" if self.stop_reason else ""
        return (f"History({self.steps_done} steps in {self.train_time_s:.1f} s, last train loss {last}, "
                f"best val {best}{end})")


# ----------------------------------------------------------------------------- helpers

def _model_device(model: torch.nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _to_device(obj, device):
    """Move a tensor, or tensors nested in tuples/lists/dicts, to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_to_device(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj


def _split(batch):
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(f"expected (x, y) batches, got {type(batch).__name__}"
                         + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""))
    return batch[0], batch[1]


def _forward(model, x):
    """Model output; a core's ``(y, state)`` pair is reduced to ``y``."""
    out = model(x)
    return out[0] if isinstance(out, tuple) else out


def _is_source_callable(data) -> bool:
    """True for a batch sampler (callable), False for a re-iterable of batches."""
    if isinstance(data, torch.Tensor):
        raise TypeError("expected an iterable of (x, y) batches or a callable returning one, got a bare tensor")
    if hasattr(data, "__iter__"):
        return False
    if callable(data):
        return True
    raise TypeError(f"expected an iterable of (x, y) batches or a callable returning one, got {type(data).__name__}")


def _interactive() -> bool:
    """A person is probably watching: a terminal, Colab, or a kernel of a Jupyter server."""
    return (sys.stdout.isatty() or "google.colab" in sys.modules
            or bool(os.environ.get("JPY_SESSION_NAME")) or "VSCODE_PID" in os.environ)


def progress_enabled(progress=None) -> bool:
    """tqdm only where someone watches.

    ``RVT_PROGRESS=1`` / ``0`` force it on / off; otherwise never under ``CI``, then the
    ``progress`` argument decides, and by default it is on in interactive sessions only
    (a book build or ``pytest --nbmake`` runs kernels that nobody watches).
    """
    forced = os.environ.get("RVT_PROGRESS", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false"):
        return False
    if progress is not None:
        return bool(progress)
    return _interactive()


class _NoBar:
    """Stands in for a tqdm bar when progress is off (and spares importing tqdm/IPython)."""
    def update(self, n=1): pass
    def set_postfix(self, **kw): pass
    def close(self): pass


def _progress_bar(total, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm  # a notebook widget in Jupyter, text on a terminal
    return tqdm(total=total, unit="step", leave=False)


# ----------------------------------------------------------------------------- evaluate / predict

def _eval_batches(data, n_batches):
    """Yield at most ``n_batches`` batches from an iterable, or exactly that many from a callable."""
    if _is_source_callable(data):
        for _ in range(DEFAULT_EVAL_BATCHES if n_batches is None else n_batches):
            yield data()
    else:
        for i, batch in enumerate(data):
            if n_batches is not None and i >= n_batches:
                break
            yield batch


def evaluate(model: torch.nn.Module, data, loss_fn=None, n_batches: int | None = None,
             device=None) -> float:
    """Mean loss of ``model`` over ``data``, in eval mode and without gradients.

    ``data`` is an iterable of (x, y) batches (evaluated fully, or its first ``n_batches``)
    or a callable returning one batch (called ``n_batches`` times, default
    ``DEFAULT_EVAL_BATCHES``). Batches are weighted by their number of targets, so a
    short last batch counts for what it holds. The model's train/eval mode is restored.
    """
    loss_fn = default_loss if loss_fn is None else loss_fn
    device = _model_device(model) if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    total, weight = 0.0, 0
    try:
        with torch.no_grad():
            for batch in _eval_batches(data, n_batches):
                x, y = _to_device(_split(batch), device)
                loss = loss_fn(_forward(model, x), y)
                n = y.numel() if isinstance(y, torch.Tensor) else 1
                total += loss.item() * n
                weight += n
    finally:
        model.train(was_training)
    if weight == 0:
        raise ValueError("evaluate: the data produced no batches")
    return total / weight


def predict(model: torch.nn.Module, data, device=None) -> torch.Tensor:
    """Model outputs over ``data`` concatenated along the batch dimension, on the CPU.

    ``data`` is one input tensor or an iterable of batches, each ``x`` or ``(x, y)``.
    """
    device = _model_device(model) if device is None else torch.device(device)
    if isinstance(data, torch.Tensor):
        data = [data]
    elif isinstance(data, tuple) and data and all(isinstance(t, torch.Tensor) for t in data):
        # A bare (x, y) pair would otherwise be read as two batches: refuse the ambiguity.
        raise TypeError("predict: got a tuple of tensors; pass one input tensor x, or an "
                        "iterable of batches such as [(x, y)] or a DataLoader")
    was_training = model.training
    model.eval()
    outs = []
    try:
        with torch.no_grad():
            for batch in data:
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                outs.append(_forward(model, _to_device(x, device)).cpu())
    finally:
        model.train(was_training)
    if not outs:
        raise ValueError("predict: the data produced no batches")
    return torch.cat(outs, dim=0)


# ----------------------------------------------------------------------------- fit, and what it leans on

def rehearsal(config: TrainConfig, val=None) -> tuple[TrainConfig, object]:
    """``(config, val)`` as a training run uses them: unchanged, except under
    ``RVT_BUDGET=dry`` (:mod:`rvt_lib.budget`), where the run is cut to ``DRY_STEPS``
    updates and a list of validation batches to ``DRY_BATCHES`` of each shape: the full
    configuration, rehearsed in seconds. :func:`fit` and ``fit_batched`` call it."""
    from rvt_lib.budget import DRY_BATCHES, DRY_STEPS, is_dry, rehearsed_batches

    if not is_dry():
        return config, val
    steps = min(config.steps, DRY_STEPS) if config.steps else DRY_STEPS
    config = config.but(steps=steps, epochs=None, warmup=min(config.warmup, 1), eval_every=steps,
                        eval_batches=min(config.eval_batches or DRY_BATCHES, DRY_BATCHES), patience=None)
    return config, rehearsed_batches(val)


def _plan(train, val, config: TrainConfig) -> int | None:
    """Check the data against the config; return the number of updates (None: unknown)."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"fit: config must be a rvt_lib.train.TrainConfig, got {type(config).__name__}; "
                        "e.g. fit(model, data, TrainConfig(steps=500, lr=1e-3))")
    if _is_source_callable(train) and config.epochs is not None:
        raise ValueError("a callable batch source has no epochs: use TrainConfig(steps=...)")
    if val is not None:
        _is_source_callable(val)  # refuses what is neither an iterable nor a callable
    elif config.patience is not None:
        raise ValueError("early stopping (patience=) needs validation data (val=)")
    if config.steps is not None:
        return config.steps
    try:
        return config.epochs * len(train)
    except TypeError:  # an iterable without a length
        if config.schedule == "cosine":
            raise ValueError("the cosine schedule needs a known number of steps: give steps= "
                             "or a train iterable with a length") from None
        return None


def _batches(train, config: TrainConfig):
    """Yield ``(passes completed, batch)``: endlessly from a callable, else pass after pass."""
    if _is_source_callable(train):
        while True:
            yield 0, train()
    passes = 0
    while config.epochs is None or passes < config.epochs:
        empty = True
        for batch in train:
            empty = False
            yield passes, batch
        if empty:
            raise ValueError("the training data produced no batches")
        passes += 1


class _Clock:
    """Training seconds: wall time minus the time spent evaluating (synchronised on CUDA)."""

    def __init__(self, device: torch.device):
        self.device, self.start, self.paused_s = device, time.perf_counter(), 0.0

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def seconds(self) -> float:
        self._sync()
        return time.perf_counter() - self.start - self.paused_s

    @contextmanager
    def paused(self):
        self._sync()
        t = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self.paused_s += time.perf_counter() - t


class _Validator:
    """Evaluates on fixed validation batches, records it, and does the early stopping."""

    def __init__(self, model, val, config: TrainConfig, loss_fn, hist: History):
        self.model, self.loss_fn, self.hist, self.patience = model, loss_fn, hist, config.patience
        self.n_batches = config.eval_batches
        if _is_source_callable(val):  # sampled once, so that every evaluation sees the same batches
            with _rng_preserved():
                val = [val() for _ in range(self.n_batches or DEFAULT_EVAL_BATCHES)]
            self.n_batches = None
        self.val, self.best_state, self.bad_evals = val, None, 0

    def __call__(self, step: int, seconds: float) -> bool:
        """Evaluate after ``step`` updates; True when patience has run out."""
        with _rng_preserved():
            loss = evaluate(self.model, self.val, self.loss_fn, n_batches=self.n_batches)
        h = self.hist
        h.val_steps.append(step)
        h.val_loss.append(loss)
        h.val_seconds.append(seconds)
        if math.isfinite(loss) and (h.best_val is None or loss < h.best_val):
            h.best_val, h.best_step, self.bad_evals = loss, step, 0
            if self.patience is not None:
                self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        else:
            self.bad_evals += 1
        return self.patience is not None and self.bad_evals >= self.patience

    def restore_best(self):
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)


def flush_denormals() -> bool:
    """Let the CPU treat floats below the smallest normal number as zero (on this thread).

    Subnormal floats (below about 1.2e-38 in float32) take a slow path on x86 CPUs, often
    tens of times slower per operation. Training makes them: a minGRU layer whose gates
    saturate (after 3 steps at lr 0.017, at the Tiny Shakespeare size) outputs states
    that small, 16% of its top layer's. With flush-to-zero they become 0, a change far
    below float32 rounding near 1. Measured on one CPU thread (book budget): the Tiny
    Shakespeare chapter 445 s against 474 s; seed-batched training of 8 such minGRUs
    (``benchmarks/bench_batched.py``, 2 threads) 122 ms per member step against 318 ms.
    :func:`fit` and ``rvt_lib.batched.fit_batched`` switch it on; it stays on for the
    thread (``torch.set_flush_denormal``). Returns False where the CPU cannot do it.
    """
    return torch.set_flush_denormal(True)


def fit(model: torch.nn.Module, train, config: TrainConfig, *, val=None, loss_fn=None,
        seed: int = 0, device=None, progress=None) -> History:
    """Train ``model`` in place as ``config`` says and return its :class:`History`.

    ``train`` and ``val`` are a re-iterable of ``(x, y)`` batches or a zero-argument
    callable returning one batch. ``loss_fn(pred, y)`` defaults to :func:`default_loss`.

    Validation runs every ``config.eval_every`` updates (by default ten times over a
    ``steps`` run, once per pass in ``epochs`` mode) and after the last update. A callable
    ``val`` is sampled ``eval_batches`` times *once*, and that fixed set is reused.
    Evaluation never touches the random generators, so it does not change training.
    With ``config.patience``, training stops after that many evaluations without a lower
    validation loss and the best weights are restored. A NaN or infinite training loss
    stops training before that update (``History.diverged``, with a warning).

    ``seed`` seeds everything random *during* training (batch sampling, shuffling,
    dropout); the initial weights were drawn when the model was built (``ModelSpec.build``
    seeds that). ``device=None`` keeps the model where it is; batches follow the model.
    ``progress=None`` shows a tqdm bar in interactive sessions only (``RVT_PROGRESS``).
    Freed memory is kept for reuse from here on (:func:`rvt_lib.measure.keep_freed_memory`),
    and subnormal floats are flushed to zero (:func:`flush_denormals`).
    """
    keep_freed_memory()
    flush_denormals()
    config, val = rehearsal(config, val)
    total = _plan(train, val, config)
    set_seed(seed)
    loss_fn = default_loss if loss_fn is None else loss_fn
    if device is not None:
        model.to(device)
    device = _model_device(model)
    model.train()
    optimizer = make_optimizer(model, config.lr, config.weight_decay, config.betas)
    params = [p for p in model.parameters() if p.requires_grad]
    hist = History()
    validator = None if val is None else _Validator(model, val, config, loss_fn, hist)
    eval_every = config.eval_every or (max(1, config.steps // 10) if config.steps else None)
    clock, step, evaluated_at = _Clock(device), 0, -1
    bar = _progress_bar(total, progress_enabled(progress))

    def validate(final: bool = False) -> bool:  # evaluate now; True: stop early
        nonlocal evaluated_at
        evaluated_at, seconds = step, clock.seconds()
        with clock.paused():
            out_of_patience = validator(step, seconds)
        if out_of_patience and not final:
            hist.stopped_early = True
            hist.stop_reason = f"stopped early after {step} steps (best at step {hist.best_step})"
        return hist.stopped_early

    try:
        for passes, batch in _batches(train, config):
            if passes > hist.epochs_done:  # a pass over the data has just ended
                hist.epochs_done = passes
                if validator and eval_every is None and validate():
                    break
            x, y = _to_device(_split(batch), device)
            lr = config.lr_at(step, total)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = loss_fn(_forward(model, x), y)
            value = loss.item()
            if not math.isfinite(value):
                hist.diverged = True
                hist.stop_reason = (f"diverged: the training loss became {value} at step {step} "
                                    f"(lr={lr:.3g}); try a lower lr, clip=1.0 or a longer warmup")
                warnings.warn(hist.stop_reason, RuntimeWarning, stacklevel=2)
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip is not None:
                torch.nn.utils.clip_grad_norm_(params, config.clip)
            optimizer.step()
            step += 1
            hist.train_steps.append(step)
            hist.train_loss.append(value)
            hist.train_seconds.append(clock.seconds())
            hist.lr.append(lr)
            bar.update(1)
            bar.set_postfix(loss=f"{value:.4f}")
            if validator and eval_every and step % eval_every == 0 and validate():
                break
            if step == config.steps:
                break
        else:  # every pass of an epochs run is done
            hist.epochs_done = config.epochs
        if validator and evaluated_at != step and not hist.stopped_early:
            validate(final=True)  # always know the loss of the final model
    finally:
        bar.close()
    hist.steps_done, hist.train_time_s, hist.eval_time_s = step, clock.seconds(), clock.paused_s
    if validator:
        validator.restore_best()
    return hist
