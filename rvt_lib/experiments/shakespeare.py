"""Tiny Shakespeare under the study protocol: the backend of ``book/part3_experiments/shakespeare``.

The chapter compares character-level language models whose only difference is the
sequence-mixing layer. Everything else is shared and fixed here:

* **Splits.** The text is cut once, contiguously, into train / validation / test
  (:func:`split_text`, 80/10/10 by default): the learning rate is chosen on validation,
  the test split is read once, by :func:`rvt_lib.runner.run_study`.
* **Windows.** Training draws random windows (seeded by ``fit``); validation uses a fixed
  list of random windows; the test split is tiled into *non-overlapping* windows
  (:func:`tiled_windows`), the same for every model, so that per-window test losses can
  be compared model against model (a paired bootstrap over windows).
* **Sizes.** Every mixer sits in the same pre-norm residual block with an MLP as the GPT
  (``block="residual"``) and gets the width that matches the reference's parameter
  count (:func:`mixer_specs`).

The summaries a chapter needs beyond ``run_study``'s own tables are here as well:
:func:`lr_sensitivity` (how much the validation loss moves over the learning-rate grid),
:func:`curve_table` (steps to best, train next to validation loss, best validation loss
within a time budget) and :func:`ranking_claim` (a source's ranking checked pair by pair
with :func:`rvt_lib.stats.verdict_claim`, Holm-adjusted). Speed is measured apart from
learning (:func:`training_tokens_per_second`, :func:`generation_tokens_per_second`,
:func:`mode_speeds`), and samples are read with :func:`sample` and
:func:`known_word_fraction`. Beyond the training window: :func:`stream_losses` (the
validation text read in chunks, windowed or with the state carried, per chunk or per
position) and :func:`retrain_at_window` (the models trained again on longer windows).

    splits = split_text(load_shakespeare())
    task = lm_task(splits, block_size=64, batch_size=16, val_batches=8, test_windows=256)
    specs = mixer_specs(["gpt", "lstm", "minlstm"], ModelSpec("gpt", vocab_size=65, d_model=64,
                                                               n_layer=2, block_size=64))
    res = run_study(specs, task, TrainConfig(steps=300), seeds=(0, 1, 2), lr_grid=(1e-3, 3e-3, 1e-2))
    lr_sensitivity(res.tuning); curve_table(res); ranking_claim(res, ["GPT", "minLSTM block", "LSTM block"])
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from rvt_lib import stats
from rvt_lib.measure import time_fn
from rvt_lib.models.gpt import GPT
from rvt_lib.models.heads import ModelSpec, SequenceModel, match_parameters
from rvt_lib.runner import StudyResult, Task, run_study, score_classes
from rvt_lib.train import _model_device, make_optimizer

VAL_SEED = 1234   # the validation windows are drawn with this seed, the same for every run
UNIT = "nats/char"


def _positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


# ----------------------------------------------------------------------------- data

@dataclass(frozen=True)
class TextSplits:
    """A text's ids cut contiguously into train / val / test (1-D int64 tensors)."""
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    vocab_size: int

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def split_text(ds, fractions=(0.8, 0.1, 0.1)) -> TextSplits:
    """Cut the whole text of ``ds`` (a :class:`rvt_lib.data.text.CharDataset`) into three
    contiguous parts, in order: the first ``fractions[0]`` for training, then validation,
    then test. Contiguous, so no window of one split overlaps another split's text."""
    if len(fractions) != 3 or any(not f > 0 for f in fractions) or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"split_text: fractions must be three positive numbers summing to 1, got {fractions!r}")
    data = torch.cat([ds.train, ds.val])                       # (N,) the whole text, in order
    n = len(data)
    a, b = int(fractions[0] * n), int((fractions[0] + fractions[1]) * n)
    return TextSplits(data[:a], data[a:b], data[b:], ds.vocab_size)


def _check_block(data: torch.Tensor, block_size: int, what: str) -> None:
    _positive_int("block_size", block_size)
    if block_size + 1 > len(data):
        raise ValueError(f"{what}: block_size={block_size} needs at least {block_size + 1} ids, the split has {len(data)}")


def window_sampler(data: torch.Tensor, batch_size: int, block_size: int):
    """A zero-argument callable: ``batch_size`` random windows ``(x, y)``, each (B, T), with
    ``y`` the next characters. It draws from torch's global generator, which ``fit`` seeds."""
    _positive_int("batch_size", batch_size)
    _check_block(data, block_size, "window_sampler")

    def sample():
        starts = torch.randint(len(data) - block_size, (batch_size,))          # (B,)
        offsets = starts[:, None] + torch.arange(block_size)[None, :]          # (B, T)
        return data[offsets], data[offsets + 1]
    return sample


