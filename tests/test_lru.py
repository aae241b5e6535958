"""The complex-diagonal LRU: parallel (complex Blelloch scan) == sequential (loop), initial
states, chunks, gradients, |lambda| < 1, counting modulo m by rotation, errors."""
import math

import pytest
import torch

from rvt_lib.models.lru import LRU, LRUConfig, complex_dtype


def _make(I=5, H=4, N=3, L=1, dtype=torch.float64, seed=0, **kw):
    torch.manual_seed(seed)
    return LRU(LRUConfig(I, H, state_size=N, num_layers=L, **kw)).to(dtype)


def _inputs(core, B, T, dtype=torch.float64, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, core.input_size, generator=gen, dtype=dtype) * 2.0
    re, im = (torch.randn(core.num_layers, B, core.state_size, generator=gen, dtype=dtype) for _ in range(2))
    return x, torch.complex(re, im)


@pytest.mark.parametrize("L", [1, 3])
@pytest.mark.parametrize("with_state", [False, True])
def test_parallel_equals_sequential_float64(L, with_state):
    core = _make(L=L)
    x, state = _inputs(core, 3, 11)
    state = state if with_state else None
    y_p, h_p = core(x, state, mode="parallel")
    y_s, h_s = core(x, state, mode="sequential")
    assert y_p.shape == (3, 11, 4) and y_p.dtype == torch.float64
    assert h_p.shape == (L, 3, 3) and h_p.dtype == torch.complex128
    torch.testing.assert_close(y_p, y_s, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h_p, h_s, rtol=1e-10, atol=1e-12)
    if with_state:
        assert (core(x)[0] - y_p).abs().max() > 1e-3


def test_parallel_equals_sequential_float32_long():
    core = _make(I=8, H=16, N=16, L=2, dtype=torch.float32)
    x, state = _inputs(core, 2, 500, dtype=torch.float32)
    y_p, h_p = core(x, state, mode="parallel")
    y_s, h_s = core(x, state, mode="sequential")
    torch.testing.assert_close(y_p, y_s, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(h_p, h_s, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_chunked_processing_continues_exactly(mode):
    core = _make(L=2, mode=mode)
    x, state = _inputs(core, 2, 17)
    y_full, h_full = core(x, state)
    y1, h = core(x[:, :6], state)
    y2, h = core(x[:, 6:], h)
    torch.testing.assert_close(torch.cat([y1, y2], dim=1), y_full, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h, h_full, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_gradcheck(mode):
    core = _make(I=3, H=2, N=2, L=2)
    x, state = _inputs(core, 2, 5)
    x.requires_grad_(True)
    state.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x_, s_: core(x_, s_, mode=mode)[0], (x, state))


def test_parameter_gradients_agree_between_modes():
    core = _make(L=2)
    x, state = _inputs(core, 2, 10)
    grads = {}
    for mode in ("parallel", "sequential"):
        core.zero_grad()
        y, h = core(x, state, mode=mode)
        (y.pow(2).sum() + h.abs().pow(2).sum()).backward()
        grads[mode] = [p.grad.clone() for p in core.parameters()]
    for gp, gs in zip(grads["parallel"], grads["sequential"]):
        torch.testing.assert_close(gp, gs, rtol=1e-9, atol=1e-11)


def test_lambda_is_inside_the_unit_disc_and_rotates():
    core = _make(N=8, r_min=0.5, r_max=0.99)
    x, _ = _inputs(core, 4, 20)
    lam, _ = core.layers[0].coefficients(x * 10)
    assert (lam.abs() < 1).all()
    assert (lam.imag.abs() > 1e-3).any()                                   # genuinely complex
    lam0, _ = core.layers[0].coefficients(torch.zeros(1, 1, 5, dtype=torch.float64))
    assert ((lam0.abs() >= 0.5 - 1e-12) & (lam0.abs() <= 0.99 + 1e-12)).all()   # ring initialisation


@pytest.mark.parametrize("m", [3, 5])
def test_hand_set_weights_count_modulo_m(m):
    """One-hot symbols {0, 1}: symbol 1 rotates by 2 pi / m; the angle of h counts ones mod m."""
    core = _make(I=2, H=2, N=1)
    layer = core.layers[0]
    with torch.no_grad():
        layer.gates.weight.zero_()
        layer.gates.bias[0] = -40.0                                        # |lambda| = exp(-softplus(-40)) ~ 1
        layer.gates.bias[1] = 0.0
        layer.gates.weight[1, 1] = 2 * math.pi / m                         # theta = 2 pi / m for symbol 1
        layer.B.weight.zero_()
    gen = torch.Generator().manual_seed(m)
    sym = torch.randint(0, 2, (6, 40), generator=gen)
    x = torch.nn.functional.one_hot(sym, 2).double()
    h0 = torch.ones(1, 6, 1, dtype=torch.complex128)
    for mode in ("parallel", "sequential"):
        _, h = core(x, h0, mode=mode)
        count = torch.remainder(torch.angle(h[0, :, 0]) * m / (2 * math.pi), m).round().long() % m
        assert torch.equal(count, sym.sum(1) % m)


def test_bad_inputs():
    core = _make(L=2, dtype=torch.float32)
    x = torch.randn(3, 7, 5)
    with pytest.raises(ValueError, match=r"\(batch, time, 5\)"):
        core(torch.randn(3, 7, 6))
    with pytest.raises(TypeError, match="floating"):
        core(torch.ones(3, 7, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        core(torch.randn(3, 0, 5))
    with pytest.raises(ValueError, match=r"\(2, 3, 3\)"):
        core(x, torch.zeros(1, 3, 3, dtype=torch.complex64))
    with pytest.raises(TypeError, match="complex64"):
        core(x, torch.zeros(2, 3, 3))                                      # a real state
    with pytest.raises(TypeError, match="complex64"):
        core(x, torch.zeros(2, 3, 3, dtype=torch.complex128))
    with pytest.raises(ValueError, match="mode"):
        core(x, mode="fast")
    with pytest.raises(ValueError, match="r_min"):
        LRUConfig(5, 4, r_max=1.0)
    with pytest.raises(ValueError, match="state_size"):
        LRUConfig(5, 4, state_size=0)
    assert LRUConfig(5, 4).state_size == 4
    assert complex_dtype(torch.float64) == torch.complex128


def test_token_by_token_generation_equals_parallel():
    core = _make(L=2)
    x, _ = _inputs(core, 2, 9)
    y_par, s_par = core(x)                                     # parallel, from zeros
    s, ys = None, []
    for t in range(9):
        y, s = core(x[:, t:t + 1], s, mode="sequential")
        ys.append(y)
    torch.testing.assert_close(torch.cat(ys, dim=1), y_par, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(s, s_par, rtol=1e-10, atol=1e-12)
