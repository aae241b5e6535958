"""Tests for rvt_lib.experiments.shakespeare: splits, windows, matched blocks, summaries, claims."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from rvt_lib import stats
from rvt_lib.data.text import CharDataset
from rvt_lib.experiments.shakespeare import (best_val_within, curve_table, final_train_loss, fixed_windows,
                                             generation_tokens_per_second, known_word_fraction, lm_task,
                                             lr_sensitivity, mixer_specs, mode_speeds, ranking_claim, sample,
                                             spec_table, split_text, state_floats, tiled_windows,
                                             training_tokens_per_second, window_sampler, words)
from rvt_lib.models.heads import ModelSpec
from rvt_lib.runner import run_study
from rvt_lib.train import History, TrainConfig

TEXT = ("to be or not to be, that is the question.\n"
        "whether 'tis nobler in the mind to suffer\n") * 40


def lm(kind, d_model, n_layer, vocab_size=65, **kwargs):
    return ModelSpec(kind, vocab_size=vocab_size, d_model=d_model, n_layer=n_layer, **kwargs)


@pytest.fixture(scope="module")
def ds():
    return CharDataset(TEXT)


def test_split_text_is_contiguous_and_complete(ds):
    sp = split_text(ds, (0.8, 0.1, 0.1))
    whole = torch.cat([ds.train, ds.val])
    assert torch.equal(torch.cat([sp.train, sp.val, sp.test]), whole)
    n = len(whole)
    assert abs(len(sp.train) - 0.8 * n) <= 1 and abs(len(sp.val) - 0.1 * n) <= 1
    assert sp.vocab_size == ds.vocab_size


@pytest.mark.parametrize("bad", [(0.8, 0.2), (0.9, 0.2, 0.1), (1.0, 0.0, 0.0)])
def test_split_text_rejects_bad_fractions(ds, bad):
    with pytest.raises(ValueError, match="fractions"):
        split_text(ds, bad)


def test_window_sampler_targets_are_shifted_and_seeded(ds):
    data = split_text(ds).train
    sample = window_sampler(data, batch_size=4, block_size=8)
    torch.manual_seed(0)
    x, y = sample()
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(x[:, 1:], y[:, :-1])
    torch.manual_seed(0)
    assert torch.equal(sample()[0], x)  # fit seeds the global generator: same batches


def test_fixed_windows_are_fixed(ds):
    data = split_text(ds).val
    a, b = fixed_windows(data, 3, 2, 8), fixed_windows(data, 3, 2, 8)
    assert len(a) == 3 and all(torch.equal(p[0], q[0]) for p, q in zip(a, b))


def test_tiled_windows_do_not_overlap(ds):
    data = split_text(ds).test
    batches = tiled_windows(data, block_size=10, batch_size=4)
    x = torch.cat([b[0] for b in batches])
    assert torch.equal(x.reshape(-1), data[:x.numel()])        # consecutive tiles, in order
    assert len(x) == (len(data) - 10 + 9) // 10
    capped = torch.cat([b[0] for b in tiled_windows(data, 10, 4, max_windows=3)])
    assert len(capped) == 3 and torch.equal(capped[0], x[0]) and torch.equal(capped[-1], x[-1])
    with pytest.raises(ValueError, match="block_size"):
        tiled_windows(data, block_size=len(data), batch_size=4)


def test_mixer_specs_match_the_gpt_in_one_block():
    ref = ModelSpec("gpt", vocab_size=65, d_model=32, n_layer=2, n_head=4, block_size=16)
    specs = mixer_specs(["gpt", "lstm", "mingru"], ref)
    assert list(specs) == ["GPT", "LSTM block", "minGRU block"]
    target = ref.n_params()
    for spec in specs.values():
        assert abs(spec.n_params() / target - 1) <= 0.05
    assert specs["LSTM block"]["block"] == "residual"
    assert specs["minGRU block"]["d_model"] > specs["GPT"]["d_model"]  # the cheaper mixer is wider
    with pytest.raises(ValueError):
        mixer_specs([], ref)


def _tuning():
    return pd.DataFrame({"model": ["A"] * 3 + ["B"] * 3, "lr": [1e-3, 3e-3, 1e-2] * 2, "seed": 0,
                         "val_loss": [2.0, 1.5, 1.6, 1.9, 1.85, math.nan],
                         "diverged": [False] * 5 + [True],
                         "chosen": [False, True, False, False, True, False]})


def test_lr_sensitivity_spread_and_divergence():
    sens = lr_sensitivity(_tuning())
    assert sens.loc["A", "spread"] == pytest.approx(0.5)
    assert sens.loc["A", "spread_neighbours"] == pytest.approx(0.5)
    assert sens.loc["B", "spread"] == pytest.approx(0.05)  # the diverged lr is counted apart
    assert sens.loc["B", "diverged"] == 1 and sens.loc["B", "spread_neighbours"] == math.inf
    assert sens.loc["A", "chosen lr"] == 3e-3
    with pytest.raises(ValueError, match="columns"):
        lr_sensitivity(pd.DataFrame({"model": ["A"]}))


def test_lr_sensitivity_spreads_over_the_starting_grid_when_it_grew():
    """Model B's grid grew upward to 3e-2 (its best): its spread is still over the rates every
    model tried, and the chosen rate's neighbours come from all the rates it tried."""
    t = pd.DataFrame({"model": ["A"] * 3 + ["B"] * 4, "lr": [1e-3, 3e-3, 1e-2, 1e-3, 3e-3, 1e-2, 3e-2],
                      "seed": 0, "val_loss": [2.0, 1.5, 1.6, 2.0, 1.9, 1.8, 1.0],
                      "diverged": False, "chosen": [False, True, False, False, False, False, True],
                      "extended": [False] * 6 + [True]})
    sens = lr_sensitivity(t)
    assert sens.loc["B", "chosen lr"] == 3e-2
    assert sens.loc["B", "best val loss"] == pytest.approx(1.8)   # not the added rate's 1.0
    assert sens.loc["B", "spread"] == pytest.approx(0.2)
    assert sens.loc["B", "spread_neighbours"] == pytest.approx(0.8)  # 1e-2 against 3e-2
    assert sens.loc["A", "spread"] == pytest.approx(0.5)


