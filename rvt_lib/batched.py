"""Seed-batched training: K members of one architecture trained as ONE computation.

A study trains the same architecture many times: several seeds, several learning rates.
The book's models are small, so one training step is bound by the per-operation overhead
of PyTorch (a few microseconds per call, hundreds of calls per step), not by arithmetic.
Training K members *together* pays that overhead once for all of them:

* the K members' parameters are stacked into tensors with a leading member axis
  (``torch.func.stack_module_state``): ``(K, *shape)`` each;
* one forward pass runs the model once per member under ``torch.vmap`` (through
  ``torch.func.functional_call``), so every operation works on all K members at once;
  the K losses are summed and one ``backward`` gives every member its own gradient;
* the optimiser is AdamW written out on the stacked tensors, with one learning rate,
  weight decay and beta per member, and per-member gradient clipping, warmup/cosine
  schedule, early stopping and NaN stop (a stopped member's parameters freeze).

Each member draws its batches exactly as :func:`rvt_lib.train.fit` would with its seed:
every member keeps its own random-generator state (Python, NumPy, torch), which is
swapped in around each of its draws. So a member trained batched equals the same member
trained alone with ``fit`` (losses at every step and final weights, to float tolerance;
``tests/test_batched.py`` proves it in float64 for every kind of model).

    histories = fit_batched([spec.build(s) for s in seeds], [sampler(s) for s in seeds],
                            [cfg.but(lr=lr) for lr in lrs], seeds=seeds)

What vmaps and what needs help (the private copy of the model that runs under vmap is
adjusted; the user's modules are never changed):

* RNN, the GRU and LSTM readable paths, minGRU's sequential mode and the GPT are
  ordinary tensor code and vmap as they are.
* The GRU fast path vmaps too, but its per-step autograd graph under vmap is slow;
  it gets a batched twin with the BPTT written out, :class:`BatchedGRURecurrence`.
* The LSTM fast path is a custom ``autograd.Function`` (hand-written BPTT) written in the
  old style, which ``vmap`` refuses. Here it gets a batched twin,
  :class:`BatchedLSTMRecurrence`: the same BPTT with ``torch.bmm`` over the member axis,
  reached through a vmap rule (:class:`_VmapLSTMRecurrence`).
* minGRU/minLSTM's log-space scan (``rvt_lib.scan._LogScan``) is the same story; its
  vmap rule (:class:`_VmapLogScan`) folds the member axis into the batch axis, since
  the scan treats every row alike.
* The GPT's fused attention (``scaled_dot_product_attention``) has no CPU batching rule:
  vmap runs it once per member (correct, no faster than K runs). The GPT's "plain"
  attention vmaps natively but measured slower than that fallback, so it is left alone.
* Dropout under vmap draws one mask per member, but not the masks that K separate runs
  would draw: with dropout > 0 members are trained correctly but not equal to ``fit``.
"""
from __future__ import annotations

import copy
import math
import random
import time
import warnings
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn as nn
from torch.func import functional_call, stack_module_state

import rvt_lib.scan as _scan
from rvt_lib import train as _train
from rvt_lib.measure import keep_freed_memory
from rvt_lib.train import History

ADAM_EPS = 1e-8  # torch.optim.AdamW's default
# settings every member must share (the batched loop runs one schedule of steps and evaluations)
SHARED_FIELDS = ("steps", "epochs", "eval_every", "eval_batches")


# ----------------------------------------------------------------------------- vmap rules

def _member_first(t, dim, K):
    """Move vmap's member axis of ``t`` to the front (or broadcast an unbatched ``t``)."""
    if t is None:
        return None
    return t.expand(K, *t.shape) if dim is None else t.movedim(dim, 0)


