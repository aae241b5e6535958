"""Tests for the shared model wrapper (rvt_lib.models.heads): every core kind inside
SequenceModel, the four heads, the residual block, pooling, weight tying, generation,
input checks, ModelSpec and parameter matching."""
import pytest
import torch

from rvt_lib.models.gpt import GPT
from rvt_lib.models.heads import HEADS, KINDS, ModelSpec, SequenceModel, make_model, match_parameters

V = 11  # vocabulary size
D = 16  # model width


def build(kind, seed=0, dtype=torch.float64, **kw):
    torch.manual_seed(seed)
    args = dict(d_model=D, n_layer=2, n_head=4, block_size=32)
    args.update(kw)
    if "input_size" not in args:
        args.setdefault("vocab_size", V)
    return make_model(kind, **args).to(dtype).eval()


def tokens(B=2, T=7, seed=1):
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


def feats(B=2, T=7, F=3, seed=1):
    return torch.randn(B, T, F, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def greedy_by_rerunning(model, idx, n, block_size=None):
    """The slow reference: re-read the whole (cropped) prefix before every new token."""
    out = idx
    for _ in range(n):
        context = out if block_size is None else out[:, -block_size:]
        next_id = model(context)[:, -1].argmax(dim=-1, keepdim=True)
        out = torch.cat([out, next_id], dim=1)
    return out


# ------------------------------------------------------------------ shapes
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_every_head_shape(kind):
    x_tok, x_feat = tokens(B=3, T=6), feats(B=3, T=6)
    assert build(kind)(x_tok).shape == (3, 6, V)  # lm
    assert build(kind, head="classify", n_out=5)(x_tok).shape == (3, 5)
    m = build(kind, input_size=3, head="classify", n_out=4, pool="mean", head_hidden=8)
    assert m(x_feat).shape == (3, 4)
    assert build(kind, input_size=3, head="regress", n_out=2)(x_feat).shape == (3, 2)
    assert build(kind, input_size=3, head="regress")(x_feat).shape == (3, 1)  # n_out defaults to 1
    assert build(kind, head="tag", n_out=4)(x_tok).shape == (3, 6, 4)        # one label per position
    assert build(kind, input_size=3, head="tag", n_out=2)(x_feat).shape == (3, 6, 2)


@pytest.mark.parametrize("kind", KINDS)
def test_tag_head_is_causal_for_causal_cores(kind):
    """A per-position label at t depends on inputs <= t only (every core here is causal)."""
    model = build(kind, head="tag", n_out=3)
    x = tokens(T=8)
    y = x.clone()
    y[:, 5:] = (y[:, 5:] + 1) % V
    torch.testing.assert_close(model(x)[:, :5], model(y)[:, :5], rtol=0, atol=1e-9)
    assert not torch.allclose(model(x)[:, 5:], model(y)[:, 5:])
    assert not model.tied and model.head.weight.shape == (3, D)


@pytest.mark.parametrize("kind", KINDS)
def test_state_passing_through_the_wrapper(kind):
    """Two chunks with the state handed over == one pass (lm head, logits per step)."""
    model = build(kind)
    x = tokens(T=9)
    full, state = model(x, return_state=True)
    assert state is not None
    a, s = model(x[:, :4], return_state=True)
    b = model(x[:, 4:], state=s)
    torch.testing.assert_close(torch.cat([a, b], dim=1), full, rtol=0, atol=1e-9)


def test_core_kwargs_and_dropout_routing():
    m = make_model("gpt", vocab_size=V, d_model=D, n_head=4, attention="plain", causal=False, dropout=0.1)
    assert isinstance(m.core, GPT)
    assert m.core.config.attention == "plain" and m.core.config.causal is False
    assert m.core.config.dropout == 0.1 and m.drop.p == 0.0  # the GPT owns its dropout
    m = make_model("lstm", vocab_size=V, d_model=D, dropout=0.1)
    assert m.drop.p == 0.1
    assert m.core.input_size == m.core.hidden_size == D


# ------------------------------------------------------------- weight tying
def test_gpt_lm_head_is_tied_to_the_embedding():
    m = build("gpt")
    assert m.tied and m.head.weight is m.embed.weight
    n_params = sum(p.numel() for p in m.parameters())  # parameters() lists the shared one once
    untied = sum(p.numel() for n, p in m.named_parameters(remove_duplicate=False))
    assert untied - n_params == V * D
    with torch.no_grad():
        m.embed.weight[3, 0] += 1.0
    assert m.head.weight[3, 0] == m.embed.weight[3, 0]


def test_recurrent_lm_head_is_not_tied():
    m = build("lstm")
    assert not m.tied and m.head.weight is not m.embed.weight


# ------------------------------------------------------------------ pooling
@pytest.mark.parametrize("kind", ["gpt", "gru"])
def test_pooling_last_vs_mean(kind):
    last = build(kind, input_size=3, head="regress", n_out=2, pool="last")
    mean = build(kind, input_size=3, head="regress", n_out=2, pool="mean")
    mean.load_state_dict(last.state_dict())
    x = feats(T=5)
    h = last.ln_f(last.core(last.embed(x))[0])  # (B, T, D)
    torch.testing.assert_close(last(x), last.head(h[:, -1]))
    torch.testing.assert_close(mean(x), last.head(h.mean(dim=1)))
    assert (last(x) - mean(x)).abs().max() > 1e-4


# --------------------------------------------------------------- generation
@pytest.mark.parametrize("kind", KINDS)
def test_generate_length_range_and_prompt(kind):
    model = build(kind, dtype=torch.float32).train()
    idx = tokens(B=2, T=3)
    out = model.generate(idx, 6, temperature=0.8, top_k=5, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 9) and out.dtype == idx.dtype
    assert out.min() >= 0 and out.max() < V
    assert torch.equal(out[:, :3], idx)
    assert model.training  # the mode is restored
    again = model.generate(idx, 6, temperature=0.8, top_k=5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # reproducible with a seeded generator
    assert torch.equal(model.generate(idx, 0), idx)


@pytest.mark.parametrize("kind", KINDS)
def test_greedy_with_state_equals_rerunning_the_prefix(kind):
    model = build(kind)
    idx = tokens(B=2, T=4)
    fast = model.generate(idx, 8, top_k=1)
    slow = greedy_by_rerunning(model, idx, 8)
    assert torch.equal(fast, slow)


def test_gpt_generation_past_block_size():
    """Past block_size the GPT re-reads the last block_size tokens, like nanoGPT."""
    model = build("gpt", block_size=6)
    for prompt_len in (4, 9):  # shorter and longer than block_size
        idx = tokens(B=2, T=prompt_len)
        fast = model.generate(idx, 7, top_k=1)
        assert fast.shape == (2, prompt_len + 7)
        assert torch.equal(fast, greedy_by_rerunning(model, idx, 7, block_size=6))


def test_sampling_depends_on_the_seed():
    model = build("gpt", dtype=torch.float32)
    idx = tokens(B=4, T=2)
    a = model.generate(idx, 10, generator=torch.Generator().manual_seed(1))
    b = model.generate(idx, 10, generator=torch.Generator().manual_seed(2))
    assert not torch.equal(a, b)


# -------------------------------------------------------------- bad inputs
def test_bad_inputs_raise():
    m = build("gpt")
    with pytest.raises(TypeError, match=r"\(batch, time\)"):
        m(tokens().double())
    with pytest.raises(TypeError):
        m(tokens() > 3)  # bool is not a token id
    with pytest.raises(TypeError, match="int64"):
        m(tokens().to(torch.uint8))  # nn.Embedding takes int64/int32 only
    assert m(tokens().int()).shape == (2, 7, V)
    with pytest.raises(ValueError, match=r"\[0, 11\)"):
        m(tokens() + V)
    with pytest.raises(ValueError, match=r"\[0, 11\)"):
        m(tokens() - V)
    with pytest.raises(ValueError, match=r"\(batch, time\)"):
        m(tokens().unsqueeze(-1))
    with pytest.raises(ValueError, match="empty"):
        m(torch.zeros(2, 0, dtype=torch.long))
    f = build("lstm", input_size=3, head="regress")
    with pytest.raises(ValueError, match=r"\(batch, time, 3\)"):
        f(feats(F=4))
    with pytest.raises(TypeError, match=r"\(batch, time, 3\)"):
        f(tokens())
    with pytest.raises(ValueError, match="head='lm'"):
        f.generate(tokens(), 3)


def test_bad_construction_raises():
    with pytest.raises(ValueError, match="rnn, gru, lstm, mingru, minlstm, .*gpt"):
        make_model("transformer", vocab_size=V)
    with pytest.raises(ValueError, match="needs vocab_size"):
        make_model("gpt", input_size=3, head="lm")
    with pytest.raises(ValueError, match="exactly one"):
        make_model("gpt", vocab_size=V, input_size=3)
    with pytest.raises(ValueError, match="exactly one"):
        make_model("gpt")
    with pytest.raises(ValueError, match="n_out"):
        make_model("gpt", vocab_size=V, head="classify")
    with pytest.raises(ValueError, match="pool"):
        make_model("gpt", vocab_size=V, head="classify", n_out=2, pool="max")
    with pytest.raises(ValueError, match="head"):
        SequenceModel(build("gpt").core, vocab_size=V, head="seq2seq")


def test_bad_generate_arguments_raise():
    m = build("gpt")
    with pytest.raises(ValueError, match="temperature"):
        m.generate(tokens(), 2, temperature=0.0)
    with pytest.raises(ValueError, match="top_k"):
        m.generate(tokens(), 2, top_k=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        m.generate(tokens(), -1)


# ------------------------------------------------------------------ the residual block
@pytest.mark.parametrize("kind", [k for k in KINDS if k != "gpt"])
def test_residual_block_wraps_every_recurrent_kind(kind):
    blocks = pytest.importorskip("rvt_lib.models.blocks")
    model = build(kind, block="residual", n_layer=2)
    assert isinstance(model.core, blocks.ResidualCore)
    assert model(tokens()).shape == (2, 7, V)
    bare = build(kind)
    assert sum(p.numel() for p in model.parameters()) > sum(p.numel() for p in bare.parameters())  # + MLPs, norms
    # the GPT already is that block: block= changes nothing
    gpt_res, gpt = build("gpt", block="residual"), build("gpt")
    assert all(torch.equal(p, q) for p, q in zip(gpt_res.parameters(), gpt.parameters()))
    with pytest.raises(ValueError, match="block"):
        make_model(kind, vocab_size=V, block="highway")


# ------------------------------------------------------------------ ModelSpec
HEAD_ARGS = {"lm": dict(vocab_size=V), "classify": dict(vocab_size=V, n_out=3, pool="mean"),
             "regress": dict(input_size=2, n_out=2, head_hidden=5), "tag": dict(vocab_size=V, n_out=4)}


@pytest.mark.parametrize("block", ["bare", "residual"])
@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("kind", KINDS)
def test_n_params_equals_the_built_count_for_every_kind_and_head(kind, head, block):
    if block == "residual":
        pytest.importorskip("rvt_lib.models.blocks")
    spec = ModelSpec(kind, head, d_model=D, n_layer=2, block_size=16, block=block, **HEAD_ARGS[head])
    model = spec.build(0)
    assert spec.n_params() == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert model.head_kind == head


def test_build_is_seeded_and_deterministic():
    spec = ModelSpec("lstm", vocab_size=V, d_model=D, n_layer=1)
    a, b, c = spec.build(3), spec.build(3), spec.build(4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))
    torch.manual_seed(3)
    ref = make_model("lstm", vocab_size=V, d_model=D, n_layer=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), ref.parameters()))


