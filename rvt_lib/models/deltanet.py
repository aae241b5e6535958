"""DeltaNet: a linear RNN with a non-diagonal (generalised Householder) transition.

The delta rule (Schlag et al., 2021; Yang et al., 2024, "Parallelizing Linear Transformers
with the Delta Rule over Sequence Length") keeps a matrix state S (d_v x d_k), like linear
attention (:mod:`rvt_lib.models.linear_attention`), but instead of adding v_t k_t^T it
corrects what the state currently returns for the key k_t:

    S_t = S_{t-1} + beta_t (v_t - S_{t-1} k_t) k_t^T = S_{t-1} (I - beta_t k_t k_t^T) + beta_t v_t k_t^T
    y_t = S_t q_t

With ||k_t|| = 1 the transition A_t = I - beta_t k_t k_t^T has the eigenvalue 1 - beta_t
(eigenvector k_t) and 1 on the orthogonal complement. The original DeltaNet takes
beta_t in [0, 1], so every eigenvalue is in [0, 1]; Grazzi et al. (ICLR 2025) show that
beta_t in [0, 2], i.e. eigenvalues in [-1, 1] (beta = 2 is a reflection), lets it solve
parity and, since products of such matrices are not diagonal, track non-abelian groups.
Here beta_t = beta_max * sigmoid(Linear_beta(x_t)) per head with
``beta_max = 2`` (``beta_range="signed"``, the default) or 1 (``"positive"``).

Two modes compute the same numbers:

* ``mode="sequential"``: the loop above, :func:`delta_rule_sequential`. O(T d_k d_v) work,
  T dependent steps.
* ``mode="parallel"``: :func:`delta_rule_chunked`, exact and parallel over time inside a
  chunk. One step is the affine map S -> S A_t + W_t (W_t = beta_t v_t k_t^T), and two such
  maps compose into one: (A1, W1) then (A2, W2) is (A1 A2, W1 A2 + W2), an associative
  operator on (matrix, matrix) pairs, the matrix analogue of ``rvt_lib.scan.combine``.
  Inside each chunk of C steps a Hillis-Steele scan over these pairs gives every prefix
  (A*_t, W*_t) in ceil(log2 C) rounds of batched matrix multiplies; then
  S_t = S_start A*_t + W*_t and the last S_t starts the next chunk.

  Cost: each round multiplies C pairs of d_k x d_k and d_v x d_k matrices, so a chunk
  costs O(C log C d_k^2 (d_k + d_v)) work and O(C d_k (d_k + d_v)) memory, against
  O(C d_k d_v) for the loop: about (d_k log2 C) times more arithmetic, in exchange for
  T / C * log2 C dependent steps instead of T. The WY/UT form of Yang et al. avoids the
  d_k^3 products (O(T (C d + d^2)) work, with the Householder products kept in a low-rank
  "WY" form) and is what GPU kernels use; this form is simpler, exact, and shows the
  associative structure directly. Keep C modest (default 16) and d_k small. On a CPU
  the extra arithmetic is not paid back: at B=32, T=64, hidden 64, 4 heads (d_k = 16),
  two layers, forward + backward on one thread, the chunked mode took about 3x as long as
  the loop (C = 8 or 16), so CPU experiments should use ``mode="sequential"``.

The layer: q, k, v = Linear(x) split into heads, q and k L2-normalised per head (so
``||k|| = 1`` and ``|q . k| <= 1``), y = Linear_out(concat of heads of S_t q_t); the state is
``(num_layers, batch, num_heads, d_v, d_k)`` with d_v = d_k = hidden_size / num_heads.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from rvt_lib._checks import MODES, check_sequence, resolve_mode
from rvt_lib.models.linear_attention import check_matrix_state

BETA_RANGES = {"signed": 2.0, "positive": 1.0}

__all__ = ["DeltaNet", "DeltaNetConfig", "delta_rule_sequential", "delta_rule_chunked"]


@dataclass
class DeltaNetConfig:
    input_size: int
    hidden_size: int
    num_heads: int = 1
    num_layers: int = 1
    mode: str = "parallel"        # "parallel" (chunked associative scan) | "sequential" (loop)
    chunk_size: int = 16          # parallel mode: steps per chunk
    beta_range: str = "signed"    # "signed": beta in [0, 2], eigenvalues in [-1, 1] | "positive": [0, 1]
    bias: bool = True

    def __post_init__(self):
        name = type(self).__name__
        for field in ("input_size", "hidden_size", "num_heads", "num_layers", "chunk_size"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: {field} must be a positive int, got {value!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"{name}: hidden_size ({self.hidden_size}) must be divisible by "
                             f"num_heads ({self.num_heads})")
        if self.mode not in MODES:
            raise ValueError(f"{name}: mode must be 'parallel' or 'sequential', got {self.mode!r}")
        if self.beta_range not in BETA_RANGES:
            raise ValueError(f"{name}: beta_range must be 'signed' or 'positive', got {self.beta_range!r}")


# ---------------------------------------------------------------------------------------
# The two forms, on (batch, heads, time, features) tensors
# ---------------------------------------------------------------------------------------

def delta_rule_sequential(q, k, v, beta, S0=None):
    """The loop: ``S_t = S_{t-1} + beta_t (v_t - S_{t-1} k_t) k_t^T``, ``y_t = S_t q_t``.

    q, k: (B, H, T, dk) (k of unit norm for the eigenvalue statements, not required here);
    v: (B, H, T, dv); beta: (B, H, T); S0: (B, H, dv, dk) or None (zeros).
    Returns y (B, H, T, dv) and S_T (B, H, dv, dk).
    """
    B, H, T, dk = k.shape
    S = q.new_zeros(B, H, v.shape[-1], dk) if S0 is None else S0          # (B, H, dv, dk)
    ys = []
    for q_t, k_t, v_t, b_t in zip(q.unbind(2), k.unbind(2), v.unbind(2), beta.unbind(2)):
        pred = torch.einsum("bhvk,bhk->bhv", S, k_t)                       # S_{t-1} k_t: (B, H, dv)
        S = S + (b_t[..., None] * (v_t - pred)).unsqueeze(-1) * k_t.unsqueeze(-2)
        ys.append(torch.einsum("bhvk,bhk->bhv", S, q_t))                   # S_t q_t
    return torch.stack(ys, dim=2), S


def _combine(left, right):
    """(A1, W1) then (A2, W2) = (A1 A2, W1 A2 + W2): S -> S A + W composed, left first."""
    A1, W1 = left
    A2, W2 = right
    return A1 @ A2, W1 @ A2 + W2


def _prefix_scan(A, W):
    """Inclusive Hillis-Steele scan over dim 2 of (A (.., C, dk, dk), W (.., C, dv, dk)) pairs."""
    C = A.shape[2]
    shift = 1
    while shift < C:
        eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device).expand_as(A[:, :, :shift])
        A_prev = torch.cat([eye, A[:, :, :-shift]], dim=2)                # identity (I, 0) before the start
        W_prev = torch.cat([torch.zeros_like(W[:, :, :shift]), W[:, :, :-shift]], dim=2)
        A, W = _combine((A_prev, W_prev), (A, W))
        shift *= 2
    return A, W


def delta_rule_chunked(q, k, v, beta, S0=None, chunk_size: int = 16):
    """The same as :func:`delta_rule_sequential`, exact, by an associative scan per chunk.

    Inside a chunk every prefix map (A*_t, W*_t) = (A_0 ... A_t, ...) comes from
    :func:`_prefix_scan`; S_t = S_start A*_t + W*_t. Same arguments and returns as the loop.
    """
    B, H, T, dk = k.shape
    S = q.new_zeros(B, H, v.shape[-1], dk) if S0 is None else S0          # (B, H, dv, dk)
    eye = torch.eye(dk, dtype=k.dtype, device=k.device)
    ys = []
    for qc, kc, vc, bc in zip(*(u.split(chunk_size, dim=2) for u in (q, k, v, beta))):
        bk = bc[..., None] * kc                                           # beta k: (B, H, C, dk)
        A = eye - bk.unsqueeze(-1) * kc.unsqueeze(-2)                     # I - beta k k^T: (B, H, C, dk, dk)
        W = vc.unsqueeze(-1) * bk.unsqueeze(-2)                           # beta v k^T: (B, H, C, dv, dk)
        A, W = _prefix_scan(A, W)                                         # prefixes within the chunk
        S_all = S.unsqueeze(2) @ A + W                                    # S_t: (B, H, C, dv, dk)
        ys.append((S_all @ qc.unsqueeze(-1)).squeeze(-1))                 # S_t q_t: (B, H, C, dv)
        S = S_all[:, :, -1]
    return torch.cat(ys, dim=2), S


# ---------------------------------------------------------------------------------------
# The layer and the stacked core
# ---------------------------------------------------------------------------------------

class DeltaNetLayer(nn.Module):
    """One layer: x (B, T, I), S0 (B, nh, d, d) or None -> y (B, T, H), S_T (B, nh, d, d)."""

    def __init__(self, input_size: int, hidden_size: int, num_heads: int, beta_max: float, bias: bool = True):
        super().__init__()
        self.num_heads, self.beta_max = num_heads, beta_max
        self.qkv = nn.Linear(input_size, 3 * hidden_size, bias=bias)
        self.beta = nn.Linear(input_size, num_heads)
        self.out = nn.Linear(hidden_size, hidden_size, bias=bias)

    def heads(self, x):
        """(B, T, nh * d) -> (B, nh, T, d)."""
        B, T, _ = x.shape
        return x.view(B, T, self.num_heads, -1).transpose(1, 2)

    def coefficients(self, x):
        """q, k (unit norm), v: (B, nh, T, d); beta: (B, nh, T) in (0, beta_max)."""
        q, k, v = (self.heads(u) for u in self.qkv(x).chunk(3, dim=-1))
        beta = self.beta_max * torch.sigmoid(self.beta(x)).transpose(1, 2)   # (B, nh, T)
        return F.normalize(q, dim=-1), F.normalize(k, dim=-1), v, beta

    def forward(self, x, S0, mode: str, chunk_size: int):
        q, k, v, beta = self.coefficients(x)
        if mode == "parallel":
            y, S = delta_rule_chunked(q, k, v, beta, S0, chunk_size)
        else:
            y, S = delta_rule_sequential(q, k, v, beta, S0)               # (B, nh, T, d), (B, nh, d, d)
        B, _, T, _ = y.shape
        return self.out(y.transpose(1, 2).reshape(B, T, -1)), S          # (B, T, H)


class DeltaNet(nn.Module):
    """Stacked DeltaNet layers: ``y, S = DeltaNet(DeltaNetConfig(I, H))(x, state)``.

    x (batch, time, input_size) -> y (batch, time, hidden_size); state
    (num_layers, batch, num_heads, head_dim, head_dim) or None (zeros). ``mode`` overrides
    ``config.mode`` for one call.
    """

    def __init__(self, config: DeltaNetConfig):
        super().__init__()
        self.config = config
        self.input_size, self.hidden_size, self.num_layers = config.input_size, config.hidden_size, config.num_layers
        self.layers = nn.ModuleList(
            DeltaNetLayer(config.input_size if i == 0 else config.hidden_size, config.hidden_size,
                          config.num_heads, BETA_RANGES[config.beta_range], config.bias)
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
            h, S = layer(h, None if state is None else state[i], mode, self.config.chunk_size)
            states.append(S)
        return h, torch.stack(states)                                     # (B, T, H), (L, B, nh, d, d)
