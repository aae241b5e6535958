"""Tests for rvt_lib.train: the training loop, evaluation, checkpoints."""

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from rvt_lib.train import (History, _progress_enabled, default_loss, evaluate, fit, load_checkpoint,
                           lr_at, make_optimizer, predict, save_checkpoint, set_seed)


def line_sampler(slope=3.0, intercept=1.0, batch=32):
    """A callable batch source: y = slope * x + intercept, x ~ N(0, 1)."""
    def sample():
        x = torch.randn(batch, 1)
        return x, slope * x + intercept
    return sample


def linear(seed=0, bias=True):
    """nn.Linear(1, 1) with a seeded initialisation (fit seeds the training, not the model's init)."""
    torch.manual_seed(seed)
    return nn.Linear(1, 1, bias=bias)


def line_loader(n=40, batch_size=8, shuffle=True, seed=123):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, generator=g)
    return DataLoader(TensorDataset(x, 3 * x + 1), batch_size=batch_size, shuffle=shuffle)


class TinyLM(nn.Module):
    """Embedding -> logits, returning (logits, state) as a core does, to test that path."""
    def __init__(self, vocab=7, d=16):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.head = nn.Linear(d, vocab)

    def forward(self, idx):                      # (B, T) token ids
        return self.head(self.emb(idx)), None    # (B, T, vocab), no state


# ----------------------------------------------------------------------------- fit

def test_fit_learns_a_line():
    model = nn.Linear(1, 1)
    hist = fit(model, line_sampler(), loss_fn=F.mse_loss, steps=400, lr=0.05, weight_decay=0.0,
               schedule="cosine", min_lr_ratio=0.01)
    assert isinstance(hist, History)
    assert abs(model.weight.item() - 3.0) < 0.02
    assert abs(model.bias.item() - 1.0) < 0.02
    assert hist.train_loss[-1] < 1e-3 < hist.train_loss[0]


def test_step_mode_with_callable_logs_every_step_and_windows():
    hist = fit(linear(), line_sampler(), loss_fn=F.mse_loss, steps=12, lr=0.01)
    assert hist.steps_done == 12 and hist.epochs_done == 0
    assert hist.train_steps == list(range(1, 13))
    assert len(hist.train_loss) == len(hist.train_seconds) == len(hist.lr) == len(hist.grad_norm) == 12
    assert hist.best_val is None and hist.val_loss == []

    hist5 = fit(linear(), line_sampler(), loss_fn=F.mse_loss, steps=12, lr=0.01, log_every=5)
    assert hist5.train_steps == [5, 10, 12]  # the last, partial window is logged too
    # a window's value is the mean of its per-step losses (same seed -> same steps)
    assert hist5.train_loss[0] == pytest.approx(np.mean(hist.train_loss[:5]))
    assert hist5.train_loss[2] == pytest.approx(np.mean(hist.train_loss[10:]))


def test_epochs_mode_with_dataloader_evaluates_each_epoch():
    hist = fit(linear(), line_loader(), val=line_loader(shuffle=False, seed=7),
               loss_fn=F.mse_loss, epochs=3, lr=0.01)
    assert hist.steps_done == 15 and hist.epochs_done == 3   # 40 samples / 8 per batch = 5 steps
    assert hist.val_steps == [5, 10, 15]
    assert hist.best_val == min(hist.val_loss)
    assert hist.best_step == hist.val_steps[int(np.argmin(hist.val_loss))]
    assert hist.train_time_s > 0 and hist.eval_time_s > 0
    assert all(b >= a for a, b in zip(hist.val_seconds, hist.val_seconds[1:]))


def test_steps_mode_cycles_an_iterable_and_evaluates_at_the_end():
    hist = fit(linear(), line_loader(), val=line_sampler(), loss_fn=F.mse_loss,
               steps=13, eval_every=5, lr=0.01)
    assert hist.steps_done == 13 and hist.epochs_done == 2   # two full passes of 5, then 3 steps
    assert hist.val_steps == [5, 10, 13]                      # the final model is always evaluated


