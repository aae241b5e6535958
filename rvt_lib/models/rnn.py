"""The Elman RNN, written from scratch (and equal to ``torch.nn.RNN``).

One step of a single-layer Elman network (Elman, 1990) reads an input vector ``x_t`` and
the previous hidden state ``h_{t-1}`` and writes a new hidden state::

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)        (or relu instead of tanh)

The same weights are used at every step: that sharing over time is the whole idea of a
recurrent network. A stack of ``num_layers`` such layers feeds the hidden states of layer
``l`` to layer ``l + 1`` as its inputs; the top layer's hidden states are the outputs.

Two ways to run the same equations (chosen by ``RNNConfig.fast``):

* the *readable* path calls :class:`RNNCell` once per time step, exactly as written above;
* the *fast* path notices that ``W_ih x_t + b_ih + b_hh`` does not depend on ``h_{t-1}``,
  so it computes it for every time step at once with one big matrix multiply before the
  loop ("hoisting" the input projection). Only ``W_hh h_{t-1}`` has to stay in the loop.

Both give the same numbers (tested) and the same gradients, here through ordinary
autograd. Parameters are named and initialised like PyTorch's (``weight_ih``,
``weight_hh``, ``bias_ih``, ``bias_hh``, uniform in ``±1/sqrt(hidden_size)``), so
:meth:`RNN.copy_from_torch` and :meth:`RNN.to_torch` move weights both ways.

The small helpers at the bottom of this file (initial state, weight copying) are shared
with ``gru.py`` and ``lstm.py``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from rvt_lib._checks import check_sequence, check_state

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


@dataclass
class RNNConfig:
    input_size: int
    hidden_size: int
    num_layers: int = 1
    nonlinearity: str = "tanh"  # "tanh" | "relu"
    bias: bool = True
    fast: bool = True  # hoisted input projection (True) or the step-by-step cell loop (False)

    def __post_init__(self):
        _check_sizes(self)
        if self.nonlinearity not in NONLINEARITIES:
            raise ValueError(f"RNNConfig: nonlinearity must be 'tanh' or 'relu', got {self.nonlinearity!r}")


class RNNCell(nn.Module):
    """One time step: ``h_new = act(x_t W_ih^T + b_ih + h W_hh^T + b_hh)``.

    ``x_t`` is ``(batch, input_size)`` and ``h`` is ``(batch, hidden_size)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"):
        super().__init__()
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.nonlinearity = nonlinearity
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))   # (H, I)
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))  # (H, H)
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(hidden_size))  # (H,)
            self.bias_hh = nn.Parameter(torch.empty(hidden_size))  # (H,)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        reset_uniform(self, hidden_size)

    def forward(self, x_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        check_step(x_t, {"h": h}, self.input_size, self.hidden_size, "RNNCell")
        act = NONLINEARITIES[self.nonlinearity]
        pre = F.linear(x_t, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh)  # (B, H)
        return act(pre)  # (B, H)


class RNN(nn.Module):
    """A stack of Elman layers: ``y, h_n = rnn(x, h0)``.

    * ``x``:  ``(batch, time, input_size)``
    * ``h0``: ``(num_layers, batch, hidden_size)`` or ``None`` (zeros)
    * ``y``:  ``(batch, time, hidden_size)``, the top layer's hidden state at every step
    * ``h_n``: ``(num_layers, batch, hidden_size)``, every layer's last hidden state
    """

    def __init__(self, config: RNNConfig):
        super().__init__()
        self.config = config
        self.input_size, self.hidden_size, self.num_layers = config.input_size, config.hidden_size, config.num_layers
        self.cells = nn.ModuleList(
            RNNCell(config.input_size if layer == 0 else config.hidden_size, config.hidden_size,
                    bias=config.bias, nonlinearity=config.nonlinearity)
            for layer in range(config.num_layers)
        )

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None):
        h0 = initial_state(x, state, self, "RNN")  # (L, B, H)
        layer_input, h_n = x, []
        for layer, cell in enumerate(self.cells):
            run = self._layer_fast if self.config.fast else self._layer_readable
            layer_input, h = run(cell, layer_input, h0[layer])  # (B, T, H), (B, H)
            h_n.append(h)
        return layer_input, torch.stack(h_n)  # (B, T, H), (L, B, H)

    @staticmethod
    def _layer_readable(cell: RNNCell, x: torch.Tensor, h: torch.Tensor):
        """The reference: call the cell once per time step.

        We walk over ``x.unbind(dim=1)`` (T views of shape (B, I)) rather than indexing
        ``x[:, t]``: the backward of ``unbind`` stacks the T step gradients in one go,
        whereas each ``x[:, t]`` would get its own full-size (B, T, I) gradient buffer.
        """
        outputs = []
        for x_t in x.unbind(dim=1):
            h = cell(x_t, h)  # (B, H)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h  # (B, T, H), (B, H)

    @staticmethod
    def _layer_fast(cell: RNNCell, x: torch.Tensor, h: torch.Tensor):
        """Same equations, with the input projection of all T steps done in one matmul."""
        act = NONLINEARITIES[cell.nonlinearity]
        bias = None if cell.bias_ih is None else cell.bias_ih + cell.bias_hh
        xw = F.linear(x, cell.weight_ih, bias)  # (B, T, H): W_ih x_t + b for every t at once
        w_hh_t = cell.weight_hh.t()             # (H, H)
        outputs = []
        for xw_t in xw.unbind(dim=1):  # T slices (B, H)
            h = act(torch.addmm(xw_t, h, w_hh_t))  # (B, H): xw_t + h W_hh^T
            outputs.append(h)
        return torch.stack(outputs, dim=1), h  # (B, T, H), (B, H)

    def copy_from_torch(self, module: nn.RNN) -> "RNN":
        """Copy the weights of a ``torch.nn.RNN(batch_first=True)`` of the same sizes."""
        copy_weights_from_torch(self, module, nn.RNN, "RNN")
        return self

    def to_torch(self) -> nn.RNN:
        """Build the equivalent ``torch.nn.RNN(batch_first=True)`` holding our weights."""
        c = self.config
        p = self.cells[0].weight_ih
        module = nn.RNN(c.input_size, c.hidden_size, c.num_layers, nonlinearity=c.nonlinearity,
                        bias=c.bias, batch_first=True, device=p.device, dtype=p.dtype)
        copy_weights_to_torch(self, module)
        return module


