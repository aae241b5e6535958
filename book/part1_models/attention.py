# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,rvt,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
#   rvt:
#     minutes: 0.9
# ---

# %% [markdown]
# # Attention and a nanoGPT
#
# A recurrent network reads a sequence one step at a time and squeezes everything it has
# seen into a fixed-size state. In {doc}`recurrent` we measured what that costs during
# training: the gradient from the last step reaches step $t$ only through a product of
# $T-t$ Jacobians, and it usually fades on the way. *Self-attention*
# {cite}`vaswani2017attention` takes the other route: every position may look at every
# earlier position directly, in one step, and the sequence is processed all at once
# instead of step by step.
#
# This chapter builds attention from its formula, then reads the Transformer decoder of
# `rvt_lib.models.gpt`, a small nanoGPT {cite}`karpathy2022nanogpt`. We check in visible
# cells that its two attention paths agree and that it cannot see the future, train a
# one-layer model on a toy task to look at what attention learns, and finally *measure*
# the price of looking at everything: time and memory that grow with the square of the
# sequence length.

# %% tags=["hide-cell"]
# Colab only: install the course library at this course version (Colab's
# own torch, numpy, pandas and matplotlib are kept). Full budget on a
# Colab GPU: import os; os.environ["RVT_BUDGET"] = "full" before the next
# cell.
import sys

if "google.colab" in sys.modules:
    course = (
        "rvt_lib[book] @ "
        "git+https://github.com/rvt-course/rnns-vs-transformers@v0.1.0"
    )
    get_ipython().run_line_magic("pip", f'install -q "{course}"')

# %%
import ctypes
import math
import os

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from rvt_lib.book import glue, interact

from rvt_lib.budget import get_budget, pick
from rvt_lib.measure import PeakMemory, count_parameters, time_fn
from rvt_lib.models.gpt import GPT, GPTConfig, SelfAttention, causal_mask
from rvt_lib.models.heads import make_model
from rvt_lib.models.lstm import LSTM, LSTMConfig
from rvt_lib.plots import plot_loglog, style
from rvt_lib.stats import fit_power_law, mean_std
from rvt_lib.train import TrainConfig, fit, set_seed

style()
set_seed(0)
print(
    f"budget: {get_budget()} | device: {torch.device('cpu')} | CPU cores: "
    f"{os.cpu_count()} | "
    f"torch threads: {torch.get_num_threads()} | torch {torch.__version__}"
)

# %% [markdown]
# ## Self-attention from scratch
#
# Stack the $T$ input vectors of a sequence as the rows of a matrix $X \in \R^{T \times d}$.
# Three learned matrices turn every row into a *query*, a *key* and a *value*:
#
# $$
# Q = X W_Q, \qquad K = X W_K, \qquad V = X W_V, \qquad W_Q, W_K, W_V \in \R^{d \times d_k}.
# $$
#
# Position $i$ compares its query with every key, turns the scores into weights with a
# softmax, and outputs the weighted average of the values:
#
# $$
# \alpha_{ij} = \frac{\exp\left(q_i \cdot k_j / \sqrt{d_k}\right)}{\sum_{j'} \exp\left(q_i \cdot k_{j'} / \sqrt{d_k}\right)},
# \qquad
# y_i = \sum_j \alpha_{ij}\, v_j,
# \qquad\text{i.e.}\qquad
# Y = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V .
# $$
#
# The weights of each row are positive and sum to one, so $y_i$ is a convex combination
# of the values: position $i$ *chooses where to read*, and the choice depends on the
# content (query-key similarity), not on a fixed position. Here is the formula as code,
# with the optional causal mask that we explain below.


# %%
def attention(q, k, v, causal=False):
    """softmax(q k^T / sqrt(d_k)) v for q, k, v of shape (..., T, d_k). Returns
    (y, weights).
    """
    T, d_k = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T, T)
    if causal:
        # (T, T), True on and below the diagonal
        allowed = torch.ones(T, T, dtype=torch.bool).tril()
        # exp(-inf) = 0: no weight
        scores = scores.masked_fill(~allowed, float("-inf"))
    # (..., T, T), rows sum to 1
    weights = torch.softmax(scores, dim=-1)
    # (..., T, d_k), (..., T, T)
    return weights @ v, weights


torch.manual_seed(0)
T_demo, d, d_k = 5, 8, 4
# (T, d) one sequence
X = torch.randn(T_demo, d)
W_Q, W_K, W_V = (torch.randn(d, d_k) for _ in range(3))  # (d, d_k) each
Y, A = attention(X @ W_Q, X @ W_K, X @ W_V)
print("attention weights (row i = where position i reads):")
print(pd.DataFrame(A.numpy()).round(3).to_string())
print(
    "row sums:", A.sum(-1).numpy().round(6), "| output shape:", tuple(Y.shape)
)

# %% [markdown]
# **Why divide by $\sqrt{d_k}$?** If the components of $q$ and $k$ are independent with
# mean 0 and variance 1, the dot product $q \cdot k$ is a sum of $d_k$ such products and
# has variance $d_k$. Without the scaling, wider heads produce larger scores, and the
# softmax of large scores puts almost all of the weight on a single key: the weights
# saturate and their gradients vanish. The cell below measures both effects on random
# vectors.

