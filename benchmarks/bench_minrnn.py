"""minGRU / minLSTM speed: the parallel log-space scan against the loop, and against a peer.

Every row times forward + backward (``y.sum().backward()``) on float32 inputs of shape
(B, T, D) = (8, T, 128), one layer, input_size = hidden_size = 128.

* ``parallel vs sequential``: the same module, same weights, ``mode="parallel"`` (ours)
  against ``mode="sequential"`` (peer). ``ratio`` = sequential time / parallel time, a
  speed-up. Target: >= 50x at T = 4096 on CPU. For scale, Feng et al. (2024) report
  1324x for minGRU against a (cuDNN) GRU at T = 4096 on a T4 GPU; that is a different
  comparison (different hardware, and the GRU baseline, not minGRU's own loop).
* ``rvt_lib vs minGRU-pytorch``: our ``MinGRU`` (parallel) against the PyPI package
  ``mingru-pytorch`` (``from minGRU_pytorch import minGRU``). With ``expansion_factor=1``
  the package has one bias-free ``Linear(dim, 2 * dim)`` and no output projection
  (``proj_out`` defaults to ``expansion_factor != 1``), so we build ours with
  ``bias=False``: both have 2 * 128 * 128 = 32,768 parameters. The package scans the
  whole sequence in one log-space pass (no chunks); ours scans in chunks of 256 for
  float32 accuracy (see ``rvt_lib.scan.scan_log``). ``ratio`` = ours / theirs, target <= 1.0.

* ``linear scan only``: the bare recurrence h_t = a_t h_{t-1} + b_t on minGRU-like
  coefficients, each parallel scan of ``rvt_lib.scan`` against ``scan_sequential``
  (``ratio`` = speed-up). This separates the scan from the input projections, which
  both modes of the models share.

  Both parallel scans are timed: ``scan=log`` (Heinsen's log-space scan, the default)
  and ``scan=blelloch`` (the real-space work-efficient scan; see ``MinGRUConfig.scan``).
* ``bound: projection only vs sequential``: forward + backward of the input projection
  alone (one ``Linear``), which every mode must compute, against the sequential mode.
  That ratio is the largest speed-up *any* parallel mode could reach on this hardware,
  even with a scan that costs nothing (Amdahl's law).

What to expect on a CPU: a CPU has few cores, so a parallel scan can only win by
removing the per-step overhead of the Python loop; it cannot use the log2(T) depth. At
B * D = 1024 numbers per step the loop is already cheap per number, and the shared input
projection (a matrix multiply) costs the same in both modes. On 2 cores the bound row
shows 6x to 10x at T = 4096 (minLSTM, minGRU), so the 50x target cannot be met on such a CPU by any
implementation; ``logcumsumexp`` is also an expensive CPU kernel, so the log-space mode
roughly ties with the loop, while the real-space Blelloch mode is about 2x faster. The
speed-ups of the paper come from GPUs, where each step of the loop is a few kernel
launches on a mostly idle device.

Run: ``python -m benchmarks.bench_minrnn [--threads 1] [--device cuda]`` (about a
minute on 2 idle CPU cores).
"""
from __future__ import annotations

import torch

from benchmarks._common import compare
from rvt_lib.models.mingru import MinGRU, MinGRUConfig, MinLSTM, MinLSTMConfig

B, D = 8, 128
LENGTHS = (256, 1024, 4096)


def _fwd_bwd(core, x, **kwargs):
    """A closure running one forward + backward pass (gradients are freed each time)."""
    def step():
        core.zero_grad(set_to_none=True)
        y = core(x, **kwargs)
        y = y[0] if isinstance(y, tuple) else y
        y.sum().backward()
    return step


def _projection_only(core, x):
    """Forward + backward of the input projection alone: the work both modes share.

    Any mode must at least compute ``linear(x)`` and its gradients, so sequential time /
    this time is the largest speed-up a parallel mode could reach with a free scan.
    """
    linear = core.layers[0].linear

    def step():
        core.zero_grad(set_to_none=True)
        linear(x).sum().backward()
    return step