def test_same_seed_same_history_other_seed_differs():
    def run(seed):
        return fit(linear(), line_loader(), val=line_sampler(), loss_fn=F.mse_loss,
                   epochs=2, lr=0.01, seed=seed)
    a, b, c = run(0), run(0), run(1)
    assert a.train_loss == b.train_loss and a.val_loss == b.val_loss
    assert a.train_loss != c.train_loss


def test_evaluation_does_not_change_training():
    """Validation draws random batches, but under a saved RNG state: training is unchanged."""
    def run(val, eval_every):
        return fit(linear(), line_sampler(), val=val, loss_fn=F.mse_loss, steps=20,
                   eval_every=eval_every, lr=0.01).train_loss
    without = run(None, None)
    assert run(line_loader(shuffle=True), 1) == without
    assert run(line_sampler(), 3) == without


def test_early_stopping_restores_the_best_weights():
    # train pulls w from 0 to 3, validation wants w = 1: val loss falls, then rises
    torch.manual_seed(0)
    x_val = torch.randn(256, 1)
    val = [(x_val, 1.0 * x_val)]
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    hist = fit(model, line_sampler(slope=3.0, intercept=0.0), val=val, loss_fn=F.mse_loss,
               steps=1000, lr=0.02, weight_decay=0.0, eval_every=5, patience=3, seed=0)
    assert hist.stopped_early
    assert hist.steps_done < 1000
    assert hist.val_steps[-1] == hist.best_step + 3 * 5          # three evaluations without progress
    assert hist.val_loss[-1] > hist.best_val
    assert abs(model.weight.item() - 1.0) < 0.1                  # the best weights, not the last ones
    assert evaluate(model, val, F.mse_loss) == pytest.approx(hist.best_val, rel=1e-6)


def test_no_restore_without_patience():
    torch.manual_seed(0)
    x_val = torch.randn(64, 1)
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    hist = fit(model, line_sampler(3.0, 0.0), val=[(x_val, x_val)], loss_fn=F.mse_loss, steps=200,
               lr=0.05, weight_decay=0.0, eval_every=20)
    assert not hist.stopped_early and hist.steps_done == 200
    assert abs(model.weight.item() - 3.0) < 0.1   # the final weights are kept


def test_nan_loss_raises_naming_the_step():
    calls = {"n": 0}

    def sampler():
        calls["n"] += 1
        x = torch.randn(8, 1)
        if calls["n"] == 4:
            x[0] = float("nan")
        return x, x

    with pytest.raises(FloatingPointError, match=r"step 3.*learning rate"):
        fit(linear(), sampler, loss_fn=F.mse_loss, steps=10)


@pytest.mark.parametrize("kwargs", [dict(steps=5, epochs=1), dict()])
def test_exactly_one_of_steps_and_epochs(kwargs):
    with pytest.raises(ValueError, match="exactly one of steps"):
        fit(linear(), line_loader(), loss_fn=F.mse_loss, **kwargs)


def test_bad_arguments():
    with pytest.raises(ValueError, match="no epochs"):
        fit(linear(), line_sampler(), loss_fn=F.mse_loss, epochs=1)
    with pytest.raises(ValueError, match="schedule"):
        fit(linear(), line_sampler(), loss_fn=F.mse_loss, steps=3, schedule="linear")
    with pytest.raises(ValueError, match="patience"):
        fit(linear(), line_sampler(), loss_fn=F.mse_loss, steps=3, patience=2)
    with pytest.raises(TypeError, match="bare tensor"):
        fit(linear(), torch.randn(4, 1), loss_fn=F.mse_loss, steps=3)
    with pytest.raises(ValueError, match=r"\(x, y\) batches"):
        fit(linear(), lambda: torch.randn(4, 1), loss_fn=F.mse_loss, steps=3)
    with pytest.raises(ValueError, match="no batches"):
        fit(linear(), [], loss_fn=F.mse_loss, epochs=1)


# ----------------------------------------------------------------------------- learning rate

