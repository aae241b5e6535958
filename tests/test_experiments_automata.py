"""Tests for rvt_lib.experiments.automata: the heatmap's task, scores, specs and verdict rule."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rvt_lib.experiments import automata as H
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
    a, b = task.train(), task.train()
    assert a[0].shape == (8, 4) and not torch.equal(a[0], b[0])          # fresh batches
    again = H.tracking_task("S3", TINY).train()
    assert torch.equal(again[0], a[0]) and torch.equal(again[1], a[1])  # same stream
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
    assert isinstance(spec.but(d_model=8), H.NoPESpec)
    model = spec.build(3)
    assert not model.core.wpe.weight.requires_grad and model.core.wpe.weight.abs().sum() == 0
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


def test_config_checks():
    with pytest.raises(ValueError, match="factors"):
        H.HeatmapConfig(factors=(2, 4))
    with pytest.raises(ValueError, match="2 seeds"):
        H.HeatmapConfig(seeds=(0,))


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
