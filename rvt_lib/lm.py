"""Character-level language models, compared fairly: same size, same data, same budget.

A race between architectures is easy to rig without meaning to. A wider model, a longer
run, a luckier batch order or a kinder learning rate can each decide the winner. This
module fixes what can be fixed, so that the remaining differences belong to the models:

1. **Same number of parameters.** Each kind gets its own width ``d_model``, searched so
   that its trainable parameter count lands as close as possible to one target
   (:func:`rvt_lib.models.heads.match_parameters`). Widths differ a lot, because a
   layer's cost in parameters does:

       GPT block       ~ 12 d^2     (attention 4 d^2 + MLP 8 d^2)
       LSTM layer      ~  8 d^2     (four gates, input and hidden weights)
       GRU layer       ~  6 d^2
       minLSTM layer   ~  3 d^2     (three maps of the input only)
       minGRU layer    ~  2 d^2

   plus the embedding and output matrices (``vocab_size * d`` each; the GPT ties them).

2. **Same training budget.** Every model takes the same number of optimiser steps on the
   same batches (one seeded generator per run draws the windows), with the same batch and
   block size, the same AdamW settings, warmup and cosine schedule (one
   :class:`rvt_lib.train.TrainConfig` inside an :class:`LMConfig`), and is evaluated on
   the same validation windows. Only the peak learning rate may differ per kind, and is
   reported with the results.

3. **Steps and seconds.** A model that learns more per step may still lose per second.
   :func:`train_lm` records both (``History.val_steps`` and ``History.val_seconds``), and
   :func:`training_tokens_per_second` / :func:`generation_tokens_per_second` measure raw
   speed separately from learning.

    reference = ModelSpec("gpt", vocab_size=65, d_model=96, n_layer=4, block_size=64)
    specs = matched_specs(["gpt", "lstm", "mingru"], reference)
    spec_table(specs)                                  # kind, width, layers, parameters
    cfg = LMConfig(block_size=64, train=TrainConfig(steps=500, batch_size=32, schedule="cosine"))
    runs = {k: train_run(s, ds, cfg, lr=lrs[k]) for k, s in specs.items()}
    results_table(runs)                                # final/best val loss, seconds
    sample(runs["gpt"].model, ds, "ROMEO:", 200, temperature=0.8)
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field, replace

import torch

from rvt_lib.measure import time_fn
from rvt_lib.models.heads import KIND_NAMES, ModelSpec, SequenceModel, match_parameters
from rvt_lib.train import History, TrainConfig, fit, make_optimizer

VAL_SEED = 1234  # the validation windows are drawn with this seed for every run


def _positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


# ----------------------------------------------------------------------------- model sizes

def matched_specs(kinds, reference: ModelSpec, *, tol: float = 0.05) -> dict[str, ModelSpec]:
    """One spec per kind, each ``reference`` with that kind and the width whose parameter
    count is closest to the reference's own (see :func:`match_parameters`)."""
    kinds = list(kinds)
    if not kinds:
        raise ValueError("matched_specs: give at least one kind")
    target = reference.n_params()
    return {k: match_parameters(reference.but(kind=k), target, tol=tol) for k in kinds}


def spec_table(specs: dict, target_params: int | None = None):
    """A DataFrame with one row per model: width, layers, parameters and the gap to the target."""
    import pandas as pd

    rows = []
    for spec in specs.values():
        row = {"model": spec.name, "d_model": spec["d_model"], "layers": spec["n_layer"],
               "parameters": spec.n_params()}
        if target_params is not None:
            row["vs target (%)"] = round(100.0 * (row["parameters"] / target_params - 1.0), 2)
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def state_floats(spec: ModelSpec, context: int) -> int:
    """Numbers a generating model carries per sequence after ``context`` tokens.

    Recurrent kinds: one hidden vector per layer (the LSTM two: ``h`` and ``c``),
    whatever the context. GPT: a key and a value vector per layer and per position
    kept in the cache, i.e. growing with the context up to ``block_size``.
    """
    _positive_int("context", context)
    d, n_layer = spec["d_model"], spec["n_layer"]
    if spec.kind == "gpt":
        return 2 * n_layer * min(context, spec.kwargs.get("block_size", 256)) * d
    return (2 if spec.kind == "lstm" else 1) * n_layer * d


# ----------------------------------------------------------------------------- training

