"""Input validation shared by every sequence layer (clear errors, never silent wrong answers)."""
from __future__ import annotations

import torch


def check_sequence(x, features: int, name: str = "layer") -> None:
    """Check that ``x`` is a floating (batch, time, features) tensor with ``time >= 1``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape (batch, time, {features}), got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name}: expected a floating-point tensor of shape (batch, time, {features}), got dtype {x.dtype}")
    if x.dim() != 3:
        raise ValueError(f"{name}: expected input of shape (batch, time, {features}), got {tuple(x.shape)} (rank {x.dim()})")
    if x.shape[-1] != features:
        raise ValueError(f"{name}: expected input of shape (batch, time, {features}), got last dimension {x.shape[-1]}")
    if x.shape[1] == 0:
        raise ValueError(f"{name}: empty sequence: input of shape {tuple(x.shape)} has time = 0")
    if x.shape[0] == 0:
        raise ValueError(f"{name}: empty batch: input of shape {tuple(x.shape)} has batch = 0")


def check_state(h, shape: tuple, name: str = "layer", what: str = "h0") -> None:
    """Check that an initial state tensor has exactly ``shape``."""
    if not isinstance(h, torch.Tensor):
        raise TypeError(f"{name}: {what} must be a torch.Tensor of shape {shape}, got {type(h).__name__}")
    if tuple(h.shape) != tuple(shape):
        raise ValueError(f"{name}: {what} must have shape {tuple(shape)} (num_layers, batch, hidden), got {tuple(h.shape)}")


MODES = ("parallel", "sequential")


def resolve_mode(mode, default: str, name: str = "layer") -> str:
    """A scan-based core's mode for one call: ``mode`` if given, else its config's ``default``."""
    mode = default if mode is None else mode
    if mode not in MODES:
        raise ValueError(f"{name}: mode must be 'parallel' or 'sequential', got {mode!r}")
    return mode
