"""Tests for rvt_lib.lm: matched model sizes, the training helper, speed and sampling."""
import math

import pytest
import torch

from rvt_lib.data.text import CharDataset
from rvt_lib.lm import (LMConfig, known_word_fraction, words, best_val_within, generation_tokens_per_second,
                        mode_speeds, matched_specs, mean_std, results_table, sample, spec_table, state_floats,
                        time_to_loss, train_run, training_tokens_per_second)
from rvt_lib.measure import count_parameters
from rvt_lib.models.heads import ModelSpec
from rvt_lib.train import TrainConfig


def lm(kind, d_model, n_layer, vocab_size=65, **kwargs):
    return ModelSpec(kind, vocab_size=vocab_size, d_model=d_model, n_layer=n_layer, **kwargs)


KINDS = ["gpt", "lstm", "gru", "mingru", "minlstm"]

# a small text with a learnable pattern (no download needed)
TEXT = ("to be or not to be, that is the question.\n"
        "whether 'tis nobler in the mind to suffer\n") * 60


@pytest.fixture(scope="module")
def ds():
    return CharDataset(TEXT)


@pytest.mark.parametrize("d_model,n_layer", [(64, 4), (32, 2)])
def test_matched_widths_land_near_the_reference(d_model, n_layer):
    reference = lm("gpt", d_model, n_layer, block_size=64)
    target = reference.n_params()
    specs = matched_specs(KINDS, reference)
    assert specs["gpt"] == reference
    for kind, spec in specs.items():
        assert spec.kind == kind and spec["n_layer"] == n_layer
        assert spec.n_params() == count_parameters(spec.build())   # the count of the model really built
        assert abs(spec.n_params() / target - 1) < 0.025   # every kind may take (nearly) any width
    # cheaper layers get wider: minGRU (2 d^2) > minLSTM (3) > GRU (6) > LSTM (8)
    d = {k: s["d_model"] for k, s in specs.items()}
    assert d["mingru"] > d["minlstm"] > d["gru"] > d["lstm"]


def test_spec_table_and_bad_input():
    specs = matched_specs(["lstm", "mingru"], lm("gru", 40, 2))
    target = lm("gru", 40, 2).n_params()
    table = spec_table(specs, target_params=target)
    assert list(table.index) == ["LSTM", "minGRU"]
    assert list(table["layers"]) == [2, 2]
    assert (table["vs target (%)"].abs() < 2).all()
    with pytest.raises(ValueError, match="at least one kind"):
        matched_specs([], lm("gru", 40, 2))
    with pytest.raises(ValueError, match="steps"):
        LMConfig(block_size=8, train=TrainConfig(epochs=1))
    with pytest.raises(TypeError, match="TrainConfig"):
        LMConfig(block_size=8, train={"steps": 3})


def test_state_floats():
    assert state_floats(lm("lstm", 32, 2), 1000) == 2 * 2 * 32
    assert state_floats(lm("mingru", 32, 2), 10) == state_floats(lm("mingru", 32, 2), 1000)
    gpt = lm("gpt", 32, 2, block_size=64)
    assert state_floats(gpt, 10) == 2 * 2 * 10 * 32
    assert state_floats(gpt, 1000) == state_floats(gpt, 64)   # the cache stops at block_size


@pytest.mark.parametrize("kind", ["gpt", "minlstm", "lstm"])
def test_a_few_steps_reduce_the_loss(ds, kind):
    cfg = LMConfig(block_size=16, train=TrainConfig(steps=40, batch_size=8, lr=1e-2, warmup=5, schedule="cosine",
                                                    eval_every=20, eval_batches=4))
    spec = lm(kind, 32, 1, vocab_size=ds.vocab_size, block_size=16)
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
    cfg = LMConfig(block_size=8, train=TrainConfig(steps=6, batch_size=4, lr=3e-3, warmup=2,
                                                   eval_every=3, eval_batches=2))
    spec = lm("mingru", 16, 1, vocab_size=ds.vocab_size)
    a, b = train_run(spec, ds, cfg, seed=0), train_run(spec, ds, cfg, seed=0)
    c = train_run(spec, ds, cfg, seed=1)
    assert a.history.val_loss == b.history.val_loss
    assert a.history.val_loss != c.history.val_loss
    assert best_val_within(a.history, float("inf")) == min(a.history.val_loss)
    assert math.isnan(best_val_within(a.history, -1.0))
    assert time_to_loss(a.history, float("inf")) == a.history.val_seconds[0]
    assert time_to_loss(a.history, min(a.history.val_loss)) in a.history.val_seconds
    assert math.isnan(time_to_loss(a.history, -1.0))
    d = train_run(spec, ds, cfg, lr=1e-2, seed=0)      # a per-kind learning rate overrides the config's
    assert d.lr == 1e-2 and a.lr == 3e-3 and d.history.lr[-1] == pytest.approx(1e-2)


def test_block_size_check(ds):
    cfg = LMConfig(block_size=32, train=TrainConfig(steps=2, batch_size=2))
    with pytest.raises(ValueError, match="block_size"):
        train_run(lm("gpt", 16, 1, vocab_size=ds.vocab_size, block_size=16), ds, cfg)


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
