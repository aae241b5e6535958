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
#     minutes: 1.6
# ---

# %% [markdown]
# (depth-chapter)=
# # Depth against length
#
# The previous chapter sorted models by what *one* layer can track. The circuit argument
# behind that map is really about depth: a model of fixed depth that runs in parallel is a
# circuit of fixed depth, and the question is whether that depth must grow with the length
# $T$ of the input. This chapter states what the theory predicts for the fewest layers
# that track a group, as $T$ grows, and then measures it for a GPT, a diagonal linear
# recurrence and an LSTM, on a solvable group ($S_3$) and a non-solvable one ($A_5$).

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
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from rvt_lib import plots
from rvt_lib.batched import fit_members
from rvt_lib.book import glue, which_of
from rvt_lib.budget import get_budget, pick, using_budget
from rvt_lib.experiments.automata import (
    DEPTH_MODELS,
    DEPTH_PREDICTIONS,
    DEPTH_TASKS,
    NOT_TRIED,
    THRESHOLD,
    DepthConfig,
    HeatmapConfig,
    depth_verdicts,
    fewest_layers,
    run_depth,
)
from rvt_lib.stats import summarize
from rvt_lib.train import TrainConfig, set_seed

plots.style()
set_seed(0)
# One thread: the machine that builds this book is shared; the book budget is
# sized for one core.
torch.set_num_threads(1)
# the full budget trains on a GPU when there is one
device = torch.device(
    "cuda" if torch.cuda.is_available() and get_budget() == "full" else "cpu"
)
print(
    f"budget: {get_budget()}   device: {device}   {os.cpu_count()} CPU cores, "
    f"{torch.get_num_threads()} thread, torch {torch.__version__}"
)
glue("budget", get_budget(), display=False)

# %% [markdown]
# ## What the theory predicts
#
# Three results fix the predictions. Each says what *some* weights can do, or what *no*
# weights can do, at a given depth; none says what gradient descent finds.
#
# * **Every automaton in $O(\log T)$ layers; solvable ones in $O(1)$.** Liu et al. build
#   Transformers that simulate any semiautomaton on inputs of length $T$ with
#   $O(\log T)$ layers (a parallel prefix over the transition monoid), and, when every
#   group inside the semiautomaton is solvable, with a number of layers that does not
#   depend on $T$ at all (a Krohn–Rhodes decomposition into a cascade of simple pieces)
#   {cite}`liu2023shortcuts,krohn1965algebraic`. $S_3$ is solvable: it is a cascade of
#   $\mathbb{Z}_2$ (the sign of the permutation) and $\mathbb{Z}_3$ (a rotation whose
#   direction the sign decides).
# * **No fixed depth for $A_5$, unless $\mathsf{TC}^0 = \mathsf{NC}^1$.** Tracking $A_5$
#   (its word problem) is $\mathsf{NC}^1$-complete {cite}`barrington1989bounded`.
#   Transformers of fixed depth with log-precision arithmetic, and diagonal linear
#   recurrences (S4, Mamba) of fixed depth, compute only functions in $\mathsf{TC}^0$
#   {cite}`merrill2023parallelism,merrill2024illusion`. So if $\mathsf{TC}^0 \neq
#   \mathsf{NC}^1$ (widely believed, not proved), no fixed number of layers of either
#   tracks $A_5$ at *every* length: the fewest layers must grow without bound as $T$
#   grows. The statement is asymptotic; at the short lengths trained here (up to
#   {glue:text}`depth_Tmax` in this build) a fixed depth may still be enough, and a flat
#   curve over them does not contradict it.
# * **One layer of a nonlinear RNN suffices for any finite automaton**: its state can
#   hold the automaton's state, and one step per symbol applies the transition. Merrill
#   et al. train one-layer RNNs that learn $A_5$, while Transformers and Mamba needed more
#   layers for longer inputs in their runs {cite}`merrill2024illusion`.
#
# For the diagonal recurrence (the complex-diagonal, LRU-style layer of the previous
# chapter) on $S_3$, the cascade suggests a constant number of layers: one to follow the
# sign, one to rotate by $\pm 2\pi/3$ depending on it. That is our reading of the
# Krohn–Rhodes argument for this layer, not a theorem we can cite for it.
#
# The predictions, written before the run:

