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
#     exclusive: true
#     minutes: 2.2
# ---

# %% [markdown]
# # Cost and scaling
#
# Parts I to III compared models at the sequence lengths their tasks happened to have. This
# chapter asks the question that decides many real projects: **how does the price of each
# model grow with the length $T$ of the sequence?** We measure five models of the same width
# (a GPT, an LSTM, a GRU, a minGRU and a minLSTM) in two situations:
#
# * **training**, where a whole sequence of $T$ tokens goes forward and backward at once;
# * **generation**, where tokens come out one at a time and the model must remember what it
#   has produced so far.
#
# For each we measure time and memory, fit power laws $y \approx c\,T^{p}$ to the
# measurements, and read off the exponents $p$ and the lengths at which the curves cross.
# What a parameter buys, the third price of a model, is the subject of the next chapter,
# {doc}`parameters`.

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
import platform

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from rvt_lib.book import glue, interact

from rvt_lib.budget import get_budget, pick
from rvt_lib.plots import MODEL_COLORS, plot_loglog, style
from rvt_lib.experiments.cost_scaling import (
    crossover_table,
    fitted_exponents,
    activation_sweep,
    generation_sweep,
    thread_speedup,
    training_sweep,
)
from rvt_lib.measure import kv_cache_bytes, recurrent_state_bytes
from rvt_lib.train import set_seed

style()
set_seed(0)
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
# CPU timings use one thread (see "Training" below for why); `full` keeps
# torch's default.
THREADS = pick(smoke=1, book=1, full=None)
if THREADS is not None:
    torch.set_num_threads(THREADS)
if DEVICE.type == "cuda":
    HARDWARE = f"GPU: {torch.cuda.get_device_name(DEVICE)}"
else:
    HARDWARE = (
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} "
        "cores, "
        f"{torch.get_num_threads()} torch threads"
    )
print(
    f"budget: {get_budget()} | device: {DEVICE} | {HARDWARE} | torch "
    f"{torch.__version__}"
)
glue("budget", get_budget(), display=False)
glue("hardware", HARDWARE, display=False)

# %% [markdown]
# ## What theory predicts
#
# Take $L$ layers of width $d$ and a sequence of $T$ tokens. Every model spends about
# $T d^2$ multiply-adds per layer on its matrix products (the projections, the MLP, the
# gates). The GPT adds attention: each of the $T$ queries meets up to $T$ keys, about
# $T^2 d$ more. The recurrent models add nothing that grows faster than $T$, but their
# steps depend on each other.
#
# | per layer | GPT | LSTM, GRU | minGRU, minLSTM |
# |---|---|---|---|
# | training step: work | $T d^2 + T^2 d$ | $T d^2$ | $T d^2$ |
# | training step: steps that must run one after another | $O(1)$ | $T$ | $T / \text{chunk}$ (chunked scan, {doc}`../part2_theory/parallel_scan`) |
# | training step: activations kept for backward | $T d$ (fused attention) or $T^2$ per head (plain) | $T d$ | $T d$ |
# | generating token $t$: work | $d^2 + t\,d$ | $d^2$ | $d^2$ |
# | generating token $t$: memory carried | $2\,t\,d$ (key/value cache) | $d$ ($2d$ for the LSTM) | $d$ |
#
# So on paper the GPT's training time grows like $T^2$ once $T^2 d$ outweighs $T d^2$,
# i.e. for $T$ beyond a small multiple of $d$ ({doc}`../part1_models/attention` counts it
# for one layer), while the recurrent models grow like $T$. The GPT's advantage is the
# middle row: all of its work can run at once, while an LSTM's $T$ steps cannot. Which
# effect dominates at a given length is a question about the hardware, so we measure.
#
# (cost-training)=
# ## Training: time and memory per step
#
# One *training step* here is a forward pass, the cross-entropy loss and the backward pass
# on a batch of random token sequences (the optimizer update is left out: it costs the same
# at every length). All five models are language models of the same width and depth, built
# by `make_model`; the GPT's position table is as long as the longest sequence.
# `training_sweep` times each step (median of a few repeats) and measures memory two ways:
#
# * `saved_MB`: the **activations**, i.e. the bytes of every tensor autograd keeps from the
#   forward pass for the backward pass, counted exactly with a hook
#   (`torch.autograd.graph.saved_tensors_hooks`). This is the part of training memory that
#   grows with $T$;
# * `peak_mem_MB`: the peak memory of the step as the operating system sees it
#   (`rvt_lib.measure.PeakMemory`); exact on a GPU, a noisy approximation on a CPU.
#
# A model whose step takes longer than a time limit is not run at longer lengths (its
# later rows are marked `skipped`), so that one slow model cannot eat the budget.
#
# On a CPU we time with **one thread** (printed at the top). This is a choice of method:
# on a machine whose cores are shared with other jobs, a multi-threaded operation waits
# for its slowest thread, and the timings of small operations become mostly waiting. One
# thread measures each model's own work and overheads, reproducibly. It slightly handicaps
# the GPT, whose large matrix products are the only operations here that two threads could
# share well; {ref}`Exercise 1 <cost_scaling-ex-1>` asks you to measure with more threads.