class BatchedLSTMRecurrence(torch.autograd.Function):
    """K LSTM recurrences at once: :class:`rvt_lib.models.lstm.LSTMRecurrence` with a member axis.

    ``forward(xw, h0, c0, weight_hh) -> (y, h_T, c_T)`` with ``xw`` (K, B, T, 4H), ``h0``
    and ``c0`` (K, B, H), ``weight_hh`` (K, 4H, H) and ``y`` (K, B, T, H). The backward is
    the same hand-written BPTT (see that class for the derivation); every ``(B, 4H) @
    (4H, H)`` matmul becomes one ``torch.bmm`` over the K members.

    Unlike the readable original, this twin is written for few kernel calls per step (at
    the book's sizes a step's tensors hold a few thousand numbers, so each call's overhead
    costs more than its arithmetic): every step writes into buffers allocated once
    (``out=``), one sigmoid covers all four gates (the g slice is then overwritten by its
    tanh), ``addcmul`` fuses a multiply with an add, and the backward folds ``dh += dy_t``
    into the ``baddbmm`` that carries ``dh`` back a step. Forward 7 calls per step instead
    of 11, backward 5 instead of 9. Measured against the previous one-op-per-line twin in one
    run (2 threads, K = 8, a training step of all members): 34.8 -> 29.9 ms at the ECG size,
    502 -> 415 ms at the Shakespeare size. Inside the loop a call takes several times as
    long as the same call timed alone, which points at memory traffic through the (T, K, B,
    4H) buffers; fewer calls do not reduce that.
    """

    @staticmethod
    def forward(ctx, xw, h0, c0, weight_hh):
        K, B, T, H4 = xw.shape
        H = H4 // 4
        w_t = weight_hh.transpose(1, 2).contiguous()  # (K, H, 4H): a faster bmm operand
        acts = xw.new_empty(T, K, B, H4)  # sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
        cs, tcs = xw.new_empty(T, K, B, H), xw.new_empty(T, K, B, H)  # c_t, tanh(c_t)
        y = xw.new_empty(K, B, T, H)
        i, f, g, o = acts.chunk(4, dim=3)  # views (T, K, B, H)
        hs, xws = y.unbind(dim=2), xw.unbind(dim=2)  # T views (K, B, H) and (K, B, 4H)
        h, c = h0, c0
        for t in range(T):
            pre = torch.baddbmm(xws[t], h, w_t)  # all four gates of all members: one bmm
            torch.sigmoid(pre, out=acts[t])
            torch.tanh(pre[..., 2 * H:3 * H], out=g[t])
            c = torch.mul(f[t], c, out=cs[t]).addcmul_(i[t], g[t])  # f * c + i * g
            h = torch.mul(o[t], torch.tanh(c, out=tcs[t]), out=hs[t])  # o * tanh(c)
        ctx.save_for_backward(h0, c0, weight_hh, acts, cs, tcs, y)
        return y, h.clone(), c.clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy, dh_T, dc_T):
        h0, c0, weight_hh, acts, cs, tc, y = ctx.saved_tensors  # acts, cs, tc: (T, K, B, ·)
        T, K, B, H = cs.shape
        i, f, g, o = acts.chunk(4, dim=3)
        # Local derivatives of every step at once: dpre = coef * (dc, dc, dc, dh) per gate,
        # written gate by gate into one buffer (these passes over T are memory-bound)
        one = acts.new_ones(())
        coef = acts.new_empty(T, K, B, 4, H)
        c_i, c_f, c_g, c_o = coef.unbind(3)
        torch.mul(torch.addcmul(i, i, i, value=-1), g, out=c_i)  # g * i (1 - i)
        torch.addcmul(f, f, f, value=-1, out=c_f)  # f (1 - f) ...
        c_f[1:] *= cs[:-1]                         # ... * c_{t-1}
        c_f[0] *= c0
        torch.mul(torch.addcmul(one, g, g, value=-1), i, out=c_g)  # i * (1 - g^2)
        torch.mul(torch.addcmul(o, o, o, value=-1), tc, out=c_o)  # tc * o (1 - o)
        dc_dh = torch.addcmul(one, tc, tc, value=-1).mul_(o).unbind(0)  # dc_t += dh_t * dc_dh
        coef, f = coef.unbind(0), f.unbind(0)
        dpre = y.new_empty(K, B, T, 4, H)  # dL/d(pre-activations), laid out as xw
        steps, flat = dpre.unbind(2), dpre.view(K, B, T, 4 * H).unbind(2)
        dys = dy.unbind(2)  # T views (K, B, H)
        dh = dys[-1] if dh_T is None else dh_T + dys[-1]  # dL/dh_t, dy_t included
        dc = torch.zeros_like(c0) if dc_T is None else dc_T
        for t in reversed(range(T)):
            dc = torch.addcmul(dc, dh, dc_dh[t])
            torch.mul(coef[t], dc[:, :, None], out=steps[t])  # i, f, g reach h_t via c_t;
            torch.mul(coef[t][:, :, 3], dh, out=steps[t][:, :, 3])  # o directly: rewrite it
            dc = dc * f[t]  # dL/dc_{t-1}
            if t:  # dL/dh_{t-1} = dy_{t-1} + dpre_t @ W_hh, per member
                dh = torch.baddbmm(dys[t - 1], flat[t], weight_hh)
        dh = torch.bmm(flat[0], weight_hh)  # dL/dh0
        dpre = dpre.view(K, B * T, 4 * H)
        h_prev = torch.cat([h0[:, :, None], y[:, :, :-1]], dim=2)  # (K, B, T, H): h_{t-1}
        # (K, 4H, B*T) @ (K, B*T, H): sum over steps and batch of dpre_t^T h_{t-1}, per member
        d_weight_hh = torch.bmm(dpre.transpose(1, 2), h_prev.view(K, B * T, H))
        return dpre.view(K, B, T, 4 * H), dh, dc, d_weight_hh