# %%
rows = []
g = torch.Generator().manual_seed(0)
for dk in (4, 16, 64, 256):
    q, k = torch.randn(2000, 32, dk, generator=g), torch.randn(
        2000, 32, dk, generator=g
    )
    # (2000, 32): one query vs 32 keys
    scores = torch.einsum("nd,nkd->nk", q[:, 0], k)
    rows.append(
        {
            "d_k": dk,
            "std of q.k": scores.std().item(),
            "mean max weight, unscaled": torch.softmax(scores, -1)
            .max(-1)
            .values.mean()
            .item(),
            "mean max weight, scaled": torch.softmax(
                scores / math.sqrt(dk), -1
            )
            .max(-1)
            .values.mean()
            .item(),
        }
    )
scaling = pd.DataFrame(rows).set_index("d_k")
print(scaling.round(3).to_string())
glue(
    "max_w_unscaled_256",
    float(scaling.loc[256, "mean max weight, unscaled"]),
    display=False,
)
glue(
    "max_w_scaled_256",
    float(scaling.loc[256, "mean max weight, scaled"]),
    display=False,
)

# %% [markdown]
# The standard deviation of $q \cdot k$ grows like $\sqrt{d_k}$. With $d_k = 256$ and 32
# keys, the largest unscaled weight is on average {glue:text}`max_w_unscaled_256:.2f`
# (almost a one-hot choice before any learning), while the scaled version stays at
# {glue:text}`max_w_scaled_256:.2f`, independent of $d_k$.
#
# ## Causal masking
#
# A language model predicts token $t+1$ from tokens $0, \dots, t$; if position $t$ could
# read position $t+1$, it would simply copy the answer. A *decoder* therefore masks the
# scores: position $i$ may only read positions $j \le i$,
#
# $$
# Y = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}} + M\right) V,
# \qquad
# M_{ij} = \begin{cases} 0 & j \le i \\ -\infty & j > i, \end{cases}
# $$
#
# so the forbidden weights are exactly $e^{-\infty} = 0$. The mask is the lower triangle
# returned by `rvt_lib.models.gpt.causal_mask`. The right panel shows the weights of one
# head of a *randomly initialised* GPT: GPT-2's initialisation (weights of standard
# deviation 0.02) makes all queries and keys tiny, so every score is close to 0 and
# position $i$ starts by averaging its prefix uniformly, with weight $1/(i+1)$ on each of
# the $i+1$ allowed keys. Training has to carve structure into this pattern.


# %%
def attention_maps(core, x):
    """The attention weights of every block of a GPT core with
    attention="plain".

    Returns a tensor (n_layer, B, n_head, T, T). The plain path applies
    dropout to the weights right after the softmax, so a forward hook on that
    (identity, p=0) module
    sees them; nothing in the model is changed.
    """
    assert core.config.attention == "plain", "the hooks read the plain path"
    maps = []
    hooks = [
        block.attn.attn_dropout.register_forward_hook(
            lambda mod, inp, out: maps.append(out.detach())
        )
        for block in core.blocks
    ]
    try:
        with torch.no_grad():
            core(x)
    finally:
        for h in hooks:
            h.remove()
    return torch.stack(maps)


set_seed(0)
T_mask = 12
random_core = GPT(
    GPTConfig(
        d_model=32, n_layer=1, n_head=2, block_size=64, attention="plain"
    )
).eval()
# (1, 1, 2, T, T)
random_maps = attention_maps(random_core, torch.randn(1, T_mask, 32))

fig, axes = plt.subplots(1, 2, figsize=(9, 4))
axes[0].imshow(causal_mask(T_mask, 0).numpy(), cmap="Greys", vmin=0, vmax=1)
axes[0].set_title("causal mask (black = may read)")
im = axes[1].imshow(
    random_maps[0, 0, 0].numpy(), cmap="viridis", vmin=0, vmax=1
)
axes[1].set_title("weights of head 0, random init")
for ax in axes:
    ax.set_xlabel("key position j (read from)")
    ax.set_ylabel("query position i (reading)")
    ax.grid(False)
fig.colorbar(im, ax=axes[1], label="attention weight")
plt.show()

# %% [markdown]
# ## Multi-head attention
#
# One softmax gives each position one way of distributing its attention. *Multi-head*
# attention runs $n_h$ attentions side by side on slices of width $d_h = d / n_h$ and
# mixes their outputs with one more matrix $W_O$:
#
# $$
# \operatorname{head}_h = \operatorname{softmax}\!\left(\frac{Q_h K_h^\top}{\sqrt{d_h}} + M\right) V_h,
# \qquad
# \operatorname{MHA}(X) = \left[\operatorname{head}_1, \dots, \operatorname{head}_{n_h}\right] W_O .
# $$
#
# The cost of the projections is the same as for a single head of width $d$; only the
# number of attention patterns grows. `SelfAttention` in `rvt_lib.models.gpt` makes $Q$,
# $K$ and $V$ of all heads with one `Linear` layer (`c_attn`, $d \to 3d$), reshapes to
# `(B, n_head, T, head_dim)` so that the heads run as a batch, and mixes them with
# `c_proj` ($W_O$). The cell below recomputes it head by head with our `attention`
# function and compares.