def fixed_windows(data: torch.Tensor, n_batches: int, batch_size: int, block_size: int,
                  seed: int = VAL_SEED) -> list:
    """``n_batches`` batches of random windows drawn once with ``seed``: a fixed list."""
    _positive_int("n_batches", n_batches)
    _positive_int("batch_size", batch_size)
    _check_block(data, block_size, "fixed_windows")
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        starts = torch.randint(len(data) - block_size, (batch_size,), generator=gen)
        offsets = starts[:, None] + torch.arange(block_size)[None, :]
        out.append((data[offsets], data[offsets + 1]))
    return out


def tiled_windows(data: torch.Tensor, block_size: int, batch_size: int, max_windows: int | None = None) -> list:
    """The split cut into non-overlapping windows (every ``block_size`` characters), in
    text order; with ``max_windows``, that many of them spread evenly over the split.
    Returned as a fixed list of ``(x, y)`` batches of at most ``batch_size`` windows."""
    _positive_int("batch_size", batch_size)
    _check_block(data, block_size, "tiled_windows")
    starts = torch.arange(0, len(data) - block_size, block_size)               # (W,)
    if max_windows is not None:
        _positive_int("max_windows", max_windows)
        if max_windows < len(starts):
            starts = starts[torch.linspace(0, len(starts) - 1, max_windows).round().long()]
    offsets = starts[:, None] + torch.arange(block_size)[None, :]              # (W, T)
    x, y = data[offsets], data[offsets + 1]
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]


def lm_task(splits: TextSplits, *, block_size: int, batch_size: int, val_batches: int,
            test_windows: int | None = None, name: str = "Tiny Shakespeare") -> Task:
    """The language-modelling :class:`rvt_lib.runner.Task`: random training windows, fixed
    validation windows, non-overlapping test windows; scored with per-window cross-entropy."""
    if not isinstance(splits, TextSplits):
        raise TypeError(f"lm_task: splits must be a TextSplits (see split_text), got {type(splits).__name__}")
    return Task(name,
                train=window_sampler(splits.train, batch_size, block_size),
                val=fixed_windows(splits.val, val_batches, batch_size, block_size),
                test=tiled_windows(splits.test, block_size, max(batch_size, 64), test_windows),
                score=score_classes)


# ----------------------------------------------------------------------------- models

def mixer_specs(kinds, reference: ModelSpec, *, block: str = "residual", tol: float = 0.05) -> dict[str, ModelSpec]:
    """``{name: spec}``: each kind in ``block`` (the GPT is its own block), at the width
    whose parameter count is closest to ``reference``'s. Names are ``spec.name``
    ("GPT", "LSTM block", ... or "LSTM" for bare stacks)."""
    kinds = list(kinds)
    if not kinds:
        raise ValueError("mixer_specs: give at least one kind")
    target = reference.n_params()
    out = {}
    for kind in kinds:
        spec = reference.but(kind=kind) if kind == "gpt" else reference.but(kind=kind, block=block)
        spec = match_parameters(spec, target, tol=tol)
        out[spec.name] = spec
    return out


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



# ----------------------------------------------------------------------------- context

