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
#     minutes: 3.5
# ---

# %% [markdown]
# # From RNNs to LSTMs and GRUs
#
# A recurrent network reads a sequence one element at a time and carries a *state*
# from step to step: a fixed-size summary of everything it has seen so far. This chapter
# builds the three classic recurrent layers from scratch (the Elman RNN, the LSTM and
# the GRU), checks in a visible cell that each one computes exactly what `torch.nn`
# computes, and then *measures* the problem that shaped their design: gradients that
# vanish or explode as they travel back through time.

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
import math
import os

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from rvt_lib.book import glue, interact, which_of

from rvt_lib import stats
from rvt_lib.budget import get_budget, pick
from rvt_lib.gradients import (
    set_spectral_radius_,
    spectral_radius,
    state_gradient_norms,
)
from rvt_lib.measure import count_parameters
from rvt_lib.models.gru import GRU, GRUConfig
from rvt_lib.models.lstm import LSTM, LSTMConfig
from rvt_lib.models.rnn import RNN, RNNConfig
from rvt_lib.plots import MODEL_COLORS, style
from rvt_lib.train import set_seed

style()
set_seed(0)
print(
    f"budget: {get_budget()} | device: {torch.device('cpu')} | CPU cores: "
    f"{os.cpu_count()} | "
    f"torch threads: {torch.get_num_threads()} | torch {torch.__version__}"
)

# %% [markdown]
# ## The Elman recurrence
#
# Elman's simple recurrent network {cite}`elman1990finding` reads an input vector
# $x_t \in \R^{I}$ and its own previous state $h_{t-1} \in \R^{H}$, and writes a new state:
#
# $$
# h_t = \tanh\left(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}\right), \qquad t = 1, \dots, T,
# \quad h_0 = 0 .
# $$
#
# (Every chapter of the book counts time this way: steps $t = 1, \dots, T$ from an
# initial state $h_0$.)
#
# The same weights $W_{ih} \in \R^{H \times I}$ and $W_{hh} \in \R^{H \times H}$ are used at
# every step. That sharing is the whole idea: one small set of parameters handles
# sequences of any length, and whatever the network learns about step 5 it also knows
# at step 500. The state $h_t$ is both the memory and the output; a task-specific head
# (a linear layer, say) reads it. Stacking layers feeds the states of layer $\ell$ to
# layer $\ell + 1$ as inputs.
#
# `rvt_lib.models.rnn.RNN` implements exactly this, with a readable loop over
# `RNNCell` steps. Like every sequence layer in this book it maps `(batch, time, features)`
# to `(batch, time, hidden)` and returns the last state so that a sequence can be
# processed in pieces:

# %%
rnn = RNN(RNNConfig(input_size=3, hidden_size=8, num_layers=2))
x = torch.randn(4, 10, 3)  # (B, T, I)
# y: (B, T, H), h_n: (num_layers, B, H)
y, h_n = rnn(x)
y_first, h_mid = rnn(x[:, :6])  # the first 6 steps ...
# ... then the other 4, continuing from the state
y_rest, h_end = rnn(x[:, 6:], h_mid)
print("y", tuple(y.shape), "| h_n", tuple(h_n.shape))
print(
    "two chunks vs one pass: max |difference| = "
    f"{(torch.cat([y_first, y_rest], 1) - y).abs().max().item():.1e}"
)

# %% [markdown]
# ## Gates: the LSTM and the GRU
#
# The LSTM {cite}`hochreiter1997lstm` (with the forget gate of
# {cite}`gers2000forget`) keeps a second vector, the *cell* $c_t$, and lets four gates
# computed from $x_t$ and $h_{t-1}$ decide what happens to it ($\sigma$ is the logistic
# sigmoid, $\odot$ the elementwise product, and every $W_{\cdot}$ term includes its bias):
#
# $$
# \begin{aligned}
# i_t &= \sigma(W_{ii} x_t + W_{hi} h_{t-1}), & f_t &= \sigma(W_{if} x_t + W_{hf} h_{t-1}), &
# o_t &= \sigma(W_{io} x_t + W_{ho} h_{t-1}), \\
# g_t &= \tanh(W_{ig} x_t + W_{hg} h_{t-1}), & c_t &= f_t \odot c_{t-1} + i_t \odot g_t, &
# h_t &= o_t \odot \tanh(c_t).
# \end{aligned}
# $$
#
# The cell update is **additive**: the old cell is scaled by the forget gate $f_t$ and a
# gated candidate is *added*. No squashing nonlinearity and no matrix sit on the path
# from $c_{t-1}$ to $c_t$, so along that path
# $\partial c_t / \partial c_{t-1} = \operatorname{diag}(f_t)$: when the forget gate is
# open ($f_t \approx 1$), information and gradients pass through unchanged.
#
# The GRU {cite}`cho2014gru` merges cell and state into one vector and uses two gates
# (here in PyTorch's formulation, which `rvt_lib.models.gru` follows):
#
# $$
# \begin{aligned}
# r_t &= \sigma(W_{ir} x_t + W_{hr} h_{t-1}), \qquad z_t = \sigma(W_{iz} x_t + W_{hz} h_{t-1}), \\
# n_t &= \tanh\left(W_{in} x_t + r_t \odot (W_{hn} h_{t-1})\right), \qquad
# h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1} .
# \end{aligned}
# $$
#
# The update gate $z_t$ interpolates between keeping the old state ($z_t = 1$) and
# replacing it by the candidate $n_t$ ($z_t = 0$); the $z_t \odot h_{t-1}$ term is the
# GRU's additive path.
#
# ## Checked against `torch.nn`
#
# Each scratch layer names and lays out its weights like PyTorch (gates stacked as
# $(i, f, g, o)$ for the LSTM and $(r, z, n)$ for the GRU), so `copy_from_torch` moves
# the weights of a `torch.nn` layer into ours. The cell below does that for two-layer
# networks in float64, runs both on the same input and a random initial state, and
# compares the outputs, the final states and the gradients of a loss that depends on
# all of them, for the fast path (input projection hoisted out of the loop; for the
# LSTM also a hand-written backward pass) and the readable path (one cell call per step).

