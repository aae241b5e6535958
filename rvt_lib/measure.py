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
from dataclasses import dataclass

import numpy as np
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


_libc = None  # glibc through ctypes, found on first use (False where the C library is another)

# mallopt's parameters (glibc's malloc.h) and the two settings this module switches between
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_KEEP = {_M_MMAP_THRESHOLD: 32 << 20, _M_TRIM_THRESHOLD: 1 << 30, _M_TOP_PAD: 64 << 20}
_GIVE_BACK = {_M_MMAP_THRESHOLD: 128 << 10, _M_TRIM_THRESHOLD: 128 << 10, _M_TOP_PAD: 128 << 10}  # defaults
_keeping = False  # keep_freed_memory() was called


def _glibc():
    """The C library if it is glibc (it has ``mallopt`` and ``malloc_trim``), else None."""
    global _libc
    if _libc is None:
        try:
            import ctypes
            lib = ctypes.CDLL("libc.so.6")
            lib.mallopt, lib.malloc_trim  # AttributeError where they do not exist
            _libc = lib
        except (OSError, AttributeError):
            _libc = False
    return _libc or None


def _set_allocator(settings: dict) -> None:
    libc = _glibc()
    if libc is not None:
        for param, value in settings.items():
            libc.mallopt(param, value)


def keep_freed_memory() -> bool:
    """Let C's allocator keep freed memory for the next tensor instead of handing it back.

    By default glibc serves every block above 128 KB with a fresh ``mmap`` and returns it
    to the operating system when it is freed, and trims the heap as soon as 128 KB are
    free at its top. A training step creates and frees many such tensors (the saved
    activations of a step are megabytes), so every step asks the OS for the same memory
    again and touches it page by page: page faults. On the book's 2-core build machine
    (a virtual machine) that made seed-batched training 1.7x slower than it is with the
    memory kept (``benchmarks/bench_batched.py``); PyTorch's CPU tuning guide recommends
    a caching allocator (jemalloc, tcmalloc) for the same reason.

    This sets glibc's ``mallopt`` so that blocks up to 32 MB come from the heap and up to
    1 GB of freed memory is kept for reuse. It is process-wide and stays on;
    :func:`rvt_lib.train.fit` and ``rvt_lib.batched.fit_batched`` call it.
    :class:`PeakMemory` switches back to glibc's give-back settings while it measures, so
    that its readings keep their meaning. Returns False (and does nothing) where the C
    library is not glibc.
    """
    global _keeping
    if _glibc() is None:
        return False
    if not _keeping:
        _set_allocator(_KEEP)
        _keeping = True
    return True