def test_spec_but_name_equality_and_immutability():
    spec = ModelSpec("mingru", "classify", input_size=1, n_out=2, d_model=8)
    wider = spec.but(d_model=16)
    assert wider["d_model"] == 16 and spec["d_model"] == 8 and wider.head == "classify"
    assert spec.but(kind="gpt").kind == "gpt" and spec.but(head="regress").head == "regress"
    assert spec.name == "minGRU" and spec.but(block="residual").name == "minGRU block"
    assert ModelSpec("gpt", vocab_size=V).name == "GPT"
    assert spec == ModelSpec("mingru", "classify", input_size=1, n_out=2, d_model=8) != wider
    assert len({spec, wider, spec.but(d_model=8)}) == 2
    assert "d_model=8" in repr(spec)
    import copy
    import pickle
    assert pickle.loads(pickle.dumps(spec)) == spec == copy.deepcopy(spec)
    with pytest.raises(AttributeError, match="immutable"):
        spec.kind = "gru"
    with pytest.raises(TypeError):
        spec.kwargs["d_model"] = 3
    with pytest.raises(ValueError, match="unknown kind"):
        ModelSpec("mamba")
    with pytest.raises(ValueError, match="head"):
        ModelSpec("gru", head="seq2seq")


@pytest.mark.parametrize("kind", KINDS)
def test_match_parameters_finds_the_closest_width(kind):
    target = 30_000
    headed = kind in ("gpt", "deltanet", "linear_attn")
    tol = 0.15 if headed else 0.03               # widths move in steps of n_head
    spec = match_parameters(ModelSpec(kind, vocab_size=V, n_layer=2, block_size=32), target, tol=tol)
    d, n = spec["d_model"], spec.n_params()
    assert abs(n / target - 1) <= tol
    step = 4 if headed else 1                    # the width is a multiple of n_head (4)
    assert d % step == 0
    for other in (d - step, d + step):           # no neighbouring width lands closer
        assert abs(spec.but(d_model=other).n_params() - target) >= abs(n - target)


