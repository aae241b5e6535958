"""The LSTM, written from scratch (and equal to ``torch.nn.LSTM``).

An LSTM layer (Hochreiter & Schmidhuber, 1997; forget gate: Gers et al., 2000) carries two
vectors from step to step: the hidden state ``h`` (also the output) and the *cell* ``c``.
Four gates, all computed from ``x_t`` and ``h_{t-1}``, decide what happens to the cell::

    i = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)     input gate: how much to write
    f = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)     forget gate: how much to keep
    g =    tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)     candidate values to write
    o = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)     output gate: how much to show
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

The cell update is *additive*: when ``f`` is near 1 and ``i`` near 0, ``c`` is carried
along unchanged and so is its gradient, which is why LSTMs learn longer dependencies than
the plain RNN. As in PyTorch, the four gates are stacked in the order ``(i, f, g, o)``
into ``weight_ih`` ``(4H, I)``, ``weight_hh`` ``(4H, H)``, ``bias_ih`` and ``bias_hh`` ``(4H,)``.

Two paths compute the same thing (``LSTMConfig.fast``):

* readable (``fast=False``): :class:`LSTMCell` called once per step, autograd does the rest;
* fast (``fast=True``): the input projection ``W_ih x_t + b`` of all steps is one matmul
  ("hoisted" out of the loop, since it does not depend on ``h``); the loop then does one
  ``(B, H) @ (H, 4H)`` matmul per step for all four gates. Its gradient is not left to
  autograd: :class:`LSTMRecurrence` writes backpropagation through time (BPTT) out by
  hand, one backward step per forward step, with every derivative visible.

Where does the time go? At the sizes of the benchmark (``benchmarks/bench_recurrent.py``)
mostly into the matrix multiplies, which both paths share in number of flops; hoisting
turns T small input matmuls into one large one, and the hand-written backward saves
autograd's bookkeeping and some memory rather than arithmetic. ``torch.nn.LSTM`` on CPU
calls oneDNN's fused LSTM kernel, which is faster still: see the benchmark's rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from rvt_lib.models.rnn import (_check_sizes, check_step, copy_weights_from_torch,
                                copy_weights_to_torch, initial_state, reset_uniform)


@dataclass
class LSTMConfig:
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    fast: bool = True  # hoisted projection + hand-written BPTT (True) or the cell loop (False)
    chrono: int | None = None  # T_max of the chrono initialisation (below); None: PyTorch's init

    def __post_init__(self):
        _check_sizes(self)
        if self.chrono is not None and (isinstance(self.chrono, bool) or not isinstance(self.chrono, int)
                                        or self.chrono < 3):
            raise ValueError(f"LSTMConfig: chrono must be None or an int T_max >= 3, got {self.chrono!r}")
        if self.chrono is not None and not self.bias:
            raise ValueError("LSTMConfig: chrono initialisation sets gate biases; it needs bias=True")


class LSTMCell(nn.Module):
    """One time step: ``h_new, c_new = cell(x_t, (h, c))``; ``x_t`` (B, I), ``h`` and ``c`` (B, H)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))   # (4H, I): i, f, g, o
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))  # (4H, H)
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))  # (4H,)
            self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))  # (4H,)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        reset_uniform(self, hidden_size)

    def forward(self, x_t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        if not isinstance(state, tuple) or len(state) != 2:
            raise TypeError(f"LSTMCell: state must be a tuple (h, c), each of shape (batch, {self.hidden_size})")
        h, c = state
        check_step(x_t, {"h": h, "c": c}, self.input_size, self.hidden_size, "LSTMCell")
        gates = F.linear(x_t, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh)  # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=1)  # each (B, H)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g        # (B, H) keep some of the old cell, write some of the new
        h = o * torch.tanh(c)    # (B, H)
        return h, c


class LSTMRecurrence(torch.autograd.Function):
    """The LSTM recurrence over all steps, given the hoisted input projections.

    ``forward(xw, h0, c0, weight_hh, save) -> (y, h_T, c_T)``, where ``xw`` (B, T, 4H) holds
    ``W_ih x_t + b_ih + b_hh`` for every step, ``h0`` and ``c0`` are (B, H), ``weight_hh``
    is (4H, H) and ``y`` (B, T, H) holds every ``h_t``. ``save=False`` (inference) skips
    keeping the gates for the backward pass.

    ``backward`` is backpropagation through time (BPTT), written out. Walking from the
    last step to the first, it carries ``dh = dL/dh_t`` and ``dc = dL/dc_t``. With ``pre``
    the four gates' pre-activations and ``tc = tanh(c_t)``, the chain rule through one step
    reads::

        dh     += dy_t                          h_t is an output too
        dc     += dh * o * (1 - tc^2)           from h_t = o * tanh(c_t)
        dpre_i  = dc * g * i * (1 - i)          from c_t = f * c_{t-1} + i * g,
        dpre_f  = dc * c_{t-1} * f * (1 - f)        with sigmoid' = s (1 - s)
        dpre_g  = dc * i * (1 - g^2)                and tanh' = 1 - tanh^2
        dpre_o  = dh * tc * o * (1 - o)         from h_t = o * tanh(c_t)
        dc      = dc * f                        dL/dc_{t-1}: the additive cell path
        dh      = dpre @ W_hh                   dL/dh_{t-1}: through all four gates

    Only ``dh`` and ``dc`` travel from step to step. The factors that multiply them
    (``o (1 - tc^2)``, ``g i (1 - i)``, ...) depend on saved forward values alone, so they
    are computed for all steps at once before the loop. The weight gradient is a sum over
    steps, ``dW_hh = sum_t dpre_t^T h_{t-1}``: one matmul after the loop. The gradient for
    ``xw`` is ``dpre`` itself; autograd takes it from there through the input projection.
    """

    @staticmethod
    def forward(ctx, xw, h0, c0, weight_hh, save=True):
        w_hh_t = weight_hh.t()  # (H, 4H)
        h, c = h0, c0
        hs, steps = [], []
        for xw_t in xw.unbind(dim=1):  # T slices (B, 4H)
            i, f, g, o = torch.addmm(xw_t, h, w_hh_t).chunk(4, dim=1)  # all four gates, one matmul
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * c + i * g      # (B, H)
            tc = torch.tanh(c)
            h = o * tc             # (B, H)
            hs.append(h)
            steps.append((i, f, g, o, c, tc))
        y = torch.stack(hs, dim=1)  # (B, T, H)
        if save:
            saved = [torch.stack(v) for v in zip(*steps)]  # i, f, g, o, c, tanh(c): each (T, B, H)
            ctx.save_for_backward(h0, c0, weight_hh, y, *saved)
        return y, h, c

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dh_T, dc_T):
        h0, c0, weight_hh, y, i, f, g, o, cs, tc = ctx.saved_tensors  # gates, cs, tc: (T, B, H)
        T, B, H = cs.shape
        c_prev = torch.cat([c0[None], cs[:-1]])  # (T, B, H): c_{t-1}

        # Local derivatives of every step, all at once (none of them depends on dh or dc).
        dc_dh = o * (1 - tc * tc)                # (T, B, H)    dc_t   += dh_t * dc_dh
        dpre_o_dh = tc * o * (1 - o)             # (T, B, H)    dpre_o  = dh_t * dpre_o_dh
        dpre_ifg_dc = torch.stack([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g)], dim=2)  # (T, B, 3, H)

        dy = dy.transpose(0, 1)              # (T, B, H)
        dpre = y.new_empty(T, B, 4, H)       # dL/d(pre-activations) of gates i, f, g, o
        dh, dc = dh_T, dc_T                  # (B, H): gradients arriving from after the last step
        for t in reversed(range(T)):
            dh = dh + dy[t]
            dc = dc + dh * dc_dh[t]
            dpre[t, :, :3] = dc[:, None] * dpre_ifg_dc[t]   # i, f, g reach h_t only through c_t
            dpre[t, :, 3] = dh * dpre_o_dh[t]                # o reaches h_t directly
            dc = dc * f[t]                                   # dL/dc_{t-1}
            dh = dpre[t].view(B, 4 * H) @ weight_hh          # dL/dh_{t-1}: (B, 4H) @ (4H, H)

        dpre = dpre.view(T, B, 4 * H)  # gates side by side again, as in xw
        d_weight_hh = None
        if ctx.needs_input_grad[3]:
            h_prev = torch.cat([h0[None], y.transpose(0, 1)[:-1]])  # (T, B, H): h_{t-1}
            # (4H, T*B) @ (T*B, H): one matmul sums dpre_t^T h_{t-1} over steps and batch
            d_weight_hh = dpre.view(T * B, 4 * H).t() @ h_prev.view(T * B, H)
        return dpre.transpose(0, 1), dh, dc, d_weight_hh, None  # dxw: (B, T, 4H)


