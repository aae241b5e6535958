"""One model wrapper for every sequence core: ``input -> core -> LayerNorm -> head``.

The cores (RNN, GRU, LSTM, minGRU, minLSTM, GPT) all map features to features::

    y, state = core(x, state=None)     # (B, T, d) -> (B, T, d)

``SequenceModel`` adds what a task needs around that:

* the **input**: a token embedding ``(B, T) int -> (B, T, d)`` when ``vocab_size`` is
  given, else a linear projection ``(B, T, input_size) float -> (B, T, d)``;
* a final **LayerNorm** on the core's outputs;
* a **head**:

  - ``"lm"``: next-token logits at every position, ``(B, T, vocab_size)``. With a GPT
    core the output matrix *is* the token embedding (weight tying, as GPT-2);
  - ``"classify"``: pool the time axis (``"last"`` step or ``"mean"``), optionally a
    hidden ReLU layer, then ``n_out`` class logits, ``(B, n_out)``;
  - ``"regress"``: the same pooling, then ``n_out`` real values, ``(B, n_out)``;
  - ``"tag"``: per-position classification, ``n_out`` logits at every position,
    ``(B, T, n_out)`` (e.g. the state of an automaton after each symbol).

Because every core speaks the same ``(x, state)`` language, ``generate`` is written
once: feed the prompt, then one token at a time, handing the state back each step.
For a recurrent core that state has a fixed size, so each new token costs the same
time and memory however long the text gets. For the GPT the state is the key/value
cache, which grows by one entry per token until it reaches ``block_size``.

``make_model(kind, ...)`` builds any of the six cores by name inside this wrapper, bare
(the core's own stacked layers) or, with ``block="residual"``, in the GPT's pre-norm
residual block (``rvt_lib.models.blocks``). ``ModelSpec`` is a recipe for one such
model: ``spec.build(seed)`` builds it with seeded weights, ``spec.n_params()`` counts
its parameters without allocating anything, and :func:`match_parameters` finds the
width that gives a target count, so that models are compared at equal size.
"""
from __future__ import annotations

from types import MappingProxyType

import torch
import torch.nn as nn
import torch.nn.functional as F

from rvt_lib._checks import check_sequence
from rvt_lib.models.gpt import GPT, GPTConfig

HEADS = ("lm", "classify", "regress", "tag")
BLOCKS = ("bare", "residual")
POOLS = ("last", "mean")
# Every recurrent core by name: (module, core class, config class, config defaults).
# The signed min-RNNs (a in (-1, 1), Grazzi et al.) need the real-space scan; DeltaNet
# and linear attention split their width into n_head heads.
_CORES = {
    "rnn": ("rnn", "RNN", "RNNConfig", {}),
    "gru": ("gru", "GRU", "GRUConfig", {}),
    "lstm": ("lstm", "LSTM", "LSTMConfig", {}),
    "mingru": ("mingru", "MinGRU", "MinGRUConfig", {}),
    "minlstm": ("mingru", "MinLSTM", "MinLSTMConfig", {}),
    "mingru_signed": ("mingru", "MinGRU", "MinGRUConfig", {"scan": "blelloch", "transition": "signed"}),
    "minlstm_signed": ("mingru", "MinLSTM", "MinLSTMConfig", {"scan": "blelloch", "transition": "signed"}),
    "lru": ("lru", "LRU", "LRUConfig", {}),
    "deltanet": ("deltanet", "DeltaNet", "DeltaNetConfig", {}),
    "linear_attn": ("linear_attention", "LinearAttention", "LinearAttentionConfig", {}),
}
_MODED = ("mingru", "minlstm", "mingru_signed", "minlstm_signed", "lru", "deltanet", "linear_attn")
_HEADED = ("deltanet", "linear_attn")
KINDS = tuple(_CORES) + ("gpt",)
# How each kind is written in tables and legends.
KIND_NAMES = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM", "mingru": "minGRU",
              "minlstm": "minLSTM", "mingru_signed": "minGRU (signed)",
              "minlstm_signed": "minLSTM (signed)", "lru": "LRU (complex diagonal)",
              "deltanet": "DeltaNet", "linear_attn": "linear attention", "gpt": "GPT"}


