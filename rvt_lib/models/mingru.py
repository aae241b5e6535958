"""minGRU and minLSTM (Feng et al., 2024, "Were RNNs All We Needed?").

The GRU and LSTM gates look at the previous hidden state, ``z_t = sigmoid(W x_t + U h_{t-1})``,
and that dependence is what forces a step-by-step loop during training. The "minimal"
versions drop it: every gate and the candidate state depend on the input only,

    minGRU:   z_t  = sigmoid(Linear_z(x_t))              update gate, in (0, 1)
              h~_t = g(Linear_h(x_t))                    candidate state, > 0
              h_t  = (1 - z_t) * h_{t-1} + z_t * h~_t

    minLSTM:  f_t  = sigmoid(Linear_f(x_t)),  i_t = sigmoid(Linear_i(x_t))
              f'_t = f_t / (f_t + i_t),       i'_t = i_t / (f_t + i_t)   (sum to one)
              h~_t = g(Linear_h(x_t))
              h_t  = f'_t * h_{t-1} + i'_t * h~_t

with g(v) = v + 0.5 for v >= 0 and sigmoid(v) for v < 0 (continuous, always positive).
(minLSTM also drops the output gate and the separate cell state: h is the only state.)

Both are the linear recurrence h_t = a_t * h_{t-1} + b_t with coefficients computed from
the inputs alone (minGRU: a = 1 - z, b = z * h~; minLSTM: a = f', b = i' * h~), so all T
coefficients come out of one matrix multiply and the recurrence itself is a *scan*
(``rvt_lib.scan``). Two modes compute the same numbers:

* ``mode="sequential"``: the loop over time, exactly the equations above. This is what
  generation does, one token at a time (T = 1, passing the state along).
* ``mode="parallel"``: the log-space scan :func:`rvt_lib.scan.scan_log`. Every
  coefficient is positive, so its log is computed directly and stably from the
  pre-activations, never as log(sigmoid(...)):

      log z = -softplus(-k),  log(1 - z) = -softplus(k)                       (minGRU)
      d = log i - log f = softplus(-k_f) - softplus(-k_i),
      log f' = -softplus(d),  log i' = -softplus(-d)                          (minLSTM)
      log g(v) = log(v + 0.5) for v >= 0, -softplus(-v) for v < 0

  The initial state can have any sign (a user's state, or the last state of the previous
  chunk): it enters by linearity, h_t = (prod_{s<=t} a_s) * h0 + (scan from zero), so
  logs are only taken of positive quantities and chunked processing continues exactly.

  ``scan="blelloch"`` (config field) runs the same parallel mode in real space instead,
  with the work-efficient :func:`rvt_lib.scan.scan_blelloch` on a = 1 - z (or f') and
  b = z * h~ (or i' * h~). Since 0 < a < 1 and b > 0 this is well conditioned: products
  of the a's only shrink, and in float32 it is more accurate than the log-space scan
  (about 3e-7 against 1e-5 relative at T = 4096). On a CPU it is also the faster of the
  two (about 1.9x faster than the loop at B=8, T=4096, D=128, forward + backward, where
  the log-space scan roughly ties with the loop, because ``logcumsumexp`` is a slow CPU
  kernel; see ``benchmarks/bench_minrnn.py``). The log-space scan stays the default: it
  is the paper's formulation, and the one the book explains.

Parameters (per layer, with bias, input size I, hidden size H), compared with torch's:

    minGRU   2 H (I + 1)          (two input maps: z and h~; no hidden-to-hidden weights)
    GRU      3 H (I + H) + 6 H    (three gates, each with input and hidden weights)
    minLSTM  3 H (I + 1)          (f, i and h~ from the input only)
    LSTM     4 H (I + H) + 8 H

e.g. I = H = 128: minGRU 33,024 vs GRU 99,072 (3.0x fewer); minLSTM 49,536 vs LSTM 132,096
(2.7x fewer). The input maps of one layer are stored as one fused ``nn.Linear`` of
``2 H`` (minGRU) or ``3 H`` (minLSTM) outputs, one matrix multiply instead of several.

Signed transitions (Grazzi et al., ICLR 2025, "Unlocking State-Tracking in Linear RNNs
Through Negative Eigenvalues"). With a in (0, 1) the state can only decay towards the
candidate, never flip sign, and such a recurrence provably cannot compute parity at finite
precision. The paper's change, for a diagonal transition A in (0, 1) (Mamba), is the
affine map A -> 2 A - 1, which stretches the range to (-1, 1) at no cost. We apply that
same map to the minGRU/minLSTM forget coefficient (config ``transition="signed"``):

    minGRU:   a_t = 2 (1 - z_t) - 1 = 1 - 2 z_t      in (-1, 1)
    minLSTM:  a_t = 2 f'_t - 1                       in (-1, 1)

and leave b_t (z * h~, or i' * h~) unchanged. A log of a negative number is not defined,
so the signed variants need the real-space scan: ``MinGRUConfig(transition="signed",
scan="blelloch")``; asking for the log-space scan raises a ``ValueError`` (and
:func:`rvt_lib.scan.scan_logspace` itself refuses a negative ``a``). ``|a| < 1`` still holds,
so the Blelloch products stay bounded.

Layers stack like ``torch.nn.GRU``: layer l's hidden states are layer l+1's inputs, the
top layer's states are the outputs ``y``, and the state is ``(num_layers, batch, hidden)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from rvt_lib._checks import MODES, check_sequence, check_state, resolve_mode
from rvt_lib.scan import scan_blelloch, scan_log

SCANS = ("log", "blelloch")
TRANSITIONS = ("positive", "signed")


@dataclass
class MinGRUConfig:
    input_size: int
    hidden_size: int
    num_layers: int = 1
    mode: str = "parallel"  # "parallel" (log-space scan) | "sequential" (loop over time)
    bias: bool = True
    chunk_size: int = 256   # parallel mode: steps per log-space chunk (see rvt_lib.scan.scan_log)
    scan: str = "log"       # parallel mode: "log" (Heinsen's log-space scan) | "blelloch" (real space)
    transition: str = "positive"  # "positive": a in (0, 1) | "signed": a = 2 a+ - 1 in (-1, 1) (needs scan="blelloch")

    def __post_init__(self):
        _check_config(self)


@dataclass
class MinLSTMConfig(MinGRUConfig):
    """The same fields as :class:`MinGRUConfig`; a separate name so configs say which model."""


def _check_config(config) -> None:
    name = type(config).__name__
    for field in ("input_size", "hidden_size", "num_layers", "chunk_size"):
        value = getattr(config, field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: {field} must be a positive int, got {value!r}")
    if config.mode not in MODES:
        raise ValueError(f"{name}: mode must be 'parallel' or 'sequential', got {config.mode!r}")
    if config.scan not in SCANS:
        raise ValueError(f"{name}: scan must be 'log' or 'blelloch', got {config.scan!r}")
    if config.transition not in TRANSITIONS:
        raise ValueError(f"{name}: transition must be 'positive' or 'signed', got {config.transition!r}")
    if config.transition == "signed" and config.scan == "log":
        raise ValueError(f"{name}: transition='signed' gives a in (-1, 1), and the log-space scan "
                         f"cannot take the log of a negative a; use scan='blelloch' (real space)")


# ---------------------------------------------------------------------------------------
# The activation g and its log
# ---------------------------------------------------------------------------------------

def g(v: torch.Tensor) -> torch.Tensor:
    """g(v) = v + 0.5 for v >= 0, sigmoid(v) for v < 0: continuous, positive, linear growth."""
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def log_g(v: torch.Tensor) -> torch.Tensor:
    """log g(v), computed without ever taking the log of a rounded small number.

    For v < 0, log sigmoid(v) = -softplus(-v). Both branches are finite for every v (the
    ``relu`` keeps the unused branch at log 0.5), so the gradient of ``torch.where`` is
    never NaN.
    """
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


# ---------------------------------------------------------------------------------------
# One layer of each
# ---------------------------------------------------------------------------------------

class MinGRULayer(nn.Module):
    """One minGRU layer: ``h = layer(x, h0, mode, chunk_size, scan, transition)``, x (B, T, I) -> h (B, T, H)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.linear = nn.Linear(input_size, 2 * hidden_size, bias=bias)  # [Linear_z; Linear_h]

    def forward(self, x, h0, mode: str, chunk_size: int, scan: str = "log", transition: str = "positive"):
        k, v = self.linear(x).chunk(2, dim=-1)          # (B, T, H) each: gate and candidate pre-activations
        if mode == "sequential":
            z = torch.sigmoid(k)                        # (B, T, H) update gate
            a = 1 - z if transition == "positive" else 1 - 2 * z   # (B, T, H): in (0, 1) or (-1, 1)
            return _loop(a, z * g(v), h0)               # (B, T, H)
        if transition == "signed":                      # a = 1 - 2 z = -tanh(k / 2), in (-1, 1)
            return scan_blelloch(-torch.tanh(k / 2), torch.sigmoid(k) * g(v), h0)   # (B, T, H)
        if scan == "blelloch":                          # real space: a = 1 - z, b = z * h~
            return scan_blelloch(torch.sigmoid(-k), torch.sigmoid(k) * g(v), h0)   # (B, T, H)
        log_a = -F.softplus(k)                          # log(1 - z)
        log_b = -F.softplus(-k) + log_g(v)              # log z + log h~
        return scan_log(log_a, log_b, h0=h0, chunk_size=chunk_size)   # (B, T, H)


