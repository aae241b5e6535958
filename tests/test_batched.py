"""Seed-batched training equals training the members one by one with fit."""
import pytest
import torch

import rvt_lib.batched as batched
from rvt_lib.batched import BatchedGRURecurrence, BatchedLSTMRecurrence, fit_batched, fit_members
from rvt_lib.models.gru import gru_step
from rvt_lib.models.heads import make_model
from rvt_lib.models.lstm import LSTMRecurrence
from rvt_lib.train import TrainConfig, fit

V, T, B = 11, 8, 3
SEEDS = [3, 4, 5]


def build(kind, seed, **kw):
    torch.manual_seed(seed)
    return make_model(kind, vocab_size=V, d_model=8, n_layer=1, n_head=2, block_size=T, **kw).double()


def sampler(seed):
    """Batches from a private generator AND the global RNG (so the RNG swapping is tested)."""
    g = torch.Generator().manual_seed(100 + seed)

    def draw():
        x = torch.randint(0, V, (B, T), generator=g)
        return x, (x + torch.randint(0, V, (B, T))) % V
    return draw


def both(kind, configs, **kw):
    """(sequential histories, models), (batched histories, models) for the same members."""
    seq = [build(kind, s, **kw) for s in SEEDS]
    hs = [fit(m, sampler(s), c, val=sampler(50 + s), seed=s) for m, s, c in zip(seq, SEEDS, configs)]
    bat = [build(kind, s, **kw) for s in SEEDS]
    hb = fit_batched(bat, [sampler(s) for s in SEEDS], configs,
                     val_sources=[sampler(50 + s) for s in SEEDS], seeds=SEEDS)
    return (hs, seq), (hb, bat)


