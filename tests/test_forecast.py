"""Tests for rvt_lib.forecast: windows, leakage-free normalisation, baselines, metrics, models."""
import numpy as np
import pandas as pd
import pytest
import torch

from rvt_lib import forecast as fc


def random_walks(n_series=30, n_days=60, seed=0):
    """Positive price-like series (series, days) with very different price levels."""
    rng = np.random.default_rng(seed)
    level = np.exp(rng.uniform(2, 8, size=(n_series, 1)))  # from ~7 to ~3000
    steps = rng.normal(0, 0.02, size=(n_series, n_days))
    return level * np.exp(np.cumsum(steps, axis=1))


def price_frame(n_series=30, n_days=60, seed=0):
    p = random_walks(n_series, n_days, seed)
    dates = pd.bdate_range("2022-08-01", periods=n_days, name="Date")
    return pd.DataFrame(p.T, index=dates, columns=[f"T{i:02d}" for i in range(n_series)])


# ----------------------------------------------------------------------------- splits and windows

def test_split_tickers_is_fixed_disjoint_and_sized():
    names = [f"S{i}" for i in range(50)]
    train, test = fc.split_tickers(names, test_frac=0.2, seed=3)
    assert len(test) == 10 and len(train) == 40
    assert set(train).isdisjoint(test) and set(train) | set(test) == set(names)
    assert train == sorted(train) and test == sorted(test)
    assert fc.split_tickers(names, 0.2, seed=3) == (train, test)
    assert fc.split_tickers(names, 0.2, seed=4) != (train, test)
    with pytest.raises(ValueError, match="test_frac"):
        fc.split_tickers(names, test_frac=1.0)
    with pytest.raises(ValueError, match="unique"):
        fc.split_tickers(["A", "A", "B"])


def test_windows_cut_at_the_origin():
    p = np.arange(20.0).reshape(2, 10)  # series 0: 0..9, series 1: 10..19
    X, Y = fc.windows(p, cuts=[4, 7], context=3, horizon=2)
    assert X.shape == (4, 3) and Y.shape == (4, 2)
    np.testing.assert_array_equal(X[0], [1, 2, 3])    # series 0, origin 4
    np.testing.assert_array_equal(Y[0], [4, 5])
    np.testing.assert_array_equal(X[1], [11, 12, 13])  # series 1, origin 4
    np.testing.assert_array_equal(Y[3], [17, 18])      # series 1, origin 7
    with pytest.raises(ValueError, match="origin 9"):
        fc.windows(p, cuts=[9], context=3, horizon=2)
    with pytest.raises(ValueError, match="origin 2"):
        fc.windows(p, cuts=[2], context=3, horizon=1)
    with pytest.raises(ValueError, match=r"\(series, days\)"):
        fc.windows(np.arange(10.0), cuts=[4], context=3, horizon=1)
    with pytest.raises(TypeError, match="numeric"):
        fc.windows(np.array([["a", "b"]]), cuts=[1], context=1, horizon=1)


# ----------------------------------------------------------------------------- normalisation

def test_history_stats_use_only_days_before_the_origin():
    p = random_walks(5, 40)
    mean, std = fc.history_stats(p, cuts=[25])
    np.testing.assert_allclose(mean, p[:, :25].mean(axis=1))
    np.testing.assert_allclose(std, p[:, :25].std(axis=1))
    const = np.full((1, 10), 7.0)
    m, s = fc.history_stats(const, cuts=[5])
    assert m[0] == 7.0 and s[0] == 1.0  # nothing to scale by: divide by 1


def test_normalisation_has_no_lookahead_leakage():
    """Changing the test window (days on and after the origin) changes nothing the model
    sees: not the normalised inputs, not the statistics, train or test."""
    df = price_frame(30, 60, seed=1)
    kw = dict(context=30, horizon=10, train_cuts=[40], test_cuts=[50])
    a = fc.make_task(df, **kw)
    tampered = df.copy()
    tampered.iloc[50:] = tampered.iloc[50:] * 10.0 + 123.0  # a wildly different future
    b = fc.make_task(tampered, **kw)

    xa_tr, ya_tr, xa_te, ya_te = a.normalised()
    xb_tr, yb_tr, xb_te, yb_te = b.normalised()
    np.testing.assert_array_equal(xa_te, xb_te)
    np.testing.assert_array_equal(a.mean_test, b.mean_test)
    np.testing.assert_array_equal(a.std_test, b.std_test)
    np.testing.assert_array_equal(xa_tr, xb_tr)
    np.testing.assert_array_equal(a.mean_train, b.mean_train)
    np.testing.assert_array_equal(a.std_train, b.std_train)
    # the training targets end at day 49, so they are untouched too ...
    np.testing.assert_array_equal(ya_tr, yb_tr)
    # ... while the test targets did change: the tampering was real
    assert not np.allclose(ya_te, yb_te)


