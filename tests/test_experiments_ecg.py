"""The ECG chapter's backend: split, task, matched specs, DTW, UCR resamples, verdicts; and the
reproduction's tools: metrics on hand-counted cases, the 1-NN baseline on a toy set,
standardisation fitted on the training set only, one tiny training run."""
import itertools

import numpy as np
import pytest
import torch

from rvt_lib.experiments import ecg
from rvt_lib.batched import fit_members
from rvt_lib.runner import run_study
from rvt_lib.train import TrainConfig


def _data(n_train=40, n_test=30, T=12, seed=0):
    rng = np.random.default_rng(seed)
    def make(n):
        y = np.arange(n) % 3 == 0  # a third positive, like ECG200
        X = rng.normal(size=(n, T)) + 1.5 * y[:, None] * np.sin(np.linspace(0, 3, T))
        return X, y.astype(int)
    return (*make(n_train), *make(n_test))


def _dtw_brute(a, b, w):
    """Every monotone warping path inside the band, enumerated by recursion: the minimum cost."""
    T = len(a)
    best = {}
    def go(i, j):
        if abs(i - j) > w:
            return np.inf
        if (i, j) in best:
            return best[(i, j)]
        c = (b[i] - a[j]) ** 2
        if i == 0 and j == 0:
            v = c
        else:
            prev = [go(i - 1, j - 1) if i and j else np.inf, go(i - 1, j) if i else np.inf,
                    go(i, j - 1) if j else np.inf]
            v = c + min(prev)
        best[(i, j)] = v
        return v
    return np.sqrt(go(T - 1, T - 1))


def _dtw_paths(a, b, w):
    """The same by listing all paths (tiny T only): independent of the recursion's form."""
    T = len(a)
    out = np.inf
    def walk(i, j, cost):
        nonlocal out
        if abs(i - j) > w:
            return
        cost += (b[i] - a[j]) ** 2
        if (i, j) == (T - 1, T - 1):
            out = min(out, cost)
            return
        for di, dj in ((1, 1), (1, 0), (0, 1)):
            if i + di < T and j + dj < T:
                walk(i + di, j + dj, cost)
    walk(0, 0, 0.0)
    return np.sqrt(out)


@pytest.mark.parametrize("w", [0, 1, 2, 5])
def test_dtw_matches_brute_force_over_paths(w):
    rng = np.random.default_rng(w)
    A, B = rng.normal(size=(3, 5)), rng.normal(size=(2, 5))
    D = ecg.dtw_distances(A, B, w)
    assert D.shape == (2, 3)
    for i, j in itertools.product(range(2), range(3)):
        assert D[i, j] == pytest.approx(_dtw_paths(A[j], B[i], w))
        assert D[i, j] == pytest.approx(_dtw_brute(A[j], B[i], w))


def test_dtw_window_zero_is_euclidean_and_wider_is_never_larger():
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(6, 9)), rng.normal(size=(4, 9))
    np.testing.assert_allclose(ecg.dtw_distances(A, B, 0), ecg.euclidean_distances(A, B), atol=1e-9)
    assert (ecg.dtw_distances(A, B, 3) <= ecg.dtw_distances(A, B, 1) + 1e-12).all()
    shifted = np.roll(A, 1, axis=1)  # a one-sample shift: DTW with a band of 1 nearly ignores it
    assert ecg.dtw_distances(A, shifted, 1).trace() < ecg.euclidean_distances(A, shifted).trace()


def test_dtw_and_nn_reject_bad_input():
    with pytest.raises(ValueError, match="window"):
        ecg.dtw_distances(np.zeros((2, 3)), np.zeros((2, 3)), -1)
    with pytest.raises(ValueError, match="samples"):
        ecg.dtw_distances(np.zeros((2, 3)), np.zeros((2, 4)), 1)
    with pytest.raises(ValueError, match="NaN"):
        ecg.euclidean_distances(np.full((2, 3), np.nan), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="reference labels"):
        ecg.nn_predict(np.zeros((2, 3)), [0, 1])


def test_choose_window_uses_leave_one_out():
    Xtr, ytr, _, _ = _data()
    w, acc = ecg.choose_window(Xtr, ytr, [0, 1, 2])
    assert set(acc) == {0, 1, 2} and w in acc
    assert acc[w] == max(acc.values())
    # without leaving the beat out, every beat is its own neighbour: accuracy 1; ours is lower here
    assert acc[0] < 1.0


