"""The recurrent chapter's backend: does a gradient that vanishes at initialisation stop
training? The adding problem (:mod:`rvt_lib.data.adding`) against its lag, for a tanh RNN,
an LSTM at PyTorch's initialisation and an LSTM with the chrono initialisation (Tallec &
Ollivier, 2018), all at one parameter count, under the book's protocol (the learning rate
of each model chosen on validation, several seeds, the test set scored once).

    runs, studies = adding_study([50, 200], hidden=32, config=TrainConfig(steps=400, batch_size=64))
    studies[200].compare("LSTM, chrono init", "LSTM", "sqerr", lower_is_better=True)
"""
from __future__ import annotations

import pandas as pd
import torch.nn.functional as F

from rvt_lib.data.adding import MEAN_BASELINE_MSE, adding_sampler, adding_splits
from rvt_lib.models.heads import ModelSpec, match_parameters
from rvt_lib.runner import StudyResult, Task, run_study, score_regression
from rvt_lib.train import TrainConfig

__all__ = ["RNN", "LSTM", "CHRONO", "adding_task", "adding_specs", "adding_study", "solved_fraction"]

RNN, LSTM, CHRONO = "tanh RNN", "LSTM", "LSTM, chrono init"


def adding_task(seq_len: int, *, batch_size: int, n_val: int, n_test: int) -> Task:
    """A :class:`rvt_lib.runner.Task`: fresh training batches, fixed validation and test sets
    (independent draws), mean squared error as the loss; per test item ``"sqerr"``."""
    val, test = adding_splits(seq_len, n_val, n_test)
    return Task(f"adding, T = {seq_len}", train=adding_sampler(seq_len, batch_size), val=val, test=test,
                score=score_regression, loss_fn=F.mse_loss)


def adding_specs(hidden: int, t_max: int, *, tol: float = 0.05) -> dict[str, ModelSpec]:
    """``{RNN: ..., LSTM: ..., CHRONO: ...}``: one-layer regressors on the 2 input channels.

    The LSTMs have width ``hidden``; the chrono one draws its forget-gate biases for memory
    times up to ``t_max`` (:func:`rvt_lib.models.lstm.chrono_init_`). The RNN gets the width
    that matches the LSTM's parameter count (within ``tol``).
    """
    lstm = ModelSpec("lstm", head="regress", input_size=2, n_out=1, d_model=hidden, n_layer=1)
    rnn = match_parameters(lstm.but(kind="rnn"), lstm.n_params(), tol=tol)
    return {RNN: rnn, LSTM: lstm, CHRONO: lstm.but(chrono=t_max)}


def adding_study(lags, *, hidden: int, config: TrainConfig, seeds=(0, 1, 2), lr_grid=(1e-3, 3e-3, 1e-2),
                 extend: int = 0, n_val: int = 512, n_test: int = 1024,
                 trainer=None) -> tuple[pd.DataFrame, dict[int, StudyResult]]:
    """One :func:`rvt_lib.runner.run_study` per lag ``T`` in ``lags`` (the chrono init uses
    ``t_max = T``; ``extend`` grows the learning-rate grid past an end, see ``run_study``).
    Returns a tidy DataFrame, one row per lag x model x seed (``T, model, params, seed, lr,
    test_mse, val_mse, train_seconds``), and ``{T: StudyResult}``."""
    lags = [int(t) for t in lags]
    if not lags or any(t < 4 for t in lags):
        raise ValueError(f"adding_study: lags must be integers >= 4, got {lags!r}")
    rows, studies = [], {}
    for T in lags:
        task = adding_task(T, batch_size=config.batch_size, n_val=n_val, n_test=n_test)
        res = run_study(adding_specs(hidden, T), task, config, seeds=seeds, lr_grid=lr_grid,
                        tune_seeds=(seeds[0],), extend=extend, measure_cost=False, trainer=trainer)
        studies[T] = res
        for r in res.runs.itertuples():
            rows.append({"T": T, "model": r.model, "params": r.params, "seed": r.seed, "lr": r.lr,
                         "test_mse": r.test_mse, "val_mse": r.val_mse, "train_seconds": r.train_seconds})
    return pd.DataFrame(rows), studies


def solved_fraction(runs: pd.DataFrame, threshold: float = 0.1) -> pd.DataFrame:
    """Per lag and model: the share of seeds whose test MSE is below ``threshold`` times the
    mean-prediction baseline (1/6), i.e. that remember the first marked value."""
    bar = threshold * MEAN_BASELINE_MSE
    return (runs.assign(solved=runs["test_mse"] < bar)
            .pivot_table(index="T", columns="model", values="solved", aggfunc="mean"))