def test_warmup_and_cosine_values():
    assert lr_at(0, lr=1.0, warmup=10) == pytest.approx(0.1)
    assert lr_at(4, lr=1.0, warmup=10) == pytest.approx(0.5)
    assert lr_at(9, lr=1.0, warmup=10) == pytest.approx(1.0)
    assert lr_at(500, lr=1.0, warmup=10) == 1.0  # constant after warmup
    kw = dict(lr=1.0, total_steps=111, warmup=10, schedule="cosine", min_lr_ratio=0.1)
    assert lr_at(10, **kw) == pytest.approx(1.0)
    assert lr_at(60, **kw) == pytest.approx(0.55)   # halfway: (1 + 0.1) / 2
    assert lr_at(110, **kw) == pytest.approx(0.1)   # the last update uses min_lr
    with pytest.raises(ValueError, match="total number of steps"):
        lr_at(20, lr=1.0, schedule="cosine")


def test_fit_applies_the_schedule():
    model = nn.Linear(1, 1)
    hist = fit(model, line_sampler(), loss_fn=F.mse_loss, steps=30, lr=0.2, warmup=5,
               schedule="cosine", min_lr_ratio=0.0)
    expected = [lr_at(s, lr=0.2, total_steps=30, warmup=5, schedule="cosine", min_lr_ratio=0.0)
                for s in range(30)]
    assert hist.lr == pytest.approx(expected)
    assert hist.lr[-1] == pytest.approx(0.0, abs=1e-12)


def test_cosine_needs_a_length():
    def gen():
        yield from line_loader()

    class NoLen:
        def __iter__(self):
            return gen()

    with pytest.raises(ValueError, match="known number of steps"):
        fit(linear(), NoLen(), loss_fn=F.mse_loss, epochs=1, schedule="cosine")
    hist = fit(linear(), NoLen(), loss_fn=F.mse_loss, epochs=2)  # constant is fine
    assert hist.steps_done == 10


def test_weight_decay_only_on_matrices():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    opt = make_optimizer(model, lr=1e-3, weight_decay=0.1)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert [tuple(p.shape) for p in decay["params"]] == [(4, 3)]
    assert sorted(tuple(p.shape) for p in no_decay["params"]) == [(4,), (4,), (4,)]


# ----------------------------------------------------------------------------- language models

def test_default_loss_handles_lm_logits_and_refuses_floats():
    torch.manual_seed(0)
    logits, y = torch.randn(2, 5, 7), torch.randint(0, 7, (2, 5))
    manual = -torch.log_softmax(logits, -1).gather(-1, y[..., None]).mean()
    assert default_loss(logits, y).item() == pytest.approx(manual.item(), rel=1e-6)
    with pytest.raises(TypeError, match="mse_loss"):
        default_loss(torch.randn(4, 1), torch.randn(4, 1))
    with pytest.raises(ValueError, match=r"\(2, 5\)"):
        default_loss(torch.randn(2, 4, 7), y)


def test_fit_a_tiny_lm_that_returns_a_state():
    # a periodic sequence 0 1 2 ... 6 0 1 ...: the next token is fully predictable
    def sampler():
        start = torch.randint(0, 7, (16, 1))
        seq = (start + torch.arange(9)) % 7  # (B, T+1)
        return seq[:, :-1], seq[:, 1:]
    model = TinyLM()
    hist = fit(model, sampler, val=sampler, steps=60, lr=1e-2)
    assert hist.train_loss[0] > 1.5                     # about log(7) = 1.95 at the start
    assert hist.best_val < 0.5
    out = predict(model, [sampler() for _ in range(3)])
    assert out.shape == (48, 8, 7)


# ----------------------------------------------------------------------------- evaluate / predict