# %%
torch.manual_seed(0)
I, H, L, B, T = 5, 7, 2, 3, 11
ours = {
    "rnn": (RNN, RNNConfig, nn.RNN),
    "gru": (GRU, GRUConfig, nn.GRU),
    "lstm": (LSTM, LSTMConfig, nn.LSTM),
}
rows = []
for kind, (Core, Config, TorchCore) in ours.items():
    for fast in (True, False):
        reference = TorchCore(I, H, L, batch_first=True).double()
        core = (
            Core(Config(I, H, num_layers=L, fast=fast))
            .double()
            .copy_from_torch(reference)
        )
        x = torch.randn(B, T, I, dtype=torch.float64)
        h0 = torch.randn(L, B, H, dtype=torch.float64)
        state = (
            (h0, torch.randn(L, B, H, dtype=torch.float64))
            if kind == "lstm"
            else h0
        )
        # a random loss over all outputs
        weights = torch.randn(B, T, H, dtype=torch.float64)

        results = []
        for model in (core, reference):
            x_in = x.clone().requires_grad_(True)
            y, last = model(x_in, state)
            # (h_n, c_n) side by side
            last = torch.cat(last) if kind == "lstm" else last
            (y * weights).sum().add(last.pow(2).sum()).backward()
            # same order in both (l0: ih, hh, b, b; l1: ...)
            grads = [p.grad for p in model.parameters()]
            results.append((y, last, grads, x_in.grad))
        (y1, s1, g1, gx1), (y2, s2, g2, gx2) = results
        rows.append(
            {
                "layer": kind,
                "path": "fast" if fast else "readable",
                "outputs y": (y1 - y2).abs().max().item(),
                "final state": (s1 - s2).abs().max().item(),
                "grad weights": max(
                    (a - b).abs().max().item() for a, b in zip(g1, g2)
                ),
                "grad input x": (gx1 - gx2).abs().max().item(),
            }
        )
check = pd.DataFrame(rows)
print("max |ours - torch.nn| (float64, 2 layers, random initial state):")
print(check.to_string(index=False, float_format=lambda v: f"{v:.1e}"))
glue(
    "max_diff_vs_torch",
    f"{check.iloc[:, 2:].to_numpy().max():.0e}",
    display=False,
)

# %% [markdown]
# Every difference is at the level of float64 rounding (the largest is
# {glue:text}`max_diff_vs_torch`), for the outputs, the final states, every weight
# gradient and the gradient with respect to the input. The gradients of the LSTM's fast
# path come from a backward pass written out by hand (`LSTMRecurrence` in
# `rvt_lib/models/lstm.py`), so this table is also a check of that derivation.
#
# ## Parameter counts
#
# A gate is one more copy of the RNN's affine map: the GRU has three of them ($r$, $z$,
# $n$) and the LSTM four ($i$, $f$, $g$, $o$). With two bias vectors per map, as in
# PyTorch, one layer holds
#
# $$
# P_\text{RNN} = H(I + H) + 2H, \qquad P_\text{GRU} = 3\,P_\text{RNN}, \qquad P_\text{LSTM} = 4\,P_\text{RNN}.
# $$

# %%
rows = []
for H_ in (32, 128, 512):
    counts = {
        kind: count_parameters(Core(Config(H_, H_)))
        for kind, (Core, Config, _) in ours.items()
    }
    formula = H_ * (H_ + H_) + 2 * H_
    rows.append(
        {
            "I = H": H_,
            "RNN": counts["rnn"],
            "GRU": counts["gru"],
            "LSTM": counts["lstm"],
            "formula H(I+H)+2H": formula,
            "GRU / RNN": counts["gru"] / counts["rnn"],
            "LSTM / RNN": counts["lstm"] / counts["rnn"],
        }
    )
print(pd.DataFrame(rows).to_string(index=False))

