"""Seed-batched training (``rvt_lib.batched.fit_batched``) against K separate ``fit`` runs.

Run: ``python -m benchmarks.bench_batched`` (or ``python -m benchmarks.speed --suite bench_batched``).

Each row times the training steps of K = 8 members (same architecture, 8 seeds and
learning rates): ours is one ``fit_batched`` call, the peer is 8 ``fit`` calls one after
the other; ``ratio`` = peer time / our time (a speed-up: above 1.0, batching wins), both
timed in the same run, interleaved. Sizes:

* ECG: beats of T = 96 samples (1 feature), batches of 20, width 32, one layer, 5 classes
  (the recipe of ``book/part3_experiments/ecg.py``);
* Shakespeare: characters (vocabulary 65), windows of 64, batches of 32, four layers, the
  width giving about 460k parameters per kind (``book/part3_experiments/shakespeare.py``);
* heatmap: the automata and depth chapters' S3 task, T = 32, batches of 32, one layer, each
  model matched to about 6,000 parameters (``rvt_lib.experiments.automata.heatmap_specs``).

A "ceiling" row per model and size bounds what *any* way of batching K members could
gain: its "ours" trains one member on batches K times as large (the arithmetic and memory
traffic of K members, with the per-operation overhead of one), its peer is the same K
``fit`` runs, and the ratio K * t(B) / t(K * B) is the speed-up batching would reach if it
removed every cost that does not grow with the batch. Where the ceiling is below the
target, no batched implementation reaches it on that machine.

Target: >= 4x for the recurrent models (LSTM, GRU, minGRU). One more row sets 8 of our
LSTMs batched against 8 sequential runs of the same model with ``torch.nn.LSTM`` (oneDNN's
fused kernel) as its core.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from benchmarks._common import compare
from rvt_lib.batched import fit_batched
from rvt_lib.models.heads import SequenceModel, make_model
from rvt_lib.train import TrainConfig, fit

K = 8
STEPS = 3           # training steps per timed call (per member)
ECG = dict(T=96, B=20, d_model=32, n_layer=1)
SHAKESPEARE = dict(T=64, B=32, n_layer=4, vocab=65, target=460_000)
HEATMAP = dict(T=32, B=32, target=6000)
HEATMAP_MODELS = (("LSTM", "LSTM"), ("complex diag. (LRU)", "LRU"), ("GPT", "GPT"))
LRS = [1e-3 * 1.5 ** i for i in range(K)]


def width_for(kind: str, target: int, *, n_layer: int, vocab: int, block: int) -> int:
    """The width ``d_model`` (a multiple of 4) whose LM has about ``target`` parameters."""
    def count(d):
        with torch.device("meta"):
            m = make_model(kind, vocab_size=vocab, d_model=d, n_layer=n_layer, n_head=4, block_size=block)
        return sum(p.numel() for p in m.parameters())
    return min(range(8, 1025, 4), key=lambda d: abs(count(d) - target))


def _ecg_task(kind: str, T: int, B: int, d_model: int, n_layer: int, core=None):
    """(build(seed), sampler(seed)): an ECG-sized classifier and its random batches."""
    def build(seed):
        torch.manual_seed(seed)
        if core is not None:
            return SequenceModel(core(d_model), input_size=1, head="classify", n_out=5, pool="mean")
        extra = dict(n_head=4, block_size=T) if kind == "gpt" else {}
        return make_model(kind, input_size=1, head="classify", n_out=5, pool="mean",
                          d_model=d_model, n_layer=n_layer, **extra)

    def sampler(seed):
        g = torch.Generator().manual_seed(seed)
        return lambda: (torch.randn(B, T, 1, generator=g), torch.randint(0, 5, (B,), generator=g))
    return build, sampler


def _lm_task(kind: str, T: int, B: int, n_layer: int, vocab: int, target: int):
    d = width_for(kind, target, n_layer=n_layer, vocab=vocab, block=T)

    def build(seed):
        torch.manual_seed(seed)
        return make_model(kind, vocab_size=vocab, d_model=d, n_layer=n_layer, n_head=4, block_size=T)

    def sampler(seed):
        g = torch.Generator().manual_seed(seed)
        def draw():
            x = torch.randint(0, vocab, (B, T + 1), generator=g)
            return x[:, :-1], x[:, 1:]
        return draw
    return build, sampler, d


def _tag_task(label: str, T: int, B: int, target: int):
    """(build(seed), sampler(seed), width) of one heatmap model on the S3 task's shapes."""
    from rvt_lib.data.automata import task_spec
    from rvt_lib.experiments.automata import HEATMAP_MODELS, HeatmapConfig, heatmap_specs

    config = HeatmapConfig(train_length=T, factors=(1,), target_params=target)
    spec = heatmap_specs("S3", config, {label: HEATMAP_MODELS[label]})[label]
    s = task_spec("s3")

    def sampler(seed):
        g = torch.Generator().manual_seed(seed)
        return lambda: (torch.randint(0, s.n_inputs, (B, T), generator=g),
                        torch.randint(0, s.n_states, (B, T), generator=g))
    return spec.build, sampler, spec["d_model"]


