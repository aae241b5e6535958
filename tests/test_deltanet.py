"""DeltaNet: the WY form and the chunked associative scan == loop, initial states, chunks, gradients, the
eigenvalues of I - beta k k^T, parity by reflections, the delta rule as linear attention,
errors."""
import pytest
import torch

from rvt_lib.models.deltanet import (DeltaNet, DeltaNetConfig, _combine, delta_rule_chunked,
                                     delta_rule_sequential, delta_rule_wy)
from rvt_lib.models.linear_attention import linear_attention_parallel


def _make(I=5, H=4, heads=2, L=1, dtype=torch.float64, seed=0, **kw):
    torch.manual_seed(seed)
    return DeltaNet(DeltaNetConfig(I, H, num_heads=heads, num_layers=L, **kw)).to(dtype)


def _inputs(core, B, T, dtype=torch.float64, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, core.input_size, generator=gen, dtype=dtype) * 2.0
    state = torch.randn(core.state_shape(B), generator=gen, dtype=dtype)
    return x, state


def _qkvb(B=2, H=2, T=13, dk=3, dv=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q, k = (torch.nn.functional.normalize(torch.randn(B, H, T, dk, generator=gen, dtype=torch.float64), dim=-1)
            for _ in range(2))
    v = torch.randn(B, H, T, dv, generator=gen, dtype=torch.float64)
    beta = torch.rand(B, H, T, generator=gen, dtype=torch.float64) * 2
    S0 = torch.randn(B, H, dv, dk, generator=gen, dtype=torch.float64)
    return q, k, v, beta, S0


def test_combine_is_associative_and_composes_affine_maps():
    gen = torch.Generator().manual_seed(0)
    pairs = [(torch.randn(3, 3, generator=gen, dtype=torch.float64),
              torch.randn(2, 3, generator=gen, dtype=torch.float64)) for _ in range(3)]
    x, y, z = pairs
    for u, w in zip(_combine(_combine(x, y), z), _combine(x, _combine(y, z))):
        torch.testing.assert_close(u, w, rtol=1e-12, atol=1e-12)
    S = torch.randn(2, 3, generator=gen, dtype=torch.float64)
    A, W = _combine(x, y)
    torch.testing.assert_close(S @ A + W, (S @ x[0] + x[1]) @ y[0] + y[1])


@pytest.mark.parametrize("form", [delta_rule_wy, delta_rule_chunked])
@pytest.mark.parametrize("chunk_size", [1, 2, 4, 5, 13, 64])
@pytest.mark.parametrize("with_state", [False, True])
def test_functional_chunked_equals_sequential(form, chunk_size, with_state):
    q, k, v, beta, S0 = _qkvb()
    S0 = S0 if with_state else None
    y_s, S_s = delta_rule_sequential(q, k, v, beta, S0)
    y_c, S_c = form(q, k, v, beta, S0, chunk_size)
    torch.testing.assert_close(y_c, y_s, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(S_c, S_s, rtol=1e-10, atol=1e-12)


def test_wy_form_keeps_reflections_exact_in_float32():
    """beta = 2 everywhere (every transition a reflection) over 512 steps, chunks of 64."""
    q, k, v, _, S0 = _qkvb(T=512, dk=6, dv=6)
    beta = torch.full(k.shape[:3], 2.0, dtype=torch.float64)
    y_s, S_s = delta_rule_sequential(q, k, v, beta, S0)
    y_w, S_w = delta_rule_wy(*(u.float() for u in (q, k, v, beta, S0)), chunk_size=64)
    torch.testing.assert_close(y_w.double(), y_s, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(S_w.double(), S_s, rtol=1e-3, atol=1e-3)


def test_delta_rule_is_linear_attention_writing_the_correction():
    """S_t = S_{t-1} + beta (v - S_{t-1} k) k^T: linear attention with value beta (v - S_{t-1} k)."""
    q, k, v, beta, S0 = _qkvb(T=9)
    S, corrected = S0, []
    for t in range(9):
        v_t = beta[:, :, t, None] * (v[:, :, t] - torch.einsum("bhvk,bhk->bhv", S, k[:, :, t]))
        corrected.append(v_t)
        S = S + v_t.unsqueeze(-1) * k[:, :, t].unsqueeze(-2)
    y_la, S_la = linear_attention_parallel(q, k, torch.stack(corrected, dim=2), None, S0)
    y_dn, S_dn = delta_rule_chunked(q, k, v, beta, S0, chunk_size=4)
    torch.testing.assert_close(y_dn, y_la, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(S_dn, S_la, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("beta_range,low", [("signed", -1.0), ("positive", 0.0)])
def test_transition_eigenvalues(beta_range, low):
    core = _make(beta_range=beta_range)
    x, _ = _inputs(core, 4, 30)
    q, k, v, beta = core.layers[0].coefficients(x * 3)
    A = torch.eye(2, dtype=torch.float64) - beta[..., None, None] * k.unsqueeze(-1) * k.unsqueeze(-2)
    eig = torch.linalg.eigvalsh(A)                                        # (B, nh, T, 2), ascending
    assert (eig >= low - 1e-12).all() and (eig <= 1 + 1e-12).all()
    torch.testing.assert_close(eig[..., 0], 1 - beta)                     # 1 - beta along k
    torch.testing.assert_close(eig[..., 1], torch.ones_like(beta))        # 1 orthogonal to k
    assert (eig[..., 0] < 0).any() == (beta_range == "signed")


@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_hand_set_reflections_compute_parity(mode):
    """d = 1, beta = 2 for a one (a reflection, eigenvalue -1), 0 for a zero, v = 0: y = (-1)^(#ones)."""
    core = _make(I=2, H=1, heads=1, chunk_size=4)
    layer = core.layers[0]
    with torch.no_grad():
        layer.qkv.weight.zero_()
        layer.qkv.bias.copy_(torch.tensor([1.0, 1.0, 0.0]))              # q = k = 1, v = 0
        layer.beta.weight.copy_(torch.tensor([[-40.0, 40.0]]))            # beta ~ 0 or ~ 2
        layer.beta.bias.zero_()
        layer.out.weight.fill_(1.0)
        layer.out.bias.zero_()
    gen = torch.Generator().manual_seed(0)
    bits = torch.randint(0, 2, (5, 23), generator=gen)
    x = torch.nn.functional.one_hot(bits, 2).double()
    y, _ = core(x, torch.ones(1, 5, 1, 1, 1, dtype=torch.float64), mode=mode)
    parity = bits.cumsum(1) % 2
    torch.testing.assert_close(y[..., 0], 1.0 - 2.0 * parity.double(), rtol=0, atol=1e-9)


@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("with_state", [False, True])
def test_core_parallel_equals_sequential(L, with_state):
    core = _make(L=L, chunk_size=4)
    x, state = _inputs(core, 3, 11)
    state = state if with_state else None
    y_p, S_p = core(x, state, mode="parallel")
    y_s, S_s = core(x, state, mode="sequential")
    assert y_p.shape == (3, 11, 4) and S_p.shape == core.state_shape(3) == (L, 3, 2, 2, 2)
    torch.testing.assert_close(y_p, y_s, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(S_p, S_s, rtol=1e-10, atol=1e-12)
    if with_state:
        assert (core(x)[0] - y_p).abs().max() > 1e-3


def test_parallel_equals_sequential_float32_long():
    core = _make(I=8, H=16, heads=4, L=2, dtype=torch.float32)
    x, state = _inputs(core, 2, 300, dtype=torch.float32)
    y_p, S_p = core(x, state, mode="parallel")
    y_s, S_s = core(x, state, mode="sequential")
    torch.testing.assert_close(y_p, y_s, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(S_p, S_s, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_chunked_processing_continues_exactly(mode):
    core = _make(L=2, mode=mode, chunk_size=3)
    x, state = _inputs(core, 2, 13)
    y_full, S_full = core(x, state)
    y1, S = core(x[:, :5], state)
    y2, S = core(x[:, 5:], S)
    torch.testing.assert_close(torch.cat([y1, y2], dim=1), y_full, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(S, S_full, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_gradcheck(mode):
    core = _make(I=3, H=2, heads=1, L=2, chunk_size=2)
    x, state = _inputs(core, 2, 5)
    x.requires_grad_(True)
    state.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x_, s_: core(x_, s_, mode=mode)[0], (x, state))


def test_parameter_gradients_agree_between_modes():
    core = _make(L=2, chunk_size=3)
    x, state = _inputs(core, 2, 10)
    grads = {}
    for mode in ("parallel", "sequential"):
        core.zero_grad()
        y, S = core(x, state, mode=mode)
        (y.pow(2).sum() + S.sum()).backward()
        grads[mode] = [p.grad.clone() for p in core.parameters()]
    for gp, gs in zip(grads["parallel"], grads["sequential"]):
        torch.testing.assert_close(gp, gs, rtol=1e-9, atol=1e-11)


def test_bad_inputs():
    core = _make(L=2, dtype=torch.float32)
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
        DeltaNetConfig(5, 6, num_heads=4)
    with pytest.raises(ValueError, match="beta_range"):
        DeltaNetConfig(5, 4, beta_range="negative")
    with pytest.raises(ValueError, match="chunk_size"):
        DeltaNetConfig(5, 4, chunk_size=0)


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