@dataclass(frozen=True)
class LMConfig:
    """One language-model training budget, shared by every model in a comparison:
    windows of ``block_size`` characters, trained as ``train`` says (``train.batch_size``
    windows per step). Validation: the mean loss over the same ``train.eval_batches``
    windows (default 10), drawn once with :data:`VAL_SEED`.
    """
    block_size: int
    train: TrainConfig

    def __post_init__(self):
        _positive_int("block_size", self.block_size)
        if not isinstance(self.train, TrainConfig):
            raise TypeError(f"LMConfig: train must be a rvt_lib.train.TrainConfig, got {type(self.train).__name__}")
        if self.train.steps is None:
            raise ValueError("LMConfig: windows are sampled, so the budget is TrainConfig(steps=...), not epochs")

    @property
    def tokens_per_step(self) -> int:
        return self.train.batch_size * self.block_size


def batch_sampler(ds, split: str, batch_size: int, block_size: int, seed: int):
    """A zero-argument callable returning ``(x, y)`` windows from ``ds``, drawn by its own
    generator seeded with ``seed``: the same sequence of batches on every call of this."""
    gen = torch.Generator().manual_seed(seed)
    return lambda: ds.get_batch(split, batch_size, block_size, generator=gen)


def train_lm(model: torch.nn.Module, ds, cfg: LMConfig, *, seed: int = 0, progress=None) -> History:
    """Train ``model`` on ``ds`` (a :class:`rvt_lib.data.text.CharDataset`) as ``cfg`` says.

    The training windows come from a generator seeded with ``seed`` (the same batches for
    every model trained with the same seed); the validation windows from one seeded with
    :data:`VAL_SEED` (the same for every run). Returns :func:`rvt_lib.train.fit`'s History:
    validation losses against steps and against training seconds (evaluation excluded).
    """
    train = cfg.train if cfg.train.eval_batches is not None else cfg.train.but(eval_batches=10)
    return fit(model, batch_sampler(ds, "train", train.batch_size, cfg.block_size, seed), train,
               val=batch_sampler(ds, "val", train.batch_size, cfg.block_size, VAL_SEED),
               seed=seed, progress=progress)


@dataclass
class LMRun:
    """One trained model with its spec, learning rate, seed and History."""
    spec: ModelSpec
    lr: float
    seed: int
    model: SequenceModel = field(repr=False)
    history: History = field(repr=False)

    @property
    def final_val(self) -> float:
        return self.history.val_loss[-1]

    @property
    def best_val(self) -> float:
        return self.history.best_val


def train_run(spec: ModelSpec, ds, cfg: LMConfig, *, lr: float | None = None, seed: int = 0,
              progress=None) -> LMRun:
    """Build ``spec`` with weights drawn from ``seed``, train it with :func:`train_lm`
    (at peak learning rate ``lr``, default ``cfg.train.lr``)."""
    if spec.kind == "gpt" and spec.kwargs.get("block_size", 256) < cfg.block_size:
        raise ValueError(f"train_run: the GPT's block_size={spec['block_size']} is shorter than "
                         f"the training windows ({cfg.block_size})")
    model = spec.build(seed)
    if lr is not None:
        cfg = replace(cfg, train=cfg.train.but(lr=lr))
    history = train_lm(model, ds, cfg, seed=seed, progress=progress)
    return LMRun(spec, cfg.train.lr, seed, model, history)


def best_val_within(history: History, seconds: float) -> float:
    """The lowest validation loss evaluated within ``seconds`` of training (NaN if none was)."""
    losses = [v for v, s in zip(history.val_loss, history.val_seconds) if s <= seconds]
    return min(losses) if losses else float("nan")


def time_to_loss(history: History, loss: float) -> float:
    """Training seconds at the first evaluation with validation loss <= ``loss`` (NaN: never)."""
    for v, s in zip(history.val_loss, history.val_seconds):
        if v <= loss:
            return s
    return float("nan")


def results_table(runs: dict, cfg: LMConfig | None = None):
    """One row per run: size, learning rate, training time, tokens/s, final and best val loss."""
    import pandas as pd

    rows = []
    for run in runs.values():
        h = run.history
        row = {"model": run.spec.name, "parameters": run.spec.n_params(), "lr": run.lr,
               "steps": h.steps_done, "train time (s)": round(h.train_time_s, 1),
               "final val loss": round(run.final_val, 4), "best val loss": round(run.best_val, 4)}
        if cfg is not None:
            row["train tokens/s (in fit)"] = round(h.steps_done * cfg.tokens_per_step / h.train_time_s)
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


