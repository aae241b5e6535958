"""Speed comparisons against peers, each pair timed in the same run.

    python -m benchmarks.speed                # CPU (and CUDA too, when available)
    python -m benchmarks.speed --device cpu   # one device only
    python -m benchmarks.speed --out results.csv

Prints one table of ratios (see ``benchmarks/_common.py`` for the row format) with the
hardware named. Targets are the project's goals; a row that misses its target is shown
as such, never hidden.
"""
from __future__ import annotations

import argparse
import importlib
import platform

import pandas as pd
import torch

SUITES = ("benchmarks.bench_recurrent", "benchmarks.bench_minrnn", "benchmarks.bench_scans",
          "benchmarks.bench_gpt", "benchmarks.bench_batched", "benchmarks.bench_optimizer")


def hardware(device: str) -> str:
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(device)} (torch {torch.__version__})"
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads (torch {torch.__version__})"


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", action="append", help="cpu and/or cuda (default: cpu, plus cuda if available)")
    parser.add_argument("--suite", action="append", choices=[s.split(".")[-1] for s in SUITES],
                        help="run only these suites (default: all)")
    parser.add_argument("--out", help="also write the table to this CSV file")
    args = parser.parse_args(argv)
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    suites = [s for s in SUITES if not args.suite or s.split(".")[-1] in args.suite]
    rows = []
    for device in devices:
        for name in suites:
            module = importlib.import_module(name)
            for row in module.run(device=device):
                rows.append({"device": device, "hardware": hardware(device), **row})
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 40):
        print(table.drop(columns=["hardware"]).to_string(index=False))
    for device in devices:
        print(f"{device}: {hardware(device)}")
    if args.out:
        table.to_csv(args.out, index=False)
    return table


if __name__ == "__main__":
    main()
