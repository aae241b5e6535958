"""Linear attention as a matrix-state RNN: parallel (masked attention) == sequential (loop),
with and without decay, initial states, chunks, gradients, errors; the decay variant with a
one-dimensional key is exactly minGRU's scan."""
import pytest
import torch

from rvt_lib.models.linear_attention import (LinearAttention, LinearAttentionConfig,
                                             linear_attention_parallel, linear_attention_sequential)
from rvt_lib.models.mingru import MinGRU, MinGRUConfig, g
from rvt_lib.scan import scan_sequential

DECAYS = ["none", "scalar", "diagonal"]


def _make(decay="scalar", I=5, H=4, heads=2, L=1, dtype=torch.float64, seed=0, **kw):
    torch.manual_seed(seed)
    return LinearAttention(LinearAttentionConfig(I, H, num_heads=heads, num_layers=L, decay=decay, **kw)).to(dtype)


def _inputs(core, B, T, dtype=torch.float64, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, core.input_size, generator=gen, dtype=dtype) * 2.0
    state = torch.randn(core.state_shape(B), generator=gen, dtype=dtype)
    return x, state


def _qkv(B=2, H=3, T=9, dk=4, dv=5, seed=0, decay="none"):
    gen = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(B, H, T, dk, generator=gen, dtype=torch.float64) for _ in range(2))
    v = torch.randn(B, H, T, dv, generator=gen, dtype=torch.float64)
    S0 = torch.randn(B, H, dv, dk, generator=gen, dtype=torch.float64)
    shape = {"none": None, "scalar": (B, H, T), "diagonal": (B, H, T, dk)}[decay]
    lg = None if shape is None else -torch.rand(shape, generator=gen, dtype=torch.float64) * 2
    return q, k, v, lg, S0


