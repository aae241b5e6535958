"""Shared row format for the benchmarks: each row compares *ours* against a *peer*,
both timed in the same run, interleaved so that a change in machine load hits both."""
from __future__ import annotations

import statistics

from rvt_lib.measure import time_fn


def compare(benchmark: str, shape: str, ours_fn, peer_fn, *, ours: str, peer: str,
            target: str, repeats: int = 5, device=None, higher_is_better: bool = False) -> dict:
    """Time ``ours_fn`` and ``peer_fn`` and return one table row.

    Both get one untimed warm-up call; then ``repeats`` rounds, each timing ours once and
    the peer once, and the medians are compared. ``ratio`` is ours_ms / peer_ms (below
    1.0: ours is faster), or peer_ms / ours_ms when ``higher_is_better`` (a speed-up, e.g.
    parallel vs sequential).
    """
    ours_fn()
    peer_fn()
    ours_t, peer_t = [], []
    for _ in range(repeats):
        ours_t.append(time_fn(ours_fn, repeats=1, warmup=0, device=device))
        peer_t.append(time_fn(peer_fn, repeats=1, warmup=0, device=device))
    ours_ms, peer_ms = statistics.median(ours_t), statistics.median(peer_t)
    ratio = peer_ms / ours_ms if higher_is_better else ours_ms / peer_ms
    return {"benchmark": benchmark, "shape": shape, "ours": ours, "peer": peer,
            "ours_ms": round(ours_ms, 3), "peer_ms": round(peer_ms, 3),
            "ratio": round(ratio, 3), "target": target}
