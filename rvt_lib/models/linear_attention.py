"""Linear attention is an RNN with a matrix state (Katharopoulos et al., 2020).

Softmax attention reads ``y_t = sum_{s<=t} softmax_s(q_t . k_s) v_s``: every past key and
value is kept (the key/value cache grows with t). Drop the softmax and the sum factorises:

    y_t = sum_{s<=t} (q_t . k_s) v_s = (sum_{s<=t} v_s k_s^T) q_t = S_t q_t

with the (d_v x d_k) matrix ``S_t = S_{t-1} + v_t k_t^T``. That is a recurrence with a
fixed-size state: linear attention *is* an RNN (this module's sequential mode), and the
same numbers come out of the attention-like parallel form

    Y = (M * Q K^T) V,     M_ts = 1 if s <= t else 0     (the causal mask)

(this module's parallel mode; O(T^2) work but all matrix multiplies, like a GPT). An
initial state S_0 adds ``S_0 q_t`` to every output, so chunks continue exactly.

Decay: the minGRU / Mamba-2 family. Multiply the old state by a gate before writing:

    scalar decay    S_t = gamma_t S_{t-1} + v_t k_t^T,           gamma_t in (0, 1) per head
    diagonal decay  S_t = S_{t-1} diag(gamma_t) + v_t k_t^T,     gamma_t in (0, 1)^{d_k}

Unrolling gives ``S_t = sum_{s<=t} (prod_{s<r<=t} gamma_r) v_s k_s^T``, so the parallel form
only changes the mask: ``Y = (D * Q K^T) V`` with the *decay matrix*
``D_ts = prod_{s<r<=t} gamma_r = exp(c_t - c_s)`` for s <= t (0 above the diagonal),
c = cumsum(log gamma). Scalar decay is Mamba-2's SSD ("structured masked attention"); with
d_k = 1 and q = k = 1 it is exactly the elementwise recurrence h_t = gamma_t h_{t-1} + v_t of
minGRU (gamma = 1 - z, v = z * h~): minGRU is linear attention with a one-dimensional key
per channel (the tests check this). Diagonal decay is GLA's (gated linear attention); its
decay matrix has one entry per key feature, D_tsj = exp(c_tj - c_sj), a (T, T, d_k)
tensor per head: fine for short sequences, but on a CPU that parallel form is slower
than the loop (about 7x at B=32, T=64, hidden 64, 4 heads, two layers, forward + backward,
one thread), while without decay or with a scalar decay the parallel form is the faster
one (about 3x), being plain matrix multiplies.

The delta rule: DeltaNet. Instead of adding v_t k_t^T, *correct* what the state already
returns for k_t: with the prediction S_{t-1} k_t and a step size beta_t,

    S_t = S_{t-1} + beta_t (v_t - S_{t-1} k_t) k_t^T = S_{t-1} (I - beta_t k_t k_t^T) + beta_t v_t k_t^T

i.e. linear attention writing the value ``beta_t (v_t - S_{t-1} k_t)``, or a recurrence whose
transition is the generalised Householder matrix I - beta k k^T instead of a scalar or a
diagonal. That is :mod:`rvt_lib.models.deltanet` (its tests check the identity).

The layer: q, k, v = Linear(x) split into ``num_heads`` heads (q and k L2-normalised per head
by default, so ``|q . k| <= 1`` and the state grows at most linearly), decay gates
gamma = sigmoid(Linear(x)), y = Linear_out(concat of heads of S_t q_t). The state is
``(num_layers, batch, num_heads, d_v, d_k)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from rvt_lib._checks import MODES, check_sequence, resolve_mode

DECAYS = ("none", "scalar", "diagonal")

__all__ = ["LinearAttention", "LinearAttentionConfig", "linear_attention_sequential",
           "linear_attention_parallel"]


@dataclass
class LinearAttentionConfig:
    input_size: int
    hidden_size: int
    num_heads: int = 1
    num_layers: int = 1
    mode: str = "parallel"  # "parallel" (masked attention form) | "sequential" (matrix-state RNN)
    decay: str = "none"     # "none" | "scalar" (per head, Mamba-2) | "diagonal" (per key feature, GLA)
    qk_norm: bool = True    # L2-normalise q and k per head
    bias: bool = True

    def __post_init__(self):
        name = type(self).__name__
        for field in ("input_size", "hidden_size", "num_heads", "num_layers"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: {field} must be a positive int, got {value!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"{name}: hidden_size ({self.hidden_size}) must be divisible by "
                             f"num_heads ({self.num_heads})")
        if self.mode not in MODES:
            raise ValueError(f"{name}: mode must be 'parallel' or 'sequential', got {self.mode!r}")
        if self.decay not in DECAYS:
            raise ValueError(f"{name}: decay must be 'none', 'scalar' or 'diagonal', got {self.decay!r}")


# ---------------------------------------------------------------------------------------
# The two forms, on (batch, heads, time, features) tensors
# ---------------------------------------------------------------------------------------

def _decay_of(log_gamma, dk):
    """log gamma as (B, H, T, 1) (scalar) or (B, H, T, dk) (diagonal); None for no decay."""
    if log_gamma is None:
        return None
    return log_gamma.unsqueeze(-1) if log_gamma.dim() == 3 else log_gamma


def linear_attention_sequential(q, k, v, log_gamma=None, S0=None):
    """The matrix-state RNN: ``S_t = gamma_t * S_{t-1} + v_t k_t^T``, ``y_t = S_t q_t``.

    q, k: (B, H, T, dk); v: (B, H, T, dv); log_gamma: None (no decay), (B, H, T) (scalar
    per head) or (B, H, T, dk) (diagonal over the key features; must be <= 0 for a decay);
    S0: (B, H, dv, dk) or None (zeros). Returns y (B, H, T, dv) and S_T (B, H, dv, dk).
    """
    B, H, T, dk = k.shape
    S = q.new_zeros(B, H, v.shape[-1], dk) if S0 is None else S0          # (B, H, dv, dk)
    lg = _decay_of(log_gamma, dk)
    ys = []
    for t in range(T):
        if lg is not None:
            S = S * torch.exp(lg[:, :, t]).unsqueeze(-2)                  # decay the key columns
        S = S + v[:, :, t].unsqueeze(-1) * k[:, :, t].unsqueeze(-2)       # + v_t k_t^T
        ys.append(torch.einsum("bhvk,bhk->bhv", S, q[:, :, t]))           # S_t q_t: (B, H, dv)
    return torch.stack(ys, dim=2), S                                      # (B, H, T, dv), (B, H, dv, dk)


def linear_attention_parallel(q, k, v, log_gamma=None, S0=None):
    """The attention-like form ``Y = (D * Q K^T) V (+ S_0 terms)``; same arguments as the loop.

    D is the causal mask (no decay) or the decay matrix exp(c_t - c_s) for s <= t with
    c = cumsum(log gamma) (per key feature for a diagonal decay, so the scores are then a
    sum over features inside the mask: a (B, H, T, T, dk) tensor, fine for the short
    sequences of the book). Entries above the diagonal are set to -inf *before* the exp,
    so they are exact zeros and never overflow.
    """
    B, H, T, dk = k.shape
    causal = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()   # (T, T): s <= t
    lg = _decay_of(log_gamma, dk)
    if lg is None:
        scores = (q @ k.transpose(-1, -2)).masked_fill(~causal, 0.0)      # (B, H, T, T)
        y = scores @ v                                                    # (B, H, T, dv)
        q_state, k_end = q, k                                             # what S0 and S_T see
    else:
        c = torch.cumsum(lg, dim=2)                                       # (B, H, T, 1 or dk)
        diff = c.unsqueeze(3) - c.unsqueeze(2)                            # (B, H, T, T, .): c_t - c_s
        decay = diff.masked_fill(~causal[:, :, None], float("-inf")).exp()  # D_ts(j), 0 for s > t
        if lg.shape[-1] == 1:                                             # scalar: D * Q K^T
            scores = (q @ k.transpose(-1, -2)) * decay.squeeze(-1)        # (B, H, T, T)
        else:                                                             # diagonal: sum_j q_tj k_sj D_tsj
            scores = torch.einsum("bhtj,bhsj,bhtsj->bhts", q, k, decay)   # (B, H, T, T)
        y = scores @ v                                                    # (B, H, T, dv)
        q_state = q * torch.exp(c)                                        # S0 decayed up to t
        k_end = k * torch.exp(c[:, :, -1:] - c)                           # decay from s to the end
    S_T = torch.einsum("bhsv,bhsk->bhvk", v, k_end)                       # sum_s v_s k_s^T (decayed)
    if S0 is not None:
        y = y + torch.einsum("bhvk,bhtk->bhtv", S0, q_state)
        S_T = S_T + (S0 if lg is None else S0 * torch.exp(c[:, :, -1]).unsqueeze(-2))
    return y, S_T                                                         # (B, H, T, dv), (B, H, dv, dk)


def check_matrix_state(state, shape: tuple, dtype, name: str) -> None:
    """A matrix state must be a tensor of exactly ``shape`` (num_layers, batch, heads, d_v, d_k) and ``dtype``."""
    if not isinstance(state, torch.Tensor):
        raise TypeError(f"{name}: state must be a torch.Tensor of shape {shape} "
                        f"(num_layers, batch, heads, d_v, d_k), got {type(state).__name__}")
    if tuple(state.shape) != tuple(shape):
        raise ValueError(f"{name}: state must have shape {tuple(shape)} (num_layers, batch, heads, d_v, d_k), "
                         f"got {tuple(state.shape)}")
    if state.dtype != dtype:
        raise TypeError(f"{name}: state must have the dtype of x ({dtype}), got {state.dtype}")


# ---------------------------------------------------------------------------------------
# The layer and the stacked core
# ---------------------------------------------------------------------------------------

class LinearAttentionLayer(nn.Module):
    """One layer: x (B, T, I), S0 (B, nh, d, d) or None -> y (B, T, H), S_T (B, nh, d, d)."""

    def __init__(self, input_size: int, hidden_size: int, num_heads: int, decay: str,
                 qk_norm: bool = True, bias: bool = True):
        super().__init__()
        self.num_heads, self.head_dim, self.decay, self.qk_norm = num_heads, hidden_size // num_heads, decay, qk_norm
        self.qkv = nn.Linear(input_size, 3 * hidden_size, bias=bias)
        n_gates = {"none": 0, "scalar": num_heads, "diagonal": hidden_size}[decay]
        self.gate = nn.Linear(input_size, n_gates, bias=True) if n_gates else None
        if self.gate is not None:
            nn.init.constant_(self.gate.bias, 3.0)                        # gamma about 0.95 at the start
        self.out = nn.Linear(hidden_size, hidden_size, bias=bias)

    def heads(self, x):
        """(B, T, nh * d) -> (B, nh, T, d)."""
        B, T, _ = x.shape
        return x.view(B, T, self.num_heads, -1).transpose(1, 2)

    def forward(self, x, S0, mode: str):
        q, k, v = (self.heads(u) for u in self.qkv(x).chunk(3, dim=-1))  # (B, nh, T, d) each
        if self.qk_norm:
            q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        log_gamma = None
        if self.gate is not None:
            log_gamma = self.heads(-F.softplus(-self.gate(x)))           # log sigmoid: (B, nh, T, 1 or d)
            log_gamma = log_gamma.squeeze(-1) if self.decay == "scalar" else log_gamma
        fn = linear_attention_parallel if mode == "parallel" else linear_attention_sequential
        y, S = fn(q, k, v, log_gamma, S0)                                 # (B, nh, T, d), (B, nh, d, d)
        B, _, T, _ = y.shape
        return self.out(y.transpose(1, 2).reshape(B, T, -1)), S          # (B, T, H)


class LinearAttention(nn.Module):
    """Stacked linear-attention layers: ``y, S = LinearAttention(cfg)(x, state)``.

    x (batch, time, input_size) -> y (batch, time, hidden_size); state
    (num_layers, batch, num_heads, head_dim, head_dim) or None (zeros). ``mode`` overrides
    ``config.mode`` for one call.
    """

    def __init__(self, config: LinearAttentionConfig):
        super().__init__()
        self.config = config
        self.input_size, self.hidden_size, self.num_layers = config.input_size, config.hidden_size, config.num_layers
        self.layers = nn.ModuleList(
            LinearAttentionLayer(config.input_size if i == 0 else config.hidden_size, config.hidden_size,
                                 config.num_heads, config.decay, config.qk_norm, config.bias)
            for i in range(config.num_layers))

    def state_shape(self, batch: int) -> tuple:
        d = self.hidden_size // self.config.num_heads
        return (self.num_layers, batch, self.config.num_heads, d, d)

    def forward(self, x, state=None, mode: str | None = None):
        name = type(self).__name__
        mode = resolve_mode(mode, self.config.mode, name)
        check_sequence(x, self.input_size, name)
        if state is not None:
            check_matrix_state(state, self.state_shape(x.shape[0]), x.dtype, name)
        h, states = x, []
        for i, layer in enumerate(self.layers):
            h, S = layer(h, None if state is None else state[i], mode)     # (B, T, H)
            states.append(S)
        return h, torch.stack(states)                                     # (B, T, H), (L, B, nh, d, d)
