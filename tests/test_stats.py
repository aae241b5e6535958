"""Tests for rvt_lib.stats: each statistic against scipy where scipy has it, the others by
simulation (size and power of the tests, coverage of the intervals) or by hand."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from rvt_lib import stats as S
from rvt_lib.stats import PairedTest


def _rng(seed=0):
    return np.random.default_rng(seed)


def _ar1(rng, n, phi):
    """A stationary AR(1) series x_t = phi x_{t-1} + e_t with unit innovations."""
    e = rng.normal(size=n)
    x = np.empty(n)
    x[0] = e[0] / math.sqrt(1 - phi**2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


def _ma1(rng, n, theta=0.8):
    """Errors of a 2-step-ahead forecast: an MA(1), correlated at lag 1 only."""
    u = rng.normal(size=n + 1)
    return u[1:] + theta * u[:-1]


# ----------------------------------------------------------------------------- intervals

@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_mean_ci_is_scipys_t_interval(level):
    x = _rng(1).normal(3.0, 2.0, size=17)
    est, lo, hi = S.mean_ci(x, level)
    ci = st.ttest_1samp(x, 0.0).confidence_interval(level)
    assert est == pytest.approx(x.mean())
    assert (lo, hi) == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_mean_ci_cut_to_bounds_only_where_it_reaches_past_them():
    low_acc = [0.0, 0.0, 0.0, 0.02, 0.08]           # five seeds near chance 0
    est, lo, hi = S.mean_ci(low_acc)
    assert lo < 0                                    # the t interval reaches below 0
    assert S.mean_ci(low_acc, bounds=(0, 1)) == (est, 0.0, hi)
    mid = [0.4, 0.5, 0.6]
    assert S.mean_ci(mid, bounds=(0, 1)) == S.mean_ci(mid)   # inside: unchanged
    with pytest.raises(ValueError, match="must lie in"):
        S.mean_ci([0.5, 1.2], bounds=(0, 1))
    with pytest.raises(ValueError, match="low < high"):
        S.mean_ci(mid, bounds=(1, 0))


def test_mean_std_is_summarizes_text():
    assert S.mean_std([0.8, 0.9]) == "0.850 ± 0.071"
    assert S.mean_std([0.8]) == "0.800" and S.mean_std([2.0, 2.0], ".1f") == "2.0"
    df = pd.DataFrame({"model": ["a", "a", "a"], "acc": [0.1, 0.25, 0.4]})
    assert S.summarize(df, "acc").loc["a", "mean ± std"] == S.mean_std(df["acc"])
    with pytest.raises(ValueError, match="NaN"):
        S.mean_std([0.1, float("nan")])


def test_summarize_bounds_cut_the_interval_and_reject_values_outside():
    df = pd.DataFrame({"model": ["a"] * 5 + ["b"] * 3,
                       "acc": [0.0, 0.0, 0.0, 0.02, 0.08, 0.4, 0.5, 0.6]})
    free, cut = S.summarize(df, "acc"), S.summarize(df, "acc", bounds=(0, 1))
    assert free.loc["a", "ci_low"] < 0 and cut.loc["a", "ci_low"] == 0.0
    assert cut.loc["a", "ci_high"] == free.loc["a", "ci_high"]
    pd.testing.assert_series_equal(cut.loc["b"], free.loc["b"])
    with pytest.raises(ValueError, match="column 'acc' must lie in"):
        S.summarize(df.assign(acc=df.acc * 3), "acc", bounds=(0, 1))


@pytest.mark.parametrize("k,n,level", [(0, 10, 0.95), (3, 10, 0.95), (10, 10, 0.9), (412, 500, 0.99), (1, 1, 0.95)])
def test_wilson_interval_is_scipys(k, n, level):
    est, lo, hi = S.wilson_interval(k, n, level)
    ci = st.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    assert est == k / n
    assert (lo, hi) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_bootstrap_ci_agrees_with_the_t_interval_on_normal_data():
    x = _rng(2).normal(size=400)
    _, t_lo, t_hi = S.mean_ci(x)
    for method in ("percentile", "BCa"):
        est, lo, hi = S.bootstrap_ci(x, n_boot=2000, method=method)
        assert est == pytest.approx(x.mean())
        assert lo < est < hi
        assert (hi - lo) == pytest.approx(t_hi - t_lo, rel=0.15)
    # another statistic, and the seed makes it reproducible
    assert S.bootstrap_ci(x, np.median, seed=3) == S.bootstrap_ci(x, np.median, seed=3)


# ----------------------------------------------------------------------------- summarize

def _runs():
    return pd.DataFrame({"model": ["gru", "gru", "gru", "gpt", "gpt"],
                         "loss": [1.0, 1.3, 1.1, 2.0, 2.4],
                         "params": [1200, 1200, 1200, 15000, 15000],
                         "seed": [0, 1, 2, 0, 1]})


def test_summarize_matches_numpy():
    df = _runs()
    out = S.summarize(df, "loss")
    assert list(out.index) == ["gru", "gpt"]  # first-appearance order
    for model, x in [("gru", np.array([1.0, 1.3, 1.1])), ("gpt", np.array([2.0, 2.4]))]:
        row = out.loc[model]
        n, m, s = x.size, x.mean(), x.std(ddof=1)
        half = st.t.ppf(0.975, n - 1) * s / math.sqrt(n)
        assert row["n"] == n
        assert (row["mean"], row["std"], row["sem"]) == pytest.approx((m, s, s / math.sqrt(n)))
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((m - half, m + half))
        assert row["mean ± std"] == f"{m:.3f} ± {s:.3f}"


def test_summarize_several_values_text_and_constants():
    out = S.summarize(_runs(), ["loss", "params"], text=True, fmt=".2f")
    assert list(out.columns) == ["n", "loss", "params"]
    assert out.loc["gpt", "params"] == "15,000"  # a constant count, shown once
    assert out.loc["gpt", "loss"] == "2.20 ± 0.28"
    wide = S.summarize(_runs(), ["loss", "params"])
    assert wide.loc["gru", "loss_mean"] == pytest.approx(3.4 / 3) and wide.loc["gru", "loss_n"] == 3
    assert wide.loc["gru", "params_std"] == 0


def test_summarize_single_run_and_nan_policy():
    df = pd.DataFrame({"model": ["a", "b", "b", "c"], "acc": [0.5, 0.7, np.nan, np.nan]})
    with pytest.raises(ValueError, match="NaN"):
        S.summarize(df, "acc")
    out = S.summarize(df, "acc", nan="omit")
    assert out.loc["a", "n"] == 1 and np.isnan(out.loc["a", "std"]) and np.isnan(out.loc["a", "ci_low"])
    assert out.loc["a", "mean ± std"] == "0.500"
    assert out.loc["b", "n"] == 1 and out.loc["b", "mean"] == 0.7
    assert out.loc["c", "mean ± std"] == "n/a"


@pytest.mark.parametrize("kwargs,match", [
    (dict(df=pd.DataFrame({"model": [], "loss": []}), value="loss"), "nothing"),
    (dict(df=_runs(), value="accuracy"), "no columns"),
    (dict(df=_runs(), value="loss", level=95), "level"),
    (dict(df=_runs(), value="loss", nan="drop"), "nan"),
])
def test_summarize_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S.summarize(**kwargs)


# ----------------------------------------------------------------------------- paired tests

def test_paired_bootstrap_finds_a_real_difference_and_not_a_fake_one():
    rng = _rng(4)
    hard = rng.gamma(2.0, 1.0, size=1000)  # item difficulty, shared by both models
    a = hard + rng.normal(0, 0.2, 1000)
    b = hard + 0.05 + rng.normal(0, 0.2, 1000)
    t = S.paired_bootstrap(a, b, lower_is_better=True)
    assert t.estimate == pytest.approx(np.mean(a - b))
    assert t.ci_high < 0 and t.p_value < 0.01 and t.n == 1000
    # the interval is close to the paired t interval (the CLT holds at n = 1000)
    ci = st.ttest_rel(a, b).confidence_interval()
    assert (t.ci_high - t.ci_low) == pytest.approx(ci.high - ci.low, rel=0.15)
    # same items, same noise: no difference
    null = S.paired_bootstrap(a, hard + rng.normal(0, 0.2, 1000))
    assert null.p_value > 0.05 and null.ci_low < 0 < null.ci_high


def test_bootstrap_p_value_agrees_with_its_interval():
    rng = _rng(5)
    for i in range(20):
        a, b = rng.normal(size=60), rng.normal(0.25, 1.0, size=60)
        t = S.paired_bootstrap(a, b, n_boot=1000, seed=i)
        excludes = t.ci_low > 0 or t.ci_high < 0
        if abs(t.p_value - 0.05) > 0.01:  # away from the boundary the two must agree
            assert excludes == (t.p_value < 0.05)


def test_mcnemar_on_a_hand_computed_table():
    # 50 both right, 15 only A right, 5 only B right, 30 both wrong: n = 100
    a = np.array([1] * 50 + [1] * 15 + [0] * 5 + [0] * 30, dtype=bool)
    b = np.array([1] * 50 + [0] * 15 + [1] * 5 + [0] * 30, dtype=bool)
    t = S.mcnemar(a, b)
    p = 2 * sum(math.comb(20, k) for k in range(15, 21)) / 2**20  # two-sided exact binomial
    assert t.p_value == pytest.approx(p) and t.p_value == pytest.approx(0.041389, abs=1e-6)
    assert t.estimate == pytest.approx(0.10) and t.n == 100 and t.lower_is_better is False
    se = math.sqrt((20 / 100 - 0.10**2) / 100)
    assert (t.ci_low, t.ci_high) == pytest.approx((0.10 - 1.959964 * se, 0.10 + 1.959964 * se), rel=1e-5)
    swapped = S.mcnemar(b, a.astype(int))  # 0/1 works too
    assert swapped.estimate == pytest.approx(-0.10) and swapped.p_value == pytest.approx(t.p_value)
    assert S.mcnemar(a, a).p_value == 1.0  # no discordant items


def test_diebold_mariano_at_horizon_one_is_the_paired_t_test():
    rng = _rng(6)
    la, lb = rng.normal(size=80) ** 2, rng.normal(size=80) ** 2
    dm, t = S.diebold_mariano(la, lb), st.ttest_rel(la, lb)
    assert dm.statistic == pytest.approx(t.statistic) and dm.p_value == pytest.approx(t.pvalue)
    ci = t.confidence_interval()
    assert (dm.ci_low, dm.ci_high) == pytest.approx((ci.low, ci.high))


def test_diebold_mariano_uniform_kernel_by_hand():
    rng = _rng(7)
    d = _ma1(rng, 50) ** 2 - _ma1(rng, 50) ** 2
    T, h = 50, 3
    dc = d - d.mean()
    gamma = [sum(dc[t] * dc[t - k] for t in range(k, T)) / T for k in range(h)]
    var = (gamma[0] + 2 * (gamma[1] + gamma[2])) / T
    stat = d.mean() / math.sqrt(var) * math.sqrt((T + 1 - 2 * h + h * (h - 1) / T) / T)
    dm = S.diebold_mariano(d, np.zeros(T), horizon=h)
    assert dm.statistic == pytest.approx(stat)
    assert dm.p_value == pytest.approx(2 * st.t.sf(abs(stat), T - 1))


def test_diebold_mariano_size_and_power():
    rng = _rng(8)
    sims, n = 200, 100
    rejected = sum(S.diebold_mariano(_ma1(rng, n) ** 2, _ma1(rng, n) ** 2, horizon=2).p_value < 0.05
                   for _ in range(sims))
    assert 0.015 <= rejected / sims <= 0.095  # equal accuracy: rejects about alpha of the time
    better = S.diebold_mariano((0.6 * _ma1(rng, n)) ** 2, _ma1(rng, n) ** 2, horizon=2)
    assert better.p_value < 0.001 and better.ci_high < 0


def test_block_bootstrap_covers_the_mean_of_correlated_data():
    rng, true, n = _rng(9), 0.3, 300
    block_hits = iid_hits = 0
    for r in range(100):
        d = true + _ar1(rng, n, 0.6)
        bb = S.block_bootstrap(d, np.zeros(n), n_boot=400, seed=r)
        iid = S.paired_bootstrap(d, np.zeros(n), n_boot=400, seed=r)
        block_hits += bb.ci_low <= true <= bb.ci_high
        iid_hits += iid.ci_low <= true <= iid.ci_high
    assert block_hits >= 78  # near the nominal 95 (blocks of 7 at phi 0.6 undercover a little)
    assert iid_hits <= block_hits - 10  # resampling single days is overconfident here


def test_block_bootstrap_options():
    d = _ar1(_rng(10), 120, 0.5) + 1.0
    t = S.block_bootstrap(d, np.zeros(120), block=10, circular=False)
    assert t.ci_low < t.estimate < t.ci_high and t.p_value < 0.05 and "block 10" in t.name
    assert S.block_bootstrap(d, np.zeros(120)).name == "block bootstrap (block 5)"  # 120 ** (1/3)
    with pytest.raises(ValueError, match="block"):
        S.block_bootstrap(d, np.zeros(120), block=0)


def test_paired_seeds_is_ttest_rel_and_aligns_seeds():
    a = np.array([1.52, 1.49, 1.55, 1.50, 1.53])
    b = np.array([1.58, 1.57, 1.56, 1.59, 1.61])
    t, ref = S.paired_seeds(a, b, lower_is_better=True), st.ttest_rel(a, b)
    assert (t.statistic, t.p_value, t.n) == pytest.approx((ref.statistic, ref.pvalue, 5))
    ci = ref.confidence_interval()
    assert (t.ci_low, t.ci_high) == pytest.approx((ci.low, ci.high))
    shuffled = pd.Series(b, index=[0, 1, 2, 3, 4]).iloc[::-1]
    assert S.paired_seeds(pd.Series(a), shuffled).p_value == pytest.approx(ref.pvalue)
    with pytest.raises(ValueError, match="seeds differ"):
        S.paired_seeds(pd.Series(a), pd.Series(b, index=[0, 1, 2, 3, 7]))


def test_holm_by_hand():
    p = [0.01, 0.04, 0.03, 0.5]
    # sorted 0.01, 0.03, 0.04, 0.5 -> 4*0.01, 3*0.03, max(2*0.04, 0.09), 0.5
    assert S.holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert S.holm([0.2]) == pytest.approx([0.2])
    adj = S.holm(_rng(11).uniform(size=12))
    assert np.all(adj <= 1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        S.holm([0.1, 1.2])


# ----------------------------------------------------------------------------- verdicts

def _test(estimate, lo, hi, p, lower=True):
    return PairedTest("paired bootstrap", estimate, lo, hi, p, 2000, lower_is_better=lower, items="test items")


def test_verdict_labels():
    a_wins = S.verdict(_test(-0.052, -0.071, -0.033, 0.001), "LSTM", "GPT", unit="nats/char",
                       items="test windows")
    assert (a_wins.label, a_wins.winner) == ("a_better", "LSTM")
    assert str(a_wins) == a_wins.text == ("LSTM beats GPT: Δ = −0.052 nats/char, 95% CI [−0.071, −0.033], "
                                          "p = 0.001 (paired bootstrap over 2,000 test windows)")
    b_wins = S.verdict(_test(0.052, 0.033, 0.071, 0.001), "LSTM", "GPT")
    assert (b_wins.label, b_wins.winner) == ("b_better", "GPT") and b_wins.text.startswith("GPT beats LSTM")
    none = S.verdict(_test(-0.01, -0.03, 0.01, 0.3), "LSTM", "GPT")
    assert (none.label, none.winner) == ("no_clear_difference", None)
    assert none.text.startswith("no clear difference between LSTM and GPT")
    # higher is better (accuracy): a positive difference favours A
    assert S.verdict(_test(0.05, 0.02, 0.08, 0.001, lower=False), "A", "B").winner == "A"
    # a p-value below alpha is not enough when the interval contains zero
    assert S.verdict(_test(-0.05, -0.09, 0.01, 0.04), "A", "B").label == "no_clear_difference"


def test_verdict_min_effect_and_adjusted_p():
    t = _test(-0.004, -0.006, -0.002, 0.001)
    assert S.verdict(t, "A", "B").label == "a_better"
    small = S.verdict(t, "A", "B", min_effect=0.01, unit="nats/char")
    assert small.label == "no_clear_difference" and "smallest difference that matters" in small.text
    adjusted = S.verdict(t, "A", "B", p_value=0.2)
    assert adjusted.label == "no_clear_difference" and "adjusted p = 0.20" in adjusted.text
    # the interval excludes zero but is this comparison's own: the text says so
    assert "unadjusted 95% CI [−0.0060, −0.0020]" in adjusted.text
    assert "unadjusted" not in S.verdict(t, "A", "B").text


def test_verdict_needs_a_direction():
    t = PairedTest("paired t test", -0.1, -0.2, -0.05, 0.01, 5, items="seeds")
    with pytest.raises(ValueError, match="lower_is_better"):
        S.verdict(t, "A", "B")
    assert S.verdict(t, "A", "B", lower_is_better=False).winner == "B"
    with pytest.raises(ValueError, match="contradicts"):
        S.verdict(_test(-0.1, -0.2, -0.05, 0.01, lower=True), "A", "B", lower_is_better=False)
    with pytest.raises(ValueError, match="alpha"):
        S.verdict(_test(-0.1, -0.2, -0.05, 0.01), "A", "B", alpha=5)


def test_verdict_claim_outcomes():
    sig = _test(-0.05, -0.07, -0.03, 0.001)  # A (lower loss) significantly better
    flat = _test(-0.01, -0.03, 0.01, 0.4)
    assert S.verdict_claim(sig, "LSTM", "GPT", True).claim == "supported"
    assert S.verdict_claim(sig, "LSTM", "GPT", False).claim == "contradicted"
    assert S.verdict_claim(flat, "LSTM", "GPT", True).claim == "not supported"
    v = S.verdict_claim(sig, "LSTM", "GPT", False, wording="replication")
    assert v.claim == "refuted" and v.text.startswith("the claim that GPT beats LSTM is refuted")
    assert S.verdict_claim(flat, "LSTM", "GPT", wording="replication").claim == "qualified"
    assert S.verdict_claim(sig, "LSTM", "GPT", wording="replication").claim == "confirmed"


def test_every_verdict_word_is_exported():
    words = set(S.VERDICT_WORDS)
    assert {"beats", "no clear difference", "supported", "not supported", "contradicted",
            "confirmed", "qualified", "refuted"} <= words
    tests = [_test(-0.05, -0.07, -0.03, 0.001), _test(0.05, 0.03, 0.07, 0.001), _test(0.0, -0.1, 0.1, 0.9)]
    for t in tests:
        assert any(w in S.verdict(t, "A", "B").text for w in words)
        for wording in ("claim", "replication"):
            for claim in (True, False):
                assert S.verdict_claim(t, "A", "B", claim, wording=wording).claim in words


def test_verdict_end_to_end_on_mcnemar():
    rng = _rng(12)
    truth = rng.random(2000)
    a, b = truth < 0.85, truth < 0.80  # A right on a superset of B's items
    v = S.verdict(S.mcnemar(a, b), "GRU", "GPT", unit="accuracy")
    assert v.winner == "GRU" and "McNemar over 2,000 test items" in v.text


# ----------------------------------------------------------------------------- power laws

def test_fit_power_law_recovers_a_law_and_is_linregress():
    x = np.array([64, 128, 256, 512, 1024, 2048], dtype=float)
    exact = S.fit_power_law(x, 3.0 * x**1.5)
    assert (exact.exponent, exact.prefactor, exact.r2) == pytest.approx((1.5, 3.0, 1.0))
    assert exact.coefficient == exact.prefactor and exact(10.0) == pytest.approx(3.0 * 10**1.5)
    y = 0.2 * x**2 * np.exp(_rng(13).normal(0, 0.1, x.size))
    law, ref = S.fit_power_law(x, y), st.linregress(np.log(x), np.log(y))
    assert (law.exponent, law.exponent_se, law.r2) == pytest.approx((ref.slope, ref.stderr, ref.rvalue**2))
    half = st.t.ppf(0.975, x.size - 2) * ref.stderr
    assert (law.exponent_low, law.exponent_high) == pytest.approx((ref.slope - half, ref.slope + half))
    assert law.exponent_low < 2.0 < law.exponent_high


def test_fit_power_law_skips_missing_points_and_rejects_too_few():
    law = S.fit_power_law([1, 2, 4, 8], [2.0, 8.0, np.nan, 128.0])
    assert law.exponent == pytest.approx(2.0) and law.n == 3
    with pytest.raises(ValueError, match="two points"):
        S.fit_power_law([1, 2, 4], [1.0, np.nan, np.nan])
    with pytest.raises(ValueError, match="same length"):
        S.fit_power_law([1, 2, 4], [1.0, 2.0])


def test_crossover_and_crossings():
    quad, lin = S.PowerLaw(2.0, 1.0), S.PowerLaw(1.0, 100.0)
    assert S.crossover(quad, lin) == pytest.approx(100.0)  # x^2 = 100 x
    assert S.crossover(quad, S.PowerLaw(2.0, 5.0)) is None
    x = np.array([10, 30, 100, 300, 1000], dtype=float)
    assert S.crossings(x, x**2, 100 * x) == pytest.approx([100.0])  # met at a measured point
    x = np.array([10, 40, 160, 640], dtype=float)
    assert S.crossings(x, x**2, 100 * x) == pytest.approx([100.0])  # interpolated on log axes
    assert S.crossings(x, 2 * x, x) == []
    # log-gaps alternate log(1/2), log(3/2): the zero lies a fraction up/down of each step
    up, down = math.log(2) / math.log(3), math.log(1.5) / math.log(3)
    assert S.crossings([1, 2, 3, 4], [1, 3, 1, 3], [2, 2, 2, 2]) == pytest.approx(
        [2**up, 2 * 1.5**down, 3 * (4 / 3) ** up])  # three swaps, in increasing order


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call,match", [
    (lambda: S.mean_ci([]), "at least 2"),
    (lambda: S.mean_ci([1.0, np.nan, 2.0]), "NaN"),
    (lambda: S.mean_ci([1.0, 2.0], level=1.5), "level"),
    (lambda: S.wilson_interval(11, 10), "k <= n"),
    (lambda: S.wilson_interval(0.5, 10), "integers"),
    (lambda: S.bootstrap_ci([1.0, 2.0, 3.0], n_boot=10), "n_boot"),
    (lambda: S.bootstrap_ci([1.0, 2.0, 3.0], method="bca"), "method"),
    (lambda: S.paired_bootstrap([1.0, 2.0, 3.0], [1.0, 2.0]), "same length"),
    (lambda: S.paired_bootstrap([[1.0, 2.0]], [[1.0, 2.0]]), "1-D"),
    (lambda: S.paired_bootstrap(["a", "b"], [1.0, 2.0]), "numbers"),
    (lambda: S.mcnemar([1, 2, 0], [1, 0, 0]), "booleans"),
    (lambda: S.mcnemar([True, False], [True]), "same length"),
    (lambda: S.diebold_mariano([1.0, 2.0, 3.0], [1.0, 2.0, np.inf]), "NaN"),
    (lambda: S.diebold_mariano(np.ones(5), np.zeros(5), horizon=0), "horizon"),
    (lambda: S.diebold_mariano(np.ones(5), np.zeros(5), horizon=5), "smaller"),
    (lambda: S.diebold_mariano(np.ones(5), np.zeros(5), kernel="parzen"), "kernel"),
    (lambda: S.paired_seeds([1.0], [2.0]), "at least 2"),
    (lambda: S.holm([]), "at least 1"),
    (lambda: S.verdict("p = 0.01", "A", "B", lower_is_better=True), "PairedTest"),
    (lambda: S.verdict_claim(_test(-0.1, -0.2, -0.05, 0.01), "A", "B", wording="strong"), "wording"),
])
def test_bad_input_raises_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