class SequenceModel(nn.Module):
    """``input (embedding | projection) -> core -> LayerNorm -> head``.

    Args:
        core: any sequence core with ``input_size``, ``hidden_size`` and
            ``forward(x, state=None) -> (y, state)``.
        vocab_size: number of token ids; the input is then an integer tensor (B, T).
        input_size: number of input features; the input is then a float tensor
            (B, T, input_size). Give exactly one of ``vocab_size`` and ``input_size``.
        head: ``"lm"`` (needs ``vocab_size``), ``"classify"``, ``"regress"`` or ``"tag"``.
        n_out: classes (``"classify"`` and ``"tag"``, required) or values (``"regress"``,
            default 1).
        pool: how ``"classify"``/``"regress"`` summarise time: the ``"last"`` step's
            output, or the ``"mean"`` over all steps.
        head_hidden: if given, a hidden Linear + ReLU layer of this size before the
            pooled head's output layer.
        dropout: dropout on the embedded inputs and on the core's outputs (the
            non-recurrent connections, as in Zaremba et al. 2014). ``make_model``
            leaves this at 0 for the GPT, whose own dropout already covers both places.
    """

    def __init__(self, core: nn.Module, *, vocab_size: int | None = None,
                 input_size: int | None = None, head: str = "lm", n_out: int | None = None,
                 pool: str = "last", head_hidden: int | None = None, dropout: float = 0.0):
        super().__init__()
        if (vocab_size is None) == (input_size is None):
            raise ValueError("SequenceModel: give exactly one of vocab_size (token inputs) "
                             "and input_size (float feature inputs)")
        for name, value in (("vocab_size", vocab_size), ("input_size", input_size),
                            ("n_out", n_out), ("head_hidden", head_hidden)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"SequenceModel: {name} must be a positive integer, got {value!r}")
        if head not in HEADS:
            raise ValueError(f"SequenceModel: head must be one of {HEADS}, got {head!r}")
        if pool not in POOLS:
            raise ValueError(f"SequenceModel: pool must be one of {POOLS}, got {pool!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"SequenceModel: dropout must be in [0, 1), got {dropout}")
        if head == "lm" and vocab_size is None:
            raise ValueError("SequenceModel: head='lm' predicts tokens, so it needs vocab_size")
        if head in ("classify", "tag") and n_out is None:
            raise ValueError(f"SequenceModel: head={head!r} needs n_out (the number of classes)")
        if head == "regress" and n_out is None:
            n_out = 1

        self.core = core
        self.vocab_size = vocab_size
        self.input_size = input_size
        self.head_kind = head
        self.pool = pool
        self.n_out = vocab_size if head == "lm" else n_out
        d_in, d_hidden = core.input_size, core.hidden_size

        # input: token ids -> vectors, or features -> the core's width
        if vocab_size is not None:
            self.embed = nn.Embedding(vocab_size, d_in)
        else:
            self.embed = nn.Linear(input_size, d_in)
        self.drop = nn.Dropout(dropout)
        self.ln_f = nn.LayerNorm(d_hidden)

        if head == "lm":
            self.head = nn.Linear(d_hidden, vocab_size, bias=False)
        elif head_hidden is None:
            self.head = nn.Linear(d_hidden, n_out)
        else:
            self.head = nn.Sequential(
                nn.Linear(d_hidden, head_hidden), nn.ReLU(), nn.Dropout(dropout),
                nn.Linear(head_hidden, n_out),
            )

        if isinstance(core, GPT):
            # GPT-2 initialisation for the parts the wrapper owns, too
            for m in (self.embed, self.head):
                m.apply(GPT._init_weights)
        self.tied = head == "lm" and isinstance(core, GPT) and d_in == d_hidden
        if self.tied:
            # weight tying: the output matrix (vocab, d) IS the embedding matrix (vocab, d),
            # so a token's input vector and its output "score vector" are the same thing
            self.head.weight = self.embed.weight

    # ------------------------------------------------------------------ inputs
    def _check_input(self, x) -> None:
        if self.vocab_size is None:
            check_sequence(x, self.input_size, name="SequenceModel")
            return
        V = self.vocab_size
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"SequenceModel: expected token ids, a torch.Tensor of shape "
                            f"(batch, time) with values in [0, {V}), got {type(x).__name__}")
        if x.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"SequenceModel: expected integer (int64 or int32) token ids of shape "
                            f"(batch, time) with values in [0, {V}), got dtype {x.dtype}")
        if x.dim() != 2:
            raise ValueError(f"SequenceModel: expected token ids of shape (batch, time), "
                             f"got {tuple(x.shape)} (rank {x.dim()})")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"SequenceModel: empty input of shape {tuple(x.shape)}; "
                             f"expected (batch, time) with batch, time >= 1")
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi >= V:
            raise ValueError(f"SequenceModel: token ids must lie in [0, {V}), "
                             f"got values from {lo} to {hi}")

    # ----------------------------------------------------------------- forward
    def forward(self, x, state=None, return_state: bool = False):
        """Predict from ``x``; with ``return_state=True`` also return the core's state.

        x: token ids (B, T) or features (B, T, input_size).
        Returns logits (B, T, vocab_size) for ``"lm"``, (B, T, n_out) for ``"tag"``,
        else (B, n_out).
        """
        self._check_input(x)
        h = self.drop(self.embed(x))  # (B, T, d)
        h, state = self.core(h, state)  # (B, T, d), the state after the last step
        h = self.drop(self.ln_f(h))  # (B, T, d)
        if self.head_kind in ("lm", "tag"):
            out = self.head(h)  # (B, T, vocab_size) or (B, T, n_out)
        else:
            pooled = h[:, -1] if self.pool == "last" else h.mean(dim=1)  # (B, d)
            out = self.head(pooled)  # (B, n_out)
        return (out, state) if return_state else out

    # ---------------------------------------------------------------- generate
    @torch.no_grad()
    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None):
        """Continue the token sequences ``idx`` (B, T) by ``max_new_tokens`` sampled tokens.

        The prompt is read once; after that each step feeds only the newest token and
        the state (a fixed-size hidden state for a recurrent core, the key/value cache
        for the GPT). When the GPT's cache is full (``block_size`` positions), each
        further step re-reads the last ``block_size`` tokens instead, as nanoGPT does.

        temperature: divide the logits by it (below 1: sharper, above 1: flatter).
        top_k: sample only among the k most likely tokens (``top_k=1`` is greedy).
        generator: a ``torch.Generator`` for reproducible sampling.
        Returns (B, T + max_new_tokens) token ids. Runs in eval mode (no dropout) and
        restores the previous mode afterwards.
        """
        if self.head_kind != "lm":
            raise ValueError(f"SequenceModel.generate needs head='lm', this model has head={self.head_kind!r}")
        if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ValueError(f"generate: max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
        if not temperature > 0:
            raise ValueError(f"generate: temperature must be > 0, got {temperature}")
        if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"generate: top_k must be None or an integer >= 1, got {top_k!r}")
        self._check_input(idx)

        block_size = self.core.config.block_size if isinstance(self.core, GPT) else None
        was_training = self.training
        self.eval()
        try:
            context = idx if block_size is None else idx[:, -block_size:]
            logits, state = self(context, return_state=True)  # read the whole prompt once
            out = idx
            for step in range(max_new_tokens):
                next_id = self._sample(logits[:, -1, :], temperature, top_k, generator)  # (B, 1)
                out = torch.cat([out, next_id], dim=1)
                if step == max_new_tokens - 1:
                    break  # the last token needs no logits after it
                if block_size is not None and state[0][0].shape[2] >= block_size:
                    # the GPT has no positions left: re-read the last block_size tokens
                    logits, state = self(out[:, -block_size:], return_state=True)
                else:
                    logits, state = self(next_id, state=state, return_state=True)
        finally:
            self.train(was_training)
        return out

    @staticmethod
    def _sample(logits, temperature, top_k, generator):
        """Draw one token per row from logits (B, V). Returns (B, 1) token ids."""
        logits = logits / temperature
        if top_k is not None:
            k = min(top_k, logits.shape[-1])
            kth = torch.topk(logits, k, dim=-1).values[:, [-1]]  # (B, 1) the k-th largest
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = F.softmax(logits, dim=-1)  # (B, V)
        return torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)