# %% [markdown]
# The ratios are exactly 3 and 4. The extra parameters buy control over the memory; the
# next sections show why that control is needed.
#
# ## Unrolling and backpropagation through time
#
# Unroll the recurrence over $T$ steps and it becomes a very deep feed-forward network
# with one layer per step, all layers sharing their weights. Backpropagation through
# time (BPTT) {cite}`werbos1990bptt` is ordinary backpropagation on that unrolled graph.
# For a loss $L$ that depends on the states, the gradient reaching state $h_t$ collects
# the direct term and everything that flows back from the future:
#
# $$
# \frac{\partial L}{\partial h_t} = \frac{\partial \ell_t}{\partial h_t} + \frac{\partial L}{\partial h_{t+1}}\, J_{t+1},
# \qquad J_{s} = \frac{\partial h_{s}}{\partial h_{s-1}} = \operatorname{diag}\left(1 - h_{s}^2\right) W_{hh}
# \quad\text{(Elman)}.
# $$
#
# Put the whole loss at the last step $T$ and unfold the recursion: the gradient that
# arrives at step $t$ is the last one multiplied by $T-t$ Jacobians,
#
# $$
# \frac{\partial L}{\partial h_t} = \frac{\partial L}{\partial h_{T}}\; J_{T} J_{T-1} \cdots J_{t+1} .
# $$
#
# If the Jacobians shrink vectors
# (roughly: if the largest singular value of $W_{hh}$, times the largest value of
# $\tanh'$, is below 1),
# the gradient decays exponentially with the distance $T-t$: **vanishing gradients**,
# and the network cannot learn that an early input mattered for a late output. If they
# stretch vectors, it grows exponentially: **exploding gradients**, and training steps
# become huge and erratic. Both were analysed by {cite}`bengio1994learning` and
# {cite}`pascanu2013difficulty`: for a tanh RNN (where $|\tanh'| \le 1$), a largest
# singular value of $W_{hh}$ below 1 is *sufficient* for vanishing, and one above 1 is
# *necessary* for exploding. Precisely, with $\gamma = \max |\tanh'| = 1$ and any
# submultiplicative norm, a product of $k$ Jacobians is bounded by
#
# $$
# \lVert J_{t+k} \cdots J_{t+1} \rVert \le \prod_{s=t+1}^{t+k} \lVert \operatorname{diag}(1 - h_s^2)\, W_{hh} \rVert
# \le (\gamma\, \lVert W_{hh} \rVert)^k ,
# $$
#
# an upper bound only: the Jacobians differ from step to step, so their product is *not*
# a power of one matrix. For powers of a single matrix, Gelfand's formula
# $\lVert W^k \rVert^{1/k} \to \rho(W)$ says that the spectral radius $\rho$ (the largest
# absolute eigenvalue) sets the growth rate; it describes a *linear* RNN,
# $J_s = W_{hh}$ at every step, and it is only a guide for the tanh RNN, whose factors
# $\operatorname{diag}(1 - h_s^2)$ can only shrink vectors further but do not commute
# with $W_{hh}$. The spectral radius is the knob we turn below; the measurement says how
# well it predicts the tanh RNN.
#
# ## Measuring vanishing and exploding gradients
#
# Instead of bounding the product we measure it. `rvt_lib.gradients.state_gradient_norms`
# unrolls a cell on a batch of random input sequences, puts the loss
# $L = \langle u, h_{T} \rangle$ at the last step (with $u$ a random unit vector, so
# $\lVert \partial L / \partial h_{T} \rVert = 1$), and returns
# $\lVert \partial L / \partial s_t \rVert$ for every step $t$, averaged over the batch,
# where $s_t$ is the full recurrent state ($h_t$, and for the LSTM also $c_t$).
#
# For the RNN we draw $W_{hh}$ with Gaussian entries and rescale it to a chosen spectral
# radius $\rho$ (its largest absolute eigenvalue) with `set_spectral_radius_`. Move the
# slider: the dashed line is $\rho^{\,T-t}$, what a *linear* RNN with a normal weight
# matrix would give.

# %%
T_GRAD = pick(smoke=30, book=100)
H_GRAD = pick(smoke=16, book=64)
B_GRAD = 16
grad_seeds = pick(smoke=[0, 1], book=[0, 1, 2, 3, 4], dry=[0, 1])


def rnn_with_radius(radius, seed):
    """An Elman RNN (PyTorch's init) whose W_hh is Gaussian, rescaled to
    spectral radius `radius`.
    """
    set_seed(seed)
    core = RNN(RNNConfig(H_GRAD, H_GRAD))
    nn.init.normal_(core.cells[0].weight_hh)
    set_spectral_radius_(core.cells[0].weight_hh, radius)
    return core


def grad_inputs(seed):
    g = torch.Generator().manual_seed(1000 + seed)
    # (B, T, I) random inputs
    return torch.randn(B_GRAD, T_GRAD, H_GRAD, generator=g)


steps = np.arange(1, T_GRAD + 1)  # t = 1, ..., T


def show_rnn_gradients(radius=1.0):
    norms = state_gradient_norms(
        rnn_with_radius(radius, seed=0), grad_inputs(0)
    ).numpy()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogy(
        steps,
        norms,
        color=MODEL_COLORS["rnn"],
        label=f"tanh RNN, ρ = {radius:.2f}",
    )
    ax.semilogy(
        steps,
        radius ** (T_GRAD - steps),
        "k--",
        linewidth=1,
        label=r"$\rho^{T-t}$",
    )
    ax.set_xlabel("time step t (loss at the last step)")
    ax.set_ylabel(r"gradient norm $\|\partial L / \partial h_t\|$")
    ax.legend(loc="lower right")
    plt.show()


interact(
    show_rnn_gradients,
    radius=widgets.FloatSlider(
        value=1.0, min=0.25, max=3.0, step=0.05, description="ρ"
    ),
)

# %% [markdown]
# On this site the slider steps through precomputed outputs (live in Colab). The figure
# below repeats the measurement for several
# radii, each curve the geometric mean over {glue:text}`n_grad_seeds` random networks and
# input batches (band: the smallest and largest of them).