def closures(build, sampler, *, k: int = K, steps: int = STEPS, peer_build=None):
    """(ours, peer): train k members for ``steps`` steps batched, and one by one with fit."""
    seeds = list(range(k))
    configs = [TrainConfig(steps=steps, lr=lr, warmup=1) for lr in LRS[:k]]
    ours_models = [build(s) for s in seeds]
    peer_models = [(peer_build or build)(s) for s in seeds]

    def ours():
        fit_batched(ours_models, [sampler(s) for s in seeds], configs, seeds=seeds)

    def peer():
        for m, s, c in zip(peer_models, seeds, configs):
            fit(m, sampler(s), c, seed=s)
    return ours, peer


def ceiling_closures(build, sampler, big_sampler, *, k: int = K, steps: int = STEPS):
    """(ours, peer): one member trained on batches k times as large, and k members one by one."""
    model, config = build(0), TrainConfig(steps=steps, lr=LRS[0], warmup=1)

    def ours():
        fit(model, big_sampler(0), config, seed=0)
    return ours, closures(build, sampler, k=k, steps=steps)[1]


def _ceiling_row(name, shape, build, sampler, big_sampler, device, repeats=3):
    ours, peer = ceiling_closures(build, sampler, big_sampler)
    row = _row(name, shape, ours, peer, "context", device, repeats=repeats)
    row.update(benchmark=f"batching ceiling {name}", ours=f"fit, one member, batch x{K}")
    return row


def _row(name, shape, ours, peer, target, device, repeats=3):
    row = compare(f"batched {name}", shape, ours, peer, ours=f"fit_batched, K={K}",
                  peer=f"{K} x fit", target=target, repeats=repeats, device=device, higher_is_better=True)
    row["ours_ms"] = round(row["ours_ms"] / STEPS, 3)   # per training step of all K members
    row["peer_ms"] = round(row["peer_ms"] / STEPS, 3)
    return row


def run(device: str = "cpu"):
    """Yield the rows one by one (``benchmarks.speed`` collects them)."""
    if device != "cpu":
        return  # the batched lever is per-op overhead on the book's CPU builds
    shape = "ECG T=96 B=20 d=32 L=1, per step of 8"
    for kind, name in (("lstm", "LSTM"), ("gru", "GRU"), ("mingru", "minGRU"), ("gpt", "GPT")):
        build, sampler = _ecg_task(kind, **ECG)
        ours, peer = closures(build, sampler)
        yield _row(name, shape, ours, peer, ">= 4" if kind != "gpt" else "context", device, repeats=5)
        big = _ecg_task(kind, **{**ECG, "B": K * ECG["B"]})[1]
        yield _ceiling_row(name, shape, build, sampler, big, device, repeats=5)
    build, sampler = _ecg_task("lstm", **ECG)
    torch_build, _ = _ecg_task("lstm", **ECG, core=lambda d: nn.LSTM(d, d, batch_first=True))
    ours, peer = closures(build, sampler, peer_build=torch_build)
    row = _row("LSTM", shape, ours, peer, "> 1", device, repeats=5)
    row["peer"] = f"{K} x fit, torch.nn.LSTM core"
    yield row
    for kind, name in (("lstm", "LSTM"), ("gru", "GRU"), ("mingru", "minGRU"), ("gpt", "GPT")):
        build, sampler, d = _lm_task(kind, **SHAKESPEARE)
        ours, peer = closures(build, sampler)
        shape = f"Shakespeare T=64 B=32 d={d} L=4 (~460k), per step of 8"
        yield _row(name, shape, ours, peer, ">= 4" if kind != "gpt" else "context", device)
        big = _lm_task(kind, **{**SHAKESPEARE, "B": K * SHAKESPEARE["B"]})[1]
        yield _ceiling_row(name, shape, build, sampler, big, device)
    for label, name in HEATMAP_MODELS:
        build, sampler, d = _tag_task(label, **HEATMAP)
        ours, peer = closures(build, sampler)
        shape = f"heatmap S3 T=32 B=32 d={d} L=1 (~6k), per step of 8"
        yield _row(name, shape, ours, peer, ">= 4" if name != "GPT" else "context", device, repeats=5)
        big = _tag_task(label, **{**HEATMAP, "B": K * HEATMAP["B"]})[1]
        yield _ceiling_row(name, shape, build, sampler, big, device, repeats=5)


if __name__ == "__main__":
    import pandas as pd

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    rows = []
    for row in run():
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False, header=len(rows) == 1), flush=True)