def make_model(kind: str, *, vocab_size: int | None = None, input_size: int | None = None,
               d_model: int = 128, n_layer: int = 2, n_head: int = 4, block_size: int = 256,
               head: str = "lm", n_out: int | None = None, pool: str = "last",
               head_hidden: int | None = None, dropout: float = 0.0, mode: str = "parallel",
               block: str = "bare", **core_kwargs) -> SequenceModel:
    """Build a ``SequenceModel`` around the core named ``kind``.

    kind: one of :data:`KINDS`: ``"rnn" | "gru" | "lstm" | "mingru" | "minlstm" | "gpt"``
    and the state-tracking cores ``"mingru_signed" | "minlstm_signed" | "lru" |
    "deltanet" | "linear_attn"``. Every core gets width ``d_model`` and ``n_layer``
    layers. ``n_head`` is used by the GPT, DeltaNet and linear attention, ``block_size``
    by the GPT only, ``mode`` (``"parallel"`` or ``"sequential"``) by the scan-based
    cores only.
    ``block="residual"`` puts every recurrent layer in the GPT's pre-norm residual block
    with an MLP (:func:`rvt_lib.models.blocks.residual_core`; ``mlp_ratio`` may be
    given); the GPT is that block already, so it ignores ``block``. ``dropout`` goes into
    the GPT's config or the residual block for those, into the wrapper for bare
    recurrent kinds. Extra keyword arguments go to the core's config (e.g.
    ``nonlinearity="relu"`` for the RNN, ``attention="plain"`` or ``causal=False`` for
    the GPT).
    """
    if kind not in KINDS:
        raise ValueError(f"make_model: unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    if block not in BLOCKS:
        raise ValueError(f"make_model: block must be one of {BLOCKS}, got {block!r}")
    if kind in _MODED:
        core_kwargs["mode"] = mode
    if kind in _HEADED:
        core_kwargs.setdefault("num_heads", n_head)
    wrapper_dropout = 0.0
    if kind == "gpt":
        core = GPT(GPTConfig(d_model=d_model, n_layer=n_layer, n_head=n_head,
                             block_size=block_size, dropout=dropout, **core_kwargs))
    elif block == "residual":
        from rvt_lib.models.blocks import residual_core
        core = residual_core(kind, d_model=d_model, n_layer=n_layer, dropout=dropout, **core_kwargs)
    else:
        core, wrapper_dropout = _bare_core(kind, d_model, n_layer, core_kwargs), dropout
    return SequenceModel(core, vocab_size=vocab_size, input_size=input_size, head=head,
                         n_out=n_out, pool=pool, head_hidden=head_hidden, dropout=wrapper_dropout)


def _bare_core(kind: str, d_model: int, n_layer: int, core_kwargs: dict) -> nn.Module:
    """The recurrent core ``kind`` with its own ``n_layer`` stacked layers of width ``d_model``."""
    import importlib
    module, core_name, config_name, defaults = _CORES[kind]
    module = importlib.import_module(f"rvt_lib.models.{module}")
    config = getattr(module, config_name)(input_size=d_model, hidden_size=d_model,
                                          num_layers=n_layer, **{**defaults, **core_kwargs})
    return getattr(module, core_name)(config)


# ----------------------------------------------------------------------------- specs

class ModelSpec:
    """A recipe for one model: ``make_model(kind, head=head, **kwargs)``, built on demand.

        spec = ModelSpec("lstm", head="classify", input_size=1, n_out=5, d_model=64)
        model = spec.build(seed=0)            # seeded weights: the same model every time
        spec.n_params()                       # counted on the meta device, nothing allocated
        match_parameters(spec, 50_000)        # the width that gives about 50k parameters
        spec.but(d_model=32, block="residual")

    Specs are immutable (``but`` returns a new one) and compare equal when they build the
    same model, so they can key dictionaries of results.
    """

    __slots__ = ("kind", "head", "kwargs")

    def __init__(self, kind: str, head: str = "lm", **kwargs):
        if kind not in KINDS:
            raise ValueError(f"ModelSpec: unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
        if head not in HEADS:
            raise ValueError(f"ModelSpec: head must be one of {HEADS}, got {head!r}")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "head", head)
        object.__setattr__(self, "kwargs", MappingProxyType(dict(kwargs)))

    def __setattr__(self, name, value):
        raise AttributeError("ModelSpec is immutable: use spec.but(...)")

    def build(self, seed: int = 0) -> SequenceModel:
        """The model, with weights drawn from ``torch.manual_seed(seed)``."""
        torch.manual_seed(seed)
        return make_model(self.kind, head=self.head, **self.kwargs)

    def n_params(self) -> int:
        """Trainable parameters (tied weights once), counted on the meta device."""
        with torch.device("meta"):
            model = make_model(self.kind, head=self.head, **self.kwargs)
        return sum(p.numel() for p in model.parameters() if p.requires_grad)

    def but(self, **changes) -> "ModelSpec":
        """A copy with ``changes`` applied; ``kind`` and ``head`` may change too."""
        kwargs = {**self.kwargs, **changes}
        return ModelSpec(kwargs.pop("kind", self.kind), kwargs.pop("head", self.head), **kwargs)

    @property
    def name(self) -> str:
        """How the kind is written in tables: "LSTM", "minGRU", "GPT" (residual: "LSTM block")."""
        name = KIND_NAMES[self.kind]
        return f"{name} block" if self.kwargs.get("block") == "residual" and self.kind != "gpt" else name

    def __getitem__(self, key):
        return self.kwargs[key]

    def __eq__(self, other):
        return (isinstance(other, ModelSpec) and (self.kind, self.head) == (other.kind, other.head)
                and dict(self.kwargs) == dict(other.kwargs))

    def __hash__(self):
        return hash((self.kind, self.head, tuple(sorted((k, repr(v)) for k, v in self.kwargs.items()))))

    def __reduce__(self):  # pickle and deepcopy (e.g. for worker processes)
        return (_spec_from, (self.kind, self.head, dict(self.kwargs)))

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"ModelSpec({self.kind!r}, head={self.head!r}{args})"


def _spec_from(kind: str, head: str, kwargs: dict) -> ModelSpec:
    return ModelSpec(kind, head, **kwargs)


def match_parameters(spec: ModelSpec, target: int, *, tol: float = 0.05,
                     width: str = "d_model") -> ModelSpec:
    """``spec`` with the ``width`` whose trainable-parameter count is closest to ``target``.

    The count grows with the width (about quadratically), so a bisection over widths
    finds the two neighbours around ``target``; the closer wins. The GPT's ``d_model``
    moves in steps of ``n_head`` (every head needs the same integer width). Raises
    ``ValueError`` when the best count is more than ``tol`` (relative) from ``target``:
    the models would not be comparable at that size.
    """
    if isinstance(target, bool) or not isinstance(target, int) or target < 1:
        raise ValueError(f"match_parameters: target must be a positive int, got {target!r}")
    if not tol >= 0:
        raise ValueError(f"match_parameters: tol must be >= 0, got {tol}")
    headed = spec.kind == "gpt" or spec.kind in _HEADED
    step = spec.kwargs.get("n_head", 4) if headed and width == "d_model" else 1

    def count(units: int) -> int:
        return spec.but(**{width: units * step}).n_params()

    lo, hi = 1, 2
    while count(hi) < target:  # grow until the target is bracketed
        lo, hi = hi, 2 * hi
    while hi - lo > 1:         # count(lo) < target <= count(hi), or lo = 1
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) < target else (lo, mid)
    best = min((lo, hi), key=lambda u: abs(count(u) - target))
    gap = count(best) / target - 1.0
    if abs(gap) > tol:
        raise ValueError(f"match_parameters: the closest {spec.name} ({width}={best * step}) has "
                         f"{count(best):,} parameters, {100 * gap:+.1f}% from the target {target:,} "
                         f"(tolerance {100 * tol:.1f}%)")
    return spec.but(**{width: best * step})
