"""The ECG chapter's backend: split, task, matched specs, DTW, UCR resamples, verdicts."""
import itertools

import numpy as np
import pytest
import torch

from rvt_lib.experiments import ecg
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
    result = run_study(specs, task, cfg, seeds=(0, 1), lr_grid=(3e-3,), trainer=ecg.fit_some_batched)
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


def test_fit_some_batched_equals_plain_fit_for_the_gru():
    torch.set_num_threads(1)
    Xtr, ytr, Xte, yte = _data()
    task, _ = ecg.make_task(Xtr, ytr, Xte, yte)
    specs = ecg.model_specs(4_000, seq_len=12, tol=0.3, kinds={"GRU": "gru"})
    cfg = TrainConfig(epochs=2, batch_size=10)
    a = run_study(specs, task, cfg, seeds=(0, 1), lr_grid=(3e-3,), trainer=ecg.fit_some_batched)
    task, _ = ecg.make_task(Xtr, ytr, Xte, yte)
    b = run_study(specs, task, cfg, seeds=(0, 1), lr_grid=(3e-3,))
    np.testing.assert_allclose(a.runs.val_loss, b.runs.val_loss, rtol=1e-4)