# %%
def curves_over_seeds(make_core):
    """(len(seeds), T) gradient norms, one row per seed (model and inputs both
    re-drawn).
    """
    return np.stack(
        [
            state_gradient_norms(make_core(seed), grad_inputs(seed)).numpy()
            for seed in grad_seeds
        ]
    )


def plot_band(ax, curves, label, color, linestyle="-"):
    ax.semilogy(
        steps,
        np.exp(np.log(curves).mean(0)),
        color=color,
        linestyle=linestyle,
        label=label,
    )
    ax.fill_between(
        steps,
        curves.min(0),
        curves.max(0),
        color=color,
        alpha=0.15,
        linewidth=0,
    )


radii = [0.5, 0.9, 1.2, 1.5, 2.0, 3.0]
rnn_curves = {
    r: curves_over_seeds(lambda seed, r=r: rnn_with_radius(r, seed))
    for r in radii
}
colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(radii)))
fig, ax = plt.subplots(figsize=(7.5, 4.5))
for (r, curves), color in zip(rnn_curves.items(), colors):
    plot_band(ax, curves, f"ρ = {r}", color)
ax.set_xlabel("time step t (loss at the last step)")
ax.set_ylabel(r"gradient norm $\|\partial L / \partial h_t\|$")
ax.set_title(
    f"tanh RNN, H = {H_GRAD}, T = {T_GRAD}: gradient travelling back in time"
)
ax.legend(ncol=2, loc="lower right")
plt.show()
glue("n_grad_seeds", len(grad_seeds), display=False)

# %% [markdown]
# Read the curves from right to left, the direction in which the gradient travels. For
# small radii every step multiplies the gradient by a factor below one and it falls
# exponentially (a straight line on the log axis); for large radii it explodes. In
# between there is a narrow band where it neither vanishes nor explodes, and where
# exactly it lies depends on the input scale and the width. The per-step factors fitted
# in the table further down are {glue:text}`below_rho_phrase`. Training moves $W_{hh}$
# through these regimes, which is why plain RNNs are hard to train
# {cite}`pascanu2013difficulty`.
#
# ## Do the gates help? Measured
#
# The same measurement for the gated cells. At PyTorch's default initialisation every
# gate has a small random pre-activation, so it sits near $\sigma(0) = 0.5$: the LSTM's
# additive path multiplies the gradient by $f_t \approx 0.5$ per step. Gating only
# helps when the gate is *open*. A common remedy is to initialise the forget-gate bias
# to a positive value {cite}`gers2000forget,jozefowicz2015empirical`; for the GRU the
# analogous knob is the bias of the update gate $z$. We compare default
# initialisations with gates opened by a bias of +3 ($\sigma(3) \approx 0.95$) and with
# the plain RNN at PyTorch's default initialisation.

# %%
GATE_BIAS = 3.0


def gated_core(kind, seed, open_bias=0.0):
    """A one-layer GRU or LSTM with PyTorch's init, plus `open_bias` on the
    keep-gate's bias.
    """
    set_seed(seed)
    if kind == "lstm":
        core = LSTM(LSTMConfig(H_GRAD, H_GRAD))
        # gates are stacked (i, f, g, o): f is the 2nd block
        keep = slice(H_GRAD, 2 * H_GRAD)
    else:
        core = GRU(GRUConfig(H_GRAD, H_GRAD))
        # gates are stacked (r, z, n): z is the 2nd block
        keep = slice(H_GRAD, 2 * H_GRAD)
    with torch.no_grad():
        core.cells[0].bias_ih[keep] += open_bias
    return core


def default_rnn(seed):
    set_seed(seed)
    return RNN(RNNConfig(H_GRAD, H_GRAD))


gated = {
    "RNN (default init)": (
        curves_over_seeds(default_rnn),
        MODEL_COLORS["rnn"],
        "-",
    ),
    "GRU (default init)": (
        curves_over_seeds(lambda s: gated_core("gru", s)),
        MODEL_COLORS["gru"],
        "-",
    ),
    "LSTM (default init)": (
        curves_over_seeds(lambda s: gated_core("lstm", s)),
        MODEL_COLORS["lstm"],
        "-",
    ),
    f"GRU, z bias +{GATE_BIAS:g}": (
        curves_over_seeds(lambda s: gated_core("gru", s, GATE_BIAS)),
        MODEL_COLORS["gru"],
        "--",
    ),
    f"LSTM, f bias +{GATE_BIAS:g}": (
        curves_over_seeds(lambda s: gated_core("lstm", s, GATE_BIAS)),
        MODEL_COLORS["lstm"],
        "--",
    ),
}
fig, ax = plt.subplots(figsize=(7.5, 4.5))
for label, (curves, color, linestyle) in gated.items():
    plot_band(ax, curves, label, color, linestyle)
ax.set_xlabel("time step t (loss at the last step)")
ax.set_ylabel(r"gradient norm $\|\partial L / \partial s_t\|$")
ax.set_title(
    f"H = {H_GRAD}, T = {T_GRAD}, geometric mean over {len(grad_seeds)} seeds"
)
ax.legend(loc="lower right", fontsize=9)
plt.show()

