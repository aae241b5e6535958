"""The residual recurrent core: shapes, chunked == one pass, state, parameter counts, causality, errors."""
import pytest
import torch

from rvt_lib.models.blocks import (MIXER_PARAMS, MIXERS, ResidualConfig, ResidualCore, block_params,
                                   residual_core)
from rvt_lib.models.gpt import Block, GPTConfig

B, T, D, L = 2, 9, 8, 2
# every mixer, and minGRU/minLSTM in both modes (the parallel scan must continue exactly too)
CASES = [(k, {}) for k in MIXERS] + [("mingru", {"mode": "sequential"}), ("minlstm", {"mode": "sequential"})]
IDS = [k + ("-" + kw["mode"] if kw else "") for k, kw in CASES]


def make(kind, seed=0, **kw):
    torch.manual_seed(seed)
    return residual_core(kind, d_model=D, n_layer=L, **kw).double()


def count(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@pytest.mark.parametrize("kind,kw", CASES, ids=IDS)
def test_shapes_and_interface(kind, kw):
    core = make(kind, **kw)
    x = torch.randn(B, T, D, dtype=torch.float64)
    y, state = core(x)
    assert y.shape == (B, T, D)
    assert isinstance(core.config, ResidualConfig)
    assert core.input_size == core.hidden_size == D
    assert isinstance(state, list) and len(state) == L
    for s in state:
        for t in (s if kind == "lstm" else (s,)):
            if kind in ("deltanet", "linear_attn"):   # a matrix state per head
                assert t.shape[:2] == (1, B)
            else:
                assert t.shape[:2] == (1, B) and t.shape[-1] == D
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("kind,kw", CASES, ids=IDS)
def test_chunked_equals_one_pass(kind, kw):
    core = make(kind, **kw)
    x = torch.randn(B, T, D, dtype=torch.float64)
    y_full, s_full = core(x)
    ys, state = [], None
    for chunk in (x[:, :4], x[:, 4:5], x[:, 5:]):  # uneven chunks, one of length 1
        y, state = core(chunk, state)
        ys.append(y)
    torch.testing.assert_close(torch.cat(ys, dim=1), y_full)
    for a, b in zip(state, s_full):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kind", MIXERS)
def test_state_round_trip_changes_the_output(kind):
    """A given state is used (not ignored), and the returned state is the one to continue from."""
    core = make(kind)
    x = torch.randn(B, 5, D, dtype=torch.float64)
    _, state = core(x)
    y_cont, _ = core(x[:, :1], state)
    y_fresh, _ = core(x[:, :1])
    assert not torch.allclose(y_cont, y_fresh)
    y_again, _ = core(x[:, :1], [s for s in state])  # a tuple or list copy works the same
    torch.testing.assert_close(y_again, y_cont)


@pytest.mark.parametrize("kind,kw", CASES, ids=IDS)
def test_causal(kind, kw):
    """The output at time t does not depend on inputs after t (gradients are exactly zero)."""
    core = make(kind, **kw)
    x = torch.randn(B, T, D, dtype=torch.float64, requires_grad=True)
    t = 4
    y, _ = core(x)
    (g,) = torch.autograd.grad(y[:, t].sum(), x)
    assert g[:, t + 1:].abs().max() == 0
    assert g[:, :t + 1].abs().sum(dim=(0, 2)).min() > 0  # and it does depend on every earlier step
    x2 = x.detach().clone()
    x2[:, t + 1:] = torch.randn_like(x2[:, t + 1:])
    torch.testing.assert_close(core(x2)[0][:, :t + 1], y.detach()[:, :t + 1])


@pytest.mark.parametrize("kind", [k for k in MIXER_PARAMS if k != "attention"])
@pytest.mark.parametrize("d,ratio", [(8, 4), (12, 2)])
def test_parameter_count_formula(kind, d, ratio):
    core = residual_core(kind, d_model=d, n_layer=3, mlp_ratio=ratio)
    assert count(core) == 3 * block_params(kind, d, ratio)
    block = core.blocks[0]
    assert count(block.mlp) == 2 * ratio * d * d + (ratio + 1) * d
    assert count(block.ln_1) + count(block.ln_2) == 4 * d


@pytest.mark.parametrize("d", [8, 16])
def test_same_block_as_the_gpt_but_the_mixer(d):
    """Everything but the mixer is the GPT block's: LayerNorms and MLP have the same shapes."""
    gpt_block = Block(GPTConfig(d_model=d, n_layer=1, n_head=2))
    assert count(gpt_block) == block_params("attention", d) == 12 * d * d + 13 * d
    for kind in MIXERS:
        ours = residual_core(kind, d_model=d, n_layer=1).blocks[0]
        shapes = {n: p.shape for n, p in ours.named_parameters() if not n.startswith("mixer.")}
        theirs = {n: p.shape for n, p in gpt_block.named_parameters() if not n.startswith("attn.")}
        assert shapes == theirs
        assert count(ours) - count(ours.mixer) == count(gpt_block) - count(gpt_block.attn)


def test_mlp_initialised_as_the_gpt():
    core = residual_core("gru", d_model=64, n_layer=4)
    w = core.blocks[0].mlp.c_fc.weight
    assert abs(w.std().item() - 0.02) < 0.002
    assert abs(core.blocks[0].mlp.c_proj.weight.std().item() - 0.02 / (2 * 4) ** 0.5) < 0.001
    assert core.blocks[0].mlp.c_fc.bias.abs().max() == 0


def test_core_kwargs_reach_the_mixer():
    core = residual_core("mingru", d_model=D, n_layer=1, mode="sequential")
    assert core.blocks[0].mixer.config.mode == "sequential"
    core = residual_core("rnn", d_model=D, n_layer=1, nonlinearity="relu")
    assert core.blocks[0].mixer.config.nonlinearity == "relu"


def test_dropout_only_in_training():
    core = residual_core("gru", d_model=D, n_layer=1, dropout=0.5)
    x = torch.randn(B, T, D)
    core.eval()
    torch.testing.assert_close(core(x)[0], core(x)[0])
    core.train()
    assert not torch.allclose(core(x)[0], core(x)[0])


@pytest.mark.parametrize("kwargs,match", [
    (dict(kind="gpt"), "already built"),
    (dict(kind="transformer"), "kind must be one of"),
    (dict(d_model=0), "d_model"),
    (dict(n_layer=1.5), "n_layer"),
    (dict(mlp_ratio=0), "mlp_ratio"),
    (dict(dropout=1.0), "dropout"),
    (dict(num_layers=2), "set by the block"),
    (dict(hidden_size=4), "set by the block"),
])
def test_bad_config(kwargs, match):
    args = dict(kind="gru", d_model=D, n_layer=L) | kwargs
    kind = args.pop("kind")
    with pytest.raises(ValueError, match=match):
        residual_core(kind, **args)


def test_bad_core_kwarg_raises():
    with pytest.raises(TypeError):
        residual_core("gru", d_model=D, n_layer=1, nonlinearity="relu")  # the GRU has none


def test_bad_inputs():
    core = make("lstm")
    with pytest.raises(ValueError, match=r"\(batch, time, 8\)"):
        core(torch.randn(B, T, D + 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="rank 2"):
        core(torch.randn(B, D, dtype=torch.float64))
    with pytest.raises(TypeError, match="floating-point"):
        core(torch.ones(B, T, D, dtype=torch.long))
    x = torch.randn(B, T, D, dtype=torch.float64)
    _, state = core(x)
    with pytest.raises(ValueError, match="list of 2 per-block states"):
        core(x, state[:1])
    with pytest.raises(TypeError, match="tuple"):
        core(x, [state[0][0], state[1]])  # block 0 lacks its cell state
    gru = make("gru")
    _, s = gru(x)
    with pytest.raises(ValueError, match="list of 2 per-block states"):
        gru(x, s[0])  # one tensor, not a list
    with pytest.raises(ValueError, match="must have shape"):
        gru(x, [s[0][:, :1], s[1]])  # wrong batch in block 0's state


def test_is_a_module_with_config_repr():
    core = residual_core("minlstm", d_model=D, n_layer=1)
    assert isinstance(core, ResidualCore)
    assert core.config.kind == "minlstm" and core.config.mlp_ratio == 4


@pytest.mark.parametrize("kind", MIXERS)
def test_generation_through_the_state_equals_rereading(kind):
    """Greedy generation (prompt once, then one token at a time with the state) == re-reading everything."""
    from rvt_lib.models.heads import make_model

    torch.manual_seed(0)
    model = make_model(kind, vocab_size=7, d_model=D, n_layer=L, block="residual").double().eval()
    prompt = torch.randint(0, 7, (2, 3))
    out = model.generate(prompt, 5, top_k=1)
    ids = prompt
    with torch.no_grad():
        for _ in range(5):
            ids = torch.cat([ids, model(ids)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, ids)
