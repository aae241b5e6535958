"""minGRU / minLSTM: parallel mode (log-space or real-space Blelloch scan) == sequential mode,
chunking, gradients, errors."""
import pytest
import torch
import torch.nn as nn

from rvt_lib.models.mingru import (MinGRU, MinGRUConfig, MinLSTM, MinLSTMConfig, g, log_g)

CORES = [(MinGRU, MinGRUConfig), (MinLSTM, MinLSTMConfig)]
SCANS = ["log", "blelloch"]


def _make(core_cls, config_cls, I=5, H=4, L=1, dtype=torch.float64, seed=0, **kw):
    torch.manual_seed(seed)
    return core_cls(config_cls(I, H, num_layers=L, **kw)).to(dtype)


def _inputs(B, T, I, L, H, dtype=torch.float64, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, I, generator=gen, dtype=dtype) * 2.0
    state = torch.randn(L, B, H, generator=gen, dtype=dtype) - 1.0     # mostly negative
    state[..., 0] = -3.0                                                # certainly negative entries
    return x, state


def test_g_and_log_g():
    v = torch.linspace(-30, 30, 601, dtype=torch.float64)
    assert (g(v) > 0).all()
    torch.testing.assert_close(log_g(v), torch.log(g(v)))
    # continuous at 0: both branches give 0.5
    torch.testing.assert_close(g(torch.tensor([-1e-12, 0.0], dtype=torch.float64)),
                               torch.tensor([0.5, 0.5], dtype=torch.float64))


@pytest.mark.parametrize("core_cls,config_cls", CORES)
@pytest.mark.parametrize("L", [1, 3])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("scan", SCANS)
def test_parallel_equals_sequential_float64(core_cls, config_cls, L, with_state, scan):
    core = _make(core_cls, config_cls, L=L, chunk_size=4, scan=scan)   # several chunks for T = 11
    x, state = _inputs(3, 11, 5, L, 4)
    state = state if with_state else None
    y_p, h_p = core(x, state, mode="parallel")
    y_s, h_s = core(x, state, mode="sequential")
    assert y_p.shape == (3, 11, 4) and h_p.shape == (L, 3, 4)
    torch.testing.assert_close(y_p, y_s, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h_p, h_s, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h_p[-1], y_p[:, -1])
    if with_state:   # the state really matters (and is negative in places)
        y0, _ = core(x, None)
        assert (y0 - y_p).abs().max() > 1e-3