class _VmapLSTMRecurrence(torch.autograd.Function):
    """``LSTMRecurrence`` made vmappable: under vmap it runs :class:`BatchedLSTMRecurrence`."""

    @staticmethod
    def forward(xw, h0, c0, weight_hh):
        from rvt_lib.models.lstm import LSTMRecurrence
        return LSTMRecurrence.apply(xw, h0, c0, weight_hh, True)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass  # only ever run under vmap, where the rule below records the batched twin

    @staticmethod
    def vmap(info, in_dims, xw, h0, c0, weight_hh):
        K = info.batch_size
        args = [_member_first(t, d, K) for t, d in zip((xw, h0, c0, weight_hh), in_dims)]
        return BatchedLSTMRecurrence.apply(*args), (0, 0, 0)


def _lstm_layer_vmappable(cell, x, h, c):
    """``LSTM._layer_fast`` with the vmappable recurrence (same hoisted projection)."""
    bias = None if cell.bias_ih is None else cell.bias_ih + cell.bias_hh
    xw = torch.nn.functional.linear(x, cell.weight_ih, bias)  # (B, T, 4H)
    return _VmapLSTMRecurrence.apply(xw, h, c, cell.weight_hh)


class BatchedGRURecurrence(torch.autograd.Function):
    """K GRU recurrences at once, with backpropagation through time written out.

    ``forward(gi, h0, weight_hh, bias_hh) -> (y, h_T)`` with ``gi`` (K, B, T, 3H) the
    hoisted input projections ``W_ih x_t + b_ih`` (gates r, z, n side by side), ``h0``
    (K, B, H), ``weight_hh`` (K, 3H, H), ``bias_hh`` (K, 3H) and ``y`` (K, B, T, H). The
    step is :func:`rvt_lib.models.gru.gru_step`; its chain rule, with ``gh = W_hh h + b_hh``
    and ``a = dL/dh_t``::

        dz = a (h_{t-1} - n),   dn = a (1 - z),      dpre_n = dn (1 - n^2)
        dpre_z = dz z (1 - z),  dr = dpre_n gh_n,    dpre_r = dr r (1 - r)
        dgh = [dpre_r, dpre_z, dpre_n r]             (what reaches W_hh h + b_hh)
        dL/dh_{t-1} = a z + dgh @ W_hh               (the only thing carried back)

    The weight gradients are sums over steps, one ``bmm`` after the loop.
    """

    @staticmethod
    def forward(ctx, gi, h0, weight_hh, bias_hh):
        K, B, T, H3 = gi.shape
        H = H3 // 3
        w_t = weight_hh.transpose(1, 2)                      # (K, H, 3H)
        bias = bias_hh[:, None] if bias_hh is not None else None
        h, saved = h0, []
        for gi_t in gi.unbind(dim=2):                        # T slices (K, B, 3H)
            gh = torch.bmm(h, w_t) if bias is None else torch.baddbmm(bias, h, w_t)  # (K, B, 3H)
            rz = torch.sigmoid(gi_t[..., :2 * H] + gh[..., :2 * H])
            r, z = rz.chunk(2, dim=2)
            gh_n = gh[..., 2 * H:]
            n = torch.tanh(gi_t[..., 2 * H:] + r * gh_n)
            saved.append((h, r, z, n, gh_n))
            h = (1 - z) * n + z * h                          # (K, B, H)
        h_prev, r, z, n, gh_n = (torch.stack(v) for v in zip(*saved))   # (T, K, B, H) each
        y = torch.cat([h_prev[1:], h[None]])                 # (T, K, B, H): h_t
        ctx.save_for_backward(weight_hh, h_prev, r, z, n, gh_n)
        ctx.has_bias = bias_hh is not None
        return y.permute(1, 2, 0, 3), h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy, dh_T):
        weight_hh, h_prev, r, z, n, gh_n = ctx.saved_tensors
        T, K, B, H = z.shape
        # local factors of every step, all at once (none depends on the carried gradient)
        dz_da = (h_prev - n) * z * (1 - z)                   # dpre_z per unit of a
        dn_da = (1 - z) * (1 - n * n)                        # dpre_n per unit of a
        dr_da = dn_da * gh_n * r * (1 - r)                   # dpre_r per unit of a
        local = torch.stack([dr_da, dz_da, dn_da * r], dim=3)   # (T, K, B, 3, H): dgh per unit of a
        dy = dy.permute(2, 0, 1, 3)                          # (T, K, B, H)
        grads = dy.new_empty(T, K, B, H)                     # a_t = dL/dh_t, total, for every step
        a = torch.zeros_like(h_prev[0]) if dh_T is None else dh_T
        for t in reversed(range(T)):
            a = a + dy[t]
            grads[t] = a
            dgh_t = (a[:, :, None] * local[t]).view(K, B, 3 * H)
            a = torch.baddbmm(a * z[t], dgh_t, weight_hh)    # dL/dh_{t-1}: (K, B, 3H) @ (K, 3H, H)
        dgh = grads[:, :, :, None] * local                   # (T, K, B, 3, H), every step at once
        dgi = torch.cat([dgh[:, :, :, :2], (grads * dn_da)[:, :, :, None]], dim=3)  # dpre_n = a dn_da
        dgh = dgh.view(T, K, B, 3 * H).transpose(0, 1).contiguous()   # (K, T, B, 3H)
        d_weight_hh = torch.bmm(dgh.view(K, T * B, 3 * H).transpose(1, 2),
                                h_prev.transpose(0, 1).reshape(K, T * B, H))   # (K, 3H, H)
        d_bias_hh = dgh.sum(dim=(1, 2)) if ctx.has_bias else None
        return dgi.view(T, K, B, 3 * H).permute(1, 2, 0, 3), a, d_weight_hh, d_bias_hh