# %% [markdown]
# To put numbers on the curves we fit a straight line to $\log \lVert \partial L / \partial s_t \rVert$
# over the steps at distance 10 or more from the loss; its slope gives the average
# factor $\gamma$ by which one step back in time multiplies the gradient (so the
# gradient after $k$ steps is about $\gamma^k$). Mean ± standard deviation over seeds:


# %%
def per_step_factor(curve, skip=10):
    """exp(slope) of log(norm) vs distance, fitted over distances >= skip."""
    distance = T_GRAD - steps
    keep = distance >= skip
    slope = np.polyfit(distance[keep], np.log(curve[keep]), 1)[0]
    return float(np.exp(slope))


all_curves = {f"RNN, ρ = {r}": c for r, c in rnn_curves.items()} | {
    k: v[0] for k, v in gated.items()
}
rows = []
for label, curves in all_curves.items():
    factors = [per_step_factor(c) for c in curves]
    rows.append(
        {
            "model": label,
            "per-step factor γ": stats.mean_std(factors),
            f"norm at distance {T_GRAD - 1} (geo. "
            "mean)": f"{np.exp(np.log(curves[:, 0]).mean()):.1e}",
        }
    )
factor_table = pd.DataFrame(rows)
print(factor_table.to_string(index=False))
lstm_default = np.mean(
    [per_step_factor(c) for c in gated["LSTM (default init)"][0]]
)
lstm_open = np.mean(
    [per_step_factor(c) for c in gated[f"LSTM, f bias +{GATE_BIAS:g}"][0]]
)
glue("gamma_lstm_default", float(lstm_default), display=False)
glue(
    "gamma_gru_default",
    float(
        np.mean([per_step_factor(c) for c in gated["GRU (default init)"][0]])
    ),
    display=False,
)
glue(
    "gamma_rnn_default",
    float(
        np.mean([per_step_factor(c) for c in gated["RNN (default init)"][0]])
    ),
    display=False,
)
below = all(
    np.mean([per_step_factor(c) for c in curves]) < r
    for r, curves in rnn_curves.items()
)
glue(
    "below_rho_phrase",
    (
        "all smaller than ρ: the inputs push the units into the flat parts of "
        "tanh, where tanh' < 1, "
        "so a step stretches a gradient less than W_hh alone would"
        if below
        else "not all smaller than ρ in this run: with a non-normal W_hh a "
        "few steps can stretch a gradient "
        "by more than ρ each, even though tanh' < 1"
    ),
    display=False,
)
glue("gamma_lstm_open", float(lstm_open), display=False)
glue(
    "lstm_open_far",
    float(
        np.exp(np.log(gated[f"LSTM, f bias +{GATE_BIAS:g}"][0][:, 0]).mean())
    ),
    display=False,
)
glue(
    "lstm_default_far",
    float(np.exp(np.log(gated["LSTM (default init)"][0][:, 0]).mean())),
    display=False,
)
glue(
    "rho_default",
    float(
        np.mean(
            [
                spectral_radius(default_rnn(s).cells[0].weight_hh)
                for s in grad_seeds
            ]
        )
    ),
    display=False,
)
glue("T_far", T_GRAD - 1, display=False)
glue("gate_bias", f"+{GATE_BIAS:g}", display=False)

# %% [markdown]
# Three lessons, all from this run:
#
# 1. **At PyTorch's default initialisation, the gated cells vanish too.** Their
#    per-step factors are {glue:text}`gamma_gru_default:.2f` (GRU) and
#    {glue:text}`gamma_lstm_default:.2f` (LSTM), in the range of a half-open gate
#    ($\sigma(0) = 0.5$, spread by the inputs), against {glue:text}`gamma_rnn_default:.2f`
#    for the plain RNN, whose default $W_{hh}$ has spectral radius about
#    {glue:text}`rho_default:.2f`. Gates are not magic.
# 2. **Open gates carry the gradient.** With the forget-gate bias raised by
#    {glue:text}`gate_bias`, the LSTM's factor rises to {glue:text}`gamma_lstm_open:.2f`
#    and the gradient that is left after {glue:text}`T_far` steps is
#    {glue:text}`lstm_open_far:.1e` instead of {glue:text}`lstm_default_far:.1e`. Along the
#    cell path the Jacobian is $\operatorname{diag}(f_t)$, with no weight matrix and no
#    tanh derivative, so a forget gate near 1 keeps the gradient alive; the GRU's
#    $z_t \odot h_{t-1}$ path does the same.
# 3. **The gates are learned.** Unlike the RNN's $W_{hh}$, whose scale must be right
#    everywhere at once, a gate can be open for one unit and closed for another, and
#    open at one time step and closed at the next, depending on the input. Training can
#    therefore *learn* where to keep a memory. Whether that is enough to make an LSTM
#    trainable on long lags is a claim about training, which the next section tests.
#
# (recurrent-adding)=
# ## Does it matter for training? The adding problem
#
# Gradient norms at initialisation are a prediction, not a result. The *adding problem*
# {cite}`hochreiter1997lstm` turns them into one: a sequence of $T$ random values in
# $[0, 1]$ comes with a second channel that marks two of them, one in the first half and
# one in the second, and the model must output their sum after the last step
# ({mod}`rvt_lib.data.adding`). The first marked value has to be held for at least $T/2$
# steps while everything else is ignored, so $T$ sets the lag the gradient must cross.
# Predicting the mean, $y = 1$, scores a mean squared error of $1/6$: a model that ends far
# below that remembers; one that sits at $1/6$ learned nothing about the
# markers.
#
# Three models at one parameter count (the RNN is made wider to match the LSTM): a tanh
# RNN, an LSTM at PyTorch's initialisation, and an LSTM with the **chrono
# initialisation** {cite}`tallec2018chrono`. A forget gate with bias $b_f$ keeps a
# fraction $\sigma(b_f)$ of the cell per step, so a memory fades over about
# $1/(1 - \sigma(b_f)) = 1 + e^{b_f}$ steps; chrono draws $b_f = \log u$ with
# $u \sim U(1, T_{\max} - 1)$, spreading the units' memory times over $[2, T_{\max}]$,
# and sets the input-gate bias to $-b_f$ ({func}`rvt_lib.models.lstm.chrono_init_`, here
# with $T_{\max} = T$). The protocol is the book's: each model's learning rate chosen on a
# validation set (the grid grows past an end, up to two rates, while the best rate sits
# there), retrained over several seeds, scored once on a test set of fresh sequences
# ({func}`rvt_lib.experiments.gradients.adding_study`).
#
# *Prediction, from the measurements above, written before the run:* at PyTorch's
# initialisation the RNN's and the LSTM's gradients shrink by a factor of about
# {glue:text}`gamma_rnn_default:.2f` and {glue:text}`gamma_lstm_default:.2f` per step, so
# over the $T/2 \geq 25$ steps of even the shorter lag almost nothing of the first marked
# value's gradient is left. Within a short training budget both should stay at the
# baseline at both lags. The chrono LSTM starts with many forget gates near 1 (memory
# times up to $T$), so it should learn at both lags, and the paired test at each lag
# should name it the better of the two LSTMs.