def run(device: str = "cpu") -> list[dict]:
    torch.manual_seed(0)
    rows = []
    for name, cls, cfg in (("minGRU", MinGRU, MinGRUConfig), ("minLSTM", MinLSTM, MinLSTMConfig)):
        core = cls(cfg(D, D)).to(device)
        for T in LENGTHS:
            x = torch.randn(B, T, D, device=device)
            # The loop is slow: fewer repeats at long T keep the whole run short.
            repeats = 5 if T <= 256 else (3 if T <= 1024 else 2)
            for scan in ("log", "blelloch"):
                core.config.scan = scan              # same weights, other parallel scan
                rows.append(compare(
                    f"{name} parallel vs sequential (fwd+bwd)", f"B={B} T={T} D={D}",
                    _fwd_bwd(core, x, mode="parallel"), _fwd_bwd(core, x, mode="sequential"),
                    ours=f"rvt_lib {name} parallel, scan={scan}", peer=f"rvt_lib {name} sequential",
                    target=">= 50x at T=4096 on CPU", repeats=repeats, device=device,
                    higher_is_better=True))
            core.config.scan = "log"
            rows.append(compare(
                f"{name} bound: projection only vs sequential", f"B={B} T={T} D={D}",
                _projection_only(core, x), _fwd_bwd(core, x, mode="sequential"),
                ours="input projection alone (a free scan)", peer=f"rvt_lib {name} sequential",
                target="the largest possible speed-up", repeats=repeats, device=device,
                higher_is_better=True))

    # The bare scans, on minGRU-like coefficients a = 1 - z, b = z * g(v) (here g(v) ~ |v|).
    from rvt_lib.scan import scan_blelloch, scan_hillis_steele, scan_log, scan_sequential
    T = LENGTHS[-1]
    z = torch.sigmoid(torch.randn(B, T, D, device=device))
    a = (1 - z).requires_grad_()
    b = (z * torch.randn(B, T, D, device=device).abs()).requires_grad_()
    log_a, log_b = a.detach().log().requires_grad_(), b.detach().log().requires_grad_()

    def scan_fwd_bwd(scan, *args):
        def step():
            for t in args:
                t.grad = None
            scan(*args).sum().backward()
        return step

    for name, scan, args in (("scan_hillis_steele", scan_hillis_steele, (a, b)),
                             ("scan_blelloch", scan_blelloch, (a, b)),
                             ("scan_log (chunked)", scan_log, (log_a, log_b))):
        rows.append(compare(
            "linear scan only (fwd+bwd)", f"B={B} T={T} D={D}",
            scan_fwd_bwd(scan, *args), scan_fwd_bwd(scan_sequential, a, b),
            ours=name, peer="scan_sequential", target="> 1 (informative)", repeats=3,
            device=device, higher_is_better=True))

    from minGRU_pytorch import minGRU as PeerMinGRU
    ours = MinGRU(MinGRUConfig(D, D, bias=False)).to(device)
    theirs = PeerMinGRU(D, expansion_factor=1.0).to(device)
    n_ours = sum(p.numel() for p in ours.parameters())
    n_theirs = sum(p.numel() for p in theirs.parameters())
    assert n_ours == n_theirs, (n_ours, n_theirs)
    for T in LENGTHS:
        x = torch.randn(B, T, D, device=device)
        rows.append(compare(
            "minGRU parallel (fwd+bwd)", f"B={B} T={T} D={D}, {n_ours} params each",
            _fwd_bwd(ours, x), _fwd_bwd(theirs, x),
            ours="rvt_lib MinGRU", peer="minGRU-pytorch minGRU",
            target="<= 1.0", repeats=5, device=device))
    return rows


if __name__ == "__main__":
    import argparse

    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (1 gives steadier numbers on a shared machine)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_colwidth", 48)
    print(pd.DataFrame(run(args.device)).to_string(index=False))
