"""Measuring how gradients travel back in time.

Training a recurrent network means backpropagation through time (BPTT): the loss at the
last step ``T-1`` sends a gradient back to every earlier hidden state. By the chain rule,

    dL/dh_t = dL/dh_{T-1} . J_{T-1} J_{T-2} ... J_{t+1},      J_s = dh_s / dh_{s-1},

a product of ``T-1-t`` Jacobians. If those Jacobians shrink vectors, the product goes to
zero exponentially fast in the distance ``T-1-t`` (vanishing gradients); if they stretch
them, it blows up (exploding gradients). This file *measures* that product instead of
arguing about it:

* :func:`state_gradient_norms` unrolls one recurrent cell (``RNNCell``, ``GRUCell``,
  ``LSTMCell`` or anything with the same ``state = cell(x_t, state)`` step) and returns
  ``||dL/ds_t||`` for every step ``t``, where ``s_t`` is the whole recurrent state after
  step ``t`` (``h_t``, or ``h_t`` and ``c_t`` side by side for an LSTM);
* :func:`input_gradient_norms` works for any sequence core, recurrent or not (a GPT
  too), and returns ``||dL/dx_t||``: how much the input at step ``t`` can still move the
  output at the last step;
* :func:`spectral_radius` and :func:`set_spectral_radius_` read and set the largest
  absolute eigenvalue of a square recurrent weight matrix, the knob that decides
  whether a plain RNN's gradients vanish or explode.

In both measurements the loss is a fixed random projection of the last output,
``L = sum_b <u_b, y_{b, T-1}>`` with one unit vector ``u_b`` per sequence, so that the
gradient arriving at the last step has norm exactly 1 (for the state ``h``) and every
earlier value reads as "how much of it is left".
"""
from __future__ import annotations

import torch
import torch.nn as nn

from rvt_lib._checks import check_sequence, check_state

__all__ = ["state_gradient_norms", "input_gradient_norms", "spectral_radius", "set_spectral_radius_"]

REDUCTIONS = ("mean", "none")