# %%
KINDS = ["gpt", "lstm", "gru", "mingru", "minlstm"]
D_MODEL = pick(smoke=16, book=64, full=256)
N_LAYER = pick(smoke=1, book=2, full=4)
N_HEAD = 4
BATCH = pick(smoke=1, book=4, full=8)
SEQ_LENS = pick(
    smoke=[16, 32, 64],
    book=[64, 128, 256, 512, 1024, 2048, 4096],
    full=[64, 128, 256, 512, 1024, 2048, 4096, 8192],
    dry=[16, 32, 64],
)
MAX_STEP_S = pick(smoke=None, book=2.0, full=20.0, dry=2.0)
REPEATS = pick(smoke=1, book=3, full=5, dry=1)

sweep = training_sweep(
    KINDS,
    SEQ_LENS,
    d_model=D_MODEL,
    n_layer=N_LAYER,
    n_head=N_HEAD,
    batch_size=BATCH,
    repeats=REPEATS,
    max_step_s=MAX_STEP_S,
    device=DEVICE,
)
wide_time = sweep.pivot(index="seq_len", columns="model", values="time_ms")[
    KINDS
]
print(
    f"width {D_MODEL}, {N_LAYER} layers, batch {BATCH}; time per training "
    "step (ms), "
    f"NaN = skipped after the {MAX_STEP_S} s limit:"
)
wide_time.round(1)

# %% tags=["hide-input"]
params = sweep.groupby("model")["params"].first()[KINDS]
print(
    "parameters:",
    ", ".join(f"{k} {v:,}" for k, v in params.items()),
    f"(the GPT's include its position table, {SEQ_LENS[-1]:,} x {D_MODEL})",
)
glue("d_model", D_MODEL, display=False)
glue("n_layer", N_LAYER, display=False)
glue("batch", BATCH, display=False)
glue("T_min", SEQ_LENS[0], display=False)
glue("T_max", SEQ_LENS[-1], display=False)
glue(
    "max_step_s",
    "no" if MAX_STEP_S is None else f"a {MAX_STEP_S:g} s",
    display=False,
)
skipped = sweep[sweep["skipped"]].groupby("model")["seq_len"].min()
glue(
    "skipped_phrase",
    (
        "No model hit the time limit."
        if skipped.empty
        else "Models that hit the time limit, and the first length skipped: "
        + ", ".join(f"{m} at {t:,}" for m, t in skipped.items())
        + "."
    ),
    display=False,
)

# %% [markdown]
# The figure below puts the times on log-log axes, where a power law $c\,T^p$ is a
# straight line of slope $p$. The dashed lines are least-squares fits over all measured
# lengths; the legend gives their slopes.

# %%
fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(12, 4.3))
_, time_slopes = plot_loglog(
    wide_time.index,
    {k: wide_time[k].tolist() for k in KINDS},
    ax=ax_t,
    xlabel="sequence length T (tokens)",
    ylabel="time per training step (ms)",
    title=f"Training step time (batch {BATCH}, width {D_MODEL})",
)
wide_saved = sweep.pivot(index="seq_len", columns="model", values="saved_MB")[
    KINDS
]
_, mem_slopes = plot_loglog(
    wide_saved.index,
    {k: wide_saved[k].tolist() for k in KINDS},
    ax=ax_m,
    xlabel="sequence length T (tokens)",
    ylabel="activations saved for backward (MB)",
    title="Training step memory (exact, from autograd)",
)
fig.suptitle(f"budget {get_budget()}, {HARDWARE}", fontsize=10)
fig.tight_layout()
plt.show()

# %%
tail_time = fitted_exponents(sweep, value="time_ms", last=3)
tail_mem = fitted_exponents(sweep, value="saved_MB", last=3)
exps = pd.DataFrame(
    {
        "time, all lengths": pd.Series(time_slopes),
        "time, 3 longest": tail_time,
        "activations, all lengths": pd.Series(mem_slopes),
        "activations, 3 longest": tail_mem,
    }
).loc[KINDS]
print("fitted exponents p in  cost ~ T^p")
exps.round(2)

# %% tags=["hide-input"]
for k in KINDS:
    glue(
        f"exp_time_{k}", float(exps.loc[k, "time, all lengths"]), display=False
    )
    glue(
        f"tail_time_{k}", float(exps.loc[k, "time, 3 longest"]), display=False
    )
    glue(
        f"exp_mem_{k}",
        float(exps.loc[k, "activations, all lengths"]),
        display=False,
    )
rec = [k for k in KINDS if k != "gpt"]
glue(
    "rec_time_lo",
    float(exps.loc[rec, "time, all lengths"].min()),
    display=False,
)
glue(
    "rec_time_hi",
    float(exps.loc[rec, "time, all lengths"].max()),
    display=False,
)
gpt_tail = float(exps.loc["gpt", "time, 3 longest"])
# Training memory of the GPT relative to the recurrent models (activations are
# exact, so no noise here). GPT / model, per length
act_ratio = wide_saved[rec].rdiv(wide_saved["gpt"], axis=0)
glue("act_ratio_lo", float(np.nanmin(act_ratio.to_numpy())), display=False)
glue("act_ratio_hi", float(np.nanmax(act_ratio.to_numpy())), display=False)
more = act_ratio.to_numpy() > 1
glue(
    "claim_less_memory_train",
    (
        "refuted"
        if np.all(more[np.isfinite(act_ratio.to_numpy())])
        else "supported" if not np.any(more) else "qualified"
    ),
    display=False,
)
glue(
    "gpt_tail_phrase",
    (
        "close to the quadratic law"
        if gpt_tail > 1.6
        else (
            "well above the recurrent models' but still short of 2: the "
            "linear terms still weigh"
            if gpt_tail > 1.2
            else "still close to linear: at these lengths the quadratic term "
            "does not dominate yet"
        )
    ),
    display=False,
)

