"""The study runner: the test split stays sealed while tuning, the lr is chosen on validation,
results are repeatable, kept tuning runs equal fresh ones, and bad input is refused."""

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from rvt_lib import stats
from rvt_lib.runner import SEALED_MESSAGE, Scores, Sealed, StudyResult, Task, next_lr, run_study
from rvt_lib.train import TrainConfig, evaluate, fit

torch.set_num_threads(1)
N_FEATURES = 3
CONFIG = TrainConfig(steps=25, clip=None, weight_decay=0.0, eval_every=25)
COST = ["train_seconds", "peak_MB", "samples_per_s", "tokens_per_s"]  # measured, so never repeatable


def batches(seed: int, n_batches: int, batch: int = 16):
    """A fixed list of (x, y) batches of the regression y = x @ w + noise (w the same for every split)."""
    w = torch.tensor([[1.5], [-2.0], [0.5]])
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        x = torch.randn(batch, N_FEATURES, generator=g)
        out.append((x, x @ w + 0.1 * torch.randn(batch, 1, generator=g)))
    return out


class Spec:
    """A stand-in for ModelSpec (build(seed), n_params()) around a small nn.Module, counting builds."""

    def __init__(self, make, name="net"):
        self.make, self.name, self.builds = make, name, 0

    def build(self, seed: int = 0):
        torch.manual_seed(seed)
        self.builds += 1
        return self.make()

    def n_params(self) -> int:
        return sum(p.numel() for p in self.make().parameters())


def linear():
    return nn.Linear(N_FEATURES, 1)


def mlp():
    return nn.Sequential(nn.Linear(N_FEATURES, 8), nn.Tanh(), nn.Linear(8, 1))


