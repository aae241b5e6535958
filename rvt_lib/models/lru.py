"""A complex-diagonal linear recurrence, LRU-style (Orvieto et al., 2023, "Resurrecting
Recurrent Neural Networks for Long Sequences"), with input-dependent rotations.

A real transition a in (0, 1) can only shrink the state, and a in (-1, 1) (the signed
minGRU) can also flip it, which is enough for parity (Z_2) but not for counting modulo
m > 2: that needs a *rotation*. A complex number lambda = r e^{i theta} multiplies a
complex state by turning it through the angle theta and shrinking it by r. The layer is

    lambda_t = exp(-softplus(Linear_r(x_t)) - eps + i Linear_theta(x_t))  |lambda_t| <= e^-eps < 1
    h_t      = lambda_t * h_{t-1} + gamma_t * (B x_t),   B = B_re + i B_im, h_t in C^N
    y_t      = Linear_out([Re h_t, Im h_t])                               real, hidden_size

elementwise over the N state channels, with ``gamma_t = sqrt(1 - |lambda_t|^2)``, the LRU's
normalisation (it keeps the state of order one however close ``|lambda|`` is to 1), and
eps = 1e-6 (``MIN_DECAY``) keeps ``|lambda|`` strictly below one in floating point too (softplus
underflows to 0 for very negative inputs; e^-eps is still representable in float32). Which
parts are input-dependent: *both* the phase theta_t and the magnitude r_t are linear
functions of x_t (the original LRU has a fixed lambda per channel; a fixed rotation cannot
track Z_m, because the angle must depend on the symbol read). E.g. Z_m: with one-hot input,
theta_t = 2 pi s_t / m and r_t -> 1, the angle of h_t is 2 pi (sum of symbols mod m) / m
(a test sets these weights by hand). The magnitude starts in [r_min, r_max] (the LRU's
ring initialisation, through the bias of Linear_r) and the phase bias uniform in
[0, phase_max).

Because lambda only multiplies, the recurrence is the same scan as minGRU's, on complex
numbers: ``mode="parallel"`` runs :func:`rvt_lib.scan.scan_blelloch` on complex tensors,
``mode="sequential"`` the loop :func:`rvt_lib.scan.scan_sequential` (equivalently, each
complex channel is a 2x2 real block [[x, -y], [y, x]] acting on [Re h, Im h]; the scan
tests check that). All parameters are real, so ``.double()`` works as usual; the state is
complex: ``(num_layers, batch, state_size)`` of dtype complex64 for float32 inputs,
complex128 for float64.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from rvt_lib._checks import MODES, check_sequence, resolve_mode
from rvt_lib.scan import scan_blelloch, scan_sequential

MIN_DECAY = 1e-6   # -log |lambda| >= MIN_DECAY

__all__ = ["LRU", "LRUConfig", "LRULayer", "complex_dtype"]


@dataclass
class LRUConfig:
    input_size: int
    hidden_size: int
    state_size: int | None = None   # N complex channels; None: hidden_size
    num_layers: int = 1
    mode: str = "parallel"          # "parallel" (complex Blelloch scan) | "sequential" (loop)
    r_min: float = 0.9              # initial |lambda| range (with zero input)
    r_max: float = 0.999
    phase_max: float = 2 * math.pi  # initial phase in [0, phase_max)
    bias: bool = True

    def __post_init__(self):
        name = type(self).__name__
        if self.state_size is None:
            self.state_size = self.hidden_size
        for field in ("input_size", "hidden_size", "state_size", "num_layers"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: {field} must be a positive int, got {value!r}")
        if self.mode not in MODES:
            raise ValueError(f"{name}: mode must be 'parallel' or 'sequential', got {self.mode!r}")
        if not 0 < self.r_min <= self.r_max < math.exp(-MIN_DECAY):
            raise ValueError(f"{name}: need 0 < r_min <= r_max < exp(-{MIN_DECAY}) < 1, "
                             f"got r_min={self.r_min}, r_max={self.r_max}")


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    """The complex dtype whose parts are ``dtype``: float32 -> complex64, float64 -> complex128."""
    return {torch.float32: torch.complex64, torch.float64: torch.complex128,
            torch.float16: torch.complex32}.get(dtype, torch.complex64)


class LRULayer(nn.Module):
    """One layer: x (B, T, I), h0 (B, N) complex or None -> y (B, T, H) real, h (B, T, N) complex."""

    def __init__(self, input_size: int, hidden_size: int, state_size: int, r_min: float, r_max: float,
                 phase_max: float, bias: bool = True):
        super().__init__()
        self.state_size = state_size
        self.gates = nn.Linear(input_size, 2 * state_size)              # [Linear_r; Linear_theta]
        self.B = nn.Linear(input_size, 2 * state_size, bias=False)      # [B_re; B_im]
        self.out = nn.Linear(2 * state_size, hidden_size, bias=bias)    # [Re h, Im h] -> y
        with torch.no_grad():                                           # the LRU's ring initialisation
            r = torch.empty(state_size).uniform_(r_min, r_max)
            nu = -torch.log(r) - MIN_DECAY                              # softplus(bias) = -log r - eps
            self.gates.bias[:state_size] = torch.log(torch.expm1(nu))   # inverse softplus
            self.gates.bias[state_size:] = torch.empty(state_size).uniform_(0, phase_max)

    def coefficients(self, x):
        """lambda_t and gamma_t * B x_t, both (B, T, N) complex."""
        k_r, theta = self.gates(x).chunk(2, dim=-1)                     # (B, T, N) each
        log_r = -F.softplus(k_r) - MIN_DECAY                            # log |lambda| <= -1e-6
        lam = torch.exp(torch.complex(log_r, theta))                    # r e^{i theta}
        gamma = torch.sqrt(-torch.expm1(2 * log_r))                     # sqrt(1 - r^2) > 0
        bx_re, bx_im = self.B(x).chunk(2, dim=-1)                       # (B, T, N) each
        return lam, torch.complex(gamma * bx_re, gamma * bx_im)

    def forward(self, x, h0, mode: str):
        lam, b = self.coefficients(x)                                   # (B, T, N) complex
        scan = scan_blelloch if mode == "parallel" else scan_sequential
        h = scan(lam, b, h0)                                            # (B, T, N) complex
        y = self.out(torch.cat([h.real, h.imag], dim=-1))               # (B, T, H) real
        return y, h


class LRU(nn.Module):
    """Stacked LRU layers: ``y, h_n = LRU(LRUConfig(I, H))(x, state)``.

    x (batch, time, input_size) real -> y (batch, time, hidden_size) real; state
    (num_layers, batch, state_size) complex (see :func:`complex_dtype`) or None (zeros).
    Layer l's outputs y are layer l+1's inputs. ``mode`` overrides ``config.mode``.
    """

    def __init__(self, config: LRUConfig):
        super().__init__()
        self.config = config
        self.input_size, self.hidden_size = config.input_size, config.hidden_size
        self.state_size, self.num_layers = config.state_size, config.num_layers
        self.layers = nn.ModuleList(
            LRULayer(config.input_size if i == 0 else config.hidden_size, config.hidden_size,
                     config.state_size, config.r_min, config.r_max, config.phase_max, config.bias)
            for i in range(config.num_layers))

    def forward(self, x, state=None, mode: str | None = None):
        name = type(self).__name__
        mode = resolve_mode(mode, self.config.mode, name)
        check_sequence(x, self.input_size, name)
        if state is not None:
            self._check_state(state, x)
        y, h_n = x, []
        for i, layer in enumerate(self.layers):
            y, h = layer(y, None if state is None else state[i], mode)   # (B, T, H), (B, T, N)
            h_n.append(h[:, -1])
        return y, torch.stack(h_n)                                      # (B, T, H), (L, B, N) complex

    def _check_state(self, state, x):
        name, shape = type(self).__name__, (self.num_layers, x.shape[0], self.state_size)
        want = complex_dtype(x.dtype)
        if not isinstance(state, torch.Tensor):
            raise TypeError(f"{name}: state must be a complex torch.Tensor of shape {shape} "
                            f"(num_layers, batch, state_size), got {type(state).__name__}")
        if tuple(state.shape) != shape:
            raise ValueError(f"{name}: state must have shape {shape} (num_layers, batch, state_size), "
                             f"got {tuple(state.shape)}")
        if state.dtype != want:
            raise TypeError(f"{name}: state must be complex with the precision of x ({want}), got {state.dtype}")
