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
with :func:`rvt_lib.stats.verdict_claim`, Holm-adjusted).

    splits = split_text(load_shakespeare())
    task = lm_task(splits, block_size=64, batch_size=16, val_batches=8, test_windows=256)
    specs = mixer_specs(["gpt", "lstm", "minlstm"], ModelSpec("gpt", vocab_size=65, d_model=64,
                                                               n_layer=2, block_size=64))
    res = run_study(specs, task, TrainConfig(steps=300), seeds=(0, 1, 2), lr_grid=(1e-3, 3e-3, 1e-2))
    lr_sensitivity(res.tuning); curve_table(res); ranking_claim(res, ["GPT", "minLSTM block", "LSTM block"])
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from rvt_lib import stats
from rvt_lib.models.heads import ModelSpec, match_parameters
from rvt_lib.runner import StudyResult, Task, score_classes

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


# ----------------------------------------------------------------------------- summaries

def lr_sensitivity(tuning: pd.DataFrame) -> pd.DataFrame:
    """How much each model's validation loss moves over its learning-rate grid.

    One row per model: the chosen lr, the best and worst validation loss over the grid
    (mean over tune seeds; a diverged lr counts in ``diverged``, not in the worst), and
    ``spread`` = worst - best: the price of a learning rate one grid step or more off.
    Also ``spread_neighbours``: the larger gap between the chosen lr and its grid neighbours
    (inf when a neighbour diverged, NaN for a one-point grid).
    """
    need = {"model", "lr", "val_loss", "diverged", "chosen"}
    if not need <= set(tuning.columns):
        raise ValueError(f"lr_sensitivity: tuning needs columns {sorted(need)}, got {list(tuning.columns)}")
    rows = []
    for model, g in tuning.groupby("model", sort=False):
        by_lr = g.groupby("lr").agg(val_loss=("val_loss", "mean"), diverged=("diverged", "any")).sort_index()
        ok = by_lr[~by_lr.diverged & np.isfinite(by_lr.val_loss)]
        chosen = float(g.loc[g.chosen, "lr"].iloc[0])
        i = list(by_lr.index).index(chosen)
        neighbours = [math.inf if by_lr.diverged.iloc[j] or not math.isfinite(by_lr.val_loss.iloc[j])
                      else by_lr.val_loss.iloc[j] for j in (i - 1, i + 1) if 0 <= j < len(by_lr)]
        gap = max((v - by_lr.val_loss.iloc[i] for v in neighbours), default=math.nan)
        rows.append({"model": model, "chosen lr": chosen, "best val loss": ok.val_loss.min(),
                     "worst val loss": ok.val_loss.max(), "spread": ok.val_loss.max() - ok.val_loss.min(),
                     "spread_neighbours": gap,
                     "diverged": int(by_lr.diverged.sum())})
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