# %%
torch.manual_seed(0)
C, n_head = 16, 4
hd = C // n_head
mha = SelfAttention(
    GPTConfig(d_model=C, n_head=n_head, attention="plain")
).double()
x = torch.randn(2, 7, C, dtype=torch.float64)  # (B, T, C)

# (3C, C), (3C,): rows = [q; k; v]
W, b = mha.c_attn.weight, mha.c_attn.bias
heads = []
for h in range(n_head):
    # head h's rows of q, k or v
    rows_of = lambda part: slice(part * C + h * hd, part * C + (h + 1) * hd)
    # (B, T, hd) each
    q, k, v = (x @ W[rows_of(p)].T + b[rows_of(p)] for p in range(3))
    # (B, T, hd)
    heads.append(attention(q, k, v, causal=True)[0])
# (B, T, C)
y_by_hand = torch.cat(heads, dim=-1) @ mha.c_proj.weight.T + mha.c_proj.bias
y_library, _ = mha(x)
print(
    f"head-by-head vs rvt_lib SelfAttention: max |difference| = "
    f"{(y_by_hand - y_library).abs().max().item():.2e} (float64)"
)

# %% [markdown]
# ## The GPT block
#
# A Transformer *decoder* stacks blocks that alternate two kinds of work on a *residual
# stream* $x \in \R^{T \times d}$: attention (tokens exchange information) and a
# per-token MLP (each token transforms what it has gathered). `rvt_lib.models.gpt`
# follows GPT-2 and nanoGPT {cite}`karpathy2022nanogpt`: LayerNorm comes *before* each
# sub-layer ("pre-LN"), and each sub-layer *adds* its result to the stream,
#
# $$
# x \leftarrow x + \operatorname{MHA}(\operatorname{LN}_1(x)), \qquad
# x \leftarrow x + W_2\, \operatorname{GELU}(W_1 \operatorname{LN}_2(x)),
# \qquad W_1 \in \R^{d \times 4d},\ W_2 \in \R^{4d \times d}.
# $$
#
# The residual additions are the Transformer's version of the LSTM's additive cell
# update: the identity path from a block's input to its output lets gradients pass
# through depth unchanged. Positions enter as a learned embedding added to the input
# (one vector per position, up to `block_size`). Attention *without* a mask is blind to
# order: permuting the tokens permutes its outputs the same way. The causal mask breaks
# that symmetry, because position $t$ sees exactly $t$ tokens: a causal Transformer with
# no positional encoding at all still learns positional information
# {cite}`haviv2022nope`, and such "NoPE" models can even generalise to longer sequences
# better than ones with explicit encodings {cite}`kazemnejad2023nope`.
#
# Counting weights, a block holds $3d^2 + d^2$ in attention and $4d^2 + 4d^2$ in the MLP,
# so about $12 d^2$ parameters (plus $13d$ biases and LayerNorm gains). The table checks
# the count per component for a small core.

# %%
cfg = GPTConfig(d_model=128, n_layer=4, n_head=4, block_size=256)
core = GPT(cfg)
groups = {
    "position embedding": "wpe",
    "attention (c_attn, c_proj)": ".attn.",
    "MLP (c_fc, c_proj)": ".mlp.",
    "LayerNorms": ".ln_",
}
counts = {
    name: sum(p.numel() for n, p in core.named_parameters() if key in n)
    for name, key in groups.items()
}
counts["total"] = count_parameters(core)
d_, L_ = cfg.d_model, cfg.n_layer
formula = {
    "position embedding": cfg.block_size * d_,
    "attention (c_attn, c_proj)": L_ * (4 * d_**2 + 4 * d_),
    "MLP (c_fc, c_proj)": L_ * (8 * d_**2 + 5 * d_),
    "LayerNorms": L_ * 4 * d_,
}
formula["total"] = sum(formula.values())
param_table = pd.DataFrame({"counted": counts, "formula": formula})
print(f"GPT core, d_model={d_}, n_layer={L_}:")
print(param_table.to_string())
glue(
    "gpt_block_params",
    f"{(counts['total'] - counts['position embedding']) // L_:,}",
    display=False,
)
glue("gpt_12d2", f"{12 * d_**2:,}", display=False)

