"""Tests for the cost-and-scaling code: generation-state bytes and activations (rvt_lib.measure),
power-law crossovers (rvt_lib.stats) and the chapter's sweeps (rvt_lib.experiments.cost_scaling)."""
import numpy as np
import pytest
import torch

from rvt_lib.models.heads import ModelSpec, make_model
from rvt_lib.train import TrainConfig
from rvt_lib.experiments.cost_scaling import (crossover_table, fitted_exponents, generation_sweep, memory_profile,
                                              training_step_cost, training_sweep,
                                              parameter_study, activation_sweep, thread_speedup)
from rvt_lib.measure import (decode_steps, kv_cache_bytes, recurrent_state_bytes, saved_activation_bytes,
                             state_bytes, state_bytes_formula)
from rvt_lib import stats
from rvt_lib.stats import PowerLaw, crossings, crossover, fit_power_law

SIZES = dict(vocab_size=11, d_model=8, n_layer=2, n_head=2)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors gain nothing from threads, and on shared cores threads wait on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _model(kind, block_size=64, **kw):
    torch.manual_seed(0)
    return make_model(kind, block_size=block_size, **{**SIZES, **kw})


# ----------------------------------------------------------------------------- generation memory

def test_kv_cache_formula_equals_the_cache_tensors_after_generation():
    model = _model("gpt", n_layer=3, n_head=2)
    trace = decode_steps(model, 20, batch_size=2, prompt_len=3)
    assert trace.tokens.shape == (2, 23)
    expected = kv_cache_bytes(23, n_layer=3, d_model=8, batch_size=2)
    assert expected == 2 * 3 * 2 * 23 * 8 * 4
    assert state_bytes(trace.state) == expected
    assert state_bytes(trace.state, held=True) == expected  # torch.cat made fresh tensors
    # and at every step on the way: the cache grows by exactly one position per token
    per_token = kv_cache_bytes(1, n_layer=3, d_model=8, batch_size=2)
    assert np.all(np.diff(trace.state_bytes) == per_token)
    assert list(trace.position) == list(range(4, 24))


def test_prompt_cache_holds_the_whole_qkv_buffer():
    model = _model("gpt")
    _, state = model(torch.zeros(1, 5, dtype=torch.long), return_state=True)
    logical = state_bytes(state)
    assert logical == kv_cache_bytes(5, n_layer=2, d_model=8)
    # k and v are views of one (B, T, 3C) projection: q is kept alive with them
    assert state_bytes(state, held=True) == logical // 2 * 3


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm", "mingru", "minlstm"])
def test_recurrent_state_bytes_constant_in_generated_length(kind):
    model = _model(kind)
    trace = decode_steps(model, 12, batch_size=3)
    expected = recurrent_state_bytes(kind, n_layer=2, d_model=8, batch_size=3)
    assert expected == (2 if kind == "lstm" else 1) * 2 * 3 * 8 * 4
    assert np.all(trace.state_bytes == expected)
    assert state_bytes(trace.state) == state_bytes_formula(kind, 13, n_layer=2, d_model=8, batch_size=3)


def test_decode_steps_matches_generate_greedy():
    model = _model("minlstm")
    trace = decode_steps(model, 10, prompt_len=4, seed=3)
    again = model.generate(trace.tokens[:, :4], 10, top_k=1)
    assert torch.equal(again, trace.tokens)
    assert trace.ms.shape == (10,) and np.all(trace.ms > 0)


def test_decode_and_formula_refuse_bad_input():
    with pytest.raises(ValueError, match="block_size"):
        decode_steps(_model("gpt", block_size=8), 8, prompt_len=1)
    with pytest.raises(ValueError, match="recurrent kind"):
        recurrent_state_bytes("gpt", n_layer=1, d_model=4)
    with pytest.raises(ValueError, match="lm"):
        decode_steps(make_model("gru", input_size=3, head="regress", d_model=4), 3)
    with pytest.raises(TypeError):
        state_bytes([torch.zeros(2), "not a tensor"])


# ----------------------------------------------------------------------------- power laws

def test_crossover_is_exact_on_synthetic_power_laws():
    quad, lin = PowerLaw(2.0, 2.0), PowerLaw(1.0, 50.0)
    assert crossover(quad, lin) == pytest.approx(25.0, rel=1e-12)
    assert crossover(lin, quad) == pytest.approx(25.0, rel=1e-12)
    a, b = PowerLaw(1.7, 0.003), PowerLaw(0.9, 0.8)
    x = crossover(a, b)
    assert a(x) == pytest.approx(b(x), rel=1e-10)
    assert crossover(PowerLaw(1.0, 1.0), PowerLaw(1.0, 2.0)) is None


