"""Scratch RNN / GRU / LSTM against torch.nn: forward + backward time at T=128, B=32, H=128.

Run: ``python -m benchmarks.bench_recurrent`` (or ``run("cuda")`` for the GPU).

Rows (ratio = ours_ms / peer_ms, below 1.0: ours is faster):

* LSTM fast path (hoisted input projection + hand-written BPTT) vs ``torch.nn.LSTM``: target <= 2.0
* LSTM readable path (one ``LSTMCell`` call per step) vs ``torch.nn.LSTM``: context
* the LSTM fast path's matrix multiplies alone (``torch.mm``), same shapes, vs ``torch.nn.LSTM``:
  the floor for any LSTM written with PyTorch tensor ops. On CPU ``torch.nn.LSTM`` runs
  oneDNN's fused RNN kernel, whose matmuls can be faster than the BLAS behind ``torch.mm``.
* GRU and Elman RNN fast paths vs ``torch.nn.GRU`` / ``torch.nn.RNN``: context
"""
from __future__ import annotations

import torch

from benchmarks._common import compare
from rvt_lib.models.gru import GRU, GRUConfig
from rvt_lib.models.lstm import LSTM, LSTMConfig
from rvt_lib.models.rnn import RNN, RNNConfig

T, B, H = 128, 32, 128
SHAPE = f"T={T} B={B} I=H={H} fwd+bwd"


def _fwd_bwd(model, x):
    """One training-like step: forward, a scalar loss, backward (x requires grad too)."""
    def step():
        model.zero_grad(set_to_none=True)
        x.grad = None
        y, _ = model(x)
        y.sum().backward()
    return step


def _lstm_matmuls(device):
    """Exactly the matmuls of the LSTM fast path, nothing else (random operands)."""
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(B * T, H, generator=g).to(device)          # inputs, all steps
    w_ih = torch.randn(4 * H, H, generator=g).to(device)
    w_hh = torch.randn(4 * H, H, generator=g).to(device)
    h = torch.randn(B, H, generator=g).to(device)
    dpre_t = torch.randn(B, 4 * H, generator=g).to(device)
    dpre = torch.randn(B * T, 4 * H, generator=g).to(device)   # gate gradients, all steps

    def step():
        x @ w_ih.t()                     # forward: input projection, hoisted
        for _ in range(T):
            h @ w_hh.t()                 # forward: one recurrent matmul per step
        for _ in range(T):
            dpre_t @ w_hh                # backward: dL/dh_{t-1} per step
        dpre.t() @ x                     # dW_hh (same shape as dW_ih here, I = H)
        dpre.t() @ x                     # dW_ih
        dpre @ w_ih                      # dL/dx
    return step


def run(device: str = "cpu") -> list[dict]:
    torch.manual_seed(0)
    x = torch.randn(B, T, H, device=device, requires_grad=True)
    rows = []

    ref = torch.nn.LSTM(H, H, batch_first=True).to(device)
    fast = LSTM(LSTMConfig(H, H, fast=True)).to(device).copy_from_torch(ref)
    slow = LSTM(LSTMConfig(H, H, fast=False)).to(device).copy_from_torch(ref)
    rows.append(compare("LSTM", SHAPE, _fwd_bwd(fast, x), _fwd_bwd(ref, x), ours="rvt_lib LSTM fast path",
                        peer="torch.nn.LSTM", target="<= 2.0", repeats=9, device=device))
    rows.append(compare("LSTM", SHAPE, _fwd_bwd(slow, x), _fwd_bwd(ref, x), ours="rvt_lib LSTM readable path",
                        peer="torch.nn.LSTM", target="context", repeats=5, device=device))
    rows.append(compare("LSTM", SHAPE, _lstm_matmuls(device), _fwd_bwd(ref, x),
                        ours="the fast path's matmuls alone (torch.mm)", peer="torch.nn.LSTM",
                        target="context (floor)", repeats=9, device=device))

    ref = torch.nn.GRU(H, H, batch_first=True).to(device)
    ours = GRU(GRUConfig(H, H, fast=True)).to(device).copy_from_torch(ref)
    rows.append(compare("GRU", SHAPE, _fwd_bwd(ours, x), _fwd_bwd(ref, x), ours="rvt_lib GRU fast path",
                        peer="torch.nn.GRU", target="context", repeats=5, device=device))

    ref = torch.nn.RNN(H, H, batch_first=True).to(device)
    ours = RNN(RNNConfig(H, H, fast=True)).to(device).copy_from_torch(ref)
    rows.append(compare("RNN (tanh)", SHAPE, _fwd_bwd(ours, x), _fwd_bwd(ref, x), ours="rvt_lib RNN fast path",
                        peer="torch.nn.RNN", target="context", repeats=5, device=device))
    return rows


if __name__ == "__main__":
    import pandas as pd

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(pd.DataFrame(run()).to_string(index=False))
