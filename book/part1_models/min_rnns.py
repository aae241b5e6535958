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
#     minutes: 0.8
# ---

# %% [markdown]
# # minGRU and minLSTM
#
# The GRU and the LSTM of {doc}`recurrent` must be run one step at a time, in training
# as well as in generation: every gate reads $h_{t-1}$, which is not known until the
# previous step is done. The Transformer of {doc}`attention` trains in parallel over the
# whole sequence but pays $T^2$ for it. Feng et al. {cite}`feng2024minrnn` asked what is
# left of a GRU or an LSTM if the gates stop reading the hidden state. The answer,
# *minGRU* and *minLSTM*, is a recurrence that is still a recurrence (constant memory
# per generated token) but is **linear in $h$**, and a linear recurrence can be computed
# for all $T$ steps at once by a parallel scan.
#
# This chapter derives both models from their parents, shows why linearity is the key,
# recalls the log-space scan {cite}`heinsen2023parallel` that `rvt_lib` uses (derived in
# {doc}`../part2_theory/parallel_scan`), checks in a visible cell that the parallel and the sequential
# computations agree, counts parameters and takes a first timing on this CPU.

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
import os

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from rvt_lib.book import glue, interact

from rvt_lib.budget import get_budget, pick
from rvt_lib.measure import count_parameters, time_fn
from rvt_lib.models.gru import GRU, GRUConfig
from rvt_lib.models.lstm import LSTM, LSTMConfig
from rvt_lib.models.mingru import (
    MinGRU,
    MinGRUConfig,
    MinLSTM,
    MinLSTMConfig,
    g,
    log_g,
)
from rvt_lib.plots import MODEL_COLORS, plot_loglog, style
from rvt_lib.scan import scan_sequential
from rvt_lib.train import set_seed

style()
set_seed(0)
print(
    f"budget: {get_budget()} | device: {torch.device('cpu')} | CPU cores: "
    f"{os.cpu_count()} | "
    f"torch threads: {torch.get_num_threads()} | torch {torch.__version__}"
)