# ----------------------------------------------------------------------------------------
# Helpers shared by rnn.py, gru.py and lstm.py


def _check_sizes(config) -> None:
    name = type(config).__name__
    for field in ("input_size", "hidden_size", "num_layers"):
        value = getattr(config, field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: {field} must be a positive int, got {value!r}")


def reset_uniform(cell: nn.Module, hidden_size: int) -> None:
    """PyTorch's initialisation for recurrent layers: every parameter ~ U(-k, k), k = 1/sqrt(H)."""
    k = 1.0 / math.sqrt(hidden_size)
    with torch.no_grad():
        for p in cell.parameters():
            p.uniform_(-k, k)


def check_step(x_t, states, input_size: int, hidden_size: int, name: str) -> None:
    """Shapes for one step of a cell: ``x_t`` (batch, input_size), each state (batch, hidden_size)."""
    if not isinstance(x_t, torch.Tensor):
        raise TypeError(f"{name}: expected x_t, a tensor of shape (batch, {input_size}), got {type(x_t).__name__}")
    if not torch.is_floating_point(x_t):
        raise TypeError(f"{name}: expected a floating-point x_t of shape (batch, {input_size}), got {x_t.dtype}")
    if x_t.dim() != 2 or x_t.shape[1] != input_size:
        raise ValueError(f"{name}: expected x_t of shape (batch, {input_size}), got {tuple(x_t.shape)}")
    shape = (x_t.shape[0], hidden_size)
    for what, s in states.items():
        if not isinstance(s, torch.Tensor):
            raise TypeError(f"{name}: {what} must be a tensor of shape (batch, hidden) = {shape}, got {type(s).__name__}")
        if tuple(s.shape) != shape:
            raise ValueError(f"{name}: {what} must have shape (batch, hidden) = {shape}, got {tuple(s.shape)}")


def initial_state(x, state, core: nn.Module, name: str, what: str = "h0") -> torch.Tensor:
    """Validate ``x`` and return the initial state ``(num_layers, batch, hidden)`` (zeros if None)."""
    check_sequence(x, core.input_size, name)
    shape = (core.num_layers, x.shape[0], core.hidden_size)
    if state is None:
        return x.new_zeros(shape)
    check_state(state, shape, name, what)
    return state


def _check_torch_twin(core: nn.Module, module: nn.Module, torch_cls: type, name: str) -> None:
    """Raise unless ``module`` is a ``torch_cls`` with exactly our sizes and layout."""
    if not isinstance(module, torch_cls):
        raise TypeError(f"{name}.copy_from_torch: expected a torch.nn.{torch_cls.__name__}, got {type(module).__name__}")
    c = core.config
    wanted = {"input_size": c.input_size, "hidden_size": c.hidden_size, "num_layers": c.num_layers,
              "bias": c.bias, "batch_first": True, "bidirectional": False, "dropout": 0.0}
    if hasattr(c, "nonlinearity"):
        wanted["nonlinearity"] = c.nonlinearity
    if hasattr(module, "proj_size"):
        wanted["proj_size"] = 0
    wrong = [f"{k}={getattr(module, k)!r} (expected {v!r})" for k, v in wanted.items() if getattr(module, k) != v]
    if wrong:
        raise ValueError(f"{name}.copy_from_torch: torch module does not match: {', '.join(wrong)}")


def _parameter_names(core: nn.Module) -> tuple:
    return ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if core.config.bias else ())


def copy_weights_from_torch(core: nn.Module, module: nn.Module, torch_cls: type, name: str) -> None:
    """``cells[l].weight_ih <- module.weight_ih_l{l}`` and so on, after checking the sizes."""
    _check_torch_twin(core, module, torch_cls, name)
    with torch.no_grad():
        for layer, cell in enumerate(core.cells):
            for p in _parameter_names(core):
                getattr(cell, p).copy_(getattr(module, f"{p}_l{layer}"))


def copy_weights_to_torch(core: nn.Module, module: nn.Module) -> None:
    with torch.no_grad():
        for layer, cell in enumerate(core.cells):
            for p in _parameter_names(core):
                getattr(module, f"{p}_l{layer}").copy_(getattr(cell, p))