def test_ucr_resamples_keep_sizes_and_class_counts():
    y_tr, y_te = np.array([0] * 6 + [1] * 4), np.array([0] * 7 + [1] * 3)
    splits = ecg.ucr_resamples(y_tr, y_te, 5, seed=0)
    y = np.concatenate([y_tr, y_te])
    assert len(splits) == 5
    np.testing.assert_array_equal(splits[0][0], np.arange(10))  # resample 0: the archive's split
    for tr, te in splits:
        assert len(tr) == 10 and len(te) == 10 and not set(tr) & set(te)
        assert y[tr].sum() in (3, 4)  # stratified: the pooled share 7/20 of 10
    assert len({tuple(tr) for tr, _ in splits}) == 5
    D = ecg.euclidean_distances(np.eye(20), np.eye(20))
    assert ecg.resample_accuracies(D, y, splits).shape == (5,)


def test_make_task_carves_validation_from_train_only_and_seals_test():
    Xtr, ytr, Xte, yte = _data()
    task, info = ecg.make_task(Xtr, ytr, Xte, yte, val_size=0.25)
    assert info["n_fit"] + info["n_val"] == len(ytr) and info["n_test"] == len(yte)
    assert not set(info["fit_idx"]) & set(info["val_idx"])
    assert ytr[info["val_idx"]].mean() == pytest.approx(ytr.mean(), abs=0.1)  # stratified
    with pytest.raises(RuntimeError, match="sealed"):
        list(task.test)
    with pytest.raises(ValueError, match="both classes"):
        ecg.make_task(Xtr, np.zeros(len(ytr), int), Xte, yte)
    with pytest.raises(ValueError, match="val_size"):
        ecg.make_task(Xtr, ytr, Xte, yte, val_size=1.5)


def test_model_specs_match_parameters_and_use_the_residual_block():
    specs = ecg.model_specs(10_000, seq_len=96)
    assert list(specs) == list(ecg.KINDS)
    for name, s in specs.items():
        assert abs(s.n_params() / 10_000 - 1) <= 0.1, name
    assert specs["minGRU"].kwargs["block"] == "residual"
    assert specs["GPT"].kwargs["causal"] is False
    assert "block" not in specs["GRU"].kwargs


def test_study_end_to_end_verdicts_and_probabilities():
    torch.set_num_threads(1)
    Xtr, ytr, Xte, yte = _data()
    task, _ = ecg.make_task(Xtr, ytr, Xte, yte)
    specs = ecg.model_specs(4_000, seq_len=12, tol=0.3, kinds={"GRU": "gru", "minGRU": "mingru", "GPT": "gpt"})
    cfg = TrainConfig(epochs=2, batch_size=10)
    result = run_study(specs, task, cfg, seeds=(0, 1), lr_grid=(3e-3,), trainer=fit_members)
    assert set(result.runs.model) == set(specs) and len(result.runs) == 6
    probs = ecg.probabilities_on_test(result, task, "GRU")
    assert len(probs) == 2 and probs[0].shape == (len(yte),) and ((probs[0] >= 0) & (probs[0] <= 1)).all()
    correct0 = ((probs[0] >= 0.5) == yte)
    np.testing.assert_array_equal(correct0, result.per_item[("GRU", 0)]["correct"] > 0.5)
    nn_correct = ecg.nn_predict(ecg.euclidean_distances(Xtr, Xte), ytr) == yte
    verdicts = ecg.versus_baseline(result, nn_correct)
    assert set(verdicts) == set(specs) and all("1-NN" in v.text for v in verdicts.values())
    opponent, claim = ecg.claim_transformer_better(result, ["GRU", "minGRU"])
    assert opponent in ("GRU", "minGRU") and claim.claim in ("supported", "not supported", "contradicted")