def test_match_parameters_other_width_and_tolerance():
    base = ModelSpec("gru", "regress", input_size=1, d_model=8, n_layer=1)
    spec = match_parameters(base, 2_000, width="head_hidden", tol=0.2)
    assert spec["d_model"] == 8 and spec["head_hidden"] > 0
    with pytest.raises(ValueError, match="tolerance"):
        match_parameters(ModelSpec("gpt", vocab_size=V, n_layer=2), 50_000, tol=0.001)
    with pytest.raises(ValueError, match="target"):
        match_parameters(base, 0)


# ----------------------------------------------------------------------------- every registered kind

@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("rnn", "gru", "lstm", "gpt")])
def test_scan_kinds_build_count_and_agree_between_modes(kind):
    """The state-tracking cores registered in make_model: counted without building, and the
    parallel mode of the whole model equals its sequential mode."""
    spec = ModelSpec(kind, head="lm", vocab_size=11, d_model=16, n_layer=2, n_head=2)
    model = spec.build(seed=3).double()
    assert spec.n_params() == sum(p.numel() for p in model.parameters())
    x = torch.randint(0, 11, (2, 9))
    parallel = model(x)
    for module in model.modules():  # switch every layer's config to the loop
        if hasattr(module, "config") and hasattr(module.config, "mode"):
            object.__setattr__(module.config, "mode", "sequential") if getattr(
                type(module.config), "__dataclass_params__").frozen else setattr(module.config, "mode", "sequential")
    torch.testing.assert_close(model(x), parallel)
    assert model.generate(torch.zeros(1, 1, dtype=torch.long), 3).shape == (1, 4)
