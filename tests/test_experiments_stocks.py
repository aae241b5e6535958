"""Tests for rvt_lib.experiments.stocks: windows, leakage-free normalisation, baselines, metrics, the rebuilt seed models and the rolling-origin protocol."""
import numpy as np
import pandas as pd
import pytest
import torch

from rvt_lib.experiments import stocks as fc


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


def test_keras_parameter_counts_match_the_seed_table():
    assert fc.keras_parameter_counts() == {"RNN": 16750, "LSTM": 54190, "Transformer": 2019}
    assert fc.keras_parameter_counts(n_out=1) == {"RNN": 15781, "LSTM": 53221, "Transformer": 1050}


@pytest.mark.parametrize("name", list(fc.SEED_MODELS))
def test_forecasters_map_windows_to_horizons(name):
    torch.manual_seed(0)
    model = fc.make_forecaster(name, context=12, horizon=4)
    assert model(torch.randn(3, 12, 1)).shape == (3, 4)


def test_the_rebuilt_keras_transformers_have_the_seed_counts():
    assert fc.SEED_MODELS["Transformer"].n_params() == 2019
    assert fc.SEED_MODELS["Transformer (complicated)"].n_params() == 16248
    assert fc.forecaster_spec("Transformer", 5, 1).n_params() == 1050  # the one-day table
    with pytest.raises(ValueError, match="unknown model"):
        fc.forecaster_spec("GRU-ish", context=20, horizon=5)


@pytest.mark.parametrize("name", ["Transformer", "Transformer (complicated)"])
def test_the_keras_transformer_sees_only_the_window_mean(name):
    """The prediction of the chapter: LayerNorm over one feature erases the input, so the
    forecast depends on the window only through its mean; a model with a second feature
    (or a recurrent one) does not have that property."""
    x = np.random.default_rng(0).uniform(10, 500, size=(16, 30))
    model = fc.make_forecaster(name, 30, 5, seed=1)
    with torch.no_grad():  # give the LayerNorms non-trivial affine parameters
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.uniform_(0.5, 2.0)
                m.bias.uniform_(-1.0, 1.0)
    out = model(torch.as_tensor(x, dtype=torch.float32)[:, :, None])
    assert fc.mean_only_gap(model, x) < 1e-4 * float(out.detach().abs().max())
    wider = fc.KerasTransformer(horizon=5, features=2)
    x2 = torch.randn(4, 30, 2)
    flat = x2.mean(1, keepdim=True).expand_as(x2)
    assert (wider(x2) - wider(flat)).abs().max() > 1e-3
    assert fc.mean_only_gap(fc.make_forecaster("RNN", 30, 5), x[:, :] / 100) > 1e-4