def test_versus_depth_pairs_namesakes_and_reads_the_winner():
    from types import SimpleNamespace

    def fake(per_model):
        return SimpleNamespace(chosen=dict.fromkeys(per_model, 1e-3),
                               pooled=lambda m, metric: np.asarray(per_model[m], dtype=float))
    n = 60
    right, wrong = np.ones(n), np.zeros(n)
    half = np.r_[np.ones(n // 2), np.zeros(n // 2)]
    deep = fake({"GRU": right, "GPT": half, "minGRU": half})
    shallow = fake({"GRU": half, "GPT": right, "minGRU": half, "LSTM": wrong})
    v = ecg.versus_depth(deep, shallow)
    assert list(v) == ["GRU", "GPT", "minGRU"]                   # only the shared names
    assert v["GRU"].winner == "GRU, 2 layers"                    # 30 beats won, none lost
    assert v["GPT"].winner == "GPT, 1 layer"
    assert v["minGRU"].winner is None                            # identical answers
    with pytest.raises(ValueError, match="share no model"):
        ecg.versus_depth(fake({"A": right}), fake({"B": right}))


def test_fit_members_equals_plain_fit_for_the_gru():
    torch.set_num_threads(1)
    Xtr, ytr, Xte, yte = _data()
    task, _ = ecg.make_task(Xtr, ytr, Xte, yte)
    specs = ecg.model_specs(4_000, seq_len=12, tol=0.3, kinds={"GRU": "gru"})
    cfg = TrainConfig(epochs=2, batch_size=10)
    a = run_study(specs, task, cfg, seeds=(0, 1), lr_grid=(3e-3,), trainer=fit_members)
    task, _ = ecg.make_task(Xtr, ytr, Xte, yte)
    b = run_study(specs, task, cfg, seeds=(0, 1), lr_grid=(3e-3,))
    np.testing.assert_allclose(a.runs.val_loss, b.runs.val_loss, rtol=1e-4)


# ============================================================================= the reproduction's tools
# (moved from tests/test_classify.py with rvt_lib.classify)
from rvt_lib.experiments.ecg import (ClassifierConfig, Standardizer, balanced_class_weights,  # noqa: E402
                                     binary_metrics, build_classifier, confusion,
                                     nearest_neighbor, roc_points, train_classifier)


# ------------------------------------------------------------------ metrics

def test_binary_metrics_hand_counted():
    # 3 positives, 5 negatives; the threshold 0.5 gives TP=2, FN=1, TN=4, FP=1
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.6, 0.2, 0.7, 0.4, 0.3, 0.1, 0.05])
    m = binary_metrics(y, p)
    assert (m["tp"], m["fn"], m["tn"], m["fp"]) == (2, 1, 4, 1)
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["sensitivity"] == pytest.approx(2 / 3)
    assert m["specificity"] == pytest.approx(4 / 5)
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    # AUC by counting pairs: of the 15 (positive, negative) pairs, the positive scores higher in
    # 0.9: 5, 0.6: 4 (loses to 0.7), 0.2: 2 (beats 0.1 and 0.05)  -> 11 / 15
    assert m["roc_auc"] == pytest.approx(11 / 15)
    np.testing.assert_array_equal(confusion(y, p), [[4, 1], [1, 2]])


def test_threshold_moves_the_decision_and_ties_count_as_positive():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.8, 0.8, 0.3, 0.1])
    assert binary_metrics(y, p, threshold=0.8)["tp"] == 1  # p >= threshold is positive
    strict = binary_metrics(y, p, threshold=0.9)
    assert (strict["tp"], strict["fp"], strict["sensitivity"], strict["specificity"]) == (0, 0, 0.0, 1.0)


def test_all_normal_predictor_has_high_accuracy_but_chance_balanced_accuracy():
    y = np.array([0] * 64 + [1] * 36)  # the ECG200 test split's class balance
    m = binary_metrics(y, np.zeros(100))
    assert m["accuracy"] == pytest.approx(0.64)
    assert m["balanced_accuracy"] == pytest.approx(0.5)
    assert m["roc_auc"] == pytest.approx(0.5)  # constant scores rank nothing


def test_one_class_gives_nan_auc_and_nan_sensitivity():
    m = binary_metrics(np.zeros(4, dtype=int), np.array([0.1, 0.2, 0.7, 0.3]))
    assert np.isnan(m["roc_auc"]) and np.isnan(m["sensitivity"])
    assert m["specificity"] == pytest.approx(0.75)