# %% [markdown]
# ## From GRU to minGRU
#
# Recall the GRU: two gates and a candidate, all computed from $x_t$ *and* $h_{t-1}$,
#
# $$
# z_t = \sigma(W_{iz} x_t + W_{hz} h_{t-1}), \quad
# r_t = \sigma(W_{ir} x_t + W_{hr} h_{t-1}), \quad
# \tilde h_t = \tanh\left(W_{in} x_t + r_t \odot W_{hn} h_{t-1}\right).
# $$
#
# Feng et al. simplify in three steps {cite}`feng2024minrnn`:
#
# 1. **The update gate reads only the input:** $z_t = \sigma(\operatorname{Linear}_z(x_t))$.
# 2. **So does the candidate:** $\tilde h_t = \operatorname{Linear}_h(x_t)$. Without
#    $h_{t-1}$ in the candidate the reset gate has nothing to reset, and it disappears.
# 3. **No range restriction:** the $\tanh$ kept states in $(-1, 1)$; minGRU instead
#    passes the candidate through a positive function $g$ (below), which the log-space
#    computation needs.
#
# What is left is
#
# $$
# \boxed{\;z_t = \sigma(\operatorname{Linear}_z(x_t)), \qquad \tilde h_t = g(\operatorname{Linear}_h(x_t)), \qquad
# h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t\;}
# $$
#
# (Feng et al. write $z_t$ as the weight of the *new* value; PyTorch's GRU uses the
# opposite convention, $z_t$ weighting the old state. Nothing else changes.)
#
# ## From LSTM to minLSTM
#
# The same surgery on the LSTM: forget gate, input gate and candidate read only $x_t$;
# the output gate goes (the cell becomes the state, $h_t = c_t$); and the two gates are
# normalised so that they sum to one,
#
# $$
# \boxed{\;f'_t = \frac{f_t}{f_t + i_t}, \quad i'_t = \frac{i_t}{f_t + i_t}, \qquad
# h_t = f'_t \odot h_{t-1} + i'_t \odot \tilde h_t\;}
# \qquad f_t = \sigma(\operatorname{Linear}_f(x_t)),\ i_t = \sigma(\operatorname{Linear}_i(x_t)),\ \tilde h_t = g(\operatorname{Linear}_h(x_t)).
# $$
#
# The normalisation makes $h_t$ a weighted *average* of the old state and the
# candidate, so its scale does not drift with $T$, just as in the minGRU.
#
# ## Why dropping $h_{t-1}$ from the gates matters: a linear recurrence
#
# Both models now have the form
#
# $$
# h_t = a_t \odot h_{t-1} + b_t, \qquad
# \begin{cases} a_t = 1 - z_t,\ b_t = z_t \odot \tilde h_t & \text{(minGRU)} \\
# a_t = f'_t,\ b_t = i'_t \odot \tilde h_t & \text{(minLSTM)} \end{cases}
# $$
#
# for $t = 1, \dots, T$ from an initial state $h_0$ (the notation of every chapter of the
# book), where $a_t$ and $b_t$ depend on $x_t$ only. Two consequences:
#
# * All coefficients $a_1, \dots, a_T$ and $b_1, \dots, b_T$ come out of one
#   matrix multiply over the whole sequence, before any recurrence happens.
# * The recurrence is **linear in $h$**. Unrolled, it is a sum of products,
#   $h_t = \left(\prod_{s=1}^{t} a_s\right) h_0 + \sum_{s=1}^{t} \left(\prod_{r = s+1}^{t} a_r\right) b_s$,
#   and two steps compose into one step of the same form:
#   $a_2(a_1 h + b_1) + b_2 = (a_1 a_2)\, h + (a_2 b_1 + b_2)$. This composition is
#   associative, so a *parallel scan* can evaluate all $T$ prefixes in $O(\log T)$
#   sequential rounds instead of $T$ {cite}`blelloch1990prefix,martin2018parallelizing`.
#   Part II takes the scan apart ({doc}`../part2_theory/parallel_scan`).
#
# In the GRU, $a_t = z_t$ is itself a function of $h_{t-1}$, so one step is a
# *nonlinear* map of $h$; composing nonlinear maps does not stay in a small family, and
# there is nothing to scan.
#
# ## The log-space scan and the function $g$
#
# `rvt_lib` computes this scan with Heinsen's log-space form {cite}`heinsen2023parallel`,
# derived once in {doc}`../part2_theory/parallel_scan`: dividing by the running product
# $\prod_{s \le t} a_s$ and taking logarithms turns the recurrence into a `cumsum` of
# $\log a_t$ and a `logcumsumexp` of $\log b_t$ minus that sum, two operations every
# library has in parallel form. It takes the logarithms of $a_t$ and of $b_t$, so it
# needs $a_t > 0$ and $b_t > 0$. The gates give $a_t \in (0, 1)$; a positive $b_t$ needs
# a positive candidate, and that is the job of
#
# $$
# g(v) = \begin{cases} v + \tfrac12 & v \ge 0 \\ \sigma(v) & v < 0 \end{cases},
# \qquad \log g(v) = \begin{cases} \log(v + \tfrac12) & v \ge 0 \\ -\operatorname{softplus}(-v) & v < 0 \end{cases}
# $$
#
# continuous, always positive and growing linearly for large $v$. The logs of the gates
# are computed straight from the pre-activations, $\log \sigma(k) = -\operatorname{softplus}(-k)$
# and $\log(1 - \sigma(k)) = -\operatorname{softplus}(k)$, never as the log of a rounded
# small number.
#
# **The states stay positive.** From $h_0 = 0$, every state of a minGRU (and of a
# minLSTM) is positive: $a_t > 0$ and $b_t > 0$, so $h_1 = b_1 > 0$ and
# $h_t = a_t h_{t-1} + b_t > 0$ by induction. This is what lets the scan work with
# $\log h_t$, and it is also a restriction: a layer started from zero can only output
# positive numbers, and the sign of its state never flips. An initial state of either
# sign enters by linearity, $h_t = \left(\prod_{s \le t} a_s\right) h_0 + (\text{scan from } 0)$,
# so no log of it is taken; and `rvt_lib.scan.scan_log` processes long sequences in
# chunks (carrying the state between them), for the reason shown in
# {doc}`../part2_theory/parallel_scan`: the running sum of $\log a_t$ grows without bound
# and would eat float32's precision.