class Exploding(nn.Module):
    """exp(linear(x)): with a large learning rate the output overflows to inf (the run diverges)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(N_FEATURES, 1)

    def forward(self, x):
        return torch.exp(self.lin(x))


def score(model, data):
    """Per-item squared error and 0/1 'close enough' correctness."""
    err = torch.cat([(model(x) - y).squeeze(1) for x, y in data])
    sq = (err ** 2).numpy()
    correct = (err.abs() < 0.5).numpy().astype(float)
    return Scores({"mse": sq.mean(), "accuracy": correct.mean()}, {"sqerr": sq, "correct": correct})


def make_task(test=None, score_fn=score, name="toy"):
    return Task(name, train=batches(0, 8), val=batches(1, 3), test=batches(2, 4) if test is None else test,
                score=score_fn, loss_fn=F.mse_loss)


def study(specs=None, task=None, **kw):
    kw = {"seeds": (0, 1), "lr_grid": (1e-3, 3e-2), "measure_cost": False} | kw
    specs = {"linear": Spec(linear), "mlp": Spec(mlp)} if specs is None else specs
    return run_study(specs, make_task() if task is None else task, CONFIG, **kw)


# ----------------------------------------------------------------------------- sealing

def test_sealed_raises_until_unsealed():
    s = Sealed([1, 2])
    for read in (lambda: list(s), lambda: len(s), lambda: s.open(), lambda: s.append):
        with pytest.raises(RuntimeError, match=SEALED_MESSAGE):
            read()
    s.unseal()
    assert list(s) == [1, 2] and len(s) == 2
    called = Sealed(lambda: "batch")
    with pytest.raises(RuntimeError, match="sealed"):
        called()
    assert Sealed(Sealed([3])).sealed and Task("t", [1], [1], [1], score).test.sealed


def test_a_task_that_reads_test_while_tuning_fails():
    """A score function that peeks at the test split during tuning is caught."""
    holder = {}

    def peeking_score(model, data):
        list(holder["task"].test)  # reading the test split: only legal after the choice
        return score(model, data)

    holder["task"] = task = make_task(score_fn=peeking_score)
    with pytest.raises(RuntimeError, match=SEALED_MESSAGE):
        study(task=task)


def test_the_runner_reads_test_only_after_all_training():
    specs = {"linear": Spec(linear), "mlp": Spec(mlp)}
    expected_builds = 2 * (2 * 1 + 2 - 1)  # 2 models x (2 lrs x 1 tune seed + 1 new seed)
    reads = []

    class Watched(list):
        def __iter__(self):
            reads.append(sum(s.builds for s in specs.values()))
            return super().__iter__()

    result = study(specs, make_task(test=Watched(batches(2, 4))))
    assert reads and min(reads) == expected_builds  # every model was built (and trained) first
    assert len(reads) == 2 * len(result.runs)  # once for the loss, once for score(): per run, once each
    assert not result.runs["reused"].all() and result.runs["reused"].any()


# ----------------------------------------------------------------------------- choosing

def test_chosen_lr_is_the_lowest_mean_val_loss():
    result = study(lr_grid=(1e-4, 3e-2, 30.0), tune_seeds=(0, 1))
    t = result.tuning
    assert len(t) == 2 * 3 * 2
    for name in ("linear", "mlp"):
        mean = t[t.model == name].groupby("lr")["val_loss"].mean()
        assert result.chosen[name] == mean.idxmin() == 3e-2  # 1e-4 barely moves, 30 overshoots
        assert (t[t.model == name].chosen == (t[t.model == name].lr == 3e-2)).all()
        assert (result.runs[result.runs.model == name].lr == 3e-2).all()


@pytest.mark.filterwarnings("ignore:diverged")
def test_a_diverging_lr_is_never_chosen():
    result = study({"exp": Spec(Exploding)}, lr_grid=(1e-3, 1e-2, 1e3))
    t = result.tuning.set_index("lr")
    assert bool(t.loc[1e3, "diverged"]) and not t.loc[1e-2, "diverged"]
    assert result.chosen["exp"] == 1e-2
    assert result.tuning_histories[("exp", 1e3, 0)].diverged


@pytest.mark.filterwarnings("ignore:diverged")
def test_everything_diverges_raises():
    with pytest.raises(RuntimeError, match="every learning rate diverged"):
        study({"exp": Spec(Exploding)}, lr_grid=(1e3, 1e4))


def test_ties_go_to_the_smaller_lr():
    class Frozen(nn.Module):  # its one parameter gets zero gradient: every lr gives the same val loss
        def __init__(self):
            super().__init__()
            self.p = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return x[:, :1] * 0 + 0 * self.p

    result = study({"frozen": Spec(Frozen)}, lr_grid=(3e-2, 1e-3, 1e-2), seeds=(0,))
    assert result.tuning.val_loss.nunique() == 1
    assert result.chosen["frozen"] == 1e-3


def test_next_lr_steps_past_an_end():
    assert next_lr((1e-3, 3e-3, 1e-2), upward=True) == 3e-2      # the 1-3-10 series
    assert next_lr((1e-2, 1e-3, 3e-3), upward=False) == 3e-4     # order does not matter
    assert next_lr((3e-3, 1e-2, 3e-2), upward=True) == 0.1
    assert next_lr((0.002, 0.004), upward=True) == 0.008         # off the series: the end's ratio
    assert next_lr((0.002, 0.004), upward=False) == 0.001
    with pytest.raises(ValueError, match="two or more"):
        next_lr((1e-3,), upward=True)


def test_extend_grows_the_grid_while_the_choice_is_at_an_end():
    """Over 25 steps the linear model learns faster the larger the rate, up to far above 3e-4:
    the choice sits at the top, so the grid grows upward, as often as allowed and no more."""
    plain = study({"linear": Spec(linear)}, lr_grid=(1e-4, 3e-4), seeds=(0,))
    assert plain.chosen["linear"] == 3e-4 and plain.at_edge("linear")
    assert plain.grids["linear"] == (1e-4, 3e-4) and not plain.tuning.extended.any()
    grown = study({"linear": Spec(linear)}, lr_grid=(1e-4, 3e-4), seeds=(0,), extend=2)
    t = grown.tuning
    assert grown.grids["linear"] == (1e-4, 3e-4, 1e-3, 3e-3)
    assert sorted(t[t.extended].lr) == [1e-3, 3e-3] and not t[~t.extended].lr.isin([1e-3, 3e-3]).any()
    assert grown.chosen["linear"] == 3e-3 == t.loc[t.val_loss.idxmin(), "lr"]
    assert grown.at_edge("linear")  # the budget ran out before a rate above did worse
    assert (grown.runs.lr == 3e-3).all() and grown.runs.reused.all()  # the kept run is an added one


def test_extend_stops_once_the_choice_is_bracketed():
    result = study({"linear": Spec(linear)}, lr_grid=(1e-2, 3e-2), seeds=(0,), extend=6)
    t = result.tuning.set_index("lr")
    lr, grid = result.chosen["linear"], result.grids["linear"]
    assert not result.at_edge("linear") and grid[0] < lr < grid[-1]
    above = grid[grid.index(lr) + 1]
    assert above == grid[-1]  # it stopped at the first rate above the choice that did worse
    assert t.loc[above, "val_loss"] > t.loc[lr, "val_loss"] or t.loc[above, "diverged"]
    assert len(grid) < 2 + 6


def test_an_added_rate_that_only_ties_does_not_take_over():
    """Every rate ties (the parameter gets no gradient): the choice stays at the smallest rate
    of the given grid, the one rate below it is tried once, and the choice is then bracketed."""
    class Frozen(nn.Module):
        def __init__(self):
            super().__init__()
            self.p = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return x[:, :1] * 0 + 0 * self.p

    result = study({"frozen": Spec(Frozen)}, lr_grid=(1e-3, 3e-3), seeds=(0,), extend=2)
    assert result.grids["frozen"] == (3e-4, 1e-3, 3e-3)
    assert result.chosen["frozen"] == 1e-3 and not result.at_edge("frozen")


def test_a_one_rate_grid_is_never_extended():
    result = study({"linear": Spec(linear)}, lr_grid=(1e-4,), seeds=(0,), extend=3)
    assert result.grids["linear"] == (1e-4,) and not result.at_edge("linear") and len(result.tuning) == 1
    with pytest.raises(ValueError, match="no model"):
        result.at_edge("mlp")


def test_select_by_a_metric_to_maximise():
    result = study(lr_grid=(1e-4, 3e-2), select="val_accuracy", maximize=True)
    t = result.tuning
    for name in ("linear", "mlp"):
        assert result.chosen[name] == t[t.model == name].groupby("lr")["val_accuracy"].mean().idxmax()


# ----------------------------------------------------------------------------- results

def test_runs_table_shape_and_columns():
    result = study(seeds=(0, 1, 2), measure_cost=True)
    assert isinstance(result, StudyResult)
    runs = result.runs
    assert len(runs) == 2 * 3
    assert set(zip(runs.model, runs.seed)) == {(m, s) for m in ("linear", "mlp") for s in (0, 1, 2)}
    for col in ["lr", "params", "val_loss", "val_mse", "test_loss", "test_mse", "test_accuracy",
                "param_bytes", "steps", "diverged", "reused", *COST]:
        assert col in runs.columns, col
    assert (runs.train_seconds > 0).all() and (runs.samples_per_s > 0).all()
    assert (runs.tokens_per_s == runs.samples_per_s).all()  # (B, F) features: no time axis
    assert (runs.peak_MB >= 0).all()
    assert (runs[runs.model == "linear"].params == 4).all() and (runs[runs.model == "mlp"].params == 41).all()
    assert (runs.param_bytes == 4 * runs.params).all() and (runs.steps == CONFIG.steps).all()
    # the test loss is the task's loss on the test split, and test_mse (from score) agrees with it
    np.testing.assert_allclose(runs.test_loss, runs.test_mse, rtol=1e-5)
    assert set(result.per_item) == set(zip(runs.model, runs.seed))
    assert result.per_item[("mlp", 1)]["sqerr"].shape == (4 * 16,)
    assert set(result.histories) == set(result.models) == set(result.per_item)


def test_repeatable():
    a, b = study(), study()
    pd.testing.assert_frame_equal(a.runs.drop(columns=COST), b.runs.drop(columns=COST))
    pd.testing.assert_frame_equal(a.tuning.drop(columns=["train_seconds", "peak_MB"]),
                                  b.tuning.drop(columns=["train_seconds", "peak_MB"]))
    for key in a.per_item:
        np.testing.assert_array_equal(a.per_item[key]["sqerr"], b.per_item[key]["sqerr"])


def test_a_kept_tuning_run_equals_a_fresh_run():
    """Seed 0 is a tune seed: its reported run is the tuning run, and that equals training anew."""
    specs = {"mlp": Spec(mlp)}
    task = make_task()
    result = study(specs, task)
    row = result.runs.set_index("seed").loc[0]
    assert row.reused
    model = specs["mlp"].build(seed=0)
    fit(model, task.train, CONFIG.but(lr=row.lr), val=task.val, loss_fn=F.mse_loss, seed=0, progress=False)
    assert evaluate(model, task.val, F.mse_loss) == row.val_loss
    task.test.unseal()
    assert evaluate(model, task.test, F.mse_loss) == row.test_loss
    for p, q in zip(model.parameters(), result.models[("mlp", 0)].parameters()):
        assert torch.equal(p, q)


def test_a_group_trainer_gives_the_same_numbers():
    calls = []

    def trainer(models, train_sources, configs, *, val_sources=None, loss_fn=None, seeds=None):
        calls.append(len(models))
        return [fit(m, t, c, val=v, loss_fn=loss_fn, seed=s, progress=False)
                for m, t, c, v, s in zip(models, train_sources, configs, val_sources, seeds)]

    a, b = study(), study(trainer=trainer, measure_cost=True)
    assert calls == [2, 2, 1, 1]  # per model: 2 lrs together, then the one new seed
    cols = ["model", "seed", "lr", "val_loss", "test_loss", "test_mse"]
    pd.testing.assert_frame_equal(a.runs[cols], b.runs[cols])
    assert set(b.runs.group_size) == {2, 1}


def test_callable_sources():
    """Batch samplers for train, val and test: scored on the same seeded draws for every model."""
    def sampler(seed):
        data = batches(seed, 50)
        return lambda: data[int(torch.randint(0, 50, ()))]

    def sample_score(model, data):
        xs = [data() for _ in range(3)]
        sq = torch.cat([((model(x) - y) ** 2).squeeze(1) for x, y in xs]).numpy()
        return Scores({"mse": sq.mean()}, sq)

    task = Task("sampled", sampler(0), sampler(1), sampler(2), sample_score, F.mse_loss)
    result = run_study({"linear": Spec(linear)}, task, CONFIG.but(eval_batches=4), seeds=(0, 1),
                       lr_grid=(3e-2,), measure_cost=False)
    again = run_study({"linear": Spec(linear)}, task, CONFIG.but(eval_batches=4), seeds=(0, 1),
                      lr_grid=(3e-2,), measure_cost=False)
    pd.testing.assert_frame_equal(result.runs.drop(columns=COST), again.runs.drop(columns=COST))
    assert result.pooled("linear").shape == (3 * 16,)


# ----------------------------------------------------------------------------- summary and compare

@pytest.fixture(scope="module")
def two_models():
    class Zero(nn.Module):  # predicts a learned constant: much worse than the linear model
        def __init__(self):
            super().__init__()
            self.c = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return self.c.expand(x.shape[0], 1)

    return study({"linear": Spec(linear), "const": Spec(Zero)}, seeds=(0, 1, 2), lr_grid=(3e-2,))


def test_summary(two_models):
    s = two_models.summary("test_loss")
    assert list(s.index) == ["linear", "const"] and (s["n"] == 3).all()
    assert s.loc["linear", "mean"] == pytest.approx(two_models.runs.query("model == 'linear'").test_loss.mean())
    assert "test_mse" in two_models.summary().columns


def test_compare_returns_verdicts(two_models):
    v = two_models.compare("linear", "const", "sqerr", lower_is_better=True)
    assert isinstance(v, stats.Verdict) and v.winner == "linear"
    pooled = np.mean([two_models.per_item[("linear", s)]["sqerr"] for s in (0, 1, 2)], axis=0)
    np.testing.assert_allclose(two_models.pooled("linear", "sqerr"), pooled)
    assert v.test.estimate == pytest.approx(float(np.mean(pooled - two_models.pooled("const", "sqerr"))))
    m = two_models.compare("linear", "const", "correct", test="mcnemar")
    assert isinstance(m, stats.Verdict) and m.test.name == "McNemar" and m.winner == "linear"
    d = two_models.compare("const", "linear", "sqerr", test="diebold_mariano")
    assert isinstance(d, stats.Verdict) and d.winner == "linear"


def test_compare_bad_input(two_models):
    with pytest.raises(ValueError, match="test must be one of"):
        two_models.compare("linear", "const", "sqerr", True, test="t-test")
    with pytest.raises(ValueError, match="no model"):
        two_models.compare("linear", "gpt", "sqerr", True)
    with pytest.raises(ValueError, match="say which per-item score"):
        two_models.compare("linear", "const", lower_is_better=True)
    with pytest.raises(ValueError, match="no per-item score 'loss'"):
        two_models.compare("linear", "const", "loss", True)
    with pytest.raises(ValueError, match="0/1 correctness"):
        two_models.compare("linear", "const", "sqerr", test="mcnemar")
    with pytest.raises(ValueError, match="two different models"):
        two_models.compare("linear", "linear", "sqerr", True)


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("kwargs,error,match", [
    (dict(lr_grid=()), ValueError, "lr_grid must be a non-empty"),
    (dict(seeds=()), ValueError, "seeds must be a non-empty"),
    (dict(tune_seeds=[]), ValueError, "tune_seeds must be a non-empty"),
    (dict(seeds=(0, 0)), ValueError, "repeated"),
    (dict(seeds=(0.5,)), ValueError, "integers"),
    (dict(lr_grid=(1e-3, -1.0)), ValueError, "positive finite"),
    (dict(lr_grid=(float("nan"),)), ValueError, "positive finite"),
    (dict(select="test_loss"), ValueError, "never chooses"),
    (dict(select="loss"), ValueError, "validation score"),
    (dict(select="val_f1"), ValueError, "not a validation score"),
    (dict(trainer="fit"), TypeError, "trainer"),
    (dict(extend=-1), ValueError, "extend must be a whole number"),
    (dict(extend=1.5), ValueError, "extend must be a whole number"),
    (dict(extend=True), ValueError, "extend must be a whole number"),
])
def test_bad_study_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        study(**kwargs)


def test_bad_specs_task_config():
    task = make_task()
    with pytest.raises(ValueError, match="non-empty dict"):
        run_study({}, task, CONFIG)
    with pytest.raises(TypeError, match="ModelSpecs"):
        run_study({"a": linear}, task, CONFIG)
    with pytest.raises(TypeError, match="runner.Task"):
        run_study({"a": Spec(linear)}, {"train": []}, CONFIG)
    with pytest.raises(TypeError, match="TrainConfig"):
        run_study({"a": Spec(linear)}, task, {"steps": 10})
    with pytest.raises(ValueError, match="val are required"):
        Task("t", batches(0, 1), None, batches(1, 1), score)


def test_bad_scores():
    with pytest.raises(ValueError, match="1-D"):
        Scores({"a": 1.0}, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="empty"):
        Scores({"a": 1.0}, {})
    with pytest.raises(TypeError, match="dict"):
        Scores([1.0], np.zeros(2))
    task = make_task(score_fn=lambda model, data: {"mse": 1.0})
    with pytest.raises(TypeError, match="must return a runner.Scores"):
        study(task=task)


# ----------------------------------------------------------------------------- with the real models

def test_with_model_specs_on_a_tiny_language_model_task():
    heads = pytest.importorskip("rvt_lib.models.heads")
    if not hasattr(heads, "ModelSpec"):
        pytest.skip("ModelSpec not there yet")
    g = torch.Generator().manual_seed(0)
    text = torch.randint(0, 5, (600,), generator=g)
    windows = text[:585].view(65, 9)  # (65, T + 1)

    def split(rows):
        return [(w[:, :-1], w[:, 1:]) for w in windows[rows].split(4)]

    from rvt_lib.runner import score_classes

    task = Task("tiny lm", split(slice(0, 40)), split(slice(40, 52)), split(slice(52, 65)), score_classes)
    common = dict(vocab_size=5, d_model=8, n_layer=1)
    specs = {"GPT": heads.ModelSpec("gpt", n_head=2, block_size=8, **common),
             "GRU block": heads.ModelSpec("gru", block="residual", **common)}
    result = run_study(specs, task, TrainConfig(steps=6), seeds=(0, 1), lr_grid=(1e-2,), measure_cost=True)
    runs = result.runs.set_index("model")
    assert runs.loc["GPT", "params"].tolist() == [specs["GPT"].n_params()] * 2
    assert (runs.tokens_per_s == 8 * runs.samples_per_s).all()  # (B, T) token ids: T = 8 per sample
    assert result.per_item[("GPT", 0)]["loss"].shape == (13,)
    assert isinstance(result.compare("GPT", "GRU block", "loss", lower_is_better=True), stats.Verdict)
    assert "test_accuracy" in runs.columns and (runs.test_loss > 0).all()


def test_fit_batched_as_the_trainer():
    """Members trained together (rvt_lib.batched) give the numbers of members trained one by one."""
    batched = pytest.importorskip("rvt_lib.batched")
    specs = {"mlp": Spec(mlp)}
    a = study(specs, lr_grid=(1e-3, 3e-2), tune_seeds=(0, 1), seeds=(0, 1, 2))
    b = study(specs, lr_grid=(1e-3, 3e-2), tune_seeds=(0, 1), seeds=(0, 1, 2), trainer=batched.fit_batched)
    assert a.chosen == b.chosen
    cols = ["val_loss", "test_loss", "test_mse"]
    np.testing.assert_allclose(a.runs[cols].to_numpy(float), b.runs[cols].to_numpy(float), rtol=1e-4, atol=1e-6)
    assert b.runs.group_size.tolist() == [4, 4, 1]  # seeds 0, 1 kept from tuning (4 together), seed 2 alone


# ----------------------------------------------------------------------------- the ready-made scores

def test_score_classes_classification_and_per_position():
    from rvt_lib.runner import score_classes

    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    data = [(torch.randn(5, 4), torch.randint(0, 3, (5,))) for _ in range(2)]
    s = score_classes(model, data)
    x, y = torch.cat([d[0] for d in data]), torch.cat([d[1] for d in data])
    with torch.no_grad():
        logits = model(x)
    np.testing.assert_allclose(s.per_item["loss"], F.cross_entropy(logits, y, reduction="none").numpy(), rtol=1e-6)
    np.testing.assert_array_equal(s.per_item["correct"], (logits.argmax(1) == y).float().numpy())
    assert s.metrics["loss"] == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-6)
    # per position: (B, T, C) logits, items are windows
    seq = [(torch.randn(2, 6, 4), torch.randint(0, 3, (2, 6))) for _ in range(3)]
    s = score_classes(model, seq)
    assert s.per_item["loss"].shape == s.per_item["correct"].shape == (6,)
    x, y = torch.cat([d[0] for d in seq]), torch.cat([d[1] for d in seq])
    with torch.no_grad():
        ce = F.cross_entropy(model(x).transpose(1, 2), y, reduction="none")  # (6, T)
    np.testing.assert_allclose(s.per_item["loss"], ce.mean(1).numpy(), rtol=1e-5)
    assert s.metrics["loss"] == pytest.approx(ce.mean().item(), rel=1e-5)
    with pytest.raises(TypeError, match="fixed list of batches"):
        score_classes(model, lambda: data[0])


def test_score_regression():
    from rvt_lib.runner import score_regression

    model = Spec(linear).build(0)
    data = batches(3, 2)
    s = score_regression(model, data)
    with torch.no_grad():
        err = torch.cat([model(x) - y for x, y in data]).squeeze(1)
    np.testing.assert_allclose(s.per_item["sqerr"], (err ** 2).numpy(), rtol=1e-5)
    assert s.metrics["mae"] == pytest.approx(err.abs().mean().item(), rel=1e-5)


# ----------------------------------------------------------------------------- devices

class _OnMeta(torch.nn.Module):
    """A model whose weights live on the "meta" device: it refuses inputs anywhere else and
    answers with CPU logits of ``shape(x)``, so a score that forgets to move its inputs to the
    model's device (a GPU under RVT_BUDGET=full) fails here, on a CPU-only machine."""

    def __init__(self, out_shape):
        super().__init__()
        self.w = torch.nn.Parameter(torch.empty(1, device="meta"))
        self.out_shape = out_shape

    def forward(self, x):
        assert x.device.type == "meta", f"input on {x.device}, weights on meta"
        return torch.zeros(self.out_shape(x))