def test_power_law_fit_recovers_exponent_and_coefficient():
    x = np.array([64, 128, 256, 512, 1024])
    law = fit_power_law(x, 0.25 * x ** 1.5)
    assert law.exponent == pytest.approx(1.5, abs=1e-10)
    assert law.coefficient == pytest.approx(0.25, rel=1e-9)


def test_crossings_interpolate_in_log_log():
    x = np.array([10.0, 20.0, 40.0, 80.0])
    ya, yb = 2.0 * x ** 2, 50.0 * x  # cross at exactly 25, between 20 and 40
    assert crossings(x, ya, yb) == [pytest.approx(25.0, rel=1e-12)]
    assert crossings(x, yb, ya) == [pytest.approx(25.0, rel=1e-12)]
    assert crossings(x, ya, ya * 3) == []
    yb_missing = yb.copy()
    yb_missing[0] = np.nan  # a skipped measurement is ignored, not read as a crossing
    assert crossings(x, ya, yb_missing) == [pytest.approx(25.0, rel=1e-12)]
    assert crossings(x[:2], ya[:2], yb[:2]) == []  # both below 25: no crossing seen
    # noisy curves can cross several times; equal points are stepped over
    zig = np.array([1.0, 3.0, 1.0, 3.0])
    assert len(crossings(x, zig, np.full(4, 2.0))) == 3
    assert crossings(x, np.array([1.0, 2.0, 3.0, 3.0]), np.full(4, 2.0)) == [pytest.approx(20.0)]


def test_crossover_table_on_synthetic_sweep():
    import pandas as pd

    xs = [16, 32, 64, 128, 256]
    rows = [{"model": m, "seq_len": x, "time_ms": f(x)} for x in xs
            for m, f in (("gpt", lambda x: 0.01 * x ** 2), ("rnn", lambda x: 1.0 * x),
                         ("fast", lambda x: 0.001 * x))]
    table = crossover_table(pd.DataFrame(rows))
    assert table.loc["rnn", "gpt_exponent"] == pytest.approx(2.0)
    assert table.loc["rnn", "exponent"] == pytest.approx(1.0)
    assert table.loc["rnn", "fitted_crossover"] == pytest.approx(100.0)
    assert table.loc["rnn", "last_crossing"] == pytest.approx(100.0)
    assert table.loc["rnn", "n_crossings"] == 1
    assert bool(table.loc["rnn", "fitted_in_range"])
    assert table.loc["rnn", "verdict"] == "gpt dearer from ~100 on, cheaper before"
    assert table.loc["fast", "n_crossings"] == 0
    assert table.loc["fast", "verdict"] == "gpt dearer at every measured length"
    # a slower-growing model that is dearer now: the fitted laws cross later
    rows2 = [{"model": m, "seq_len": x, "time_ms": f(x)} for x in xs
             for m, f in (("gpt", lambda x: 0.01 * x ** 2), ("slow", lambda x: 100.0 * x))]
    t2 = crossover_table(pd.DataFrame(rows2))
    assert t2.loc["slow", "verdict"] == "gpt cheaper at every measured length; the fitted laws cross at ~10,000 (extrapolated)"
    rows3 = [{"model": m, "seq_len": x, "time_ms": f(x)} for x in xs
             for m, f in (("gpt", lambda x: 1e-6 * x ** 2), ("slow", lambda x: 100.0 * x))]
    assert crossover_table(pd.DataFrame(rows3)).loc["slow", "verdict"].endswith("beyond 100 times the longest length")
    with pytest.raises(ValueError, match="no model"):
        crossover_table(pd.DataFrame(rows), reference="lstm")


def test_fitted_exponents_overall_and_at_the_long_end():
    import pandas as pd

    xs = [16, 32, 64, 128, 256, 512]
    rows = [{"model": "mixed", "seq_len": x, "time_ms": 100.0 * x + 0.01 * x ** 2} for x in xs]
    rows += [{"model": "line", "seq_len": x, "time_ms": 3.0 * x if x < 512 else np.nan} for x in xs]
    df = pd.DataFrame(rows)
    overall = fitted_exponents(df)
    tail = fitted_exponents(df, last=2)
    assert overall["line"] == pytest.approx(1.0) and tail["line"] == pytest.approx(1.0)  # NaN skipped
    assert 1.0 < overall["mixed"] < tail["mixed"] < 2.0  # the quadratic term shows at the long end
    with pytest.raises(ValueError, match="last"):
        fitted_exponents(df, last=1)