# %%
v = torch.linspace(-6, 4, 400)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
axes[0].plot(v, g(v), color=MODEL_COLORS["mingru"], label="g(v)")
axes[0].plot(
    v,
    torch.tanh(v),
    color=MODEL_COLORS["gru"],
    linestyle="--",
    label="tanh(v) (GRU candidate)",
)
axes[0].axhline(0, color="black", linewidth=0.6)
axes[0].set_xlabel("pre-activation v")
axes[0].set_ylabel("candidate value")
axes[0].legend()
axes[1].plot(
    v,
    log_g(v),
    color=MODEL_COLORS["mingru"],
    label="log g(v), computed directly",
)
axes[1].plot(
    v, torch.log(g(v)), color="black", linestyle=":", label="log(g(v))"
)
axes[1].set_xlabel("pre-activation v")
axes[1].set_ylabel("log candidate value")
axes[1].legend()
fig.suptitle("the positive activation g of minGRU and minLSTM")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Parallel equals sequential
#
# `MinGRU` and `MinLSTM` compute the same layer in two ways: `mode="sequential"` is the
# loop over time written above (what generation uses, one token at a time), and
# `mode="parallel"` is the chunked log-space scan. The cell checks, for two-layer
# models in float64 and float32:
#
# * parallel vs sequential from a zero state, outputs and gradients;
# * the same from a random initial state with both signs;
# * processing the sequence in three pieces, passing the state along, vs one pass;
# * the layer against the recurrence itself: $a_t$ and $b_t$ computed by hand from the
#   layer's weights and fed to the reference loop `rvt_lib.scan.scan_sequential`.

# %%
I_CHK, H_CHK, B_CHK, T_CHK, L_CHK = 6, 8, 3, 200, 2
cores = {"minGRU": (MinGRU, MinGRUConfig), "minLSTM": (MinLSTM, MinLSTMConfig)}


def run(core, x, state, mode):
    """Outputs, final state and gradients (weights, input) of a fixed loss."""
    core.zero_grad()
    x = x.clone().requires_grad_(True)
    y, h_n = core(x, state, mode=mode)
    (y.pow(2).mean() + h_n.sum()).backward()
    grads = torch.cat(
        [p.grad.flatten() for p in core.parameters()] + [x.grad.flatten()]
    )
    return y.detach(), h_n.detach(), grads


def recurrence_coefficients(name, layer, x):
    """a_t and b_t of one layer, written out from its weights: h_t = a_t *
    h_{t-1} + b_t.
    """
    if name == "minGRU":
        k, v = layer.linear(x).chunk(2, dim=-1)  # (B, T, H) each
        z = torch.sigmoid(k)
        return 1 - z, z * g(v)
    kf, ki, v = layer.linear(x).chunk(3, dim=-1)  # (B, T, H) each
    f, i = torch.sigmoid(kf), torch.sigmoid(ki)
    return f / (f + i), i / (f + i) * g(v)


rows = []
for name, (Core, Config) in cores.items():
    for dtype in (torch.float64, torch.float32):
        set_seed(0)
        core = Core(Config(I_CHK, H_CHK, num_layers=L_CHK, chunk_size=64)).to(
            dtype
        )
        x = torch.randn(B_CHK, T_CHK, I_CHK, dtype=dtype)
        # an initial state of either sign
        h0 = torch.randn(L_CHK, B_CHK, H_CHK, dtype=dtype)
        diff = lambda p, q: max(
            (u - w).abs().max().item() for u, w in zip(p, q)
        )
        zero_par, zero_seq = run(core, x, None, "parallel"), run(
            core, x, None, "sequential"
        )
        init_par, init_seq = run(core, x, h0, "parallel"), run(
            core, x, h0, "sequential"
        )
        with torch.no_grad():
            pieces, state = [], h0
            # 70 + 70 + 60 steps
            for piece in x.split(70, dim=1):
                y_piece, state = core(piece, state, mode="parallel")
                pieces.append(y_piece)
            chunked = torch.cat(pieces, dim=1)
            one_layer = core.layers[0]
            a, b = recurrence_coefficients(name, one_layer, x)
            by_hand = scan_sequential(a, b, h0[0])  # (B, T, H)
            layer_out = one_layer(x, h0[0], "parallel", core.config.chunk_size)
        rows.append(
            {
                "model": name,
                "dtype": str(dtype).replace("torch.", ""),
                "zero state: y, h_n": diff(zero_par[:2], zero_seq[:2]),
                "zero state: gradients": diff(zero_par[2:], zero_seq[2:]),
                "random h0: y, h_n": diff(init_par[:2], init_seq[:2]),
                "random h0: gradients": diff(init_par[2:], init_seq[2:]),
                "3 pieces vs one pass": (chunked - init_par[0])
                .abs()
                .max()
                .item(),
                "layer vs a_t, b_t loop": (layer_out - by_hand)
                .abs()
                .max()
                .item(),
            }
        )
equal = pd.DataFrame(rows)
print(
    f"max |difference|, T = {T_CHK}, {L_CHK} layers, scan chunks of 64 steps:"
)
print(equal.to_string(index=False, float_format=lambda v: f"{v:.1e}"))
glue(
    "max_diff_64",
    f"{equal[equal.dtype == 'float64'].iloc[:, 2:].to_numpy().max():.0e}",
    display=False,
)
glue(
    "max_diff_32",
    f"{equal[equal.dtype == 'float32'].iloc[:, 2:].to_numpy().max():.0e}",
    display=False,
)

