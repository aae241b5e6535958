"""Backend of the chapter "Attention as an RNN": associative recall against state size.

Every model is the same network except for its sequence mixer::

    tokens -> shift embedding -> n_layer x [x + mixer(LN x); x + MLP(LN x)] -> LN -> vocab logits

with mixer one of softmax attention (the GPT), linear attention, DeltaNet, minGRU or an
LSTM (:func:`rvt_lib.models.blocks.residual_core` builds the block; for linear attention
and DeltaNet we put their one-layer cores in the mixer's place). The *shift embedding*
adds a learned embedding of the previous token to the current one (a causal convolution
of width two over the embeddings): a key's value then arrives together with the key,
so one layer can store the pair. Zoology (Arora et al. 2023) and DeltaNet (Yang et al.
2024) give their recurrent models short convolutions for the same reason; here every
model gets it, so only the mixer differs.

The *state size* is what a model carries from one token to the next, in floats per
sequence: ``2 L d`` (LSTM: h and c), ``L d`` (minGRU), ``L H d_k d_v`` (linear attention
and DeltaNet, with H heads of d_k = d_v = d / H) and ``2 L T d`` for the GPT, whose key/value
cache grows with the length T.

:func:`run_recall` runs the study through :func:`rvt_lib.runner.run_study` (learning rate
tuned per model and width on validation, retrained over seeds, test scored once) and
returns the tidy table plus the verdict of the chapter's prediction
(:func:`recall_verdict`).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn as nn

from rvt_lib.data.recall import IGNORE, MQARConfig, mqar_sampler, mqar_splits
from rvt_lib.models.heads import SequenceModel

KINDS = ("gpt", "linear_attention", "deltanet", "mingru", "lstm")
NAMES = {"gpt": "GPT", "linear_attention": "linear attention", "deltanet": "DeltaNet",
         "mingru": "minGRU", "lstm": "LSTM"}

__all__ = ["KINDS", "NAMES", "RecallSpec", "ShiftEmbedding", "state_size", "recall_task", "run_recall",
           "recall_verdict", "RecallResult", "make_specs", "memory_recall"]


class ShiftEmbedding(nn.Module):
    """``e(x_t) + e_prev(x_{t-1})`` (zero before the first token): ids (B, T) -> (B, T, d).

    ``tok`` is the wrapper's own embedding (kept, so the GPT's tied output matrix stays tied).
    """

    def __init__(self, tok: nn.Embedding, std: float = 1.0):
        super().__init__()
        self.tok = tok
        self.prev = nn.Embedding(tok.num_embeddings, tok.embedding_dim)
        nn.init.normal_(self.prev.weight, std=std)          # as tok: 0.02 for the GPT, else 1

    def forward(self, x):                                   # x: (B, T) long
        e = self.tok(x)                                     # (B, T, d)
        p = self.prev(x[:, :-1])                            # (B, T-1, d): token t-1 seen at t
        return e + torch.cat([torch.zeros_like(e[:, :1]), p], dim=1)


def state_size(kind: str, d_model: int, n_layer: int = 1, n_head: int = 1, seq_len: int = 1) -> int:
    """Floats carried per sequence from one token to the next (the GPT's at length ``seq_len``)."""
    if kind not in KINDS:
        raise ValueError(f"state_size: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    d, L = d_model, n_layer
    return {"gpt": 2 * L * seq_len * d, "lstm": 2 * L * d, "mingru": L * d,
            "linear_attention": L * n_head * (d // n_head) ** 2,
            "deltanet": L * n_head * (d // n_head) ** 2}[kind]


def _mixer(kind: str, d: int, n_head: int) -> nn.Module:
    if kind == "linear_attention":
        from rvt_lib.models.linear_attention import LinearAttention, LinearAttentionConfig
        return LinearAttention(LinearAttentionConfig(d, d, num_heads=n_head, mode="parallel"))
    from rvt_lib.models.deltanet import DeltaNet, DeltaNetConfig  # parallel: the WY form
    return DeltaNet(DeltaNetConfig(d, d, num_heads=n_head, beta_range="positive"))


@dataclass(frozen=True)
class RecallSpec:
    """One model of the study: ``build(seed)``, ``n_params()``, ``state_size`` (what run_study needs)."""

    kind: str
    d_model: int
    vocab: int
    seq_len: int
    n_layer: int = 1
    n_head: int = 1

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"RecallSpec: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        for name in ("d_model", "vocab", "seq_len", "n_layer", "n_head"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"RecallSpec: {name} must be a positive int, got {value!r}")
        if self.d_model % self.n_head:
            raise ValueError(f"RecallSpec: d_model ({self.d_model}) must be divisible by n_head ({self.n_head})")

    @property
    def name(self) -> str:
        return f"{NAMES[self.kind]} d={self.d_model}"

    @property
    def state_size(self) -> int:
        return state_size(self.kind, self.d_model, self.n_layer, self.n_head, self.seq_len)

    def _make(self) -> SequenceModel:
        from rvt_lib.models.blocks import residual_core
        from rvt_lib.models.gpt import GPT, GPTConfig

        d, L = self.d_model, self.n_layer
        if self.kind == "gpt":
            core = GPT(GPTConfig(d_model=d, n_layer=L, n_head=self.n_head, block_size=self.seq_len))
        elif self.kind in ("mingru", "lstm"):
            core = residual_core(self.kind, d_model=d, n_layer=L)
        else:
            core = residual_core("mingru", d_model=d, n_layer=L)       # the block, then its mixer replaced
            for block in core.blocks:
                block.mixer = _mixer(self.kind, d, self.n_head)
        model = SequenceModel(core, vocab_size=self.vocab, head="lm")
        model.embed = ShiftEmbedding(model.embed, std=0.02 if self.kind == "gpt" else 1.0)
        return model

    def build(self, seed: int = 0) -> SequenceModel:
        torch.manual_seed(seed)
        return self._make()

    def n_params(self) -> int:
        with torch.device("meta"):
            model = self._make()
        return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


# ----------------------------------------------------------------------------- the task

def _score(model, data):
    """Accuracy over the queries; per item: 1/0 per query, in a fixed order."""
    from rvt_lib.runner import Scores

    device = next(model.parameters()).device
    correct = []
    for x, y in data:
        pred = model(x.to(device)).argmax(-1).cpu()             # (B, T)
        mask = y != IGNORE
        correct.append((pred[mask] == y[mask]).float())         # (B * n_queries,), row-major
    correct = torch.cat(correct).numpy()
    return Scores({"accuracy": correct.mean()}, {"correct": correct})


def recall_task(config: MQARConfig, batch_size: int, n_val: int, n_test: int):
    """A runner.Task: fresh training batches every step, fixed validation and test sets (other seeds)."""
    from rvt_lib.runner import Task

    val, test = mqar_splits(config, n_val, n_test, batch_size=max(batch_size, 64))
    return Task(f"MQAR N={config.n_pairs}", train=mqar_sampler(config, batch_size), val=val, test=test,
                score=_score)


# ----------------------------------------------------------------------------- the study

@dataclass
class RecallResult:
    """``runs``: one row per model x width x seed (test accuracy, state size, lr, ...);
    ``table``: mean ± std per model and width; ``verdict``: :func:`recall_verdict`'s dict;
    ``study``: the runner's StudyResult."""

    runs: pd.DataFrame
    table: pd.DataFrame
    verdict: dict
    study: object


def make_specs(config: MQARConfig, widths: dict, n_layer: int = 1, n_head: int = 1) -> dict:
    """``{name: RecallSpec}`` for ``widths = {kind: [d_model, ...]}``."""
    specs = {}
    for kind, ds in widths.items():
        for d in ds:
            s = RecallSpec(kind, d, config.vocab, config.seq_len, n_layer, 1 if kind in ("mingru", "lstm") else n_head)
            specs[s.name] = s
    return specs


def run_recall(config: MQARConfig, widths: dict, train_config, *, seeds=(0, 1, 2), lr_grid=(1e-3, 3e-3),
               extend: int = 0, n_val: int = 256, n_test: int = 512, n_layer: int = 1, n_head: int = 1,
               device=None, progress: bool | None = None, trainer=None) -> RecallResult:
    """Train every (model, width) of ``widths`` on MQAR with the study protocol; see the module docstring.

    ``extend`` grows the learning-rate grid past an end while a choice sits there, and
    ``trainer`` trains each group of members (:func:`rvt_lib.runner.run_study`)."""
    from rvt_lib.runner import run_study
    from rvt_lib.stats import summarize

    unknown = set(widths) - set(KINDS)
    if unknown:
        raise ValueError(f"run_recall: unknown kinds {sorted(unknown)}; use {', '.join(KINDS)}")
    specs = make_specs(config, widths, n_layer, n_head)
    task = recall_task(config, train_config.batch_size, n_val, n_test)
    study = run_study(specs, task, train_config, seeds=seeds, lr_grid=lr_grid, extend=extend,
                      select="val_accuracy", maximize=True, device=device, progress=progress,
                      trainer=trainer)
    runs = study.runs.copy()
    runs["kind"] = [specs[m].kind for m in runs["model"]]
    runs["family"] = [NAMES[k] for k in runs["kind"]]
    runs["d_model"] = [specs[m].d_model for m in runs["model"]]
    runs["state_size"] = [specs[m].state_size for m in runs["model"]]
    table = summarize(runs, "test_accuracy", by=["family", "d_model", "state_size"], bounds=(0, 1)).reset_index()
    return RecallResult(runs, table, recall_verdict(study, specs), study)


def _claims(study, pairs: list, alpha: float) -> pd.DataFrame:
    """Paired bootstrap of "a beats b" on per-query test correctness for each (a, b), Holm-adjusted."""
    from rvt_lib import stats

    tests = [stats.paired_bootstrap(study.pooled(a, "correct"), study.pooled(b, "correct"), lower_is_better=False)
             for a, b in pairs]
    adjusted = stats.holm([t.p_value for t in tests]) if tests else []
    rows = []
    for (a, b), t, p in zip(pairs, tests, adjusted):
        v = stats.verdict_claim(t, a, b, lower_is_better=False, alpha=alpha, p_value=float(p), items="test queries")
        rows.append({"comparison": f"{a} vs {b}", "difference": t.estimate, "ci_low": t.ci_low,
                     "ci_high": t.ci_high, "adjusted_p": float(p), "outcome": v.claim, "text": v.text})
    return pd.DataFrame(rows, columns=["comparison", "difference", "ci_low", "ci_high", "adjusted_p", "outcome",
                                       "text"])


def recall_verdict(study, specs: dict, alpha: float = 0.05) -> dict:
    """The prediction "a fixed-state model fails where its state is too small; attention does not".

    Two parts, each a set of claims tested on the per-query test correctness averaged over
    seeds (paired bootstrap, Holm-adjusted within the part):

    * ``attention``: the *smallest* GPT beats every fixed-state model at *its smallest* width;
    * ``growth``: every fixed-state model with two or more widths is better at its largest
      width than at its smallest (accuracy rises with the state).

    ``overall`` is ``"supported"`` when every claim is, ``"contradicted"`` when any claim is
    contradicted, else ``"not supported"``. Returns ``overall``, ``gpt`` (the smallest GPT's
    name), ``table`` (attention part), ``growth`` (growth part) and ``texts`` (one line per
    claim of the attention part).
    """
    from rvt_lib import stats

    by_kind = {}
    for name, s in specs.items():
        by_kind.setdefault(s.kind, []).append(name)
    for names in by_kind.values():
        names.sort(key=lambda n: specs[n].d_model)
    if "gpt" not in by_kind or len(by_kind) < 2:
        raise ValueError("recall_verdict: needs a GPT and at least one fixed-state model")
    gpt = by_kind.pop("gpt")[0]
    table = _claims(study, [(gpt, names[0]) for names in by_kind.values()], alpha)
    growth = _claims(study, [(names[-1], names[0]) for names in by_kind.values() if len(names) > 1], alpha)
    words = list(table["outcome"]) + list(growth["outcome"])
    supported, _, contradicted = stats.CLAIM_WORDS
    overall = (supported if all(w == supported for w in words)
               else contradicted if contradicted in words else stats.CLAIM_WORDS[1])
    return {"overall": overall, "gpt": gpt, "table": table, "growth": growth, "texts": list(table["text"])}


# ----------------------------------------------------------------------------- no training: a memory's capacity

def memory_recall(n_pairs: int, d_k: int, rule: str = "sum", n_trials: int = 200, seed: int = 0) -> float:
    """Recall accuracy of a hand-written (d_k x d_k) matrix memory holding ``n_pairs`` pairs.

    Keys and values are random unit vectors in R^{d_k}. ``rule="sum"`` (linear attention):
    S = sum_i v_i k_i^T. ``rule="delta"`` (DeltaNet with beta = 1): S <- S + (v_i - S k_i) k_i^T,
    pair by pair. A query k_j reads r = S k_j and is right when, of the stored values, v_j
    has the largest dot product with r. Mean over ``n_trials`` draws.
    """
    for name, value in (("n_pairs", n_pairs), ("d_k", d_k), ("n_trials", n_trials)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"memory_recall: {name} must be a positive int, got {value!r}")
    if rule not in ("sum", "delta"):
        raise ValueError(f"memory_recall: rule must be 'sum' or 'delta', got {rule!r}")
    g = torch.Generator().manual_seed(seed)
    unit = lambda: torch.nn.functional.normalize(                                 # noqa: E731
        torch.randn(n_trials, n_pairs, d_k, generator=g, dtype=torch.float64), dim=-1)
    k, v = unit(), unit()                                                        # (trials, N, d_k) each
    if rule == "sum":
        S = v.transpose(1, 2) @ k                                                # (trials, d_k, d_k) = sum v_i k_i^T
    else:
        S = torch.zeros(n_trials, d_k, d_k, dtype=torch.float64)
        for i in range(n_pairs):
            err = v[:, i] - (S @ k[:, i].unsqueeze(-1)).squeeze(-1)             # (trials, d_k): v_i - S k_i
            S = S + err.unsqueeze(-1) * k[:, i].unsqueeze(1)                    # + (v_i - S k_i) k_i^T
    read = S @ k.transpose(1, 2)                                                 # (trials, d_k, N): column j = S k_j
    scores = v @ read                                                            # (trials, N, N): v_i . S k_j
    return float((scores.argmax(dim=1) == torch.arange(n_pairs)).double().mean())