# %% [markdown]
# Each block of this core has {glue:text}`gpt_block_params` parameters, close to
# $12 d^2 =$ {glue:text}`gpt_12d2`. The token embedding, the final LayerNorm and the
# output head belong to the wrapper `SequenceModel` (shared by every model of the
# book), not to the core.
#
# ## Two checks: fast equals plain, and the model is causal
#
# The library has two attention paths: `attention="plain"` is the formula written out
# (the one to read), and `attention="fast"` calls PyTorch's fused
# `scaled_dot_product_attention` (the one to run). SDPA picks a kernel at run time: on a
# CUDA GPU it uses FlashAttention only for float16 and bfloat16 inputs (and for the head sizes it
# handles); float32 falls back to the memory-efficient or the plain "math" kernel. On
# a CPU it has its own fused kernel, which, as we measure below, never stores the
# $T \times T$ weight matrix either. The
# cell loads the same weights into both and compares the outputs. It then checks
# *causality* directly: change the input at position $t$ and look at which outputs move.
# Outputs before $t$ must not change at all; outputs at $t$ and after should. Finally it
# checks the key/value cache: feeding the sequence in chunks, passing the cache along,
# must give the same outputs as one pass.

# %%
set_seed(0)
checks = []
for dtype in (torch.float64, torch.float32):
    plain = (
        GPT(
            GPTConfig(
                d_model=32,
                n_layer=2,
                n_head=4,
                block_size=64,
                attention="plain",
            )
        )
        .to(dtype)
        .eval()
    )
    fast = (
        GPT(
            GPTConfig(
                d_model=32,
                n_layer=2,
                n_head=4,
                block_size=64,
                attention="fast",
            )
        )
        .to(dtype)
        .eval()
    )
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(3, 40, 32, dtype=dtype)
    with torch.no_grad():
        y_plain, _ = plain(x)
        y_fast, _ = fast(x)
        t = 17
        x_changed = x.clone()
        x_changed[:, t] += torch.randn(3, 32, dtype=dtype)
        y_changed, _ = fast(x_changed)
        y_a, cache = fast(x[:, :25])  # chunk 1: positions 0..24
        # chunk 2: positions 25..39, reading the cache
        y_b, _ = fast(x[:, 25:], state=cache)
    checks += [
        {
            "check": "plain vs fast attention",
            "dtype": str(dtype),
            "max |diff|": (y_plain - y_fast).abs().max().item(),
        },
        {
            "check": f"outputs before t={t} after changing x_t",
            "dtype": str(dtype),
            "max |diff|": (y_changed[:, :t] - y_fast[:, :t])
            .abs()
            .max()
            .item(),
        },
        {
            "check": f"outputs at and after t={t} after changing x_t",
            "dtype": str(dtype),
            "max |diff|": (y_changed[:, t:] - y_fast[:, t:])
            .abs()
            .max()
            .item(),
        },
        {
            "check": "two chunks with the cache vs one pass",
            "dtype": str(dtype),
            "max |diff|": (torch.cat([y_a, y_b], 1) - y_fast)
            .abs()
            .max()
            .item(),
        },
    ]
check_table = pd.DataFrame(checks)
print(check_table.to_string(index=False, float_format=lambda v: f"{v:.2e}"))
before = check_table[check_table.check.str.startswith("outputs before")][
    "max |diff|"
].max()
glue(
    "causal_before_diff",
    f"{before:.1e}" if before > 0 else "exactly 0",
    display=False,
)
plain_fast = check_table[
    check_table.check == "plain vs fast attention"
].set_index("dtype")["max |diff|"]
glue("plain_fast_64", f"{plain_fast['torch.float64']:.0e}", display=False)
glue("plain_fast_32", f"{plain_fast['torch.float32']:.0e}", display=False)

# %% [markdown]
# Plain and fast agree to rounding ({glue:text}`plain_fast_64` in float64,
# {glue:text}`plain_fast_32` in float32),
# the chunked pass with the cache matches the single pass, and changing $x_t$ moves the
# outputs at and after $t$ while the outputs before $t$ differ by
# {glue:text}`causal_before_diff`.
#
# ## What attention learns: a lag-3 copy task
#
# To see attention at work, we train a one-layer, two-head GPT on a task that has a
# single right place to look: the target at position $t$ is the input token at position
# $t - 3$ (and a fixed token 0 for the first three positions). Nothing in the *content*
# says where to look, so the model has to learn it from the position embeddings: the
# query of position $t$ must match the key of position $t-3$. We train three seeds and
# report the accuracy on fresh sequences.

# %%
VOCAB, T_COPY, LAG = 16, 24, 3
copy_steps = pick(smoke=20, book=300, full=1000)
copy_seeds = pick(smoke=[0], book=[0, 1, 2], full=[0, 1, 2, 3, 4], dry=[0])


def lag_copy_batch(generator, batch=32):
    """Random tokens 1..VOCAB-1; the target at t is the token at t - LAG (0
    before that).
    """
    x = torch.randint(1, VOCAB, (batch, T_COPY), generator=generator)  # (B, T)
    y = torch.zeros_like(x)
    # (B, T)
    y[:, LAG:] = x[:, :-LAG]
    return x, y


