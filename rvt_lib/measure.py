"""Measuring cost: wall time, peak memory and parameters.

``time_fn`` is the one timer used by the benchmarks and the chapters. For training runs,
``measure_training`` gathers time, peak memory and parameter counts into one row per
model, and ``cost_table`` turns the rows into the table printed in the chapters::

    rows = [measure_training(kind, model, lambda: fit(model, data, TrainConfig(steps=500)))
            for kind, model in models.items()]
    cost_table(rows)
"""
from __future__ import annotations

import os
import statistics
import threading
import time

import torch


def _sync(device) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_fn(fn, *, repeats: int = 5, warmup: int = 1, device=None) -> float:
    """Median wall time of ``fn()`` in milliseconds.

    ``warmup`` untimed calls first (allocator, lazy init); on CUDA the device is
    synchronised before and after each call so that the time covers the kernels.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def tokens_per_second(fn, n_tokens: int, *, repeats: int = 5, warmup: int = 1, device=None) -> float:
    """Throughput of ``fn()``, which processes ``n_tokens`` tokens per call (via :func:`time_fn`)."""
    return n_tokens / (time_fn(fn, repeats=repeats, warmup=warmup, device=device) / 1e3)


# ----------------------------------------------------------------------------- parameters

MB = 1e6  # decimal units throughout: 1 MB = 10**6 bytes, 1 KB = 10**3 bytes
KB = 1e3


def count_parameters(model: torch.nn.Module, trainable_only: bool = True) -> int:
    """Number of parameters (a tensor shared between two layers, e.g. tied weights, counts once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def parameter_bytes(model: torch.nn.Module) -> int:
    """Bytes taken by all parameters: the sum of ``numel * element_size`` (float32: 4 bytes each)."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


# ----------------------------------------------------------------------------- peak memory

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _ResidentSetSize:
    """Reads the resident set size (RSS) of this process, in bytes.

    Linux: the second field of ``/proc/self/statm`` (resident pages), one system call per
    read on a file kept open. Elsewhere: ``psutil``. ``available`` is False without both.
    """

    def __init__(self):
        self._fd, self._process = None, None
        try:
            self._fd = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            try:
                import psutil
                self._process = psutil.Process()
            except ImportError:
                pass
        self.available = self._fd is not None or self._process is not None

    def read(self) -> int:
        if self._fd is not None:
            return int(os.pread(self._fd, 256, 0).split()[1]) * _PAGE_SIZE
        return self._process.memory_info().rss

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_malloc_trim = None  # glibc's malloc_trim, found on first use (False where there is none)


def _release_free_memory() -> None:
    """Hand memory that was freed but kept by C's allocator back to the OS (glibc only).

    Without this, a block that runs after a bigger one reuses pages already counted in
    the RSS, and its peak reads too low (often zero). Elsewhere it does nothing.
    """
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes
            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


class PeakMemory:
    """Peak memory used by a block of code, in bytes above what was in use at its start.

        with PeakMemory() as mem:          # or PeakMemory("cuda")
            train()
        mem.peak_bytes, mem.peak_MB

    **CUDA** (``device`` a CUDA device): exact. The allocator's peak counter is reset on
    entry (``torch.cuda.reset_peak_memory_stats``) and ``peak_bytes`` is
    ``max_memory_allocated - memory_allocated at entry``: the most memory held by live
    tensors at any moment. It does not count the allocator's cached-but-free blocks or
    the CUDA context. Not nestable (an inner block resets the outer one's counter).

    **CPU** (the default): an honest approximation, because PyTorch's CPU allocator keeps
    no peak counter. A background thread samples the process's resident set size (RSS:
    physical memory pages in use, from ``/proc/self/statm`` on Linux, else ``psutil``)
    about every ``interval_s`` = 1 ms, and ``peak_bytes`` is the highest sample minus the
    RSS at entry. What that means:

    * it counts *every* allocation of the process during the block (Python objects, NumPy,
      other threads, libraries' caches, the first touch of lazily loaded code), not only
      tensors;
    * memory is counted when it is *touched*, not when it is reserved: ``torch.empty``
      of 1 GB that is never written costs (almost) nothing;
    * C's allocator may keep freed memory instead of returning it to the OS; reused, it
      would not show as growth. On Linux (glibc) ``malloc_trim(0)`` is called on entry to
      hand such memory back first, which removes most of this effect; what remains (and
      all of it on other systems) makes a block run after a bigger one read *lower* than
      its true need;
    * code loaded lazily on first use is counted once, in the first block that uses it
      (:func:`measure_training` warms PyTorch's optimizer path up to avoid that);
    * the resolution is the sampling interval, in practice a few milliseconds on a busy
      machine (the thread must get the GIL and a core): a spike shorter than that can be
      missed. One last sample is taken at exit.

    ``peak_bytes`` is ``None`` if no RSS source exists (no ``/proc`` and no ``psutil``).
    """

    def __init__(self, device=None, interval_s: float = 1e-3):
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.interval_s = interval_s
        self.peak_bytes: int | None = None
        self.baseline_bytes: int | None = None  # RSS (CPU) or allocated bytes (CUDA) at entry
        self.samples = 0                        # CPU: how many RSS samples were taken

    @property
    def peak_MB(self) -> float:
        return float("nan") if self.peak_bytes is None else self.peak_bytes / MB

    def __enter__(self):
        self.peak_bytes = None
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.baseline_bytes = torch.cuda.memory_allocated(self.device)
            return self
        _release_free_memory()
        self._rss = _ResidentSetSize()
        if not self._rss.available:
            import warnings
            warnings.warn("PeakMemory: no /proc/self/statm and no psutil; CPU peak memory is unavailable")
            return self
        self.baseline_bytes = self._highest = self._rss.read()
        self.samples = 1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="PeakMemory", daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            rss = self._rss.read()
            self.samples += 1
            if rss > self._highest:
                self._highest = rss

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device) - self.baseline_bytes
            return
        if not self._rss.available:
            return
        self._stop.set()
        self._thread.join()
        self._highest = max(self._highest, self._rss.read())  # the state at exit counts too
        self.samples += 1
        self._rss.close()
        self.peak_bytes = max(0, self._highest - self.baseline_bytes)


# ----------------------------------------------------------------------------- one row per model

_warmed_up = False


def _warm_up_training() -> None:
    """Run one tiny AdamW step, once per process, outside any measurement.

    The first optimizer step loads code lazily (in recent PyTorch, ``torch._dynamo``: about
    70 MB of resident memory and a second or more); without this warm-up, the first model
    measured would be charged for it.
    """
    global _warmed_up
    if not _warmed_up:
        p = torch.nn.Parameter(torch.zeros(2, 2))
        opt = torch.optim.AdamW([p], lr=1e-3)
        (p * p).sum().backward()
        torch.nn.utils.clip_grad_norm_([p], 1.0)
        opt.step()
        _warmed_up = True


def measure_training(name: str, model: torch.nn.Module, train_fn, device=None) -> dict:
    """Train with ``train_fn()`` while measuring time and peak memory; return one table row.

    ``train_fn`` trains ``model`` (e.g. ``lambda: fit(model, data, config)``) and may
    return a :class:`rvt_lib.train.History` or a dict of metrics. The row holds

    * ``model``: ``name``
    * ``train_time_s``: the History's training time when one is returned (evaluation
      excluded), else the wall time of ``train_fn``; ``wall_time_s``: always the wall time
    * ``peak_train_mem_MB``: :class:`PeakMemory` on the model's device (read its caveats)
    * ``params``, ``param_KB``: trainable parameters and the bytes of all parameters / 1000
    * ``best_val`` (from a History) or the returned dict's entries.

    Pass the rows to :func:`cost_table`.
    """
    from rvt_lib.train import History, _model_device

    device = _model_device(model) if device is None else torch.device(device)
    _warm_up_training()
    with PeakMemory(device) as mem:
        _sync(device)
        t0 = time.perf_counter()
        result = train_fn()
        _sync(device)
        wall = time.perf_counter() - t0
    row = {"model": name, "train_time_s": wall, "wall_time_s": wall,
           "peak_train_mem_MB": mem.peak_MB,
           "params": count_parameters(model), "param_KB": parameter_bytes(model) / KB}
    if isinstance(result, dict):
        row.update(result)
    elif isinstance(result, History):
        row["train_time_s"] = result.train_time_s
        row["best_val"] = float("nan") if result.best_val is None else result.best_val
    return row


COLUMN_NAMES = {
    "train_time_s": "train time (s)",
    "wall_time_s": "wall time (s)",
    "peak_train_mem_MB": "peak train memory (MB)",
    "params": "parameters",
    "param_KB": "parameter memory (KB)",
    "best_val": "best validation loss",
}


def cost_table(rows) -> "pandas.DataFrame":
    """Rows from :func:`measure_training` as a DataFrame indexed by model name.

    The standard columns are renamed to readable names with units (``COLUMN_NAMES``);
    any other metric keeps its own name, after the standard ones.
    """
    import pandas as pd

    rows = list(rows)
    if not rows:
        raise ValueError("cost_table: no rows")
    df = pd.DataFrame(rows)
    if "model" not in df.columns:
        raise ValueError("cost_table: every row needs a 'model' name")
    df = df.set_index("model")
    standard = [c for c in COLUMN_NAMES if c in df.columns]
    df = df[standard + [c for c in df.columns if c not in COLUMN_NAMES]]
    return df.rename(columns=COLUMN_NAMES)
