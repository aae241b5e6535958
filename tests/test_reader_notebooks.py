"""scripts/reader_notebooks.py: MyST chapters -> plain notebooks for Colab and downloads."""
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import reader_notebooks as rn  # noqa: E402


@pytest.fixture(scope="module")
def site():
    return rn.Site(ROOT, "https://example.org/rvt/", rn.bibliography(ROOT / "book" / "references.bib"),
                   {"R": "\\mathbb{R}"})


def _glue_output(name, text):
    return nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": text},
                                  metadata={"scrapbook": {"name": name,
                                                          "mime_prefix": "application/papermill.record/"}})


def _chapter(markdown):
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("glue('acc', 0.91234); glue('name', 'LSTM')")
    code.outputs = [_glue_output("acc", "0.91234"), _glue_output("name", "'LSTM'"),
                    nbformat.v4.new_output("stream", name="stdout", text="trained\n")]
    nb.cells = [code, nbformat.v4.new_markdown_cell(markdown)]
    return nb


def _convert(markdown, site):
    glue = {"book/part1_models/recurrent": rn.glued_values(_chapter(markdown)),
            "book/part4_synthesis/cost_scaling": {"T_max": "4096"}}
    nb = rn.reader_notebook(_chapter(markdown), "book/part1_models/recurrent", glue, site)
    return nb, nb.cells[1].source


def test_glue_is_filled_in_and_its_outputs_dropped(site):
    nb, md = _convert("accuracy {glue:text}`acc:.3f` for {glue:text}`name`, also {glue:}`acc`; "
                      "{glue:text}`../part4_synthesis/cost_scaling.ipynb::T_max:,d` tokens", site)
    assert md == "accuracy 0.912 for LSTM, also 0.91234; 4,096 tokens"
    assert [o.get("name") for o in nb.cells[0].outputs] == ["stdout"]


def test_citations_and_cross_references_become_links(site):
    _, md = _convert("as {cite}`elman1990finding` showed; see {doc}`attention`, "
                     "{doc}`the scan <../part2_theory/parallel_scan>` and {ref}`cost-training`.", site)
    assert "[Elman 1990](https://example.org/rvt/book/references.html)" in md
    assert "[Attention and a nanoGPT](https://example.org/rvt/book/part1_models/attention.html)" in md \
        or "](https://example.org/rvt/book/part1_models/attention.html)" in md
    assert "[the scan](https://example.org/rvt/book/part2_theory/parallel_scan.html)" in md
    assert "https://example.org/rvt/book/part4_synthesis/cost_scaling.html#cost-training" in md


def test_blocks_become_details_quotes_and_tables(site):
    _, md = _convert(":::{dropdown} Solution\nThe answer is {glue:text}`acc:.2f`.\n:::\n\n"
                     ":::{admonition} Key takeaways\n* one\n:::\n\n"
                     ":::{list-table} Guide\n:header-rows: 1\n\n* - a\n  - b\n* - 1\n  - 2\n:::\n"
                     "(my-label)=\n## Section with $x \\in \\R^d$", site)
    assert "<details><summary>Solution</summary>" in md and "The answer is 0.91." in md
    assert "> **Key takeaways**" in md and "> * one" in md
    assert "| a | b |" in md and "| 1 | 2 |" in md
    assert '<a id="my-label"></a>' in md and "\\mathbb{R}^d" in md and "\\R" not in md


def test_unknown_names_fail_loudly(site):
    with pytest.raises(KeyError, match="no glued value"):
        _convert("{glue:text}`missing`", site)
    with pytest.raises(KeyError, match="citation"):
        _convert("{cite}`nobody2099`", site)
    with pytest.raises(KeyError, match="label"):
        _convert("{ref}`no-such-label`", site)


def test_leftover_myst_is_caught(site, monkeypatch):
    monkeypatch.setattr(rn, "convert_markdown", lambda text, *a: text)  # a converter that forgot
    with pytest.raises(ValueError, match="MyST left"):
        rn.reader_notebook(_chapter("{cite}`elman1990finding`"), "book/x", {}, site)


def test_every_chapter_converts_without_leftovers(site):
    """The real chapters' prose: every role and block is understood (glue faked)."""
    class Ones(dict):  # a chapter that glued every name, as the number 1
        def __contains__(self, key):
            return True

        def __getitem__(self, key):
            return "1"

    class EveryChapter(dict):
        def get(self, key, default=None):
            return Ones()

        def __getitem__(self, key):
            return Ones()

    for path in sorted((ROOT / "book").glob("part*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        doc = path.relative_to(ROOT).with_suffix("").as_posix()
        glue = EveryChapter()
        rn.reader_notebook(nb, doc, glue, site)