# %%
predicted = pd.DataFrame(
    [[DEPTH_PREDICTIONS[(m, t)] for t in DEPTH_TASKS] for m in DEPTH_MODELS],
    index=list(DEPTH_MODELS),
    columns=list(DEPTH_TASKS),
)
predicted

# %% [markdown]
# "one" means one layer at every $T$; "flat" a number of layers that does not depend on
# $T$; "grows" no fixed number works for every $T$.
#
# ## The measurement
#
# For every task, model and training length $T$ (from {glue:text}`depth_lengths`), we
# train models of {glue:text}`depth_depths` layers, in that order, and stop at the first
# that *tracks* the task at length $T$, by the rule of the previous chapter: the 95%
# interval of the seeds' mean accuracy lies above {glue:text}`threshold`. The fewest such
# depth is the measurement; "not reached" means that no depth tried tracks. The LSTM is
# the control and runs at one layer only: where it tracks, the training budget is enough
# for a sequential model to learn the task at that length, and where it does not, a
# failure of the other models says little. A row (a task and a model) stops early when
# no longer length could change what it says: once some $T$ is not reached at any depth
# and every shorter $T$ needed the same number of layers (or none was reached), the row
# can only read "lost", "not reached" or "irregular" below, which agree or disagree with
# nothing, so its longer lengths are marked "not tried" and the time goes to the rows
# still open (`depth_settled`; a test checks the claim on every short row).
#
# Every cell goes through the course's study runner: learning rate chosen on a validation
# split (from {glue:text}`depth_lrs`; where the best is the smallest or largest rate
# tried, the next rate past it is tried too, up to {glue:text}`depth_extend` per end;
# the cells whose choice still sits at an end of the rates tried:
# {glue:text}`depth_edges`), {glue:text}`depth_n_seeds` seeds retrained with
# it, one test on a sealed split of length $T$. A model of $d$ layers is matched to $d$
# times the one-layer parameter count, so that the width stays about the same while depth
# grows. Each run trains for {glue:text}`depth_steps` steps of 32 fresh sequences.
# Fewer seeds than the protocol's five: every cell costs a run per rate tried and a run
# per further seed, and the `book` budget keeps this chapter to a few minutes of one CPU
# core; the interval is then wide, and the rule errs towards "not tracked".


# %%
def depth_config():
    """The study's sizes under the active budget."""
    return DepthConfig(
        lengths=pick(smoke=(4, 8), book=(8, 16, 32, 64)),
        depths=pick(smoke=(1, 2), book=(1, 2), full=(1, 2, 3, 4, 6)),
        heat=HeatmapConfig(
            train_length=8,
            factors=(1,),
            target_params=6000,
            train=TrainConfig(
                steps=pick(smoke=3, book=300, full=3000),
                batch_size=32,
                lr=1e-2,
                warmup=pick(smoke=1, book=30, full=300),
                clip=1.0,
                schedule="cosine",
            ),
            lr_grid=pick(
                smoke=(1e-2,),
                book=(1e-2, 3e-2),
                full=(1e-3, 3e-3, 1e-2, 3e-2),
                dry=(1e-2,),
            ),
            extend=pick(smoke=0, book=1),  # rates added past an end
            seeds=pick(
                smoke=(0, 1), book=(0, 1, 2), full=(0, 1, 2, 3, 4), dry=(0, 1)
            ),
            n_val=pick(smoke=16, book=128, full=512, dry=16),
            n_test=pick(smoke=16, book=256, full=1024, dry=16),
        ),
    )


DEPTH = depth_config()
with using_budget("full"):
    FULL = depth_config()  # stated in the prose below, not run here
t0 = time.perf_counter()
# the LSTM control's members train as one batched model (the same runs as
# one by one: tests/test_batched.py)
runs = run_depth(DEPTH, trainer=fit_members, device=device)
depth_seconds = time.perf_counter() - t0
fewest = fewest_layers(runs)
print(
    f"{runs.groupby(['task', 'model', 'T', 'n_layer']).ngroups} cells, "
    f"{len(runs)} test runs, in {depth_seconds:.0f} s"
)

