"""Benchmark: one training step of rvt_lib's GPT vs Hugging Face's GPT-2, same sizes.

Both models: vocabulary 65 (tiny Shakespeare's characters), 256 positions, width 128,
4 blocks of 4 heads, no dropout, randomly initialised (nothing is downloaded). One step
= forward, cross-entropy over every position, backward, AdamW update, at a batch of
16 x 256 tokens. Target: ``ratio = ours_ms / peer_ms <= 1.0``.

The two have the same parameters (token + position embeddings, 4 pre-LN blocks with
biases, a final LayerNorm, an LM head tied to the token embedding), so the counts
printed by ``param_counts()`` agree. Small differences in the arithmetic: GPT-2 uses
the tanh approximation of GELU, ours the exact one; Hugging Face builds the model
through its own attention dispatch (SDPA by default), ours calls SDPA directly.

Run: ``python -m benchmarks.bench_gpt``
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from benchmarks._common import compare
from rvt_lib.models.heads import make_model

VOCAB, BLOCK, D_MODEL, N_LAYER, N_HEAD = 65, 256, 128, 4, 4
BATCH = 16


def build_ours(device="cpu"):
    torch.manual_seed(0)
    return make_model("gpt", vocab_size=VOCAB, d_model=D_MODEL, n_layer=N_LAYER, n_head=N_HEAD,
                      block_size=BLOCK, dropout=0.0).to(device)


def build_peer(device="cpu"):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=VOCAB, n_positions=BLOCK, n_embd=D_MODEL, n_layer=N_LAYER,
                        n_head=N_HEAD, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        use_cache=False, bos_token_id=None, eos_token_id=None)
    return GPT2LMHeadModel(config).to(device)


def n_params(model) -> int:
    """Parameters counted once each (a tied matrix counts once)."""
    return sum(p.numel() for p in model.parameters())


def param_counts() -> dict:
    return {"rvt_lib GPT": n_params(build_ours()), "HF GPT2LMHeadModel": n_params(build_peer())}


def _train_step_fn(model, logits_of, x, y):
    """A closure doing one full training step of ``model`` on the batch (x, y)."""
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    model.train()

    def step():
        logits = logits_of(model, x)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def run(device: str = "cpu") -> list[dict]:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, VOCAB, (BATCH, BLOCK), generator=g).to(device)
    y = torch.randint(0, VOCAB, (BATCH, BLOCK), generator=g).to(device)
    ours = _train_step_fn(build_ours(device), lambda m, x: m(x), x, y)
    peer = _train_step_fn(build_peer(device), lambda m, x: m(input_ids=x).logits, x, y)
    return [compare("gpt train step (fwd+loss+bwd+AdamW)", f"B={BATCH} T={BLOCK} d={D_MODEL} L={N_LAYER} H={N_HEAD}",
                    ours, peer, ours="rvt_lib GPT", peer="HF GPT2LMHeadModel",
                    target="<= 1.0", repeats=5, device=device)]


if __name__ == "__main__":
    import pandas as pd

    print("parameters:", param_counts())
    print(pd.DataFrame(run("cuda" if torch.cuda.is_available() else "cpu")).to_string(index=False))