def _unit_directions(batch: int, size: int, seed: int, like: torch.Tensor) -> torch.Tensor:
    """One random unit vector per sequence, (batch, size), reproducible from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, size, generator=g, dtype=torch.float64)
    u = u / u.norm(dim=1, keepdim=True)
    return u.to(dtype=like.dtype, device=like.device)  # (B, size)


def _check_reduce(reduce: str, name: str) -> None:
    if reduce not in REDUCTIONS:
        raise ValueError(f"{name}: reduce must be one of {REDUCTIONS}, got {reduce!r}")


def _as_cell(cell_or_core: nn.Module) -> nn.Module:
    """Accept a cell, or a one-layer core (``RNN``, ``GRU``, ``LSTM``) whose cell we use."""
    cells = getattr(cell_or_core, "cells", None)
    if cells is not None:
        if len(cells) != 1:
            raise ValueError(
                f"state_gradient_norms: expected a single cell or a one-layer core, got a core "
                f"with {len(cells)} layers; pass one of its cells, e.g. core.cells[0]"
            )
        return cells[0]
    for attr in ("input_size", "hidden_size"):
        if not hasattr(cell_or_core, attr):
            raise TypeError(
                f"state_gradient_norms: expected a recurrent cell with attributes input_size and "
                f"hidden_size, got {type(cell_or_core).__name__}"
            )
    return cell_or_core


def _is_lstm_cell(cell: nn.Module) -> bool:
    from rvt_lib.models.lstm import LSTMCell  # local import: lstm.py is not needed otherwise
    return isinstance(cell, LSTMCell)


def _initial_cell_state(cell: nn.Module, x: torch.Tensor, state):
    """Zeros (or the given state), shaped (batch, hidden) per tensor, as the cell expects."""
    B, H = x.shape[0], cell.hidden_size
    if state is None:
        zeros = x.new_zeros(B, H)
        return (zeros, zeros.clone()) if _is_lstm_cell(cell) else zeros
    parts = state if isinstance(state, tuple) else (state,)
    for i, p in enumerate(parts):
        check_state(p, (B, H), "state_gradient_norms", "h0" if i == 0 else "c0")
    return state


def state_gradient_norms(cell: nn.Module, x: torch.Tensor, state=None, *, seed: int = 0,
                         reduce: str = "mean") -> torch.Tensor:
    """``||dL/ds_t||`` for every step of a recurrent cell, with the loss at the last step.

    Args:
        cell: a cell called as ``state = cell(x_t, state)`` with ``x_t`` (B, input_size),
            e.g. ``RNNCell``, ``GRUCell`` or ``LSTMCell`` (state ``(h, c)``), or a
            one-layer ``RNN``/``GRU``/``LSTM`` core (its cell is used).
        x: inputs, (B, T, input_size).
        state: initial state, (B, hidden) or a tuple of such tensors; ``None`` is zeros.
        seed: seed of the random unit directions ``u_b`` defining the loss
            ``L = sum_b <u_b, h_{b, T-1}>``.
        reduce: ``"mean"`` averages the norms over the batch and returns (T,);
            ``"none"`` returns every sequence's norms, (B, T).

    Returns:
        norms, where ``norms[..., t] = ||dL/ds_t||`` and ``s_t`` is the state after step
        ``t``: ``h_t``, or ``(h_t, c_t)`` concatenated for an LSTM. For ``h`` the value at
        ``t = T-1`` is exactly 1 by construction; the curve going left shows how the
        gradient decays (or grows) as it travels back in time.
    """
    _check_reduce(reduce, "state_gradient_norms")
    cell = _as_cell(cell)
    check_sequence(x, cell.input_size, "state_gradient_norms")
    B, T, _ = x.shape
    s = _initial_cell_state(cell, x, state)
    with torch.enable_grad():
        # the initial state is made a graph leaf so that there is a graph even when the
        # cell's parameters are frozen
        s = tuple(p.detach().clone().requires_grad_(True) for p in s) if isinstance(s, tuple) \
            else s.detach().clone().requires_grad_(True)
        states = []  # states[t] = tuple of the state tensors after step t, each (B, H)
        for t in range(T):
            s = cell(x[:, t], s)
            states.append(s if isinstance(s, tuple) else (s,))
        h_last = states[-1][0]                                   # (B, H)
        u = _unit_directions(B, h_last.shape[1], seed, h_last)   # (B, H)
        loss = (u * h_last).sum()
        flat = [p for parts in states for p in parts]
        grads = torch.autograd.grad(loss, flat, allow_unused=True)
    k = len(states[0])  # tensors per state: 1 (h) or 2 (h, c)
    sq = torch.zeros(B, T, dtype=torch.float64, device=x.device)
    for i, g in enumerate(grads):
        if g is not None:  # None only for a state part the loss never reaches
            sq[:, i // k] += g.detach().double().pow(2).sum(dim=1)
    norms = sq.sqrt()  # (B, T)
    return norms.mean(dim=0) if reduce == "mean" else norms


def input_gradient_norms(core: nn.Module, x: torch.Tensor, state=None, *, seed: int = 0,
                         reduce: str = "mean") -> torch.Tensor:
    """``||dL/dx_t||`` for every input step of any sequence core, loss at the last output.

    Works for every core with ``y, state = core(x, state)``, recurrent or attention:
    ``L = sum_b <u_b, y_{b, T-1}>`` for fixed random unit vectors ``u_b``, and the
    result tells how strongly the input at step ``t`` still reaches the last output.
    Returns (T,) with ``reduce="mean"`` (average over the batch) or (B, T) with ``"none"``.
    """
    _check_reduce(reduce, "input_gradient_norms")
    check_sequence(x, core.input_size, "input_gradient_norms")
    B = x.shape[0]
    with torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        y, _ = core(x, state)                                    # (B, T, hidden)
        u = _unit_directions(B, y.shape[-1], seed, y)            # (B, hidden)
        loss = (u * y[:, -1]).sum()
        (g,) = torch.autograd.grad(loss, x)                      # (B, T, input_size)
    norms = g.detach().double().norm(dim=-1)                     # (B, T)
    return norms.mean(dim=0) if reduce == "mean" else norms


def _check_square(weight, name: str) -> None:
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"{name}: expected a square weight matrix (H, H) as a tensor, got {type(weight).__name__}")
    if weight.dim() != 2 or weight.shape[0] != weight.shape[1]:
        raise ValueError(
            f"{name}: expected a square weight matrix of shape (H, H), got {tuple(weight.shape)}; "
            "gated cells stack several matrices in weight_hh, use a plain RNN's weight_hh"
        )


def spectral_radius(weight: torch.Tensor) -> float:
    """The largest absolute eigenvalue of a square matrix (H, H)."""
    _check_square(weight, "spectral_radius")
    return torch.linalg.eigvals(weight.detach().double()).abs().max().item()


def set_spectral_radius_(weight: torch.Tensor, radius: float) -> torch.Tensor:
    """Rescale a square weight matrix in place so its spectral radius is ``radius``.

    For a plain RNN, ``h_t = tanh(W h_{t-1} + ...)``, the Jacobian of one step is
    ``diag(1 - h_t^2) W``; with ``|tanh'| <= 1`` the radius of ``W`` is (roughly) the
    most one step can stretch a gradient, so radii below 1 make gradients vanish.
    Returns ``weight`` (modified in place, without recording a gradient).
    """
    _check_square(weight, "set_spectral_radius_")
    if not radius >= 0:
        raise ValueError(f"set_spectral_radius_: radius must be >= 0, got {radius!r}")
    current = spectral_radius(weight)
    if current == 0.0:
        raise ValueError("set_spectral_radius_: the matrix has spectral radius 0 and cannot be rescaled")
    with torch.no_grad():
        weight.mul_(radius / current)
    return weight