# %% tags=["hide-input"]
glue("depth_lengths", ", ".join(str(T) for T in DEPTH.lengths), display=False)
glue("depth_depths", ", ".join(str(d) for d in DEPTH.depths), display=False)
glue("depth_max", max(DEPTH.depths), display=False)
glue("depth_Tmax", max(DEPTH.lengths), display=False)
glue("threshold", THRESHOLD, display=False)
glue(
    "depth_lrs",
    ", ".join(f"{lr:g}" for lr in DEPTH.heat.lr_grid),
    display=False,
)
glue("depth_n_seeds", len(DEPTH.heat.seeds), display=False)
glue("depth_steps", DEPTH.heat.train.steps, display=False)
glue("depth_seconds", depth_seconds, display=False)
glue("full_steps", FULL.heat.train.steps, display=False)
glue("full_depth", max(FULL.depths), display=False)
glue("full_seeds", len(FULL.heat.seeds), display=False)

# accuracy of every cell tried: mean ± std and 95% interval over the seeds
CELL = ["task", "model", "T", "n_layer"]
acc = (
    summarize(runs, "acc", by=CELL, bounds=(0, 1))
    .join(
        runs.groupby(CELL, sort=False)[
            ["lr", "lr_at_edge", "params", "verdict"]
        ].first()
    )
    .reset_index()
)
cell_names = acc.apply(  # r["T"], not r.T: a row's .T is its transpose
    lambda r: f"{r['task']} {r['model']} T={r['T']} d={r['n_layer']}", axis=1
)
glue("depth_extend", DEPTH.heat.extend, display=False)
glue(
    "depth_edges",
    which_of(cell_names[acc["lr_at_edge"]], cell_names),
    display=False,
)
SHOWN = ["mean ± std", "ci_low", "ci_high", "lr", "lr_at_edge"]
acc[CELL + SHOWN + ["params", "verdict"]].style.format(
    {"ci_low": "{:.3f}", "ci_high": "{:.3f}", "lr": "{:g}"}
).hide(axis="index")

# %% [markdown]
# Each row is one cell: the mean and standard deviation of the accuracy at length $T$
# over the seeds, its 95% interval (the rule reads the interval's ends; an accuracy
# cannot leave [0, 1], so neither can the interval), the learning rate chosen on
# validation and whether it sits at an end of the rates tried, the parameter count and
# the rule's reading. The figure shows the accuracy
# of every depth tried against $T$, and the table after it the fewest layers that track.

# %%
fig, axes = plt.subplots(1, len(DEPTH.tasks), figsize=(12, 4.2), sharey=True)
markers = {1: "o", 2: "s", 3: "^", 4: "D", 6: "v"}
for ax, task in zip(np.atleast_1d(axes), DEPTH.tasks):
    for model in DEPTH.models:
        color = plots.color_for(model)
        cells = acc[(acc.task == task) & (acc.model == model)]
        for d, c in cells.groupby("n_layer"):
            ax.errorbar(
                c["T"],
                c["mean"],
                yerr=c["std"].fillna(0),
                marker=markers.get(d, "o"),
                color=color,
                capsize=3,
                ls="-" if d == 1 else "--",
                label=f"{model}, {d} layer{'s' if d > 1 else ''}",
            )
    ax.axhline(THRESHOLD, color="grey", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(DEPTH.lengths), [str(T) for T in DEPTH.lengths])
    ax.set_xlabel("training and test length T (symbols)")
    ax.set_title(f"{task}: accuracy at T (mean ± std over seeds)")
    ax.set_ylim(-0.02, 1.05)
np.atleast_1d(axes)[0].set_ylabel("test accuracy at length T")
np.atleast_1d(axes)[-1].legend(fontsize=7, loc="center right")
fig.suptitle(
    f"Depth against length (budget: {get_budget()}; dotted: the "
    f"{THRESHOLD} threshold)",
    y=1.02,
)
plt.show()

# %% tags=["hide-input"]
shown = fewest.map(lambda d: "not reached" if d is None else d)
shown.columns = [f"T = {T}" for T in fewest.columns]
shown