def _device_cases():
    from rvt_lib.experiments import automata, ecg, recall, stocks
    from rvt_lib.runner import score_classes, score_regression

    ints = torch.zeros(4, 6, dtype=torch.long)
    return {
        "tracking": (automata.score_tracking(3), lambda x: (*x.shape, 2), [(ints, ints)]),
        "beats": (ecg.score_beats, lambda x: (len(x), 2), [(torch.zeros(4, 6, 1), torch.tensor([0, 1, 0, 1]))]),
        "recall": (recall._score, lambda x: (*x.shape, 5), [(ints, ints)]),
        "windows": (stocks.score_windows, lambda x: (len(x),), [(torch.zeros(4, 6, 1), torch.zeros(4))]),
        "classes": (score_classes, lambda x: (len(x), 3), [(torch.zeros(4, 6, 1), torch.zeros(4, dtype=torch.long))]),
        "regression": (score_regression, lambda x: (len(x),), [(torch.zeros(4, 6, 1), torch.zeros(4))]),
    }


@pytest.mark.parametrize("case", ["tracking", "beats", "recall", "windows", "classes", "regression"])
def test_every_task_score_feeds_the_model_on_its_device(case):
    score, out_shape, data = _device_cases()[case]
    result = score(_OnMeta(out_shape), data)
    assert all(np.isfinite(float(v)) for v in result.metrics.values() if not isinstance(v, str))