# %% [markdown]
# All differences are rounding errors: at most {glue:text}`max_diff_64` in float64 and
# {glue:text}`max_diff_32` in float32. The scan is not an approximation of the
# recurrence; it *is* the recurrence, evaluated in a different order.
#
# ## How a gate forgets and updates
#
# In the minGRU a single number per channel and step, $z_t$, decides between keeping
# and writing. Unrolling $h_t = (1 - z_t) h_{t-1} + z_t \tilde h_t$ shows how much of the
# candidate $\tilde h_s$ is still present in the last state:
#
# $$
# h_T = \sum_{s=1}^{T} w_s\, \tilde h_s, \qquad w_s = z_s \prod_{r = s+1}^{T} (1 - z_r) \qquad (h_0 = 0),
# $$
#
# a weighted average (the weights sum to $1 - \prod_r (1 - z_r)$). A small $z$ means a
# long memory, a large $z$ a short one, and a single step with $z_s = 1$ erases the past
# completely. Below, one channel reads a fixed candidate sequence (a signal that jumps
# between levels). Choose a background gate value and a "write" step where the gate
# takes another value.

# %%
T_W = 60
levels = np.where(
    np.arange(T_W) < 20, 1.0, np.where(np.arange(T_W) < 40, 3.0, 0.5)
)
# (T,) positive
candidate = torch.tensor(
    levels + 0.2 * np.sin(np.arange(T_W)), dtype=torch.float64
)


def gate_sequence(z_background, write_step, z_write):
    z = torch.full((T_W,), z_background, dtype=torch.float64)
    z[write_step] = z_write
    return z


def min_gru_channel(z):
    """h_t = (1 - z_t) h_{t-1} + z_t * candidate_t from h_0 = 0, and the weight
    w_s of each candidate in h_T.
    """
    h = scan_sequential(
        (1 - z).view(1, T_W, 1), (z * candidate).view(1, T_W, 1)
    ).view(T_W)
    keep_after = torch.cat(
        [
            torch.cumprod((1 - z).flip(0), 0).flip(0)[1:],
            torch.ones(1, dtype=z.dtype),
        ]
    )
    # (T,), (T,)
    return h, z * keep_after


def draw_gate(axes, z, label, color):
    h, w = min_gru_channel(z)
    axes[0].plot(h, color=color, label=label)
    axes[1].plot(w, color=color, label=label)


def finish_gate_axes(axes):
    axes[0].plot(
        candidate,
        color="#7F7F7F",
        linewidth=1,
        linestyle=":",
        label="candidate $\\tilde h_t$",
    )
    axes[0].set_xlabel("time step t")
    axes[0].set_ylabel("state $h_t$")
    axes[0].legend(fontsize=9)
    axes[1].set_xlabel("time step s")
    axes[1].set_ylabel(f"weight $w_s$ of $\\tilde h_s$ in $h_{{{T_W - 1}}}$")
    axes[1].legend(fontsize=9)


def show_gate(z_background=0.1, write_step=45, z_write=0.1):
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    draw_gate(
        axes,
        gate_sequence(z_background, write_step, z_write),
        "minGRU state",
        MODEL_COLORS["mingru"],
    )
    axes[0].axvline(write_step, color="black", linewidth=0.6)
    finish_gate_axes(axes)
    plt.show()


interact(
    show_gate,
    z_background=widgets.FloatSlider(
        value=0.1, min=0.0, max=1.0, step=0.01, description="z"
    ),
    write_step=widgets.IntSlider(
        value=45, min=0, max=T_W - 1, description="write step"
    ),
    z_write=widgets.FloatSlider(
        value=0.1, min=0.0, max=1.0, step=0.01, description="z at write"
    ),
)

# %% [markdown]
# On this site the control shows outputs precomputed over a grid (live in Colab); the
# figure below shows three settings: a long memory
# (small $z$), a short memory (large $z$), and a long memory with one full overwrite
# ($z = 1$ at step 45).

# %%
settings = {
    "z = 0.05": (0.05, 45, 0.05),
    "z = 0.5": (0.5, 45, 0.5),
    "z = 0.05, z = 1 at step 45": (0.05, 45, 1.0),
}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for (label, setting), color in zip(
    settings.items(), ["#E69F00", "#0072B2", "#D55E00"]
):
    draw_gate(axes, gate_sequence(*setting), label, color)
finish_gate_axes(axes)
fig.suptitle("one minGRU channel: how the update gate z sets the memory")
fig.tight_layout()
plt.show()