# %% [markdown]
# ## The verdict
#
# For every task and model the row of fewest layers is read as a trend ("one", "flat",
# "grows", "not reached", "lost" when one depth tracks up to some $T$ and no depth tried
# tracks beyond it, or "irregular" when it goes down as well as up) and compared with the
# prediction. A trend of "not reached" or "lost" cannot agree or disagree with anything:
# the depths tried, or the training steps, ran out, and the row cannot tell which.

# %% tags=["hide-input"]
verdicts = depth_verdicts(fewest)
control = fewest.xs("LSTM", level="model")
control_ok = [
    (task, T)
    for task in control.index
    for T in control.columns
    if control.loc[task, T] == 1
]
glue(
    "control_ok",
    ", ".join(f"{task} at T = {T}" for task, T in control_ok) or "nowhere",
    display=False,
)
glue(
    "control_fail",
    ", ".join(
        f"{task} at T = {T}"
        for task in control.index
        for T in control.columns
        if control.loc[task, T] not in (1, NOT_TRIED)
    )
    or "nowhere",
    display=False,
)
counts = verdicts["agreement"].value_counts()
glue("n_agree", int(counts.get("agrees", 0)), display=False)
glue("n_disagree", int(counts.get("disagrees", 0)), display=False)
glue("n_open", int(counts.get("n/a", 0)), display=False)
glue("n_rows", len(verdicts), display=False)


def listed(frame):
    return ", ".join(f"{r.model} on {r.task}" for r in frame.itertuples())


glue(
    "disagree_list",
    listed(verdicts[verdicts.agreement == "disagrees"]) or "none",
    display=False,
)
glue(
    "open_list",
    listed(verdicts[verdicts.agreement == "n/a"]) or "none",
    display=False,
)
parallel = verdicts[verdicts.model != "LSTM"]
glue(
    "parallel_reached",
    listed(parallel[parallel.measured != "not reached"]) or "none",
    display=False,
)
verdicts

# %% [markdown]
# Of the {glue:text}`n_rows` rows, the number that agree with the prediction:
# {glue:text}`n_agree`; that disagree: {glue:text}`n_disagree`
# ({glue:text}`disagree_list`); that cannot be read: {glue:text}`n_open`
# ({glue:text}`open_list`). The one-layer LSTM, the
# control, tracks {glue:text}`control_ok`, and does not track {glue:text}`control_fail`.
# The rows in which a parallel model (the GPT or the diagonal recurrence) tracks at some
# depth up to {glue:text}`depth_max`, at some length: {glue:text}`parallel_reached`.
#
# **How to read it.** Where the LSTM tracks a task at one layer and the parallel models
# reach it at no depth tried, the difference is not one the theory of the previous
# sections predicts at these lengths: for $S_3$ a constant depth suffices for both, and
# for $A_5$ the growth that the theory forces may start beyond the lengths trained here.
# We read it as a difference in what the same number of training steps teaches (the
# `full` budget, with {glue:text}`full_steps` steps per run, tests that reading): a recurrence applies the
# same update at every step and is trained at every position on it, while a shortcut of
# fixed depth must be assembled from many parts at once. This is the learnability side of
# the story that the previous chapter met with the GPT on parity
# {cite}`hahn2020theoretical,bhattamishra2020ability`. Where the LSTM does not track
# either (the budget is the limit), nothing is learned about depth.
#
# The experiment that tests the depth predictions needs more training than the `book`
# budget gives it on a CPU: Merrill et al. train for many epochs on large sets of sequences
# {cite}`merrill2024illusion`. The `full` budget of this chapter runs it at
# {glue:text}`full_steps` steps per run, depths up to {glue:text}`full_depth` and
# {glue:text}`full_seeds` seeds; it is sized for a GPU-backed machine, and its
# configuration is rehearsed in the course's tests (`RVT_BUDGET=dry`), so it does not
# fail late.