# ----------------------------------------------------------------------------- measured costs

def test_saved_activation_bytes_exact_for_a_linear_layer():
    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 3)
    x = torch.randn(7, 5)
    # the only saved tensor that is not a parameter is the input x (for dW = x^T dy)
    assert saved_activation_bytes(lin, lambda: lin(x).sum()) == 7 * 5 * 4
    with torch.no_grad():
        assert saved_activation_bytes(lin, lambda: lin(x).sum()) == 0


def test_saved_activation_bytes_linear_in_length_for_a_recurrent_model():
    model = _model("minlstm")
    b = [training_step_cost(model, T, repeats=1, warmup=0)["saved_MB"] for T in (16, 32, 64)]
    assert b[1] / b[0] == pytest.approx(2.0, rel=0.1)
    assert b[2] / b[1] == pytest.approx(2.0, rel=0.1)


def test_plain_attention_saves_quadratic_memory():
    model = _model("gpt", attention="plain", block_size=256)
    small, big = (training_step_cost(model, T, repeats=1, warmup=0)["saved_MB"] for T in (64, 256))
    assert big / small > 6  # T^2 terms dominate: linear growth would give 4


def test_tiny_training_sweep_returns_finite_positive_numbers():
    df = training_sweep(["gpt", "lstm", "mingru"], [8, 16], d_model=8, n_head=2, repeats=1, warmup=0)
    assert list(df.columns) == ["model", "kind", "seq_len", "batch_size", "time_ms", "tokens_per_s",
                                "peak_mem_MB", "saved_MB", "params", "skipped"]
    assert len(df) == 6 and not df["skipped"].any()
    for col in ("time_ms", "tokens_per_s", "saved_MB", "params"):
        assert np.all(np.isfinite(df[col])) and np.all(df[col] > 0)
    assert np.all(df["peak_mem_MB"] >= 0)


def test_training_sweep_skips_after_the_time_limit_and_checks_arguments():
    df = training_sweep({"slow": "gru"}, [4, 8, 16], d_model=4, n_head=2, repeats=1, warmup=0,
                        max_step_s=0.0)
    assert df["skipped"].tolist() == [False, True, True]
    assert np.isnan(df["time_ms"].iloc[1])
    with pytest.raises(ValueError, match="increasing"):
        training_sweep(["gru"], [16, 8])
    with pytest.raises(ValueError, match="kind must be one of"):
        training_sweep(["transformer"], [8])
    with pytest.raises(TypeError, match="list"):
        training_sweep("gpt", [8])


def test_tiny_generation_sweep():
    df = generation_sweep(["gpt", "gru"], 8, d_model=8, n_head=2, repeats=1, window=4)
    assert len(df) == 4
    assert np.all(df["state_bytes"] == df["formula_bytes"])
    assert np.all(np.isfinite(df["ms_per_token"])) and np.all(df["ms_per_token"] > 0)
    gpt = df[df["model"] == "gpt"]
    assert gpt["position"].tolist() == [5, 9]
    assert gpt["state_bytes"].iloc[1] > gpt["state_bytes"].iloc[0]


def _tiny_splits():
    from rvt_lib.data.text import CharDataset
    from rvt_lib.experiments.shakespeare import split_text

    return split_text(CharDataset("to be or not to be, that is the question. " * 40))


