"""The adding problem (rvt_lib.data.adding), the chrono initialisation of the LSTM and the
recurrent chapter's adding study (rvt_lib.experiments.gradients)."""
import math

import numpy as np
import pytest
import torch

from rvt_lib.data.adding import MEAN_BASELINE_MSE, adding_batch, adding_sampler, adding_splits
from rvt_lib.experiments import gradients
from rvt_lib.models.lstm import LSTM, LSTMConfig
from rvt_lib.train import TrainConfig


def test_batch_marks_one_value_in_each_half_and_sums_them():
    x, y = adding_batch(64, 10, generator=torch.Generator().manual_seed(0))
    assert x.shape == (64, 10, 2) and y.shape == (64, 1)
    values, markers = x[..., 0], x[..., 1]
    assert torch.all(markers[:, :5].sum(1) == 1) and torch.all(markers[:, 5:].sum(1) == 1)
    assert torch.allclose((values * markers).sum(1, keepdim=True), y)
    assert torch.all((values >= 0) & (values < 1))


def test_the_mean_baseline_is_one_sixth():
    _, y = adding_batch(200_000, 4, generator=torch.Generator().manual_seed(1))
    assert abs(float((y - 1).pow(2).mean()) - MEAN_BASELINE_MSE) < 2e-3
    assert MEAN_BASELINE_MSE == pytest.approx(1 / 6)


def test_splits_are_fixed_and_independent_of_training():
    val, test = adding_splits(12, 300, 200, batch_size=128)
    assert [len(b[0]) for b in val] == [128, 128, 44] and sum(len(b[0]) for b in test) == 200
    again, _ = adding_splits(12, 300, 200, batch_size=128)
    assert torch.equal(val[0][0], again[0][0])
    assert not torch.equal(val[0][0][:64], test[0][0][:64])
    train = adding_sampler(12, 64)()
    assert not torch.equal(train[0], val[0][0][:64])


def test_a_runs_training_batches_depend_on_its_seed_alone():
    """The sampler draws from the generator fit seeds: the LSTM's tuning run is the same
    whether or not other models (or other learning rates) trained before it in the study."""
    from rvt_lib.experiments import gradients
    from rvt_lib.runner import run_study
    from rvt_lib.train import TrainConfig

    config = TrainConfig(steps=4, batch_size=8, eval_every=4)
    specs = gradients.adding_specs(4, 8)

    def lstm_tuning(names, lrs):
        task = gradients.adding_task(8, batch_size=8, n_val=16, n_test=16)
        res = run_study({n: specs[n] for n in names}, task, config, seeds=(0,), lr_grid=lrs,
                        measure_cost=False)
        t = res.tuning
        return t[(t.model == gradients.LSTM) & (t.lr == 1e-2)].val_loss.item()

    alone = lstm_tuning([gradients.LSTM], (1e-2,))
    after_others = lstm_tuning([gradients.RNN, gradients.CHRONO, gradients.LSTM], (1e-3, 1e-2))
    assert after_others == alone


@pytest.mark.parametrize("bad", [dict(n_batch=0, seq_len=5), dict(n_batch=2, seq_len=1),
                                 dict(n_batch=2.0, seq_len=5), dict(n_batch=True, seq_len=5)])
def test_bad_sizes_are_refused(bad):
    with pytest.raises(ValueError, match="adding_batch"):
        adding_batch(**bad)


def test_chrono_init_spreads_memory_times_and_closes_the_input_gate():
    torch.manual_seed(0)
    lstm = LSTM(LSTMConfig(input_size=3, hidden_size=64, num_layers=2, chrono=100))
    for cell in lstm.cells:
        H = cell.hidden_size
        b_f, b_i = cell.bias_ih[H:2 * H], cell.bias_ih[:H]
        assert torch.all(b_f >= 0) and torch.all(b_f <= math.log(99))
        assert torch.equal(b_i, -b_f) and torch.all(cell.bias_hh[:2 * H] == 0)
        memory = 1 + torch.exp(b_f)  # steps over which a cell fades
        assert memory.min() >= 2 and memory.max() <= 100 and memory.max() > 50
        # the other gates keep PyTorch's init
        assert torch.all(cell.bias_ih[2 * H:].abs() <= 1 / math.sqrt(H))


def test_chrono_lstm_still_equals_torch_and_its_readable_path():
    torch.manual_seed(1)
    ours = LSTM(LSTMConfig(input_size=3, hidden_size=5, chrono=20)).double()
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    y, _ = ours(x)
    ref, _ = ours.to_torch()(x)
    assert torch.allclose(y, ref, atol=1e-12)
    readable = LSTM(LSTMConfig(input_size=3, hidden_size=5, chrono=20, fast=False)).double()
    readable.load_state_dict(ours.state_dict())
    assert torch.allclose(readable(x)[0], y, atol=1e-12)


@pytest.mark.parametrize("chrono", [2, 0, 2.5, True])
def test_chrono_needs_a_length(chrono):
    with pytest.raises(ValueError, match="chrono"):
        LSTMConfig(input_size=1, hidden_size=2, chrono=chrono)
    with pytest.raises(ValueError, match="bias"):
        LSTMConfig(input_size=1, hidden_size=2, chrono=10, bias=False)


def test_specs_match_parameters_and_differ_only_in_init():
    specs = gradients.adding_specs(16, 50)
    n = {k: s.n_params() for k, s in specs.items()}
    assert n[gradients.LSTM] == n[gradients.CHRONO]
    assert abs(n[gradients.RNN] / n[gradients.LSTM] - 1) <= 0.05
    assert specs[gradients.RNN]["d_model"] > 16
    a, b = specs[gradients.LSTM].build(0), specs[gradients.CHRONO].build(0)
    assert torch.equal(a.core.cells[0].weight_hh, b.core.cells[0].weight_hh)  # same draw
    assert not torch.equal(a.core.cells[0].bias_ih, b.core.cells[0].bias_ih)


def test_tiny_adding_study_follows_the_protocol():
    config = TrainConfig(steps=3, batch_size=16, eval_every=3)
    runs, studies = gradients.adding_study([6, 10], hidden=4, config=config, seeds=(0, 1),
                                           lr_grid=(1e-3, 1e-2), n_val=32, n_test=48)
    assert len(runs) == 2 * 3 * 2 and set(runs["T"]) == {6, 10}
    assert np.all(np.isfinite(runs["test_mse"]))
    assert set(studies[6].tuning["lr"]) == {1e-3, 1e-2}
    v = studies[10].compare(gradients.CHRONO, gradients.LSTM, "sqerr", lower_is_better=True)
    assert v.test.n == 48  # paired over the test sequences
    assert np.all(gradients.solved_fraction(runs, threshold=1e9).to_numpy() == 1.0)  # any model clears it
    assert np.all(gradients.solved_fraction(runs, threshold=0.0).to_numpy() == 0.0)  # none does
    with pytest.raises(ValueError, match="lags"):
        gradients.adding_study([2], hidden=4, config=config)