def test_roc_points_walk_from_0_0_to_1_1():
    y = np.array([1, 1, 0, 0])
    fpr, tpr, thr = roc_points(y, np.array([0.9, 0.4, 0.6, 0.1]))
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    # at threshold 0.6 we accept 0.9 (positive) and 0.6 (negative): tpr 1/2, fpr 1/2
    i = int(np.nonzero(thr == 0.6)[0][0])
    assert (fpr[i], tpr[i]) == (0.5, 0.5)


@pytest.mark.parametrize("y, p, err", [
    (np.array([0, 2]), np.array([0.1, 0.2]), ValueError),        # label 2
    (np.array([0.0, 1.0]), np.array([0.1, 0.2]), TypeError),     # float labels
    (np.array([0, 1]), np.array([0.1, 0.2, 0.3]), ValueError),   # length mismatch
    (np.array([0, 1]), np.array([0.1, np.nan]), ValueError),     # NaN score
    (np.zeros((2, 2), dtype=int), np.zeros(2), ValueError),      # wrong rank
])
def test_metrics_reject_bad_input(y, p, err):
    with pytest.raises(err):
        binary_metrics(y, p)


# ------------------------------------------------------------------ 1-NN

def test_nearest_neighbor_exact_on_toy_set():
    X_train = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 10.0], [11.0, 10.0]])
    y_train = np.array([0, 0, 1, 1])
    X_test = np.array([[0.2, 0.1], [10.4, 9.0], [6.0, 6.0], [1.0, 0.0]])
    pred, score = nearest_neighbor(X_train, y_train, X_test)
    np.testing.assert_array_equal(pred, [0, 1, 1, 0])
    # [6, 6]: nearest normal is [1, 0] at sqrt(25 + 36), nearest positive [10, 10] at sqrt(32)
    d0, d1 = np.sqrt(61.0), np.sqrt(32.0)
    assert score[2] == pytest.approx(d0 / (d0 + d1))
    assert score[3] == pytest.approx(0.0)  # an exact copy of a normal training beat
    np.testing.assert_array_equal(score >= 0.5, pred == 1)
    np.testing.assert_array_equal(binary_metrics(np.array([0, 1, 1, 0]), score)["tp"], 2)


def test_nearest_neighbor_tie_is_positive_and_consistent_with_threshold():
    pred, score = nearest_neighbor(np.array([[0.0], [2.0]]), np.array([0, 1]), np.array([[1.0]]))
    assert pred[0] == 1 and score[0] == pytest.approx(0.5)


def test_nearest_neighbor_matches_brute_force():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(30, 12)), rng.normal(size=(17, 12))
    y = rng.integers(0, 2, size=30)
    pred, _ = nearest_neighbor(A, y, B)
    brute = np.array([y[np.argmin([np.linalg.norm(b - a) for a in A])] for b in B])
    np.testing.assert_array_equal(pred, brute)


def test_nearest_neighbor_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="shape"):
        nearest_neighbor(np.zeros((4, 5)), np.array([0, 1, 0, 1]), np.zeros((2, 6)))
    with pytest.raises(ValueError, match="labels"):
        nearest_neighbor(np.zeros((4, 5)), np.array([0, 1, 0]), np.zeros((2, 5)))


# ------------------------------------------------------------------ standardisation

def test_standardizer_uses_training_statistics_only():
    X_train = np.array([[1.0, 3.0], [3.0, 5.0]])   # global mean 3, std sqrt(2)
    X_test = np.array([[100.0, 200.0]])             # far away: must not move the statistics
    s = Standardizer.fit(X_train, per="global")
    assert float(s.mean) == pytest.approx(3.0) and float(s.std) == pytest.approx(np.sqrt(2.0))
    np.testing.assert_allclose(s.transform(X_test), (X_test - 3.0) / np.sqrt(2.0))
    z = s.transform(X_train)
    assert z.mean() == pytest.approx(0.0) and z.std() == pytest.approx(1.0)