def _loop(a, b, h0):
    """h_t = a_t * h_{t-1} + b_t as a plain loop, a and b (B, T, H); h0 (B, H) or None (zeros)."""
    h = a.new_zeros(a.shape[0], a.shape[2]) if h0 is None else h0   # (B, H)
    hs = []
    # unbind splits along time once (indexing a[:, t] inside the loop would make
    # backward allocate a full (B, T, H) gradient per step: quadratic in T)
    for a_t, b_t in zip(a.unbind(1), b.unbind(1)):      # (B, H) each
        h = a_t * h + b_t                               # (B, H)
        hs.append(h)
    return torch.stack(hs, dim=1)                       # (B, T, H)


class MinLSTMLayer(nn.Module):
    """One minLSTM layer: ``h = layer(x, h0, mode, chunk_size, scan, transition)``, x (B, T, I) -> h (B, T, H)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.linear = nn.Linear(input_size, 3 * hidden_size, bias=bias)  # [Linear_f; Linear_i; Linear_h]

    def forward(self, x, h0, mode: str, chunk_size: int, scan: str = "log", transition: str = "positive"):
        kf, ki, v = self.linear(x).chunk(3, dim=-1)     # (B, T, H) each
        if mode == "sequential":
            f, i = torch.sigmoid(kf), torch.sigmoid(ki)  # (B, T, H) forget and input gates
            f_n, i_n = f / (f + i), i / (f + i)          # normalised: f' + i' = 1
            a = f_n if transition == "positive" else 2 * f_n - 1   # (B, T, H): in (0, 1) or (-1, 1)
            return _loop(a, i_n * g(v), h0)              # (B, T, H)
        d = F.softplus(-kf) - F.softplus(-ki)           # log i - log f
        if transition == "signed":                      # a = 2 f' - 1 = 2 sigmoid(-d) - 1 = -tanh(d / 2)
            return scan_blelloch(-torch.tanh(d / 2), torch.sigmoid(d) * g(v), h0)   # (B, T, H)
        if scan == "blelloch":                          # real space: f' = sigmoid(-d), i' = sigmoid(d)
            return scan_blelloch(torch.sigmoid(-d), torch.sigmoid(d) * g(v), h0)   # (B, T, H)
        log_f_n = -F.softplus(d)                        # log f' = -log(1 + i/f)
        log_i_n = -F.softplus(-d)                       # log i' = -log(1 + f/i)
        return scan_log(log_f_n, log_i_n + log_g(v), h0=h0, chunk_size=chunk_size)   # (B, T, H)


# ---------------------------------------------------------------------------------------
# The stacked cores (the library's sequence-layer interface)
# ---------------------------------------------------------------------------------------

class _MinRNN(nn.Module):
    """Shared by MinGRU and MinLSTM: input checks, layer stacking, state handling."""

    layer_cls: type = MinGRULayer

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.input_size, self.hidden_size = config.input_size, config.hidden_size
        self.num_layers = config.num_layers
        self.layers = nn.ModuleList(
            self.layer_cls(config.input_size if layer == 0 else config.hidden_size,
                           config.hidden_size, bias=config.bias)
            for layer in range(config.num_layers)
        )

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None, mode: str | None = None):
        """``y, h_n = core(x, state)``.

        * ``x``: (batch, time, input_size); ``state``: (num_layers, batch, hidden_size) or
          None (zeros); any sign is fine.
        * ``mode``: overrides ``config.mode`` for this call (``"parallel"`` or
          ``"sequential"``), e.g. to compare both on the same weights.
        * returns ``y`` (batch, time, hidden_size), the top layer's states, and ``h_n``
          (num_layers, batch, hidden_size), every layer's last state.
        """
        name = type(self).__name__
        mode = resolve_mode(mode, self.config.mode, name)
        check_sequence(x, self.input_size, name)
        if state is not None:
            check_state(state, (self.num_layers, x.shape[0], self.hidden_size), name, "state")
            if state.dtype != x.dtype:
                raise TypeError(f"{name}: state must have the dtype of x ({x.dtype}), got {state.dtype}")
        layer_input, h_n = x, []
        for layer, module in enumerate(self.layers):
            h0 = None if state is None else state[layer]                  # (B, H) or None
            layer_input = module(layer_input, h0, mode, self.config.chunk_size,
                                 self.config.scan, self.config.transition)   # (B, T, H)
            h_n.append(layer_input[:, -1])
        return layer_input, torch.stack(h_n)            # (B, T, H), (L, B, H)


class MinGRU(_MinRNN):
    """A stack of minGRU layers: ``y, h_n = MinGRU(MinGRUConfig(I, H))(x, state)``."""

    layer_cls = MinGRULayer


class MinLSTM(_MinRNN):
    """A stack of minLSTM layers: ``y, h_n = MinLSTM(MinLSTMConfig(I, H))(x, state)``."""

    layer_cls = MinLSTMLayer
