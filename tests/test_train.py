"""Tests for rvt_lib.train: TrainConfig, the training loop, evaluation."""

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from rvt_lib.train import (History, TrainConfig, progress_enabled, _rng_preserved, default_loss, evaluate,
                           fit, make_optimizer, predict, set_seed)


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


# ----------------------------------------------------------------------------- TrainConfig

def test_config_needs_exactly_one_of_steps_and_epochs():
    for kwargs in (dict(), dict(steps=5, epochs=1)):
        with pytest.raises(ValueError, match="exactly one of steps"):
            TrainConfig(**kwargs)
    assert TrainConfig(steps=5).but(steps=None, epochs=2).epochs == 2
    with pytest.raises(ValueError, match="exactly one"):
        TrainConfig(steps=5).but(epochs=2)   # but() validates too


@pytest.mark.parametrize("field, value", [
    ("steps", 0), ("steps", 2.5), ("steps", True), ("batch_size", 0), ("lr", 0.0), ("lr", float("nan")),
    ("weight_decay", -0.1), ("betas", (0.9,)), ("betas", (0.9, 1.0)), ("clip", 0.0), ("warmup", -1),
    ("schedule", "linear"), ("min_lr_ratio", 1.5), ("eval_every", 0), ("eval_batches", 0), ("patience", 0),
])
def test_config_refuses_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{"steps": 10, field: value})


def test_config_is_frozen_and_betas_become_a_tuple():
    c = TrainConfig(steps=3, betas=[0.8, 0.9])
    assert c.betas == (0.8, 0.9)
    with pytest.raises(Exception):
        c.lr = 1.0
    assert c.but(lr=0.5).lr == 0.5 and c.lr == 3e-3


def test_fit_wants_a_config():
    with pytest.raises(TypeError, match="TrainConfig"):
        fit(linear(), line_sampler(), {"steps": 3})


# ----------------------------------------------------------------------------- fit

def test_fit_learns_a_line():
    model = nn.Linear(1, 1)
    hist = fit(model, line_sampler(), TrainConfig(steps=400, lr=0.05, weight_decay=0.0,
                                                   schedule="cosine", min_lr_ratio=0.01), loss_fn=F.mse_loss)
    assert isinstance(hist, History) and not hist.diverged and hist.stop_reason is None
    assert abs(model.weight.item() - 3.0) < 0.02
    assert abs(model.bias.item() - 1.0) < 0.02
    assert hist.train_loss[-1] < 1e-3 < hist.train_loss[0]


def test_step_mode_with_callable_records_every_step():
    hist = fit(linear(), line_sampler(), TrainConfig(steps=12, lr=0.01), loss_fn=F.mse_loss)
    assert hist.steps_done == 12 and hist.epochs_done == 0
    assert hist.train_steps == list(range(1, 13))
    assert len(hist.train_loss) == len(hist.train_seconds) == len(hist.lr) == 12
    assert hist.best_val is None and hist.val_loss == []


def test_epochs_mode_with_dataloader_evaluates_each_epoch():
    hist = fit(linear(), line_loader(), TrainConfig(epochs=3, lr=0.01), val=line_loader(shuffle=False, seed=7),
               loss_fn=F.mse_loss)
    assert hist.steps_done == 15 and hist.epochs_done == 3   # 40 samples / 8 per batch = 5 steps
    assert hist.val_steps == [5, 10, 15]
    assert hist.best_val == min(hist.val_loss)
    assert hist.best_step == hist.val_steps[int(np.argmin(hist.val_loss))]
    assert hist.train_time_s > 0 and hist.eval_time_s > 0
    assert all(b >= a for a, b in zip(hist.val_seconds, hist.val_seconds[1:]))


def test_steps_mode_cycles_an_iterable_and_evaluates_at_the_end():
    hist = fit(linear(), line_loader(), TrainConfig(steps=13, eval_every=5, lr=0.01), val=line_sampler(),
               loss_fn=F.mse_loss)
    assert hist.steps_done == 13 and hist.epochs_done == 2   # two full passes of 5, then 3 steps
    assert hist.val_steps == [5, 10, 13]                      # the final model is always evaluated


def test_default_eval_every_is_ten_evaluations_and_eval_batches_is_used():
    calls = {"n": 0}

    def val():
        calls["n"] += 1
        return line_sampler()()
    hist = fit(linear(), line_sampler(), TrainConfig(steps=40, eval_batches=3), val=val, loss_fn=F.mse_loss)
    assert hist.val_steps == list(range(4, 41, 4))
    assert calls["n"] == 3   # sampled once, then reused


def test_same_seed_same_history_other_seed_differs():
    def run(seed):
        return fit(linear(), line_loader(), TrainConfig(epochs=2, lr=0.01), val=line_sampler(),
                   loss_fn=F.mse_loss, seed=seed)
    a, b, c = run(0), run(0), run(1)
    assert a.train_loss == b.train_loss and a.val_loss == b.val_loss
    assert a.train_loss != c.train_loss