copy_models, copy_rows = {}, []
x_test, y_test = lag_copy_batch(torch.Generator().manual_seed(1234), batch=256)
for seed in copy_seeds:
    set_seed(seed)
    model = make_model(
        "gpt",
        vocab_size=VOCAB,
        d_model=32,
        n_layer=1,
        n_head=2,
        block_size=T_COPY,
        attention="plain",
    )
    gen = torch.Generator().manual_seed(seed)
    history = fit(
        model,
        lambda: lag_copy_batch(gen),
        TrainConfig(steps=copy_steps, lr=3e-3),
        seed=seed,
    )
    model.eval()
    with torch.no_grad():
        accuracy = (
            (model(x_test).argmax(-1) == y_test)[:, LAG:].float().mean().item()
        )
    copy_models[seed] = model
    copy_rows.append(
        {
            "seed": seed,
            "steps": copy_steps,
            "final train loss": history.train_loss[-1],
            "test accuracy (t >= 3)": accuracy,
            "train time (s)": history.train_time_s,
        }
    )
copy_table = pd.DataFrame(copy_rows)
print(copy_table.round(4).to_string(index=False))
acc = copy_table["test accuracy (t >= 3)"]
glue(
    "copy_acc",
    mean_std(acc),
    display=False,
)
glue("copy_steps", copy_steps, display=False)
glue("copy_nseeds", len(copy_seeds), display=False)

# %% [markdown]
# After {glue:text}`copy_steps` steps the accuracy on fresh sequences is
# {glue:text}`copy_acc` (mean ± standard deviation over {glue:text}`copy_nseeds` seeds;
# chance is 1/15). Pick a head and a query position below to see where that position
# reads from; the dashed line marks the position the task asks for, $t - 3$.

# %%
# (1, 1, n_head, T, T)
maps_trained = attention_maps(
    copy_models[copy_seeds[0]].core,
    copy_models[copy_seeds[0]].embed(x_test[:1]),
)


def show_attention(head=0, query=T_COPY - 1):
    # (T, T)
    weights = maps_trained[0, 0, head].numpy()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.imshow(weights, cmap="viridis", vmin=0, vmax=1)
    ax1.axhline(query, color="white", linewidth=0.8)
    ax1.set_xlabel("key position j (read from)")
    ax1.set_ylabel("query position i (reading)")
    ax1.set_title(f"head {head}: all weights")
    ax1.grid(False)
    ax2.bar(range(T_COPY), weights[query], color="#CC79A7")
    if query >= LAG:
        ax2.axvline(
            query - LAG,
            color="black",
            linestyle="--",
            label=f"target position {query - LAG}",
        )
        ax2.legend()
    ax2.set_xlabel("key position j")
    ax2.set_ylabel("attention weight")
    ax2.set_ylim(0, 1.05)
    ax2.set_title(f"head {head}, query position {query}")
    plt.show()


interact(
    show_attention,
    head=widgets.IntSlider(value=0, min=0, max=1, description="head"),
    query=widgets.IntSlider(
        value=T_COPY - 1, min=0, max=T_COPY - 1, description="query"
    ),
)

# %% [markdown]
# The control above shows precomputed outputs on this site (live in Colab). The figure shows
# both heads of the first seed's model at once, for one test sequence.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
for head, ax in enumerate(axes):
    im = ax.imshow(
        maps_trained[0, 0, head].numpy(), cmap="viridis", vmin=0, vmax=1
    )
    ax.plot(
        np.arange(T_COPY - LAG), np.arange(LAG, T_COPY), "w--", linewidth=0.6
    )
    ax.set_xlabel("key position j (read from)")
    ax.set_ylabel("query position i (reading)")
    ax.set_title(f"head {head}, {copy_steps} steps, {get_budget()} budget")
    ax.grid(False)
fig.colorbar(im, ax=axes, label="attention weight")
plt.show()

# %% [markdown]
# The white dashed line marks $j = i - 3$, the lookup the task needs. To turn the picture
# into a number, we average, over the queries $i \ge 3$ of 256 test sequences, the
# weight that a head puts on position $i - 3$, and take the better of the two heads.

# %%
diagonal_rows = []
for seed, model in copy_models.items():
    # (B, n_head, T, T)
    maps = attention_maps(model.core, model.embed(x_test))[0]
    rows_i = torch.arange(LAG, T_COPY)
    # (n_head,) mean weight on i - 3
    on_target = maps[:, :, rows_i, rows_i - LAG].mean(dim=(0, 2))
    diagonal_rows.append(
        {
            "seed": seed,
            **{f"head {h}": w.item() for h, w in enumerate(on_target)},
            "best head": on_target.max().item(),
        }
    )
diagonal = pd.DataFrame(diagonal_rows)
print(diagonal.round(3).to_string(index=False))
best = diagonal["best head"]
glue(
    "diag_weight",
    mean_std(best, ".2f"),
    display=False,
)
glue(
    "uniform_weight",
    float(np.mean([1 / (i + 1) for i in range(LAG, T_COPY)])),
    display=False,
)