def test_zscore_round_trip_and_checks():
    p = random_walks(4, 12)
    mean, std = fc.history_stats(p, cuts=[12])
    z = fc.zscore(p, mean, std)
    np.testing.assert_allclose(z.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=1), 1, atol=1e-12)
    np.testing.assert_allclose(fc.unzscore(z, mean, std), p)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        fc.zscore(p, mean[:3], std)
    with pytest.raises(ValueError, match="> 0"):
        fc.zscore(p, mean, np.zeros(4))


def test_make_task_rows_and_lookahead():
    df = price_frame(20, 60)
    seedlike = fc.make_task(df, context=40, horizon=10, train_cuts=[50], test_cuts=[50])
    assert seedlike.x_train.shape == (16, 40) and seedlike.y_test.shape == (4, 10)
    assert set(seedlike.tickers_train).isdisjoint(seedlike.tickers_test)
    assert seedlike.lookahead_days == 10   # training targets ARE the test days
    honest = fc.make_task(df, context=40, horizon=10, train_cuts=[40], test_cuts=[50])
    assert honest.lookahead_days == 0
    # the row for ticker t at origin c really holds that ticker's prices
    t, c = honest.tickers_test[2], honest.cut_test[2]
    np.testing.assert_array_equal(honest.x_test[2], df[t].to_numpy()[c - 40:c])
    bad = df.copy()
    bad.iloc[0, 3] = np.nan
    with pytest.raises(ValueError, match="missing"):
        fc.make_task(bad, context=40, horizon=10, train_cuts=[50], test_cuts=[50])


# ----------------------------------------------------------------------------- baselines

def test_persistence_is_exact_on_a_constant_series():
    x = np.full((3, 8), 42.5)
    y = np.full((3, 5), 42.5)
    np.testing.assert_array_equal(fc.persistence(x, 5), y)
    assert fc.rmse(fc.persistence(x, 5), y) == 0.0


def test_drift_is_exact_on_a_linear_trend():
    t = np.arange(30.0)
    series = np.stack([3.0 + 0.5 * t, 100.0 - 2.0 * t, np.full(30, 9.0)])  # (3, 30)
    x, y = series[:, :20], series[:, 20:]
    np.testing.assert_allclose(fc.drift(x, 10), y, atol=1e-12)
    assert fc.rmse(fc.persistence(x, 10), y) > 1.0  # persistence is not exact here
    with pytest.raises(ValueError, match="at least 2"):
        fc.drift(x[:, :1], 3)


def test_linear_ar_recovers_known_coefficients():
    """An AR(2) process y_t = 0.5 + 0.6 y_{t-1} - 0.3 y_{t-2} + noise."""
    rng = np.random.default_rng(0)
    n = 20_000
    y = np.zeros(n)
    for t in range(2, n):
        y[t] = 0.5 + 0.6 * y[t - 1] - 0.3 * y[t - 2] + rng.normal(0, 0.1)
    X, Y = fc.windows(y[None, :], cuts=range(2, n), context=2, horizon=1)
    ar = fc.LinearAR(p=2).fit(X, Y)
    np.testing.assert_allclose(ar.coef_[:, 0], [0.6, -0.3], atol=0.02)  # a_1 (last value), a_2
    np.testing.assert_allclose(ar.intercept_, [0.5], atol=0.02)


def test_linear_ar_direct_multi_output_is_exact_without_noise():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 6))
    A = rng.normal(size=(3, 4))  # weights of the last 3 values for 4 horizon steps
    c = rng.normal(size=4)
    y = x[:, ::-1][:, :3] @ A + c
    ar = fc.LinearAR(p=3).fit(x, y)
    np.testing.assert_allclose(ar.coef_, A, atol=1e-10)
    np.testing.assert_allclose(ar.predict(x), y, atol=1e-10)
    with pytest.raises(ValueError, match="fit first"):
        fc.LinearAR(2).predict(x)
    with pytest.raises(ValueError, match="at least 7"):
        fc.LinearAR(p=7).fit(x, y)


# ----------------------------------------------------------------------------- metrics

def test_rmse_and_normalised_rmse():
    pred = np.array([[1.0, 2.0], [10.0, 20.0]])
    target = np.array([[0.0, 0.0], [0.0, 0.0]])
    assert fc.rmse(pred, target) == pytest.approx(np.sqrt((1 + 4 + 100 + 400) / 4))
    # dividing the second row's errors by 10 makes both rows alike
    assert fc.normalised_rmse(pred, target, std=[1.0, 10.0]) == pytest.approx(np.sqrt(2.5))
    with pytest.raises(ValueError, match="same shape"):
        fc.rmse(pred, target[:1])


