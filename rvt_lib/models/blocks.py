"""The GPT's residual block around any recurrent layer: compare *mixers*, not architectures.

A GPT block does two things (``models/gpt.py``)::

    x = x + attn(ln_1(x))      # mix information across time
    x = x + mlp(ln_2(x))       # think per position (d -> 4d -> GELU -> d)

A "bare" recurrent stack (``RNN``, ``LSTM``, ...) has neither the residual connections,
nor the LayerNorms, nor the MLP. So "GPT beats LSTM" could be a statement about any of
those, not about attention against recurrence. ``residual_core`` closes that gap: it
builds the *same* pre-norm block with a one-layer recurrent core in the place of the
attention::

    x = x + mixer(ln_1(x))     # mixer: a one-layer rnn | gru | lstm | mingru | minlstm
    x = x + mlp(ln_2(x))       # the GPT's MLP, same width, same GELU, same initialisation

and stacks ``n_layer`` of them. Only the sequence-mixing layer then differs from the GPT.

Parameters per block, with width ``d`` and ``mlp_ratio`` r (4 below, as the GPT), all
layers with biases:

=========================  ===============================  =============
part                       formula                          r = 4
=========================  ===============================  =============
two LayerNorms             2 * 2d                           4d
MLP (d -> rd -> d)         2r d^2 + (r + 1) d               8d^2 + 5d
mixer ``"rnn"``            2d^2 + 2d                        (W_ih, W_hh, two biases)
mixer ``"gru"``            6d^2 + 6d
mixer ``"lstm"``           8d^2 + 8d
mixer ``"mingru"``         2d^2 + 2d                        (input maps only)
mixer ``"minlstm"``        3d^2 + 3d
GPT attention (reference)  4d^2 + 4d                        (q, k, v, out)
=========================  ===============================  =============

So a GPT block holds 12d^2 + 13d, a residual LSTM block 16d^2 + 17d, a residual minGRU
block 10d^2 + 11d (:func:`block_params` computes these; the tests count them). The GPT
core adds its position table (block_size * d); a recurrent core needs none, it knows
the order of its inputs.

The core follows the library's interface ``y, state = core(x, state=None)`` with ``x``
and ``y`` of shape (B, T, d_model); ``y`` is the last block's output before any final
LayerNorm (the wrapper ``SequenceModel`` applies that, as for the GPT). ``state`` is a
list with one entry per block, each the state of that block's one-layer mixer: ``h`` of
shape (1, B, d_model), or the pair ``(h, c)`` for the LSTM. Passing it back in continues
the sequence exactly, which is how generation runs in constant memory.

Initialisation: the mixer keeps its own (PyTorch's uniform ``±1/sqrt(d)`` for the
RNN/GRU/LSTM, ``nn.Linear``'s default for minGRU/minLSTM); the MLP is initialised as in
the GPT (normal, std 0.02, biases 0, and the output projection scaled by
``1/sqrt(2 n_layer)``), so the MLP half of every block starts the same for every model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from rvt_lib._checks import check_sequence
from rvt_lib.models.gpt import GPT

MIXERS = ("rnn", "gru", "lstm", "mingru", "minlstm",                       # every recurrent kind
          "mingru_signed", "minlstm_signed", "lru", "deltanet", "linear_attn")  # of make_model
# (a, b) with mixer parameters = a d^2 + b d, for a one-layer mixer of width d with biases
MIXER_PARAMS = {"rnn": (2, 2), "gru": (6, 6), "lstm": (8, 8), "mingru": (2, 2), "minlstm": (3, 3),
                "attention": (4, 4)}
_RESERVED = ("input_size", "hidden_size", "num_layers")


@dataclass
class ResidualConfig:
    """Sizes of a residual recurrent core.

    kind:        the mixer, one of ``MIXERS``.
    d_model:     width of the residual stream (and of the mixer's state).
    n_layer:     number of blocks, each with a one-layer mixer.
    mlp_ratio:   hidden width of the MLP is ``mlp_ratio * d_model`` (4, as the GPT).
    dropout:     dropout on both residual branches (the mixer's output and the MLP's),
                 as the GPT's ``resid_dropout``.
    core_kwargs: passed to the mixer's config, e.g. ``{"mode": "sequential"}`` for minGRU
                 or ``{"nonlinearity": "relu"}`` for the RNN.
    """

    kind: str
    d_model: int
    n_layer: int
    mlp_ratio: int = 4
    dropout: float = 0.0
    core_kwargs: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in MIXERS:
            extra = " (the GPT is already built of these blocks: use kind 'gpt' itself)" if self.kind == "gpt" else ""
            raise ValueError(f"ResidualConfig: kind must be one of {', '.join(MIXERS)}, got {self.kind!r}{extra}")
        for name in ("d_model", "n_layer", "mlp_ratio"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ResidualConfig: {name} must be a positive integer, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ResidualConfig: dropout must be in [0, 1), got {self.dropout}")
        clash = [k for k in _RESERVED if k in self.core_kwargs]
        if clash:
            raise ValueError(f"ResidualConfig: {clash} are set by the block (every mixer is one layer "
                             f"of width d_model); give d_model and n_layer instead")


def block_params(kind: str, d_model: int, mlp_ratio: int = 4) -> int:
    """Trainable parameters of one residual block (``kind`` a mixer, or ``"attention"``: the GPT's).

    ``4d`` (two LayerNorms) + ``2 r d^2 + (r + 1) d`` (MLP) + the mixer's ``a d^2 + b d``.
    """
    if kind not in MIXER_PARAMS:
        raise ValueError(f"block_params: kind must be one of {', '.join(MIXER_PARAMS)}, got {kind!r}")
    a, b = MIXER_PARAMS[kind]
    d, r = d_model, mlp_ratio
    return 4 * d + (2 * r * d * d + (r + 1) * d) + (a * d * d + b * d)


def make_mixer(kind: str, d_model: int, **core_kwargs) -> nn.Module:
    """One recurrent layer of width ``d_model`` (input and state), by name: the same core
    that ``make_model`` stacks bare (one registry for both, in ``models/heads.py``)."""
    if kind not in MIXERS:
        raise ValueError(f"make_mixer: kind must be one of {', '.join(MIXERS)}, got {kind!r}")
    from rvt_lib.models.heads import _bare_core  # heads imports this module lazily too
    return _bare_core(kind, d_model, 1, core_kwargs)


class MLP(nn.Module):
    """The GPT's per-position feed-forward network: d -> r d -> GELU -> d, then dropout."""

    def __init__(self, d_model: int, mlp_ratio: int = 4, dropout: float = 0.0):
        super().__init__()
        self.c_fc = nn.Linear(d_model, mlp_ratio * d_model)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(mlp_ratio * d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):  # (B, T, d) -> (B, T, d)
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class ResidualBlock(nn.Module):
    """``x = x + mixer(ln_1(x)); x = x + mlp(ln_2(x))``; forward(x, state) -> (x, state)."""

    def __init__(self, config: ResidualConfig):
        super().__init__()
        d = config.d_model
        self.ln_1 = nn.LayerNorm(d)
        self.mixer = make_mixer(config.kind, d, **config.core_kwargs)
        self.drop = nn.Dropout(config.dropout)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = MLP(d, config.mlp_ratio, config.dropout)

    def forward(self, x, state=None):  # x: (B, T, d)
        m, state = self.mixer(self.ln_1(x), state)  # (B, T, d), this layer's last state
        x = x + self.drop(m)                        # residual connection around the mixer
        x = x + self.mlp(self.ln_2(x))              # residual connection around the MLP
        return x, state


class ResidualCore(nn.Module):
    """A stack of :class:`ResidualBlock`: ``y, state = core(x, state=None)``, (B, T, d) -> (B, T, d)."""

    def __init__(self, config: ResidualConfig):
        super().__init__()
        self.config = config
        self.input_size = self.hidden_size = config.d_model
        self.num_layers = config.n_layer
        self.blocks = nn.ModuleList(ResidualBlock(config) for _ in range(config.n_layer))
        std = 0.02 / math.sqrt(2 * config.n_layer)  # as the GPT's residual projections
        for block in self.blocks:
            block.mlp.apply(GPT._init_weights)
            nn.init.normal_(block.mlp.c_proj.weight, mean=0.0, std=std)

    def _check_state(self, state) -> list:
        n = self.config.n_layer
        if state is None:
            return [None] * n
        if not isinstance(state, (list, tuple)) or len(state) != n:
            got = type(state).__name__ + (f" of length {len(state)}" if isinstance(state, (list, tuple)) else "")
            one = "(h, c), each (1, batch, d_model)" if self.config.kind == "lstm" else "h of shape (1, batch, d_model)"
            raise ValueError(f"ResidualCore: state must be a list of {n} per-block states, each {one}; got {got}")
        return list(state)

    def forward(self, x: torch.Tensor, state=None):
        """x: (B, T, d_model) float; state: None or the list returned by a previous call."""
        check_sequence(x, self.config.d_model, name="ResidualCore")
        new_state = []
        for block, s in zip(self.blocks, self._check_state(state)):
            x, s = block(x, s)  # (B, T, d), the mixer's state after the last step
            new_state.append(s)
        return x, new_state


def residual_core(kind: str, *, d_model: int, n_layer: int, mlp_ratio: int = 4, dropout: float = 0.0,
                  **core_kwargs) -> ResidualCore:
    """``n_layer`` pre-norm residual blocks around one-layer ``kind`` mixers (see the module docstring).

    kind: ``"rnn" | "gru" | "lstm" | "mingru" | "minlstm"``; other keywords go to the
    mixer's config (e.g. ``mode="sequential"`` for minGRU/minLSTM).
    """
    return ResidualCore(ResidualConfig(kind, d_model, n_layer, mlp_ratio, dropout, dict(core_kwargs)))
