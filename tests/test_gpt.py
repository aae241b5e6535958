"""Tests for the GPT core (rvt_lib.models.gpt): shapes, causality, the two attention
paths, the key/value cache and input validation."""
import math

import pytest
import torch
import torch.nn.functional as F

from rvt_lib.models.gpt import GPT, GPTConfig, causal_mask


def make_core(seed=0, dtype=torch.float64, **kw):
    torch.manual_seed(seed)
    cfg = dict(d_model=16, n_layer=2, n_head=4, block_size=32)
    cfg.update(kw)
    return GPT(GPTConfig(**cfg)).to(dtype).eval()


def features(B=2, T=10, C=16, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, C, generator=g, dtype=dtype)


def test_shapes_and_cache_layout():
    core = make_core(n_layer=3, dtype=torch.float32)
    x = features(B=3, T=7, dtype=torch.float32)
    y, state = core(x)
    assert y.shape == (3, 7, 16)
    assert core.input_size == core.hidden_size == 16
    assert len(state) == 3
    for k, v in state:
        assert k.shape == v.shape == (3, 4, 7, 4)  # (B, n_head, T, head_dim)


@pytest.mark.parametrize("attention", ["plain", "fast"])
@pytest.mark.parametrize("t", [0, 3, 9])
def test_causality(attention, t):
    """Changing the input at position t never changes outputs before t, and does change t."""
    core = make_core(attention=attention)
    x = features(T=10)
    x2 = x.clone()
    x2[:, t] += torch.randn(2, 16, dtype=x.dtype)
    y, _ = core(x)
    y2, _ = core(x2)
    torch.testing.assert_close(y2[:, :t], y[:, :t], rtol=0, atol=1e-12)
    assert (y2[:, t] - y[:, t]).abs().max() > 1e-3


def test_non_causal_sees_the_future():
    core = make_core(causal=False)
    x = features(T=10)
    x2 = x.clone()
    x2[:, 9] += torch.randn(2, 16, dtype=x.dtype)  # (not a constant: LayerNorm would remove it)
    assert (core(x2)[0][:, 0] - core(x)[0][:, 0]).abs().max() > 1e-4


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("mlp", [True, False])
def test_plain_equals_fast(causal, mlp):
    plain = make_core(attention="plain", causal=causal, mlp=mlp)
    fast = make_core(attention="fast", causal=causal, mlp=mlp)
    fast.load_state_dict(plain.state_dict())
    x = features(T=12)
    torch.testing.assert_close(fast(x)[0], plain(x)[0], rtol=0, atol=1e-5)
    # also with a cache (the shifted-triangle mask path of the fast attention)
    _, cache = plain(x[:, :5])
    torch.testing.assert_close(fast(x[:, 5:], cache)[0], plain(x[:, 5:], cache)[0], rtol=0, atol=1e-5)


def test_float32_paths_agree_in_eval_and_train_without_dropout():
    plain = make_core(attention="plain", dtype=torch.float32).train()
    fast = make_core(attention="fast", dtype=torch.float32).train()
    fast.load_state_dict(plain.state_dict())
    x = features(T=12, dtype=torch.float32)
    torch.testing.assert_close(fast(x)[0], plain(x)[0], rtol=0, atol=1e-5)


def test_plain_attention_matches_the_formula():
    """One head, one block, no MLP, by hand: softmax(q k^T / sqrt(d) + mask) v."""
    core = make_core(n_layer=1, n_head=1, mlp=False, attention="plain")
    x = features(B=1, T=5)
    blk = core.blocks[0]
    h = x + core.wpe(torch.arange(5))
    a = blk.ln_1(h)
    q, k, v = blk.attn.c_attn(a).split(16, dim=2)
    scores = q @ k.transpose(1, 2) / math.sqrt(16)
    scores = scores.masked_fill(~torch.ones(5, 5, dtype=torch.bool).tril(), float("-inf"))
    expected = h + blk.attn.c_proj(F.softmax(scores, dim=-1) @ v)
    torch.testing.assert_close(core(x)[0], expected)