def test_relative_rmse_is_scale_free_and_one_for_the_baseline():
    p = random_walks(10, 40, seed=2)
    x, y = p[:, :30], p[:, 30:]
    base = fc.persistence(x, 10)
    std = x.std(axis=1)
    assert fc.relative_rmse(base, base, y, std) == pytest.approx(1.0)
    d = fc.drift(x, 10)
    r = fc.relative_rmse(d, base, y, std)
    k = np.linspace(0.1, 50, 10)[:, None]  # rescale every series by its own factor
    assert fc.relative_rmse(d * k, base * k, y * k, std * k[:, 0]) == pytest.approx(r)


def test_error_share_finds_the_expensive_series():
    pred = np.zeros((4, 3))
    target = np.array([[1.0] * 3, [1.0] * 3, [100.0] * 3, [2.0] * 3])
    share = fc.error_share(pred, target, ["a", "b", "big", "c"])
    assert share.index[0] == "big"
    assert share["share"].sum() == pytest.approx(1.0)
    assert share.loc["big", "share"] > 0.99
    assert share.loc["big", "rmse"] == pytest.approx(100.0)
    assert share["cumulative share"].iloc[-1] == pytest.approx(1.0)


def test_per_series_rmse_groups_windows():
    pred = np.array([[1.0], [3.0], [2.0]])
    target = np.zeros((3, 1))
    out = fc.per_series_rmse(pred, target, ["a", "a", "b"])
    assert out["a"] == pytest.approx(np.sqrt(5.0)) and out["b"] == pytest.approx(2.0)


def test_bootstrap_relative_rmse():
    p = random_walks(20, 40, seed=3)
    x, y = p[:, :30], p[:, 30:]
    base, d = fc.persistence(x, 10), fc.drift(x, 10)
    std = x.std(axis=1)
    names = np.arange(20)
    same = fc.bootstrap_relative_rmse(base, base, y, std, names, n_boot=50)
    np.testing.assert_allclose(same, 1.0)
    boots = fc.bootstrap_relative_rmse(d, base, y, std, names, n_boot=500, seed=1)
    assert boots.shape == (500,) and boots.std() > 0
    point = fc.relative_rmse(d, base, y, std)
    assert np.quantile(boots, 0.01) < point < np.quantile(boots, 0.99)


def test_compare_to_baseline_verdicts():
    rng = np.random.default_rng(6)
    p = random_walks(40, 40, seed=6)
    x, y = p[:, :30], p[:, 30:]
    base = fc.persistence(x, 10)
    std = x.std(axis=1)
    names = np.arange(40)
    good = [y + 0.1 * (base - y) + rng.normal(0, 1e-3, y.shape) * std[:, None] for _ in range(3)]
    bad = [base + 2.0 * (base - y) for _ in range(3)]
    same = [base, base]
    assert fc.compare_to_baseline(good, base, y, std, names, n_boot=200)["verdict"] == "better"
    out = fc.compare_to_baseline(bad, base, y, std, names, n_boot=200)
    assert out["verdict"] == "worse" and out["mean"] == pytest.approx(3.0)
    out = fc.compare_to_baseline(same, base, y, std, names, n_boot=200)
    assert out["verdict"] == "no clear difference" and out["std"] == 0.0
    with pytest.raises(ValueError, match="empty"):
        fc.compare_to_baseline([], base, y, std, names)


def test_path_similarity():
    rng = np.random.default_rng(8)
    shared = np.cumsum(rng.normal(size=20))
    same = shared[None, :] * rng.uniform(0.5, 2, size=(10, 1)) + rng.uniform(0, 50, size=(10, 1))
    assert fc.path_similarity(same) == pytest.approx(1.0)
    unrelated = np.cumsum(rng.normal(size=(300, 20)), axis=1)
    assert abs(fc.path_similarity(unrelated)) < 0.02
    with pytest.raises(ValueError, match="horizon of 3"):
        fc.path_similarity(np.zeros((5, 2)))


# ----------------------------------------------------------------------------- the seed's models

def test_keras_parameter_counts_match_the_seed_table():
    assert fc.keras_parameter_counts() == {"RNN": 16750, "LSTM": 54190, "Transformer": 2019}
    assert fc.keras_parameter_counts(n_out=1) == {"RNN": 15781, "LSTM": 53221, "Transformer": 1050}