def _release_free_memory() -> None:
    """Hand memory that was freed but kept by C's allocator back to the OS (glibc only).

    Without this, a block that runs after a bigger one reuses pages already counted in
    the RSS, and its peak reads too low (often zero). Elsewhere it does nothing.
    """
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


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
      hand such memory back first, and the block runs under glibc's give-back settings
      (also after :func:`keep_freed_memory`), which removes most of this effect; what remains (and
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
        if _keeping:
            _set_allocator(_GIVE_BACK)  # measure under glibc's own settings
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
        if _keeping:
            _set_allocator(_KEEP)
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


# ----------------------------------------------------------------------------- activations

def saved_activation_bytes(model: torch.nn.Module, fn) -> int:
    """Bytes of the tensors autograd saves for the backward pass while ``fn()`` runs.

    Every tensor an operation keeps for its gradient (inputs of a matrix multiply, the
    output of a sigmoid, an attention matrix, ...) passes through a *pack hook*; we add
    up the bytes of the storages behind them. Parameters are left out (they exist
    whether or not we train), and a storage reached by several saved tensors (views of
    one buffer) counts once. The result is the activation memory of one forward pass,
    exactly, on any device.
    """
    param_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr != 0 and ptr not in param_storages and ptr not in seen:
            seen[ptr] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


# ----------------------------------------------------------------------------- generation state

def kv_cache_bytes(length: int, *, n_layer: int, d_model: int, batch_size: int = 1,
                   bytes_per_value: int = 4) -> int:
    """Bytes of a GPT's key/value cache after ``length`` positions, by formula.

    Each of ``n_layer`` blocks keeps a key and a value vector of ``d_model`` numbers
    (``n_head`` heads of ``head_dim``) for every position of every sequence:

        bytes = 2 * n_layer * batch_size * length * d_model * bytes_per_value

    It grows linearly with ``length``; float32 has ``bytes_per_value = 4``.
    """
    return 2 * n_layer * batch_size * length * d_model * bytes_per_value


def recurrent_state_bytes(kind: str, *, n_layer: int, d_model: int, batch_size: int = 1,
                          bytes_per_value: int = 4) -> int:
    """Bytes of a recurrent network's state, by formula: the same after 1 or 1,000,000 tokens.

    One hidden vector ``h`` of ``d_model`` numbers per layer and sequence; the LSTM
    carries a cell vector ``c`` as well:

        bytes = (2 if LSTM else 1) * n_layer * batch_size * d_model * bytes_per_value
    """
    from rvt_lib.models.heads import KINDS

    if kind not in KINDS or kind == "gpt":
        raise ValueError(f"recurrent_state_bytes: kind must be a recurrent kind "
                         f"{tuple(k for k in KINDS if k != 'gpt')}, got {kind!r}")
    vectors = 2 if kind == "lstm" else 1
    return vectors * n_layer * batch_size * d_model * bytes_per_value


def state_bytes_formula(kind: str, length: int, *, n_layer: int, d_model: int,
                        batch_size: int = 1, bytes_per_value: int = 4) -> int:
    """The generation state's bytes after ``length`` positions: KV cache or recurrent state."""
    if kind == "gpt":
        return kv_cache_bytes(length, n_layer=n_layer, d_model=d_model, batch_size=batch_size,
                              bytes_per_value=bytes_per_value)
    return recurrent_state_bytes(kind, n_layer=n_layer, d_model=d_model, batch_size=batch_size,
                                 bytes_per_value=bytes_per_value)


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors(item)
    elif obj is not None:
        raise TypeError(f"a model state holds tensors in lists/tuples, found {type(obj).__name__}")


def state_bytes(state, held: bool = False) -> int:
    """Bytes of a model state, measured on the tensors themselves.

    ``held=False``: the sum of ``numel * element_size`` over the state's tensors (their
    logical size). ``held=True``: the bytes of the distinct storages behind them, i.e.
    the memory the state actually keeps alive. They differ when a tensor is a view into
    a bigger buffer: after one pass over a prompt, the GPT's keys and values are views
    into the joint query/key/value projection, which stays alive, queries included.
    """
    tensors = list(_tensors(state))
    if not held:
        return sum(t.numel() * t.element_size() for t in tensors)
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
    return sum(storages.values())


@dataclass
class DecodeTrace:
    """What :func:`decode_steps` measured, one entry per generated token.

    position[i]:    tokens read into the state after step i (prompt + generated so far)
    ms[i]:          wall time of step i, in milliseconds
    state_bytes[i]: bytes of the state after step i (:func:`state_bytes`)
    state:          the final state (KV cache or recurrent state)
    tokens:         (B, prompt_len + n_tokens) the prompt and the greedy continuation
    """

    position: np.ndarray
    ms: np.ndarray
    state_bytes: np.ndarray
    state: object
    tokens: torch.Tensor


@torch.no_grad()
def decode_steps(model, n_tokens: int, *, batch_size: int = 1, prompt_len: int = 1,
                 seed: int = 0) -> DecodeTrace:
    """Generate ``n_tokens`` greedily, one token per forward call, timing every step.

    This is the loop inside ``SequenceModel.generate``, written out so that each step
    can be timed and the state weighed: read the prompt once, then, per step, pick the
    next token and feed only that token together with the state. Every step feeds its
    token (``generate`` skips the very last one), so after step i the state covers all
    ``position[i]`` tokens. For a GPT the whole run must fit in its ``block_size`` (the
    cache-growing regime; beyond it ``generate`` re-reads a window, a different cost).
    Greedy (argmax), so runs repeat exactly.
    """
    from rvt_lib.models.gpt import GPT

    if model.head_kind != "lm":
        raise ValueError(f"decode_steps needs a language model (head='lm'), got head={model.head_kind!r}")
    if not isinstance(n_tokens, int) or n_tokens < 1:
        raise ValueError(f"decode_steps: n_tokens must be a positive integer, got {n_tokens!r}")
    if not isinstance(prompt_len, int) or prompt_len < 1:
        raise ValueError(f"decode_steps: prompt_len must be a positive integer, got {prompt_len!r}")
    if isinstance(model.core, GPT) and prompt_len + n_tokens > model.core.config.block_size:
        raise ValueError(f"decode_steps: prompt_len + n_tokens = {prompt_len + n_tokens} positions "
                         f"exceed the GPT's block_size={model.core.config.block_size}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        gen = torch.Generator().manual_seed(seed)
        tokens = torch.randint(model.vocab_size, (batch_size, prompt_len), generator=gen).to(device)
        logits, state = model(tokens, return_state=True)  # read the prompt: (B, P, V)
        positions, times, sizes = [], [], []
        for i in range(n_tokens):
            _sync(device)
            t0 = time.perf_counter()
            next_id = logits[:, -1].argmax(dim=-1, keepdim=True)  # (B, 1) pick the next token
            tokens = torch.cat([tokens, next_id], dim=1)
            logits, state = model(next_id, state=state, return_state=True)  # read it: (B, 1, V)
            _sync(device)
            times.append((time.perf_counter() - t0) * 1e3)
            positions.append(tokens.shape[1])
            sizes.append(state_bytes(state))
    finally:
        model.train(was_training)
    return DecodeTrace(np.array(positions), np.array(times), np.array(sizes), state, tokens)
