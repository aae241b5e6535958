"""Benchmark: one training step of ``rvt_lib.train.fit`` with its optimiser against the default one.

``fit`` builds its optimiser with :func:`rvt_lib.train.make_optimizer`: AdamW, two
parameter groups, and PyTorch's *fused* kernel (one call per step for every tensor).
The peer is the same AdamW with PyTorch's default implementation on the CPU, the
per-tensor loop (about a dozen small operations per parameter tensor per step). A step
is what ``fit`` does: forward, cross-entropy, backward, gradient clipping at norm 1,
optimiser update. Both models start from the same weights and see the same batch.

Two sizes, the book's commonest: the automata heatmap (about 6,000 parameters, sequences
of 16, batch 32) and the Tiny Shakespeare study (two blocks of width 64, windows of 64,
batch 16). For the book's small models the update is a sizeable share of a step, so
the fused kernel shortens every chapter's training. Target: ``ratio = ours_ms / peer_ms
< 1.0``.

Run: ``python -m benchmarks.speed --suite bench_optimizer``
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from benchmarks._common import compare
from rvt_lib.models.heads import ModelSpec, match_parameters
from rvt_lib.train import make_optimizer

STEPS = 20  # steps per timed call

# name -> (spec keyword arguments, sequence length, batch)
SIZES = {
    "heatmap (6k params, T 16, B 32)": (dict(vocab_size=6, n_out=6, head="tag", n_layer=1), 16, 32, 6000),
    "Shakespeare (2 blocks, T 64, B 16)": (dict(vocab_size=65, n_layer=2), 64, 16, None),
}
KINDS = {
    "gpt": dict(n_head=2),
    "lstm": dict(),
    "mingru": dict(),
}


def spec_for(kind: str, size: str) -> ModelSpec:
    kwargs, T, _, target = SIZES[size]
    kwargs = {**kwargs, **KINDS[kind]}
    head = kwargs.pop("head", "lm")
    if kind == "gpt":
        kwargs["block_size"] = T
    if target is None:  # the Shakespeare block: width 64, the mixer in the GPT's residual block
        return ModelSpec(kind, head, d_model=64, **kwargs, **({} if kind == "gpt" else {"block": "residual"}))
    return match_parameters(ModelSpec(kind, head, d_model=8, **kwargs), target, tol=0.1)


def step_fn(model, optimizer, x, y, steps: int = STEPS):
    """``steps`` training steps of ``model`` as ``fit`` takes them."""
    params = [p for p in model.parameters() if p.requires_grad]

    def run():
        for _ in range(steps):
            logits = model(x)                                   # (B, T, V)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
        return loss.item()

    return run


def closures(kind: str, size: str, device="cpu", steps: int = STEPS):
    """(ours, peer): the same model and batch, with fit's optimiser and with the default AdamW."""
    spec = spec_for(kind, size)
    _, T, B, _ = SIZES[size]
    ours_model = spec.build(0).to(device)
    peer_model = copy.deepcopy(ours_model)
    vocab = spec["vocab_size"]
    n_out = spec.kwargs.get("n_out", vocab)
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(vocab, (B, T), generator=gen).to(device)
    y = torch.randint(n_out, (B, T), generator=gen).to(device)
    ours_opt = make_optimizer(ours_model, lr=1e-3)
    peer_groups = [{"params": g["params"], "weight_decay": g["weight_decay"]}
                   for g in make_optimizer(peer_model, lr=1e-3).param_groups]  # the same two groups
    peer_opt = torch.optim.AdamW(peer_groups, lr=1e-3, betas=(0.9, 0.99), foreach=False, fused=False)
    return step_fn(ours_model, ours_opt, x, y, steps), step_fn(peer_model, peer_opt, x, y, steps)


def run(device="cpu", repeats: int = 7) -> list[dict]:
    rows = []
    for size in SIZES:
        for kind in KINDS:
            ours, peer = closures(kind, size, device)
            rows.append(compare("optimizer", f"{kind}, {size}, {STEPS} steps", ours, peer,
                                ours="fit: fused AdamW", peer="torch.optim.AdamW default",
                                target="< 1.0", repeats=repeats, device=device))
    return rows


if __name__ == "__main__":
    import pandas as pd

    print(pd.DataFrame(run()).to_string(index=False))