def chrono_init_(cell: LSTMCell, t_max: int) -> None:
    """Chrono initialisation (Tallec & Ollivier, 2018), in place.

    A forget gate with bias ``b_f`` keeps a fraction ``sigmoid(b_f)`` of the cell per step,
    so information fades over about ``1 / (1 - sigmoid(b_f)) = 1 + exp(b_f)`` steps. Drawing
    ``b_f = log(u)`` with ``u ~ U(1, t_max - 1)`` spreads those memory times over ``[2, t_max]``,
    and ``b_i = -b_f`` keeps the input gate closed where the forget gate is open. Both go
    into ``bias_ih``; ``bias_hh`` of those gates is zeroed (the two biases are summed).
    """
    H = cell.hidden_size
    with torch.no_grad():
        b_f = torch.empty(H).uniform_(1.0, t_max - 1.0).log_()  # (H,)
        cell.bias_ih[H:2 * H] = b_f   # forget gate (gate order i, f, g, o)
        cell.bias_ih[:H] = -b_f       # input gate
        cell.bias_hh[:2 * H] = 0.0


class LSTM(nn.Module):
    """A stack of LSTM layers: ``y, (h_n, c_n) = lstm(x, (h0, c0))``.

    * ``x``: ``(batch, time, input_size)``
    * state: ``None`` (zeros) or a tuple ``(h0, c0)``, each ``(num_layers, batch, hidden_size)``
    * ``y``: ``(batch, time, hidden_size)``, the top layer's ``h_t`` at every step
    """

    def __init__(self, config: LSTMConfig):
        super().__init__()
        self.config = config
        self.input_size, self.hidden_size, self.num_layers = config.input_size, config.hidden_size, config.num_layers
        self.cells = nn.ModuleList(
            LSTMCell(config.input_size if layer == 0 else config.hidden_size, config.hidden_size, bias=config.bias)
            for layer in range(config.num_layers)
        )
        if config.chrono is not None:
            for cell in self.cells:
                chrono_init_(cell, config.chrono)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        shape = f"({self.num_layers}, batch, {self.hidden_size})"
        if state is None:
            h0 = c0 = initial_state(x, None, self, "LSTM")  # (L, B, H) zeros
        elif not isinstance(state, tuple) or len(state) != 2:
            raise TypeError(f"LSTM: state must be a tuple (h0, c0), each of shape {shape}, got {type(state).__name__}")
        else:
            h0 = initial_state(x, state[0], self, "LSTM", "h0")
            c0 = initial_state(x, state[1], self, "LSTM", "c0")
        layer_input, h_n, c_n = x, [], []
        for layer, cell in enumerate(self.cells):
            run = self._layer_fast if self.config.fast else self._layer_readable
            layer_input, h, c = run(cell, layer_input, h0[layer], c0[layer])  # (B, T, H), (B, H), (B, H)
            h_n.append(h), c_n.append(c)
        return layer_input, (torch.stack(h_n), torch.stack(c_n))

    @staticmethod
    def _layer_readable(cell: LSTMCell, x, h, c):
        """The reference: call the cell once per time step."""
        outputs = []
        for x_t in x.unbind(dim=1):  # T slices (B, I); see RNN._layer_readable for why unbind
            h, c = cell(x_t, (h, c))  # (B, H), (B, H)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h, c

    @staticmethod
    def _layer_fast(cell: LSTMCell, x, h, c):
        """Hoisted input projection (one matmul for all steps), then the hand-written recurrence."""
        bias = None if cell.bias_ih is None else cell.bias_ih + cell.bias_hh
        xw = F.linear(x, cell.weight_ih, bias)  # (B, T, 4H)
        return LSTMRecurrence.apply(xw, h, c, cell.weight_hh, torch.is_grad_enabled())

    def copy_from_torch(self, module: nn.LSTM) -> "LSTM":
        """Copy the weights of a ``torch.nn.LSTM(batch_first=True)`` of the same sizes."""
        copy_weights_from_torch(self, module, nn.LSTM, "LSTM")
        return self

    def to_torch(self) -> nn.LSTM:
        """Build the equivalent ``torch.nn.LSTM(batch_first=True)`` holding our weights."""
        c = self.config
        p = self.cells[0].weight_ih
        module = nn.LSTM(c.input_size, c.hidden_size, c.num_layers, bias=c.bias, batch_first=True,
                         device=p.device, dtype=p.dtype)
        copy_weights_to_torch(self, module)
        return module