# %% [markdown]
# **Time.** Over the whole range the recurrent models' exponents lie between
# {glue:text}`rec_time_lo:.2f` and {glue:text}`rec_time_hi:.2f`, the GPT's is
# {glue:text}`exp_time_gpt:.2f`. Over its three longest lengths the GPT's local exponent is
# {glue:text}`tail_time_gpt:.2f`, {glue:text}`gpt_tail_phrase`. This is the shape theory
# predicts: linear cost for recurrence, and for attention a linear regime at short $T$
# (the matrix products dominate) bending towards $T^2$. {glue:text}`skipped_phrase`
#
# **Memory.** The activation memory of every model grows linearly (exponents near 1 in the
# right panel), the GPT's included: `rvt_lib`'s GPT uses PyTorch's fused attention
# (`scaled_dot_product_attention`), which never stores the $T \times T$ matrix of weights.
# Per token, the GPT keeps between {glue:text}`act_ratio_lo:.1f` and
# {glue:text}`act_ratio_hi:.1f` times the activations of the recurrent models at this
# width: each of its blocks stores the inputs of attention *and* of a four-times-wide MLP.
# With the attention written out (`attention="plain"`), the $T \times T$ weights are
# stored too and memory becomes quadratic:

# %%
PLAIN_LENS = [
    t for t in SEQ_LENS if t <= pick(smoke=64, book=1024, full=4096, dry=64)
]
plain = training_sweep(
    {
        "gpt (fused attention)": "gpt",
        "gpt (plain attention)": {"kind": "gpt", "attention": "plain"},
    },
    PLAIN_LENS,
    d_model=D_MODEL,
    n_layer=N_LAYER,
    n_head=N_HEAD,
    batch_size=BATCH,
    repeats=1,
    warmup=0,
    device=DEVICE,
)
plain_saved = plain.pivot(index="seq_len", columns="model", values="saved_MB")
plain_exp = fitted_exponents(plain, value="saved_MB", last=3)
glue("plain_mem_exp", float(plain_exp["gpt (plain attention)"]), display=False)
glue("fused_mem_exp", float(plain_exp["gpt (fused attention)"]), display=False)
glue("plain_T", PLAIN_LENS[-1], display=False)
glue(
    "plain_ratio",
    float(
        plain_saved.iloc[-1]["gpt (plain attention)"]
        / plain_saved.iloc[-1]["gpt (fused attention)"]
    ),
    display=False,
)
print(
    "activations saved for backward (MB); exponent over the 3 longest "
    "lengths:",
    plain_exp.round(2).to_dict(),
)
plain_saved.round(2)

# %% [markdown]
# Over its longest lengths the plain version's activation memory grows with exponent
# {glue:text}`plain_mem_exp:.2f` against {glue:text}`fused_mem_exp:.2f` for the fused one,
# and at $T =$ {glue:text}`plain_T` it keeps {glue:text}`plain_ratio:.1f` times as much.
# The quadratic *memory* of attention is an implementation choice (FlashAttention-style
# kernels remove it); the quadratic *work* is not.
#
# (cost-equal-params)=
# ### Memory at equal parameters
#
# Equal width is not equal size. A GPT block holds about $12d^2$ parameters (attention
# $4d^2$, the MLP $8d^2$), an LSTM layer $8d^2$, a GRU $6d^2$, a minLSTM $3d^2$ and a minGRU
# $2d^2$, so at equal width "the GPT keeps more activations" is partly built into the
# comparison. `activation_sweep` gives every recurrent model the width whose parameter
# count matches the GPT's ({func}`rvt_lib.models.heads.match_parameters`, within 5%;
# counted without the GPT's position table, which here grows with the longest length) and
# counts the activations again. Only forward passes run, and the counts are exact.

# %%
eq = activation_sweep(
    KINDS,
    SEQ_LENS,
    d_model=D_MODEL,
    n_layer=N_LAYER,
    n_head=N_HEAD,
    batch_size=BATCH,
)
eq_saved = eq.pivot(index="seq_len", columns="model", values="saved_MB")[KINDS]
eq_sizes = eq.groupby("model")[["d_model", "params"]].first().loc[KINDS]
eq_ratio = eq_saved[rec].rdiv(eq_saved["gpt"], axis=0)  # GPT / model
print("widths at the GPT's parameter count (position table left out):")
print(eq_sizes.to_string())
print("\nGPT's activations / each model's, at equal parameters:")
eq_ratio.round(2)