# %% [markdown]
# The best head puts on average {glue:text}`diag_weight` of its attention on position
# $i - 3$ (mean ± standard deviation over seeds), against
# {glue:text}`uniform_weight:.2f` for the uniform average of the prefix that the model
# started from. One head has learned to do the lookup; the other is free to do something
# else, or nothing useful. With the tiny `smoke` budget the model barely trains and the
# weights stay close to uniform.
#
# ## The price of looking at everything, measured
#
# Attention compares every query with every key: the score matrix $Q K^\top$ has $T^2$
# entries per head. Counting multiply-adds for one layer of width $d$,
#
# $$
# \underbrace{4 T d^2}_{\text{projections } W_Q, W_K, W_V, W_O} \;+\; \underbrace{2 T^2 d}_{Q K^\top \text{ and } A V},
# $$
#
# so the quadratic term dominates once $T > 2d$. Memory follows the same pattern if the
# $T \times T$ weights are stored (the plain path stores them, and keeps them for the
# backward pass); the fused kernel computes the softmax block by block and never holds
# the whole matrix. A recurrent layer does a constant amount of work per step, so its
# time and memory grow linearly in $T$, but its $T$ steps have to run one after another.
#
# We time one attention layer ($d = 64$, 4 heads, batch 1) in both paths against the
# library's LSTM of the same width, forward only and forward plus backward, and read the
# peak memory with `rvt_lib.measure.PeakMemory`. On the CPU that is the growth of the
# process's resident memory (see its docstring), which only follows the tensors if
# freed memory goes back to the operating system. So, after the timings, we ask the C
# library (glibc, on Linux) to give every block of 1 MB or more its own pages and to
# return them when the block is freed, and to hand back what it kept before each
# measurement. Exponents are fitted on log-log axes.


# %%
def memory_follows_tensors():
    """glibc only: blocks >= 1 MB get their own pages (mmap), returned to the
    OS when freed.
    """
    try:
        # -3 = M_MMAP_THRESHOLD, in bytes
        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)
    except (OSError, AttributeError):
        # not glibc: readings may be blurred
        pass


def peak_mb(fn, tries=2):
    """Smallest of `tries` peak-memory readings (a reading can only be inflated
    by noise).
    """
    readings = []
    for _ in range(tries):
        try:
            # hand back what the allocator kept
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass
        with PeakMemory() as mem:
            fn()
        readings.append(mem.peak_MB)
    return min(readings)


D_COST = 64
lengths = pick(
    smoke=[32, 64, 128],
    book=[128, 256, 512, 1024, 2048, 4096],
    full=[128, 256, 512, 1024, 2048, 4096, 8192],
    dry=[32, 64, 128],
)
repeats = pick(smoke=1, book=3, dry=1)
set_seed(0)
attn_plain = SelfAttention(
    GPTConfig(d_model=D_COST, n_head=4, attention="plain")
)
attn_fast = SelfAttention(
    GPTConfig(d_model=D_COST, n_head=4, attention="fast")
)
lstm = LSTM(LSTMConfig(D_COST, D_COST))
layers = {
    "attention, plain": lambda x: attn_plain(x)[0],
    "attention, fused (SDPA)": lambda x: attn_fast(x)[0],
    "LSTM (rvt_lib)": lambda x: lstm(x)[0],
}


def passes(layer, x):
    """The two things we measure: a forward pass without gradients, and forward
    + backward.
    """

    def forward():
        with torch.no_grad():
            layer(x)

    def forward_backward():
        layer(x.detach().requires_grad_(True)).sum().backward()

    return forward, forward_backward


inputs = {T: torch.randn(1, T, D_COST) for T in lengths}
cost_rows = []
# 1. time, with the allocator's defaults
for T, x in inputs.items():
    for name, layer in layers.items():
        forward, forward_backward = passes(layer, x)
        cost_rows.append(
            {
                "layer": name,
                "T": T,
                "forward (ms)": time_fn(forward, repeats=repeats),
                "forward+backward (ms)": time_fn(
                    forward_backward, repeats=repeats
                ),
            }
        )
memory_follows_tensors()
for row in cost_rows:  # 2. peak memory
    forward, forward_backward = passes(layers[row["layer"]], inputs[row["T"]])
    row["forward peak (MB)"] = peak_mb(forward)
    row["forward+backward peak (MB)"] = peak_mb(forward_backward)
cost = pd.DataFrame(cost_rows)
print(
    cost.pivot(index="T", columns="layer", values="forward+backward (ms)")
    .round(2)
    .to_string()
)

# %%
fig, axes = plt.subplots(2, 2, figsize=(11, 8))
panels = [
    ("forward (ms)", "forward time (ms)"),
    ("forward+backward (ms)", "forward + backward time (ms)"),
    ("forward peak (MB)", "forward peak memory (MB)"),
    ("forward+backward peak (MB)", "forward + backward peak memory (MB)"),
]
slopes = {}
for ax, (column, label) in zip(axes.flat, panels):
    table = cost.pivot(index="T", columns="layer", values=column)
    _, s = plot_loglog(
        table.index.values,
        {name: table[name].values for name in layers},
        ax=ax,
        xlabel="sequence length T (tokens)",
        ylabel=label,
    )
    slopes[column] = s