def test_evaluate_weights_uneven_batches_and_restores_mode():
    torch.manual_seed(0)
    x = torch.randn(10, 1)
    y = 2 * x
    model = nn.Sequential(nn.Linear(1, 1), nn.Dropout(0.5))
    model.train()
    loader = DataLoader(TensorDataset(x, y), batch_size=4)  # batches of 4, 4, 2
    with torch.no_grad():
        full = F.mse_loss(model[0](x), y).item()            # dropout off in eval mode
    assert evaluate(model, loader, F.mse_loss) == pytest.approx(full, rel=1e-6)
    assert model.training
    assert evaluate(model, loader, F.mse_loss, n_batches=1) == pytest.approx(
        F.mse_loss(model[0](x[:4]), y[:4]).item(), rel=1e-6)
    model.eval()
    evaluate(model, loader, F.mse_loss)
    assert not model.training
    with pytest.raises(ValueError, match="no batches"):
        evaluate(model, [], F.mse_loss)


def test_predict_concatenates_batches():
    model = nn.Linear(2, 3)
    x = torch.randn(10, 2)
    loader = DataLoader(TensorDataset(x, torch.zeros(10)), batch_size=4)
    out = predict(model, loader)
    assert out.shape == (10, 3)
    assert torch.allclose(out, model(x).detach(), atol=1e-6)
    assert torch.allclose(predict(model, x), out, atol=1e-6)  # one tensor = one batch
    assert model.training


def test_progress_is_quiet_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("RVT_PROGRESS", "1")
    assert not _progress_enabled(None) and not _progress_enabled(True)
    monkeypatch.delenv("CI")
    assert _progress_enabled(None)
    assert not _progress_enabled(False)
    monkeypatch.delenv("RVT_PROGRESS")
    assert _progress_enabled(True)


def test_history_frame_and_repr():
    hist = fit(linear(), line_sampler(), val=line_sampler(), loss_fn=F.mse_loss, steps=10,
               eval_every=4, lr=0.01, log_every=3)
    df = hist.to_frame()
    assert list(df.columns) == ["train_loss", "val_loss", "seconds", "lr", "grad_norm"]
    assert df.index.tolist() == [3, 4, 6, 8, 9, 10]
    assert df["val_loss"].notna().tolist() == [False, True, False, True, False, True]
    assert df["seconds"].notna().all()
    assert "10 steps" in repr(hist)


def test_set_seed_seeds_everything():
    import random
    set_seed(5)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    set_seed(5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a


# ----------------------------------------------------------------------------- checkpoints

def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    path = tmp_path / "sub" / "model.pt"
    save_checkpoint(model, path, config={"d": 4, "kinds": ["gru", "gpt"]}, step=7,
                    val=np.float64(1.25), shape=(3, 4))
    other = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    meta = load_checkpoint(other, path)
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)
    assert meta == {"config": {"d": 4, "kinds": ["gru", "gpt"]}, "step": 7, "val": 1.25, "shape": (3, 4)}
    assert type(meta["val"]) is float


def test_checkpoint_shape_mismatch_and_bad_meta(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(nn.Linear(3, 4), path)
    with pytest.raises(ValueError, match=r"weight: checkpoint \(4, 3\) vs model \(5, 3\)"):
        load_checkpoint(nn.Linear(3, 5), path)
    with pytest.raises(ValueError, match="missing in the checkpoint"):
        load_checkpoint(nn.Sequential(nn.Linear(3, 4)), path)
    with pytest.raises(TypeError, match="asdict"):
        save_checkpoint(nn.Linear(3, 4), tmp_path / "bad.pt", config=object())
    torch.save({"weights": 1}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a checkpoint"):
        load_checkpoint(nn.Linear(3, 4), tmp_path / "foreign.pt")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fit_on_cuda_moves_model_and_batches():
    model = linear()
    hist = fit(model, line_sampler(), val=line_sampler(), loss_fn=F.mse_loss, steps=50, lr=0.05,
               device="cuda")
    assert model.weight.device.type == "cuda" and hist.val_loss[-1] < hist.val_loss[0]


def test_predict_refuses_a_bare_pair():
    import pytest
    import torch
    from rvt_lib.train import predict
    model = torch.nn.Linear(3, 1)
    x, y = torch.randn(4, 3), torch.randn(4, 1)
    with pytest.raises(TypeError, match="tuple of tensors"):
        predict(model, (x, y))
    assert predict(model, [(x, y)]).shape == (4, 1)