def test_evaluation_does_not_change_training():
    """Validation draws random batches, but under a saved RNG state: training is unchanged."""
    def run(val, eval_every):
        model = linear()
        loss = fit(model, line_sampler(), TrainConfig(steps=20, eval_every=eval_every, lr=0.01), val=val,
                   loss_fn=F.mse_loss).train_loss
        return loss, model.weight.item()
    without = run(None, None)
    assert run(line_loader(shuffle=True), 1) == without
    assert run(line_sampler(), 3) == without


def test_rng_preserved_restores_every_generator():
    import random
    set_seed(3)
    with _rng_preserved():
        random.random(), np.random.rand(), torch.rand(1)
    after = (random.random(), np.random.rand(), torch.rand(1).item())
    set_seed(3)
    assert after == (random.random(), np.random.rand(), torch.rand(1).item())


def test_early_stopping_restores_the_best_weights():
    # train pulls w from 0 to 3, validation wants w = 1: val loss falls, then rises
    torch.manual_seed(0)
    x_val = torch.randn(256, 1)
    val = [(x_val, 1.0 * x_val)]
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    config = TrainConfig(steps=1000, lr=0.02, weight_decay=0.0, eval_every=5, patience=3)
    hist = fit(model, line_sampler(slope=3.0, intercept=0.0), config, val=val, loss_fn=F.mse_loss)
    assert hist.stopped_early and "stopped early" in hist.stop_reason
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
    hist = fit(model, line_sampler(3.0, 0.0), TrainConfig(steps=200, lr=0.05, weight_decay=0.0, eval_every=20),
               val=[(x_val, x_val)], loss_fn=F.mse_loss)
    assert not hist.stopped_early and hist.steps_done == 200
    assert abs(model.weight.item() - 3.0) < 0.1   # the final weights are kept


def test_nan_loss_stops_training_with_a_record():
    calls = {"n": 0}

    def sampler():
        calls["n"] += 1
        x = torch.randn(8, 1)
        if calls["n"] == 4:
            x[0] = float("nan")
        return x, x

    model = linear()
    with pytest.warns(RuntimeWarning, match="diverged"):
        hist = fit(model, sampler, TrainConfig(steps=10), val=line_sampler(), loss_fn=F.mse_loss)
    assert hist.diverged and not hist.stopped_early
    assert hist.steps_done == 3 and len(hist.train_loss) == 3
    assert "step 3" in hist.stop_reason and "lr" in hist.stop_reason
    assert torch.isfinite(model.weight).all()      # the bad update was never applied
    assert hist.val_steps[-1] == 3                  # the model we stopped with is evaluated


def test_clipping_bounds_the_global_gradient_norm():
    norms = []

    def record(optimizer, args, kwargs):
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())

    def huge():  # targets far away: raw gradient norms in the hundreds
        x = torch.randn(16, 1)
        return x, 500 * x + 300
    from torch.optim.optimizer import register_optimizer_step_pre_hook
    handle = register_optimizer_step_pre_hook(record)
    try:
        fit(linear(), huge, TrainConfig(steps=5, clip=0.5), loss_fn=F.mse_loss)
        clipped = norms[:]
        norms.clear()
        fit(linear(), huge, TrainConfig(steps=5, clip=None), loss_fn=F.mse_loss)
    finally:
        handle.remove()
    assert max(clipped) == pytest.approx(0.5, rel=1e-4)
    assert min(norms) > 10


def test_bad_data_for_the_config():
    with pytest.raises(ValueError, match="no epochs"):
        fit(linear(), line_sampler(), TrainConfig(epochs=1), loss_fn=F.mse_loss)
    with pytest.raises(ValueError, match="patience"):
        fit(linear(), line_sampler(), TrainConfig(steps=3, patience=2), loss_fn=F.mse_loss)
    with pytest.raises(TypeError, match="bare tensor"):
        fit(linear(), torch.randn(4, 1), TrainConfig(steps=3), loss_fn=F.mse_loss)
    with pytest.raises(ValueError, match=r"\(x, y\) batches"):
        fit(linear(), lambda: torch.randn(4, 1), TrainConfig(steps=3), loss_fn=F.mse_loss)
    with pytest.raises(ValueError, match="no batches"):
        fit(linear(), [], TrainConfig(epochs=1), loss_fn=F.mse_loss)


# ----------------------------------------------------------------------------- learning rate

def test_warmup_and_cosine_values():
    c = TrainConfig(steps=1000, lr=1.0, warmup=10)
    assert c.lr_at(0) == pytest.approx(0.1)
    assert c.lr_at(4) == pytest.approx(0.5)
    assert c.lr_at(9) == pytest.approx(1.0)
    assert c.lr_at(500) == 1.0  # constant after warmup
    cos = TrainConfig(steps=111, lr=1.0, warmup=10, schedule="cosine", min_lr_ratio=0.1)
    assert cos.lr_at(10) == pytest.approx(1.0)
    assert cos.lr_at(60) == pytest.approx(0.55)   # halfway: (1 + 0.1) / 2
    assert cos.lr_at(110) == pytest.approx(0.1)   # the last update uses min_lr
    assert cos.lr_at(60, total_steps=211) > cos.lr_at(60)
    with pytest.raises(ValueError, match="total number of steps"):
        TrainConfig(epochs=1, schedule="cosine").lr_at(20)