# %%
from rvt_lib.batched import fit_members
from rvt_lib.data.adding import MEAN_BASELINE_MSE
from rvt_lib.experiments import gradients as adding
from rvt_lib.train import TrainConfig

ADD_LAGS = pick(smoke=[8, 16], book=[50, 200], full=[100, 400, 1000], dry=[8])
ADD_HIDDEN = pick(smoke=8, book=32, full=64)
ADD_SEEDS = pick(smoke=(0, 1), book=(0, 1, 2), full=(0, 1, 2, 3, 4), dry=(0,))
ADD_LRS = pick(
    smoke=(1e-2,), book=(3e-3, 1e-2), full=(1e-3, 3e-3, 1e-2), dry=(1e-2,)
)
ADD_TRAIN = TrainConfig(
    steps=pick(smoke=3, book=400, full=3000),
    batch_size=pick(smoke=16, book=32, full=128),
    schedule="cosine",
    warmup=pick(smoke=1, book=20, full=100),
    clip=1.0,
    eval_every=pick(smoke=3, book=400, full=500),
)
add_runs, add_studies = adding.adding_study(
    ADD_LAGS,
    hidden=ADD_HIDDEN,
    config=ADD_TRAIN,
    seeds=ADD_SEEDS,
    lr_grid=ADD_LRS,
    extend=2,  # rates the grid may add past each end while the best is there
    n_val=pick(smoke=64, book=256, full=1024, dry=64),
    n_test=pick(smoke=64, book=512, full=4096, dry=64),
    # the two LSTMs' members train as one batched model each (the same runs as
    # one by one: tests/test_batched.py)
    trainer=fit_members,
)
ADD_CELL = ["T", "model"]
add_table = (  # mean ± std and 95% interval of the test MSE (never below 0)
    stats.summarize(
        add_runs, "test_mse", by=ADD_CELL, fmt=".4f", bounds=(0, math.inf)
    )
    .rename(columns={"mean": "test_mse"})
    .join(add_runs.groupby(ADD_CELL, sort=False)[["params", "lr"]].first())
)
add_table["vs baseline"] = add_table["test_mse"] / MEAN_BASELINE_MSE
add_table[
    ["params", "lr", "mean ± std", "ci_low", "ci_high", "vs baseline"]
].round(4)

# %%
ADD_MODELS = [adding.RNN, adding.LSTM, adding.CHRONO]
ADD_COLORS = [MODEL_COLORS["rnn"], MODEL_COLORS["lstm"], "#117733"]
fig, ax = plt.subplots(figsize=(7.0, 4.0))
x = np.arange(len(ADD_LAGS))
for i, (name, color) in enumerate(zip(ADD_MODELS, ADD_COLORS)):
    rows = add_table.xs(name, level="model")
    ax.bar(
        x + (i - 1) * 0.26,
        rows["test_mse"],
        width=0.26,
        yerr=rows["std"].fillna(0),
        capsize=3,
        color=color,
        label=name,
    )
ax.axhline(MEAN_BASELINE_MSE, color="black", ls="--", lw=1)
ax.text(
    len(ADD_LAGS) - 0.55, MEAN_BASELINE_MSE * 1.04, "predict the mean (1/6)"
)
ax.set_xticks(x, [f"T = {t}" for t in ADD_LAGS])
ax.set_xlabel("sequence length T (the lag is at least T/2 steps)")
ax.set_ylabel("test mean squared error")
ax.set_title(
    f"Adding problem: {ADD_TRAIN.steps} steps, lr tuned on validation, "
    f"mean ± std over {len(ADD_SEEDS)} seeds (budget {get_budget()})",
    fontsize=9,
)
ax.legend(fontsize=8, loc="upper left")
plt.show()