# ----------------------------------------------------------------------------- speed

def training_tokens_per_second(model: torch.nn.Module, ds, *, batch_size: int, block_size: int,
                               repeats: int = 3, warmup: int = 1, seed: int = 0) -> float:
    """Training throughput: tokens per second of full AdamW steps on one fixed batch.

    A step is forward, cross-entropy, backward, gradient clipping and the optimiser update.
    The timing runs on a *copy* of ``model`` (the steps change the weights), in train mode.
    """
    _positive_int("repeats", repeats)
    x, y = batch_sampler(ds, "train", batch_size, block_size, seed)()
    work = copy.deepcopy(model).train()
    opt = make_optimizer(work, lr=1e-4)
    params = [p for p in work.parameters() if p.requires_grad]

    def step():
        logits = work(x)                                               # (B, T, V)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    ms = time_fn(step, repeats=repeats, warmup=warmup)
    return batch_size * block_size / (ms / 1e3)


def mode_speeds(spec: ModelSpec, ds, *, batch_size: int, block_size: int, repeats: int = 3,
                seed: int = 0) -> dict[str, float]:
    """Training tokens/s of a minGRU or minLSTM in each of its two modes.

    ``"parallel"`` (log-space scan) and ``"sequential"`` (loop over time) compute the same
    function with the same weights; which is faster depends on the hardware and on the
    sequence length, so it is measured, not assumed. Returns ``{mode: tokens/s}``.
    """
    if spec.kind not in ("mingru", "minlstm"):
        raise ValueError(f"mode_speeds: only minGRU and minLSTM have modes, got {spec.kind!r}")
    speeds = {}
    for mode in ("parallel", "sequential"):
        model = spec.but(mode=mode).build(seed)
        speeds[mode] = training_tokens_per_second(model, ds, batch_size=batch_size,
                                                  block_size=block_size, repeats=repeats,
                                                  seed=seed)
    return speeds


def generation_tokens_per_second(model: SequenceModel, *, new_tokens: int = 200,
                                 batch_size: int = 1, prompt_len: int = 1, repeats: int = 3,
                                 warmup: int = 1, seed: int = 0) -> float:
    """Sampling throughput: new tokens per second of ``model.generate``, summed over the batch.

    Each new token costs one step of the recurrence (fixed-size state) or, for the GPT,
    one query against its key/value cache (which grows with every token).
    """
    _positive_int("new_tokens", new_tokens)
    _positive_int("batch_size", batch_size)
    _positive_int("prompt_len", prompt_len)
    idx = torch.zeros(batch_size, prompt_len, dtype=torch.long)   # (B, P) a prompt of id 0

    def gen():
        model.generate(idx, new_tokens, generator=torch.Generator().manual_seed(seed))

    ms = time_fn(gen, repeats=repeats, warmup=warmup)
    return batch_size * new_tokens / (ms / 1e3)


# ----------------------------------------------------------------------------- text

def sample(model: SequenceModel, ds, prompt: str, n_chars: int, *, temperature: float = 1.0,
           top_k: int | None = None, seed: int = 0) -> str:
    """``prompt`` followed by ``n_chars`` characters sampled from ``model`` (fixed ``seed``)."""
    if not isinstance(prompt, str) or not prompt:
        raise ValueError("sample: the prompt must be a non-empty string")
    _positive_int("n_chars", n_chars)
    idx = torch.tensor([ds.encode(prompt)], dtype=torch.long)             # (1, P)
    gen = torch.Generator().manual_seed(seed)
    out = model.generate(idx, n_chars, temperature=temperature, top_k=top_k, generator=gen)
    return ds.decode(out[0])


def words(text: str) -> list[str]:
    """The lower-cased words of ``text``: maximal runs of letters (and apostrophes inside)."""
    return [w.strip("'") for w in re.findall(r"[A-Za-z']+", text.lower()) if w.strip("'")]


def known_word_fraction(text: str, vocabulary: set[str]) -> float:
    """Share of the words of ``text`` that occur in ``vocabulary`` (NaN if there are none).

    A crude, honest measure of sample quality: a model that spells English (or
    Shakespeare's English) writes mostly words from the training text; one that only
    learned letter statistics invents many. Use ``set(words(training_text))``.
    """
    found = words(text)
    if not found:
        return float("nan")
    return sum(w in vocabulary for w in found) / len(found)


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; NaN for a single value)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_std: no values")
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, float("nan")
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var)
