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
#     minutes: 1.4
# ---

# %% [markdown]
# # The parallel scan
#
# A recurrent network reads a sequence one step at a time: $h_t$ needs $h_{t-1}$, which
# needs $h_{t-2}$, and so on back to the start. That chain of $T$ dependent steps is why
# LSTMs train slowly on long sequences, and why Transformers, which look at all positions
# at once, replaced them. This chapter shows that the chain is not always a chain. When
# the recurrence is *linear* in $h$,
#
# $$h_t = a_t \odot h_{t-1} + b_t, \qquad t = 1, \dots, T, \quad h_0 \text{ given},$$
#
# it can be computed in about $\log_2 T$ dependent rounds instead of $T$, by the same
# *parallel prefix scan* that computes running sums on parallel machines
# {cite}`hillis1986data,blelloch1990prefix`. This is the trick behind minGRU and minLSTM
# {cite}`feng2024minrnn`, and behind the linear RNNs before them {cite}`martin2018parallelizing`.
#
# We build the idea up from running sums, count *work* and *depth*, step through the
# Blelloch scan, look at the log-space version that minGRU uses {cite}`heinsen2023parallel`
# and its float32 limits, and finally time everything on the machine that built this page.

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
import platform

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from rvt_lib import plots
from rvt_lib.book import glue, interact
from rvt_lib.budget import get_budget, pick
from rvt_lib.measure import time_fn
from rvt_lib.stats import fit_power_law
from rvt_lib.scan import (
    blelloch_steps,
    combine,
    logspace_error,
    scan_blelloch,
    scan_hillis_steele,
    scan_logspace,
    scan_sequential,
)
from rvt_lib.train import set_seed