def test_forecasters_are_specs_built_with_a_seed():
    spec = fc.forecaster_spec("LSTM", context=12, horizon=4, d_model=8)
    assert spec.head == "regress" and spec["n_out"] == 4 and spec["head_hidden"] == fc.HEAD_HIDDEN
    a, b = fc.make_forecaster("LSTM", 12, 4, d_model=8, seed=3), spec.build(3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert spec.n_params() == sum(p.numel() for p in a.parameters())
    t = fc.forecaster_spec("Transformer", 12, 4)
    assert isinstance(t, fc.LocalSpec) and t.kwargs["horizon"] == 4
    assert all(torch.equal(p, q) for p, q in zip(t.build(2).parameters(), t.build(2).parameters()))


def test_nlinear_and_dlinear():
    x = torch.randn(5, 12, 1)
    nl = fc.LocalSpec("nlinear", context=12, horizon=3).build(0)
    shifted = nl(x + 7.0) - 7.0  # NLinear is equivariant to a level shift
    torch.testing.assert_close(shifted, nl(x))
    dl = fc.LocalSpec("dlinear", context=12, horizon=3, kernel=5).build(0)
    assert dl(x).shape == (5, 3)
    with torch.no_grad():  # a constant window is all trend: the remainder branch sees zeros
        dl.trend.weight.zero_()
        dl.trend.bias.zero_()
        assert torch.allclose(dl(torch.full((2, 12, 1), 3.0)), dl.rest.bias.expand(2, 3))
    with pytest.raises(ValueError, match="odd"):
        fc.DLinear(12, 3, kernel=4)
    with pytest.raises(ValueError, match="unknown kind"):
        fc.LocalSpec("prophet")


def test_seed_study_runs_on_the_runner_and_scores_forecasts():
    df = price_frame(15, 30, seed=4)
    task = fc.make_task(df, context=10, horizon=3, train_cuts=[20], test_cuts=[27])
    train = fc.SEED_TRAIN.but(epochs=2, batch_size=4)
    result, runs, preds = fc.seed_study(task, ["RNN", "Transformer"], [0, 1], normalise=True, train=train)
    _, runs2, preds2 = fc.seed_study(task, ["RNN", "Transformer"], [0, 1], normalise=True, train=train)
    assert list(runs["model"]) == ["RNN", "RNN", "Transformer", "Transformer"]
    for col in ("train_seconds", "peak_MB", "params", "param_KB", "rmse", "rmse_norm", "rel_persistence"):
        assert col in runs.columns
    assert set(result.chosen.values()) == {train.lr}  # a reproduction: the seed's learning rate
    np.testing.assert_allclose(preds[("RNN", 1)], preds2[("RNN", 1)])
    assert preds[("RNN", 0)].shape == task.y_test.shape
    assert runs.iloc[0]["rmse"] == pytest.approx(fc.rmse(preds[("RNN", 0)], task.y_test))
    with pytest.raises(ValueError, match="val_frac"):
        fc.seed_study(task, ["RNN"], [0], val_frac=1.0)


# ----------------------------------------------------------------------------- rolling origins

def test_rolling_folds_never_let_a_target_reach_the_next_split():
    folds = fc.rolling_folds(120, context=10, horizon=5, n_folds=3, test_origins=8, val_origins=6)
    assert [len(f.test) for f in folds] == [8, 8, 8]
    assert folds[-1].test[-1] == 120 - 1 - 5  # the last origin with a full target
    for a, b in zip(folds, folds[1:]):
        assert b.test[0] == a.test[-1] + 1  # the test blocks tile the end of the table
    for f in folds:
        assert f.train[0] == 9 and f.train[-1] + 5 <= f.val[0]  # training targets end before validation's
        assert f.val[-1] + 5 <= f.test[0]  # validation targets end by the first test origin
        assert len(f.val) == 6
    with pytest.raises(ValueError, match="too short"):
        fc.rolling_folds(40, context=10, horizon=5, n_folds=3, test_origins=8, val_origins=6)
    with pytest.raises(ValueError, match="positive int"):
        fc.rolling_folds(120, context=0, horizon=5, n_folds=3, test_origins=8, val_origins=6)


def test_log_windows_are_offsets_from_the_last_day():
    p = random_walks(4, 40, seed=2)
    logp = np.log(p)
    w = fc.log_windows(logp, [15, 20], context=6, horizon=3)
    assert w.x.shape == (8, 6) and w.y.shape == (8, 3)
    assert list(w.origin) == [15] * 4 + [20] * 4 and list(w.series) == [0, 1, 2, 3] * 2
    np.testing.assert_allclose(w.x[:, -1], 0.0)
    np.testing.assert_allclose(w.y[5], logp[1, 21:24] - logp[1, 20])
    np.testing.assert_allclose(w.sigma[5], np.diff(logp[1, 15:21]).std())
    # scale-free: multiplying a stock's prices changes nothing
    w2 = fc.log_windows(logp + np.log(1000.0), [15, 20], context=6, horizon=3)
    np.testing.assert_allclose(w2.x, w.x, atol=1e-12)
    # inputs and scale use nothing after the origin
    later = logp.copy()
    later[:, 21:] += 5.0
    w3 = fc.log_windows(later, [15, 20], context=6, horizon=3)
    np.testing.assert_allclose(w3.x, w.x)
    np.testing.assert_allclose(w3.sigma, w.sigma)
    with pytest.raises(ValueError, match="origins must lie"):
        fc.log_windows(logp, [3], context=6, horizon=3)


def test_ar_baseline_recovers_an_ar1_and_order_is_chosen_on_validation():
    rng = np.random.default_rng(0)
    r = np.zeros((20, 400))
    for t in range(1, 400):  # AR(1) returns with phi = 0.5
        r[:, t] = 0.5 * r[:, t - 1] + rng.normal(0, 0.01, 20)
    logp = np.cumsum(r, axis=1)
    train, val = (fc.log_windows(logp, np.arange(a, b), context=10, horizon=1) for a, b in ((9, 300), (300, 398)))
    p, coef, losses = fc.choose_ar(train, val, [1, 2, 5])
    assert set(losses) == {1, 2, 5}
    assert coef.shape == (p + 1, 1)
    pers = (((0 - val.y) / val.sigma[:, None]) ** 2).mean()
    assert losses[1] < 0.85 * pers  # the AR beats persistence on AR(1) returns
    assert abs(fc.fit_ar(train, 1)[0, 0] - 0.5) < 0.05
    np.testing.assert_allclose(fc.drift_offsets(val, 1)[:, 0], -val.x[:, 0] / 9)


def test_run_rolling_protocol_metrics_and_verdicts():
    df = price_frame(12, 90, seed=6)
    specs = {"LSTM": fc.ModelSpec("lstm", "regress", input_size=1, n_out=3, d_model=4, n_layer=1),
             "NLinear": fc.LocalSpec("nlinear", context=8, horizon=3)}
    cfg = fc.TrainConfig(steps=3, batch_size=16, eval_every=3)
    res = fc.run_rolling(df, specs, cfg, seeds=(0, 1), lr_grid=(1e-3, 3e-3), context=8, horizon=3, n_folds=2,
                         test_origins=10, val_origins=6)
    assert set(res.runs["model"]) == {"LSTM", "NLinear"} and len(res.runs) == 4
    assert all(len(v) == 2 for v in res.runs["lrs"])  # one chosen learning rate per fold
    assert set(res.tuning["fold"]) == {0, 1}
    pers = res.baselines.set_index("model").loc["persistence"]
    assert pers["r2_rw"] == pytest.approx(0.0)  # persistence is the random walk
    assert len(res.origins) == 20 and res.pooled_daily("persistence").shape == (20,)
    assert res.pooled_daily("LSTM").shape == (20,)
    # RMSSE pools the squared scaled errors, which the daily losses average: they agree
    assert pers["rmsse"] ** 2 == pytest.approx(res.pooled_daily("persistence").mean())
    table = fc.versus(res, ["LSTM", "NLinear", "AR(p)"])
    assert list(table.index) == ["LSTM", "NLinear", "AR(p)"]
    assert (table["p_holm"] >= table["p"] - 1e-12).all()
    assert set(table["verdict"]) <= {"a_better", "b_better", "no_clear_difference"}
    assert table.loc["LSTM", "text"].endswith("test days)")
    with pytest.raises(ValueError, match="no forecaster"):
        res.pooled_daily("GPT")
    ch = res.choices()  # two rates: every choice sits at an end
    assert len(ch) == 4 and ch["at_edge"].all() and set(map(tuple, ch["tried"])) == {(1e-3, 3e-3)}
    grown = fc.run_rolling(df, specs, cfg, seeds=(0, 1), lr_grid=(1e-3, 3e-3), context=8, horizon=3,
                           n_folds=2, test_origins=10, val_origins=6, extend=1)
    ch = grown.choices()  # one rate added past the chosen end, per fold and network
    assert all(len(t) == 3 for t in ch["tried"]) and grown.tuning["extended"].sum() == 4
    assert list(ch["at_edge"]) == [lr in (t[0], t[-1]) for lr, t in zip(ch["lr"], ch["tried"])]
    assert list(ch["end"]) == [("low" if lr == t[0] else "high") if lr in (t[0], t[-1]) else ""
                               for lr, t in zip(ch["lr"], ch["tried"])]
    bad = df.copy()
    bad.iloc[3, 2] = np.nan
    with pytest.raises(ValueError, match="clean_prices"):
        fc.run_rolling(bad, specs, cfg, seeds=(0,), lr_grid=(1e-3,), context=8, horizon=3, n_folds=1,
                       test_origins=10, val_origins=6)


def test_rolling_specs_are_matched_in_one_block_structure():
    specs = fc.rolling_specs(40, 5, 8000)
    counts = {n: s.n_params() for n, s in specs.items() if n not in ("NLinear", "DLinear")}
    assert set(counts) == {"RNN", "LSTM", "minGRU", "GPT"}
    assert all(abs(c / 8000 - 1) <= 0.08 for c in counts.values())
    assert all(specs[n]["block"] == "residual" for n in counts)
    x = torch.randn(2, 40, 1)
    for s in specs.values():
        assert s.build(0)(x).shape == (2, 5)


def test_baselines_face_the_same_windows():
    df = price_frame(25, 60, seed=5)
    task = fc.make_task(df, context=30, horizon=10, train_cuts=[40], test_cuts=[50])
    out = fc.baseline_forecasts(task, p=3)
    assert set(out) == {"persistence", "drift", "linear AR(3)"}
    for pred in out.values():
        assert pred.shape == task.y_test.shape
    assert fc.scores(out["persistence"], task)["rel_persistence"] == pytest.approx(1.0)


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
