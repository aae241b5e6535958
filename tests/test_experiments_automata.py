"""Tests for rvt_lib.experiments.automata: the heatmap (task, scores, specs, verdict rule) and the
original tracking runner (models, sampling, accuracy, training, the study table)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from rvt_lib.experiments import automata as H
from rvt_lib.experiments.automata import (DEFAULT_SHIFT, TrackingConfig, batch_sampler, build_tracker, tracker_spec,
                                          evaluate_tracker, position_accuracy, predict_states,
                                          run_tracking_study, train_tracker)
from rvt_lib.models.heads import KINDS
from rvt_lib.train import TrainConfig

TINY = H.HeatmapConfig(train_length=4, train=TrainConfig(steps=3, batch_size=8, lr=1e-3, warmup=1),
                       n_val=8, n_test=8, seeds=(0, 1), eval_batch=8)


class Oracle(torch.nn.Module):
    """Returns the true states as logits, wrong (state + 1) at positions listed in ``wrong``."""

    def __init__(self, lookup: dict, n_states: int, wrong=()):
        super().__init__()
        self.lookup, self.n, self.wrong = lookup, n_states, list(wrong)

    def forward(self, x):
        y = self.lookup[x.shape[1]].clone()                  # (B, L)
        y[:, self.wrong] = (y[:, self.wrong] + 1) % self.n
        return F.one_hot(y, self.n).float()                  # (B, L, n)


def test_score_counts_the_last_T_positions_of_every_length():
    from rvt_lib.data.automata import make_task
    T = 4
    x1, y1 = make_task("parity", 5, T, seed=0)
    x4, y4 = make_task("parity", 5, 4 * T, seed=1)
    data = [(x1, y1), (x4, y4)]
    score = H.score_tracking(T)
    perfect = score(Oracle({T: y1, 4 * T: y4}, 2), data)
    assert perfect.metrics == {"acc_1T": 1.0, "acc_4T": 1.0}
    assert perfect.per_item["correct"].shape == (5,)          # one item per longest sequence
    # wrong at position 0 only: the 4T score ignores it (not in the last T), the 1T score does not
    first_wrong = score(Oracle({T: y1, 4 * T: y4}, 2, wrong=[0]), data)
    assert first_wrong.metrics["acc_4T"] == 1.0
    assert first_wrong.metrics["acc_1T"] == pytest.approx(1 - 1 / T)
    last_wrong = score(Oracle({T: y1, 4 * T: y4}, 2, wrong=[-1]), data)
    assert last_wrong.metrics["acc_4T"] == pytest.approx(1 - 1 / T)


def test_tracking_task_lengths_seal_and_reproducible_training_stream():
    task = H.tracking_task("S3", TINY)
    with pytest.raises(RuntimeError):
        list(task.test)
    assert {x.shape[1] for x, _ in task.val} == {4}
    task.test.unseal()
    assert sorted({x.shape[1] for x, _ in task.test.open()}) == [4, 16]
    np.random.seed(5)                                                   # as fit seeds a run
    a, b = task.train(), task.train()
    assert a[0].shape == (8, 4) and not torch.equal(a[0], b[0])          # fresh batches
    np.random.seed(5)
    again = H.tracking_task("S3", TINY).train()
    assert torch.equal(again[0], a[0]) and torch.equal(again[1], a[1])  # same stream for the same seed
    with pytest.raises(ValueError, match="unknown task"):
        H.tracking_task("Z7", TINY)


def test_specs_are_matched_and_predict_every_state():
    from rvt_lib.data.automata import task_spec
    for label in ("parity", "A5"):
        specs = H.heatmap_specs(label, TINY)
        assert list(specs) == list(H.HEATMAP_MODELS)
        n_states = task_spec(*[H.HEATMAP_TASKS[label][0]], **H.HEATMAP_TASKS[label][1]).n_states
        for name, spec in specs.items():
            assert abs(spec.n_params() / TINY.target_params - 1) <= 0.1, name
            model = spec.build(0)
            assert sum(p.numel() for p in model.parameters() if p.requires_grad) == spec.n_params()
            x = torch.zeros(2, TINY.max_length, dtype=torch.long)
            assert model(x).shape == (2, TINY.max_length, n_states)


def test_nope_has_no_positions():
    spec = H.heatmap_specs("parity", TINY)["GPT, NoPE"]
    assert spec["positions"] is False
    model = spec.build(3)
    assert model.core.wpe is None and spec.n_params() == sum(p.numel() for p in model.parameters())
    # without positions, a constant input gives the same output at every position
    model.eval()
    out = model(torch.ones(1, 8, dtype=torch.long))
    assert torch.allclose(out[0, 0], out[0, -1], atol=1e-5)
    learned = H.heatmap_specs("parity", TINY)["GPT"].build(3).eval()
    out = learned(torch.ones(1, 8, dtype=torch.long))
    assert not torch.allclose(out[0, 0], out[0, -1], atol=1e-5)


@pytest.mark.parametrize("acc, verdict", [([0.99, 0.985, 0.99], "tracked"), ([0.5, 0.6, 0.55], "fails"),
                                          ([0.9, 1.0, 0.96], "undecided"), ([1.0, 1.0, 1.0], "tracked")])
def test_cell_verdict_rule(acc, verdict):
    v, ci = H.cell_verdict(acc)
    assert v == verdict and ci.low <= np.mean(acc) <= ci.high


def test_every_cell_has_a_valid_prediction():
    cells = {(m, t) for m in H.HEATMAP_MODELS for t in H.HEATMAP_TASKS}
    assert set(H.PREDICTIONS) == cells
    assert set(H.PREDICTIONS.values()) <= {"track", "fail", None}
    assert all(H.PREDICTIONS[("LSTM", t)] == "track" for t in H.HEATMAP_TASKS)


def test_heatmap_config_checks():
    with pytest.raises(ValueError, match="factors"):
        H.HeatmapConfig(factors=(2, 4))
    with pytest.raises(ValueError, match="2 seeds"):
        H.HeatmapConfig(seeds=(0,))
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="extend"):
            H.HeatmapConfig(extend=bad)


def test_run_heatmap_grows_the_grid_and_reports_choices_at_an_end():
    from dataclasses import replace
    models = {"GPT, NoPE": H.HEATMAP_MODELS["GPT, NoPE"]}
    two = replace(TINY, lr_grid=(1e-3, 3e-3))
    fixed = H.run_heatmap(two, tasks=["parity"], models=models)["parity"]
    assert fixed.at_edge("GPT, NoPE") and H.cell_verdicts({"parity": fixed}, two)["lr_at_edge"].all()
    grown = H.run_heatmap(replace(two, extend=1), tasks=["parity"], models=models)["parity"]
    assert len(grown.grids["GPT, NoPE"]) == 3 and grown.tuning["extended"].sum() == 1
    table = H.cell_verdicts({"parity": grown}, two)
    assert (table["lr_at_edge"] == grown.at_edge("GPT, NoPE")).all()


def test_run_heatmap_end_to_end_tiny():
    models = {m: H.HEATMAP_MODELS[m] for m in ("minGRU [-1,1]", "GPT, NoPE")}
    results = H.run_heatmap(TINY, tasks=["parity"], models=models)
    runs = results["parity"].runs
    assert len(runs) == 4 and {"test_acc_1T", "test_acc_4T"} <= set(runs.columns)
    table = H.cell_verdicts(results, TINY)
    assert len(table) == 2 * 2
    assert set(table["verdict"]) <= {"tracked", "fails", "undecided"}
    assert (table["low"] <= table["mean"]).all() and (table["mean"] <= table["high"]).all()
    import matplotlib
    matplotlib.use("Agg")
    ax, _ = H.plot_heatmap(table, 4)
    assert len(ax.patches) == 1   # only the signed minGRU's parity cell has a prediction


# ----------------------------------------------------------------------------- the original runner

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

def test_tracking_config_checks():
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
    a = run_tracking_study(models, cfg, seeds=[0, 1])
    b = run_tracking_study(models, cfg, seeds=[0, 1], keep_models=False)
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
        run_tracking_study({"x": dict(n_layer=1)}, cfg, seeds=[0])


# ----------------------------------------------------------------------------- depth against length

def test_depth_trend_reads_the_shape_of_a_fewest_layers_row():
    assert H.depth_trend([1, 1, 1, 1]) == "one"
    assert H.depth_trend([2, 2, 2]) == "flat"
    assert H.depth_trend([1, 2, 2, 3]) == "grows"
    assert H.depth_trend([1, 2, None, None]) == "grows"      # not reached counts as deeper
    assert H.depth_trend([1, 1, 1, None]) == "lost"          # ran out of depths (or steps)
    assert H.depth_trend([2, None]) == "lost"
    assert H.depth_trend([None, None]) == "not reached"
    assert H.depth_trend([2, 1, 2]) == "irregular"
    assert H.depth_trend([None, 1]) == "irregular"
    with pytest.raises(ValueError):
        H.depth_trend([])


def test_depth_agreement_needs_a_measured_trend():
    assert H.depth_agreement("grows", "grows") == "agrees"
    assert H.depth_agreement("grows", "flat") == "disagrees"
    assert H.depth_agreement("grows", "one") == "disagrees"
    assert H.depth_agreement("flat", "one") == "agrees"       # one layer is a constant depth
    assert H.depth_agreement("flat", "grows") == "disagrees"
    assert H.depth_agreement("one", "flat") == "disagrees"
    assert H.depth_agreement("one", "not reached") == "n/a"
    assert H.depth_agreement("one", "lost") == "n/a"
    assert H.depth_agreement("grows", "lost") == "n/a"
    assert H.depth_agreement(None, "grows") == "n/a"
    assert set(H.DEPTH_PREDICTIONS) == {(m, t) for m in H.DEPTH_MODELS for t in H.DEPTH_TASKS}


def test_depth_config_validates_and_scales_parameters_with_depth():
    cfg = H.DepthConfig(lengths=(4, 8), depths=(1, 2), heat=TINY)
    cell = cfg.cell(8, 2)
    assert (cell.train_length, cell.n_layer, cell.factors) == (8, 2, (1,))
    assert cell.target_params == 2 * TINY.target_params
    for bad in (dict(lengths=(8, 4)), dict(depths=(0, 1)), dict(depths=()), dict(tasks=("Z7",)),
                dict(models=("GRU-9",)), dict(controls=("nope",))):
        with pytest.raises(ValueError):
            H.DepthConfig(heat=TINY, **bad)


def _fake_heatmap(tracked_at: dict, calls: list):
    """A stand-in for run_heatmap: every seed scores 1.0 from depth tracked_at[(model, T)] on."""
    from types import SimpleNamespace

    def run(cfg, tasks, models, trainer=None, device=None):
        (model,), (task,) = list(models), tasks
        calls.append((task, model, cfg.train_length, cfg.n_layer))
        good = cfg.n_layer >= tracked_at.get((model, cfg.train_length), 99)
        runs = pd.DataFrame({"model": model, "seed": [0, 1, 2], "lr": 1e-2, "params": 100 * cfg.n_layer,
                             "test_acc_1T": [1.0, 1.0, 1.0] if good else [0.3, 0.5, 0.4]})
        return {task: SimpleNamespace(runs=runs, at_edge=lambda m: False)}
    return run


def test_run_depth_stops_at_the_first_tracked_depth(monkeypatch):
    calls = []
    tracked_at = {("GPT", 4): 1, ("GPT", 8): 2, ("LSTM", 4): 1}
    monkeypatch.setattr(H, "run_heatmap", _fake_heatmap(tracked_at, calls))
    cfg = H.DepthConfig(lengths=(4, 8), depths=(1, 2, 3), tasks=("S3",), models=("GPT", "LSTM"), heat=TINY)
    runs = H.run_depth(cfg)
    assert [c[2:] for c in calls if c[1] == "GPT"] == [(4, 1), (8, 1), (8, 2)]
    assert [c[2:] for c in calls if c[1] == "LSTM"] == [(4, 1), (8, 1)]   # a control: one layer only
    assert len(runs) == 3 * len(calls)
    table = H.fewest_layers(runs)
    assert table.loc[("S3", "GPT")].tolist() == [1, 2]
    assert table.loc[("S3", "LSTM")].tolist() == [1, None]
    assert H.depth_trend(table.loc[("S3", "GPT")].tolist()) == "grows"
    assert H.depth_trend(table.loc[("S3", "LSTM")].tolist()) == "lost"


def test_a_settled_row_agrees_with_no_prediction_whatever_follows():
    """depth_settled's claim, checked on every short row: once it says settled, no continuation
    can make the row agree or disagree with any prediction; and a row it does not call
    settled still can."""
    from itertools import product
    values, predictions = (None, 1, 2, 3), ("one", "flat", "grows")

    def readable(row):
        return any(H.depth_agreement(p, H.depth_trend(row)) != "n/a" for p in predictions)
    for n in range(1, 4):
        for prefix in product(values, repeat=n):
            tails = [t for k in range(0, 4) for t in product(values, repeat=k)]
            if H.depth_settled(list(prefix)):
                assert not any(readable(list(prefix + t)) for t in tails), prefix
            else:
                assert any(readable(list(prefix + t)) for t in tails), prefix
    assert H.depth_settled([1, 1, None]) and H.depth_settled([None])
    assert H.depth_settled([2, 1]) and not H.depth_settled([1, 2, None]) and not H.depth_settled([1, 2])


def test_run_depth_skips_the_lengths_after_a_settled_row(monkeypatch):
    calls = []
    tracked_at = {("GPT", 4): 1, ("GPT", 8): 2, ("LSTM", 4): 1, ("LSTM", 16): 1}
    monkeypatch.setattr(H, "run_heatmap", _fake_heatmap(tracked_at, calls))
    cfg = H.DepthConfig(lengths=(4, 8, 16), depths=(1, 2), tasks=("S3",), models=("GPT", "LSTM"), heat=TINY)
    table = H.fewest_layers(H.run_depth(cfg))
    # GPT rose (1 -> 2), then at 16 no depth tracks: "grows" unless 32 were tracked again, so
    # a row is only cut where nothing could follow; the LSTM is settled after failing at 8
    assert [c[2:] for c in calls if c[1] == "LSTM"] == [(4, 1), (8, 1)]
    assert table.loc[("S3", "LSTM")].tolist() == [1, None, H.NOT_TRIED]
    assert table.loc[("S3", "GPT")].tolist() == [1, 2, None]
    assert H.depth_trend(table.loc[("S3", "LSTM")].tolist()) == "lost"
    everything = H.fewest_layers(H.run_depth(replace(cfg, skip_settled=False)))
    assert everything.loc[("S3", "LSTM")].tolist() == [1, None, 1]   # "irregular": n/a all the same
    with pytest.raises(ValueError, match="only after"):
        H.depth_trend([1, H.NOT_TRIED, 1])
    # a row that settled at its first length: None then "not tried" (pandas would read it as
    # strings and NaN)
    settled = pd.DataFrame([[None, H.NOT_TRIED], [1, None]], index=table.index, columns=[4, 8], dtype=object)
    assert H.depth_verdicts(settled)["measured"].tolist() == ["not reached", "lost"]
    assert H.depth_trend([float("nan"), H.NOT_TRIED]) == "not reached"


def test_run_depth_end_to_end_on_a_tiny_budget():
    cfg = H.DepthConfig(lengths=(4,), depths=(1, 2), tasks=("parity",), models=("LSTM", "GPT"), heat=TINY)
    runs = H.run_depth(cfg)
    assert set(runs["model"]) == {"LSTM", "GPT"} and (runs["n_layer"][runs["model"] == "LSTM"] == 1).all()
    assert runs["acc"].between(0, 1).all() and set(runs["seed"]) == set(TINY.seeds)
    assert runs["lr_at_edge"].dtype == bool and runs["lr_at_edge"].all()  # two rates, none added
    assert H.fewest_layers(runs).shape == (2, 1)


# ----------------------------------------------------------------------------- the probes

def test_probe_inputs_one_sequence_per_symbol_with_its_states():
    probes = H.probe_inputs("parity", 6)
    assert list(probes) == list(H.PROBES)
    x, y = probes["one symbol repeated"]
    assert x.tolist() == [[1] * 6] and y.tolist() == [[1, 0, 1, 0, 1, 0]]   # the all-ones input
    x, y = probes["write, then ignore"]
    assert x.tolist() == [[1, 0, 0, 0, 0, 0]] and y.tolist() == [[1] * 6]
    ff = H.probe_inputs("flip-flop", 4)["write, then ignore"]
    assert ff[0].tolist() == [[0, 2, 2, 2], [1, 2, 2, 2]] and ff[1].tolist() == [[0] * 4, [1] * 4]
    x, y = H.probe_inputs("A5", 5)["one symbol repeated"]
    assert x.shape == (59, 5) and torch.equal(y[:, 0], x[:, 0])   # every element but the identity
    with pytest.raises(ValueError, match="unknown task"):
        H.probe_inputs("Z7", 4)
    with pytest.raises(ValueError, match="length"):
        H.probe_inputs("parity", 1)


def test_probe_predictions_follow_the_arguments():
    P = H.PROBE_PREDICTIONS
    rep, wti = H.PROBES
    assert P[("minGRU [0,1]", "parity", rep)] == "fail"          # positive diagonal, all ones
    assert P[("minGRU [-1,1]", "parity", rep)] == "track"        # a sign flip alternates
    assert P[("minGRU [-1,1]", "Z3", rep)] == "fail"             # no period 3 from a real diagonal
    assert P[("DeltaNet [-1,1]", "S3", rep)] == "fail"
    assert P[("complex diag. (LRU)", "A5", rep)] is None         # the task's failure says nothing here
    assert P[("complex diag. (LRU)", "Z3", rep)] == "track"
    assert P[("minGRU [0,1]", "flip-flop", rep)] == "track"      # a repeated write: constant state
    assert P[("minGRU [0,1]", "flip-flop", wti)] == "track"      # finite precision: a gate can hold
    assert P[("minGRU [0,1]", "parity", wti)] is None
    assert all(P[("GPT", t, p)] is None for t in H.HEATMAP_TASKS for p in H.PROBES)
    assert all(P[("LSTM", t, p)] == "track" for t in H.HEATMAP_TASKS for p in H.PROBES)


def test_probe_verdicts_score_the_trained_models_on_every_probe():
    models = {m: H.HEATMAP_MODELS[m] for m in ("minGRU [0,1]", "LSTM")}
    results = H.run_heatmap(TINY, tasks=["parity"], models=models)
    table = H.probe_verdicts(results, TINY)
    assert len(table) == 2 * len(H.PROBES)
    assert set(table["n_sequences"]) == {1}
    # the same number as scoring the probe by hand with the test's score, seed by seed
    res, score = results["parity"], H.score_tracking(TINY.train_length)
    x, y = H.probe_inputs("parity", TINY.max_length)["one symbol repeated"]
    by_hand = np.mean([score(res.models[("LSTM", s)], [(x, y)]).metrics["acc_4T"] for s in TINY.seeds])
    row = table[(table.model == "LSTM") & (table.probe == "one symbol repeated")].iloc[0]
    assert row["mean"] == pytest.approx(by_hand)
    assert row["predicted"] == "track" and row["agreement"] in {"agrees", "disagrees", "n/a"}
    import matplotlib
    matplotlib.use("Agg")
    ax, _ = H.plot_heatmap(table, "one symbol repeated", column="probe")
    assert len(ax.patches) == 2   # both cells have a prediction
    fig = H.plot_heatmap_row(table, H.PROBES, column="probe", titles=["a", "b"], suptitle="S")
    panels = [a for a in fig.axes if a.get_title() in ("a", "b")]
    assert len(panels) == 2 and all(len(a.patches) >= 1 for a in panels)
    assert fig._suptitle.get_text().startswith("S\nRed outline")


def test_depth_verdicts_reads_every_row_against_its_prediction():
    index = pd.MultiIndex.from_tuples([("S3", "LSTM"), ("A5", "GPT"), ("S3", "GPT")], names=["task", "model"])
    fewest = pd.DataFrame([[1, 1], [1, 2], [None, None]], index=index, columns=[8, 16], dtype=object)
    table = H.depth_verdicts(fewest)
    assert table["measured"].tolist() == ["one", "grows", "not reached"]
    assert table["agreement"].tolist() == ["agrees", "agrees", "n/a"]
    mine = H.depth_verdicts(fewest, {("LSTM", "S3"): "grows"})
    assert mine["agreement"].tolist() == ["disagrees", "n/a", "n/a"]   # no prediction: n/a


def test_a_runs_training_data_depends_on_its_seed_only():
    """The LSTM trained alone, after another model, or seed-batched: the same runs."""
    from rvt_lib.batched import fit_members
    cfg = H.HeatmapConfig(train_length=4, factors=(1,), target_params=600, seeds=(0, 1), lr_grid=(1e-2,),
                          n_val=8, n_test=8, train=TrainConfig(steps=4, batch_size=8, lr=1e-2))
    lstm = {"LSTM": H.HEATMAP_MODELS["LSTM"]}
    alone = H.run_heatmap(cfg, tasks=["S3"], models=lstm)["S3"].runs
    after = H.run_heatmap(cfg, tasks=["S3"], models={"GPT": H.HEATMAP_MODELS["GPT"], **lstm})["S3"].runs
    batched = H.run_heatmap(cfg, tasks=["S3"], models=lstm, trainer=fit_members)["S3"].runs
    after = after[after["model"] == "LSTM"].reset_index(drop=True)
    for other in (after, batched):
        np.testing.assert_allclose(other["val_loss"], alone["val_loss"], rtol=1e-5)
        np.testing.assert_allclose(other["test_loss"], alone["test_loss"], rtol=1e-5)