def test_best_val_within_and_final_train_loss():
    h = History(train_loss=[4.0, 3.0, 2.0, 1.0], val_loss=[3.0, 2.0, 2.5], val_seconds=[1.0, 2.0, 3.0])
    assert best_val_within(h, 1.5) == 3.0 and best_val_within(h, 10) == 2.0
    assert math.isnan(best_val_within(h, 0.5))
    assert final_train_loss(h, fraction=0.5) == pytest.approx(1.5)


@pytest.fixture(scope="module")
def study(ds):
    sp = split_text(ds)
    task = lm_task(sp, block_size=8, batch_size=4, val_batches=2, test_windows=12)
    ref = ModelSpec("gpt", vocab_size=ds.vocab_size, d_model=16, n_layer=1, n_head=2, block_size=8)
    specs = mixer_specs(["gpt", "minlstm", "lstm"], ref, tol=0.1)  # tiny widths: coarse steps
    return run_study(specs, task, TrainConfig(steps=6, batch_size=4, eval_every=2), seeds=(0, 1),
                     lr_grid=(3e-3, 1e-2), measure_cost=False)


def test_curve_table_and_ranking_claim(study):
    curves = curve_table(study, seconds=1e9)
    assert list(curves.index) == ["GPT", "minLSTM block", "LSTM block"]
    assert (curves["steps to best"] <= 6).all()
    assert np.allclose(curves["val - train"], curves["final val loss"] - curves["final train loss"])
    assert np.allclose(curves["best val within 1000000000 s"], curves["best val loss"])
    outcome, verdicts = ranking_claim(study, ["GPT", "minLSTM block", "LSTM block"], n_boot=200)
    assert outcome in stats.REPLICATION_WORDS and len(verdicts) == 2
    assert all(v.claim in stats.REPLICATION_WORDS for v in verdicts)
    confirmed, _, refuted = stats.REPLICATION_WORDS
    claims = [v.claim for v in verdicts]
    assert (outcome == confirmed) == all(c == confirmed for c in claims)
    assert (outcome == refuted) == (refuted in claims)
    with pytest.raises(ValueError, match="order"):
        ranking_claim(study, ["GPT"])