fig.suptitle(
    f"one layer, d = {D_COST}, batch 1, CPU ({os.cpu_count()} cores), budget "
    f"{get_budget()}"
)
fig.tight_layout()
plt.show()

# %% [markdown]
# The slopes in the legends are fitted over all lengths. At short lengths fixed costs
# and the linear projections hide the quadratic term, so the table below fits the
# three longest lengths only, closer to the asymptotic exponent. (A memory value too
# small for the resident-memory probe to see reads as 0 and is left out of the fit.)


# %%
def tail_slope(values, n=3):
    T = np.asarray(lengths[-n:], dtype=float)
    y = np.asarray(values[-n:], dtype=float)
    keep = np.isfinite(y) & (y > 0)
    return (
        fit_power_law(T[keep], y[keep]).exponent
        if keep.sum() >= 2
        else float("nan")
    )


tail = pd.DataFrame(
    {
        column: {
            name: tail_slope(cost[cost.layer == name][column].values)
            for name in layers
        }
        for column, _ in panels
    }
)
print(f"fitted exponents over T = {lengths[-3]}..{lengths[-1]}:")
print(tail.round(2).to_string())

last = cost[cost["T"] == lengths[-1]].set_index("layer")
ratio = (
    last.loc["attention, plain", "forward+backward (ms)"]
    / last.loc["LSTM (rvt_lib)", "forward+backward (ms)"]
)
glue(
    "slope_plain_time",
    float(tail.loc["attention, plain", "forward+backward (ms)"]),
    display=False,
)
glue(
    "slope_plain_mem",
    float(tail.loc["attention, plain", "forward+backward peak (MB)"]),
    display=False,
)
glue(
    "slope_lstm_time",
    float(tail.loc["LSTM (rvt_lib)", "forward+backward (ms)"]),
    display=False,
)
glue(
    "slope_fast_mem",
    float(tail.loc["attention, fused (SDPA)", "forward+backward peak (MB)"]),
    display=False,
)
glue("T_max", lengths[-1], display=False)
glue(
    "plain_mem_max",
    float(last.loc["attention, plain", "forward+backward peak (MB)"]),
    display=False,
)
glue(
    "lstm_mem_max",
    float(last.loc["LSTM (rvt_lib)", "forward+backward peak (MB)"]),
    display=False,
)
glue(
    "plain_vs_lstm",
    (
        f"{ratio:.1f} times slower than"
        if ratio > 1
        else f"{1 / ratio:.1f} times faster than"
    ),
    display=False,
)
glue("T_cross", 2 * D_COST, display=False)


def exponent_phrase(slope, expected, reason):
    """Words for how a fitted exponent compares with the expected one."""
    if abs(slope - expected) <= 0.3:
        return f"close to the expected {expected}"
    if reason is timing_reason and slope < expected:
        reason = (
            "fixed costs are still visible at these lengths, or the timings "
            "are noisy"
        )
    side = "above" if slope > expected else "below"
    return f"{side} the expected {expected} in this run; {reason}"


timing_reason = "on a shared or small CPU that usually means timing noise"
memory_reason = (
    "memory readings can be blurred by the allocator keeping freed blocks, or "
    "by other "
    "allocations of the process (see the PeakMemory docstring)"
)
glue(
    "plain_time_phrase",
    exponent_phrase(
        tail.loc["attention, plain", "forward+backward (ms)"], 2, timing_reason
    ),
    display=False,
)
glue(
    "plain_mem_phrase",
    exponent_phrase(
        tail.loc["attention, plain", "forward+backward peak (MB)"],
        2,
        memory_reason,
    ),
    display=False,
)
glue(
    "lstm_time_phrase",
    exponent_phrase(
        tail.loc["LSTM (rvt_lib)", "forward+backward (ms)"], 1, timing_reason
    ),
    display=False,
)

