"""The recall backend: models build and are causal, state sizes, the study end to end, errors."""
import numpy as np
import pytest
import torch

from rvt_lib.data.recall import MQARConfig, mqar_batch
from rvt_lib.experiments.recall import (KINDS, RecallSpec, ShiftEmbedding, make_specs, recall_verdict,
                                        run_recall, state_size)
from rvt_lib.train import TrainConfig


@pytest.mark.parametrize("kind", KINDS)
def test_models_build_count_and_are_causal(kind):
    spec = RecallSpec(kind, 8, vocab=16, seq_len=12)
    model = spec.build(seed=0)
    assert spec.n_params() == sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    x, _ = mqar_batch(2, 4, 4, 16, seed=0)
    y = model(x)
    assert y.shape == (2, 12, 16)
    x2 = x.clone()
    x2[:, 7:] = (x2[:, 7:] + 1) % 16                       # change the future only
    assert torch.allclose(model(x2)[:, :7], y[:, :7], atol=1e-5)
    assert not torch.allclose(model(x2)[:, 7:], y[:, 7:])
    assert torch.equal(spec.build(0).head.weight, model.head.weight)   # seeded


def test_shift_embedding_adds_the_previous_token():
    emb = ShiftEmbedding(torch.nn.Embedding(5, 3))
    x = torch.tensor([[1, 2, 3]])
    out = emb(x)
    assert torch.allclose(out[0, 0], emb.tok.weight[1])
    assert torch.allclose(out[0, 2], emb.tok.weight[3] + emb.prev.weight[2])


def test_state_sizes():
    assert state_size("lstm", 16, n_layer=2) == 2 * 2 * 16
    assert state_size("mingru", 16, n_layer=2) == 2 * 16
    assert state_size("linear_attention", 16, n_head=4) == 4 * 4 * 4
    assert state_size("deltanet", 16) == 256
    assert state_size("gpt", 16, n_layer=1, seq_len=10) == 2 * 10 * 16
    assert RecallSpec("gpt", 8, 16, 12).state_size == 2 * 12 * 8
    with pytest.raises(ValueError, match="kind"):
        state_size("rwkv", 8)


def test_spec_errors():
    with pytest.raises(ValueError, match="kind"):
        RecallSpec("mamba", 8, 16, 12)
    with pytest.raises(ValueError, match="d_model"):
        RecallSpec("gpt", 0, 16, 12)
    with pytest.raises(ValueError, match="divisible"):
        RecallSpec("linear_attention", 6, 16, 12, n_head=4)


def test_study_end_to_end():
    torch.set_num_threads(1)
    cfg = MQARConfig(n_pairs=2, n_queries=2, vocab=8)
    widths = {"gpt": [8], "linear_attention": [4, 8], "lstm": [4]}
    res = run_recall(cfg, widths, TrainConfig(steps=3, batch_size=8, eval_every=3), seeds=(0, 1),
                     lr_grid=(3e-3,), n_val=16, n_test=32)
    assert len(res.runs) == 4 * 2
    assert set(res.runs["family"]) == {"GPT", "linear attention", "LSTM"}
    assert res.runs["test_accuracy"].between(0, 1).all()
    assert list(res.runs.loc[res.runs.model == "LSTM d=4", "state_size"].unique()) == [8]
    assert len(res.table) == 4
    assert list(res.table.columns[:3]) == ["family", "d_model", "state_size"]
    v = res.verdict
    assert v["gpt"] == "GPT d=8" and len(v["table"]) == 2            # vs the smallest of each other kind
    assert v["overall"] in ("supported", "not supported", "contradicted")
    assert np.all(v["table"]["adjusted_p"].between(0, 1))
    assert list(v["growth"]["comparison"]) == ["linear attention d=8 vs linear attention d=4"]  # kinds with 2+ widths
    with pytest.raises(ValueError, match="GPT"):
        recall_verdict(res.study, make_specs(cfg, {"lstm": [4]}))
    with pytest.raises(ValueError, match="unknown kinds"):
        run_recall(cfg, {"rwkv": [4]}, TrainConfig(steps=1))


def test_the_lstm_trained_batched_gives_the_same_runs():
    from rvt_lib.batched import fit_members
    torch.set_num_threads(1)
    cfg = MQARConfig(n_pairs=2, n_queries=2, vocab=8)
    args = (cfg, {"gpt": [8], "lstm": [4]}, TrainConfig(steps=4, batch_size=8, eval_every=4))
    kw = dict(seeds=(0, 1), lr_grid=(3e-3, 1e-2), n_val=16, n_test=32)
    alone, batched = run_recall(*args, **kw).runs, run_recall(*args, trainer=fit_members, **kw).runs
    assert batched["lr"].tolist() == alone["lr"].tolist()
    np.testing.assert_allclose(batched["test_accuracy"], alone["test_accuracy"])
    np.testing.assert_allclose(batched["val_loss"], alone["val_loss"], rtol=1e-5)


def test_memory_recall_capacity():
    from rvt_lib.experiments.recall import memory_recall
    assert memory_recall(1, 2, "sum") == 1.0 == memory_recall(1, 2, "delta")   # one pair: read back exactly
    for rule in ("sum", "delta"):
        many, few = memory_recall(32, 8, rule), memory_recall(4, 64, rule)
        assert many < 0.5 < 0.9 < few                         # interference grows with N / d_k
        assert memory_recall(8, 8, rule, seed=1) != memory_recall(8, 8, rule, seed=2)
    with pytest.raises(ValueError, match="rule"):
        memory_recall(4, 4, "hebb")
    with pytest.raises(ValueError, match="d_k"):
        memory_recall(4, 0)