def test_standardizer_per_timestep_and_constant_positions():
    X_train = np.array([[1.0, 0.0, 2.0], [3.0, 0.0, 6.0]])  # position 1 is constant (padding)
    s = Standardizer.fit(X_train, per="timestep")
    np.testing.assert_allclose(s.mean, [2.0, 0.0, 4.0])
    np.testing.assert_allclose(s.std, [1.0, 1.0, 2.0])  # std 0 replaced by 1: no division by zero
    np.testing.assert_allclose(s.transform(X_train), [[-1.0, 0.0, -1.0], [1.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="shape"):
        s.transform(np.zeros((1, 4)))
    with pytest.raises(ValueError):
        Standardizer.fit(X_train, per="sample")


def test_balanced_class_weights():
    w = balanced_class_weights(np.array([0] * 69 + [1] * 31))
    np.testing.assert_allclose(w, [100 / (2 * 69), 100 / (2 * 31)])
    # each class then carries the same total weight: 69 * w0 == 31 * w1
    assert 69 * w[0] == pytest.approx(31 * w[1])
    with pytest.raises(ValueError):
        balanced_class_weights(np.zeros(5, dtype=int))


# ------------------------------------------------------------------ training

def _toy_beats(n, seed):
    """Two easily separated shapes: a bump up (class 1) or down (class 0), plus noise."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 16)
    y = np.arange(n) % 2
    sign = np.where(y == 1, 1.0, -1.0)[:, None]
    X = sign * np.exp(-((t[None] - 0.5) ** 2) / 0.02) + 0.1 * rng.normal(size=(n, 16))
    return X.astype(np.float32), y.astype(np.int64)


@pytest.mark.parametrize("kind", ["mingru", "gpt"])
def test_train_classifier_learns_a_toy_task_and_reports_cost(kind):
    Xtr, ytr = _toy_beats(32, 0)
    Xte, yte = _toy_beats(20, 1)
    cfg = ClassifierConfig(kind=kind, d_model=8, n_head=2).but(epochs=10, batch_size=16, lr=1e-2)
    assert cfg.train == ClassifierConfig().train.but(epochs=10, batch_size=16, lr=1e-2)
    r = train_classifier(cfg, Xtr, ytr, Xte, yte, seed=0)
    assert r.metrics["accuracy"] >= 0.9
    assert r.p_test.shape == (20,) and np.all((r.p_test >= 0) & (r.p_test <= 1))
    assert r.cost["params"] > 0 and r.cost["train_time_s"] > 0
    # the scaler saw the training beats only
    assert float(r.scaler.mean) == pytest.approx(float(Xtr.astype(np.float64).mean()))
    assert float(r.scaler.std) == pytest.approx(float(Xtr.astype(np.float64).std()))
    row = r.row()
    assert row["model"] == kind and row["seed"] == 0 and "roc_auc" in row
    again = train_classifier(cfg, Xtr, ytr, Xte, yte, seed=0)
    np.testing.assert_allclose(again.p_test, r.p_test)  # same seed, same run


def test_train_classifier_rejects_bad_input():
    Xtr, ytr = _toy_beats(8, 0)
    cfg = ClassifierConfig(kind="mingru", d_model=4, train=TrainConfig(epochs=1))
    with pytest.raises(ValueError, match="labels"):
        train_classifier(cfg, Xtr, ytr[:-1], Xtr, ytr)
    with pytest.raises(ValueError, match="shape"):
        train_classifier(cfg, Xtr, ytr, Xtr[:, :10], ytr)
    with pytest.raises(TypeError):
        train_classifier(cfg, Xtr.astype(int), ytr, Xtr, ytr)
    with pytest.raises(ValueError):
        ClassifierConfig(class_weight="inverse")
    with pytest.raises(ValueError, match="epochs"):
        ClassifierConfig(train=TrainConfig(steps=5))
    with pytest.raises(ValueError, match="unknown kind"):
        ClassifierConfig(kind="mamba")


def test_config_but_routes_training_fields_and_builds_through_a_spec():
    base = ClassifierConfig(kind="gru", d_model=8)
    changed = base.but(kind="lstm", lr=1e-2, epochs=3)
    assert changed.kind == "lstm" and changed.train.lr == 1e-2 and changed.train.epochs == 3
    assert base.train.lr == 3e-3                       # the original is unchanged
    spec = changed.spec(seq_len=16)
    assert spec.head == "classify" and spec["n_out"] == 2 and spec["block_size"] == 16
    a, b = build_classifier(changed, 16, seed=1), spec.build(1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert spec.n_params() == sum(p.numel() for p in a.parameters())