def test_spec_table():
    ref = lm("gpt", 32, 2, n_head=4, block_size=16)
    specs = mixer_specs(["lstm", "mingru"], ref)
    table = spec_table(specs, target_params=ref.n_params())
    assert list(table.index) == ["LSTM block", "minGRU block"]
    assert list(table["layers"]) == [2, 2]
    assert (table["vs target (%)"].abs() <= 5).all()


def test_state_floats():
    assert state_floats(lm("lstm", 32, 2), 1000) == 2 * 2 * 32
    assert state_floats(lm("mingru", 32, 2), 10) == state_floats(lm("mingru", 32, 2), 1000)
    gpt = lm("gpt", 32, 2, block_size=64)
    assert state_floats(gpt, 10) == 2 * 2 * 10 * 32
    assert state_floats(gpt, 1000) == state_floats(gpt, 64)   # the cache stops at block_size


@pytest.mark.parametrize("kind", ["gpt", "mingru", "lstm"])
def test_tokens_per_second_is_positive_and_leaves_the_model_alone(ds, kind):
    model = lm(kind, 16, 1, vocab_size=ds.vocab_size, block_size=32).build(0)
    before = [p.detach().clone() for p in model.parameters()]
    train_tps = training_tokens_per_second(model, ds, batch_size=2, block_size=16, repeats=2)
    gen_tps = generation_tokens_per_second(model, new_tokens=20, repeats=2)
    for tps in (train_tps, gen_tps):
        assert math.isfinite(tps) and tps > 0
    for p, q in zip(before, model.parameters()):
        assert torch.equal(p, q)   # timing trained a copy


def test_mode_speeds(ds):
    speeds = mode_speeds(lm("minlstm", 16, 1, vocab_size=ds.vocab_size), ds,
                         batch_size=2, block_size=8, repeats=1)
    assert set(speeds) == {"parallel", "sequential"}
    assert all(math.isfinite(v) and v > 0 for v in speeds.values())
    with pytest.raises(ValueError, match="modes"):
        mode_speeds(lm("gru", 16, 1), ds, batch_size=2, block_size=8)


def test_sample_is_reproducible(ds):
    model = lm("gru", 16, 1, vocab_size=ds.vocab_size).build(0)
    a = sample(model, ds, "to be", 30, temperature=0.8, seed=3)
    b = sample(model, ds, "to be", 30, temperature=0.8, seed=3)
    c = sample(model, ds, "to be", 30, temperature=0.8, seed=4)
    assert a == b and a != c
    assert a.startswith("to be") and len(a) == 35
    with pytest.raises(ValueError, match="not in the vocabulary"):
        sample(model, ds, "TO BE", 5)
    with pytest.raises(ValueError, match="non-empty"):
        sample(model, ds, "", 5)


def test_words_and_known_word_fraction():
    assert words("To be, or NOT to be: 'tis nobler!") == ["to", "be", "or", "not", "to", "be", "tis", "nobler"]
    vocab = set(words(TEXT))
    assert known_word_fraction("to be or not", vocab) == 1.0
    assert known_word_fraction("to be xqzt wubble", vocab) == 0.5
    assert math.isnan(known_word_fraction("3 ... !", vocab))


# ----------------------------------------------------------------------------- context and state

def _lm(kind, **kw):
    spec = ModelSpec(kind, "lm", vocab_size=11, d_model=16, n_layer=2, block_size=8,
                     **({} if kind == "gpt" else {"block": "residual"}), **kw)
    return spec.build(seed=0).double()