# %% tags=["hide-input"]
glue("eq_ratio_lo", float(eq_ratio.to_numpy().min()), display=False)
glue("eq_ratio_hi", float(eq_ratio.to_numpy().max()), display=False)
glue("eq_params", f"{int(eq_sizes.loc['gpt', 'params']):,}", display=False)
glue(
    "eq_widths",
    ", ".join(f"{k} {int(eq_sizes.loc[k, 'd_model'])}" for k in rec),
    display=False,
)
eq_more = eq_ratio.to_numpy() > 1
glue(
    "eq_phrase",
    (
        "the GPT still keeps more activations than every recurrent model, at "
        "every length"
        if eq_more.all()
        else (
            "the GPT keeps fewer activations than every recurrent model, at "
            "every length"
            if not eq_more.any()
            else "the order depends on the model and the length"
        )
    ),
    display=False,
)
same_width = act_ratio.to_numpy()
glue(
    "eq_vs_width",
    (
        "smaller than"
        if eq_ratio.to_numpy().max() < np.nanmin(same_width)
        else (
            "larger than"
            if eq_ratio.to_numpy().min() > np.nanmax(same_width)
            else "overlapping"
        )
    ),
    display=False,
)

# %% [markdown]
# At {glue:text}`eq_params` parameters (widths {glue:text}`eq_widths` against the GPT's
# {glue:text}`d_model`), {glue:text}`eq_phrase`: the GPT's activations are
# {glue:text}`eq_ratio_lo:.1f` to {glue:text}`eq_ratio_hi:.1f` times theirs, a range
# {glue:text}`eq_vs_width` the {glue:text}`act_ratio_lo:.1f` to
# {glue:text}`act_ratio_hi:.1f` measured at equal width. Wider recurrent layers store
# wider states, so matching parameters moves the ratio; which architecture needs less
# training memory per parameter is therefore a question with two honest answers, and a
# page that reports one should say which.
#
# (cost-threads)=
# ### One thread or two
#
# The sweep above runs on one thread. `thread_speedup` repeats it at three lengths with
# one and with two threads and divides the times. A second thread needs a free core, and
# every timing on this page needs a quiet machine, so the book's build runs this chapter
# by itself, after the other chapters (it asks for that in its notebook metadata; see
# `scripts/execute_book.py`): beside another chapter on a two-core machine, its second
# thread would have no core of its own. The machine's load
# average when the threads were timed is printed on the figure, for a reader who runs
# the page on a busy machine.

# %%
THREAD_LENS = pick(
    smoke=[16, 64], book=[128, 512, 2048], full=[256, 1024, 4096], dry=[16, 64]
)
threads = thread_speedup(
    KINDS,
    THREAD_LENS,
    threads=(1, 2),
    d_model=D_MODEL,
    n_layer=N_LAYER,
    n_head=N_HEAD,
    batch_size=BATCH,
    repeats=REPEATS,
    device=DEVICE,
)
thread_load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
two = threads[threads["threads"] == 2].pivot(
    index="seq_len", columns="model", values="speedup"
)[KINDS]
fig, ax = plt.subplots(figsize=(7.2, 3.8))
x = np.arange(len(THREAD_LENS))
for i, k in enumerate(KINDS):
    ax.bar(
        x + (i - 2) * 0.16, two[k], width=0.16, color=MODEL_COLORS[k], label=k
    )
ax.axhline(1.0, color="black", lw=0.8)
ax.set_xticks(x, [f"T = {t:,}" for t in THREAD_LENS])
ax.set_xlabel("sequence length (tokens)")
ax.set_ylabel("speed-up of 2 threads over 1 (x)")
ax.set_title(
    f"Training step, width {D_MODEL}, batch {BATCH}: 1 vs 2 torch threads "
    f"({os.cpu_count()} cores, load average {thread_load:.1f})",
    fontsize=9,
)
ax.legend(ncol=5, fontsize=8)
plt.show()
two.round(2)

# %% tags=["hide-input"]
glue("thread_load", float(thread_load), display=False)
glue("thread_gpt_hi", float(two["gpt"].max()), display=False)
glue("thread_rec_hi", float(two[rec].to_numpy().max()), display=False)
glue("thread_best", str(two.max().idxmax()), display=False)

# %% [markdown]
# The largest gain from a second thread is {glue:text}`thread_gpt_hi:.2f`x for the GPT and
# {glue:text}`thread_rec_hi:.2f`x for the best recurrent model; the model that gains most
# is the {glue:text}`thread_best`. The load average was {glue:text}`thread_load:.1f` on
# this machine's cores when it ran, so read a small gain as "no free core" as much as
# "nothing to share".
#
# (cost-crossover)=
# ### Where do the curves cross?
#
# `crossover_table` fits a power law to each model's times and compares the GPT with each
# recurrent model: the crossings seen in the measurements (interpolated between the two
# lengths that bracket each one; two close, noisy curves may cross more than once, and the
# *last* crossing is the one beyond which the order held), the crossing of the fitted
# laws, and a verdict computed from those numbers. A fitted crossing outside the measured
# range is an extrapolation and is labelled as such.

# %%
cross = crossover_table(sweep, value="time_ms", reference="gpt")
cross_show = cross.copy()
for col in ("fitted_crossover", "last_crossing"):
    cross_show[col] = cross_show[col].map(
        lambda v: "none" if v is None or not np.isfinite(v) else f"{v:,.0f}"
    )
