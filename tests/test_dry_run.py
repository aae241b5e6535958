"""``RVT_BUDGET=full`` cannot crash late: every chapter rehearses its full configuration on a CPU.

Under ``RVT_BUDGET=dry`` (:mod:`rvt_lib.budget`) a chapter builds every model and
training configuration of its ``full`` budget, trains each for ``DRY_STEPS`` updates,
evaluates on ``DRY_BATCHES`` batches and runs its sweeps at their smallest sizes. A
shape error, an unmatched parameter count or a bad setting of the full budget then fails
here, in minutes, instead of hours into a GPU run.
"""
import re
import sys
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from rvt_lib import budget
from rvt_lib.train import TrainConfig, fit, rehearsal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from execute_book import toc_files  # noqa: E402

CHAPTERS = [Path(f).with_suffix(".ipynb") for f in toc_files(ROOT)
            if (ROOT / Path(f).with_suffix(".ipynb")).exists()]


def test_pick_under_the_dry_budget(monkeypatch):
    monkeypatch.setenv("RVT_BUDGET", "dry")
    assert budget.is_dry()
    assert budget.pick(smoke=1, book=2, full=3, dry=4) == 4
    assert budget.pick(smoke=1, book=2, full=3) == 3   # no dry value: the full one
    assert budget.pick(smoke=1, book=2) == 2           # no full value: the book one
    monkeypatch.setenv("RVT_BUDGET", "full")
    assert not budget.is_dry() and budget.pick(smoke=1, book=2, full=3, dry=4) == 3


def test_using_budget_switches_and_restores(monkeypatch):
    monkeypatch.setenv("RVT_BUDGET", "book")
    with budget.using_budget("full") as name:
        assert name == "full" and budget.pick(smoke=1, book=2, full=3) == 3
    assert budget.get_budget() == "book"
    monkeypatch.delenv("RVT_BUDGET")
    with pytest.raises(RuntimeError):
        with budget.using_budget("smoke"):
            assert budget.get_budget() == "smoke"
            raise RuntimeError("inside")
    assert "RVT_BUDGET" not in __import__("os").environ       # unset again, even after an error
    with pytest.raises(ValueError, match="not a known budget"):
        with budget.using_budget("huge"):
            pass


def test_a_dry_training_run_stops_after_two_updates(monkeypatch):
    config = TrainConfig(epochs=50, batch_size=4, warmup=10, patience=3)
    val = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(5)]
    assert rehearsal(config, val) == (config, val)  # other budgets: untouched
    monkeypatch.setenv("RVT_BUDGET", "dry")
    dry, dry_val = rehearsal(config, val)
    assert dry.steps == budget.DRY_STEPS and dry.epochs is None and dry.patience is None
    assert len(dry_val) == budget.DRY_BATCHES
    model = torch.nn.Linear(3, 1)
    train = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(10)]
    hist = fit(model, train, TrainConfig(steps=1000), val=val, loss_fn=torch.nn.functional.mse_loss)
    assert hist.steps_done == budget.DRY_STEPS



def test_a_dry_split_keeps_every_sequence_length(monkeypatch):
    # a test split of three lengths, four batches each, as the automata heatmap builds it
    data = [(torch.zeros(2, L), torch.zeros(2, L)) for L in (8, 32, 128) for _ in range(4)]
    assert budget.rehearsed_batches(data) is data  # other budgets: untouched
    monkeypatch.setenv("RVT_BUDGET", "dry")
    cut = budget.rehearsed_batches(data)
    lengths = [x.shape[1] for x, _ in cut]
    assert lengths == [8] * budget.DRY_BATCHES + [32] * budget.DRY_BATCHES + [128] * budget.DRY_BATCHES
    sampler = iter(data)
    assert budget.rehearsed_batches(sampler) is sampler

GLUE_ROLE = re.compile(r"\{glue(?::[a-z]+)?\}`([^`]+)`")


def glue_references(nb) -> set[str]:
    """The keys the prose of ``nb`` pastes from its own cells (``{glue:text}`key:fmt```)."""
    keys = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for ref in GLUE_ROLE.findall(cell.source):
                if "::" not in ref:  # a key of another chapter is checked there
                    keys.add(ref.split(":")[0])
    return keys


def glued_keys(nb) -> set[str]:
    """The keys an executed ``nb`` stored with glue (myst-nb marks those outputs)."""
    return {out["metadata"]["scrapbook"]["name"] for cell in nb.cells if cell.cell_type == "code"
            for out in cell.get("outputs", []) if "scrapbook" in out.get("metadata", {})}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_rehearses_its_full_budget(chapter, monkeypatch):
    """The chapter runs end to end under the dry budget, and every number its prose
    pastes in was stored by one of its cells (a missing key would print nothing on the site)."""
    monkeypatch.setenv("RVT_BUDGET", "dry")  # the kernel inherits the environment
    monkeypatch.setenv("RVT_WIDGETS", "static")
    path = ROOT / chapter
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    missing = glue_references(nb) - glued_keys(nb)
    assert not missing, f"{chapter}: the prose pastes keys no cell glued: {sorted(missing)}"
