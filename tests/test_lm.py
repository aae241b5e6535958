"""Tests for rvt_lib.lm: matched model sizes, the training helper, speed and sampling."""
import math

import pytest
import torch

from rvt_lib.data.text import CharDataset
from rvt_lib.lm import (LMSpec, known_word_fraction, words, TrainConfig, best_val_within, count_lm_parameters,
                        generation_tokens_per_second, match_width, mode_speeds, matched_specs, mean_std,
                        results_table, sample, spec_table, time_to_loss, train_run,
                        training_tokens_per_second)
from rvt_lib.measure import count_parameters

KINDS = ["gpt", "lstm", "gru", "mingru", "minlstm"]

# a small text with a learnable pattern (no download needed)
TEXT = ("to be or not to be, that is the question.\n"
        "whether 'tis nobler in the mind to suffer\n") * 60


@pytest.fixture(scope="module")
def ds():
    return CharDataset(TEXT)


@pytest.mark.parametrize("target,n_layer", [(200_000, 4), (30_000, 2)])
def test_matched_widths_land_near_the_target(target, n_layer):
    specs = matched_specs(KINDS, target, n_layer=n_layer, block_size=64)
    for kind, spec in specs.items():
        assert spec.kind == kind and spec.n_layer == n_layer
        # the count reported is the count of the model really built
        assert spec.params == count_parameters(spec.build())
        assert abs(spec.params / target - 1) < 0.05, (kind, spec.d_model, spec.params)
    # the recurrent kinds may take any width, so they land much closer
    for kind in ("lstm", "gru", "mingru", "minlstm"):
        assert abs(specs[kind].params / target - 1) < 0.015
    # cheaper layers get wider: minGRU (2 d^2) > minLSTM (3) > GRU (6) > LSTM (8)
    d = {k: s.d_model for k, s in specs.items()}
    assert d["mingru"] > d["minlstm"] > d["gru"] > d["lstm"]


def test_match_width_is_the_closest_width():
    target = 123_457
    spec = match_width("gru", target, n_layer=3)
    gap = abs(spec.params - target)
    for d in (spec.d_model - 1, spec.d_model + 1):
        assert abs(count_lm_parameters("gru", d, n_layer=3) - target) >= gap
    gpt = match_width("gpt", target, n_layer=2, n_head=4, block_size=64)
    assert gpt.d_model % 4 == 0
    for d in (gpt.d_model - 4, gpt.d_model + 4):
        other = count_lm_parameters("gpt", d, n_layer=2, n_head=4, block_size=64)
        assert abs(other - target) >= abs(gpt.params - target)


def test_spec_table_and_bad_input():
    specs = matched_specs(["lstm", "mingru"], 50_000, n_layer={"lstm": 1, "mingru": 3})
    table = spec_table(specs, target_params=50_000)
    assert list(table.index) == ["LSTM", "minGRU"]
    assert list(table["layers"]) == [1, 3]
    assert (table["vs target (%)"].abs() < 2).all()
    with pytest.raises(ValueError, match="unknown model kind"):
        match_width("mamba", 10_000, n_layer=1)
    with pytest.raises(ValueError, match="divisible"):
        LMSpec("gpt", d_model=30, n_layer=1, n_head=4)
    with pytest.raises(ValueError, match="no entry"):
        matched_specs(["gru"], 10_000, n_layer={"lstm": 1})


def test_state_floats():
    assert LMSpec("lstm", 32, 2).state_floats(1000) == 2 * 2 * 32
    assert LMSpec("mingru", 32, 2).state_floats(10) == LMSpec("mingru", 32, 2).state_floats(1000)
    gpt = LMSpec("gpt", 32, 2, block_size=64)
    assert gpt.state_floats(10) == 2 * 2 * 10 * 32
    assert gpt.state_floats(1000) == gpt.state_floats(64)   # the cache stops at block_size


@pytest.mark.parametrize("kind", ["gpt", "minlstm", "lstm"])
def test_a_few_steps_reduce_the_loss(ds, kind):
    cfg = TrainConfig(steps=40, batch_size=8, block_size=16, lr=1e-2, warmup=5,
                      eval_every=20, eval_batches=4)
    spec = LMSpec(kind, 32, 1, vocab_size=ds.vocab_size, block_size=16)
    run = train_run(spec, ds, cfg, seed=0)
    h = run.history
    assert h.steps_done == 40 and h.val_steps == [20, 40]
    assert h.train_loss[-1] < h.train_loss[0] - 0.5        # from ~ln(22) = 3.1 downwards
    assert run.final_val < math.log(ds.vocab_size) - 0.5
    assert all(b >= a for a, b in zip(h.val_seconds, h.val_seconds[1:]))
    table = results_table({kind: run}, cfg)
    assert table.loc[spec.name, "steps"] == 40
    assert table.loc[spec.name, "train tokens/s (in fit)"] > 0