def assert_same(a, b, ma, mb):
    assert a.train_steps == b.train_steps and a.val_steps == b.val_steps
    assert a.stopped_early == b.stopped_early and a.steps_done == b.steps_done
    torch.testing.assert_close(torch.tensor(b.train_loss), torch.tensor(a.train_loss), rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(torch.tensor(b.val_loss), torch.tensor(a.val_loss), rtol=1e-9, atol=1e-11)
    assert b.lr == pytest.approx(a.lr)
    for (n, p), q in zip(ma.named_parameters(), mb.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-8, atol=1e-10, msg=n)


@pytest.mark.parametrize("kind,kw", [("rnn", {}), ("gru", {}), ("gru", {"fast": False}), ("lstm", {}),
                                     ("lstm", {"fast": False}),
                                     ("mingru", {}), ("gpt", {})])
def test_batched_equals_sequential(kind, kw):
    base = TrainConfig(steps=6, warmup=2, schedule="cosine", eval_every=2)
    configs = [base.but(lr=1e-2), base.but(lr=3e-2, clip=None), base.but(lr=5e-3, clip=0.05, weight_decay=0.1)]
    (hs, seq), (hb, bat) = both(kind, configs, **kw)
    for a, b, ma, mb in zip(hs, hb, seq, bat):
        assert_same(a, b, ma, mb)
    assert hs[0].train_loss != hs[1].train_loss   # the members really differ


def test_early_stopping_of_one_member_leaves_the_others_unchanged():
    base = TrainConfig(steps=12, eval_every=1)
    configs = [base.but(lr=1e-2), base.but(lr=0.5, patience=1), base.but(lr=2e-2)]  # member 1 diverges slowly
    (hs, seq), (hb, bat) = both("gru", configs)
    assert hs[1].stopped_early and hs[1].steps_done < 12      # it really stopped, the others did not
    assert not hs[0].stopped_early and not hs[2].stopped_early
    for a, b, ma, mb in zip(hs, hb, seq, bat):
        assert_same(a, b, ma, mb)


def test_epochs_over_a_dataloader_match_fit():
    x = torch.randint(0, V, (12, T))
    data = torch.utils.data.TensorDataset(x, (x + 1) % V)
    loader = lambda: torch.utils.data.DataLoader(data, batch_size=4, shuffle=True)  # noqa: E731
    configs = [TrainConfig(epochs=2, lr=lr) for lr in (1e-2, 3e-2, 5e-3)]
    seq = [build("lstm", s) for s in SEEDS]
    hs = [fit(m, loader(), c, val=loader(), seed=s) for m, s, c in zip(seq, SEEDS, configs)]
    bat = [build("lstm", s) for s in SEEDS]
    hb = fit_batched(bat, [loader() for _ in SEEDS], configs, val_sources=[loader() for _ in SEEDS], seeds=SEEDS)
    for a, b, ma, mb in zip(hs, hb, seq, bat):
        assert a.epochs_done == b.epochs_done == 2
        assert_same(a, b, ma, mb)


def test_batched_lstm_recurrence_matches_the_single_one():
    K, Bs, Ts, H = 2, 3, 5, 4
    g = torch.Generator().manual_seed(0)
    args = [torch.randn(K, Bs, Ts, 4 * H, generator=g, dtype=torch.float64), torch.randn(K, Bs, H, generator=g, dtype=torch.float64),
            torch.randn(K, Bs, H, generator=g, dtype=torch.float64), torch.randn(K, 4 * H, H, generator=g, dtype=torch.float64)]
    args = [a.requires_grad_() for a in args]
    assert torch.autograd.gradcheck(BatchedLSTMRecurrence.apply, args)
    y, h, c = BatchedLSTMRecurrence.apply(*args)
    for k in range(K):
        yk, hk, ck = LSTMRecurrence.apply(*(a[k] for a in args), True)
        torch.testing.assert_close(y[k], yk)
        torch.testing.assert_close(c[k], ck)


def test_batched_gru_recurrence_matches_gru_step():
    K, Bs, Ts, H = 2, 3, 5, 4
    g = torch.Generator().manual_seed(0)
    args = [torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_()
            for shape in ((K, Bs, Ts, 3 * H), (K, Bs, H), (K, 3 * H, H), (K, 3 * H))]
    assert torch.autograd.gradcheck(BatchedGRURecurrence.apply, args)
    assert torch.autograd.gradcheck(BatchedGRURecurrence.apply, args[:3] + [None])  # no bias
    y, _ = BatchedGRURecurrence.apply(*args)
    for k in range(K):
        h = args[1][k]
        for t in range(Ts):
            h = gru_step(args[0][k][:, t], h, args[2][k], args[3][k])
            torch.testing.assert_close(y[k][:, t], h)


def test_bad_input_raises_clear_errors():
    cfg = TrainConfig(steps=2)
    with pytest.raises(ValueError, match="same architecture"):
        fit_batched([build("gru", 0), build("lstm", 1)], [sampler(0), sampler(1)], [cfg, cfg])
    with pytest.raises(ValueError, match="same architecture"):
        fit_batched([build("gru", 0), make_model("gru", vocab_size=V, d_model=16, n_layer=1).double()],
                    [sampler(0), sampler(1)], [cfg, cfg])
    with pytest.raises(ValueError, match="2 models but 1 configs"):
        fit_batched([build("gru", 0), build("gru", 1)], [sampler(0), sampler(1)], [cfg])
    with pytest.raises(ValueError, match="same steps"):
        fit_batched([build("gru", 0), build("gru", 1)], [sampler(0), sampler(1)], [cfg, cfg.but(steps=3)])
    m = build("gru", 0)
    with pytest.raises(ValueError, match="twice"):
        fit_batched([m, m], [sampler(0), sampler(1)], [cfg, cfg])
    with pytest.raises(ValueError, match="at least one"):
        fit_batched([], [], [])


def test_a_member_whose_loss_turns_nan_stops_alone():
    def source(seed, nan_at=None):
        g, calls = torch.Generator().manual_seed(seed), [0]

        def draw():
            calls[0] += 1
            x = torch.randn(B, T, 2, generator=g, dtype=torch.float64)
            if calls[0] == nan_at:
                x[0, 0, 0] = float("nan")
            return x, x.sum(dim=(1, 2))[:, None]
        return draw

    def regressor(seed):
        torch.manual_seed(seed)
        return make_model("gru", input_size=2, head="regress", d_model=8, n_layer=1).double()

    configs = [TrainConfig(steps=6, lr=lr) for lr in (1e-2, 2e-2, 3e-2)]
    nan_at = [None, 3, None]
    mse = torch.nn.functional.mse_loss
    seq = [regressor(s) for s in SEEDS]
    with pytest.warns(RuntimeWarning, match="diverged"):
        hs = [fit(m, source(s, n), c, seed=s, loss_fn=mse) for m, s, n, c in zip(seq, SEEDS, nan_at, configs)]
    bat = [regressor(s) for s in SEEDS]
    with pytest.warns(RuntimeWarning, match="diverged"):
        hb = fit_batched(bat, [source(s, n) for s, n in zip(SEEDS, nan_at)], configs, seeds=SEEDS, loss_fn=mse)
    assert [h.diverged for h in hb] == [h.diverged for h in hs] == [False, True, False]
    for a, b, ma, mb in zip(hs, hb, seq, bat):
        assert_same(a, b, ma, mb)


@pytest.mark.parametrize("kind,kw,batches", [("gru", {}, True), ("lstm", {"block": "residual"}, True),
                                            ("mingru", {}, False), ("gpt", {}, False)])
def test_fit_members_batches_the_gru_and_lstm_only_and_equals_fit(kind, kw, batches, monkeypatch):
    calls = []
    real = batched.fit_batched
    monkeypatch.setattr(batched, "fit_batched", lambda *a, **k: calls.append(1) or real(*a, **k))
    configs = [TrainConfig(steps=4, warmup=1, lr=lr, eval_every=2) for lr in (1e-2, 3e-2, 5e-3)]
    seq = [build(kind, s, **kw) for s in SEEDS]
    hs = [fit(m, sampler(s), c, val=sampler(50 + s), seed=s) for m, s, c in zip(seq, SEEDS, configs)]
    ours = [build(kind, s, **kw) for s in SEEDS]
    ho = fit_members(ours, [sampler(s) for s in SEEDS], configs, val_sources=[sampler(50 + s) for s in SEEDS],
                     seeds=SEEDS)
    assert calls == ([1] if batches else [])
    for a, b, ma, mb in zip(hs, ho, seq, ours):
        assert_same(a, b, ma, mb)