def stream_losses(model: SequenceModel, data: torch.Tensor, block_size: int, *, stateful: bool,
                  n_streams: int = 16, per_position: bool = False) -> np.ndarray:
    """Next-character loss over a contiguous text, read in chunks of ``block_size``.

    The text is cut into ``n_streams`` contiguous streams read side by side, chunk after
    chunk. ``stateful=False``: every chunk starts from a fresh state (what a model trained
    on windows of ``block_size`` sees). ``stateful=True``: the core's state is carried
    from one chunk of a stream to the next, so the recurrent model reads its whole stream
    with unbounded context at the cost of a fixed-size state (the GPT has none to carry:
    its cache would outgrow its learned positions, so it is refused).
    Returns the mean loss of every chunk, (n_streams, n_chunks), the same layout for both
    modes so that they pair chunk by chunk; ``per_position=True``: the loss at every
    position of every chunk, (n_streams, n_chunks, block_size). Windowed, position t of a
    chunk predicts its character t + 1 from t + 1 characters of context, so the mean over
    chunks is the loss against context; and since the streams are cut at multiples of
    ``block_size``, the chunks are the text's non-overlapping windows.
    """
    _positive_int("n_streams", n_streams)
    _check_block(data, block_size, "stream_losses")
    if stateful and isinstance(model.core, GPT):
        raise ValueError("stream_losses: a GPT has no fixed-size state to carry between chunks "
                         "(use stateful=False)")
    n_chunks = (len(data) - 1) // (n_streams * block_size)
    if n_chunks < 1:
        raise ValueError(f"stream_losses: {len(data):,} characters are too few for {n_streams} streams "
                         f"of at least one chunk of {block_size}")
    L = n_chunks * block_size
    x_all = data[:n_streams * L].view(n_streams, L)                              # (S, L)
    y_all = data[1:n_streams * L + 1].view(n_streams, L)                         # (S, L)
    device = _model_device(model)
    was_training = model.training
    model.eval()
    state, out = None, []
    try:
        with torch.no_grad():
            for c in range(n_chunks):
                part = slice(c * block_size, (c + 1) * block_size)
                logits, new_state = model(x_all[:, part].to(device), state=state, return_state=True)
                state = new_state if stateful else None
                loss = torch.nn.functional.cross_entropy(logits.float().cpu().transpose(1, 2), y_all[:, part],
                                                         reduction="none")          # (S, T)
                out.append(loss if per_position else loss.mean(1))                 # (S, T) or (S,)
    finally:
        model.train(was_training)
    return torch.stack(out, dim=1).numpy()                              # (S, n_chunks[, T])




def retrain_at_window(specs: dict, lrs: dict, splits: TextSplits, config, *, block_size: int,
                      batch_size: int, val_batches: int, test_windows: int | None, seeds,
                      trainer=None) -> dict:
    """``{name: StudyResult}``: every model trained again on windows of ``block_size``.

    Each model keeps the learning rate of ``lrs[name]`` (chosen on validation by an
    earlier study) and trains every seed with it (one ``run_study`` per model, all seeds
    in one group, so a seed-batching ``trainer`` batches them); the GPT's position table
    grows to the new window. Scored on the test split tiled into windows of the new size.
    """
    _positive_int("block_size", block_size)
    _positive_int("batch_size", batch_size)
    missing = [n for n in specs if n not in lrs]
    if missing:
        raise ValueError(f"retrain_at_window: no learning rate for {missing}")
    cfg = config.but(batch_size=batch_size)
    out = {}
    for name, spec in specs.items():
        spec = spec.but(block_size=block_size) if spec.kind == "gpt" else spec
        task = lm_task(splits, block_size=block_size, batch_size=batch_size, val_batches=val_batches,
                       test_windows=test_windows, name=f"windows of {block_size}")
        out[name] = run_study({name: spec}, task, cfg, seeds=seeds, lr_grid=(lrs[name],),
                              tune_seeds=seeds, measure_cost=False, trainer=trainer, progress=False)
    return out


# ----------------------------------------------------------------------------- summaries

def lr_sensitivity(tuning: pd.DataFrame) -> pd.DataFrame:
    """How much each model's validation loss moves over its learning-rate grid.

    One row per model: the chosen lr, the best and worst validation loss over the grid
    (mean over tune seeds; a diverged lr counts in ``diverged``, not in the worst), and
    ``spread`` = worst - best: the price of a learning rate one grid step or more off.
    When the runner grew some models' grids (``run_study(extend=...)``: the tuning table's
    ``extended`` column), best, worst, spread and ``diverged`` are taken over the starting
    grid alone, which every model shares, so that spreads compare like with like.
    Also ``spread_neighbours``: the larger gap between the chosen lr and its neighbours
    among all the rates tried (inf when a neighbour diverged, NaN for a one-point grid).
    """
    need = {"model", "lr", "val_loss", "diverged", "chosen"}
    if not need <= set(tuning.columns):
        raise ValueError(f"lr_sensitivity: tuning needs columns {sorted(need)}, got {list(tuning.columns)}")
    rows = []
    for model, g in tuning.groupby("model", sort=False):
        by_lr = g.groupby("lr").agg(val_loss=("val_loss", "mean"), diverged=("diverged", "any")).sort_index()
        start = by_lr if "extended" not in g else by_lr.loc[sorted(set(g.loc[~g.extended, "lr"]))]
        ok = start[~start.diverged & np.isfinite(start.val_loss)]
        chosen = float(g.loc[g.chosen, "lr"].iloc[0])
        i = list(by_lr.index).index(chosen)
        neighbours = [math.inf if by_lr.diverged.iloc[j] or not math.isfinite(by_lr.val_loss.iloc[j])
                      else by_lr.val_loss.iloc[j] for j in (i - 1, i + 1) if 0 <= j < len(by_lr)]
        gap = max((v - by_lr.val_loss.iloc[i] for v in neighbours), default=math.nan)
        rows.append({"model": model, "chosen lr": chosen, "best val loss": ok.val_loss.min(),
                     "worst val loss": ok.val_loss.max(), "spread": ok.val_loss.max() - ok.val_loss.min(),
                     "spread_neighbours": gap,
                     "diverged": int(start.diverged.sum())})
    return pd.DataFrame(rows).set_index("model")