@pytest.mark.parametrize("decay", DECAYS)
@pytest.mark.parametrize("with_state", [False, True])
def test_functional_parallel_equals_sequential(decay, with_state):
    q, k, v, lg, S0 = _qkv(decay=decay)
    S0 = S0 if with_state else None
    y_s, S_s = linear_attention_sequential(q, k, v, lg, S0)
    y_p, S_p = linear_attention_parallel(q, k, v, lg, S0)
    torch.testing.assert_close(y_p, y_s, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(S_p, S_s, rtol=1e-10, atol=1e-12)


def test_no_decay_is_causal_attention_without_softmax():
    """y_t = sum_{s<=t} (q_t . k_s) v_s, written out as a double loop."""
    q, k, v, _, _ = _qkv(T=6)
    y, _ = linear_attention_parallel(q, k, v)
    ref = torch.zeros_like(y)
    for t in range(6):
        for s in range(t + 1):
            ref[:, :, t] += (q[:, :, t] * k[:, :, s]).sum(-1, keepdim=True) * v[:, :, s]
    torch.testing.assert_close(y, ref, rtol=1e-10, atol=1e-12)


def test_scalar_decay_with_one_dimensional_key_is_the_diagonal_scan():
    """d_k = 1, q = k = 1: S is (dv x 1) and the recurrence is h_t = gamma_t h_{t-1} + v_t."""
    B, H, T, D = 2, 3, 11, 4
    gen = torch.Generator().manual_seed(5)
    v = torch.randn(B, H, T, D, generator=gen, dtype=torch.float64)
    gamma = torch.rand(B, H, T, generator=gen, dtype=torch.float64) * 0.9 + 0.05
    h0 = torch.randn(B, H, D, generator=gen, dtype=torch.float64)
    ones = torch.ones(B, H, T, 1, dtype=torch.float64)
    y, S = linear_attention_parallel(ones, ones, v, gamma.log(), h0.unsqueeze(-1))
    ref = scan_sequential(gamma.unsqueeze(-1).expand(-1, -1, -1, D).reshape(B * H, T, D),
                          v.reshape(B * H, T, D), h0.reshape(B * H, D)).view(B, H, T, D)
    torch.testing.assert_close(y, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(S.squeeze(-1), ref[:, :, -1])


def test_mingru_is_linear_attention_with_diagonal_decay_and_unit_keys():
    """minGRU: one head per channel, d_k = d_v = 1, q = k = 1, gamma = 1 - z, value z * g(v)."""
    torch.manual_seed(0)
    core = MinGRU(MinGRUConfig(5, 4, scan="blelloch")).double()
    x = torch.randn(2, 9, 5, dtype=torch.float64)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64)
    kz, kv = core.layers[0].linear(x).chunk(2, dim=-1)                     # (B, T, H)
    z = torch.sigmoid(kz)
    heads = lambda u: u.transpose(1, 2).unsqueeze(-1)                       # (B, T, H) -> (B, H, T, 1)
    ones = torch.ones(2, 4, 9, 1, dtype=torch.float64)
    y, _ = linear_attention_parallel(ones, ones, heads(z * g(kv)), torch.log1p(-z).transpose(1, 2),
                                     h0[0].view(2, 4, 1, 1))
    torch.testing.assert_close(y.squeeze(-1).transpose(1, 2), core(x, h0)[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("decay", DECAYS)
@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("with_state", [False, True])
def test_core_parallel_equals_sequential(decay, L, with_state):
    core = _make(decay, L=L)
    x, state = _inputs(core, 3, 10)
    state = state if with_state else None
    y_p, S_p = core(x, state, mode="parallel")
    y_s, S_s = core(x, state, mode="sequential")
    assert y_p.shape == (3, 10, 4) and S_p.shape == core.state_shape(3) == (L, 3, 2, 2, 2)
    torch.testing.assert_close(y_p, y_s, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(S_p, S_s, rtol=1e-10, atol=1e-12)
    if with_state:
        assert (core(x)[0] - y_p).abs().max() > 1e-3


@pytest.mark.parametrize("decay", DECAYS)
@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_chunked_processing_continues_exactly(decay, mode):
    core = _make(decay, L=2, mode=mode)
    x, state = _inputs(core, 2, 13)
    y_full, S_full = core(x, state)
    y1, S = core(x[:, :5], state)
    y2, S = core(x[:, 5:], S)
    torch.testing.assert_close(torch.cat([y1, y2], dim=1), y_full, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(S, S_full, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("decay", DECAYS)
@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_gradcheck(decay, mode):
    core = _make(decay, I=3, H=2, heads=1, L=2)
    x, state = _inputs(core, 2, 4)
    x.requires_grad_(True)
    state.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x_, s_: core(x_, s_, mode=mode)[0], (x, state))


@pytest.mark.parametrize("decay", DECAYS)
def test_parameter_gradients_agree_between_modes(decay):
    core = _make(decay, L=2)
    x, state = _inputs(core, 2, 8)
    grads = {}
    for mode in ("parallel", "sequential"):
        core.zero_grad()
        y, S = core(x, state, mode=mode)
        (y.pow(2).sum() + S.sum()).backward()
        grads[mode] = [p.grad.clone() for p in core.parameters()]
    for gp, gs in zip(grads["parallel"], grads["sequential"]):
        torch.testing.assert_close(gp, gs, rtol=1e-9, atol=1e-11)


def test_long_decay_sequence_has_no_overflow_in_float32():
    """exp(c_t - c_s) above the diagonal would overflow; it is masked before the exp."""
    core = _make("scalar", dtype=torch.float32)
    with torch.no_grad():
        core.layers[0].gate.bias.fill_(-8.0)                              # gamma about 3e-4: fast forgetting
    x = torch.randn(1, 300, 5)
    y_p, _ = core(x, mode="parallel")
    y_s, _ = core(x, mode="sequential")
    assert torch.isfinite(y_p).all()
    torch.testing.assert_close(y_p, y_s, rtol=1e-4, atol=1e-5)


def test_bad_inputs():
    core = _make("scalar", L=2, dtype=torch.float32)
    x = torch.randn(3, 7, 5)
    with pytest.raises(ValueError, match=r"\(batch, time, 5\)"):
        core(torch.randn(3, 7, 6))
    with pytest.raises(TypeError, match="floating"):
        core(torch.ones(3, 7, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        core(torch.randn(3, 0, 5))
    with pytest.raises(ValueError, match=r"\(2, 3, 2, 2, 2\)"):
        core(x, torch.zeros(2, 3, 4))
    with pytest.raises(TypeError, match="dtype"):
        core(x, torch.zeros(2, 3, 2, 2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="mode"):
        core(x, mode="fast")
    with pytest.raises(ValueError, match="divisible"):
        LinearAttentionConfig(5, 6, num_heads=4)
    with pytest.raises(ValueError, match="decay must be"):
        LinearAttentionConfig(5, 4, decay="exponential")
    with pytest.raises(ValueError, match="hidden_size"):
        LinearAttentionConfig(5, 0)


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
