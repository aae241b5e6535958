"""Character-level language models, compared fairly: same size, same data, same budget.

A race between architectures is easy to rig without meaning to. A wider model, a longer
run, a luckier batch order or a kinder learning rate can each decide the winner. This
module fixes what can be fixed, so that the remaining differences belong to the models:

1. **Same number of parameters.** Each kind gets its own width ``d_model``, searched so
   that its trainable parameter count lands as close as possible to one target
   (:func:`match_width`). Widths differ a lot, because a layer's cost in parameters does:

       GPT block       ~ 12 d^2     (attention 4 d^2 + MLP 8 d^2)
       LSTM layer      ~  8 d^2     (four gates, input and hidden weights)
       GRU layer       ~  6 d^2
       minLSTM layer   ~  3 d^2     (three maps of the input only)
       minGRU layer    ~  2 d^2

   plus the embedding and output matrices (``vocab_size * d`` each; the GPT ties them).

2. **Same training budget.** Every model takes the same number of optimiser steps on the
   same batches (one seeded generator per run draws the windows), with the same batch and
   block size, the same AdamW settings, warmup and cosine schedule, and is evaluated on
   the same validation windows. Only the peak learning rate may differ per kind, and
   only because it was tuned once per kind and is reported (:class:`TrainConfig`).

3. **Steps and seconds.** A model that learns more per step may still lose per second.
   :func:`train_lm` records both (``History.val_steps`` and ``History.val_seconds``), and
   :func:`training_tokens_per_second` / :func:`generation_tokens_per_second` measure raw
   speed separately from learning.

    specs = matched_specs(["gpt", "lstm", "mingru"], target_params=400_000, n_layer=4,
                          block_size=64)
    spec_table(specs)                                  # kind, width, layers, parameters
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

from rvt_lib.measure import count_parameters, time_fn
from rvt_lib.models.heads import KINDS, SequenceModel, make_model
from rvt_lib.train import History, fit, make_optimizer, set_seed

# How each kind is written in tables and legends.
KIND_NAMES = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM", "mingru": "minGRU",
              "minlstm": "minLSTM", "gpt": "GPT"}

VAL_SEED = 1234  # the validation windows are drawn with this seed for every run


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(KINDS)}")


def _positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


# ----------------------------------------------------------------------------- model sizes

@dataclass
class LMSpec:
    """Everything needed to build one character-level language model.

    ``d_model`` is the width of the core (the GPT's residual stream, the recurrent
    models' hidden state, which also equals their embedding size). ``n_head`` and
    ``block_size`` matter to the GPT only (its number of heads and of learned positions),
    ``mode`` to minGRU/minLSTM only (``"parallel"`` scan or ``"sequential"`` loop).
    """
    kind: str
    d_model: int
    n_layer: int
    vocab_size: int = 65
    n_head: int = 4
    block_size: int = 128
    dropout: float = 0.0
    mode: str = "parallel"

    def __post_init__(self):
        _check_kind(self.kind)
        for name in ("d_model", "n_layer", "vocab_size", "n_head", "block_size"):
            _positive_int(name, getattr(self, name))
        if self.kind == "gpt" and self.d_model % self.n_head:
            raise ValueError(f"LMSpec: the GPT's d_model={self.d_model} must be divisible "
                             f"by n_head={self.n_head}")

    @property
    def name(self) -> str:
        return KIND_NAMES[self.kind]

    def build(self) -> SequenceModel:
        """A freshly initialised model (call ``set_seed`` first for repeatable weights)."""
        return make_model(self.kind, vocab_size=self.vocab_size, d_model=self.d_model,
                          n_layer=self.n_layer, n_head=self.n_head, block_size=self.block_size,
                          head="lm", dropout=self.dropout, mode=self.mode)

    @property
    def params(self) -> int:
        """Trainable parameters, counted on a model built on the ``meta`` device (no memory)."""
        with torch.device("meta"):
            return count_parameters(self.build())

    def state_floats(self, context: int) -> int:
        """Numbers a generating model carries per sequence after ``context`` tokens.

        Recurrent kinds: one hidden vector per layer (the LSTM two: ``h`` and ``c``),
        whatever the context. GPT: a key and a value vector per layer and per position
        kept in the cache, i.e. growing with the context up to ``block_size``.
        """
        _positive_int("context", context)
        if self.kind == "gpt":
            return 2 * self.n_layer * min(context, self.block_size) * self.d_model
        per_layer = 2 if self.kind == "lstm" else 1
        return per_layer * self.n_layer * self.d_model


def count_lm_parameters(kind: str, d_model: int, *, n_layer: int, vocab_size: int = 65,
                        n_head: int = 4, block_size: int = 128) -> int:
    """Trainable parameters of ``make_model(kind, ...)`` with an LM head (nothing allocated)."""
    return LMSpec(kind, d_model, n_layer, vocab_size=vocab_size, n_head=n_head,
                  block_size=block_size).params


def match_width(kind: str, target_params: int, *, n_layer: int, vocab_size: int = 65,
                n_head: int = 4, block_size: int = 128, multiple: int | None = None,
                **spec_kwargs) -> LMSpec:
    """The :class:`LMSpec` of ``kind`` whose parameter count is closest to ``target_params``.

    Every weight matrix of these models is ``d x d``, ``d x vocab`` or ``d x positions``,
    so the count is a quadratic in the width, ``P(d) = a d^2 + b d + c``. Three exact
    counts (at widths ``m``, ``2m``, ``3m``) give ``a, b, c``; the positive root of
    ``P(d) = target`` is rounded down and up to a multiple of ``m``, and of those two widths
    the one whose *actual* count lands closer wins. ``multiple`` (``m``) defaults to
    ``n_head`` for the GPT (every head needs the same integer width) and 1 otherwise.
    Neighbouring widths differ by about ``2 m / d`` in relative count: that bounds the gap.
    """
    _check_kind(kind)
    _positive_int("target_params", target_params)
    _positive_int("n_layer", n_layer)
    m = (n_head if kind == "gpt" else 1) if multiple is None else multiple
    _positive_int("multiple", m)
    if kind == "gpt" and m % n_head:
        raise ValueError(f"match_width: multiple={m} must be a multiple of n_head={n_head}")

    def spec(units: int) -> LMSpec:
        return LMSpec(kind, units * m, n_layer, vocab_size=vocab_size, n_head=n_head,
                      block_size=block_size, **spec_kwargs)

    # P(u) = a u^2 + b u + c in units of m, from the counts at u = 1, 2, 3
    p1, p2, p3 = (spec(u).params for u in (1, 2, 3))
    a = (p3 - 2 * p2 + p1) / 2
    b = (p2 - p1) - 3 * a
    c = p1 - a - b
    if target_params <= p1:
        return spec(1)
    if a > 0:
        root = (-b + math.sqrt(b * b - 4 * a * (c - target_params))) / (2 * a)
    else:  # linear in the width (not the case for these models, but exact if it were)
        root = (target_params - c) / b
    candidates = [spec(u) for u in sorted({max(1, math.floor(root)), max(1, math.ceil(root))})]
    return min(candidates, key=lambda s: abs(s.params - target_params))


def matched_specs(kinds, target_params: int, *, n_layer, **kwargs) -> dict[str, LMSpec]:
    """One width-matched :class:`LMSpec` per kind (see :func:`match_width`).

    ``n_layer`` is one int for every kind, or a dict ``kind -> layers``.
    """
    kinds = list(kinds)
    if not kinds:
        raise ValueError("matched_specs: give at least one kind")
    layers = n_layer if isinstance(n_layer, dict) else {k: n_layer for k in kinds}
    missing = [k for k in kinds if k not in layers]
    if missing:
        raise ValueError(f"matched_specs: n_layer has no entry for {missing}")
    return {k: match_width(k, target_params, n_layer=layers[k], **kwargs) for k in kinds}


def spec_table(specs: dict, target_params: int | None = None):
    """A DataFrame with one row per model: width, layers, parameters and the gap to the target."""
    import pandas as pd

    rows = []
    for spec in specs.values():
        row = {"model": spec.name, "d_model": spec.d_model, "layers": spec.n_layer,
               "parameters": spec.params}
        if target_params is not None:
            row["vs target (%)"] = round(100.0 * (row["parameters"] / target_params - 1.0), 2)
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


# ----------------------------------------------------------------------------- training

@dataclass
class TrainConfig:
    """One training budget, shared by every model in a comparison.

    ``lr`` is the default peak learning rate; :func:`train_run` may override it per kind
    (a tuned value, reported with the results). The schedule is linear warmup over
    ``warmup`` steps, then a cosine down to ``min_lr_ratio * lr`` at the last step.
    Validation: every ``eval_every`` steps, the mean loss over the same ``eval_batches``
    windows (drawn once, with :data:`VAL_SEED`).
    """
    steps: int
    batch_size: int
    block_size: int
    lr: float = 3e-3
    warmup: int = 100
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    betas: tuple = (0.9, 0.99)
    clip: float = 1.0
    eval_every: int | None = None    # default: steps // 10 (ten points per curve)
    eval_batches: int = 10

    def __post_init__(self):
        for name in ("steps", "batch_size", "block_size", "eval_batches"):
            _positive_int(name, getattr(self, name))
        if self.eval_every is None:
            self.eval_every = max(1, self.steps // 10)
        _positive_int("eval_every", self.eval_every)
        if not self.lr > 0:
            raise ValueError(f"TrainConfig: lr must be > 0, got {self.lr}")

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.block_size


def batch_sampler(ds, split: str, batch_size: int, block_size: int, seed: int):
    """A zero-argument callable returning ``(x, y)`` windows from ``ds``, drawn by its own
    generator seeded with ``seed``: the same sequence of batches on every call of this."""
    gen = torch.Generator().manual_seed(seed)
    return lambda: ds.get_batch(split, batch_size, block_size, generator=gen)


def train_lm(model: torch.nn.Module, ds, cfg: TrainConfig, *, lr: float | None = None,
             seed: int = 0, progress=None) -> History:
    """Train ``model`` on ``ds`` (a :class:`rvt_lib.data.text.CharDataset`) for ``cfg.steps``.

    The training windows come from a generator seeded with ``seed`` (the same batches for
    every model trained with the same seed); the validation windows from one seeded with
    :data:`VAL_SEED` (the same for every run). Returns :func:`rvt_lib.train.fit`'s History:
    validation losses against steps and against training seconds (evaluation excluded).
    """
    return fit(model, batch_sampler(ds, "train", cfg.batch_size, cfg.block_size, seed),
               val=batch_sampler(ds, "val", cfg.batch_size, cfg.block_size, VAL_SEED),
               steps=cfg.steps, lr=cfg.lr if lr is None else lr, weight_decay=cfg.weight_decay,
               betas=cfg.betas, clip=cfg.clip, warmup=cfg.warmup, schedule="cosine",
               min_lr_ratio=cfg.min_lr_ratio, eval_every=cfg.eval_every,
               eval_batches=cfg.eval_batches, seed=seed, progress=progress)


@dataclass
class LMRun:
    """One trained model with its spec, learning rate, seed and History."""
    spec: LMSpec
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


def train_run(spec: LMSpec, ds, cfg: TrainConfig, *, lr: float | None = None, seed: int = 0,
              progress=None) -> LMRun:
    """Build ``spec`` with weights drawn from ``seed``, train it with :func:`train_lm`."""
    if spec.block_size < cfg.block_size:
        raise ValueError(f"train_run: the model's block_size={spec.block_size} is shorter than "
                         f"the training windows ({cfg.block_size})")
    set_seed(seed)
    model = spec.build()
    lr = cfg.lr if lr is None else lr
    history = train_lm(model, ds, cfg, lr=lr, seed=seed, progress=progress)
    return LMRun(spec, lr, seed, model, history)


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


def results_table(runs: dict, cfg: TrainConfig | None = None):
    """One row per run: size, learning rate, training time, tokens/s, final and best val loss."""
    import pandas as pd

    rows = []
    for run in runs.values():
        h = run.history
        row = {"model": run.spec.name, "parameters": run.spec.params, "lr": run.lr,
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


def mode_speeds(spec: LMSpec, ds, *, batch_size: int, block_size: int, repeats: int = 3,
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
        model = replace(spec, mode=mode).build()
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