def best_val_within(history, seconds: float) -> float:
    """The lowest validation loss evaluated within ``seconds`` of training (NaN if none was)."""
    losses = [v for v, s in zip(history.val_loss, history.val_seconds) if s <= seconds]
    return min(losses) if losses else float("nan")


def final_train_loss(history, fraction: float = 0.1) -> float:
    """The mean training loss over the last ``fraction`` of the updates (a smoothed final value)."""
    n = max(1, int(round(fraction * len(history.train_loss))))
    return float(np.mean(history.train_loss[-n:])) if history.train_loss else float("nan")


def curve_table(result: StudyResult, seconds: float | None = None) -> pd.DataFrame:
    """Per model, mean over its seeds: final train and validation loss, the gap, best
    validation loss and the step it came at, and (with ``seconds``) the best validation
    loss within that many training seconds."""
    rows = []
    for (model, seed), h in result.histories.items():
        row = {"model": model, "seed": seed, "final train loss": final_train_loss(h),
               "final val loss": h.val_loss[-1], "best val loss": h.best_val,
               "steps to best": h.best_step, "train seconds": h.train_time_s}
        row["val - train"] = row["final val loss"] - row["final train loss"]
        if seconds is not None:
            row[f"best val within {seconds:.0f} s"] = best_val_within(h, seconds)
        rows.append(row)
    df = pd.DataFrame(rows)
    return df.drop(columns="seed").groupby("model", sort=False).mean()


def ranking_claim(result: StudyResult, order, *, alpha: float = 0.05, n_boot: int = 2000):
    """A source's ranking ``order[0] < order[1] < ...`` (best first), checked on the test split.

    Each adjacent pair is compared with :meth:`StudyResult.compare` (paired bootstrap over
    the per-window test losses, seeds averaged), the p-values are Holm-adjusted, and each
    claim "better beats worse" goes through :func:`rvt_lib.stats.verdict_claim`
    (``wording="replication"``). Returns ``(outcome, verdicts)``: the ranking is
    ``confirmed`` when every pair is, ``refuted`` when any pair is reversed, else ``qualified``.
    """
    order = list(order)
    if len(order) < 2 or len(set(order)) != len(order):
        raise ValueError(f"ranking_claim: order must name at least two different models, got {order!r}")
    pairs = list(zip(order[:-1], order[1:]))
    tests = [result.compare(a, b, "loss", lower_is_better=True, n_boot=n_boot).test for a, b in pairs]
    p_adj = stats.holm([t.p_value for t in tests])
    verdicts = [stats.verdict_claim(t, a, b, True, wording="replication", lower_is_better=True,
                                    p_value=float(p), alpha=alpha, unit=UNIT, items="test windows")
                for t, (a, b), p in zip(tests, pairs, p_adj)]
    confirmed, qualified, refuted = stats.REPLICATION_WORDS
    claims = [v.claim for v in verdicts]
    outcome = refuted if refuted in claims else confirmed if all(c == confirmed for c in claims) else qualified
    return outcome, verdicts


# ----------------------------------------------------------------------------- speed

def _batch_sampler(ds, split: str, batch_size: int, block_size: int, seed: int):
    """A zero-argument callable returning ``(x, y)`` windows from ``ds``, drawn by its own
    generator seeded with ``seed``: the same sequence of batches on every call of this."""
    gen = torch.Generator().manual_seed(seed)
    return lambda: ds.get_batch(split, batch_size, block_size, generator=gen)


def training_tokens_per_second(model: torch.nn.Module, ds, *, batch_size: int, block_size: int,
                               repeats: int = 3, warmup: int = 1, seed: int = 0) -> float:
    """Training throughput: tokens per second of full AdamW steps on one fixed batch.

    A step is forward, cross-entropy, backward, gradient clipping and the optimiser update.
    The timing runs on a *copy* of ``model`` (the steps change the weights), in train mode.
    """
    _positive_int("repeats", repeats)
    x, y = _batch_sampler(ds, "train", batch_size, block_size, seed)()
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