with pd.option_context("display.max_colwidth", 80):
    display(cross_show.round(2))
for k in rec:
    glue(
        f"cross_{k}",
        cross.loc[k, "verdict"]
        .replace("gpt", "the GPT is", 1)
        .replace("from ~", "from T ≈ "),
        display=False,
    )

# minimal RNN against its classic parent, at the longest length where both were
# measured
for fast, slow in (("mingru", "gru"), ("minlstm", "lstm")):
    both = wide_time[[fast, slow]].dropna()
    glue(f"{fast}_vs_{slow}_T", int(both.index[-1]), display=False)
    glue(
        f"{fast}_vs_{slow}",
        float(both[slow].iloc[-1] / both[fast].iloc[-1]),
        display=False,
    )

# Verdicts used by the conclusions chapter, computed from this run.
# (lengths, models): True where a recurrent model is faster
faster_rec = wide_time[rec].lt(wide_time["gpt"], axis=0)
longest_gpt = wide_time["gpt"].last_valid_index()
glue(
    "claim_not_always_faster",
    "supported" if faster_rec.to_numpy().any() else "not supported",
    display=False,
)
glue(
    "claim_not_always_faster_detail",
    (
        (
            f"at T = {longest_gpt:,}, "
            + (
                ", ".join(m for m in rec if faster_rec.loc[longest_gpt, m])
                or "no recurrent model"
            )
            + " trained faster per step than the GPT"
        )
        if longest_gpt is not None
        else "the GPT was not measured"
    ),
    display=False,
)

# %% [markdown]
# In words, for a training step at batch {glue:text}`batch` and width
# {glue:text}`d_model`, on this hardware:
#
# * GPT vs LSTM: {glue:text}`cross_lstm`;
# * GPT vs GRU: {glue:text}`cross_gru`;
# * GPT vs minGRU: {glue:text}`cross_mingru`;
# * GPT vs minLSTM: {glue:text}`cross_minlstm`.
#
# Among the recurrent models, the parallel ones pay off: at $T =$
# {glue:text}`mingru_vs_gru_T` a minGRU step is {glue:text}`mingru_vs_gru:.1f` times as fast
# as a GRU step, and at $T =$ {glue:text}`minlstm_vs_lstm_T` a minLSTM step
# {glue:text}`minlstm_vs_lstm:.1f` times as fast as an LSTM step (a ratio below 1 means
# slower), in line with the single-layer measurements of {doc}`../part2_theory/parallel_scan`.
#
# Two things move these crossings. The **hardware**: timed on one CPU thread, the GPT
# gets nothing for being parallel, so its $T^2$ work shows early. On a GPU the same work
# is spread over thousands of cores while the LSTM's steps still run one by one, which
# pushes the crossing with the classic RNNs to far longer sequences (the minimal RNNs,
# parallel themselves, stay competitive there). The **batch and width**: a larger
# batch gives every model more parallel work per step, and a wider model raises the $T d^2$
# part that all models share, so the attention term needs a longer $T$ to dominate.

# %% [markdown]
# ### Explore: the cost at one length
#
# Move the slider to compare the five models at one measured length (on this site it steps
# through precomputed outputs, live in Colab; the figure after it shows three lengths).


