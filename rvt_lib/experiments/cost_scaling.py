"""The cost-and-scaling chapter's backend: sweeps over sequence length, crossovers, parameters.

Part IV of the book asks how the price of each model grows with the length ``T`` of
the sequence. Theory gives the shape of the answer:

* a **training step** (forward + backward over ``T`` tokens) costs the Transformer
  ``O(T^2 d + T d^2)`` time (every token attends to every earlier one, and every
  token goes through the MLP) and a recurrent network ``O(T d^2)`` (one state update
  per token). When the attention term dominates, the GPT's time grows like ``T^2``
  and a recurrent network's like ``T``, so their curves must cross somewhere;
* **generating** token number ``t`` costs the GPT ``O(t d)`` extra for attention over
  its key/value cache, which holds ``2 x n_layer x t x d_model`` numbers and grows by
  one entry per token, while a recurrent network carries a state of fixed size.

This module measures all of that, so the chapter can print what *this* machine does:

    df = training_sweep(["gpt", "lstm", "mingru"], [64, 256, 1024], d_model=64)
    crossover_table(df, value="time_ms", reference="gpt")
    gen = generation_sweep(["gpt", "mingru"], n_tokens=512, d_model=64)

Everything returns a *tidy* pandas DataFrame: one row per measurement, one column per
variable, ready for ``df.pivot`` and ``rvt_lib.plots.plot_loglog``.

Three measurements of memory, from noisiest to exact:

* ``peak_mem_MB``: :class:`rvt_lib.measure.PeakMemory` around one training step. Exact on
  CUDA; on the CPU the growth of the process's resident memory (read its caveats).
* ``saved_MB``: the bytes of the tensors autograd keeps from the forward pass for the
  backward pass (the *activations*), counted with ``torch.autograd.graph.saved_tensors_hooks``.
  Parameters are excluded and a storage shared by several saved tensors counts once.
  This is the part of training memory that grows with ``T``, and it is exact on any device.
* ``state_bytes``: the bytes of the tensors a model carries between generation steps
  (the KV cache or the recurrent state), next to the formula for them.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from rvt_lib.measure import (PeakMemory, count_parameters, decode_steps, saved_activation_bytes,
                             state_bytes_formula, time_fn)
from rvt_lib.models.heads import KINDS, ModelSpec
from rvt_lib.stats import crossings, crossover, fit_power_law
from rvt_lib.train import TrainConfig

MB = 1e6  # decimal megabytes, as in rvt_lib.measure


# ----------------------------------------------------------------------------- model specs

def _model_specs(kinds, **defaults) -> dict[str, ModelSpec]:
    """Normalise ``kinds`` to ``{label: ModelSpec}`` of language models built from ``defaults``.

    ``kinds`` is a list of kind names (``["gpt", "lstm"]``: the label is the kind) or a
    dict from a label to a kind name, a :class:`ModelSpec`, or a dict of ``make_model``
    arguments holding ``"kind"``, e.g. ``{"gpt (plain)": {"kind": "gpt", "attention": "plain"}}``.
    A label's own arguments win over ``defaults`` (``vocab_size``, ``d_model``, ...).
    """
    if isinstance(kinds, str):
        raise TypeError(f"kinds must be a list of model kinds or a dict, got the string {kinds!r}; "
                        f"write [{kinds!r}]")
    if isinstance(kinds, dict):
        raw = {label: ({"kind": spec} if isinstance(spec, str) else spec) for label, spec in kinds.items()}
    else:
        raw = {kind: {"kind": kind} for kind in kinds}
    if not raw:
        raise ValueError("kinds is empty: name at least one model kind")
    specs = {}
    for label, spec in raw.items():
        if isinstance(spec, ModelSpec):
            specs[label] = ModelSpec(spec.kind, spec.head, **{**defaults, **spec.kwargs})
            continue
        spec = dict(spec)
        if spec.get("kind") not in KINDS:
            raise ValueError(f"model {label!r}: kind must be one of {KINDS}, got {spec.get('kind')!r}")
        specs[label] = ModelSpec(spec.pop("kind"), "lm", **{**defaults, **spec})
    return specs


def _check_lengths(seq_lens) -> list[int]:
    lens = [int(t) for t in seq_lens]
    if not lens or any(t < 1 for t in lens) or any(t != s for t, s in zip(lens, seq_lens)):
        raise ValueError(f"seq_lens must be a non-empty list of positive integers, got {seq_lens!r}")
    if sorted(set(lens)) != lens:
        raise ValueError(f"seq_lens must be strictly increasing, got {seq_lens!r}")
    return lens


def _random_inputs(model, batch_size: int, seq_len: int, generator, device):
    """Inputs a SequenceModel accepts: token ids (B, T), or features (B, T, input_size)."""
    if model.vocab_size is not None:
        return torch.randint(model.vocab_size, (batch_size, seq_len), generator=generator).to(device)
    return torch.randn(batch_size, seq_len, model.input_size, generator=generator).to(device)


# ----------------------------------------------------------------------------- training cost

def training_step_cost(model, seq_len: int, *, batch_size: int = 1, repeats: int = 3,
                       warmup: int = 1, seed: int = 0) -> dict:
    """Time and memory of one training step (forward + loss + backward) at length ``seq_len``.

    The optimizer update is left out: its cost depends on the number of parameters, not
    on ``T``. Inputs are random (the cost does not depend on the values). Returns a dict
    with ``time_ms`` (median of ``repeats``, see :func:`rvt_lib.measure.time_fn`),
    ``tokens_per_s``, ``peak_mem_MB`` and ``saved_MB`` (see the module docstring).
    """
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    x = _random_inputs(model, batch_size, seq_len, gen, device)
    lm = model.head_kind == "lm"
    y = torch.randint(model.n_out, (batch_size, seq_len) if lm else (batch_size,), generator=gen).to(device)
    model.train()

    def loss_fn():
        out = model(x)  # (B, T, V) logits, or (B, n_out)
        if lm:
            return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        if model.head_kind == "classify":
            return F.cross_entropy(out, y)
        return out.float().square().mean()

    def step():
        model.zero_grad(set_to_none=True)
        loss_fn().backward()

    ms = time_fn(step, repeats=repeats, warmup=warmup, device=device)
    model.zero_grad(set_to_none=True)
    with PeakMemory(device) as mem:
        step()
    model.zero_grad(set_to_none=True)
    saved = saved_activation_bytes(model, loss_fn)  # forward only: what backward would need
    return {"time_ms": ms, "tokens_per_s": batch_size * seq_len / (ms / 1e3),
            "peak_mem_MB": mem.peak_MB, "saved_MB": saved / MB}


def training_sweep(kinds, seq_lens, *, d_model: int = 64, n_layer: int = 2, n_head: int = 4,
                   vocab_size: int = 65, batch_size: int = 1, repeats: int = 3, warmup: int = 1,
                   max_step_s: float | None = None, device=None, seed: int = 0):
    """Measure :func:`training_step_cost` for every model at every sequence length.

    kinds: model kinds (``["gpt", "lstm"]``) or ``{label: spec}`` (see ``_model_specs``);
        every model is a language model (``make_model(..., vocab_size=vocab_size)``) of
        width ``d_model`` and depth ``n_layer``. The GPT gets ``block_size = max(seq_lens)``.
    max_step_s: once a model's step takes longer than this, its longer lengths are
        skipped (the row is kept, with NaN values and ``skipped=True``), so that a slow
        model cannot eat the whole budget.

    Returns a tidy DataFrame, one row per (model, seq_len): ``model, kind, seq_len,
    batch_size, time_ms, tokens_per_s, peak_mem_MB, saved_MB, params, skipped``.
    """
    import pandas as pd

    lens = _check_lengths(seq_lens)
    specs = _model_specs(kinds, vocab_size=vocab_size, d_model=d_model, n_layer=n_layer, n_head=n_head,
                         block_size=max(lens))
    device = torch.device("cpu") if device is None else torch.device(device)
    rows = []
    for label, spec in specs.items():
        kind = spec.kind
        model = spec.build(seed).to(device)
        params = count_parameters(model)
        too_slow = False
        for T in lens:
            row = {"model": label, "kind": kind, "seq_len": T, "batch_size": batch_size}
            if too_slow:
                row.update(time_ms=np.nan, tokens_per_s=np.nan, peak_mem_MB=np.nan, saved_MB=np.nan,
                           params=params, skipped=True)
            else:
                row.update(training_step_cost(model, T, batch_size=batch_size, repeats=repeats,
                                              warmup=warmup, seed=seed),
                           params=params, skipped=False)
                too_slow = max_step_s is not None and row["time_ms"] / 1e3 > max_step_s
            rows.append(row)
        del model
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- generation sweeps

def generation_sweep(kinds, n_tokens: int, *, d_model: int = 64, n_layer: int = 2, n_head: int = 4,
                     vocab_size: int = 65, batch_size: int = 1, repeats: int = 3, window: int = 64,
                     device=None, seed: int = 0):
    """Time per generated token and state bytes against position, for every model.

    Each model generates ``n_tokens`` tokens ``repeats`` times (:func:`decode_steps`);
    the per-step times are pooled over the repeats and over windows of ``window``
    consecutive positions, and the median of each window is reported (one step takes
    well under a millisecond, so single steps are too noisy to read). The state bytes
    are measured at the end of each window, next to :func:`state_bytes_formula`.

    Returns a tidy DataFrame, one row per (model, window): ``model, kind, position``
    (the window's last position), ``ms_per_token, tokens_per_s, state_bytes,
    formula_bytes``.
    """
    import pandas as pd

    specs = _model_specs(kinds, vocab_size=vocab_size, d_model=d_model, n_layer=n_layer, n_head=n_head,
                         block_size=n_tokens + 1)  # 1-token prompt
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    device = torch.device("cpu") if device is None else torch.device(device)
    rows = []
    for label, spec in specs.items():
        kind, L, d = spec.kind, spec["n_layer"], spec["d_model"]
        model = spec.build(seed).to(device)
        decode_steps(model, min(n_tokens, 8), batch_size=batch_size, seed=seed)  # warm-up
        traces = [decode_steps(model, n_tokens, batch_size=batch_size, seed=seed) for _ in range(repeats)]
        ms = np.stack([t.ms for t in traces])  # (repeats, n_tokens)
        trace = traces[0]
        for start in range(0, n_tokens, window):
            stop = min(start + window, n_tokens)
            med = float(np.median(ms[:, start:stop]))
            pos = int(trace.position[stop - 1])
            rows.append({"model": label, "kind": kind, "position": pos, "ms_per_token": med,
                         "tokens_per_s": batch_size / (med / 1e3),
                         "state_bytes": int(trace.state_bytes[stop - 1]),
                         "formula_bytes": state_bytes_formula(kind, pos, n_layer=L, d_model=d,
                                                              batch_size=batch_size)})
        del model
    return pd.DataFrame(rows)


def memory_profile(kinds, *, seq_len: int, gen_len: int, d_model: int = 64, n_layer: int = 2,
                   n_head: int = 4, vocab_size: int = 65, batch_size: int = 1, seed: int = 0):
    """Three kinds of memory per model at one width, all exact (no timing, no sampling).

    * ``params`` and ``param_KB``: the weights (float32), with the GPT's position table
      sized ``block_size = max(seq_len, gen_len)``;
    * ``train_activations_KB``: activations saved for backward in one training step on
      ``batch_size`` sequences of ``seq_len`` tokens (:func:`saved_activation_bytes`);
    * ``gen_state_KB``: the state carried after generating up to position ``gen_len``
      (:func:`state_bytes_formula`: the KV cache for the GPT, the fixed state otherwise).

    Returns a DataFrame indexed by model.
    """
    import pandas as pd

    specs = _model_specs(kinds, vocab_size=vocab_size, d_model=d_model, n_layer=n_layer, n_head=n_head,
                         block_size=max(seq_len, gen_len))
    rows = {}
    for label, spec in specs.items():
        kind = spec.kind
        model = spec.build(seed)
        gen = torch.Generator().manual_seed(seed)
        x = _random_inputs(model, batch_size, seq_len, gen, torch.device("cpu"))
        activations = saved_activation_bytes(model, lambda: model(x).float().logsumexp(-1).mean())
        rows[label] = {"params": count_parameters(model),
                       "param_KB": sum(p.numel() * p.element_size() for p in model.parameters()) / 1e3,
                       "train_activations_KB": activations / 1e3,
                       "gen_state_KB": state_bytes_formula(kind, gen_len, n_layer=spec["n_layer"],
                                                           d_model=spec["d_model"], batch_size=batch_size) / 1e3}
    return pd.DataFrame(rows).T.astype({"params": int})


# ----------------------------------------------------------------------------- power laws

def fitted_exponents(df, *, value: str = "time_ms", x: str = "seq_len", last: int | None = None):
    """The exponent of a power law (:func:`rvt_lib.stats.fit_power_law`) fitted to each model's ``value`` against ``x``.

    ``last=n`` fits only each model's ``n`` longest measured points (NaNs skipped): the
    *local* exponent at the long end, where the asymptotic term dominates. Over the whole
    range a Transformer's time mixes a linear regime (the MLPs and projections) with a
    quadratic one (attention), so its overall exponent lies between 1 and 2.
    Returns a pandas Series indexed by model.
    """
    import pandas as pd

    if last is not None and (not isinstance(last, int) or last < 2):
        raise ValueError(f"fitted_exponents: last must be an integer >= 2 (points to fit), got {last!r}")
    out = {}
    for model, group in df.groupby("model", sort=False):
        group = group[np.isfinite(group[value].to_numpy(dtype=float))].sort_values(x)
        if last is not None:
            group = group.tail(last)
        out[model] = fit_power_law(group[x], group[value]).exponent
    return pd.Series(out, name=f"exponent of {value}")


def crossover_table(df, *, value: str = "time_ms", reference: str = "gpt", x: str = "seq_len"):
    """Where does ``reference``'s cost cross each other model's? One row per other model.

    Fits a power law (:func:`rvt_lib.stats.fit_power_law`) to every model's ``value`` against ``x`` and reports the
    exponents, the crossover of the fitted laws (:func:`rvt_lib.stats.crossover`) and whether it lies in
    the measured range, the crossings seen in the measurements themselves
    (:func:`rvt_lib.stats.crossings`: how many, and the last one) and a plain-words ``verdict``
    computed from the numbers, describing the order at the long end.
    """
    import pandas as pd

    if reference not in set(df["model"]):
        raise ValueError(f"crossover_table: no model {reference!r} in the sweep; models are {sorted(set(df['model']))}")
    wide = df.pivot(index=x, columns="model", values=value).sort_index()
    xs = wide.index.to_numpy(dtype=float)
    ref = wide[reference].to_numpy(dtype=float)
    ref_law = fit_power_law(xs, ref)
    rows = []
    for other in wide.columns:
        if other == reference:
            continue
        y = wide[other].to_numpy(dtype=float)
        both = np.isfinite(ref) & np.isfinite(y)
        other_law = fit_power_law(xs, y)
        x_fit = crossover(ref_law, other_law)
        lo, hi = xs[both].min(), xs[both].max()
        seen = crossings(xs, ref, y)
        dearer_at_end = ref[both][-1] > y[both][-1]
        end = "dearer" if dearer_at_end else "cheaper"
        other_way = "cheaper" if dearer_at_end else "dearer"
        if seen:
            verdict = f"{reference} {end} from ~{seen[-1]:,.0f} on, {other_way} before"
            if len(seen) > 1:
                verdict += f" (the measured curves cross {len(seen)} times)"
        else:
            verdict = f"{reference} {end} at every measured length"
            if x_fit is not None and x_fit > hi and (ref_law.exponent > other_law.exponent) != dearer_at_end:
                # an extrapolation: worth a mention only a little way past the measurements
                verdict += (f"; the fitted laws cross at ~{x_fit:,.0f} (extrapolated)" if x_fit <= 100 * hi else
                            f"; the fitted laws cross only beyond 100 times the longest length")
        rows.append({"model": other, f"{reference}_exponent": ref_law.exponent,
                     "exponent": other_law.exponent, "fitted_crossover": x_fit,
                     "fitted_in_range": x_fit is not None and lo <= x_fit <= hi,
                     "n_crossings": len(seen), "last_crossing": seen[-1] if seen else None,
                     "verdict": verdict})
    return pd.DataFrame(rows).set_index("model")


# ----------------------------------------------------------------------------- parameters vs loss

def parameter_study(splits, kinds, widths, *, config: TrainConfig, block_size: int, batch_size: int,
                    val_batches: int, test_windows: int | None = None, n_layer: int = 2, n_head: int = 4,
                    block: str = "residual", seeds=(0, 1, 2), lr_grid=(1e-3, 3e-3, 1e-2),
                    extend: int = 0, trainer=None, device=None):
    """Loss per parameter, under the book's protocol, at each GPT width in ``widths``.

    At each width the GPT sets the parameter count; every other kind in ``kinds`` is put
    in ``block`` (the GPT's residual block by default) at the width that matches it
    (:func:`rvt_lib.experiments.shakespeare.mixer_specs`). Each group then goes through
    :func:`rvt_lib.runner.run_study`: the learning rate chosen per model on validation
    (seed ``seeds[0]``; the grid grows past an end up to ``extend`` times while the best
    rate sits at that end), retrained over ``seeds``, the test windows scored once.

    splits: a :class:`rvt_lib.experiments.shakespeare.TextSplits`. config: the shared
    :class:`rvt_lib.train.TrainConfig` (its ``lr`` is replaced by the grid's).

    Returns ``(runs, studies)``: a tidy DataFrame, one row per width x model x seed
    (``d_gpt, model, kind, d_model, params, seed, lr, test_loss, val_loss,
    train_seconds``), and ``{d_gpt: StudyResult}`` for paired verdicts between models of
    one width.
    """
    import pandas as pd

    from rvt_lib.experiments.shakespeare import lm_task, mixer_specs
    from rvt_lib.runner import run_study

    widths = [int(w) for w in widths]
    if not widths or any(w < 1 for w in widths):
        raise ValueError(f"parameter_study: widths must be positive integers, got {widths!r}")
    kinds = list(kinds)
    if "gpt" not in kinds:
        raise ValueError(f"parameter_study: the GPT sets each parameter count; kinds must hold 'gpt', got {kinds}")
    task = lm_task(splits, block_size=block_size, batch_size=batch_size, val_batches=val_batches,
                   test_windows=test_windows, name="Tiny Shakespeare (parameters)")
    rows, studies = [], {}
    for d in widths:
        reference = ModelSpec("gpt", vocab_size=splits.vocab_size, d_model=d, n_layer=n_layer,
                              n_head=n_head, block_size=block_size)
        specs = mixer_specs(kinds, reference, block=block)
        res = run_study(specs, task, config, seeds=seeds, lr_grid=lr_grid, tune_seeds=(seeds[0],),
                        extend=extend, measure_cost=False, trainer=trainer, device=device)
        studies[d] = res
        for r in res.runs.itertuples():
            spec = specs[r.model]
            rows.append({"d_gpt": d, "model": r.model, "kind": spec.kind, "d_model": spec["d_model"],
                         "params": r.params, "seed": r.seed, "lr": r.lr, "test_loss": r.test_loss,
                         "val_loss": r.val_loss, "train_seconds": r.train_seconds})
    return pd.DataFrame(rows), studies


def _params_without_positions(spec: ModelSpec) -> int:
    """Trainable parameters, leaving out a GPT's learned position table (it grows with the
    longest length a sweep runs, not with the model's capacity)."""
    if spec.kind == "gpt" and spec.kwargs.get("positions", True):
        return spec.but(block_size=1).n_params() - spec["d_model"]
    return spec.n_params()


def activation_sweep(kinds, seq_lens, *, match: str = "gpt", d_model: int = 64, n_layer: int = 2,
                     n_head: int = 4, vocab_size: int = 65, batch_size: int = 1, tol: float = 0.05,
                     seed: int = 0):
    """Activations saved for backward (exact bytes) at *equal parameter count*.

    The model ``match`` (a kind in ``kinds``) is built at width ``d_model``; every other
    kind gets the width whose parameter count is closest to it
    (:func:`rvt_lib.models.heads.match_parameters`, within ``tol``). Parameters are
    counted without the GPT's position table, which is sized for the longest length and
    would otherwise dominate a small GPT's count. Only forward
    passes run (see :func:`rvt_lib.measure.saved_activation_bytes`), so this is cheap.

    Returns a tidy DataFrame, one row per (model, seq_len): ``model, kind, d_model,
    params, seq_len, saved_MB``.
    """
    import pandas as pd

    from rvt_lib.models.heads import match_parameters

    lens = _check_lengths(seq_lens)
    specs = _model_specs(kinds, vocab_size=vocab_size, d_model=d_model, n_layer=n_layer, n_head=n_head,
                         block_size=max(lens))
    if match not in specs:
        raise ValueError(f"activation_sweep: match={match!r} is not one of the models {list(specs)}")
    target = _params_without_positions(specs[match])
    specs = {label: spec if label == match else match_parameters(spec, target, tol=tol)
             for label, spec in specs.items()}
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for label, spec in specs.items():
        model = spec.build(seed)
        for T in lens:
            x = _random_inputs(model, batch_size, T, gen, torch.device("cpu"))

            def loss_fn():
                return model(x).float().logsumexp(-1).mean()

            rows.append({"model": label, "kind": spec.kind, "d_model": spec["d_model"],
                         "params": _params_without_positions(spec), "seq_len": T,
                         "saved_MB": saved_activation_bytes(model, loss_fn) / MB})
    return pd.DataFrame(rows)


def thread_speedup(kinds, seq_lens, *, threads=(1, 2), **sweep_kwargs):
    """The training sweep's time per step at each thread count, and the speed-up.

    Runs :func:`training_sweep` once per entry of ``threads`` (``torch.set_num_threads``;
    the previous setting is restored) with ``sweep_kwargs``. Returns a tidy DataFrame,
    one row per (model, seq_len, threads): ``model, seq_len, threads, time_ms,
    speedup`` (time at ``threads[0]`` divided by time at this count).
    """
    import pandas as pd

    threads = [int(t) for t in threads]
    if not threads or any(t < 1 for t in threads):
        raise ValueError(f"thread_speedup: threads must be positive integers, got {threads!r}")
    before = torch.get_num_threads()
    frames = []
    try:
        for n in threads:
            torch.set_num_threads(n)
            df = training_sweep(kinds, seq_lens, **sweep_kwargs)[["model", "seq_len", "time_ms"]]
            frames.append(df.assign(threads=n))
    finally:
        torch.set_num_threads(before)
    out = pd.concat(frames, ignore_index=True)
    base = out[out["threads"] == threads[0]].set_index(["model", "seq_len"])["time_ms"]
    out["speedup"] = [base[(m, t)] / ms for m, t, ms in zip(out["model"], out["seq_len"], out["time_ms"])]
    return out
