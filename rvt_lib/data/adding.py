"""The adding problem (Hochreiter & Schmidhuber, 1997): a test of memory over a known lag.

Each sequence has ``T`` steps and two input channels: a value ``u_t ~ U(0, 1)`` and a
marker ``m_t``, which is 1 at exactly two steps and 0 elsewhere. The target, read after
the last step, is the sum of the two marked values::

    u:  0.31 0.87 0.05 0.62 ... 0.44 0.18
    m:  0    1    0    0    ... 1    0        ->  y = 0.87 + 0.44

One marker falls in the first half of the sequence and one in the second, so the first
marked value must be held for at least ``T / 2`` steps (on average ``T / 2`` too) while
the model ignores everything else: ``T`` sets the lag. Predicting the mean, ``y = 1``,
scores a mean squared error of ``Var(u_a + u_b) = 2 / 12 = 1/6``; that is the bar a model
must clear to show that it remembers anything.

Splits come from different seeds (:func:`adding_splits`), so train, validation and test
sequences are independent draws.
"""
from __future__ import annotations

import torch

__all__ = ["MEAN_BASELINE_MSE", "adding_batch", "adding_sampler", "adding_splits"]

MEAN_BASELINE_MSE = 1.0 / 6.0  # the MSE of always predicting E[y] = 1


def _positive_int(value, name: str, smallest: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < smallest:
        raise ValueError(f"adding_batch: {name} must be an int >= {smallest}, got {value!r}")
    return value


def adding_batch(n_batch: int, seq_len: int, *, generator: torch.Generator | None = None):
    """``(x, y)``: inputs ``(n_batch, seq_len, 2)`` (value, marker) and targets ``(n_batch, 1)``.

    One marker at a uniform step of ``[0, seq_len // 2)``, the other of
    ``[seq_len // 2, seq_len)``; draws from ``generator`` (torch's global one if None).
    """
    _positive_int(n_batch, "n_batch")
    _positive_int(seq_len, "seq_len", smallest=2)
    half = seq_len // 2
    values = torch.rand(n_batch, seq_len, generator=generator)           # (B, T)
    first = torch.randint(0, half, (n_batch,), generator=generator)       # (B,)
    second = torch.randint(half, seq_len, (n_batch,), generator=generator)
    rows = torch.arange(n_batch)
    markers = torch.zeros(n_batch, seq_len)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = (values[rows, first] + values[rows, second]).unsqueeze(1)        # (B, 1)
    return torch.stack([values, markers], dim=-1), y


def adding_sampler(seq_len: int, batch_size: int):
    """A zero-argument sampler: a fresh training batch per call, drawn from torch's global
    generator, which :func:`rvt_lib.train.fit` seeds with the run's seed.

    So a run's training sequences depend on its seed alone. (A generator of the sampler's
    own would be one stream shared by every run of a study: a model's batches would then
    depend on how many runs trained before it, and adding a learning rate or a model
    would change the others' results.)
    """
    adding_batch(1, seq_len)  # check the sizes now, not at the first training step

    def sample():
        return adding_batch(batch_size, seq_len)

    return sample


def adding_splits(seq_len: int, n_val: int, n_test: int, *, batch_size: int = 256,
                  seed: int = 1_000) -> tuple[list, list]:
    """Fixed validation and test sets (lists of batches), from generators of their own seeded
    with ``seed`` and ``seed + 1`` (training draws from torch's global generator, which
    ``fit`` seeds with small seeds, so the three never share a draw)."""
    out = []
    for s, n in ((seed, n_val), (seed + 1, n_test)):
        _positive_int(n, "n_val/n_test")
        g = torch.Generator().manual_seed(s)
        sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
        out.append([adding_batch(b, seq_len, generator=g) for b in sizes])
    return out[0], out[1]
