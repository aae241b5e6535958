"""Notebook hygiene: committed without outputs, paired with an in-sync jupytext file,
Colab-ready, and listed in the book's table of contents."""
from __future__ import annotations

import json
import shlex
import sys
import types
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from execute_book import toc_files  # noqa: E402

NOTEBOOKS = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _toc_files() -> set[str]:
    return {str(Path(f).with_suffix("")) for f in toc_files(ROOT)}


def test_there_are_chapters():
    assert NOTEBOOKS, "no chapter notebooks found under book/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name}: cell {i} has outputs (strip them)"
            assert cell.get("execution_count") is None, f"{path.name}: cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_paired_text_file_in_sync(path):
    pair = path.with_suffix(".py")
    assert pair.exists(), f"{path.name} has no jupytext pair {pair.name} (run jupytext --sync)"
    from_py = jupytext.read(pair)
    from_nb = jupytext.read(path)
    src_py = [(c.cell_type, c.source.strip()) for c in from_py.cells]
    src_nb = [(c.cell_type, c.source.strip()) for c in from_nb.cells]
    assert src_py == src_nb, f"{path.name} and {pair.name} differ: run `jupytext --sync {pair}`"
    # The build's settings (rvt: minutes, exclusive) read the same in both: a reviewer of
    # the text file sees what scripts/execute_book.py will do with the notebook.
    assert from_py.metadata.get("rvt") == from_nb.metadata.get("rvt"), (
        f"{pair.name}'s header and {path.name} disagree on the rvt settings: "
        f"{from_py.metadata.get('rvt')} against {from_nb.metadata.get('rvt')}")


def _run_install_cell(source: str, in_colab: bool) -> list[tuple[str, str]]:
    """Execute a Colab install cell with a fake IPython; return the magics it ran."""
    calls: list[tuple[str, str]] = []

    class FakeIPython:
        def run_line_magic(self, name, line):
            calls.append((name, line))

    saved = sys.modules.get("google.colab")
    if in_colab:
        sys.modules["google.colab"] = types.ModuleType("google.colab")
    else:
        sys.modules.pop("google.colab", None)
    try:
        exec(compile(source, "<install cell>", "exec"), {"get_ipython": FakeIPython})
    finally:
        sys.modules.pop("google.colab", None)
        if saved is not None:
            sys.modules["google.colab"] = saved
    return calls


# Colab's own packages: the install cell must never name them (pip would replace them).
COLAB_OWN = ("torch", "numpy", "pandas", "matplotlib")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_colab_install_cell_first(path):
    nb = jupytext.read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code"
    first = code[0].source
    assert 'if "google.colab" in sys.modules' in first, f"{path.name}: first code cell must be the Colab install cell"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    assert 'RVT_BUDGET"] = "full"' in first, f"{path.name}: the install cell must say how to run the full budget"

    assert _run_install_cell(first, in_colab=False) == [], f"{path.name}: the install cell acts outside Colab"
    calls = _run_install_cell(first, in_colab=True)
    assert len(calls) == 1 and calls[0][0] == "pip", f"{path.name}: expected one %pip magic, got {calls}"
    args = shlex.split(calls[0][1])
    assert args[0] == "install", args
    requirements = [a for a in args[1:] if not a.startswith("-")]
    assert len(requirements) == 1 and requirements[0].startswith("rvt_lib[book] @ git+"), requirements
    flags = {a for a in args[1:] if a.startswith("-")}
    assert not flags & {"-U", "--upgrade", "--force-reinstall", "--ignore-installed", "-I"}, flags
    assert not any(name in requirements[0].split("@")[0] for name in COLAB_OWN)


def test_the_install_cell_check_can_fail():
    """A cell that upgrades, or installs torch, or runs outside Colab, is caught."""
    cell = 'import sys\nif "google.colab" in sys.modules:\n    get_ipython().run_line_magic("pip", "install -U torch")\n'
    args = shlex.split(_run_install_cell(cell, in_colab=True)[0][1])
    assert "-U" in args and "torch" in args
    unguarded = 'get_ipython().run_line_magic("pip", "install rvt_lib")\n'
    assert _run_install_cell(unguarded, in_colab=False) != []


def test_every_notebook_in_toc_and_every_toc_entry_exists():
    toc = _toc_files()
    for path in NOTEBOOKS:
        rel = str(path.relative_to(ROOT).with_suffix(""))
        assert rel in toc, f"{rel} is not listed in _toc.yml"
    for entry in toc:
        assert any((ROOT / (entry + ext)).exists() for ext in (".ipynb", ".md")), f"_toc.yml lists missing {entry}"


# The site's code column holds 80 characters of its monospace font at a 1280-pixel
# window (measured in Chromium on the built site); longer lines are cut off behind a
# scroll bar. Chapters are formatted with `black -S -l 79`, long strings split by hand.
CODE_WIDTH = 79


def long_code_lines(nb) -> list[tuple[int, int, str]]:
    """(cell index, line length, line) of every code line wider than the column."""
    return [(i, len(line), line) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for line in cell.source.splitlines() if len(line) > CODE_WIDTH]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_fits_the_column(path):
    long = long_code_lines(jupytext.read(path))
    assert not long, (f"{path.name}: {len(long)} code line(s) wider than {CODE_WIDTH} characters, "
                      f"the first in cell {long[0][0]}: {long[0][2]!r}")


def test_the_width_check_can_fail():
    nb = jupytext.reads("# %%\nx = 1\n" + "y = '" + "z" * 80 + "'\n", fmt="py:percent")
    assert [(i, n) for i, n, _ in long_code_lines(nb)] == [(0, 86)]
