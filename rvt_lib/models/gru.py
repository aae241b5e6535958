"""The GRU, written from scratch (and equal to ``torch.nn.GRU``).

The gated recurrent unit (Cho et al., 2014) keeps a single state ``h`` and two gates::

    r = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset gate
    z = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update gate
    n =    tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))    candidate state
    h_t = (1 - z) * n + z * h_{t-1}

``z`` interpolates between keeping the old state (``z = 1``) and replacing it with the
candidate (``z = 0``); like the LSTM's cell, the ``z * h_{t-1}`` path lets information
and gradients pass many steps unchanged.

This is PyTorch's (and cuDNN's) formulation, with the gates stacked in the order
``(r, z, n)`` in ``weight_ih`` ``(3H, I)``, ``weight_hh`` ``(3H, H)``, ``bias_ih`` and
``bias_hh`` ``(3H,)``. It differs from the original paper in one place: Cho et al. reset
the state *before* the matrix multiply, ``n = tanh(W_in x_t + W_hn (r * h_{t-1}))``,
whereas here the reset multiplies the product, ``r * (W_hn h_{t-1} + b_hn)``. The two are
different functions (neither is a re-parametrisation of the other). PyTorch's version
needs only ``h_{t-1}`` before the matmul, so all three hidden-state products are one
``(B, H) @ (H, 3H)`` multiply per step. (Some texts also
swap the roles of ``z`` and ``1 - z``; here ``z`` multiplies the old state, as in Cho et al.)

Like ``rnn.py``, two paths compute the same thing (``GRUConfig.fast``): the readable
cell loop, and a fast path where the input projections ``W_i* x_t + b_i*`` of all steps
are one matmul before the loop. Both share :func:`gru_step`, the recurrent part of the
equations, and use ordinary autograd for the gradients.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from rvt_lib.models.rnn import (_check_sizes, check_step, copy_weights_from_torch,
                                copy_weights_to_torch, initial_state, reset_uniform)


@dataclass
class GRUConfig:
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    fast: bool = True  # hoisted input projection (True) or the step-by-step cell loop (False)

    def __post_init__(self):
        _check_sizes(self)


def gru_step(gi: torch.Tensor, h: torch.Tensor, weight_hh: torch.Tensor, bias_hh: torch.Tensor | None) -> torch.Tensor:
    """One GRU step given the input projection ``gi = W_ih x_t + b_ih`` (B, 3H) and ``h`` (B, H)."""
    gh = F.linear(h, weight_hh, bias_hh)  # (B, 3H): W_h* h + b_h* for r, z, n in one matmul
    i_r, i_z, i_n = gi.chunk(3, dim=1)    # each (B, H)
    h_r, h_z, h_n = gh.chunk(3, dim=1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)         # the reset gate scales W_hn h + b_hn (PyTorch's form)
    return (1 - z) * n + z * h            # (B, H)


class GRUCell(nn.Module):
    """One time step: ``h_new = cell(x_t, h)``; ``x_t`` (B, I), ``h`` (B, H)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))   # (3H, I): r, z, n
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))  # (3H, H)
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))  # (3H,)
            self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))  # (3H,)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        reset_uniform(self, hidden_size)

    def forward(self, x_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        check_step(x_t, {"h": h}, self.input_size, self.hidden_size, "GRUCell")
        gi = F.linear(x_t, self.weight_ih, self.bias_ih)  # (B, 3H)
        return gru_step(gi, h, self.weight_hh, self.bias_hh)


class GRU(nn.Module):
    """A stack of GRU layers: ``y, h_n = gru(x, h0)``.

    * ``x``:  ``(batch, time, input_size)``
    * ``h0``: ``(num_layers, batch, hidden_size)`` or ``None`` (zeros)
    * ``y``:  ``(batch, time, hidden_size)``, the top layer's hidden state at every step
    * ``h_n``: ``(num_layers, batch, hidden_size)``, every layer's last hidden state
    """

    def __init__(self, config: GRUConfig):
        super().__init__()
        self.config = config
        self.input_size, self.hidden_size, self.num_layers = config.input_size, config.hidden_size, config.num_layers
        self.cells = nn.ModuleList(
            GRUCell(config.input_size if layer == 0 else config.hidden_size, config.hidden_size, bias=config.bias)
            for layer in range(config.num_layers)
        )

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None):
        h0 = initial_state(x, state, self, "GRU")  # (L, B, H)
        layer_input, h_n = x, []
        for layer, cell in enumerate(self.cells):
            run = self._layer_fast if self.config.fast else self._layer_readable
            layer_input, h = run(cell, layer_input, h0[layer])  # (B, T, H), (B, H)
            h_n.append(h)
        return layer_input, torch.stack(h_n)  # (B, T, H), (L, B, H)

    @staticmethod
    def _layer_readable(cell: GRUCell, x: torch.Tensor, h: torch.Tensor):
        """The reference: call the cell once per time step."""
        outputs = []
        for x_t in x.unbind(dim=1):  # T slices (B, I); see RNN._layer_readable for why unbind
            h = cell(x_t, h)  # (B, H)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h  # (B, T, H), (B, H)

    @staticmethod
    def _layer_fast(cell: GRUCell, x: torch.Tensor, h: torch.Tensor):
        """Same equations, with the input projection of all T steps done in one matmul."""
        gi = F.linear(x, cell.weight_ih, cell.bias_ih)  # (B, T, 3H)
        outputs = []
        for gi_t in gi.unbind(dim=1):  # T slices (B, 3H)
            h = gru_step(gi_t, h, cell.weight_hh, cell.bias_hh)  # (B, H)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h  # (B, T, H), (B, H)

    def copy_from_torch(self, module: nn.GRU) -> "GRU":
        """Copy the weights of a ``torch.nn.GRU(batch_first=True)`` of the same sizes."""
        copy_weights_from_torch(self, module, nn.GRU, "GRU")
        return self

    def to_torch(self) -> nn.GRU:
        """Build the equivalent ``torch.nn.GRU(batch_first=True)`` holding our weights."""
        c = self.config
        p = self.cells[0].weight_ih
        module = nn.GRU(c.input_size, c.hidden_size, c.num_layers, bias=c.bias, batch_first=True,
                        device=p.device, dtype=p.dtype)
        copy_weights_to_torch(self, module)
        return module
