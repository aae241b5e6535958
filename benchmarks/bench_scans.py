"""The bare linear scan h_t = a_t h_{t-1} + b_t: ``rvt_lib.scan`` against peer scans.

Every row times forward + backward (``h.sum().backward()``) of one scan on float32
coefficients of shape (B, T, D) = (8, T, 128), minGRU-like: a = 1 - z, b = z |v| with
z = sigmoid(noise), so a, b > 0 and the log-space scans apply; the signed rows use
a in (-1, 1). Each pair is checked to give the same h (to float32 rounding) before it is
timed. ``ratio`` = ours / theirs; target <= 1.0 (ours at least as fast as the peer).

Peers, their pure-PyTorch paths only (no Triton, no CUDA kernels), pinned in
``requirements.txt``:

* ``mingru-scans`` (``import mingru``): ``parallel_scan_log``, Heinsen's log-space scan in
  one pass (``logcumsumexp``), against our chunked ``scan_log`` (chunks of 256 for
  float32 accuracy, see its docstring); and ``linear_scan``, a Hillis-Steele scan that
  accepts signed coefficients, against our ``scan_hillis_steele``.
* ``accelerated-scan`` (``accelerated_scan.ref.scan``): a recursive work-efficient
  (Blelloch-style) scan in the (B, D, T) layout, against our ``scan_blelloch``. The peer
  gets its own layout, contiguous, so the transposes are not timed.
* ``assoc-scan`` (``assoc_scan.AssocScan``): a port of ``jax.lax.associative_scan``
  (odd/even recursion), also against ``scan_blelloch``.

Our scans are written to be read (the book derives each one); the rows say what that
costs next to implementations written to be used.
"""
from __future__ import annotations

import torch

from benchmarks._common import compare
from rvt_lib.scan import scan_blelloch, scan_hillis_steele, scan_log

B, D = 8, 128
LENGTHS = (1024, 4096)


def coefficients(T: int, device: str = "cpu", signed: bool = False, seed: int = 0):
    """(a, b) of shape (B, T, D), leaves that require grad; a in (0, 1), or (-1, 1) if signed."""
    g = torch.Generator().manual_seed(seed)
    z = torch.sigmoid(torch.randn(B, T, D, generator=g))
    a = 1 - z
    if signed:
        a = a * torch.where(torch.rand(B, T, D, generator=g) < 0.5, -1.0, 1.0)
    b = z * torch.randn(B, T, D, generator=g).abs()
    return a.to(device).requires_grad_(), b.to(device).requires_grad_()


def _fwd_bwd(fn, *leaves):
    """A closure: clear the leaves' grads, run ``fn()`` (-> h), backward through h.sum()."""
    def step():
        for t in leaves:
            t.grad = None
        fn().sum().backward()
    return step


def pairs(T: int, device: str = "cpu"):
    """``[(benchmark, ours_name, ours_fn, peer_name, peer_fn, leaves)]``: each fn returns h (B, T, D)."""
    import mingru
    from accelerated_scan.ref import scan as acc_scan
    from assoc_scan import AssocScan

    a, b = coefficients(T, device)
    log_a, log_b = a.detach().log().requires_grad_(), b.detach().log().requires_grad_()
    # mingru-scans' log scan takes log h0 in slot 0 of the values: h0 = 0 is log 0 = -inf
    log_v = torch.cat([torch.full_like(log_b[:, :1], -torch.inf), log_b.detach()], 1).requires_grad_()
    sa, sb = coefficients(T, device, signed=True, seed=1)
    at, bt = a.detach().transpose(1, 2).contiguous().requires_grad_(), \
        b.detach().transpose(1, 2).contiguous().requires_grad_()                 # (B, D, T)
    assoc = AssocScan(use_accelerated=False)
    return [
        ("log-space scan", "rvt_lib scan_log (chunks of 256)", lambda: scan_log(log_a, log_b),
         "mingru-scans parallel_scan_log", lambda: mingru.parallel_scan_log(log_a, log_v), (log_a, log_b, log_v)),
        ("Hillis-Steele scan, signed a", "rvt_lib scan_hillis_steele", lambda: scan_hillis_steele(sa, sb),
         "mingru-scans linear_scan", lambda: mingru.linear_scan(sa, sb)[1], (sa, sb)),
        ("work-efficient scan", "rvt_lib scan_blelloch", lambda: scan_blelloch(a, b),
         "accelerated-scan ref.scan", lambda: acc_scan(at, bt).transpose(1, 2), (a, b, at, bt)),
        ("work-efficient scan", "rvt_lib scan_blelloch", lambda: scan_blelloch(a, b),
         "assoc-scan AssocScan (pure torch)", lambda: assoc(a, b), (a, b)),
    ]


def check(T: int = 64, device: str = "cpu", rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Raise AssertionError unless every pair gives the same h (a benchmark of two different
    computations would be meaningless)."""
    for bench, ours, ours_fn, peer, peer_fn, _ in pairs(T, device):
        with torch.no_grad():
            h_ours, h_peer = ours_fn(), peer_fn()
        assert h_ours.shape == h_peer.shape, (bench, peer, h_ours.shape, h_peer.shape)
        torch.testing.assert_close(h_ours, h_peer, rtol=rtol, atol=atol, msg=lambda m: f"{ours} vs {peer}: {m}")


def run(device: str = "cpu") -> list[dict]:
    check(device=device)
    rows = []
    for T in LENGTHS:
        for bench, ours, ours_fn, peer, peer_fn, leaves in pairs(T, device):
            rows.append(compare(
                f"{bench} (fwd+bwd)", f"B={B} T={T} D={D}", _fwd_bwd(ours_fn, *leaves),
                _fwd_bwd(peer_fn, *leaves), ours=ours, peer=peer, target="<= 1.0",
                repeats=5 if T <= 1024 else 3, device=device))
    return rows


if __name__ == "__main__":
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_colwidth", 40):
        print(pd.DataFrame(run()).to_string(index=False))