@pytest.mark.parametrize("core_cls,config_cls", CORES)
@pytest.mark.parametrize("scan", SCANS)
def test_parallel_equals_sequential_float32_long(core_cls, config_cls, scan):
    core = _make(core_cls, config_cls, I=8, H=16, L=2, dtype=torch.float32, scan=scan)
    x, state = _inputs(2, 600, 8, 2, 16, dtype=torch.float32)
    y_p, h_p = core(x, state, mode="parallel")
    y_s, h_s = core(x, state, mode="sequential")
    # float32 log-space: relative error about 1e-7 * |cumsum(log a)| within a chunk
    # (measured here: at most 3.3e-5 relative vs a float64 run; the loop: 5e-6).
    torch.testing.assert_close(y_p, y_s, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(h_p, h_s, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("core_cls,config_cls", CORES)
@pytest.mark.parametrize("mode,scan", [("parallel", "log"), ("parallel", "blelloch"), ("sequential", "log")])
def test_chunked_processing_continues_exactly(core_cls, config_cls, mode, scan):
    core = _make(core_cls, config_cls, L=2, mode=mode, chunk_size=3, scan=scan)
    x, state = _inputs(2, 17, 5, 2, 4)
    y_full, h_full = core(x, state)
    ys, h = [], state
    for start, stop in [(0, 2), (2, 13), (13, 17)]:            # three uneven chunks
        y, h = core(x[:, start:stop], h)
        ys.append(y)
    torch.testing.assert_close(torch.cat(ys, dim=1), y_full, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h, h_full, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("core_cls,config_cls", CORES)
def test_token_by_token_generation_equals_parallel(core_cls, config_cls):
    core = _make(core_cls, config_cls, L=2)
    x, _ = _inputs(2, 9, 5, 2, 4)
    y_par, h_par = core(x)                                     # parallel, from zeros
    h, ys = None, []
    for t in range(9):
        y, h = core(x[:, t:t + 1], h, mode="sequential")
        ys.append(y)
    torch.testing.assert_close(torch.cat(ys, dim=1), y_par, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h, h_par, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("core_cls,config_cls", CORES)
@pytest.mark.parametrize("mode,scan", [("parallel", "log"), ("parallel", "blelloch"), ("sequential", "log")])
def test_gradcheck(core_cls, config_cls, mode, scan):
    core = _make(core_cls, config_cls, I=3, H=2, L=2, chunk_size=2, scan=scan)
    x, state = _inputs(2, 5, 3, 2, 2)
    x.requires_grad_(True)
    state.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x_, s_: core(x_, s_, mode=mode)[0], (x, state))


@pytest.mark.parametrize("core_cls,config_cls", CORES)
@pytest.mark.parametrize("scan", SCANS)
def test_parameter_gradients_agree_between_modes(core_cls, config_cls, scan):
    core = _make(core_cls, config_cls, L=2, chunk_size=4, scan=scan)
    x, state = _inputs(2, 10, 5, 2, 4)
    grads = {}
    for mode in ("parallel", "sequential"):
        core.zero_grad()
        y, h = core(x, state, mode=mode)
        (y.pow(2).sum() + h.sum()).backward()
        grads[mode] = [p.grad.clone() for p in core.parameters()]
    for gp, gs in zip(grads["parallel"], grads["sequential"]):
        torch.testing.assert_close(gp, gs, rtol=1e-9, atol=1e-11)


def test_parameter_counts_vs_torch():
    I, H = 128, 128
    n = lambda m: sum(p.numel() for p in m.parameters())
    assert n(MinGRU(MinGRUConfig(I, H))) == 2 * H * (I + 1) == 33_024
    assert n(MinLSTM(MinLSTMConfig(I, H))) == 3 * H * (I + 1) == 49_536
    assert n(nn.GRU(I, H)) == 3 * H * (I + H) + 6 * H == 99_072
    assert n(nn.LSTM(I, H)) == 4 * H * (I + H) + 8 * H == 132_096
    two = MinGRU(MinGRUConfig(I, 64, num_layers=2, bias=False))
    assert n(two) == 2 * 64 * I + 2 * 64 * 64
    assert (two.input_size, two.hidden_size, two.num_layers) == (I, 64, 2)
    assert two.config.num_layers == 2


def test_matches_mingru_pytorch_package():
    """Cross-check against the minGRU-pytorch package (no bias, no output projection)."""
    pkg = pytest.importorskip("minGRU_pytorch")
    torch.manual_seed(0)
    theirs = pkg.minGRU(6, expansion_factor=1.0).double()
    ours = MinGRU(MinGRUConfig(6, 6, bias=False)).double()
    with torch.no_grad():   # theirs: [hidden; gate], ours: [gate; hidden]
        w = theirs.to_hidden_and_gate.weight
        ours.layers[0].linear.weight.copy_(torch.cat([w[6:], w[:6]]))
    x = torch.randn(2, 20, 6, dtype=torch.float64)
    torch.testing.assert_close(ours(x)[0], theirs(x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("core_cls,config_cls", CORES)
def test_bad_inputs(core_cls, config_cls):
    core = _make(core_cls, config_cls, I=5, H=4, L=2, dtype=torch.float32)
    x = torch.randn(3, 7, 5)
    with pytest.raises(ValueError, match=r"\(batch, time, 5\)"):
        core(torch.randn(3, 7, 6))
    with pytest.raises(ValueError, match=r"\(batch, time, 5\)"):
        core(torch.randn(7, 5))
    with pytest.raises(TypeError, match="floating"):
        core(torch.ones(3, 7, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        core(torch.randn(3, 0, 5))
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        core(x, torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        core(x, torch.zeros(3, 4))
    with pytest.raises(TypeError, match="dtype"):
        core(x, torch.zeros(2, 3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="mode"):
        core(x, mode="fast")
    with pytest.raises(ValueError, match="mode"):
        config_cls(5, 4, mode="scan")
    with pytest.raises(ValueError, match="hidden_size"):
        config_cls(5, 0)
    with pytest.raises(ValueError, match="chunk_size"):
        config_cls(5, 4, chunk_size=0)
    with pytest.raises(ValueError, match="scan must be 'log' or 'blelloch'"):
        config_cls(5, 4, scan="cumsum")


# ---------------------------------------------------------------------------------------
# Signed transitions a in (-1, 1) (Grazzi et al., 2025), through the real-space scan
# ---------------------------------------------------------------------------------------

def _signed(core_cls, config_cls, **kw):
    return _make(core_cls, config_cls, scan="blelloch", transition="signed", **kw)


@pytest.mark.parametrize("core_cls,config_cls", CORES)
@pytest.mark.parametrize("L", [1, 3])
@pytest.mark.parametrize("with_state", [False, True])
def test_signed_parallel_equals_sequential_float64(core_cls, config_cls, L, with_state):
    core = _signed(core_cls, config_cls, L=L)
    x, state = _inputs(3, 11, 5, L, 4)
    state = state if with_state else None
    y_p, h_p = core(x, state, mode="parallel")
    y_s, h_s = core(x, state, mode="sequential")
    torch.testing.assert_close(y_p, y_s, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h_p, h_s, rtol=1e-10, atol=1e-12)
    # signed really differs from positive on the same weights
    positive = _make(core_cls, config_cls, L=L, scan="blelloch")
    assert (positive(x, state)[0] - y_p).abs().max() > 1e-3


@pytest.mark.parametrize("core_cls,config_cls", CORES)
def test_signed_coefficients_are_negative_somewhere_and_bounded(core_cls, config_cls):
    """With one step from h0, h_1 = a * h0 + b: reading off a for two different h0."""
    core = _signed(core_cls, config_cls, L=1)
    x, _ = _inputs(4, 1, 5, 1, 4)
    x = x * 3
    h_a = core(x, torch.ones(1, 4, 4, dtype=torch.float64))[0][:, 0]
    h_b = core(x, torch.zeros(1, 4, 4, dtype=torch.float64))[0][:, 0]
    a = h_a - h_b                                                   # (B, H): the transition itself
    assert (a < 0).any() and (a > 0).any()
    assert (a.abs() < 1).all()


@pytest.mark.parametrize("core_cls,config_cls", CORES)
@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_signed_chunked_processing_continues_exactly(core_cls, config_cls, mode):
    core = _signed(core_cls, config_cls, L=2, mode=mode)
    x, state = _inputs(2, 17, 5, 2, 4)
    y_full, h_full = core(x, state)
    y1, h = core(x[:, :6], state)
    y2, h = core(x[:, 6:], h)
    torch.testing.assert_close(torch.cat([y1, y2], dim=1), y_full, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h, h_full, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("core_cls,config_cls", CORES)
@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_signed_gradcheck(core_cls, config_cls, mode):
    core = _signed(core_cls, config_cls, I=3, H=2, L=2)
    x, state = _inputs(2, 5, 3, 2, 2)
    x.requires_grad_(True)
    state.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x_, s_: core(x_, s_, mode=mode)[0], (x, state))


@pytest.mark.parametrize("core_cls,config_cls", CORES)
def test_signed_parameter_gradients_agree_between_modes(core_cls, config_cls):
    core = _signed(core_cls, config_cls, L=2)
    x, state = _inputs(2, 10, 5, 2, 4)
    grads = {}
    for mode in ("parallel", "sequential"):
        core.zero_grad()
        y, h = core(x, state, mode=mode)
        (y.pow(2).sum() + h.sum()).backward()
        grads[mode] = [p.grad.clone() for p in core.parameters()]
    for gp, gs in zip(grads["parallel"], grads["sequential"]):
        torch.testing.assert_close(gp, gs, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("config_cls", [MinGRUConfig, MinLSTMConfig])
def test_signed_refuses_the_log_space_scan(config_cls):
    with pytest.raises(ValueError, match="log-space scan cannot take the log of a negative"):
        config_cls(5, 4, transition="signed")                      # default scan="log"
    with pytest.raises(ValueError, match="transition must be 'positive' or 'signed'"):
        config_cls(5, 4, transition="negative")
    from rvt_lib.scan import scan_logspace
    with pytest.raises(ValueError, match="strictly positive"):
        scan_logspace(-torch.rand(1, 3, 2), torch.rand(1, 3, 2) + 0.1)