# %% [markdown]
# With $z = 0.05$ the state lags behind the candidate and averages over about
# $1/z = 20$ steps; with $z = 0.5$ it follows within a few steps and the weights $w_s$
# are concentrated on the last ones; the overwrite at step 45 cuts the weights of every
# earlier step to zero. A trained minGRU chooses $z_t$ per channel and per step from the
# input: it can hold a value for a long time and replace it when the input says so. What
# it cannot do is *flip*: its transition $a_t$ is one number per channel (diagonal) and
# positive, so the state can only be pulled towards the candidate, never mirrored. That,
# and not the fact that the gates read only the input, is the limit: input-only gates
# with $a_t \in [-1, 1]$ already compute parity, which no positive diagonal recurrence can
# at every length {cite}`sarrof2024expressive,grazzi2024negative`. Part II
# ({doc}`../part2_theory/automata`) proves this and shows the tasks where it matters.
#
# ## Parameters
#
# A minGRU layer has two input maps ($z$ and $\tilde h$) and no hidden-to-hidden
# weights; a minLSTM has three ($f$, $i$, $\tilde h$):
#
# $$
# P_\text{minGRU} = 2H(I + 1), \quad P_\text{GRU} = 3\,(HI + H^2 + 2H), \qquad
# P_\text{minLSTM} = 3H(I + 1), \quad P_\text{LSTM} = 4\,(HI + H^2 + 2H).
# $$
#
# With $I = H$ the GRU has exactly 3 times as many parameters as the minGRU and the LSTM
# $8/3$ times as many as the minLSTM; when the state is wider than the input
# ($H > I$) the gap grows, because only the parents pay $H^2$ per gate.

# %%
rows = []
for I_, H_ in [(64, 64), (128, 128), (256, 256), (512, 512), (64, 256)]:
    n = {
        "minGRU": count_parameters(MinGRU(MinGRUConfig(I_, H_))),
        "GRU": count_parameters(GRU(GRUConfig(I_, H_))),
        "minLSTM": count_parameters(MinLSTM(MinLSTMConfig(I_, H_))),
        "LSTM": count_parameters(LSTM(LSTMConfig(I_, H_))),
    }
    assert n["minGRU"] == 2 * H_ * (I_ + 1) and n["GRU"] == 3 * (
        H_ * I_ + H_**2 + 2 * H_
    )
    assert n["minLSTM"] == 3 * H_ * (I_ + 1) and n["LSTM"] == 4 * (
        H_ * I_ + H_**2 + 2 * H_
    )
    rows.append(
        {
            "I": I_,
            "H": H_,
            **n,
            "GRU / minGRU": n["GRU"] / n["minGRU"],
            "LSTM / minLSTM": n["LSTM"] / n["minLSTM"],
        }
    )