def test_causal_mask_with_offset():
    m = causal_mask(2, 3)
    assert m.tolist() == [[True, True, True, True, False], [True, True, True, True, True]]


@pytest.mark.parametrize("attention", ["plain", "fast"])
@pytest.mark.parametrize("chunks", [[10], [1] * 10, [4, 1, 5], [3, 3, 3, 1]])
def test_kv_cache_chunks_equal_one_pass(attention, chunks):
    core = make_core(attention=attention)
    x = features(T=10)
    y_full, state_full = core(x)
    outs, state, start = [], None, 0
    for n in chunks:
        y, state = core(x[:, start:start + n], state)
        outs.append(y)
        start += n
    torch.testing.assert_close(torch.cat(outs, dim=1), y_full, rtol=0, atol=1e-10)
    for (k, v), (k_full, v_full) in zip(state, state_full):
        torch.testing.assert_close(k, k_full)
        torch.testing.assert_close(v, v_full)


def test_positions_matter():
    """The position embedding makes the same input at a different position differ."""
    core = make_core()
    x = features(T=1).repeat(1, 3, 1)  # the same vector three times
    y, _ = core(x, None)
    assert (y[:, 0] - y[:, 2]).abs().max() > 1e-4


def test_block_size_overflow_raises():
    core = make_core(block_size=8)
    core(features(T=8))  # exactly full is fine
    with pytest.raises(ValueError, match="block_size=8"):
        core(features(T=9))
    _, cache = core(features(T=6))
    core(features(T=2), cache)
    with pytest.raises(ValueError, match="cache length 6"):
        core(features(T=3), cache)


def test_bad_inputs_raise():
    core = make_core()
    with pytest.raises(ValueError, match=r"\(batch, time, 16\)"):
        core(features(C=8))
    with pytest.raises(ValueError, match=r"\(batch, time, 16\)"):
        core(torch.randn(10, 16, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"\(batch, time, 16\)"):
        core(torch.ones(2, 5, 16, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        core(torch.randn(2, 0, 16, dtype=torch.float64))
    _, cache = core(features(T=4))
    with pytest.raises(ValueError, match=r"\(3, 4, P, 4\)"):
        core(features(B=3, T=2), cache)  # cache for batch 2, input batch 3
    with pytest.raises(ValueError, match="2 \\(k, v\\) pairs"):
        core(features(T=2), cache[:1])


def test_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(d_model=10, n_head=4)
    with pytest.raises(ValueError, match="attention"):
        GPTConfig(attention="flash")


def test_init_is_nanogpt_style():
    torch.manual_seed(0)
    core = GPT(GPTConfig(d_model=128, n_layer=4, n_head=4))
    qkv = core.blocks[0].attn.c_attn.weight
    proj = core.blocks[0].attn.c_proj.weight
    assert abs(qkv.std().item() - 0.02) < 0.002
    assert abs(proj.std().item() - 0.02 / math.sqrt(8)) < 0.001
    assert core.blocks[0].attn.c_attn.bias.abs().max() == 0


def test_attention_only_blocks_have_no_mlp():
    with_mlp = GPT(GPTConfig(d_model=16, n_layer=1, n_head=2, mlp=True))
    without = GPT(GPTConfig(d_model=16, n_layer=1, n_head=2, mlp=False))
    n = lambda m: sum(p.numel() for p in m.parameters())
    # the MLP is 16*64 + 64 + 64*16 + 16 weights plus the LayerNorm's 2*16
    assert n(with_mlp) - n(without) == 16 * 64 + 64 + 64 * 16 + 16 + 2 * 16


def test_gradients_flow_and_dropout_is_random_in_train_mode():
    torch.manual_seed(0)
    core = GPT(GPTConfig(d_model=16, n_layer=2, n_head=4, block_size=32, dropout=0.5)).train()
    x = features(T=6, dtype=torch.float32)
    y1, _ = core(x)
    y2, _ = core(x)
    assert not torch.allclose(y1, y2)
    y1.sum().backward()
    assert all(p.grad is not None for p in core.parameters())
    core.eval()
    torch.testing.assert_close(core(x)[0], core(x)[0])