@pytest.mark.parametrize("kind", ["lstm", "mingru"])
def test_stateful_stream_equals_one_pass_over_each_stream(kind):
    from rvt_lib.experiments.shakespeare import stream_losses
    model = _lm(kind)
    data = torch.randint(11, (3 * 4 * 8 + 5,), generator=torch.Generator().manual_seed(0))
    chunks = stream_losses(model, data, 8, stateful=True, n_streams=3)          # (3, 4)
    assert chunks.shape == (3, 4)
    x = data[:96].view(3, 32)
    y = data[1:97].view(3, 32)
    with torch.no_grad():
        full = torch.nn.functional.cross_entropy(model(x).transpose(1, 2), y, reduction="none")  # (3, 32)
    np.testing.assert_allclose(chunks, full.view(3, 4, 8).mean(-1).numpy(), rtol=1e-6)   # scored in float32
    fresh = stream_losses(model, data, 8, stateful=False, n_streams=3)
    np.testing.assert_allclose(fresh[:, 0], chunks[:, 0])            # the first chunk has no past either way
    assert not np.allclose(fresh[:, 1:], chunks[:, 1:])              # later ones read a carried state
    assert model.training                                            # the mode is restored


def test_stream_losses_refuses_a_gpt_state_and_short_texts():
    from rvt_lib.experiments.shakespeare import stream_losses
    gpt = _lm("gpt")
    data = torch.randint(11, (200,))
    assert stream_losses(gpt, data, 8, stateful=False, n_streams=2).shape == (2, 12)
    with pytest.raises(ValueError, match="no fixed-size state"):
        stream_losses(gpt, data, 8, stateful=True)
    with pytest.raises(ValueError, match="too few"):
        stream_losses(_lm("lstm"), data[:20], 8, stateful=True, n_streams=4)


def test_windowed_stream_per_position_is_the_loss_against_context_of_every_window():
    from rvt_lib.experiments.shakespeare import stream_losses
    model = _lm("gru")
    data = torch.randint(11, (2 * 5 * 8 + 3,), generator=torch.Generator().manual_seed(1))
    per = stream_losses(model, data, 8, stateful=False, n_streams=2, per_position=True)
    assert per.shape == (2, 5, 8)
    np.testing.assert_allclose(per.mean(-1), stream_losses(model, data, 8, stateful=False, n_streams=2),
                               rtol=1e-6)
    windows = tiled_windows(data[:81], 8, batch_size=4)                # the same 10 windows, text order
    with torch.no_grad():
        direct = torch.cat([torch.nn.functional.cross_entropy(model(x).transpose(1, 2), y, reduction="none")
                            for x, y in windows])                      # (10, 8)
    np.testing.assert_allclose(per.reshape(10, 8), direct.numpy(), rtol=1e-5)
    long = stream_losses(model, data, 40, stateful=False, n_streams=2)  # chunks of 40 = 5 of 8
    assert long.shape == (2, 1) and not np.allclose(long[:, 0], per.mean((1, 2)))  # more context


def test_retrain_at_window_keeps_each_learning_rate_and_widens_the_gpt(ds):
    from rvt_lib.experiments.shakespeare import retrain_at_window
    splits = split_text(ds, (0.8, 0.1, 0.1))
    specs = mixer_specs(["gpt", "mingru"], lm("gpt", 16, 1, vocab_size=ds.vocab_size, n_head=2, block_size=8))
    lrs = {"GPT": 1e-2, "minGRU block": 3e-3}
    out = retrain_at_window(specs, lrs, splits, TrainConfig(steps=2, eval_every=2), block_size=16,
                            batch_size=2, val_batches=1, test_windows=4, seeds=(0, 1))
    for name, res in out.items():
        assert list(res.runs["seed"]) == [0, 1] and set(res.runs["lr"]) == {lrs[name]}
        assert res.runs["test_loss"].notna().all()
    assert out["GPT"].models[("GPT", 0)].core.config.block_size == 16
    with pytest.raises(ValueError, match="no learning rate"):
        retrain_at_window(specs, {"GPT": 1e-2}, splits, TrainConfig(steps=2), block_size=16, batch_size=2,
                          val_batches=1, test_windows=4, seeds=(0,))