params = pd.DataFrame(rows)
print("parameters of one layer (counted, and equal to the formulas above):")
print(params.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
glue("ratio_gru_wide", float(params.iloc[-1]["GRU / minGRU"]), display=False)

# %% [markdown]
# For a 64-dimensional input and a 256-dimensional state the GRU is
# {glue:text}`ratio_gru_wide:.1f` times larger than the minGRU. Fewer parameters are
# not free: the minimal models lose the $h$-dependent gates, and whether they learn as
# well is an empirical question that Part III asks on real data.
#
# ## A first timing: parallel vs sequential on this CPU
#
# The point of the scan is speed when $T$ is large and the hardware is parallel. We time
# the forward pass of a one-layer minGRU ($I = H = 64$, batch 8) in both modes, and
# PyTorch's `torch.nn.GRU` (a loop in C++, not Python) as a reference. This is a quick,
# small measurement on the CPU that builds the book; the full benchmark, with training
# steps, larger models and a GPU, is in `benchmarks/` and in Parts II and IV.
# On a GPU, Feng et al. {cite}`feng2024minrnn` report a training step at length 512
# that is 175 times faster for the minGRU than for the GRU, and 235 times faster for the
# minLSTM than for the LSTM; they also report that the parallel mode needs *more* memory
# than the traditional models, because the scan keeps all $T$ states and coefficients for
# the backward pass. We measure that memory below.

# %%
T_list = pick(
    smoke=[16, 64, 256], book=[64, 256, 1024, 4096, 16384], dry=[16, 64, 256]
)
repeats = pick(smoke=1, book=3, dry=1)
set_seed(0)
min_gru = MinGRU(MinGRUConfig(64, 64))
torch_gru = torch.nn.GRU(64, 64, batch_first=True)
timing_rows = []
with torch.no_grad():
    for T in T_list:
        x = torch.randn(8, T, 64)
        timing_rows.append(
            {
                "T": T,
                "minGRU, parallel (log-space scan)": time_fn(
                    lambda: min_gru(x, mode="parallel"), repeats=repeats
                ),
                "minGRU, sequential (Python loop)": time_fn(
                    lambda: min_gru(x, mode="sequential"), repeats=repeats
                ),
                "GRU (torch.nn, C++ loop)": time_fn(
                    lambda: torch_gru(x), repeats=repeats
                ),
            }
        )
timing = pd.DataFrame(timing_rows).set_index("T")
print("forward time (ms), median of", repeats, "runs:")
print(timing.round(2).to_string())

fig, ax = plt.subplots(figsize=(7.5, 4.5))
_, time_slopes = plot_loglog(
    timing.index.values,
    {c: timing[c].values for c in timing.columns},
    ax=ax,
    xlabel="sequence length T (steps)",
    ylabel="forward time (ms)",
)
ax.set_title(
    f"one layer, I = H = 64, batch 8, CPU ({os.cpu_count()} cores), budget "
    f"{get_budget()}"
)
plt.show()

glue(
    "slope_par",
    float(time_slopes["minGRU, parallel (log-space scan)"]),
    display=False,
)
glue(
    "slope_seq",
    float(time_slopes["minGRU, sequential (Python loop)"]),
    display=False,
)
glue(
    "slope_torch",
    float(time_slopes["GRU (torch.nn, C++ loop)"]),
    display=False,
)
speedup = (
    timing["minGRU, sequential (Python loop)"]
    / timing["minGRU, parallel (log-space scan)"]
)
glue("speedup_max", float(speedup.iloc[-1]), display=False)
glue("T_last", int(timing.index[-1]), display=False)
glue(
    "speedup_word",
    "faster" if speedup.iloc[-1] > 1 else "slower",
    display=False,
)
glue(
    "speedup_factor",
    float(speedup.iloc[-1] if speedup.iloc[-1] > 1 else 1 / speedup.iloc[-1]),
    display=False,
)
vs_torch = (
    timing["GRU (torch.nn, C++ loop)"].iloc[-1]
    / timing["minGRU, parallel (log-space scan)"].iloc[-1]
)
glue(
    "vs_torch_word",
    (
        f"{vs_torch:.1f} times faster than"
        if vs_torch > 1
        else f"{1 / vs_torch:.1f} times slower than"
    ),
    display=False,
)

# %% [markdown]
# Where does the parallel mode's time go? The log-space scan is a handful of elementwise
# operations plus one library scan, `torch.logcumsumexp`. The cell times that call alone
# on a tensor of the same shape, next to one elementwise `torch.exp`.

# %%
with torch.no_grad():
    z_big = torch.randn(8, T_list[-1], 64)
    lcse_ms = time_fn(
        lambda: torch.logcumsumexp(z_big, dim=1), repeats=repeats
    )
    exp_ms = time_fn(lambda: torch.exp(z_big), repeats=repeats)
n_elements = z_big.numel()
lcse_share = (
    100 * lcse_ms / timing["minGRU, parallel (log-space scan)"].iloc[-1]
)
print(
    f"T = {T_list[-1]}: logcumsumexp {lcse_ms:.1f} ms "
    f"({1e6 * lcse_ms / n_elements:.0f} ns per element), "
    f"exp {exp_ms:.1f} ms ({1e6 * exp_ms / n_elements:.1f} ns per element); "
    f"logcumsumexp = {lcse_share:.0f}% of the parallel forward"
)
glue("lcse_share", float(lcse_share), display=False)
glue("lcse_ns", float(1e6 * lcse_ms / n_elements), display=False)
glue("exp_ns", float(1e6 * exp_ms / n_elements), display=False)

# %% [markdown]
# At $T =$ {glue:text}`T_last` the parallel mode is {glue:text}`speedup_factor:.1f` times
# {glue:text}`speedup_word` than the sequential one, and {glue:text}`vs_torch_word`
# PyTorch's C++ GRU, on this CPU. The fitted exponents in the legend are
# {glue:text}`slope_par:.2f` (parallel), {glue:text}`slope_seq:.2f` (sequential) and
# {glue:text}`slope_torch:.2f` (`torch.nn.GRU`); at the short lengths fixed costs flatten
# the curves. Both loops do a constant amount of work per step, and the scan does
# $O(T)$ work too: it does not do less arithmetic, it shortens the chain of *dependent*
# steps. How much that helps
# depends on how many cores can work on the independent parts at once: a 2-core CPU has
# little to offer, while a GPU runs thousands of threads, and the sequential loop also
# pays Python's overhead at every step. On this CPU a good part of the parallel mode's
# cost is a single library routine: `torch.logcumsumexp` alone takes
# {glue:text}`lcse_share:.0f`% of the parallel forward pass, at
# {glue:text}`lcse_ns:.0f` ns per element against {glue:text}`exp_ns:.1f` ns for an
# elementwise `exp`. Part II measures the scan itself, and other ways to compute it, on
# both kinds of hardware.
#
# ## Memory: what the parallel mode keeps for the backward pass
#
# Speed is bought with memory. The cell counts, exactly, the bytes of the tensors that
# autograd saves during one forward pass (`rvt_lib.measure.saved_activation_bytes`,
# parameters excluded), for the same one-layer minGRU in both modes and for
# `torch.nn.GRU`, at the lengths timed above.

# %%
from rvt_lib.measure import saved_activation_bytes

mem_rows = []
for T in T_list:
    x = torch.randn(8, T, 64)
    mem_rows.append(
        {
            "T": T,
            "minGRU, parallel": saved_activation_bytes(
                min_gru, lambda: min_gru(x, mode="parallel")
            ),
            "minGRU, sequential": saved_activation_bytes(
                min_gru, lambda: min_gru(x, mode="sequential")
            ),
            "GRU (torch.nn)": saved_activation_bytes(
                torch_gru, lambda: torch_gru(x)
            ),
        }
    )
memory = pd.DataFrame(mem_rows).set_index("T") / 2**20
print(
    "activation memory saved for the backward pass (MiB), one layer, I = H = "
    "64, batch 8:"
)
print(memory.round(3).to_string())
mem_ratio = memory["minGRU, parallel"] / memory["minGRU, sequential"]
glue("mem_par_over_seq", float(mem_ratio.iloc[-1]), display=False)
glue(
    "mem_par_over_gru",
    float(
        memory["minGRU, parallel"].iloc[-1] / memory["GRU (torch.nn)"].iloc[-1]
    ),
    display=False,
)
glue(
    "mem_bytes_per_step",
    float(2**20 * memory["minGRU, parallel"].iloc[-1] / (8 * T_list[-1] * 64)),
    display=False,
)
glue(
    "mem_more_less",
    "more" if mem_ratio.iloc[-1] > 1 else "less",
    display=False,
)

# %% [markdown]
# At $T =$ {glue:text}`T_last` the parallel mode saves {glue:text}`mem_par_over_seq:.2f`
# times the activation memory of the sequential mode ({glue:text}`mem_more_less`), and
# {glue:text}`mem_par_over_gru:.2f` times that of `torch.nn.GRU`, about
# {glue:text}`mem_bytes_per_step:.0f` bytes per batch element, step and channel. Both
# modes grow linearly in $T$ when training; generation, which needs no backward pass,
# keeps only the current state in either mode.
#
# ## Exercises
#
# :::{exercise} The state stays in range
# :label: min_rnns-ex-1
#
# Show that if the initial state and every candidate
# $\tilde h_t$ lie in an interval $[m, M]$, then so does every minLSTM state $h_t$. Is
# the same true for the minGRU? For the LSTM with its unnormalised gates?
# :::
#
# :::{solution} min_rnns-ex-1
# :class: dropdown
#
# With $f'_t + i'_t = 1$ and both positive, $h_t = f'_t h_{t-1} + i'_t \tilde h_t$ is a
# convex combination of two numbers in $[m, M]$, hence in $[m, M]$; induction over $t$
# does the rest. The minGRU has the same structure, $(1 - z_t) + z_t = 1$. The LSTM's
# cell $c_t = f_t c_{t-1} + i_t g_t$ has $f_t + i_t$ anywhere in $(0, 2)$, so it can grow
# (up to linearly in $t$, since $|g_t| < 1$) or shrink; the output $o_t \tanh(c_t)$ is
# squashed back into $(-1, 1)$ afterwards.
# :::
#
# :::{exercise} What the log-space scan needs
# :label: min_rnns-ex-2
#
# Using the log-space formula derived in
# {doc}`../part2_theory/parallel_scan`, explain why all $a_t$ must be positive and why
# $b_t > 0$ is needed. Which of the two conditions would a parity-computing recurrence
# with $a_t = -1$ break, and which scan of that chapter could still run it?
# :::
#
# :::{solution} min_rnns-ex-2
# :class: dropdown
#
# The formula takes $\log a_t$ (inside the `cumsum`) and $\log b_t$ (inside the
# `logcumsumexp`). The first exists as a real number only for $a_t > 0$ (true for
# $1 - z_t$ and $f'_t$); the second only for $b_t > 0$, which is why the candidate goes
# through the positive $g$ instead of $\tanh$. (Signed $b$ can be handled with complex
# logs, or by splitting into positive and negative parts, at extra cost.) $a_t = -1$
# breaks the first condition; the real-space scans (Hillis–Steele, Blelloch) only
# multiply and add, so they accept any sign.
# :::
#
# :::{exercise} When does the GRU hold five times more parameters?
# :label: min_rnns-ex-3
#
# With $I$ inputs and $H$
# hidden units, find the ratio $P_\text{GRU} / P_\text{minGRU}$ and the state width $H$
# at which it reaches 5 for $I = 64$.
# :::
#
# :::{solution} min_rnns-ex-3
# :class: dropdown
#
# $\dfrac{3(HI + H^2 + 2H)}{2H(I+1)} = \dfrac{3(I + H + 2)}{2(I + 1)}$. Setting it to 5 with
# $I = 64$: $3(66 + H) = 650$, so $H \approx 151$. The ratio grows linearly with $H/I$
# because only the GRU has the $H \times H$ recurrent matrices.
# :::
#
# :::{exercise} Why not scan a GRU?
# :label: min_rnns-ex-4
#
# Write one GRU step as a map $h \mapsto \phi_t(h)$. What would
# a parallel scan need to store for the composition $\phi_t \circ \phi_{t-1}$, and why
# is that impractical? Does it follow that a GRU must be evaluated one step at a time?
# :::
#
# :::{solution} min_rnns-ex-4
# :class: dropdown
#
# A scan combines adjacent steps into one step of the *same kind* and needs a compact
# representation of the composite. For $h \mapsto a h + b$ (elementwise) the composite
# is again of that form: two numbers per channel. For the GRU,
# $\phi_t(h) = (1 - z_t(h)) \odot n_t(h) + z_t(h) \odot h$ with sigmoids and tanh of
# matrix products of $h$; the composition of two such maps is a more complicated
# nonlinear function of $h$, and after $\log_2 T$ rounds of combining one would need to
# represent arbitrary functions $\R^H \to \R^H$. There is no finite set of numbers that
# does that, so the nonlinear steps cannot be *composed* by a scan.
#
# That does not make the GRU inherently sequential. DEER {cite}`lim2024deer` treats all
# $T$ states as the unknowns of one system of equations, $h_t = \phi_t(h_{t-1})$, and
# solves it by Newton's method: each iteration linearises every step around the current
# guess, $h_t \approx J_t h_{t-1} + c_t$ with the Jacobian $J_t$, which is a *linear*
# recurrence and therefore a parallel scan (over $H \times H$ matrices). ELK
# {cite}`gonzalez2024elk` makes this cheaper (quasi-Newton, with diagonal Jacobians) and
# stable (trust regions, computed by a parallel Kalman smoother). The price is several
# scans per evaluation, and $O(H^3)$ work per step for full Jacobians; the gain is
# $O(\log T)$ depth per iteration when the iterations converge quickly.
# :::
#
# :::{admonition} Key takeaways
# :class: tip
# * minGRU and minLSTM remove $h_{t-1}$ from every gate and candidate. What remains is
#   the linear recurrence $h_t = a_t \odot h_{t-1} + b_t$ ($t = 1, \dots, T$, from $h_0$)
#   with $a_t, b_t$ computed from the inputs alone.
# * Linearity makes steps composable, $(a_1, b_1) \circ (a_2, b_2) = (a_1 a_2, a_2 b_1 + b_2)$,
#   so a parallel scan computes all states in $O(\log T)$ sequential rounds. The
#   log-space form ({doc}`../part2_theory/parallel_scan`) uses `cumsum` and
#   `logcumsumexp` and needs positive $a_t$ and $b_t$, hence $g$ instead of $\tanh$; from
#   $h_0 = 0$ every state is then positive. The parallel mode saves more activation
#   memory for training than the sequential one (measured above).
# * Parallel and sequential modes agree to rounding, with any initial state and in
#   chunks: train in parallel, generate one step at a time in constant memory.
# * They have 3 times (minGRU) and 8/3 times (minLSTM) fewer parameters than GRU and
#   LSTM at $I = H$, and the gap grows with $H/I$.
# * The transition is **positive and diagonal**: the state can decay, hold and be
#   overwritten, never flip. That, not the input-only gates, limits what it can track
#   (input-only gates with $a_t \in [-1, 1]$ compute parity); Part II examines what it
#   costs {cite}`sarrof2024expressive,grazzi2024negative`. Nonlinear RNNs can be
#   parallelised too, by Newton iterations over scans {cite}`lim2024deer,gonzalez2024elk`.
# :::