def test_fit_applies_the_schedule():
    config = TrainConfig(steps=30, lr=0.2, warmup=5, schedule="cosine", min_lr_ratio=0.0)
    hist = fit(nn.Linear(1, 1), line_sampler(), config, loss_fn=F.mse_loss)
    assert hist.lr == pytest.approx([config.lr_at(s) for s in range(30)])
    assert hist.lr[-1] == pytest.approx(0.0, abs=1e-12)
    # epochs mode: the cosine spans epochs * len(loader) updates
    hist = fit(linear(), line_loader(), TrainConfig(epochs=2, lr=0.2, schedule="cosine", min_lr_ratio=0.0),
               loss_fn=F.mse_loss)
    assert len(hist.lr) == 10 and hist.lr[-1] == pytest.approx(0.0, abs=1e-12)


def test_cosine_needs_a_length():
    def gen():
        yield from line_loader()

    class NoLen:
        def __iter__(self):
            return gen()

    with pytest.raises(ValueError, match="known number of steps"):
        fit(linear(), NoLen(), TrainConfig(epochs=1, schedule="cosine"), loss_fn=F.mse_loss)
    hist = fit(linear(), NoLen(), TrainConfig(epochs=2), loss_fn=F.mse_loss)  # constant is fine
    assert hist.steps_done == 10 and hist.epochs_done == 2


def test_weight_decay_only_on_matrices():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    opt = make_optimizer(model, lr=1e-3, weight_decay=0.1)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert [tuple(p.shape) for p in decay["params"]] == [(4, 3)]
    assert sorted(tuple(p.shape) for p in no_decay["params"]) == [(4,), (4,), (4,)]


def test_progress_switches(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("RVT_PROGRESS", raising=False)
    assert not progress_enabled(None) and not progress_enabled(True)   # quiet in CI
    monkeypatch.setenv("RVT_PROGRESS", "1")
    assert progress_enabled(None) and progress_enabled(False)          # forced on
    monkeypatch.setenv("RVT_PROGRESS", "0")
    monkeypatch.delenv("CI")
    assert not progress_enabled(True)                                   # forced off
    monkeypatch.delenv("RVT_PROGRESS")
    assert progress_enabled(True) and not progress_enabled(False)
    monkeypatch.setattr("rvt_lib.train._interactive", lambda: False)
    assert not progress_enabled(None)                                   # a build: nobody watches
    monkeypatch.setattr("rvt_lib.train._interactive", lambda: True)
    assert progress_enabled(None)


def test_history_frame_and_repr():
    hist = fit(linear(), line_sampler(), TrainConfig(steps=10, eval_every=4, lr=0.01), val=line_sampler(),
               loss_fn=F.mse_loss)
    df = hist.to_frame()
    assert list(df.columns) == ["train_loss", "val_loss", "seconds", "lr"]
    assert df.index.tolist() == list(range(1, 11))
    assert df["val_loss"].notna().tolist() == [s in (4, 8, 10) for s in range(1, 11)]
    assert df["seconds"].notna().all()
    assert "10 steps" in repr(hist)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fit_on_cuda_moves_model_and_batches():
    model = linear()
    hist = fit(model, line_sampler(), TrainConfig(steps=50, lr=0.05), val=line_sampler(), loss_fn=F.mse_loss,
               device="cuda")
    assert model.weight.device.type == "cuda" and hist.val_loss[-1] < hist.val_loss[0]


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
    hist = fit(model, sampler, TrainConfig(steps=60, lr=1e-2), val=sampler)
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


def test_set_seed_seeds_everything():
    import random
    set_seed(5)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    set_seed(5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a


def test_predict_refuses_a_bare_pair():
    import pytest
    import torch
    from rvt_lib.train import predict
    model = torch.nn.Linear(3, 1)
    x, y = torch.randn(4, 3), torch.randn(4, 1)
    with pytest.raises(TypeError, match="tuple of tensors"):
        predict(model, (x, y))
    assert predict(model, [(x, y)]).shape == (4, 1)


def test_fit_and_fit_batched_flush_subnormals_to_zero():
    from rvt_lib.batched import fit_batched

    tiny = 1e-40  # a float32 subnormal (the smallest normal is about 1.18e-38)

    def data():
        return torch.randn(4, 2), torch.randn(4, 1)

    for train in (lambda m: fit(m, data, TrainConfig(steps=1, lr=1e-3), loss_fn=F.mse_loss),
                  lambda m: fit_batched([m], [data], [TrainConfig(steps=1, lr=1e-3)], loss_fn=F.mse_loss)):
        if not torch.set_flush_denormal(False):
            pytest.skip("this CPU cannot flush subnormals")
        assert (torch.tensor([tiny]) * 1.0).item() != 0.0   # kept as a subnormal
        train(nn.Linear(2, 1))
        assert (torch.tensor([tiny]) * 1.0).item() == 0.0   # flushed to zero