# %%
def bars_at(T, axes=None):
    """Time and activation memory of every model at sequence length T, from the
    sweep.
    """
    row_t, row_m = wide_time.loc[T], wide_saved.loc[T]
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    colors = [MODEL_COLORS[k] for k in KINDS]
    for ax, row, label in (
        (axes[0], row_t, "time per step (ms)"),
        (axes[1], row_m, "activations (MB)"),
    ):
        ax.bar(
            KINDS,
            np.nan_to_num(row[KINDS].to_numpy(dtype=float)),
            color=colors,
        )
        for i, v in enumerate(row[KINDS]):
            text = (
                "skipped"
                if not np.isfinite(v)
                else f"{v:,.0f}" if v >= 100 else f"{v:.3g}"
            )
            ax.annotate(
                text,
                (i, v if np.isfinite(v) else 0),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_ylabel(label)
        ax.set_xlabel("model")
        ax.set_title(f"T = {T:,} tokens")
    return axes


def show_length(T):
    bars_at(T)
    plt.tight_layout()
    plt.show()


interact(
    show_length,
    T=widgets.SelectionSlider(
        options=list(wide_time.index),
        value=wide_time.index[len(wide_time) // 2],
        description="T (tokens)",
    ),
)

# %%
show_Ts = [
    wide_time.index[0],
    wide_time.index[len(wide_time) // 2],
    wide_time.index[-1],
]
fig, axes = plt.subplots(2, 3, figsize=(13, 6.4))
for j, T in enumerate(show_Ts):
    bars_at(T, axes=axes[:, j])
fig.suptitle(
    f"Per-step cost at three lengths (batch {BATCH}, width {D_MODEL}; budget "
    f"{get_budget()})",
    fontsize=11,
)
fig.tight_layout()
plt.show()

# %% [markdown]
# (cost-generation)=
# ## Generation: time per token and the memory carried along
#
# Generating text is sequential for *every* model: token $t+1$ cannot be computed before
# token $t$ is chosen. What differs is what each model carries from one step to the next.
# A recurrent model carries its state: $L$ vectors of width $d$ (two per layer for the
# LSTM), the same size after ten tokens or a million. The GPT carries its **key/value
# cache**: for every layer, a key and a value vector for every token so far,
#
# $$
# \text{KV cache bytes} = 2 \times L \times B \times t \times d \times 4 \quad \text{(float32)},
# $$
#
# growing linearly with the position $t$, and every new token attends over all $t$ cached
# keys. `generation_sweep` generates greedily from a one-token prompt, one forward call per
# token, times every step (medians over windows of positions and over repeats), and weighs
# the state after each step: the measured bytes of the actual tensors, next to the formula.

# %%
N_GEN = pick(smoke=32, book=2048, full=8192, dry=32)
WINDOW = pick(smoke=8, book=128, full=256, dry=8)
gen = generation_sweep(
    KINDS,
    N_GEN,
    d_model=D_MODEL,
    n_layer=N_LAYER,
    n_head=N_HEAD,
    batch_size=1,
    repeats=pick(smoke=1, book=3, full=3, dry=1),
    window=WINDOW,
    device=DEVICE,
)
assert (
    gen["state_bytes"] == gen["formula_bytes"]
).all(), "measured state bytes differ from the formula"

fig, (ax_b, ax_s) = plt.subplots(1, 2, figsize=(12, 4.3))
# models whose states have identical sizes share one line in the memory panel
same_state = {}
for k in KINDS:
    same_state.setdefault(
        tuple(gen.loc[gen["model"] == k, "state_bytes"]), []
    ).append(k)
for members in same_state.values():
    g = gen[gen["model"] == members[0]]
    ax_b.plot(
        g["position"],
        g["formula_bytes"] / 1e3,
        color=MODEL_COLORS[members[0]],
        linestyle="--",
        linewidth=1,
    )
    ax_b.plot(
        g["position"],
        g["state_bytes"] / 1e3,
        color=MODEL_COLORS[members[0]],
        marker="o",
        markersize=3,
        linestyle="none",
        label=" = ".join(members),
    )
for k in KINDS:
    g = gen[gen["model"] == k]
    ax_s.plot(
        g["position"],
        g["ms_per_token"],
        color=MODEL_COLORS[k],
        marker="o",
        markersize=3,
        label=k,
    )
ax_b.set_yscale("log")
ax_b.set_xlabel("tokens generated so far (position t)")
ax_b.set_ylabel("state carried between steps (KB, log scale)")
ax_b.set_title("Memory: measured (dots) and formula (dashed)")
ax_b.legend()
ax_s.set_xlabel("position t of the generated token")
ax_s.set_ylabel(f"time per token (ms, median over {WINDOW} positions)")
ax_s.set_title("Time per generated token (batch 1)")
ax_s.set_ylim(bottom=0)
ax_s.legend()
fig.suptitle(
    f"Generation, width {D_MODEL}, {N_LAYER} layers; budget {get_budget()}, "
    f"{HARDWARE}",
    fontsize=10,
)
fig.tight_layout()
plt.show()

# %%
end = gen.groupby("model").last().loc[KINDS]
start = gen.groupby("model").first().loc[KINDS]
gen_table = pd.DataFrame(
    {
        "state at the end (KB)": end["state_bytes"] / 1e3,
        f"ms/token, first {WINDOW}": start["ms_per_token"],
        f"ms/token, last {WINDOW}": end["ms_per_token"],
        "tokens/s at the end": end["tokens_per_s"],
    }
)
gen_table.round(3)

# %% tags=["hide-input"]
kv_end = int(end.loc["gpt", "state_bytes"])
glue("n_gen", N_GEN, display=False)
glue("kv_end_KB", kv_end / 1e3, display=False)
glue(
    "lstm_state_KB", float(end.loc["lstm", "state_bytes"] / 1e3), display=False
)
glue("gru_state_KB", float(end.loc["gru", "state_bytes"] / 1e3), display=False)
glue(
    "kv_over_lstm",
    kv_end / float(end.loc["lstm", "state_bytes"]),
    display=False,
)
glue(
    "kv_per_token",
    kv_cache_bytes(1, n_layer=N_LAYER, d_model=D_MODEL),
    display=False,
)
gpt_slowdown = float(
    end.loc["gpt", "ms_per_token"] / start.loc["gpt", "ms_per_token"]
)
rec_slowdown = (
    end.loc[rec, "ms_per_token"] / start.loc[rec, "ms_per_token"]
).astype(float)
glue("gpt_slowdown", gpt_slowdown, display=False)
glue("rec_slowdown_lo", float(rec_slowdown.min()), display=False)
glue("rec_slowdown_hi", float(rec_slowdown.max()), display=False)
for k in KINDS:
    glue(f"gen_tps_{k}", float(end.loc[k, "tokens_per_s"]), display=False)
fastest_end = end["tokens_per_s"].astype(float).idxmax()
glue("gen_fastest", fastest_end, display=False)
glue(
    "gen_gpt_rank",
    f"{int(end['tokens_per_s'].astype(float).rank(ascending=False)['gpt'])} "
    f"of {len(KINDS)}",
    display=False,
)

# %% [markdown]
# **Memory.** The measured bytes equal the formula at every position (the cell above
# checks it with an `assert`). After {glue:text}`n_gen` tokens the GPT's cache holds
# {glue:text}`kv_end_KB:.0f` KB and grows by {glue:text}`kv_per_token` bytes per token,
# while the LSTM's state stays at {glue:text}`lstm_state_KB:.2f` KB and the GRU's (and the
# minimal RNNs') at {glue:text}`gru_state_KB:.2f` KB: the cache is
# {glue:text}`kv_over_lstm:.0f` times the LSTM's state here, and the ratio keeps growing
# with every token. For a batch of $B$ sequences, multiply both by $B$; serving many long
# conversations at once is where this difference decides what fits on a device.
#
# **Time.** Over the run, the GPT's time per token changes by a factor of
# {glue:text}`gpt_slowdown:.2f` from the first window to the last, the recurrent models' by
# factors between {glue:text}`rec_slowdown_lo:.2f` and {glue:text}`rec_slowdown_hi:.2f`
# (1 means flat; values near 1 are within the timing noise). The GPT's
# extra work per token, attention over $t$ cached keys plus copying the grown cache, is
# proportional to $t$; at this small width and these lengths it is modest next to the fixed
# cost of running $L$ blocks, so the growth is gentle. At the end of the run the fastest
# generator is {glue:text}`gen_fastest`, and the GPT ranks {glue:text}`gen_gpt_rank` in
# tokens per second. A cache cannot grow forever: the learned position table stops at
# `block_size`, after which `generate` re-reads a window of the last `block_size` tokens,
# a full forward pass per token.

# %%
# The same formulas at a realistic size, for scale (no measurement:
# arithmetic).
big = dict(n_layer=12, d_model=768)
for T in (1_024, 32_768):
    print(
        f"12 layers, width 768, T = {T:>6,}: KV cache "
        f"{kv_cache_bytes(T, **big) / 1e6:8.1f} MB per sequence; "
        f"LSTM state {recurrent_state_bytes('lstm', **big) / 1e3:.1f} KB, "
        f"minGRU state {recurrent_state_bytes('mingru', **big) / 1e3:.1f} KB"
    )

# %% [markdown]
# (cost-gpu)=
# ## On a GPU
#
# The measurements above come from the hardware printed at the top of the chapter. The
# balance between the GPT's parallel quadratic work and the recurrent models' sequential
# linear work depends on that hardware more than on anything else, so the book provides
# two ways to produce the GPU tables:
#
# * `python -m benchmarks.speed` times the library's models against their PyTorch peers on
#   the CPU and, when one is present, on CUDA, as ratios measured in the same run;
# * this chapter with `RVT_BUDGET=full` (for example in Colab with a GPU runtime) selects
#   the GPU automatically, uses a wider and deeper model, lengths up to 8,192 and longer
#   generation, and reports exact GPU peak memory in the `peak_mem_MB` column.
#
# {glue:text}`gpu_note`

# %%
# The load average (runnable processes, averaged over the last minute) says
# whether other jobs shared the cores while the sweeps ran; our own timing
# thread accounts for about 1.
load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
busy = load > torch.get_num_threads() + 0.5
load_phrase = (
    f"the load average was {load:.1f} on {os.cpu_count()} cores when the "
    "sweeps ended, "
    + (
        "so other jobs shared the machine and absolute times are pessimistic; "
        if busy
        else "so the machine was otherwise idle; "
    )
)
glue(
    "gpu_note",
    (
        f"This page was built on {HARDWARE}."
        if DEVICE.type == "cuda"
        else "No GPU was available for this build: the numbers on this page "
        f"come from {HARDWARE}; "
        + load_phrase
        + "absolute times are noisy, and the exponents are more robust than "
        "the "
        "milliseconds."
    ),
    display=False,
)
cpu_table = sweep[
    ["model", "seq_len", "time_ms", "tokens_per_s", "peak_mem_MB", "saved_MB"]
]
print(f"device used: {DEVICE} ({HARDWARE})")
cpu_table[cpu_table["seq_len"] == SEQ_LENS[-1]].set_index("model").round(2)

# %% [markdown]
# ## Exercises
#
# :::{exercise} Move the crossover
# :label: cost_scaling-ex-1
#
# Rerun the training sweep for the GPT and the LSTM, once with
# `batch_size=16` and once with two threads (`torch.set_num_threads(2)`, on an otherwise
# idle machine). Predict first: in which direction does the GPT-versus-LSTM crossing move
# in each case?
# :::
#
# :::{solution} cost_scaling-ex-1
# :class: dropdown
#
# ```python
# torch.set_num_threads(2)   # or keep one thread and change the batch
# s = training_sweep(["gpt", "lstm"], SEQ_LENS, d_model=D_MODEL, n_layer=N_LAYER,
#                    batch_size=16, max_step_s=MAX_STEP_S)
# crossover_table(s)
# ```
# Reason about what each model's time is made of. The LSTM's step is $T$ small matrix
# products done one after another, each with a fixed overhead (Python, dispatch) that does
# not depend on the batch; a bigger batch widens each product at a modest extra cost, so
# its time grows *less* than in proportion to the batch. The GPT's work is a few large
# operations whose time is nearly proportional to the batch. So a bigger batch tends to
# move the crossing to *shorter* sequences. More threads work the other way: the GPT's
# large products can be shared between cores, the LSTM's small sequential ones hardly, so
# the crossing moves to *longer* sequences. A GPU is the extreme case of the second effect.
# The measurement decides; on a busy machine, repeat it.
# :::
#
# :::{exercise} Read the slope correctly
# :label: cost_scaling-ex-2
#
# The GPT's exponent over all lengths is smaller than over
# the three longest. Using the per-layer work $a\,T d^2 + b\,T^2 d$, show that the local
# slope $\mathrm{d}\log y/\mathrm{d}\log T$ is $1 + \frac{bT}{a d + bT}$, and find where it
# equals 1.5.
# :::
#
# :::{solution} cost_scaling-ex-2
# :class: dropdown
#
# With $y = a T d^2 + b T^2 d$, $\frac{d \log y}{d \log T} = \frac{T y'}{y} =
# \frac{a T d^2 + 2 b T^2 d}{a T d^2 + b T^2 d} = 1 + \frac{b T}{a d + b T}$. It rises
# from 1 (small $T$) to 2 (large $T$) and equals 1.5 where $bT = ad$, i.e. $T = (a/b)\,d$,
# the point where attention's work equals the rest. For a GPT block, $a \approx 12$
# (projections and MLP, counted in multiply-adds per parameter) and $b \approx 2$
# ($QK^\top$ and $AV$), so $T \approx 6d$: 384 for $d = 64$. A fit over a range that
# straddles this point returns an exponent between 1 and 2 that describes neither regime.
# :::
#
# :::{exercise} The cache of a batch
# :label: cost_scaling-ex-3
#
# A server generates for $B = 64$ users at once with the GPT
# of this chapter, each up to $t = 2{,}048$ tokens. How much memory do the caches take, and
# how much would the LSTM's states take? Use `kv_cache_bytes` and
# `recurrent_state_bytes`, then check one value against a measured state with
# `rvt_lib.measure.decode_steps(model, n, batch_size=B)` and `state_bytes`.
# :::
#
# :::{solution} cost_scaling-ex-3
# :class: dropdown
#
# ```python
# from rvt_lib.models.heads import make_model
# from rvt_lib.measure import decode_steps, state_bytes
# B, t = 64, 2048
# print(kv_cache_bytes(t, n_layer=N_LAYER, d_model=D_MODEL, batch_size=B) / 1e6, "MB")
# print(recurrent_state_bytes("lstm", n_layer=N_LAYER, d_model=D_MODEL, batch_size=B) / 1e3, "KB")
# m = make_model("gpt", vocab_size=65, d_model=D_MODEL, n_layer=N_LAYER, block_size=300)
# tr = decode_steps(m, 200, batch_size=B)
# assert state_bytes(tr.state) == kv_cache_bytes(201, n_layer=N_LAYER, d_model=D_MODEL, batch_size=B)
# ```
# With the book budget ($L = 2$, $d = 64$): $2 \cdot 2 \cdot 64 \cdot 2048 \cdot 64 \cdot 4
# \approx 134$ MB of caches, against $2 \cdot 2 \cdot 64 \cdot 64 \cdot 4 = 65.5$ KB of
# LSTM states, about 2,000 times less. (The measured state after a 1-token prompt and 200
# generated tokens covers 201 positions.)
# :::
#
# :::{exercise} Why is minGRU not flat in $T$?
# :label: cost_scaling-ex-4
#
# Its parallel scan does $O(T)$ work in
# $T/\text{chunk}$ sequential chunks, yet its step time above still grows about linearly.
# Why does a parallel algorithm not give constant time here?
# :::
#
# :::{solution} cost_scaling-ex-4
# :class: dropdown
#
# "Parallel" means the *sequential depth* is short, not that the work disappears: the
# scan still touches all $T$ positions of every channel, and the matrix products still do
# $T d^2$ work. Time is roughly work divided by the number of cores that can share it,
# plus depth times the cost of a synchronised step. With two CPU cores the work term
# dominates and time grows like $T$. On a GPU, until the work fills the device, time grows
# much more slowly than $T$ (the depth term dominates), which is the speed-up measured in
# {doc}`../part2_theory/parallel_scan`.
# :::
#
# :::{admonition} Key takeaways
# :class: tip
# * Training cost per step: the recurrent models grow linearly in $T$; the GPT's time bends
#   from linear towards quadratic once attention's $T^2 d$ outweighs the $T d^2$ of its
#   matrix products (around $T \approx 6d$ for a whole block). Fitted exponents depend on
#   the range: read the local slope at the long end.
# * Where the GPT's per-step time overtakes a recurrent model's depends on hardware, batch
#   and width; this chapter computes it for its own run instead of asserting it.
# * With fused attention the GPT's *training memory* is linear in $T$ too; only the written-out
#   attention stores the $T \times T$ weights.
# * In *generation*, the GPT's key/value cache grows by $2 L d$ numbers per token, exactly as
#   the formula says; a recurrent state has a fixed size. Long generations and many
#   simultaneous sequences are where recurrent models are cheaper to run.
# :::