def test_same_seed_same_run_different_seed_different_run(ds):
    cfg = TrainConfig(steps=6, batch_size=4, block_size=8, lr=3e-3, warmup=2,
                      eval_every=3, eval_batches=2)
    spec = LMSpec("mingru", 16, 1, vocab_size=ds.vocab_size)
    a, b = train_run(spec, ds, cfg, seed=0), train_run(spec, ds, cfg, seed=0)
    c = train_run(spec, ds, cfg, seed=1)
    assert a.history.val_loss == b.history.val_loss
    assert a.history.val_loss != c.history.val_loss
    assert best_val_within(a.history, float("inf")) == min(a.history.val_loss)
    assert math.isnan(best_val_within(a.history, -1.0))
    assert time_to_loss(a.history, float("inf")) == a.history.val_seconds[0]
    assert time_to_loss(a.history, min(a.history.val_loss)) in a.history.val_seconds
    assert math.isnan(time_to_loss(a.history, -1.0))


def test_block_size_check(ds):
    cfg = TrainConfig(steps=2, batch_size=2, block_size=32)
    with pytest.raises(ValueError, match="block_size"):
        train_run(LMSpec("gpt", 16, 1, vocab_size=ds.vocab_size, block_size=16), ds, cfg)


@pytest.mark.parametrize("kind", ["gpt", "mingru", "lstm"])
def test_tokens_per_second_is_positive_and_leaves_the_model_alone(ds, kind):
    torch.manual_seed(0)
    model = LMSpec(kind, 16, 1, vocab_size=ds.vocab_size, block_size=32).build()
    before = [p.detach().clone() for p in model.parameters()]
    train_tps = training_tokens_per_second(model, ds, batch_size=2, block_size=16, repeats=2)
    gen_tps = generation_tokens_per_second(model, new_tokens=20, repeats=2)
    for tps in (train_tps, gen_tps):
        assert math.isfinite(tps) and tps > 0
    for p, q in zip(before, model.parameters()):
        assert torch.equal(p, q)   # timing trained a copy


def test_mode_speeds(ds):
    speeds = mode_speeds(LMSpec("minlstm", 16, 1, vocab_size=ds.vocab_size), ds,
                         batch_size=2, block_size=8, repeats=1)
    assert set(speeds) == {"parallel", "sequential"}
    assert all(math.isfinite(v) and v > 0 for v in speeds.values())
    with pytest.raises(ValueError, match="modes"):
        mode_speeds(LMSpec("gru", 16, 1), ds, batch_size=2, block_size=8)


def test_sample_is_reproducible(ds):
    torch.manual_seed(0)
    model = LMSpec("gru", 16, 1, vocab_size=ds.vocab_size).build()
    a = sample(model, ds, "to be", 30, temperature=0.8, seed=3)
    b = sample(model, ds, "to be", 30, temperature=0.8, seed=3)
    c = sample(model, ds, "to be", 30, temperature=0.8, seed=4)
    assert a == b and a != c
    assert a.startswith("to be") and len(a) == 35
    with pytest.raises(ValueError, match="not in the vocabulary"):
        sample(model, ds, "TO BE", 5)
    with pytest.raises(ValueError, match="non-empty"):
        sample(model, ds, "", 5)


def test_mean_std():
    m, s = mean_std([1.0, 2.0, 3.0])
    assert m == 2.0 and s == pytest.approx(1.0)
    assert math.isnan(mean_std([1.0])[1])
    with pytest.raises(ValueError):
        mean_std([])


def test_words_and_known_word_fraction():
    assert words("To be, or NOT to be: 'tis nobler!") == ["to", "be", "or", "not", "to", "be", "tis", "nobler"]
    vocab = set(words(TEXT))
    assert known_word_fraction("to be or not", vocab) == 1.0
    assert known_word_fraction("to be xqzt wubble", vocab) == 0.5
    assert math.isnan(known_word_fraction("3 ... !", vocab))
