"""The one small training loop used by every chapter.

Every experiment in the book trains a model the same way, so that comparisons between
models are comparisons between *models*, not between training scripts:

* AdamW, with weight decay only on weight matrices and embeddings (tensors with two or
  more dimensions), never on biases or LayerNorm gains (as in nanoGPT);
* gradient clipping by the global norm of all gradients;
* a learning rate that rises linearly during ``warmup`` steps and then stays constant
  or follows a cosine down to ``min_lr_ratio * lr``;
* an optional validation set, evaluated every ``eval_every`` steps, with early stopping
  after ``patience`` evaluations without improvement (the best weights are restored);
* fixed seeds, so the same call gives the same history.

Data comes in one of two forms, both yielding ``(x, y)`` batches:

* a re-iterable, e.g. a ``torch.utils.data.DataLoader``: train for ``epochs`` passes
  (or for ``steps`` updates, starting a new pass whenever one runs out);
* a zero-argument callable returning one batch, e.g. ``lambda: sample_windows(text)``:
  train for ``steps`` updates.

    history = fit(model, train_loader, val=val_loader, epochs=5, lr=1e-3)
    history.to_frame()        # one row per logged step: train loss, val loss, seconds, lr
"""
from __future__ import annotations

import math
import os
import random
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_EVAL_BATCHES = 20  # batches drawn from a callable validation source
CHECKPOINT_FORMAT = "rvt_lib-checkpoint-1"


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


# ----------------------------------------------------------------------------- losses

def default_loss(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for class logits, including a language model's logits.

    * classification: ``pred`` (B, C) logits, ``y`` (B,) class indices
    * language model: ``pred`` (B, T, V) logits, ``y`` (B, T) next-token indices;
      the loss is the mean over all B*T positions, in nats per token.

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


# ----------------------------------------------------------------------------- learning rate

def lr_at(step: int, *, lr: float, total_steps: int | None = None, warmup: int = 0,
          schedule: str = "constant", min_lr_ratio: float = 0.1) -> float:
    """Learning rate for update number ``step`` (0-based).

    * warmup: ``lr * (step + 1) / warmup`` for the first ``warmup`` updates, so the
      last warmup update uses the full ``lr``;
    * ``"constant"``: ``lr`` afterwards;
    * ``"cosine"``: from ``lr`` at update ``warmup`` down to ``min_lr_ratio * lr`` at the
      last update ``total_steps - 1``, along half a cosine.
    """
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    if step < warmup:
        return lr * (step + 1) / warmup
    if schedule == "constant":
        return lr
    if total_steps is None:
        raise ValueError("the cosine schedule needs the total number of steps")
    min_lr = lr * min_lr_ratio
    progress = (step - warmup) / max(1, total_steps - 1 - warmup)
    progress = min(max(progress, 0.0), 1.0)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float = 0.01,
                   betas=(0.9, 0.99)) -> torch.optim.AdamW:
    """AdamW with two parameter groups: decay on >= 2-D tensors, none on biases and norms."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    decay = [p for p in params if p.dim() >= 2]      # weight matrices, embeddings
    no_decay = [p for p in params if p.dim() < 2]    # biases, LayerNorm gains
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas))


# ----------------------------------------------------------------------------- history

@dataclass(repr=False)
class History:
    """What happened during :func:`fit`.

    Train losses are logged every ``log_every`` updates (the mean over those updates);
    ``train_steps[i]`` is the number of updates done when ``train_loss[i]`` was logged.
    ``*_seconds`` are *training* seconds elapsed at that point: the time spent evaluating
    is measured separately (``eval_time_s``) and not counted, so curves against seconds
    compare models fairly however often they were evaluated.
    """
    train_steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)          # learning rate of the last update in each log window
    grad_norm: list[float] = field(default_factory=list)   # mean global gradient norm before clipping
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_seconds: list[float] = field(default_factory=list)
    best_val: float | None = None   # lowest validation loss (None without validation data)
    best_step: int | None = None    # updates done when it was reached
    train_time_s: float = 0.0       # training only, evaluation excluded
    eval_time_s: float = 0.0
    steps_done: int = 0
    epochs_done: int = 0            # complete passes over an iterable (0 for a callable)
    stopped_early: bool = False

    def to_frame(self):
        """One row per logged step (indexed by ``step``): train loss, val loss, seconds, lr."""
        import pandas as pd

        train = pd.DataFrame({"step": self.train_steps, "train_loss": self.train_loss,
                              "seconds": self.train_seconds, "lr": self.lr,
                              "grad_norm": self.grad_norm})
        val = pd.DataFrame({"step": self.val_steps, "val_loss": self.val_loss,
                            "val_seconds": self.val_seconds})
        df = train.merge(val, on="step", how="outer").sort_values("step")
        df["seconds"] = df["seconds"].fillna(df["val_seconds"])
        df = df.drop(columns="val_seconds")
        cols = ["train_loss", "val_loss", "seconds", "lr", "grad_norm"]
        return df.set_index("step")[cols]

    def __repr__(self) -> str:
        last = f"{self.train_loss[-1]:.4f}" if self.train_loss else "n/a"
        best = f"{self.best_val:.4f} at step {self.best_step}" if self.best_val is not None else "n/a"
        early = ", stopped early" if self.stopped_early else ""
        return (f"History({self.steps_done} steps in {self.train_time_s:.1f} s, last train loss {last}, "
                f"best val {best}{early})")


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


def _progress_enabled(progress) -> bool:
    """tqdm only where someone watches: never under CI, else on a TTY or RVT_PROGRESS=1."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false"):
        return False
    if progress is not None:
        return bool(progress)
    return os.environ.get("RVT_PROGRESS") == "1" or sys.stdout.isatty()


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


