"""Shared row format for the benchmarks: each row compares *ours* against a *peer*,
both timed in the same run with :func:`rvt_lib.measure.time_fn`."""
from __future__ import annotations

from rvt_lib.measure import time_fn


def compare(benchmark: str, shape: str, ours_fn, peer_fn, *, ours: str, peer: str,
            target: str, repeats: int = 5, device=None, higher_is_better: bool = False) -> dict:
    """Time ``ours_fn`` and ``peer_fn`` (interleaved warm-up) and return one table row.

    ``ratio`` is ours_ms / peer_ms (below 1.0: ours is faster), or peer_ms / ours_ms when
    ``higher_is_better`` (a speed-up, e.g. parallel vs sequential).
    """
    ours_ms = time_fn(ours_fn, repeats=repeats, warmup=1, device=device)
    peer_ms = time_fn(peer_fn, repeats=repeats, warmup=1, device=device)
    ratio = peer_ms / ours_ms if higher_is_better else ours_ms / peer_ms
    return {"benchmark": benchmark, "shape": shape, "ours": ours, "peer": peer,
            "ours_ms": round(ours_ms, 3), "peer_ms": round(peer_ms, 3),
            "ratio": round(ratio, 3), "target": target}
