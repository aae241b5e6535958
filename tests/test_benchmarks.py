"""The benchmark helpers (not the timings themselves: those live in ``python -m benchmarks.speed``)."""
import itertools

import torch

import benchmarks._common as common
from benchmarks import bench_minrnn
from rvt_lib.models.mingru import MinGRU, MinGRUConfig


def test_compare_ratio_direction(monkeypatch):
    # ours always takes 2 ms, the peer 6 ms (scripted, so nothing here depends on the clock)
    times = itertools.cycle([2.0, 6.0])
    monkeypatch.setattr(common, "time_fn", lambda fn, **kw: (fn(), next(times))[1])
    calls = []
    row = common.compare("b", "s", lambda: calls.append("ours"), lambda: calls.append("peer"),
                         ours="o", peer="p", target="<= 1.0", repeats=3)
    assert (row["ours_ms"], row["peer_ms"], row["ratio"]) == (2.0, 6.0, round(2 / 6, 3))
    assert calls == ["ours", "peer"] * 4            # one warm-up each, then interleaved rounds
    row = common.compare("b", "s", lambda: None, lambda: None, ours="o", peer="p",
                         target=">= 1", repeats=3, higher_is_better=True)
    assert row["ratio"] == 3.0                      # a speed-up: peer time / our time


def test_minrnn_closures_run_and_leave_gradients():
    core = MinGRU(MinGRUConfig(4, 4))
    x = torch.randn(2, 5, 4)
    bench_minrnn._projection_only(core, x)()
    assert core.layers[0].linear.weight.grad is not None
    for scan in ("log", "blelloch"):
        core.config.scan = scan
        bench_minrnn._fwd_bwd(core, x, mode="parallel")()
        assert core.layers[0].linear.weight.grad.abs().sum() > 0


def test_batched_closures_run_and_train_every_member():
    from benchmarks import bench_batched
    build, sampler = bench_batched._ecg_task("lstm", T=5, B=2, d_model=4, n_layer=1)
    ours, peer = bench_batched.closures(build, sampler, k=2, steps=1)
    ours()
    peer()
    build, sampler, d = bench_batched._lm_task("mingru", T=4, B=2, n_layer=1, vocab=7, target=300)
    assert d >= 8
    bench_batched.closures(build, sampler, k=2, steps=1)[0]()


def test_ceiling_trains_one_member_on_k_times_the_batch():
    from benchmarks import bench_batched
    build, sampler, d = bench_batched._tag_task("LSTM", T=6, B=2, target=300)
    big = bench_batched._tag_task("LSTM", T=6, B=4, target=300)[1]
    x, y = big(0)()
    assert x.shape == y.shape == (4, 6) and d >= 1
    seen = []
    counting = lambda seed: (lambda draw: lambda: seen.append(draw()[0].shape[0]) or draw())(big(seed))
    ours, peer = bench_batched.ceiling_closures(build, sampler, counting, k=2, steps=3)
    ours()
    assert seen == [4, 4, 4]              # one member, three steps, batches of k * B
    peer()


def test_scan_peers_compute_the_same_recurrence_and_backpropagate():
    from benchmarks import bench_scans
    bench_scans.check(T=37)                    # not a power of two: the padding paths too
    for _, _, ours_fn, _, peer_fn, leaves in bench_scans.pairs(16):
        for fn in (ours_fn, peer_fn):
            bench_scans._fwd_bwd(fn, *leaves)()
            assert any(t.grad is not None and torch.isfinite(t.grad).all() for t in leaves)


def test_optimizer_closures_train_the_same_model_the_same_way():
    # fit's fused AdamW and the default per-tensor AdamW: the same update, so the same losses
    from benchmarks import bench_optimizer
    for kind in bench_optimizer.KINDS:
        for size in bench_optimizer.SIZES:
            ours, peer = bench_optimizer.closures(kind, size, steps=3)
            first = ours()
            assert abs(first - peer()) < 1e-4
            assert ours() < first + 1.0            # the model is updated, and stays finite