# %% [markdown]
# ## Exercises
#
# :::{exercise}
# :label: depth-ex-1
#
# Write an element of $S_3$ as $\rho^a\sigma^e$, with $\rho$ a rotation of order 3,
# $\sigma$ a flip and $\sigma\rho\sigma = \rho^{-1}$. Show that the running product
# $P_t = P_{t-1}x_t$ can be tracked by two diagonal layers: one that follows $e$, and
# one whose transition is a rotation with an input-dependent angle. What does the second
# layer need to read at position $t$?
# :::
#
# :::{exercise}
# :label: depth-ex-2
#
# `run_depth` stops at the first depth that tracks. What does this save, and when could
# it report a depth that is too small or too large?
# :::
#
# :::{exercise}
# :label: depth-ex-3
#
# Run the study on $\mathbb{Z}_3$ instead: `DepthConfig(tasks=("Z3",), heat=DEPTH.heat,
# lengths=(8, 16))` needs predictions for that task first. What does the theory predict
# for each of the three models, and which of these predictions did the previous chapter's
# heatmap already test at one layer?
# :::
#
# :::{solution} depth-ex-1
# :class: dropdown
#
# With $P_{t-1} = \rho^a\sigma^e$ and $x_t = \rho^b\sigma^f$,
# $P_{t-1}x_t = \rho^a\sigma^e\rho^b\sigma^f = \rho^{a + (-1)^e b}\,\sigma^{e+f}$. So
# $e_t = e_{t-1} + f \pmod 2$, a parity: one layer with a transition of $-1$ on the
# symbols with $f = 1$. And $a_t = a_{t-1} + (-1)^{e_{t-1}} b \pmod 3$: a rotation by
# $\pm 2\pi b/3$, one complex-diagonal layer whose angle depends on $b$ and on the sign
# $e_{t-1}$. At position $t$ the second layer reads the token (which gives $b$ and $f$)
# and the first layer's output $e_t$, from which $e_{t-1} = e_t - f$. Both layers are
# diagonal, and the number of layers does not depend on $T$: this is the cascade behind
# the "flat" prediction.
# :::
#
# :::{solution} depth-ex-2
# :class: dropdown
#
# It trains no model deeper than the first that tracks, which is most of the work when
# shallow models succeed. It reads "fewest" correctly if tracking is monotone in depth,
# which the theory does not promise for trained models. It can report too small a depth
# when a cell passes the rule by chance (three seeds give a wide interval, which makes
# that unlikely but not impossible), and too large a depth (or "not reached") when a
# shallower model would track with more steps or another learning rate: the measurement
# is an upper bound on what the architecture needs, given this training budget.
# :::
#
# :::{solution} depth-ex-3
# :class: dropdown
#
# ```python
# import rvt_lib.experiments.automata as A
# z3_predictions = {("GPT", "Z3"): "flat",
#                   ("complex diag. (LRU)", "Z3"): "one",
#                   ("LSTM", "Z3"): "one"}
# z3 = A.run_depth(A.DepthConfig(tasks=("Z3",), heat=DEPTH.heat, lengths=(8, 16)))
# A.depth_verdicts(A.fewest_layers(z3), z3_predictions)
# ```
# $\mathbb{Z}_3$ is abelian, hence solvable: constant depth suffices for the GPT
# {cite}`liu2023shortcuts`. One complex-diagonal layer tracks it (a rotation by
# $2\pi/3$ per symbol 1, by $4\pi/3$ per symbol 2), and so does one LSTM layer. The
# heatmap tested the one-layer claims for the LSTM and the complex-diagonal layer (its
# $\mathbb{Z}_3$ column); it made no prediction for the GPT.
# :::
#
# :::{admonition} Key takeaways
# :class: tip
# * A parallel model of fixed depth is a circuit of fixed depth. Constant depth suffices
#   for solvable groups such as $S_3$ {cite}`liu2023shortcuts`; for $A_5$ no fixed depth
#   of a Transformer or a diagonal linear recurrence suffices at every length, unless
#   $\mathsf{TC}^0 = \mathsf{NC}^1$
#   {cite}`barrington1989bounded,merrill2023parallelism,merrill2024illusion`. One layer of
#   a nonlinear RNN suffices for both.
# * These are statements about what weights exist. At a small training budget the
#   measurement is an upper bound on the depth needed; the one-layer LSTM, trained the
#   same way, tells where the budget is enough to learn the task at all.
# * The fewest layers measured at this budget, and how they compare with the predictions,
#   are in the tables above; they are computed when the page is built.
# :::
