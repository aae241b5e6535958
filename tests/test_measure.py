"""Tests for rvt_lib.measure: parameters, peak memory, the cost table."""
import math
import time

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from rvt_lib.measure import (PeakMemory, cost_table, count_parameters, measure_training, parameter_bytes,
                             time_fn, tokens_per_second)
from rvt_lib.train import TrainConfig, fit
from rvt_lib import measure


def test_count_parameters_and_bytes_exact():
    lin = nn.Linear(3, 4)
    assert count_parameters(lin) == 16             # 3*4 weights + 4 biases
    assert parameter_bytes(lin) == 64              # float32: 4 bytes each
    assert parameter_bytes(nn.Linear(3, 4).double()) == 128
    lin.bias.requires_grad_(False)
    assert count_parameters(lin) == 12
    assert count_parameters(lin, trainable_only=False) == 16


def test_tied_weights_count_once():
    emb, head = nn.Embedding(10, 4), nn.Linear(4, 10, bias=False)
    head.weight = emb.weight
    model = nn.ModuleDict({"emb": emb, "head": head})
    assert count_parameters(model) == 40
    assert parameter_bytes(model) == 160


def test_peak_memory_sees_a_large_allocation():
    with PeakMemory():  # warm up: the thread machinery's own first-use costs
        pass
    with PeakMemory() as mem:
        x = torch.ones(50_000_000)  # 200 MB of float32, every page written
    assert mem.peak_bytes >= 150e6
    assert mem.peak_MB == pytest.approx(mem.peak_bytes / 1e6)
    del x


def test_peak_memory_sees_a_freed_allocation_through_the_sampler():
    with PeakMemory() as mem:
        x = torch.ones(50_000_000)
        time.sleep(0.05)            # give the sampling thread time to look
        del x                       # gone before the exit sample: only the thread saw it
    assert mem.peak_bytes >= 150e6
    assert mem.samples > 2


def _page_faults_while_cycling(n_bytes=8 << 20, times=20) -> int:
    """Minor page faults of this process while a tensor of ``n_bytes`` is made and freed."""
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        x = torch.ones(n_bytes // 4)  # every page written
        del x
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


glibc_only = pytest.mark.skipif(measure._glibc() is None, reason="the allocator settings are glibc's")


_CYCLING = """
import json, sys
sys.path.insert(0, {tests!r})
from test_measure import _page_faults_while_cycling
from rvt_lib import measure
measure._set_allocator(measure._GIVE_BACK)  # glibc's default thresholds, fixed (not raised)
given_back = _page_faults_while_cycling()   # each 8 MB is a fresh mmap
assert measure.keep_freed_memory() is True
_page_faults_while_cycling()                # the first ones may grow the heap to its steady size
print(json.dumps([given_back, _page_faults_while_cycling()]))
"""


@glibc_only
def test_keep_freed_memory_stops_the_page_faults_of_reallocating():
    """In a fresh interpreter: the allocator's state after the tests before this one (what
    they allocated, kept and freed) is not what glibc starts with."""
    import json
    import subprocess
    import sys
    from pathlib import Path
    pages = 20 * (8 << 20) // measure._PAGE_SIZE
    code = _CYCLING.format(tests=str(Path(__file__).parent))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    given_back, kept = json.loads(out.stdout.strip().splitlines()[-1])
    assert given_back > 0.5 * pages      # about one fault per page, every time
    assert kept < 0.05 * pages           # the same pages, reused


@glibc_only
def test_peak_memory_measures_under_glibc_settings_after_keep_freed_memory():
    measure.keep_freed_memory()
    x = torch.ones(50_000_000)  # a big block, freed: kept by the allocator
    del x
    with PeakMemory() as mem:   # a smaller block after it must still show its growth
        y = torch.ones(25_000_000)
    assert mem.peak_bytes >= 75e6
    del y
    _page_faults_while_cycling()
    assert _page_faults_while_cycling() < 0.05 * 20 * (8 << 20) // measure._PAGE_SIZE  # kept again


def test_fit_keeps_freed_memory():
    model = nn.Linear(2, 1)
    fit(model, lambda: (torch.randn(4, 2), torch.randn(4, 1)), TrainConfig(steps=1, lr=1e-3), loss_fn=F.mse_loss)
    assert measure._keeping == (measure._glibc() is not None)


def test_peak_memory_near_zero_for_a_tiny_block():
    with PeakMemory():
        pass
    with PeakMemory() as mem:
        y = torch.ones(10) * 2
    assert 0 <= mem.peak_bytes < 5e6
    assert mem.baseline_bytes > 0


def test_measure_training_and_cost_table():
    def make():
        torch.manual_seed(0)
        return nn.Linear(1, 1)

    def sampler():
        x = torch.randn(16, 1)
        return x, 3 * x + 1

    lin = make()
    row_h = measure_training("linear", lin, lambda: fit(lin, sampler, TrainConfig(steps=20, lr=0.05), val=sampler,
                                                        loss_fn=F.mse_loss))
    assert row_h["model"] == "linear" and row_h["params"] == 2 and row_h["param_KB"] == pytest.approx(0.008)
    assert 0 < row_h["train_time_s"] <= row_h["wall_time_s"]   # evaluation excluded from train time
    assert math.isfinite(row_h["best_val"]) and row_h["peak_train_mem_MB"] >= 0

    lin2 = make()
    row_d = measure_training("mlp", lin2, lambda: {"accuracy": 0.5})
    assert row_d["accuracy"] == 0.5 and row_d["train_time_s"] == row_d["wall_time_s"]

    df = cost_table([row_h, row_d])
    assert df.index.tolist() == ["linear", "mlp"] and df.index.name == "model"
    assert list(df.columns[:6]) == ["train time (s)", "wall time (s)", "peak train memory (MB)",
                                    "parameters", "parameter memory (KB)", "best validation loss"]
    assert "accuracy" in df.columns
    assert math.isnan(df.loc["mlp", "best validation loss"])
    with pytest.raises(ValueError, match="no rows"):
        cost_table([])


def test_time_fn_and_tokens_per_second():
    assert time_fn(lambda: time.sleep(0.01), repeats=3, warmup=0) >= 9.0
    tps = tokens_per_second(lambda: time.sleep(0.01), 1000, repeats=3, warmup=0)
    assert 0 < tps <= 1000 / 0.009
    with pytest.raises(ValueError):
        time_fn(lambda: None, repeats=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_peak_memory_on_cuda_counts_live_tensors_above_the_start():
    keep = torch.ones(10_000_000, device="cuda")  # 40 MB already in use: not counted
    with PeakMemory("cuda") as mem:
        x = torch.ones(25_000_000, device="cuda")  # 100 MB
        del x
    assert 100e6 <= mem.peak_bytes < 110e6
    del keep