class _VmapGRURecurrence(torch.autograd.Function):
    """The GRU fast path's loop made vmappable: under vmap it runs :class:`BatchedGRURecurrence`."""

    @staticmethod
    def forward(gi, h, weight_hh, bias_hh):
        from rvt_lib.models.gru import gru_step
        outputs = []
        for gi_t in gi.unbind(dim=1):
            h = gru_step(gi_t, h, weight_hh, bias_hh)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass  # only ever run under vmap, where the rule below records the batched twin

    @staticmethod
    def vmap(info, in_dims, gi, h, weight_hh, bias_hh):
        K = info.batch_size
        args = [_member_first(t, d, K) for t, d in zip((gi, h, weight_hh, bias_hh), in_dims)]
        return BatchedGRURecurrence.apply(*args), (0, 0)


def _gru_layer_vmappable(cell, x, h):
    """``GRU._layer_fast`` with the vmappable recurrence (same hoisted projection)."""
    gi = torch.nn.functional.linear(x, cell.weight_ih, cell.bias_ih)  # (B, T, 3H)
    return _VmapGRURecurrence.apply(gi, h, cell.weight_hh, cell.bias_hh)


_ORIGINAL_LOG_SCAN = _scan._LogScan


class _VmapLogScan(torch.autograd.Function):
    """``rvt_lib.scan._LogScan`` made vmappable: members fold into the batch axis."""

    @staticmethod
    def forward(log_a, log_b, h0, chunk_size):
        return _ORIGINAL_LOG_SCAN.apply(log_a, log_b, h0, chunk_size)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def vmap(info, in_dims, log_a, log_b, h0, chunk_size):
        K = info.batch_size
        la, lb = _member_first(log_a, in_dims[0], K), _member_first(log_b, in_dims[1], K)
        _, B, T, D = la.shape
        h0 = None if h0 is None else _member_first(h0, in_dims[2], K).reshape(K * B, D)
        h = _ORIGINAL_LOG_SCAN.apply(la.reshape(K * B, T, D), lb.reshape(K * B, T, D), h0, chunk_size)
        return h.view(K, B, T, D), 0


@contextmanager
def _vmappable_log_scan():
    """Route ``scan_log`` through :class:`_VmapLogScan` for the duration of a vmapped call."""
    _scan._LogScan = _VmapLogScan
    try:
        yield
    finally:
        _scan._LogScan = _ORIGINAL_LOG_SCAN


def vmap_copy(model: nn.Module) -> nn.Module:
    """A private copy of ``model`` whose code runs under ``torch.vmap`` (its own weights are unused).

    The GRU and LSTM fast paths get their batched twins, and the token check of ``SequenceModel`` (a data-dependent ``int(x.min())``) is done outside vmap.
    """
    from rvt_lib.models.gru import GRU
    from rvt_lib.models.lstm import LSTM
    base = copy.deepcopy(model)  # not .to("meta"): that would untie tied weights (GPT's lm head)
    for m in base.modules():
        if isinstance(m, LSTM) and m.config.fast:
            m._layer_fast = _lstm_layer_vmappable
        if isinstance(m, GRU) and m.config.fast:
            m._layer_fast = _gru_layer_vmappable
    if hasattr(base, "_check_input"):
        base._check_input = lambda x: None
    return base


# ----------------------------------------------------------------------------- checks

