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


def test_api_roles_link_to_the_api_reference(site):
    _, md = _convert("through {func}`rvt_lib.runner.run_study` and {mod}`rvt_lib.stats`", site)
    assert "[`rvt_lib.runner.run_study`](https://example.org/rvt/book/api.html#rvt_lib.runner.run_study)" in md
    assert "[`rvt_lib.stats`](https://example.org/rvt/book/api.html#module-rvt_lib.stats)" in md


def test_blocks_become_details_quotes_and_tables(site):
    _, md = _convert(":::{dropdown} Solution\nThe answer is {glue:text}`acc:.2f`.\n:::\n\n"
                     ":::{admonition} Key takeaways\n* one\n:::\n\n"
                     ":::{list-table} Guide\n:header-rows: 1\n\n* - a\n  - b\n* - 1\n  - 2\n:::\n"
                     "(my-label)=\n## Section with $x \\in \\R^d$", site)
    assert "<details><summary>Solution</summary>" in md and "The answer is 0.91." in md
    assert "> **Key takeaways**" in md and "> * one" in md
    assert "| a | b |" in md and "| 1 | 2 |" in md
    assert '<a id="my-label"></a>' in md and "\\mathbb{R}^d" in md and "\\R" not in md


def test_exercises_solutions_and_theorems_are_numbered_as_on_the_site(site):
    """The real chapter's labels: parallel_scan (chapter 4) has its fifth exercise as
    "Exercise 4.5", as on the site; its solution says so, and a {ref} to it links to its
    anchor on the site."""
    md = ("see {ref}`the last one <parallel_scan-ex-5>` and {ref}`thm-brent`\n\n"
          ":::{exercise} Threads\n:label: parallel_scan-ex-5\n\nPin two threads.\n:::\n\n"
          ":::{solution} parallel_scan-ex-5\n:class: dropdown\n\nThey fight.\n:::\n\n"
          ":::{prf:theorem} Brent's scheduling bound\n:label: thm-brent\n\n$T_p \\le W/p + D$.\n:::\n\n"
          ":::{prf:proof}\nGreedy.\n:::")
    _, out = _convert(md, site)
    assert "[the last one](https://example.org/rvt/book/part2_theory/parallel_scan.html#parallel_scan-ex-5)" in out
    assert "[Theorem 4.1](https://example.org/rvt/book/part2_theory/parallel_scan.html#thm-brent)" in out
    assert '<a id="parallel_scan-ex-5"></a>' in out and "**Exercise 4.5 (Threads).**" in out
    assert "<details><summary>Solution to exercise 4.5</summary>" in out and "They fight." in out
    assert "> **Theorem 4.1 (Brent's scheduling bound).**" in out
    assert "*Proof.*" in out and "∎" in out and ":class:" not in out


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


def test_colab_buttons_are_pointed_at_the_reader_branch(tmp_path):
    page = tmp_path / "book" / "part1_models" / "recurrent.html"
    page.parent.mkdir(parents=True)
    colab = "https://colab.research.google.com/github/rvt-course/rnns/blob/{}/book/part1_models/recurrent.ipynb"
    binder = "https://mybinder.org/v2/gh/rvt-course/rnns/main?urlpath=lab/tree/book/x.ipynb"
    page.write_text(f'<a href="{colab.format("main")}">Colab</a> <a href="{binder}">Binder</a>')
    (tmp_path / "index.html").write_text("<p>no buttons here</p>")
    assert rn.point_colab_at_reader(tmp_path, "https://github.com/rvt-course/rnns", "main") == 1
    text = page.read_text()
    assert colab.format("reader") in text and colab.format("main") not in text and binder in text
    with pytest.raises(SystemExit, match="no page"):
        rn.point_colab_at_reader(tmp_path, "https://github.com/rvt-course/rnns", "main")
