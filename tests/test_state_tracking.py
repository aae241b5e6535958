"""Tests for rvt_lib.state_tracking: models, sampling, accuracy, training and the study table."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn

from rvt_lib.models.heads import KINDS
from rvt_lib.train import TrainConfig
from rvt_lib.state_tracking import (DEFAULT_SHIFT, TrackingConfig, batch_sampler, build_tracker, tracker_spec,
                                    evaluate_tracker, position_accuracy, predict_states,
                                    run_study, summarize, train_tracker)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread avoids thread start-up and contention on busy cores."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny(**kw):
    base = dict(task="parity", train_length=6, n_eval=32, d_model=16, n_head=2,
                train=TrainConfig(steps=3, batch_size=8, schedule="cosine"))
    base.update(kw)
    return TrackingConfig(**base)


class ParityOracle(nn.Module):
    """Predicts the running parity exactly (or its opposite, with flip=True)."""

    def __init__(self, flip=False):
        super().__init__()
        self.flip = flip
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):                                        # (B, L) ints
        parity = torch.cumsum(x, dim=1) % 2                      # (B, L)
        if self.flip:
            parity = 1 - parity
        return 10.0 * nn.functional.one_hot(parity, 2).float()   # (B, L, 2)


class Constant(nn.Module):
    """Always predicts state 0."""

    def forward(self, x):
        return torch.tensor([5.0, 0.0]).expand(*x.shape, 2)


# ----------------------------------------------------------------------------- config

def test_config_checks():
    with pytest.raises(ValueError, match="unknown task"):
        TrackingConfig(task="dyck")
    with pytest.raises(ValueError, match="eval_factors"):
        TrackingConfig(eval_factors=(2, 4))
    with pytest.raises(ValueError, match="train_length"):
        TrackingConfig(train_length=0)
    with pytest.raises(ValueError, match="steps"):
        TrackingConfig(train=TrainConfig(epochs=2))
    with pytest.raises(TypeError, match="unexpected keyword"):
        TrackingConfig(task="parity", task_kwargs={"n": 3})
    with pytest.raises(ValueError, match="probability"):
        TrackingConfig(task="parity", shift_kwargs={"p_one": 1.5})
    cfg = TrackingConfig(train_length=10, eval_factors=(4, 1, 2, 2))
    assert cfg.eval_factors == (1, 2, 4) and cfg.max_length == 40


def test_shift_defaults():
    assert TrackingConfig(task="parity").shift == DEFAULT_SHIFT["parity"]
    assert TrackingConfig(task="flipflop").shift == DEFAULT_SHIFT["flipflop"]
    assert TrackingConfig(task="cyclic").shift == {}
    assert TrackingConfig(task="parity", shift_kwargs={}).shift == {}
    assert TrackingConfig(task="parity", shift_kwargs={"p_one": 0.2}).shift == {"p_one": 0.2}


# ----------------------------------------------------------------------------- model

@pytest.mark.parametrize("kind", KINDS)
def test_build_tracker_every_kind(kind):
    cfg = tiny(task="flipflop")                                  # 3 inputs, 2 states
    torch.manual_seed(0)
    model = build_tracker(kind, cfg, n_layer=1, seed=0)
    x = torch.randint(0, 3, (2, cfg.max_length))                 # the longest test length
    out = model(x)
    assert out.shape == (2, cfg.max_length, 2)
    assert model.head.weight.shape == (2, cfg.d_model)
    assert model.head.weight is not model.embed.weight           # never tied
    assert model.head_kind == "tag" and not model.tied
    spec = tracker_spec(kind, cfg)
    assert spec.n_params() == sum(p.numel() for p in model.parameters())
    again = build_tracker(kind, cfg, n_layer=1, seed=0)         # the seed decides the weights
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters()))


def test_gpt_reads_up_to_max_length_only():
    cfg = tiny()
    model = build_tracker("gpt", cfg, n_layer=1)
    assert model.core.config.block_size == cfg.max_length
    with pytest.raises(ValueError):
        model(torch.zeros(1, cfg.max_length + 1, dtype=torch.long))


def test_build_tracker_bad_kind():
    with pytest.raises(ValueError, match="unknown kind"):
        build_tracker("mamba", tiny())


# ----------------------------------------------------------------------------- data

def test_batch_sampler_reproducible_and_fresh():
    cfg = tiny()
    s1, s2 = batch_sampler(cfg, seed=3), batch_sampler(cfg, seed=3)
    x1, y1 = s1()
    x2, y2 = s2()
    assert torch.equal(x1, x2) and torch.equal(y1, y2)          # same seed, same stream
    x3, _ = s1()
    assert not torch.equal(x1, x3)                               # a fresh batch each call
    assert x1.shape == (cfg.train.batch_size, cfg.train_length)
    assert torch.equal(y1, torch.cumsum(x1, dim=1) % 2)          # parity labels are right
    xl, _ = batch_sampler(cfg, seed=0, length=11, p_one=1.0)()
    assert xl.shape == (cfg.train.batch_size, 11) and bool((xl == 1).all())


# ----------------------------------------------------------------------------- accuracy

def test_position_accuracy_oracles():
    cfg = tiny()
    x, y = batch_sampler(cfg, seed=0, length=20)()
    assert np.array_equal(position_accuracy(ParityOracle(), x, y), np.ones(20))
    assert np.array_equal(position_accuracy(ParityOracle(flip=True), x, y), np.zeros(20))
    acc = position_accuracy(Constant(), x, y)
    assert np.allclose(acc, (y == 0).double().mean(dim=0).numpy())
    with pytest.raises(ValueError, match="shape"):
        position_accuracy(ParityOracle(), x, y[:, :5])


def test_predict_states_probabilities_and_mode():
    cfg = tiny()
    model = build_tracker("lstm", cfg)
    model.train()
    x, _ = batch_sampler(cfg)()
    p = predict_states(model, x, batch_size=3)                   # several batches
    assert p.shape == (cfg.train.batch_size, cfg.train_length, 2)
    assert torch.allclose(p.sum(-1), torch.ones(p.shape[:2]))
    assert model.training                                        # mode restored
    with pytest.raises(ValueError, match=r"\(N, L\)"):
        predict_states(model, x[0])


def test_evaluate_tracker_tests_and_lengths():
    cfg = tiny()
    curves = evaluate_tracker(ParityOracle(), cfg, seed=0)
    assert set(curves) == {"T", "2T", "4T", "shift"}
    assert [len(curves[k]) for k in ("T", "2T", "4T", "shift")] == [6, 12, 24, 6]
    assert all(np.all(c == 1.0) for c in curves.values())
    cyc = tiny(task="cyclic", n_eval=4)                          # no distribution to shift
    assert set(evaluate_tracker(build_tracker("lstm", cyc), cyc, seed=0)) == {"T", "2T", "4T"}


# ----------------------------------------------------------------------------- training

def test_lstm_learns_parity_and_extrapolates():
    cfg = TrackingConfig(task="parity", train_length=8, n_eval=128, d_model=16, n_head=2,
                         train=TrainConfig(steps=150, batch_size=32, lr=1e-2, warmup=10, schedule="cosine"))
    model, hist = train_tracker("lstm", cfg, seed=0)
    curves = evaluate_tracker(model, cfg, seed=0)
    assert hist.steps_done == 150
    assert curves["T"].mean() > 0.95
    assert curves["4T"][-8:].mean() > 0.9                       # far beyond the training length


def test_run_study_table_and_determinism():
    cfg = tiny()
    models = {"LSTM": dict(kind="lstm"), "GPT-1": dict(kind="gpt", n_layer=1)}
    a = run_study(models, cfg, seeds=[0, 1])
    b = run_study(models, cfg, seeds=[0, 1], keep_models=False)
    s = a.summary
    assert list(s["model"]) == ["LSTM", "LSTM", "GPT-1", "GPT-1"]
    assert {"acc_T", "acc_2T", "acc_4T", "acc_shift", "params", "train_s", "final_loss"} <= set(s.columns)
    cols = ["acc_T", "acc_2T", "acc_4T", "acc_shift", "final_loss"]
    pd.testing.assert_frame_equal(s[cols], b.summary[cols])      # same seeds, same numbers
    assert set(a.models) == {("LSTM", 0), ("LSTM", 1), ("GPT-1", 0), ("GPT-1", 1)} and not b.models
    # the acc_* columns are the mean accuracy over the last T positions of each test
    c = a.curves
    one = c[(c.model == "GPT-1") & (c.seed == 1) & (c.test == "4T")]
    assert len(one) == 24 and list(one.position) == list(range(1, 25))
    assert np.isclose(one.accuracy.values[-6:].mean(), s[(s.model == "GPT-1") & (s.seed == 1)].acc_4T.item())
    with pytest.raises(ValueError, match="kind"):
        run_study({"x": dict(n_layer=1)}, cfg, seeds=[0])


def test_summarize_mean_and_std():
    df = pd.DataFrame({"model": ["a", "a", "b"], "seed": [0, 1, 0],
                       "acc_T": [1.0, 0.5, 0.25], "acc_shift": [np.nan, np.nan, np.nan]})
    out = summarize(df, digits=2)
    assert out.loc["a", "T"] == f"0.75 ± {np.std([1.0, 0.5], ddof=1):.2f}"
    assert out.loc["b", "T"] == "0.25"                           # one seed: no ±
    assert out.loc["a", "shift"] == "n/a"
    assert list(out["seeds"]) == [2, 1]
    with pytest.raises(ValueError):
        summarize(pd.DataFrame({"model": ["a"]}))