def _check_members(models, train_sources, configs, val_sources, seeds):
    K = len(models)
    if K == 0:
        raise ValueError("fit_batched: give at least one model")
    for name, seq in (("train_sources", train_sources), ("configs", configs),
                      ("val_sources", val_sources), ("seeds", seeds)):
        if seq is not None and len(seq) != K:
            raise ValueError(f"fit_batched: {K} models but {len(seq)} {name}; give one per model")
    ref = models[0]
    shapes = {n: (tuple(p.shape), p.dtype, p.device) for n, p in ref.named_parameters()}
    for i, m in enumerate(models[1:], start=1):
        if type(m) is not type(ref) or repr(m) != repr(ref):
            raise ValueError(f"fit_batched: every model must have the same architecture; "
                             f"model {i} differs from model 0")
        if {n: (tuple(p.shape), p.dtype, p.device) for n, p in m.named_parameters()} != shapes:
            raise ValueError(f"fit_batched: model {i} has other parameter shapes, dtypes or devices than model 0")
    if len({id(m) for m in models}) != K:
        raise ValueError("fit_batched: the same model object appears twice; build one per member")
    for f in SHARED_FIELDS:
        values = {getattr(c, f) for c in configs}
        if len(values) > 1:
            raise ValueError(f"fit_batched: every config must have the same {f}, got {sorted(values, key=str)}")
    if (val_sources is None) and any(c.patience is not None for c in configs):
        raise ValueError("fit_batched: early stopping (patience) needs val_sources")


# ----------------------------------------------------------------------------- random streams

class _Stream:
    """One member's random generators (Python, NumPy, torch) and its batch source."""

    def __init__(self, source, seed: int):
        _train.set_seed(seed)                 # as fit does before anything else
        self.state = (random.getstate(), np.random.get_state(), torch.get_rng_state())
        self.source = source
        self.is_callable = _train._is_source_callable(source)
        self.iterator = None
        self.passes = 0  # complete passes over an iterable

    @contextmanager
    def active(self):
        """Run a block with this member's generators in place (and keep what it drew)."""
        outer = (random.getstate(), np.random.get_state(), torch.get_rng_state())
        random.setstate(self.state[0]), np.random.set_state(self.state[1]), torch.set_rng_state(self.state[2])
        try:
            yield
        finally:
            self.state = (random.getstate(), np.random.get_state(), torch.get_rng_state())
            random.setstate(outer[0]), np.random.set_state(outer[1]), torch.set_rng_state(outer[2])

    def draw(self, restart_when_done: bool):
        """The next batch, or None when a pass over an iterable is over.

        With ``restart_when_done`` (a ``steps`` run) a new pass starts at once, as fit does.
        """
        with self.active():
            if self.is_callable:
                return self.source()
            if self.iterator is None:
                self.iterator = iter(self.source)
            batch = next(self.iterator, None)
            if batch is None:
                self.iterator, self.passes = None, self.passes + 1
                if restart_when_done:
                    self.iterator = iter(self.source)
                    batch = next(self.iterator, None)
            if batch is None and restart_when_done:
                raise ValueError("fit_batched: the training data produced no batches")
            return batch


# ----------------------------------------------------------------------------- AdamW

def _per_member(values, like: torch.Tensor) -> torch.Tensor:
    """A (K,) list of numbers as a tensor that broadcasts against ``like`` (K, ...)."""
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(-1, *[1] * (like.dim() - 1))


class StackedAdamW:
    """``torch.optim.AdamW`` on stacked (K, ...) parameters, one setting per member.

    The same update as PyTorch's (single-tensor) AdamW: decoupled weight decay
    ``p *= 1 - lr * wd`` (here on tensors of >= 2 dimensions per member only), moments
    ``m = b1 m + (1 - b1) g`` and ``v = b2 v + (1 - b2) g^2``, bias corrections, and
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``. ``step(lrs, active)``
    updates only the members where ``active`` is True; the others (stopped) keep
    their parameters, moments and step count.
    """

    def __init__(self, params: dict[str, torch.Tensor], configs):
        self.params = params
        self.wd = [c.weight_decay for c in configs]
        self.b1 = [c.betas[0] for c in configs]
        self.b2 = [c.betas[1] for c in configs]
        self.m = {n: torch.zeros_like(p) for n, p in params.items()}
        self.v = {n: torch.zeros_like(p) for n, p in params.items()}
        self.t = [0] * len(configs)

    @torch.no_grad()
    def step(self, lrs: list[float], active: list[bool]) -> None:
        self.t = [t + a for t, a in zip(self.t, active)]
        t = [max(1, s) for s in self.t]
        for n, p in self.params.items():
            mask = torch.tensor(active, device=p.device).view(-1, *[1] * (p.dim() - 1))
            lr, b1, b2 = _per_member(lrs, p), _per_member(self.b1, p), _per_member(self.b2, p)
            wd = _per_member(self.wd if p.dim() >= 3 else [0.0] * len(lrs), p)  # >= 2-D per member
            g = p.grad
            m = torch.where(mask, self.m[n].lerp(g, 1 - b1), self.m[n])
            v = torch.where(mask, self.v[n] * b2 + (1 - b2) * g * g, self.v[n])
            bc1 = 1 - _per_member([b ** s for b, s in zip(self.b1, t)], p)
            bc2_sqrt = (1 - _per_member([b ** s for b, s in zip(self.b2, t)], p)).sqrt()
            new = p * (1 - lr * wd) - (lr / bc1) * m / (v.sqrt() / bc2_sqrt + ADAM_EPS)
            p.copy_(torch.where(mask, new, p))
            self.m[n], self.v[n] = m, v