# ----------------------------------------------------------------------------- fit

def fit(model: torch.nn.Module, train, *, val=None, loss_fn=None, steps: int | None = None,
        epochs: int | None = None, lr: float = 3e-3, weight_decay: float = 0.01,
        betas=(0.9, 0.99), clip: float | None = 1.0, warmup: int = 0,
        schedule: str = "constant", min_lr_ratio: float = 0.1, eval_every: int | None = None,
        eval_batches: int | None = None, patience: int | None = None,
        restore_best: bool | None = None, seed: int = 0, device=None, progress=None,
        log_every: int = 1) -> History:
    """Train ``model`` in place and return its :class:`History`.

    Give exactly one of ``steps`` (number of updates) or ``epochs`` (passes over an
    iterable ``train``). ``loss_fn(pred, y)`` defaults to :func:`default_loss`.

    Validation (``val``, same two forms as ``train``) runs every ``eval_every`` updates;
    by default once per epoch, or ten times over a ``steps`` run, and always after the
    last update. A callable ``val`` is sampled ``eval_batches`` times *once*, before
    training, and that fixed set is reused so that evaluations are comparable.
    Evaluation never touches the random generators, so it does not change training.

    With ``patience``, training stops after that many evaluations without a lower
    validation loss; the weights of the best evaluation are then restored
    (``restore_best``, default: on when ``patience`` is given).

    ``seed`` seeds everything random *during* training (batch sampling, shuffling,
    dropout). The model's initial weights were drawn when it was built: call
    ``set_seed`` before building it too, so that runs repeat exactly.

    ``clip=None`` disables gradient clipping. ``device=None`` keeps the model where it is;
    batches are moved to the model's device. ``progress=None`` shows a tqdm bar only on
    an interactive terminal or with ``RVT_PROGRESS=1``, never when ``CI`` is set.
    """
    # ---- check the arguments before doing anything
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps= (number of updates) or epochs= (passes over the data)")
    if steps is not None and (not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    train_is_callable = _is_source_callable(train)
    if train_is_callable and epochs is not None:
        raise ValueError("a callable batch source has no epochs: use steps=")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    if not 0.0 <= min_lr_ratio <= 1.0:
        raise ValueError(f"min_lr_ratio must be in [0, 1], got {min_lr_ratio}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be > 0 or None, got {clip}")
    if log_every < 1:
        raise ValueError(f"log_every must be >= 1, got {log_every}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be >= 1 evaluation, got {patience}")
    if patience is not None and val is None:
        raise ValueError("early stopping (patience=) needs validation data (val=)")
    if eval_every is not None and eval_every < 1:
        raise ValueError(f"eval_every must be >= 1, got {eval_every}")
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")

    # ---- how many updates in all (needed by the cosine schedule and the progress bar)
    if steps is not None:
        total_steps = steps
    else:
        try:
            total_steps = epochs * len(train)
        except TypeError:  # an iterable without a length
            total_steps = None
        if schedule == "cosine" and total_steps is None:
            raise ValueError("the cosine schedule needs a known number of steps: give steps= "
                             "or a train iterable with a length")
    if steps is not None and eval_every is None:
        eval_every = max(1, steps // 10)  # ten points on the validation curve
    if restore_best is None:
        restore_best = patience is not None

    set_seed(seed)
    loss_fn = default_loss if loss_fn is None else loss_fn
    if device is not None:
        model.to(device)
    device = _model_device(model)
    model.train()
    optimizer = make_optimizer(model, lr, weight_decay, betas)
    params = [p for p in model.parameters() if p.requires_grad]

    # a callable validation source is sampled once: the same batches at every evaluation
    if val is not None and _is_source_callable(val):
        n = DEFAULT_EVAL_BATCHES if eval_batches is None else eval_batches
        with _rng_preserved():
            val = [val() for _ in range(n)]
        eval_batches = None

    hist = History()
    best_state = None
    bad_evals = 0
    window_loss, window_norm = [], []
    eval_time = 0.0

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def train_seconds() -> float:
        sync()
        return time.perf_counter() - t0 - eval_time

    def run_eval() -> bool:
        """Evaluate, track the best weights; return True when it is time to stop."""
        nonlocal eval_time, best_state, bad_evals
        seconds = train_seconds()
        t_eval = time.perf_counter()
        with _rng_preserved():
            loss = evaluate(model, val, loss_fn, n_batches=eval_batches, device=device)
        sync()
        eval_time += time.perf_counter() - t_eval
        hist.val_steps.append(step)
        hist.val_loss.append(loss)
        hist.val_seconds.append(seconds)
        if hist.best_val is None or loss < hist.best_val:
            hist.best_val, hist.best_step = loss, step
            bad_evals = 0
            if restore_best:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad_evals += 1
        bar.set_postfix(loss=f"{hist.train_loss[-1]:.4f}" if hist.train_loss else "-", val=f"{loss:.4f}")
        return patience is not None and bad_evals >= patience

    def flush_log():
        if window_loss:
            hist.train_steps.append(step)
            hist.train_loss.append(sum(window_loss) / len(window_loss))
            hist.train_seconds.append(train_seconds())
            hist.lr.append(current_lr)
            hist.grad_norm.append(sum(window_norm) / len(window_norm))
            window_loss.clear()
            window_norm.clear()

    bar = _progress_bar(total_steps, _progress_enabled(progress))
    step, epoch, current_lr, stop = 0, 0, lr, False
    last_eval_step = -1
    t0 = time.perf_counter()
    try:
        while not stop:
            # one pass: over the iterable, or `steps` calls of the callable
            batches = (train() for _ in range(steps)) if train_is_callable else iter(train)
            n_in_pass = 0
            for batch in batches:
                n_in_pass += 1
                x, y = _to_device(_split(batch), device)

                current_lr = lr_at(step, lr=lr, total_steps=total_steps, warmup=warmup,
                                   schedule=schedule, min_lr_ratio=min_lr_ratio)
                for group in optimizer.param_groups:
                    group["lr"] = current_lr

                loss = loss_fn(_forward(model, x), y)
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    raise FloatingPointError(
                        f"the training loss became {loss_value} at step {step} (lr={current_lr:.3g}); "
                        f"try a lower learning rate, gradient clipping (clip=1.0) or a longer warmup"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                # the global gradient norm, clipped to `clip` (infinity = measure only)
                norm = torch.nn.utils.clip_grad_norm_(params, clip if clip is not None else float("inf"))
                optimizer.step()
                step += 1
                bar.update(1)

                window_loss.append(loss_value)
                window_norm.append(norm.item())
                if len(window_loss) == log_every:
                    flush_log()
                    bar.set_postfix(loss=f"{hist.train_loss[-1]:.4f}")

                if val is not None and eval_every is not None and step % eval_every == 0:
                    last_eval_step = step
                    if run_eval():
                        hist.stopped_early = stop = True
                        break
                if steps is not None and step >= steps:
                    stop = True
                    break
            if stop:
                break
            if n_in_pass == 0:
                raise ValueError("the training data produced no batches")
            epoch += 1  # a complete pass over the iterable
            if val is not None and eval_every is None:  # epochs mode default: once per epoch
                last_eval_step = step
                if run_eval():
                    hist.stopped_early = stop = True
            if epochs is not None and epoch >= epochs:
                stop = True
        flush_log()
        if val is not None and last_eval_step != step and not hist.stopped_early:
            run_eval()  # always know the loss of the final model
    finally:
        bar.close()

    hist.steps_done = step
    hist.epochs_done = epoch
    hist.eval_time_s = eval_time
    hist.train_time_s = time.perf_counter() - t0 - eval_time
    if restore_best and best_state is not None:
        model.load_state_dict(best_state)
    return hist


# ----------------------------------------------------------------------------- checkpoints

def _plain(value, where: str):
    """Return ``value`` if it is made of plain Python types (NumPy scalars are converted)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"checkpoint meta {where}: dict keys must be str, got {type(k).__name__}")
            out[k] = _plain(v, f"{where}[{k!r}]")
        return out
    raise TypeError(
        f"checkpoint meta {where} has type {type(value).__name__}; only None, bool, int, float, "
        "str, lists, tuples and dicts of them can be loaded safely (weights_only=True). "
        "Convert it first, e.g. dataclasses.asdict(config) or tensor.tolist()."
    )


def save_checkpoint(model: torch.nn.Module, path, **meta) -> None:
    """Save the model's weights and ``meta`` (plain values: numbers, strings, lists, dicts).

    Creates the parent folder. Load with :func:`load_checkpoint` into a model built the
    same way, e.g. ``save_checkpoint(model, "gru.pt", config=asdict(model.config), step=500)``.
    """
    meta = {k: _plain(v, repr(k)) for k, v in meta.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": CHECKPOINT_FORMAT, "model_class": type(model).__name__,
                "state_dict": model.state_dict(), "meta": meta}, path)


def load_checkpoint(model: torch.nn.Module, path) -> dict:
    """Load weights saved by :func:`save_checkpoint` into ``model``; return the meta dict.

    Uses ``torch.load(weights_only=True)``: the file can hold tensors and plain values
    only, never code. A model of another shape raises ``ValueError`` listing the differences.
    """
    ckpt = torch.load(path, map_location=_model_device(model), weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a checkpoint written by rvt_lib.train.save_checkpoint")
    saved, own = ckpt["state_dict"], model.state_dict()
    problems = []
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    if missing:
        problems.append(f"missing in the checkpoint: {missing}")
    if unexpected:
        problems.append(f"not in the model: {unexpected}")
    for k in own:
        if k in saved and tuple(saved[k].shape) != tuple(own[k].shape):
            problems.append(f"{k}: checkpoint {tuple(saved[k].shape)} vs model {tuple(own[k].shape)}")
    if problems:
        raise ValueError(
            f"checkpoint {path} (saved from a {ckpt.get('model_class')}) does not fit this "
            f"{type(model).__name__}: " + "; ".join(problems)
        )
    model.load_state_dict(saved)
    return ckpt["meta"]
