"""A nanoGPT-style Transformer decoder, written as a sequence *core*.

The core follows the one interface shared by every model in this library
(see ``CONTRIBUTING.md``)::

    y, state = core(x, state=None)
    #   x     : (B, T, d_model) float features, already embedded by the wrapper
    #   y     : (B, T, d_model) the last block's output, BEFORE the final LayerNorm
    #   state : the key/value cache, a list with one (k, v) pair per block,
    #           each of shape (B, n_head, T_so_far, head_dim)

What lives where:

* The token embedding, the final LayerNorm and the language-model head belong to
  the wrapper (``rvt_lib.models.heads.SequenceModel``), so that the very same
  wrapper sits around an RNN, an LSTM, a minGRU or this GPT.
* The learned *position* embedding lives here, because only the core knows how many
  positions it has already seen: with a cache of length ``P`` the new inputs sit at
  positions ``P, P + 1, ..., P + T - 1``.

Each block is "pre-LayerNorm" (as GPT-2)::

    x = x + attn(ln_1(x))      # tokens talk to each other
    x = x + mlp(ln_2(x))       # each token thinks on its own (4x wide, GELU)

Self-attention comes in two versions that compute the same function:

* ``attention="plain"``: the formula written out, ``softmax(q k^T / sqrt(d) + mask) v``.
  Read this one.
* ``attention="fast"``: ``torch.nn.functional.scaled_dot_product_attention`` (fused
  kernels: FlashAttention on a GPU, a memory-efficient kernel on the CPU). Run this one.

The key/value cache is what makes generation cheap: at every new token only its own
query, key and value are computed; the keys and values of the earlier tokens are
reused from the cache. Unlike a recurrent state, the cache *grows* by one entry per
token, and the learned position table stops at ``block_size``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from rvt_lib._checks import check_sequence

ATTENTIONS = ("fast", "plain")


@dataclass
class GPTConfig:
    """Sizes and switches of the GPT core.

    d_model:    width of every token vector (the residual stream).
    n_layer:    number of Transformer blocks.
    n_head:     attention heads per block; ``d_model`` must be divisible by it.
    block_size: the longest context, i.e. the number of learned positions.
    dropout:    dropout after the position embedding, on attention weights and on
                every residual branch (0.0 for deterministic runs).
    bias:       biases in the Linear layers and LayerNorms (GPT-2 has them).
    attention:  ``"fast"`` (PyTorch's fused kernel) or ``"plain"`` (written out).
    causal:     True for a decoder (position t sees only positions <= t); False for
                bidirectional attention, e.g. to classify a whole sequence.
    mlp:        False drops the feed-forward sub-layer, leaving attention-only blocks.
    positions:  False drops the learned position embedding (NoPE, Kazemnejad et al. 2023):
                attention then sees only the tokens, and with ``causal=True`` the mask is
                all that tells positions apart (Haviv et al. 2022).
    """

    d_model: int = 128
    n_layer: int = 2
    n_head: int = 4
    block_size: int = 256
    dropout: float = 0.0
    bias: bool = True
    attention: str = "fast"
    causal: bool = True
    mlp: bool = True
    positions: bool = True

    def __post_init__(self):
        for name in ("d_model", "n_layer", "n_head", "block_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig: {name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_head != 0:
            raise ValueError(
                f"GPTConfig: d_model={self.d_model} must be divisible by n_head={self.n_head}"
            )
        if self.attention not in ATTENTIONS:
            raise ValueError(
                f"GPTConfig: attention must be one of {ATTENTIONS}, got {self.attention!r}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig: dropout must be in [0, 1), got {self.dropout}")


def causal_mask(T: int, P: int, device=None) -> torch.Tensor:
    """Which keys each query may look at, when ``P`` positions are already cached.

    Query ``i`` sits at absolute position ``P + i`` and may look at key ``j`` iff
    ``j <= P + i``. Returns a bool tensor of shape (T, P + T), True = allowed; with
    ``P = 0`` it is the familiar lower triangle.
    """
    return torch.ones(T, P + T, dtype=torch.bool, device=device).tril(diagonal=P)


class SelfAttention(nn.Module):
    """Multi-head self-attention with an optional key/value cache.

    One Linear layer makes queries, keys and values for all heads at once; the heads
    work side by side on ``head_dim = d_model / n_head`` slices; a second Linear layer
    mixes the heads' outputs back into the residual stream.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.head_dim = config.d_model // config.n_head
        self.causal = config.causal
        self.attention = config.attention
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.d_model, 3 * config.d_model, bias=config.bias)  # q, k, v
        self.c_proj = nn.Linear(config.d_model, config.d_model, bias=config.bias)  # heads -> stream
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, cache=None):
        """x: (B, T, C); cache: None or (k, v), each (B, nh, P, hd). Returns y, (k, v)."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)  # 3 x (B, T, C)
        # split C into heads: (B, T, C) -> (B, T, nh, hd) -> (B, nh, T, hd)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        k = k.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        v = v.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        if cache is not None:  # the new keys/values go after the cached ones
            k = torch.cat([cache[0], k], dim=2)  # (B, nh, P + T, hd)
            v = torch.cat([cache[1], v], dim=2)  # (B, nh, P + T, hd)
        P = k.shape[2] - T  # how many positions came before this chunk

        if self.attention == "plain":
            att = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)  # (B, nh, T, P + T)
            if self.causal:
                mask = causal_mask(T, P, x.device)  # (T, P + T)
                att = att.masked_fill(~mask, float("-inf"))  # forbidden pairs get weight 0
            att = F.softmax(att, dim=-1)  # each row sums to 1
            att = self.attn_dropout(att)
            y = att @ v  # (B, nh, T, P + T) @ (B, nh, P + T, hd) -> (B, nh, T, hd)
        else:
            dropout_p = self.dropout if self.training else 0.0
            if not self.causal or T == 1:
                # no mask needed: bidirectional, or one new query that may see every key
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
            elif P == 0:
                # the square causal case: let the kernel build the triangle itself
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
            else:
                # a chunk after a cache: the triangle is shifted right by P
                y = F.scaled_dot_product_attention(
                    q, k, v, attn_mask=causal_mask(T, P, x.device), dropout_p=dropout_p
                )

        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again: (B, T, C)
        y = self.resid_dropout(self.c_proj(y))
        return y, (k, v)


class MLP(nn.Module):
    """The per-token feed-forward network: C -> 4C -> GELU -> C."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.d_model, 4 * config.d_model, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.d_model, config.d_model, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):  # (B, T, C) -> (B, T, C)
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """One pre-LayerNorm Transformer block (attention, then optionally the MLP)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.d_model, bias=config.bias)
        self.attn = SelfAttention(config)
        if config.mlp:
            self.ln_2 = nn.LayerNorm(config.d_model, bias=config.bias)
            self.mlp = MLP(config)
        else:
            self.ln_2 = None
            self.mlp = None

    def forward(self, x, cache=None):  # x: (B, T, C)
        a, cache = self.attn(self.ln_1(x), cache)
        x = x + a  # residual connection around attention
        if self.mlp is not None:
            x = x + self.mlp(self.ln_2(x))  # residual connection around the MLP
        return x, cache


class GPT(nn.Module):
    """The GPT core: position embedding + a stack of Transformer blocks.

    ``forward(x, state=None) -> (y, state)`` with ``x`` of shape (B, T, d_model) and
    ``state`` the key/value cache (see the module docstring). The final LayerNorm is
    not here: the wrapper applies it, as it does for every other core.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.input_size = config.d_model
        self.hidden_size = config.d_model
        # learned positions (None without them: NoPE)
        self.wpe = nn.Embedding(config.block_size, config.d_model) if config.positions else None
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])

        # nanoGPT / GPT-2 initialisation: every weight ~ N(0, 0.02), biases 0 ...
        self.apply(self._init_weights)
        # ... and the projections that write into the residual stream scaled down by
        # sqrt(number of residual branches), so the stream's variance does not grow
        # with depth.
        n_branches = config.n_layer * (2 if config.mlp else 1)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(n_branches))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def _check_cache(self, state, batch: int) -> int:
        """Validate a key/value cache and return its length P (0 when state is None)."""
        if state is None:
            return 0
        c = self.config
        hd = c.d_model // c.n_head
        expected = f"a list of {c.n_layer} (k, v) pairs, each of shape ({batch}, {c.n_head}, P, {hd})"
        if not isinstance(state, (list, tuple)) or len(state) != c.n_layer:
            raise ValueError(f"GPT: state must be {expected}; got {type(state).__name__}"
                             + (f" of length {len(state)}" if isinstance(state, (list, tuple)) else ""))
        P = None
        for i, pair in enumerate(state):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise ValueError(f"GPT: state must be {expected}; block {i} holds {type(pair).__name__}")
            for t in pair:
                if not isinstance(t, torch.Tensor):
                    raise TypeError(f"GPT: state must be {expected}; block {i} holds {type(t).__name__}")
                if t.dim() != 4 or (t.shape[0], t.shape[1], t.shape[3]) != (batch, c.n_head, hd):
                    raise ValueError(f"GPT: state must be {expected}; block {i} has shape {tuple(t.shape)}")
                if P is None:
                    P = t.shape[2]
                elif t.shape[2] != P:
                    raise ValueError(f"GPT: state must be {expected} with the same P everywhere; "
                                     f"got P = {P} and {t.shape[2]}")
        return P

    def forward(self, x, state=None):
        """x: (B, T, d_model) float. Returns y (B, T, d_model) and the updated cache."""
        check_sequence(x, self.config.d_model, name="GPT")
        B, T, _ = x.shape
        P = self._check_cache(state, B)
        if P + T > self.config.block_size:
            raise ValueError(
                f"GPT: positions {P}..{P + T - 1} exceed block_size={self.config.block_size} "
                f"(cache length {P} + new time steps {T}); feed at most the last "
                f"{self.config.block_size} positions (generate() does this for you)"
            )
        pos = torch.arange(P, P + T, device=x.device)  # (T,) absolute positions
        if self.wpe is not None:
            x = x + self.wpe(pos)  # (B, T, C) + (T, C) -> (B, T, C)
        x = self.drop(x)
        new_state = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, None if state is None else state[i])
            new_state.append(kv)
        return x, new_state  # (B, T, C), [(k, v)] * n_layer