def _clip_per_member(params, clips: list[float | None]) -> torch.Tensor:
    """Clip each member's gradients to its global norm ``clip`` (as clip_grad_norm_); return the (K,) norms."""
    grads = list(p.grad for p in params.values())
    K = grads[0].shape[0]
    sq = torch.stack([g.reshape(K, -1).pow(2).sum(dim=1) for g in grads]).sum(dim=0)  # (K,)
    norms = sq.sqrt()
    limit = torch.tensor([math.inf if c is None else c for c in clips], dtype=norms.dtype, device=norms.device)
    coef = (limit / (norms + 1e-6)).clamp(max=1.0)  # (K,)
    with torch.no_grad():
        for g in grads:
            g.mul_(coef.view(-1, *[1] * (g.dim() - 1)).to(g.dtype))
    return norms


# ----------------------------------------------------------------------------- members

class _Member:
    """One member's book-keeping: its history, learning rate, early stopping, best weights."""

    def __init__(self, index: int, config, val, stream: _Stream):
        self.i, self.config, self.hist = index, config, History()
        self.active, self.bad_evals, self.best, self.last_eval = True, 0, None, -1
        self.restore_best = config.patience is not None
        if val is not None and _train._is_source_callable(val):
            with stream.active(), _train._rng_preserved():   # sampled once, as fit does
                n = _train.DEFAULT_EVAL_BATCHES if config.eval_batches is None else config.eval_batches
                val = [val() for _ in range(n)]
        self.val = val
        self.total_steps = config.steps
        if config.steps is None:
            try:
                self.total_steps = config.epochs * len(stream.source)
            except TypeError:
                self.total_steps = None
        if config.schedule == "cosine" and self.total_steps is None:
            raise ValueError("fit_batched: the cosine schedule needs a known number of steps")

    def lr_at(self, step: int) -> float:
        return self.config.lr_at(step, self.total_steps)

    def log(self, step, loss, lr, seconds):
        h = self.hist
        h.train_steps.append(step), h.train_loss.append(loss), h.lr.append(lr), h.train_seconds.append(seconds)

    def evaluate(self, model, params, buffers, step, loss_fn, seconds) -> bool:
        """Evaluate this member (its slice copied into its own module); True = stop now."""
        _load_member(model, params, buffers, self.i)
        with _train._rng_preserved():
            loss = _train.evaluate(model, self.val, loss_fn, n_batches=self.config.eval_batches)
        h = self.hist
        h.val_steps.append(step), h.val_loss.append(loss), h.val_seconds.append(seconds)
        self.last_eval = step
        if math.isfinite(loss) and (h.best_val is None or loss < h.best_val):
            h.best_val, h.best_step, self.bad_evals = loss, step, 0
            if self.restore_best:
                self.best = {n: p[self.i].detach().clone() for n, p in params.items()}
        else:
            self.bad_evals += 1
        return self.config.patience is not None and self.bad_evals >= self.config.patience


# ----------------------------------------------------------------------------- the loop

def _stack_batches(batches):
    """K (x, y) batches -> one (x, y) pair with a leading member axis: (K, B, ...)."""
    xs, ys = zip(*(_train._split(b) for b in batches))
    shapes = {(tuple(x.shape), tuple(y.shape)) for x, y in zip(xs, ys)}
    if len(shapes) > 1:
        raise ValueError(f"fit_batched: the members' batches differ in shape {sorted(shapes)}; "
                         "batched members need batches of one shape (e.g. drop_last=True)")
    return torch.stack(xs), torch.stack(ys)


def _batched_loss(base, loss_fn, randomness: str):
    """``losses = f(params, buffers, x, y)``: (K,) per-member losses, the model run under vmap."""
    def one(p, b, x, y):
        out = functional_call(base, (p, b), (x,))
        return loss_fn(out[0] if isinstance(out, tuple) else out, y)
    return torch.vmap(one, randomness=randomness)


