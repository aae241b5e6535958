"""MQAR data: shapes, every query's target is its key's value, ignored positions, splits, errors."""
import pytest
import torch

from rvt_lib.data.recall import IGNORE, MQARConfig, mqar_batch, mqar_sampler, mqar_splits


def test_shapes_and_layout():
    x, y = mqar_batch(5, n_pairs=6, n_queries=4, vocab=20, seed=0)
    assert x.shape == y.shape == (5, 2 * 6 + 4)
    assert x.dtype == y.dtype == torch.long
    half = 10
    assert (x[:, 0:12:2] < half).all() and (x[:, 1:12:2] >= half).all()   # k v k v ...
    assert (x[:, 12:] < half).all()                                        # queries are keys
    assert (x < 20).all() and (x >= 0).all()


def test_targets_are_the_paired_values():
    x, y = mqar_batch(32, n_pairs=8, n_queries=8, vocab=40, seed=3)
    for b in range(32):
        table = {int(x[b, 2 * i]): int(x[b, 2 * i + 1]) for i in range(8)}
        assert len(table) == 8                                             # keys distinct
        queries = [int(q) for q in x[b, 16:]]
        assert len(set(queries)) == 8                                      # distinct queries
        for t, q in enumerate(queries):
            assert int(y[b, 16 + t]) == table[q]


def test_only_queries_are_scored():
    x, y = mqar_batch(4, n_pairs=5, n_queries=3, vocab=16, seed=1)
    assert (y[:, :10] == IGNORE).all()
    assert (y[:, 10:] != IGNORE).all()
    loss = torch.nn.functional.cross_entropy(torch.zeros(4 * 13, 16), y.reshape(-1))
    assert torch.isfinite(loss)                                            # ignore_index matches


def test_seeds_generators_and_splits():
    a, b = mqar_batch(3, 4, 2, 16, seed=7), mqar_batch(3, 4, 2, 16, seed=7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    g = torch.Generator().manual_seed(7)
    c = mqar_batch(3, 4, 2, 16, generator=g)
    assert torch.equal(a[0], c[0])
    d = mqar_batch(3, 4, 2, 16, generator=g)                              # the generator advanced
    assert not torch.equal(c[0], d[0])
    cfg = MQARConfig(n_pairs=4, n_queries=4, vocab=16)
    val, test = mqar_splits(cfg, n_val=70, n_test=70, batch_size=32)
    assert [len(v[0]) for v in val] == [32, 32, 6]
    assert not torch.equal(val[0][0], test[0][0])
    assert cfg.seq_len == 12
    torch.manual_seed(0)
    s = mqar_sampler(cfg, 8)
    assert s()[0].shape == (8, 12) and not torch.equal(s()[0], s()[0])


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_batch=0, n_pairs=4, n_queries=2, vocab=16), "n_batch"),
    (dict(n_batch=2, n_pairs=4, n_queries=5, vocab=16), "n_queries"),
    (dict(n_batch=2, n_pairs=9, n_queries=2, vocab=16), "vocab"),
    (dict(n_batch=2, n_pairs=2.0, n_queries=2, vocab=16), "n_pairs"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mqar_batch(**kwargs)


def test_bad_seed_and_splits():
    with pytest.raises(ValueError, match="not both"):
        mqar_batch(2, 2, 2, 8, seed=0, generator=torch.Generator())
    with pytest.raises(ValueError, match="differ"):
        mqar_splits(MQARConfig(4, 4, 16), 10, 10, seeds=(1, 1))
    with pytest.raises(ValueError, match="vocab"):
        MQARConfig(n_pairs=10, n_queries=2, vocab=16)
