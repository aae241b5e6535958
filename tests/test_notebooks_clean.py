"""Notebook hygiene: committed without outputs, paired with an in-sync jupytext file,
Colab-ready, and listed in the book's table of contents."""
from __future__ import annotations

import json
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _toc_files() -> set[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {toc["root"]}

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.add(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return {str(Path(f).with_suffix("")) for f in files}


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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_colab_install_cell_first(path):
    nb = jupytext.read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code"
    first = code[0].source
    assert 'if "google.colab" in sys.modules' in first, f"{path.name}: first code cell must be the Colab install cell"
    assert "torch" not in first.replace("rvt_lib", ""), f"{path.name}: the Colab cell must not install torch"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


def test_every_notebook_in_toc_and_every_toc_entry_exists():
    toc = _toc_files()
    for path in NOTEBOOKS:
        rel = str(path.relative_to(ROOT).with_suffix(""))
        assert rel in toc, f"{rel} is not listed in _toc.yml"
    for entry in toc:
        assert any((ROOT / (entry + ext)).exists() for ext in (".ipynb", ".md")), f"_toc.yml lists missing {entry}"