# %% [markdown]
# What the measurements say (this run, budget and CPU as printed at the top):
#
# * **Plain attention.** Over the longest lengths its forward-plus-backward time grows
#   with exponent {glue:text}`slope_plain_time:.2f` ({glue:text}`plain_time_phrase`) and
#   its peak memory with exponent {glue:text}`slope_plain_mem:.2f`
#   ({glue:text}`plain_mem_phrase`). The multiply-add count crosses from linear to
#   quadratic at $T = 2d =$ {glue:text}`T_cross`. At $T =$ {glue:text}`T_max` one layer
#   on one sequence needs {glue:text}`plain_mem_max:.0f` MB, against
#   {glue:text}`lstm_mem_max:.0f` MB for the LSTM.
# * **Fused attention** does the same arithmetic without storing the matrix: its memory
#   grows with exponent {glue:text}`slope_fast_mem:.2f`. The quadratic *memory* is an
#   implementation choice; the quadratic number of operations is not.
# * **The LSTM's** time grows with exponent {glue:text}`slope_lstm_time:.2f`
#   ({glue:text}`lstm_time_phrase`). Its constant is large: each of its $T$ steps is a
#   small matrix product plus Python overhead, done one after another. At
#   $T =$ {glue:text}`T_max` the plain attention layer is {glue:text}`plain_vs_lstm` the
#   LSTM here. On a GPU, where the $T^2$ work is spread over thousands of cores and the
#   sequential steps are not, the balance shifts towards attention for moderate $T$;
#   Part IV ({doc}`../part4_synthesis/cost_scaling`) measures whole models.
#
# Timings on a shared 2-core CPU are noisy (medians of a few repeats); the exponents are
# more robust than the absolute milliseconds.
#
# ## Exercises
#
# :::{exercise} Where the quadratic term takes over
# :label: attention-ex-1
#
# Count the multiply-adds of one attention
# layer of width $d$ on a sequence of length $T$ (projections and the two $T \times T$
# products), and find the length at which the two parts are equal. For GPT-2 small
# ($d = 768$), what is that length?
# :::
#
# :::{solution} attention-ex-1
# :class: dropdown
#
# The four projections cost $4 T d^2$ multiply-adds ($T \times d$ times $d \times d$,
# four times). $Q K^\top$ costs $T^2 d$ (summed over heads: $n_h$ heads of $T^2 d_h$)
# and $A V$ another $T^2 d$. Equal when $4 T d^2 = 2 T^2 d$, i.e. $T = 2d$: for
# $d = 64$ at $T = 128$, for GPT-2 small at $T = 1536$. (The MLP adds $8 T d^2$, which
# moves the crossover of a whole block to $T = 6d$.)
# :::
#
# :::{exercise} Remove the mask
# :label: attention-ex-2
#
# Build the check cell's model with `causal=False` in its
# `GPTConfig` and rerun the perturbation test. Which outputs change now, and why would
# such a model be useless as a language model but fine as a classifier?
# :::
#
# :::{solution} attention-ex-2
# :class: dropdown
#
# ```python
# core = GPT(GPTConfig(d_model=32, n_layer=2, n_head=4, block_size=64, causal=False)).eval()
# x = torch.randn(3, 40, 32); x2 = x.clone(); x2[:, 17] += torch.randn(3, 32)
# with torch.no_grad():
#     print((core(x2)[0] - core(x)[0]).abs().amax(dim=(0, 2)))   # every position moves
# ```
# Every output changes, including those before position 17, because every query may now
# read every key. A language model trained this way would learn to read the next token
# at position $t+1$ instead of predicting it, and would fail at generation, where that
# token does not exist yet. A classifier sees the whole sequence anyway, so
# bidirectional attention is what it wants.
# :::
#
# :::{exercise} The cache grows, the state does not
# :label: attention-ex-3
#
# A GPT with $n_\text{layer}$ blocks of
# width $d$ caches one key and one value vector per block and per token. How many bytes
# (float32) does the cache of one sequence of $T$ tokens take? Compare with an LSTM with
# the same number of layers and width, and evaluate both for $n_\text{layer} = 12$,
# $d = 768$, $T = 1024$.
# :::
#
# :::{solution} attention-ex-3
# :class: dropdown
#
# GPT cache: $2 \cdot n_\text{layer} \cdot T \cdot d \cdot 4$ bytes, growing linearly with
# $T$: $2 \cdot 12 \cdot 1024 \cdot 768 \cdot 4 \approx 75.5$ MB. LSTM state: $h$ and $c$
# per layer, $2 \cdot n_\text{layer} \cdot d \cdot 4 = 73{,}728$ bytes, about 74 KB,
# whatever $T$ is: 1024 times less here. This is why recurrent models generate in
# constant memory.
# :::
#
# :::{exercise} A different lag
# :label: attention-ex-4
#
# Change `LAG` to 7 and retrain. Does the pattern move? What
# happens to the first seven positions, and how could you check that the model uses the
# position embedding to find its target?
# :::
#
# :::{solution} attention-ex-4
# :class: dropdown
#
# The diagonal moves to $j = i - 7$ in at least one head. For $i < 7$ the target is the
# constant 0, which needs no lookup; those rows keep some other pattern. To check the
# role of positions, zero the position embedding after training
# (`model.core.wpe.weight.data.zero_()`) and measure the accuracy again: it should drop
# sharply, since without positions the keys carry only token identities and the query
# has no direct way to find "seven steps back".
# :::
#
# :::{admonition} Key takeaways
# :class: tip
# * Attention is a content-based weighted average: $\operatorname{softmax}(QK^\top/\sqrt{d_k})V$.
#   The $\sqrt{d_k}$ keeps the scores at unit scale so the softmax does not saturate.
# * A causal mask ($-\infty$ above the diagonal) makes a decoder: output $t$ depends on
#   inputs $\le t$ only, which we verified by perturbing one input.
# * A GPT block is pre-LayerNorm attention plus a $4\times$ MLP, each wrapped in a
#   residual connection; about $12 d^2$ parameters per block.
# * Every position reaches every earlier one in one step, which is why attention trains
#   well on long-range lookups, and every query meets every key, which costs time
#   $\propto T^2$ (measured here) and, unless a fused kernel is used, memory $\propto T^2$.
# * A recurrent layer costs time and memory $\propto T$, but its steps run one after another.
# :::
