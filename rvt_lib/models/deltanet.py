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
* ``mode="parallel"``: :func:`delta_rule_wy`, exact and parallel over time inside a chunk
  of C steps, in the "WY" (UT-transform) form of Yang et al. (2024), the form their GPU
  kernels use. Inside a chunk that starts from S_0, the product of the transitions is
  kept as ``I - sum_i w_i k_i^T`` and the added part as ``sum_i u_i k_i^T``, so
  ``S_t = S_0 + sum_{i<=t} (u_i - S_0 w_i) k_i^T``. The w_i and u_i solve one unit
  lower-triangular system, ``(I + tril(diag(beta) K K^T, -1)) [W U] = diag(beta) [K V]``
  (K, V: the chunk's keys and values as rows). A chunk then costs a few matrix products:
  O(C^2 (d_k + d_v) + C d_k d_v) work, T / C dependent steps instead of T.

  Measured on one CPU thread, forward + backward of the core alone (``beta`` in [0, 2]):
  at B=32, 4 heads, T=16, d_k=6 (the automata heatmap's size) 1.9 ms against 3.6 ms for
  the loop; at B=32, 4 heads, T=64, d_k=16, 9-11 ms against 38 ms. Whole studies, book
  budget: the heatmap's DeltaNet on parity and S3 13.5 s against 33.3 s; the recall
  chapter's DeltaNets (widths 4 and 16) with one GPT 24 s against 40 s. So the parallel
  mode is also the faster one on a CPU.

  :func:`delta_rule_chunked` is the same computation as an explicit associative scan,
  kept because it shows the structure directly. One step is the affine map
  S -> S A_t + W_t (W_t = beta_t v_t k_t^T), and two such maps compose into one: (A1, W1)
  then (A2, W2) is (A1 A2, W1 A2 + W2), an associative operator on (matrix, matrix)
  pairs, the matrix analogue of ``rvt_lib.scan.combine``. A Hillis-Steele scan over the
  pairs of a chunk gives every prefix in ceil(log2 C) rounds of batched matrix products.
  It multiplies d_k x d_k matrices, about (d_k log2 C) times the loop's arithmetic: at
  B=32, T=64, d_k=16 it took 124 ms. The WY form avoids exactly these d_k^3 products.

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

__all__ = ["DeltaNet", "DeltaNetConfig", "delta_rule_sequential", "delta_rule_wy", "delta_rule_chunked"]


@dataclass
class DeltaNetConfig:
    input_size: int
    hidden_size: int
    num_heads: int = 1
    num_layers: int = 1
    mode: str = "parallel"        # "parallel" (chunked, WY form) | "sequential" (loop)
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


def delta_rule_wy(q, k, v, beta, S0=None, chunk_size: int = 16):
    """The same as :func:`delta_rule_sequential`, exact, chunk by chunk in the WY form.

    Inside a chunk (C steps from the state S_0), ``S_t = S_0 + sum_{i<=t} (u_i - S_0 w_i) k_i^T``
    where the rows of W and U solve ``(I + tril(diag(beta) K K^T, -1)) [W U] = diag(beta) [K V]``
    (forward substitution: w_t = beta_t (k_t - sum_{i<t} w_i k_i^T k_t), the same for u).
    Same arguments and returns as the loop.
    """
    B, H, T, dk = k.shape
    S = q.new_zeros(B, H, v.shape[-1], dk) if S0 is None else S0          # (B, H, dv, dk)
    ys = []
    for qc, kc, vc, bc in zip(*(u.split(chunk_size, dim=2) for u in (q, k, v, beta))):
        eye = torch.eye(kc.shape[2], dtype=k.dtype, device=k.device)      # (C, C)
        L = eye + torch.tril(bc[..., None] * (kc @ kc.transpose(-1, -2)), -1)   # (B, H, C, C)
        rhs = bc[..., None] * torch.cat([kc, vc], dim=-1)                 # (B, H, C, dk + dv)
        w, u = torch.linalg.solve_triangular(L, rhs, upper=False, unitriangular=True).split(
            [dk, vc.shape[-1]], dim=-1)                                   # (B, H, C, dk), (B, H, C, dv)
        u = u - w @ S.transpose(-1, -2)                                   # u_i - S_0 w_i: (B, H, C, dv)
        scores = torch.tril(qc @ kc.transpose(-1, -2))                    # k_i . q_t for i <= t: (B, H, C, C)
        ys.append(qc @ S.transpose(-1, -2) + scores @ u)                  # S_t q_t: (B, H, C, dv)
        S = S + u.transpose(-1, -2) @ kc                                  # the chunk's last state
    return torch.cat(ys, dim=2), S


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
            y, S = delta_rule_wy(q, k, v, beta, S0, chunk_size)
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