# %% tags=["hide-input"]
# Paired tests over the test sequences (each sequence's squared error averaged
# over the seeds), Holm-adjusted over every comparison on this page.
pairs = [
    (T, a, b)
    for T in ADD_LAGS
    for a, b in ((adding.CHRONO, adding.LSTM), (adding.LSTM, adding.RNN))
]
raw = [
    add_studies[T].compare(a, b, "sqerr", lower_is_better=True)
    for T, a, b in pairs
]
adjusted = stats.holm([v.p_value for v in raw])
add_verdicts = {
    (T, a, b): stats.verdict(
        v.test,
        a,
        b,
        lower_is_better=True,
        p_value=float(p),
        items="test sequences",
    )
    for (T, a, b), v, p in zip(pairs, raw, adjusted)
}
for v in add_verdicts.values():
    print(v)
solved = adding.solved_fraction(add_runs)
glue("add_T_long", ADD_LAGS[-1], display=False)
glue("add_seeds", len(ADD_SEEDS), display=False)
glue("add_n_tests", len(pairs), display=False)
beats = [
    add_verdicts[(T, adding.CHRONO, adding.LSTM)].winner == adding.CHRONO
    for T in ADD_LAGS
]
stuck = [
    add_table.loc[(T, name), "vs baseline"] >= 0.9
    for T in ADD_LAGS
    for name in (adding.RNN, adding.LSTM)
]
glue(
    "add_prediction",
    (
        "holds at every lag: the chrono LSTM beats the default LSTM in each "
        "paired test, and the default RNN and LSTM stay within 10% of the "
        "baseline"
        if all(beats) and all(stuck)
        else (
            "holds only in part: "
            + (
                "the chrono LSTM beats the default LSTM at every lag"
                if all(beats)
                else "the chrono LSTM does not beat the default LSTM at "
                "every lag"
            )
            + ", and "
            + (
                "the default RNN and LSTM stay within 10% of the baseline"
                if all(stuck)
                else "a default-initialised model moved more than 10% below "
                "the baseline (it learned something within the budget)"
            )
        )
    ),
    display=False,
)
glue("add_steps", ADD_TRAIN.steps, display=False)
add_tuned = [f"{name} at T = {T}" for T in ADD_LAGS for name in ADD_MODELS]
glue(
    "add_edges",
    which_of(
        [
            f"{name} at T = {T}"
            for T in ADD_LAGS
            for name in ADD_MODELS
            if add_studies[T].at_edge(name)
        ],
        add_tuned,
    ),
    display=False,
)
glue("add_T_short", ADD_LAGS[0], display=False)
for which, T in (("short", ADD_LAGS[0]), ("long", ADD_LAGS[-1])):
    for key, name in (
        ("rnn", adding.RNN),
        ("lstm", adding.LSTM),
        ("chrono", adding.CHRONO),
    ):
        glue(
            f"add_{key}_{which}",
            float(add_table.loc[(T, name), "vs baseline"]),
            display=False,
        )
        glue(
            f"add_solved_{key}_{which}",
            f"{solved.loc[T, name]:.0%}",
            display=False,
        )
for which, T in (("short", ADD_LAGS[0]), ("long", ADD_LAGS[-1])):
    for key, (a, b) in (
        ("chrono", (adding.CHRONO, adding.LSTM)),
        ("lstm", (adding.LSTM, adding.RNN)),
    ):
        glue(
            f"add_v_{key}_{which}", str(add_verdicts[(T, a, b)]), display=False
        )

