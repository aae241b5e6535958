"""Multi-query associative recall (MQAR; Arora et al., 2023, "Zoology").

A sequence first lists ``n_pairs`` key-value pairs, one token each, then asks for
``n_queries`` of the keys again::

    k_1 v_1 k_2 v_2 ... k_N v_N | q_1 q_2 ... q_M          (length T = 2N + M)

and at the position of every query ``q_j`` (a key seen before) the model must output the
value that was paired with it. Nothing else is scored: ``targets`` is ``IGNORE`` (-100,
PyTorch's ``cross_entropy`` default ``ignore_index``) everywhere except at the queries.

Tokens: keys are ids ``0 .. vocab // 2 - 1``, values ``vocab // 2 .. vocab - 1`` (disjoint,
so a model knows which is which). The keys of one sequence are distinct (drawn without
replacement), values are drawn with replacement, and the queried keys are distinct keys
of that sequence in random order. So the task is exactly "store N associations, then look
some up": a model whose state cannot hold N associations must guess for some of them.

Splits come from different seeds (``mqar_splits``), so train, validation and test
sequences are independent draws.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

IGNORE = -100

__all__ = ["IGNORE", "MQARConfig", "mqar_batch", "mqar_splits", "mqar_sampler"]


def _positive_int(value, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"mqar_batch: {name} must be a positive int, got {value!r}")
    return value


def _check(n_batch, n_pairs, n_queries, vocab) -> None:
    for name, value in (("n_batch", n_batch), ("n_pairs", n_pairs), ("n_queries", n_queries), ("vocab", vocab)):
        _positive_int(value, name)
    if n_queries > n_pairs:
        raise ValueError(f"mqar_batch: n_queries ({n_queries}) must be <= n_pairs ({n_pairs}): "
                         "every query asks for a distinct key of the sequence")
    if vocab // 2 < n_pairs:
        raise ValueError(f"mqar_batch: vocab ({vocab}) must be >= 2 * n_pairs ({2 * n_pairs}): "
                         "keys (the lower half) are distinct within a sequence")


def mqar_batch(n_batch: int, n_pairs: int, n_queries: int, vocab: int, *, seed: int | None = None,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of MQAR sequences: ``(inputs, targets)``, both (n_batch, 2 n_pairs + n_queries) long.

    Give ``seed`` (a fresh generator), or ``generator`` (drawn from and advanced), or
    neither (torch's global generator). ``targets[b, t]`` is the value paired with the
    queried key ``inputs[b, t]`` at query positions, ``IGNORE`` elsewhere.
    """
    _check(n_batch, n_pairs, n_queries, vocab)
    if seed is not None and generator is not None:
        raise ValueError("mqar_batch: give seed or generator, not both")
    if seed is not None:
        generator = torch.Generator().manual_seed(int(seed))
    B, N, M, half = n_batch, n_pairs, n_queries, vocab // 2
    keys = torch.rand(B, half, generator=generator).argsort(dim=1)[:, :N]           # (B, N) distinct keys
    values = half + torch.randint(0, vocab - half, (B, N), generator=generator)     # (B, N)
    which = torch.rand(B, N, generator=generator).argsort(dim=1)[:, :M]             # (B, M) distinct pairs asked
    queries = keys.gather(1, which)                                                 # (B, M)
    answers = values.gather(1, which)                                               # (B, M)
    pairs = torch.stack([keys, values], dim=2).reshape(B, 2 * N)                    # k1 v1 k2 v2 ...
    inputs = torch.cat([pairs, queries], dim=1)                                     # (B, T)
    targets = torch.full_like(inputs, IGNORE)
    targets[:, 2 * N:] = answers                                                    # scored at the queries only
    return inputs, targets


@dataclass(frozen=True)
class MQARConfig:
    """The task's sizes: ``n_pairs`` stored, ``n_queries`` asked, ``vocab`` tokens (keys + values)."""

    n_pairs: int = 16
    n_queries: int = 16
    vocab: int = 128

    def __post_init__(self):
        _check(1, self.n_pairs, self.n_queries, self.vocab)

    @property
    def seq_len(self) -> int:
        return 2 * self.n_pairs + self.n_queries


def mqar_sampler(config: MQARConfig, batch_size: int):
    """A zero-argument callable returning a fresh training batch (from torch's global generator,
    which ``rvt_lib.train.fit`` seeds): an endless stream of new sequences."""
    _positive_int(batch_size, "batch_size")
    return lambda: mqar_batch(batch_size, config.n_pairs, config.n_queries, config.vocab)


def mqar_splits(config: MQARConfig, n_val: int, n_test: int, batch_size: int = 64,
                seeds: tuple[int, int] = (1_000_001, 2_000_002)) -> tuple[list, list]:
    """Fixed validation and test sets (lists of (x, y) batches) drawn from two different seeds.

    The seeds are far from the small seeds that ``fit`` uses for training, and each split
    has its own generator, so the two sets are independent of each other and of training.
    """
    if len(set(seeds)) != 2:
        raise ValueError(f"mqar_splits: the validation and test seeds must differ, got {seeds!r}")
    out = []
    for n, seed in ((n_val, seeds[0]), (n_test, seeds[1])):
        _positive_int(n, "n_val / n_test")
        g = torch.Generator().manual_seed(seed)
        sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
        out.append([mqar_batch(s, config.n_pairs, config.n_queries, config.vocab, generator=g) for s in sizes])
    return out[0], out[1]