def test_tiny_parameter_study_follows_the_protocol():
    from rvt_lib.batched import fit_batched

    splits = _tiny_splits()
    config = TrainConfig(steps=3, batch_size=4, schedule="cosine", eval_every=3)
    kw = dict(config=config, block_size=8, batch_size=4, val_batches=2, test_windows=8, n_layer=1,
              n_head=2, seeds=(0, 1), lr_grid=(1e-3, 1e-2))
    runs, studies = parameter_study(splits, ["gpt", "minlstm"], [8, 16], **kw)
    assert sorted(studies) == [8, 16] and len(runs) == 2 * 2 * 2  # widths x models x seeds
    assert np.all(np.isfinite(runs["test_loss"])) and np.all(runs["test_loss"] > 0)
    for d, group in runs.groupby("d_gpt"):  # matched: within the 5% of mixer_specs
        params = group.groupby("kind")["params"].first()
        assert abs(params["minlstm"] / params["gpt"] - 1) <= 0.05
        assert set(studies[d].tuning["lr"]) == {1e-3, 1e-2}  # every lr tried, on validation
    assert runs.groupby("d_gpt")["params"].max()[16] > runs.groupby("d_gpt")["params"].max()[8]
    v = studies[8].compare("minLSTM block", "GPT", "loss", lower_is_better=True)
    assert v.label in stats.LABELS
    # the batched trainer gives the same runs (members equal to one-by-one fits)
    batched, _ = parameter_study(splits, ["gpt", "minlstm"], [8], trainer=fit_batched, **kw)
    one_by_one = runs[runs["d_gpt"] == 8].reset_index(drop=True)
    np.testing.assert_allclose(batched["test_loss"], one_by_one["test_loss"], rtol=1e-4)
    with pytest.raises(ValueError, match="GPT sets"):
        parameter_study(splits, ["lstm"], [8], **kw)
    with pytest.raises(ValueError, match="widths"):
        parameter_study(splits, ["gpt"], [], **kw)


def test_activations_at_equal_parameters():
    df = activation_sweep(["gpt", "lstm", "mingru"], [8, 16, 32], d_model=16, n_head=2, n_layer=1)
    params = df.groupby("model")["params"].first()
    assert np.all(np.abs(params / params["gpt"] - 1) <= 0.05)  # matched to the GPT
    widths = df.groupby("model")["d_model"].first()
    assert widths["gpt"] == 16 and widths["mingru"] > 16  # a minGRU layer is smaller at equal width
    for _, g in df.groupby("model"):  # activations grow with T
        assert np.all(np.diff(g.sort_values("seq_len")["saved_MB"].to_numpy()) > 0)
    with pytest.raises(ValueError, match="match"):
        activation_sweep(["lstm"], [8], match="gpt")


def test_thread_speedup_restores_the_setting():
    before = torch.get_num_threads()
    df = thread_speedup(["mingru"], [8, 16], threads=(1, 2), d_model=8, n_layer=1, repeats=1)
    assert torch.get_num_threads() == before
    assert len(df) == 4 and set(df["threads"]) == {1, 2}
    one = df[df["threads"] == 1]
    assert np.allclose(one["speedup"], 1.0) and np.all(df["speedup"] > 0)
    with pytest.raises(ValueError, match="threads"):
        thread_speedup(["mingru"], [8], threads=(0,))


def test_memory_profile_is_exact_and_consistent():
    prof = memory_profile(["gpt", "lstm", "mingru"], seq_len=32, gen_len=100, d_model=8, n_head=2,
                          vocab_size=11, batch_size=2)
    assert prof.loc["gpt", "gen_state_KB"] == kv_cache_bytes(100, n_layer=2, d_model=8, batch_size=2) / 1e3
    assert prof.loc["lstm", "gen_state_KB"] == 2 * prof.loc["mingru", "gen_state_KB"]
    lstm = make_model("lstm", vocab_size=11, d_model=8, n_layer=2)
    assert prof.loc["lstm", "params"] == sum(p.numel() for p in lstm.parameters())
    assert prof.loc["lstm", "param_KB"] == prof.loc["lstm", "params"] * 4 / 1e3
    assert (prof["train_activations_KB"] > 0).all()
    longer = memory_profile(["mingru"], seq_len=64, gen_len=100, d_model=8, vocab_size=11, batch_size=2)
    assert longer.loc["mingru", "train_activations_KB"] == pytest.approx(
        2 * prof.loc["mingru", "train_activations_KB"], rel=0.05)


def test_model_specs_merge_defaults_and_accept_specs():
    from rvt_lib.experiments.cost_scaling import _model_specs

    specs = _model_specs({"gpt": "gpt", "plain": {"kind": "gpt", "attention": "plain", "d_model": 8},
                          "lstm": ModelSpec("lstm", n_layer=3)}, vocab_size=11, d_model=16, n_layer=1)
    assert specs["gpt"] == ModelSpec("gpt", vocab_size=11, d_model=16, n_layer=1)
    assert specs["plain"]["d_model"] == 8 and specs["plain"]["attention"] == "plain"   # a label's own value wins
    assert specs["lstm"]["n_layer"] == 3 and specs["lstm"]["vocab_size"] == 11
    with pytest.raises(ValueError, match="kind must be one of"):
        _model_specs({"x": {"kind": "mamba"}})
    with pytest.raises(TypeError, match="string"):
        _model_specs("gpt")