def _load_member(model: nn.Module, params: dict, buffers: dict, i: int) -> None:
    """Copy member ``i``'s slice of the stacked tensors into its own module."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(params[n][i])
        for n, b in model.named_buffers():
            if n in buffers:
                b.copy_(buffers[n][i])


class _Run:
    """The K members' shared state during :func:`fit_batched`."""

    def __init__(self, models, members, streams, loss_fn):
        self.models, self.members, self.streams, self.loss_fn = models, members, streams, loss_fn
        for m in models:
            m.train()
        self.device = _train._model_device(models[0])
        self.params, self.buffers = stack_module_state(models)  # each (K, *shape), requiring grad
        self.optimizer = StackedAdamW(self.params, [m.config for m in members])
        self.base = vmap_copy(models[0])
        dropout = any(isinstance(mod, nn.Dropout) and mod.p > 0 for mod in models[0].modules())
        self.losses_of = _batched_loss(self.base, loss_fn, "different" if dropout else "error")
        self.last = [None] * len(members)
        self.t0, self.eval_time = time.perf_counter(), 0.0

    def seconds(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - self.t0 - self.eval_time

    def step(self, batches, step: int) -> None:
        """One batched update of every active member (the stopped ones take part, frozen)."""
        x, y = _train._to_device(_stack_batches(batches), self.device)
        if hasattr(self.models[0], "_check_input"):
            for x_i in x:                      # outside vmap: the check reads values
                self.models[0]._check_input(x_i)
        for p in self.params.values():
            p.grad = None
        with _vmappable_log_scan(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*performance drop.*")  # SDPA's fallback, see above
            losses = self.losses_of(self.params, self.buffers, x, y)   # (K,)
        losses.sum().backward()
        _clip_per_member(self.params, [m.config.clip for m in self.members])
        values, lrs = losses.tolist(), [m.lr_at(step) for m in self.members]
        diverged = [m for m, v in zip(self.members, values) if m.active and not math.isfinite(v)]
        for m in diverged:                     # NaN stop, before this update (as fit)
            m.active, m.hist.diverged = False, True
            m.hist.stop_reason = (f"diverged: the training loss became {values[m.i]} at step {step} "
                                  f"(lr={lrs[m.i]:.3g}); try a lower lr, clip=1.0 or a longer warmup")
            warnings.warn(f"fit_batched member {m.i}: {m.hist.stop_reason}", RuntimeWarning, stacklevel=3)
        self.optimizer.step(lrs, [m.active for m in self.members])
        seconds = self.seconds()
        for m, value, lr in zip(self.members, values, lrs):
            if m.active:
                m.log(step + 1, value, lr, seconds)
        for m in diverged:
            self.finish(m, step)

    def evaluate(self, members, step: int, final: bool = False) -> None:
        """Evaluate the given members; those whose patience ran out stop (frozen)."""
        seconds, t = self.seconds(), time.perf_counter()
        for m in members:
            out_of_patience = m.evaluate(self.models[m.i], self.params, self.buffers, step,
                                         self.loss_fn, seconds)
            if out_of_patience and not final:
                m.hist.stopped_early = True
                m.hist.stop_reason = f"stopped early after {step} steps (best at step {m.hist.best_step})"
                self.finish(m, step)
        self.eval_time += time.perf_counter() - t

    def finish(self, member, step: int, epochs: int | None = None) -> None:
        """Member done: a last evaluation if its final weights have none, then freeze it."""
        if member.val is not None and member.last_eval != step and not member.hist.stopped_early:
            self.evaluate([member], step, final=True)
        member.active = False
        h = member.hist
        h.steps_done = step
        h.epochs_done = self.streams[member.i].passes if epochs is None else epochs
        h.train_time_s, h.eval_time_s = self.seconds(), self.eval_time


def _eval_every(config):
    if config.eval_every is not None:
        return config.eval_every
    return max(1, config.steps // 10) if config.steps is not None else None


def fit_batched(models: list[nn.Module], train_sources: list, configs: list, *, val_sources=None,
                loss_fn=None, seeds=None) -> list[History]:
    """Train K models of one architecture as one batched computation; one History each.

    ``models[i]`` is trained in place on ``train_sources[i]`` with ``configs[i]`` (a
    :class:`rvt_lib.train.TrainConfig`) and seed ``seeds[i]`` (default ``i``), exactly as
    ``fit(models[i], train_sources[i], configs[i], val=val_sources[i], seed=seeds[i])``
    would train it. Members may differ in lr, weight decay, betas, clip, warmup,
    schedule, min_lr_ratio and patience; they share ``steps``/``epochs``, ``eval_every``
    and ``eval_batches``. A member stops on its own (early stopping: its best weights are
    restored; or a non-finite loss: ``History.diverged``, weights of the step before);
    its parameters then freeze while the others go on. The histories' seconds are the
    batch's wall time (all K members together), evaluation excluded.
    """
    configs, K = list(configs), len(models)
    seeds = list(range(K)) if seeds is None else list(seeds)
    _check_members(models, train_sources, configs, val_sources, seeds)
    keep_freed_memory()  # the stacked tensors are big: page faults would dominate otherwise
    _train.flush_denormals()  # saturated gates make subnormal states: a slow path per member
    rehearsed = [_train.rehearsal(c, v) for c, v in zip(configs, val_sources or [None] * K)]
    configs = [c for c, _ in rehearsed]
    val_sources = None if val_sources is None else [v for _, v in rehearsed]
    cfg = configs[0]
    if (cfg.steps is None) == (cfg.epochs is None):
        raise ValueError("fit_batched: every config needs exactly one of steps= or epochs=")
    streams = [_Stream(src, s) for src, s in zip(train_sources, seeds)]
    if cfg.epochs is not None and any(st.is_callable for st in streams):
        raise ValueError("fit_batched: a callable batch source has no epochs: use steps=")
    vals = val_sources if val_sources is not None else [None] * K
    members = [_Member(i, c, v, st) for i, (c, v, st) in enumerate(zip(configs, vals, streams))]
    run, every, step = _Run(models, members, streams, loss_fn or _train.default_loss), _eval_every(cfg), 0
    while any(m.active for m in members):
        batches = [st.draw(cfg.steps is not None) if m.active else run.last[m.i]
                   for st, m in zip(streams, members)]
        if any(b is None for b in batches):    # epochs: the pass is over (same length for all)
            _end_of_pass(run, cfg, every, step)
            continue
        run.last = batches
        run.step(batches, step)
        step += 1
        active = [m for m in members if m.active]
        if every is not None and step % every == 0 and vals[0] is not None:
            run.evaluate(active, step)
        if cfg.steps is not None and step >= cfg.steps:
            for m in members:
                if m.active:
                    run.finish(m, step)
    return _wrap_up(run)


def _end_of_pass(run: _Run, cfg, every, step: int) -> None:
    """Epochs mode: a pass is over for every active member."""
    active = [m for m in run.members if m.active]
    passes = run.streams[active[0].i].passes
    if step == 0 or any(run.streams[m.i].passes != passes for m in active):
        raise ValueError("fit_batched: the training data produced no batches, or members' "
                         "iterables differ in length")
    if passes >= cfg.epochs:                   # the last pass: finish (its evaluation is the final one)
        for m in active:
            run.finish(m, step, cfg.epochs)
    elif every is None and active[0].val is not None:
        run.evaluate(active, step)


def _wrap_up(run: _Run) -> list[History]:
    """Restore best weights where asked, copy every member into its own module."""
    with torch.no_grad():
        for m in run.members:
            if m.best is not None:
                for n, p in run.params.items():
                    p[m.i].copy_(m.best[n])
    for m in run.members:
        _load_member(run.models[m.i], run.params, run.buffers, m.i)
    return [m.hist for m in run.members]


def fit_members(models: list[nn.Module], train_sources: list, configs: list, *, val_sources=None,
                loss_fn=None, seeds=None) -> list[History]:
    """A ``run_study`` trainer: :func:`fit_batched` where batching pays, ``fit`` one by one elsewhere.

    Batching pays where the models hold a GRU or LSTM recurrence (bare, or as the mixer of
    a residual block): each step of their BPTT is many small operations, which the batched
    twins (:class:`BatchedGRURecurrence`, :class:`BatchedLSTMRecurrence`) do once for all
    members. Measured on one CPU thread at the ECG size (``benchmarks/bench_batched.py``,
    with :func:`rvt_lib.measure.keep_freed_memory`): the GRU about 3-4x faster, the LSTM
    about 2x; less at the Tiny Shakespeare size. For minGRU, minLSTM, the LRU and the GPT
    it measured no faster (also for the cost chapter's parameter study), so they train
    with :func:`rvt_lib.train.fit`. Either way the histories and weights are those of K ``fit``
    calls (``tests/test_batched.py``).
    """
    from rvt_lib.models.gru import GRU
    from rvt_lib.models.lstm import LSTM
    from rvt_lib.runner import _default_trainer  # fit on each member in turn

    seeds = list(range(len(models))) if seeds is None else list(seeds)
    batches = all(any(isinstance(m, (GRU, LSTM)) for m in model.modules()) for model in models)
    trainer = fit_batched if batches else _default_trainer
    return trainer(models, train_sources, configs, val_sources=val_sources, loss_fn=loss_fn, seeds=seeds)