# %% [markdown]
# Test errors as a fraction of the mean-prediction baseline (1 = learned nothing), and
# the share of seeds that got below a tenth of it:
#
# | lag | tanh RNN | LSTM | LSTM, chrono init |
# |---|---|---|---|
# | $T =$ {glue:text}`add_T_short` | {glue:text}`add_rnn_short:.3g` ({glue:text}`add_solved_rnn_short` of seeds) | {glue:text}`add_lstm_short:.3g` ({glue:text}`add_solved_lstm_short`) | {glue:text}`add_chrono_short:.3g` ({glue:text}`add_solved_chrono_short`) |
# | $T =$ {glue:text}`add_T_long` | {glue:text}`add_rnn_long:.3g` ({glue:text}`add_solved_rnn_long`) | {glue:text}`add_lstm_long:.3g` ({glue:text}`add_solved_lstm_long`) | {glue:text}`add_chrono_long:.3g` ({glue:text}`add_solved_chrono_long`) |
#
# The paired tests, over the test sequences and adjusted for the
# {glue:text}`add_n_tests` comparisons (Holm): at $T =$ {glue:text}`add_T_short`, {glue:text}`add_v_lstm_short`, and
# {glue:text}`add_v_chrono_short`; at $T =$ {glue:text}`add_T_long`,
# {glue:text}`add_v_lstm_long`, and {glue:text}`add_v_chrono_long`. So the prediction
# {glue:text}`add_prediction`. (Choices still at an end of the rates tried, where a rate
# further out might do better: {glue:text}`add_edges`.) {glue:text}`add_steps` training
# steps is a short budget,
# so a model at the baseline here may learn later: what this measures is how quickly
# each initialisation starts to use the lag, which is what the gradient norms predict.
#
# The next chapter takes the opposite route to long-range gradients: attention connects
# every position to every earlier one directly ({doc}`attention`). The chapter after
# that keeps the additive path of the gates and drops everything else
# ({doc}`min_rnns`).
#
# ## Exercises
#
# :::{exercise} The default spectral radius
# :label: recurrent-ex-1
#
# PyTorch initialises $W_{hh} \in \R^{H\times H}$
# with entries uniform in $\pm 1/\sqrt{H}$. Predict its spectral radius for large $H$
# and compare with the measured {glue:text}`rho_default:.2f`.
# :::
#
# :::{solution} recurrent-ex-1
# :class: dropdown
#
# The entries have mean 0 and variance $k^2/3 = 1/(3H)$ (for uniform on $[-k, k]$,
# $k = 1/\sqrt{H}$). By the circular law, the eigenvalues of an $H \times H$ matrix with
# i.i.d. entries of variance $\sigma^2$ fill a disc of radius $\sigma\sqrt{H}$, here
# $\sqrt{H/(3H)} = 1/\sqrt{3} \approx 0.577$. With $\rho < 1$ and $\tanh' \le 1$ the
# default RNN is deep in the vanishing regime, as the measurement shows.
# :::
#
# :::{exercise} Forget bias and memory length
# :label: recurrent-ex-2
#
# For small inputs and $h$ near 0, the LSTM's
# gradient along the cell path is multiplied by about $f = \sigma(b_f)$ per step.
# Predict how many steps it takes for the gradient to fall by a factor $e$ for
# $b_f = 0, 1, 3, 5$, then check with `state_gradient_norms`.
# :::
#
# :::{solution} recurrent-ex-2
# :class: dropdown
#
# A factor $f$ per step gives $f^k = e^{-1}$ after $k = -1/\ln f$ steps: $\sigma(0) = 0.5$
# gives 1.4 steps, $\sigma(1) = 0.73$ gives 3.2, $\sigma(3) = 0.953$ gives 20, and
# $\sigma(5) = 0.9933$ gives 150 steps. To check:
# ```python
# for b in (0, 1, 3, 5):
#     curves = curves_over_seeds(lambda s: gated_core("lstm", s, b))
#     print(b, np.mean([per_step_factor(c) for c in curves]), 1 / (1 + math.exp(-b)))
# ```
# The measured factors follow $\sigma(b_f)$ but not exactly: the input-dependent part of
# the gate's pre-activation spreads $f$ around $\sigma(b_f)$, and the path through
# $h_t$ and the other gates adds to the cell path.
# :::
#
# :::{exercise} Clipping
# :label: recurrent-ex-3
#
# Gradient clipping rescales the gradient whenever its norm exceeds a
# threshold. Explain why it is an adequate fix for exploding gradients but does
# nothing against vanishing ones.
# :::
#
# :::{solution} recurrent-ex-3
# :class: dropdown
#
# An exploding gradient still points in a useful direction; only its size is
# absurd, and a single huge step throws the weights into a bad region. Clipping keeps
# the direction and caps the step {cite}`pascanu2013difficulty`. A vanishing gradient
# has lost the information in a different sense: the total gradient is a sum over
# steps, and the terms from early steps are exponentially smaller than those from late
# ones, so their *relative share* of the update is negligible (long before any rounding
# matters). Rescaling the total gradient multiplies every term by the same factor and
# leaves that share unchanged. That needs a different architecture (gates, attention) or
# initialisation.
# :::
#
# :::{exercise} Counting with different sizes
# :label: recurrent-ex-4
#
# Give the number of parameters of a one-layer GRU
# with $I = 1$ input and $H = 64$ hidden units, and of a two-layer LSTM with $I = 10$,
# $H = 32$. Check with `count_parameters`.
# :::
#
# :::{solution} recurrent-ex-4
# :class: dropdown
#
# GRU: $3\,(H I + H^2 + 2H) = 3\,(64 + 4096 + 128) = 12{,}864$. LSTM: layer 1 has
# $4\,(32 \cdot 10 + 32^2 + 64) = 5{,}632$; layer 2 reads the 32 states of layer 1,
# $4\,(32 \cdot 32 + 32^2 + 64) = 8{,}448$; total 14,080.
# ```python
# count_parameters(GRU(GRUConfig(1, 64))), count_parameters(LSTM(LSTMConfig(10, 32, num_layers=2)))
# ```
# :::
#
# :::{admonition} Key takeaways
# :class: tip
# * An RNN applies the same step, $h_t = \tanh(W_{ih}x_t + W_{hh}h_{t-1} + b)$, at every
#   time; training it is backpropagation through the unrolled network (BPTT).
# * The gradient reaching step $t$ from a loss at step $T$ is a product of $T-t$
#   Jacobians. We measured it: it vanishes or explodes exponentially, depending on the
#   spectral radius of $W_{hh}$, with only a narrow band in between.
# * LSTMs and GRUs add an *additive* path ($c_t = f_t \odot c_{t-1} + \dots$,
#   $h_t = z_t \odot h_{t-1} + \dots$) whose Jacobian is a gate, not a weight matrix. It
#   carries gradients only where the gate is open: at PyTorch's default initialisation
#   the gates sit near 0.5 and the gradient still vanishes.
# * The price is parameters: a GRU layer has 3 times and an LSTM layer 4 times the
#   parameters of an Elman layer of the same size.
# * Our scratch layers equal `torch.nn` to float64 rounding, outputs, states and gradients.
# :::