@pytest.mark.parametrize("name", list(fc.SEED_MODELS))
def test_forecasters_map_windows_to_horizons(name):
    torch.manual_seed(0)
    model = fc.make_forecaster(name, context=12, horizon=4, d_model=8)
    out = model(torch.randn(3, 12, 1))
    assert out.shape == (3, 4)
    with pytest.raises(ValueError, match=r"\(batch, time, 1\)"):
        model(torch.randn(3, 12, 2))


def test_seed_transformer_is_attention_only():
    model = fc.make_forecaster("Transformer", context=20, horizon=5)
    assert len(model.core.blocks) == 1 and model.core.blocks[0].mlp is None
    assert not model.core.config.causal and model.pool == "mean"
    with pytest.raises(ValueError, match="unknown model"):
        fc.make_forecaster("GRU-ish", context=20, horizon=5)


def test_forecasters_are_specs_built_with_a_seed():
    spec = fc.forecaster_spec("LSTM", context=12, horizon=4, d_model=8)
    assert spec.head == "regress" and spec["n_out"] == 4 and spec["head_hidden"] == fc.HEAD_HIDDEN
    assert fc.forecaster_spec("Transformer", 12, 4)["block_size"] == 12
    a, b = fc.make_forecaster("LSTM", 12, 4, d_model=8, seed=3), spec.build(3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert spec.n_params() == sum(p.numel() for p in a.parameters())


def test_fit_forecaster_uses_the_config():
    x, y = np.random.default_rng(0).normal(size=(20, 6)), np.zeros((20, 2))
    model = fc.make_forecaster("RNN", 6, 2, d_model=4)
    hist = fc.fit_forecaster(model, x, y, fc.SEED_TRAIN.but(epochs=2, batch_size=5, lr=1e-2), seed=0)
    assert hist.steps_done == 8 and hist.epochs_done == 2 and hist.lr == [1e-2] * 8
    with pytest.raises(ValueError, match="expected x"):
        fc.fit_forecaster(model, x[:, :, None], y)


def test_run_models_is_deterministic_and_scores_forecasts():
    df = price_frame(12, 30, seed=4)
    task = fc.make_task(df, context=10, horizon=3, train_cuts=[20], test_cuts=[27])
    kw = dict(names=["RNN", "Transformer"], seeds=[0], epochs=2, batch_size=4, d_model=8)
    runs, preds = fc.run_models(task, **kw)
    runs2, preds2 = fc.run_models(task, **kw)
    assert list(runs["model"]) == ["RNN", "Transformer"]
    for col in ("train_time_s", "peak_train_mem_MB", "params", "param_KB", "seed",
                "rmse", "rmse_norm", "rel_persistence"):
        assert col in runs.columns
    assert preds[("RNN", 0)].shape == task.y_test.shape
    assert np.isfinite(runs["rmse"]).all()
    np.testing.assert_allclose(preds[("RNN", 0)], preds2[("RNN", 0)])
    # the scores are those of the returned raw-price forecasts
    row = runs.iloc[0]
    assert row["rmse"] == pytest.approx(fc.rmse(preds[("RNN", 0)], task.y_test))


def test_baselines_face_the_same_windows():
    df = price_frame(25, 60, seed=5)
    task = fc.make_task(df, context=30, horizon=10, train_cuts=[40], test_cuts=[50])
    out = fc.baseline_forecasts(task, p=3)
    assert set(out) == {"persistence", "drift", "linear AR(3)"}
    for pred in out.values():
        assert pred.shape == task.y_test.shape
    assert fc.scores(out["persistence"], task)["rel_persistence"] == pytest.approx(1.0)


def test_mean_std_formats_per_model():
    df = pd.DataFrame({"model": ["a", "a", "b"], "x": [1.0, 3.0, 2.5], "params": [21166, 21166, 7]})
    out = fc.mean_std(df, ["x", "params"])
    assert out.loc["a", "x"] == "2 ± 1.41" and out.loc["b", "x"] == "2.5"
    assert out.loc["a", "params"] == "21,166" and out.loc["b", "params"] == "7"
    with pytest.raises(ValueError, match="no columns"):
        fc.mean_std(df, ["y"])


def test_plot_window_draws_every_forecast():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = price_frame(10, 40, seed=7)
    task = fc.make_task(df, context=20, horizon=5, train_cuts=[30], test_cuts=[35])
    ax = fc.plot_window(task, 0, fc.baseline_forecasts(task, p=2), history=10)
    labels = [line.get_label() for line in ax.get_lines()]
    assert {"actual", "persistence", "drift", "linear AR(2)"} <= set(labels)
    assert ax.get_ylabel() == "adjusted close (USD)"
    with pytest.raises(ValueError, match="row"):
        fc.plot_window(task, 99, {})
    plt.close("all")