plots.style()
set_seed(0)
# All timings use one thread: the machine that builds this book is shared, and
# two threads competing with other processes for two cores give erratic times
# (see below).
torch.set_num_threads(1)


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what platform
    knows.
    """
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
HARDWARE = (
    f"{cpu_name()}, {os.cpu_count()} CPU cores, timed on "
    f"{torch.get_num_threads()} thread, "
    f"torch {torch.__version__}; GPU: "
    + (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
)
print(f"budget: {get_budget()}   device: {device}")
print(f"hardware: {HARDWARE}")
glue("hardware", HARDWARE, display=False)
glue(
    "gpu_phrase",
    (
        "No GPU was available when this page was built (see the hardware line "
        "at the top)."
        if not torch.cuda.is_available()
        else "This page was built on a machine with a GPU, but every timing "
        "above ran on the CPU."
    ),
    display=False,
)

# %% [markdown]
# ## Scans: running results of an associative operator
#
# Given a sequence $x_1, \dots, x_T$ and a binary operator $\oplus$, the (inclusive)
# **scan** is the sequence of running results
#
# $$y_t = x_1 \oplus x_2 \oplus \dots \oplus x_t, \qquad t = 1, \dots, T.$$
#
# With $\oplus = +$ this is the running sum (`torch.cumsum`), with $\max$ the running
# maximum, with matrix products the running product of matrices. The loop
# $y_t = y_{t-1} \oplus x_t$ computes it in $T - 1$ steps, each waiting for the previous one.
#
# The one property that lets us do better is **associativity**:
# $(x \oplus y) \oplus z = x \oplus (y \oplus z)$. It says that the brackets do not matter,
# so we may combine $x_1 \oplus x_2$ and $x_3 \oplus x_4$ *at the same time*, then combine
# the two results, and so on up a balanced tree. Commutativity is *not* needed: the order
# of the $x$'s is kept, only the grouping changes.
#
# ## The linear recurrence is a scan
#
# Read one step of $h_t = a_t h_{t-1} + b_t$ as the affine map "multiply by $a_t$, then
# add $b_t$", and write it as the pair $(a_t, b_t)$. Doing step $(a_1, b_1)$ and then
# step $(a_2, b_2)$ gives
#
# $$a_2 (a_1 h + b_1) + b_2 = (a_1 a_2)\, h + (a_2 b_1 + b_2),$$
#
# again a pair. So two steps compose into one:
#
# $$(a_1, b_1) \circ (a_2, b_2) = (a_1 a_2,\; a_2 b_1 + b_2).$$
#
# Composition of functions is associative, so $\circ$ is too. Its identity is $(1, 0)$,
# "multiply by one, add nothing". Starting from $h_0 = 0$, the $b$-part of the running
# composition $(a_1, b_1) \circ \dots \circ (a_t, b_t)$ is exactly $h_t$: the recurrence
# *is* a scan over pairs, elementwise in every feature. (Martin and Cundy
# {cite}`martin2018parallelizing` used this to train linear RNNs over long sequences on GPUs.)
#
# Let us check the algebra numerically, in float64, on random pairs of shape (batch,
# features). The operator is `rvt_lib.scan.combine`.

# %%
gen = torch.Generator().manual_seed(0)
x, y, z = [
    (
        torch.randn(8, 16, generator=gen, dtype=torch.float64),
        torch.randn(8, 16, generator=gen, dtype=torch.float64),
    )
    for _ in range(3)
]
left = combine(combine(x, y), z)  # (x o y) o z
right = combine(x, combine(y, z))  # x o (y o z)
swapped = combine(y, x)  # y o x: the other order
assoc_err = max((l - r).abs().max().item() for l, r in zip(left, right))
comm_gap = max(
    (l - r).abs().max().item() for l, r in zip(combine(x, y), swapped)
)
print(
    f"max |(x o y) o z - x o (y o z)| = {assoc_err:.1e}   (float64 rounding: "
    "associative)"
)
print(
    f"max |x o y - y o x|             = {comm_gap:.2f}      (not commutative: "
    "order matters)"
)

# the four scans of rvt_lib against the loop, on one random problem
# (B, T, D) in (0.05, 0.95)
a = torch.rand(4, 100, 16, generator=gen, dtype=torch.float64) * 0.9 + 0.05
# any sign
b = torch.randn(4, 100, 16, generator=gen, dtype=torch.float64)
ref = scan_sequential(a, b)
checks = {
    "Hillis-Steele": scan_hillis_steele(a, b),
    "Blelloch": scan_blelloch(a, b),
}
# log space needs b > 0
b_pos = b.abs() + 0.1
checks["log-space (b > 0)"] = scan_logspace(a, b_pos)
refs = {
    "Hillis-Steele": ref,
    "Blelloch": ref,
    "log-space (b > 0)": scan_sequential(a, b_pos),
}
for name, h in checks.items():
    print(
        f"{name:>18}: max |h - loop| = "
        f"{(h - refs[name]).abs().max().item():.1e}"
    )
glue("assoc_err", float(assoc_err), display=False)

# %% [markdown]
# The bracketing changes the result by rounding only ({glue:text}`assoc_err:.0e`), while
# swapping two steps changes it completely. Every parallel scan below agrees with the loop
# to float64 precision.
#
# ## Work and depth
#
# Two numbers describe a parallel algorithm:
#
# * **work**: the total number of operations (here: applications of $\circ$), which is
#   the time on *one* processor;
# * **depth** (or span): the length of the longest chain of operations that must happen
#   one after another, which is the time on *unboundedly many* processors.
#
# With $p$ processors no schedule can beat $\max(\text{work}/p,\ \text{depth})$: that is
# the *lower* bound. Brent's theorem gives the matching upper bound.
#
# :::{prf:theorem} Brent's scheduling bound
# :label: thm-brent
#
# A computation with work $W$ and depth $D$ runs on $p$ processors in time
# $T_p \le W/p + D$, by a greedy schedule {cite}`brent1974parallel`; no schedule does
# better than $\max(W/p,\ D)$.
# :::
#
# The two bounds are within a factor 2 of each other.
# The loop has work $T-1$ and depth $T-1$: extra processors do not help it at all.
#
# **Hillis–Steele** {cite}`hillis1986data`. In round $k = 0, 1, \dots$, every position $t$
# combines its current value with the one $2^k$ places to its left (if there is one). After
# round $k$, position $t$ holds the composition of the last $2^{k+1}$ steps up to $t$, so
# after $\lceil \log_2 T \rceil$ rounds it holds all of them. Depth $\lceil\log_2 T\rceil$,
# but every round touches almost every position: work about $T \log_2 T$.
#
# **Blelloch** {cite}`blelloch1990prefix`. An *up-sweep* combines neighbours in pairs,
# then pairs of pairs, up a binary tree to the total ($T - 1$ combines). A *down-sweep*
# walks back down, handing each node the composition of everything to its left (another
# $T - 1$ combines). This gives the *exclusive* scan, and one combine per position turns it
# into the inclusive one. Work about $2T$ to $3T$, the same order as the loop, with depth
# $2 \log_2 T$: *work-efficient*.
#
# **Log space** {cite}`heinsen2023parallel`. When all $a_t, b_t > 0$, the recurrence can be
# written with two scans that every library already has, `cumsum` and `logcumsumexp`
# (details below). Each is a scan of its own, so the work is $O(T)$ and the depth
# $O(\log T)$ *if* the library runs them in parallel. On a GPU it does; on a CPU, PyTorch runs
# them as loops along time, vectorised over the batch and feature dimensions.
#
# The table counts the combines exactly for a few lengths (padded to a power of two where
# the algorithm needs it).


# %%
def work_depth(T: int) -> dict:
    """Number of combines (work) and of dependent rounds (depth) of each scan,
    for length T.
    """
    L = math.ceil(math.log2(T)) if T > 1 else 0
    N = 2**L
    return {
        ("loop", "work"): T - 1,
        ("loop", "depth"): T - 1,
        ("Hillis-Steele", "work"): sum(T - 2**k for k in range(L)),
        ("Hillis-Steele", "depth"): L,
        ("Blelloch", "work"): 2 * (N - 1) + N,
        ("Blelloch", "depth"): 2 * L + 1,
    }


lengths = (8, 64, 512, 4096, 65536)
wd = pd.DataFrame(
    [work_depth(T) for T in lengths], index=pd.Index(lengths, name="T")
)
wd.columns = pd.MultiIndex.from_tuples(wd.columns)
wd

# %% [markdown]
# The loop and Blelloch do the same order of work, but Blelloch's depth grows like
# $\log T$. Hillis–Steele does more work than both (a factor $\log_2 T$ over the loop), in
# exchange for the simplest code and the smallest depth. Whether the extra work matters
# depends on whether there are idle processors to absorb it, which is exactly what differs
# between a GPU and the CPU this page was built on ({glue:text}`hardware`).
#
# The two dependency diagrams below draw every combine of each algorithm for $T = 8$: a
# line joins the two values that are combined, time (depth) flows downwards.


# %% tags=["hide-input"]
def draw_hillis_steele(ax, T=8):
    """Dependency diagram of the Hillis-Steele scan: round k combines t with t
    - 2**k.
    """
    rounds = math.ceil(math.log2(T))
    for k in range(rounds + 1):
        ax.scatter(
            range(T),
            [k] * T,
            s=140,
            color="white",
            edgecolors="#0072B2",
            zorder=3,
        )
    for k in range(rounds):
        d = 2**k
        for t in range(T):
            # value carried down
            ax.plot([t, t], [k, k + 1], color="#bbbbbb", lw=1, zorder=1)
            if t >= d:
                # a combine
                ax.plot(
                    [t - d, t], [k, k + 1], color="#0072B2", lw=1.6, zorder=2
                )
        ax.text(
            T - 0.3, k + 0.5, f"round {k}: shift {d}", va="center", fontsize=9
        )
    ax.set_title(
        f"Hillis-Steele: {rounds} rounds, "
        f"{sum(T - 2 ** k for k in range(rounds))} combines"
    )


def draw_blelloch(ax, T=8):
    """Dependency diagram of the Blelloch scan, from the steps recorded by
    blelloch_steps.
    """
    # skip the "start" snapshot
    steps = blelloch_steps(list(range(T)))[1:]
    n_rows = len(steps)
    for r in range(n_rows + 1):
        ax.scatter(
            range(T),
            [r] * T,
            s=140,
            color="white",
            edgecolors="#D55E00",
            zorder=3,
        )
    n_comb = 0
    for r, step in enumerate(steps):
        for t in range(T):
            ax.plot([t, t], [r, r + 1], color="#bbbbbb", lw=1, zorder=1)
        for i, j in step["pairs"]:
            n_comb += 1
            # left value -> j
            ax.plot([i, j], [r, r + 1], color="#D55E00", lw=1.6, zorder=2)
            if step["phase"] == "down":
                # j's prefix -> i
                ax.plot(
                    [j, i],
                    [r, r + 1],
                    color="#D55E00",
                    lw=1.6,
                    ls=":",
                    zorder=2,
                )
        label = ("up-sweep" if step["phase"] == "up" else "down-sweep") + (
            f", distance {2 ** step['level']}"
            if step["pairs"]
            else ": root <- identity"
        )
        ax.text(T - 0.3, r + 0.5, label, va="center", fontsize=9)
    ax.set_title(
        f"Blelloch: {n_rows} levels, {n_comb} combines (+ {T} to make it "
        "inclusive)"
    )


fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
draw_hillis_steele(axes[0])
draw_blelloch(axes[1])
for ax in axes:
    ax.invert_yaxis()
    ax.set_xlabel("position in the sequence")
    ax.set_ylabel("dependent round (depth)")
    ax.set_xlim(-0.5, 10.5)
    ax.set_xticks(range(8))
    ax.set_yticks(range(int(ax.get_ylim()[0]) + 1))
    ax.grid(False)
fig.suptitle("Who combines with whom, T = 8 (dotted: the down-sweep's swap)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Stepping through the Blelloch scan
#
# The classic way to run Blelloch's scan is *in place* on an array, shown here for sums
# (any associative operator works the same way; for our recurrence each number would be a
# pair $(a, b)$ and $+$ would be $\circ$). `rvt_lib.scan.blelloch_steps` records the array
# after every level. Move the slider: the highlighted cells are the pairs $(i, j)$ touched
# in that step. In the up-sweep, $x_j \mathrel{+}= x_i$. After the root is set to the
# identity $0$, the down-sweep does, for every pair at once, "$x_i \leftarrow x_j$,
# $x_j \leftarrow x_j + \text{old } x_i$": the left child receives its parent's prefix,
# the right child the parent's prefix plus the left child's total.

# %%
values = [3, 1, 7, 0, 4, 1, 6, 3]
steps = blelloch_steps(values)


def draw_step(ax, step, show_note=True):
    """Draw one snapshot of blelloch_steps as a row of cells, with the touched
    pairs.
    """
    arr, N = step["array"], len(step["array"])
    touched = {i for pair in step["pairs"] for i in pair}
    for i, v in enumerate(arr):
        color = "#F5C894" if i in touched else "white"
        ax.add_patch(
            plt.Rectangle(
                (i, 0), 0.95, 0.95, facecolor=color, edgecolor="black"
            )
        )
        ax.text(i + 0.475, 0.45, str(v), ha="center", va="center", fontsize=13)
    for i, j in step["pairs"]:
        # same arc height for any distance
        ax.annotate(
            "",
            xy=(j + 0.475, 1.0),
            xytext=(i + 0.475, 1.0),
            arrowprops=dict(
                arrowstyle="->",
                color="#D55E00",
                connectionstyle=f"arc3,rad={-0.6 / (j - i):.3f}",
            ),
        )
    ax.set_xlim(-0.1, N)
    ax.set_ylim(-0.1, 1.5)
    ax.axis("off")
    if show_note:
        d = step["level"]
        if step["phase"] == "start":
            note = f"start: the input, padded with zeros to length {N}"
        elif step["phase"] == "up":
            note = (
                f"up-sweep, distance {2 ** d}: x[j] += x[j - {2 ** d}] for "
                "the highlighted pairs"
            )
        elif not step["pairs"]:
            note = (
                "down-sweep starts: the root (last cell) gets the identity 0"
            )
        else:
            note = (
                f"down-sweep, distance {2 ** d}: x[i] <- x[j] and x[j] <- "
                "x[j] + old x[i] "
                f"for the highlighted pairs (i, j)"
            )
        ax.set_title(note, fontsize=10, loc="left")


try:
    import ipywidgets as widgets

    def show(step_index=0):
        fig, ax = plt.subplots(figsize=(8, 1.6))
        draw_step(ax, steps[step_index])
        plt.show()

    interact(
        show,
        step_index=widgets.IntSlider(
            min=0, max=len(steps) - 1, value=0, description="step"
        ),
    )
except ImportError:
    print("ipywidgets is not installed: see the static figure below")

# %% [markdown]
# The same steps, all at once (the figure the slider steps through):

# %%
fig, axes = plt.subplots(len(steps), 1, figsize=(8, 1.25 * len(steps)))
for ax, step in zip(axes, steps):
    draw_step(ax, step)
fig.suptitle(
    "Blelloch exclusive scan of " + str(values) + ", step by step", y=1.0
)
fig.tight_layout()
plt.show()
exclusive = steps[-1]["array"][: len(values)]
print(
    "result:",
    exclusive,
    "  check (running sum before each position):",
    [int(v) for v in np.concatenate([[0], np.cumsum(values)[:-1]])],
)

# %% [markdown]
# ## The log-space scan, and why it needs chunks
#
# Heinsen {cite}`heinsen2023parallel` noticed that for positive coefficients the
# recurrence unrolls into two library scans. This is the one derivation of it in the
# book (the minGRU chapter uses it). Take $h_t = a_t h_{t-1} + b_t$ for $t = 1, \dots, T$
# with $h_0 \ge 0$ and all $a_t, b_t > 0$, and write $a^*_t = \sum_{s \le t} \log a_s$, so
# that $\prod_{s \le t} a_s = e^{a^*_t}$. Dividing the recurrence by $e^{a^*_t}$ gives
# $h_t e^{-a^*_t} = h_{t-1} e^{-a^*_{t-1}} + b_t e^{-a^*_t}$, a plain running sum, so
#
# $$h_t = e^{a^*_t}\Big(h_0 + \sum_{s \le t} b_s e^{-a^*_s}\Big), \qquad
# \log h_t = a^*_t + \log\Big(h_0 + \sum_{s \le t} e^{\log b_s - a^*_s}\Big),$$
#
# that is, `cumsum` for $a^*$ and `logcumsumexp` for the sum. Working with logs keeps the
# tiny products $\prod a_s$ representable, and minGRU's gates produce $\log a$ and
# $\log b$ directly from their pre-activations (see the minGRU chapter). Every state is
# then positive (with $h_0 = 0$, $h_1 = b_1 > 0$, and so on), which is what makes
# $\log h_t$ exist; a negative $h_0$ is added afterwards by linearity,
# $e^{a^*_t} h_0$, and a negative $a_t$ has no real logarithm at all.
#
# There is a price. $|a^*_t|$ grows *linearly* with $t$: with gates around $a \approx 0.5$ it
# falls by about $0.8$ per step, and both $a^*_t$ and the `logcumsumexp` term become huge
# numbers of opposite sign whose sum, $\log h_t$, is modest. A float32 number of size $M$
# is only known to about $M \cdot 6\times 10^{-8}$, and that absolute error in $\log h_t$
# becomes a *relative* error in $h_t$. So the relative error grows linearly with $T$.
# The fix is to scan in **chunks**: restart the sums every `chunk_size` steps and pass the
# last state of each chunk into the next one (by linearity, as $h_0$ above). Then $|a^*|$
# never exceeds the scale of one chunk, at the cost of $T/\text{chunk}$ sequential chunks.
#
# We measure it with `rvt_lib.scan.logspace_error`: minGRU-like random coefficients, the
# float32 log-space scan against a float64 loop on the same inputs, maximum relative error
# over all positions and features.

# %%
err_lengths = pick(
    smoke=[16, 256, 1024],
    book=[2**k for k in range(4, 17, 2)],
    dry=[16, 256, 1024],
)
err_seeds = pick(smoke=[0], book=[0, 1], dry=[0])
chunkings = {"single pass": None, "chunks of 1024": 1024, "chunks of 256": 256}
rows = []
for T in err_lengths:
    for label, chunk in chunkings.items():
        errs = [logspace_error(T, chunk_size=chunk, seed=s) for s in err_seeds]
        rows.append({"T": T, "scan": label, "max relative error": max(errs)})
err_df = pd.DataFrame(rows)
err_table = err_df.pivot(
    index="T", columns="scan", values="max relative error"
)[list(chunkings)]
print(err_table.map(lambda v: f"{v:.1e}").to_string())

fig, ax = plt.subplots(figsize=(6.4, 4.2))
err_slope = fit_power_law(
    err_table.index.values, err_table["single pass"].values
).exponent
for label, color in zip(chunkings, plots.PALETTE):
    text = (
        f"{label} (fitted slope {err_slope:.2f})"
        if label == "single pass"
        else label
    )
    ax.loglog(
        err_table.index, err_table[label], marker="o", color=color, label=text
    )
ax.set_xlabel("sequence length T (steps)")
ax.set_ylabel("max relative error of h (float32)")
ax.set_title(f"Log-space scan in float32 (budget: {get_budget()})")
ax.legend()
ax.axhline(np.finfo(np.float32).eps, color="grey", lw=1, ls=":")
ax.text(
    err_table.index.values[0],
    np.finfo(np.float32).eps * 1.3,
    "float32 machine epsilon",
    fontsize=9,
    color="grey",
)
plt.show()

T_max = int(err_table.index.max())
glue("err_Tmax", T_max, display=False)
glue("err_single", float(err_table.loc[T_max, "single pass"]), display=False)
glue("err_chunk", float(err_table.loc[T_max, "chunks of 256"]), display=False)
glue("err_slope", float(err_slope), display=False)
glue(
    "err_ratio",
    float(
        err_table.loc[T_max, "single pass"]
        / err_table.loc[T_max, "chunks of 256"]
    ),
    display=False,
)

# %% [markdown]
# In a single pass, the error grows with $T$ (fitted log-log slope
# {glue:text}`err_slope:.2f`; the argument above predicts 1) and reaches
# {glue:text}`err_single:.1e` at $T$ = {glue:text}`err_Tmax`. With chunks of 256 steps it
# stops growing once $T$ exceeds the chunk: {glue:text}`err_chunk:.1e` at the same length,
# {glue:text}`err_ratio:.0f` times smaller. Chunking costs depth ($T/256$ chunks run one
# after another) but each chunk is still fully parallel inside, and for training lengths of
# a few thousand that is a handful of chunks. This is why `MinGRU(mode="parallel")`
# uses `chunk_size=256` by default.
#
# One more limit is structural, not numerical: logs need $a_t > 0$ and $b_t > 0$. minGRU's
# gates are sigmoids and its candidate state is made positive on purpose, so it fits. A
# recurrence whose $a_t$ can be *negative* cannot use this scan as is (the pair scans of
# Hillis–Steele and Blelloch handle any sign). The next chapter shows that this is not a
# detail: a recurrence whose $a_t$ stays in $(0, 1)$ cannot even compute the parity of a
# bit string.
#
# ## Time against sequence length, on this CPU
#
# Now the clock. We time each scan, forward only and forward + backward (what training
# pays), on inputs of shape (batch, T, features), for growing $T$. Each number is the
# *best* of several runs of `rvt_lib.measure.time_fn`, after a warm-up run: the minimum
# filters out the moments when another process had the CPU, which only ever add time.
# We time on **one thread**. With two threads on a two-core machine that other programs
# are also using, an operation split in two must wait for whichever half was pushed off
# its core, and the timings become erratic (try it: {ref}`exercise 5 <parallel_scan-ex-5>`). One thread is also the
# cleanest version of this section's question: what is a parallel algorithm worth with
# (almost) no parallel hardware? On log-log axes, a slope of 1 means time proportional to
# $T$.


# %%
def best_ms(fn, repeats):
    """Best of `repeats` timings (ms) of fn(), after one untimed warm-up."""
    fn()
    return min(time_fn(fn, repeats=1, warmup=0) for _ in range(repeats))


B_time, D_time = 4, 64
time_lengths = pick(
    smoke=[16, 64], book=[2**k for k in range(6, 15)], dry=[16, 64]
)
repeats = pick(smoke=1, book=5, dry=1)
scans = {
    "sequential loop": scan_sequential,
    "Hillis-Steele": scan_hillis_steele,
    "Blelloch": scan_blelloch,
    "log-space (chunks of 256)": scan_logspace,
}


def fwd(fn, a, b):
    return lambda: fn(a, b)


def fwd_bwd(fn, a, b):
    a, b = a.clone().requires_grad_(True), b.clone().requires_grad_(True)

    def run():
        a.grad = b.grad = None
        fn(a, b).sum().backward()

    return run


rows = []
for T in time_lengths:
    g = torch.Generator().manual_seed(T)
    # (B, T, D) in (0.05, 0.95)
    a = torch.rand(B_time, T, D_time, generator=g) * 0.9 + 0.05
    # (B, T, D) positive
    b = torch.rand(B_time, T, D_time, generator=g) + 0.05
    for name, fn in scans.items():
        rows.append(
            {
                "T": T,
                "scan": name,
                "forward (ms)": best_ms(fwd(fn, a, b), repeats),
                "forward + backward (ms)": best_ms(fwd_bwd(fn, a, b), repeats),
            }
        )
time_df = pd.DataFrame(rows)

fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
scan_slopes = {}
for ax, col in zip(axes, ["forward (ms)", "forward + backward (ms)"]):
    wide = time_df.pivot(index="T", columns="scan", values=col)[list(scans)]
    _, scan_slopes[col] = plots.plot_loglog(
        wide.index.values,
        {k: wide[k].values for k in scans},
        ax=ax,
        xlabel="sequence length T (steps)",
        ylabel=f"time, {col}",
        title=f"{col.split(' (')[0]}, B={B_time}, D={D_time}",
    )
fig.suptitle(
    f"Scans on {cpu_name()} ({torch.get_num_threads()} thread, budget: "
    f"{get_budget()})"
)
fig.tight_layout()
plt.show()

T_big = max(time_lengths)
at_big = time_df[time_df["T"] == T_big].set_index("scan").drop(columns="T")
print(f"at T = {T_big}:")
print(at_big.map(lambda v: f"{v:.2f}").to_string())

# %% tags=["hide-input"]
fb = "forward + backward (ms)"
fastest = at_big[fb].idxmin()
seq_over_log = (
    at_big.loc["sequential loop", fb]
    / at_big.loc["log-space (chunks of 256)", fb]
)
hs_vs_bl = at_big.loc["Hillis-Steele", fb] / at_big.loc["Blelloch", fb]
glue("T_big", T_big, display=False)
glue("fastest_scan", fastest, display=False)
glue("seq_over_log", float(seq_over_log), display=False)
glue("hs_vs_bl", float(hs_vs_bl), display=False)
glue("hs_vs_bl_word", "slower" if hs_vs_bl > 1 else "faster", display=False)
glue(
    "slope_seq",
    float(scan_slopes[fb].get("sequential loop", float("nan"))),
    display=False,
)
glue(
    "slope_hs",
    float(scan_slopes[fb].get("Hillis-Steele", float("nan"))),
    display=False,
)
glue(
    "slope_bl",
    float(scan_slopes[fb].get("Blelloch", float("nan"))),
    display=False,
)
glue(
    "slope_log",
    float(scan_slopes[fb].get("log-space (chunks of 256)", float("nan"))),
    display=False,
)

# %% [markdown]
# What the measurement says, for forward + backward at $T$ = {glue:text}`T_big` on this
# machine: the fastest scan is **{glue:text}`fastest_scan`**, and the Python loop takes
# {glue:text}`seq_over_log:.1f` times as long as the log-space scan. Hillis–Steele is
# {glue:text}`hs_vs_bl_word` than Blelloch here (ratio {glue:text}`hs_vs_bl:.2f`). The fitted
# slopes are {glue:text}`slope_seq:.2f` (loop), {glue:text}`slope_hs:.2f` (Hillis–Steele),
# {glue:text}`slope_bl:.2f` (Blelloch) and {glue:text}`slope_log:.2f` (log space).
#
# How to read this on one CPU thread:
#
# * **Every method costs time proportional to $T$ (or $T \log T$) here.** A depth of
#   $\log T$ only turns into time $\log T$ when there are about $T$ processors; one thread
#   (or a couple of cores) is nowhere near that, so the *work* sets the time, and for short
#   sequences the fixed costs set it (slopes below 1 on the left of the plot).
# * **The loop pays Python, not arithmetic.** Each of its $T$ steps is a few tiny tensor
#   operations, and each operation costs microseconds of interpreter and dispatch overhead
#   (plus, for the backward pass, one autograd node per step). The parallel scans issue
#   $O(\log T)$ large operations instead, so their overhead is paid $\log T$ times, not
#   $T$ times.
# * **Hillis–Steele pays for its extra work.** Each of its $\log_2 T$ rounds reads and
#   writes the whole $(B, T, D)$ array, so its work grows like $T \log T$: compare its
#   slope with Blelloch's.
# * **The log-space scan leans on library kernels, and pays for transcendentals.**
#   `cumsum` and `logcumsumexp` are single calls into compiled code that loops over time
#   in C++, so it does the loop's work without the loop's Python overhead. But every
#   element also costs exponentials and logarithms, which the pair scans never compute;
#   on a CPU that can be enough for Blelloch's multiply-adds to beat it.
#
# ## minGRU and minLSTM: parallel mode against their sequential mode and the classic RNNs
#
# Feng et al. {cite}`feng2024minrnn` report that, per training step on a T4 GPU (batch 64),
# minGRU is **175×** faster than a GRU at $T = 512$ and **1324×** faster at $T = 4096$
# (and minLSTM 235× and 1361× faster than an LSTM); those are *their* numbers, on *their*
# hardware. Here is the same comparison on the machine that built this page: one training
# step (forward + backward) of a one-layer core, batch 16, width 64, for
#
# * minGRU / minLSTM in parallel mode (the chunked log-space scan) and in sequential mode
#   (the same weights, a Python loop over time), and minGRU's parallel mode once more with
#   the real-space Blelloch scan in place of the log-space one (`scan="blelloch"`),
# * `rvt_lib`'s GRU and LSTM (a Python loop over time, as written in Part I),
# * and, as a reference for what compiled loops do, `torch.nn.GRU` / `torch.nn.LSTM`,
#   whose loop over time runs in C++.

# %%
from rvt_lib.models.gru import GRU, GRUConfig
from rvt_lib.models.lstm import LSTM, LSTMConfig
from rvt_lib.models.mingru import MinGRU, MinGRUConfig, MinLSTM, MinLSTMConfig

B_m, H_m = 16, 64
model_lengths = pick(
    smoke=[16, 64], book=[64, 256, 512, 1024, 4096], dry=[16, 64]
)
model_repeats = pick(smoke=1, book=3, dry=1)
set_seed(0)
cores = {
    "minGRU (parallel)": MinGRU(MinGRUConfig(H_m, H_m, mode="parallel")),
    "minGRU (sequential)": MinGRU(MinGRUConfig(H_m, H_m, mode="sequential")),
    "minGRU (Blelloch)": MinGRU(
        MinGRUConfig(H_m, H_m, mode="parallel", scan="blelloch")
    ),
    "GRU (rvt_lib)": GRU(GRUConfig(H_m, H_m)),
    "GRU (torch.nn)": torch.nn.GRU(H_m, H_m, batch_first=True),
    "minLSTM (parallel)": MinLSTM(MinLSTMConfig(H_m, H_m, mode="parallel")),
    "minLSTM (sequential)": MinLSTM(
        MinLSTMConfig(H_m, H_m, mode="sequential")
    ),
    "LSTM (rvt_lib)": LSTM(LSTMConfig(H_m, H_m)),
    "LSTM (torch.nn)": torch.nn.LSTM(H_m, H_m, batch_first=True),
}


def train_step(core, x):
    def run():
        core.zero_grad(set_to_none=True)
        y, _ = core(x)  # (B, T, H)
        y.square().mean().backward()

    return run


rows = []
for T in model_lengths:
    # (B, T, H)
    x = torch.randn(B_m, T, H_m, generator=torch.Generator().manual_seed(T))
    for name, core in cores.items():
        rows.append(
            {
                "T": T,
                "model": name,
                "ms per step": best_ms(train_step(core, x), model_repeats),
            }
        )
model_df = pd.DataFrame(rows).pivot(
    index="T", columns="model", values="ms per step"
)[list(cores)]

speed = pd.DataFrame(
    {
        "minGRU: parallel vs sequential": model_df["minGRU (sequential)"]
        / model_df["minGRU (parallel)"],
        "minGRU: Blelloch vs sequential": model_df["minGRU (sequential)"]
        / model_df["minGRU (Blelloch)"],
        "minGRU vs GRU (rvt_lib)": model_df["GRU (rvt_lib)"]
        / model_df["minGRU (parallel)"],
        "minGRU vs GRU (torch.nn)": model_df["GRU (torch.nn)"]
        / model_df["minGRU (parallel)"],
        "minLSTM: parallel vs sequential": model_df["minLSTM (sequential)"]
        / model_df["minLSTM (parallel)"],
        "minLSTM vs LSTM (rvt_lib)": model_df["LSTM (rvt_lib)"]
        / model_df["minLSTM (parallel)"],
        "minLSTM vs LSTM (torch.nn)": model_df["LSTM (torch.nn)"]
        / model_df["minLSTM (parallel)"],
    }
)
paper = pd.Series(
    {512: "175x (GRU), 235x (LSTM)", 4096: "1324x (GRU), 1361x (LSTM)"}
)
speed["Feng et al. 2024, T4 GPU"] = [paper.get(T, "") for T in speed.index]
print("time per training step (ms):")
print(model_df.map(lambda v: f"{v:.2f}").to_string())
print("\nspeed-up (how many times faster the parallel minRNN is):")
print(
    speed.map(lambda v: f"{v:.1f}x" if isinstance(v, float) else v).to_string()
)

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.5))
for name in cores:
    # mingru, gru, minlstm, lstm
    kind = name.split(" ")[0].lower()
    style = {
        "(parallel)": "-",
        "(sequential)": "--",
        "(Blelloch)": "-.",
        "(rvt_lib)": "-",
        "(torch.nn)": ":",
    }[name.split(" ")[1]]
    marker = "o" if "min" in kind else "s"
    ax.loglog(
        model_df.index,
        model_df[name],
        ls=style,
        marker=marker,
        ms=4,
        color=plots.MODEL_COLORS[kind],
        label=name,
    )
ax.set_xticks(model_lengths)
ax.set_xticklabels([str(T) for T in model_lengths])
ax.minorticks_off()
ax.set_xlabel("sequence length T (steps)")
ax.set_ylabel("time per training step (ms)")
ax.set_title(
    f"One layer, B={B_m}, H={H_m}, forward + backward (budget: {get_budget()})"
)
ax.legend(fontsize=8, ncol=2)
plt.show()

T_top = max(model_lengths)
glue("T_top", T_top, display=False)


def times(ratio: float) -> str:
    """'12.3× faster' or '1.5× slower', for a speed-up ratio (other time /
    parallel time).
    """
    return f"{ratio:.1f}× faster" if ratio >= 1 else f"{1 / ratio:.1f}× slower"


glue(
    "gru_speedup",
    float(speed.loc[T_top, "minGRU vs GRU (rvt_lib)"]),
    display=False,
)
glue(
    "gru_times",
    times(speed.loc[T_top, "minGRU vs GRU (rvt_lib)"]),
    display=False,
)
glue(
    "lstm_times",
    times(speed.loc[T_top, "minLSTM vs LSTM (rvt_lib)"]),
    display=False,
)
glue(
    "par_seq_times",
    times(speed.loc[T_top, "minGRU: parallel vs sequential"]),
    display=False,
)
glue(
    "blelloch_seq_times",
    times(speed.loc[T_top, "minGRU: Blelloch vs sequential"]),
    display=False,
)
glue(
    "torch_times",
    times(speed.loc[T_top, "minGRU vs GRU (torch.nn)"]),
    display=False,
)
T_512 = 512 if 512 in speed.index else T_top
glue("T_512", T_512, display=False)
glue(
    "gru_speedup_512",
    float(speed.loc[T_512, "minGRU vs GRU (rvt_lib)"]),
    display=False,
)
s512 = speed.loc[T_512, "minGRU vs GRU (rvt_lib)"]
glue(
    "vs_paper_phrase",
    (
        "far smaller"
        if s512 < 175 / 3
        else ("smaller" if s512 < 175 else "as large or larger")
    ),
    display=False,
)
s_min = speed["minGRU vs GRU (rvt_lib)"].iloc[0]
glue("gru_speedup_min", float(s_min), display=False)
glue(
    "growth_phrase",
    (
        "grows as well"
        if speed.loc[T_top, "minGRU vs GRU (rvt_lib)"] > 1.2 * s_min
        else "does not grow much"
    ),
    display=False,
)

# %% [markdown]
# Where does the parallel minGRU's time go? Its log-space scan is built from a few
# primitives, each a full pass over a $(B, T, H)$ tensor. Here is what one pass of each
# costs on this CPU, at the longest length:

# %%
# (B, T, H)
xp = torch.randn(B_m, T_top, H_m, generator=torch.Generator().manual_seed(0))
primitives = {
    "multiply, x * x": lambda: xp * xp,
    "exp(x)": lambda: torch.exp(xp),
    "cumsum along time": lambda: torch.cumsum(xp, dim=1),
    "logcumsumexp along time": lambda: torch.logcumsumexp(xp, dim=1),
}
prim_ms = pd.Series(
    {name: best_ms(fn, model_repeats) for name, fn in primitives.items()}
)
prim = pd.DataFrame(
    {
        "ms per pass": prim_ms.round(3),
        "in multiplies": (prim_ms / prim_ms["multiply, x * x"]).round(1),
    }
)
print(f"one pass over a tensor of shape (B, T, H) = {tuple(xp.shape)}:")
print(prim.to_string())
glue(
    "lcse_mults",
    float(prim_ms["logcumsumexp along time"] / prim_ms["multiply, x * x"]),
    display=False,
)
glue(
    "lcse_cumsums",
    float(prim_ms["logcumsumexp along time"] / prim_ms["cumsum along time"]),
    display=False,
)

# The part that no scan can remove: both modes compute the input projection
# (one Linear layer for the gate and the candidate) and its gradients. Timing
# it alone gives the largest speed-up that any parallel mode could reach on
# this machine (Amdahl's law).
proj = cores["minGRU (parallel)"].layers[0].linear
# (B, T, H)
x_top = torch.randn(
    B_m, T_top, H_m, generator=torch.Generator().manual_seed(T_top)
)


def projection_step():
    proj.zero_grad(set_to_none=True)
    proj(x_top).sum().backward()


proj_ms = best_ms(projection_step, model_repeats)
bound = model_df.loc[T_top, "minGRU (sequential)"] / proj_ms
print(
    f"\nT = {T_top}: input projection alone, forward + backward: "
    f"{proj_ms:.2f} ms; "
    f"sequential minGRU: {model_df.loc[T_top, 'minGRU (sequential)']:.2f} ms; "
    f"largest possible speed-up: {bound:.1f}x"
)
glue("amdahl_bound", float(bound), display=False)

# %% [markdown]
# One `logcumsumexp` pass costs as much as {glue:text}`lcse_mults:.0f` elementwise
# multiplies, or {glue:text}`lcse_cumsums:.0f` `cumsum` passes: it computes an exponential
# and a logarithm for every element, and its CPU kernel walks along time one step after
# another. The parallel minGRU makes such passes in every layer (and its gates need
# `softplus`, `log` and `exp` on every element too), while the sequential loop only
# multiplies and adds. On a GPU those transcendental functions are cheap and the pass is
# spread over thousands of threads; on one CPU thread they are a large part of the bill.
# That is why the same parallel mode with the real-space Blelloch scan, which only
# multiplies and adds, is {glue:text}`blelloch_seq_times` than the sequential mode at
# $T$ = {glue:text}`T_top` (in float32 it is also the more accurate of the two: all its
# $a_t$ lie in $(0, 1)$, so products only shrink). The log-space scan remains the library's
# default because it is the paper's formulation and the one that pays off on a GPU.
#
# And there is a ceiling. Even a scan that cost nothing would leave the input projection,
# which both modes compute: timed alone, it caps the speed-up of *any* parallel mode on
# this machine at {glue:text}`amdahl_bound:.0f`× over the sequential loop. A CPU target
# of 50× or 1000× is out of reach here whatever the scan; the large ratios need hardware
# on which the loop, not the arithmetic, is the bottleneck.
#
# At $T$ = {glue:text}`T_top` on this CPU, a minGRU training step is
# {glue:text}`gru_times` than `rvt_lib`'s GRU (ratio {glue:text}`gru_speedup_512:.1f` at
# $T$ = {glue:text}`T_512`), a minLSTM step is {glue:text}`lstm_times` than the LSTM's, and
# minGRU's parallel mode is {glue:text}`par_seq_times` than its own sequential mode. Against
# the compiled `torch.nn.GRU`, minGRU is {glue:text}`torch_times`. Compared with the
# paper's 175× at $T = 512$, our speed-up over the GRU at $T$ = {glue:text}`T_512` is
# {glue:text}`vs_paper_phrase`.
# Three reasons why a small CPU shows less than a GPU, all about hardware, none about
# the idea:
#
# 1. **Few parallel units.** A GPU runs thousands of threads; the scan's $\log T$ depth
#    lets it use them all. One CPU thread (or two cores) can do only a few things at once,
#    so the parallel scan still does its $O(T)$ work at roughly the speed of a loop; what
#    it saves is the loop's overhead, not its arithmetic.
# 2. **What a step costs.** On a GPU each sequential step is a kernel launch (several
#    microseconds) on a device that could have done far more work in that time, so a
#    sequential GRU leaves the GPU almost idle and the gap to a parallel model is enormous.
#    On the CPU, the sequential models pay Python's per-operation overhead (also
#    microseconds), but the parallel model's arithmetic is not much faster than the
#    loop's, so the ratio is smaller.
# 3. **Memory traffic and transcendentals.** The parallel scan materialises $(B, T, H)$
#    tensors for the gates, their logs and the cumulative sums, reads and writes them
#    several times, and computes exponentials and logarithms on all of them (the timings
#    above). A GPU has the memory bandwidth (hundreds of GB/s) and the arithmetic units for
#    that; a CPU core has a few tens of GB/s and a handful of vector lanes.
#
# In the paper the speed-up grows with $T$; here, from the shortest to the longest
# sequence, it {glue:text}`growth_phrase` (from {glue:text}`gru_speedup_min:.1f`× to
# {glue:text}`gru_speedup:.1f`× over the GRU). The loop's cost grows with the number of
# steps, the parallel model's with the amount of data; which one dominates depends on
# the machine.
#
# **On a GPU.** {glue:text}`gpu_phrase` The repository's benchmark command, `python -m benchmarks.speed`, times the
# same comparisons on every available device and prints a separate table for the GPU when
# it runs on one; run it in Colab with a GPU runtime to compare with the paper.
#
# ## Exercises
#
# :::{exercise}
# :label: parallel_scan-ex-1
#
# Prove algebraically that $\circ$ is associative: expand $((a_1,b_1)\circ(a_2,b_2))
# \circ(a_3,b_3)$ and $(a_1,b_1)\circ((a_2,b_2)\circ(a_3,b_3))$.
# :::
#
# :::{exercise}
# :label: parallel_scan-ex-2
#
# The scans pad $T$ up to a power of two with the pair $(1, 0)$. Why does this not change
# $h_1, \dots, h_T$?
# :::
#
# :::{exercise}
# :label: parallel_scan-ex-3
#
# A *matrix* recurrence $h_t = A_t h_{t-1} + b_t$ with $A_t \in \R^{d\times d}$ is also a
# scan. What is the operator, and what does one combine cost compared with one step of
# the loop? What does that do to the work of a parallel scan?
# :::
#
# :::{exercise}
# :label: parallel_scan-ex-4
#
# With minGRU-like gates the relative error of the single-pass log-space scan was
# roughly $\varepsilon \cdot 0.8\, T$ ($\varepsilon \approx 6\times 10^{-8}$). Which
# chunk size keeps the error below $10^{-5}$, and how many sequential chunks does that
# leave at $T = 65{,}536$?
# :::
#
# :::{exercise}
# :label: parallel_scan-ex-5
#
# Rerun the timing cells with `torch.set_num_threads(2)` (or your machine's core count).
# Which curves move, and why? Run it once on an idle machine and once while another
# program keeps the cores busy.
# :::
#
# :::{solution} parallel_scan-ex-1
# :class: dropdown
#
# Left: $(a_1 a_2, a_2 b_1 + b_2) \circ (a_3, b_3) = (a_1 a_2 a_3,\ a_3 a_2 b_1 + a_3 b_2 + b_3)$.
# Right: $(a_1, b_1) \circ (a_2 a_3, a_3 b_2 + b_3) = (a_1 a_2 a_3,\ a_2 a_3 b_1 + a_3 b_2 + b_3)$.
# They are equal (the $a$'s are numbers, or elementwise vectors, so they commute with each
# other; the *pairs* do not commute). More simply: $\circ$ is composition of the affine
# maps $h \mapsto a h + b$, and composition of functions is always associative.
# :::
#
# :::{solution} parallel_scan-ex-2
# :class: dropdown
#
# $(1, 0)$ is the identity: $(a, b) \circ (1, 0) = (a, b)$ and $(1, 0) \circ (a, b) = (a, b)$.
# The padding goes *after* position $T$, so the prefixes up to $T$ contain no padding at
# all, and the padded positions (which are dropped) just repeat $h_T$.
# :::
#
# :::{solution} parallel_scan-ex-3
# :class: dropdown
#
# $(A_1, b_1) \circ (A_2, b_2) = (A_2 A_1,\ A_2 b_1 + b_2)$. A step of the loop is a
# matrix-vector product, $O(d^2)$; a combine is a matrix-matrix product, $O(d^3)$. So a
# parallel scan does $d$ times more arithmetic per element than the loop. This is why
# parallel RNNs use *diagonal* (elementwise) transitions, as minGRU does, where a combine
# costs the same as a step.
# :::
#
# :::{solution} parallel_scan-ex-4
# :class: dropdown
#
# The error is about $\varepsilon \cdot 0.8 \cdot \text{chunk}$, so
# $\text{chunk} \lesssim 10^{-5} / (0.8 \cdot 6\times10^{-8}) \approx 200$: a chunk of
# 128 or 256 (the measured error with 256 was shown above; compare). At $T = 65{,}536$
# that is 512 or 256 sequential chunks, each fully parallel inside. Gates that forget
# faster (larger $-\log a$) need smaller chunks.
# :::
#
# :::{solution} parallel_scan-ex-5
# :class: dropdown
#
# On an idle machine, expect the sequential loop to hardly move: it is bound by Python
# overhead per step, and its tensors are too small to be split across threads anyway.
# The parallel scans and the `logcumsumexp`-heavy minGRU step can speed up at large $T$,
# where their big elementwise operations are shared by the cores: the gap to the loop
# widens a little, as the work/depth argument predicts (more processors only help the
# algorithms with work to share). On a busy machine, extra threads can *hurt*: a thread
# that waits for a partner pushed off its core wastes its time slice, and the parallel
# scans, which are the ones that use threads, suffer most.
# :::
#
# :::{admonition} Key takeaways
# :class: tip
# * A linear recurrence $h_t = a_t h_{t-1} + b_t$ is a scan over pairs with the
#   associative operator $(a_1, b_1)\circ(a_2, b_2) = (a_1 a_2, a_2 b_1 + b_2)$, so it can
#   be computed in $O(\log T)$ depth.
# * Hillis–Steele: depth $\log_2 T$, work $T\log_2 T$. Blelloch: depth $2\log_2 T$, work
#   $O(T)$. The loop: depth and work $T$.
# * The log-space scan uses two library scans and needs positive coefficients. In float32
#   its relative error grows linearly with $T$ in one pass; chunking keeps it at the
#   scale of one chunk.
# * Depth only becomes speed when there are enough parallel units. On this page's CPU the
#   gains of the parallel minGRU are modest (see the measured table), and its
#   `logcumsumexp` is a large part of its cost; the paper's speed-ups {cite}`feng2024minrnn`
#   (175× for minGRU over GRU and 235× for minLSTM over LSTM at length 512, more at
#   longer lengths) belong to a GPU.
# * Everything here relies on the transition being *linear in $h$*, *diagonal* (pairs
#   of numbers per channel) and, for the log-space scan, *positive*. A scan works over
#   any associative operation, matrices included; the next chapter asks what the
#   diagonal, positive restriction costs in expressive power.
# :::
