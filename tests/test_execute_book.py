"""scripts/execute_book.py: parallel execution into the build's cache, read back by the build."""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "execute_book.py"


def _notebook(path: Path, code: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}"), nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)


def _project(tmp: Path, second_code: str = "print('two')") -> Path:
    (tmp / "ch").mkdir()
    # each chapter writes a marker in its own folder: proves it ran there, and how often
    _notebook(tmp / "ch" / "one.ipynb", "open('one.ran', 'a').write('x'); print('one')")
    _notebook(tmp / "ch" / "two.ipynb", second_code)
    (tmp / "intro.md").write_text("# Intro\n")
    (tmp / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                  "  - file: ch/one\n  - file: ch/two\n")
    (tmp / "_config.yml").write_text("title: t\nexecute:\n  execute_notebooks: cache\n"
                                     "  cache: _build/.jupyter_cache\n  timeout: 60\n")
    return tmp


def _run(root: Path, *args):
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=300)


def test_executes_in_parallel_then_everything_is_cached(tmp_path):
    root = _project(tmp_path)
    first = _run(root, "--workers", "2")
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count("executed  ") == 2
    assert (root / "ch" / "one.ran").read_text() == "x"      # ran in its own folder
    second = _run(root)
    assert second.returncode == 0
    assert second.stdout.count("cached    ") == 2 and "executed" not in second.stdout
    assert (root / "ch" / "one.ran").read_text() == "x"      # not re-executed


def test_figures_reach_the_cache_whatever_backend_the_shell_sets(tmp_path):
    """With MPLBACKEND=Agg exported (CI does), plt.show() would display nothing: no figure in
    the cache, none on the site. The script gives its kernels the inline backend."""
    pytest.importorskip("matplotlib_inline")
    root = _project(tmp_path, "import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(SCRIPT), "--root", str(root)], capture_output=True,
                          text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    from jupyter_cache import get_cache

    cache = get_cache(root / "_build" / ".jupyter_cache")
    record = next(r for r in cache.list_cache_records() if r.uri.endswith("two.ipynb"))
    outputs = [o for c in cache.get_cache_bundle(record.pk).nb.cells for o in c.get("outputs", [])]
    assert any(k.startswith("image/") for o in outputs for k in o.get("data", {})), outputs


def test_the_build_reads_the_cache_instead_of_executing(tmp_path):
    pytest.importorskip("jupyter_book")
    root = _project(tmp_path)
    assert _run(root).returncode == 0
    build = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", "."],
                           cwd=root, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert (root / "ch" / "one.ran").read_text() == "x"      # the build did not execute it
    assert "Using cached notebook" in build.stdout + build.stderr
    html = (root / "_build" / "html" / "ch" / "two.html").read_text()
    assert "two" in html


def test_a_failing_chapter_fails_clearly_and_the_others_are_cached(tmp_path):
    root = _project(tmp_path, second_code="raise RuntimeError('chapter two is broken')")
    result = _run(root)
    assert result.returncode == 1
    assert "FAILED    ch/two.ipynb" in result.stdout
    assert "chapter two is broken" in result.stdout
    assert "ch/two.ipynb" in result.stderr
    listing = _run(root, "--list")
    assert "cached    ch/one.ipynb" in listing.stdout
    assert "to run    ch/two.ipynb" in listing.stdout


def test_a_changed_chapter_is_executed_again(tmp_path):
    root = _project(tmp_path)
    assert _run(root).returncode == 0
    nb = nbformat.read(root / "ch" / "two.ipynb", as_version=4)
    nb.cells[1].source = "print('two, edited')"
    nbformat.write(nb, root / "ch" / "two.ipynb")
    result = _run(root)
    assert "cached    ch/one.ipynb" in result.stdout
    assert "executed  ch/two.ipynb" in result.stdout


def test_no_widget_state_is_saved(tmp_path):
    """A chapter that opens an ipywidgets control leaves no widget state in the cache (the
    page would then load ipywidgets' manager from a CDN); its static control is HTML."""
    pytest.importorskip("ipywidgets")
    root = _project(tmp_path, "import ipywidgets as w\ns = w.IntSlider(3)\ns.close()\nprint('two')")
    assert _run(root).returncode == 0
    from jupyter_cache import get_cache
    cache = get_cache(root / "_build" / ".jupyter_cache")
    for record in cache.list_cache_records():
        nb = cache.get_cache_bundle(record.pk).nb
        assert "widgets" not in nb.metadata, record.uri


def test_bad_arguments():
    result = subprocess.run([sys.executable, str(SCRIPT), "--workers", "0"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "--workers" in result.stderr


def test_a_chapter_that_measures_the_machine_runs_alone_after_the_others(tmp_path):
    # each chapter records when it started and ended; "two" asks for the machine to itself
    stamp = ("import os, time\n"
             "start = time.time()\n"
             "time.sleep(1.0)\n"
             "open('{0}.span', 'w').write(f'{{start}} {{time.time()}} {{os.environ[\"OMP_NUM_THREADS\"]}}')")
    root = _project(tmp_path, second_code=stamp.format("two"))
    _notebook(root / "ch" / "three.ipynb", stamp.format("three"))
    one = nbformat.read(root / "ch" / "one.ipynb", as_version=4)
    one.cells[1].source = stamp.format("one")
    nbformat.write(one, root / "ch" / "one.ipynb")
    two = nbformat.read(root / "ch" / "two.ipynb", as_version=4)
    two.metadata["rvt"] = {"exclusive": True}
    nbformat.write(two, root / "ch" / "two.ipynb")
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                   "  - file: ch/one\n  - file: ch/two\n  - file: ch/three\n")
    result = _run(root, "--workers", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "measure the machine, one at a time, alone: ch/two.ipynb" in result.stdout
    spans = {n: (root / "ch" / f"{n}.span").read_text().split() for n in ("one", "two", "three")}
    assert float(spans["two"][0]) >= max(float(spans[n][1]) for n in ("one", "three"))
    if "OMP_NUM_THREADS" not in os.environ:                  # alone: every core is its own
        assert spans["two"][2] == str(os.cpu_count())
    assert _run(root).stdout.count("cached    ") == 3           # cached like any other chapter


def test_chapters_start_longest_first_by_their_minutes_hint_and_stale_hints_are_named(tmp_path):
    # one worker: the chapters run in the order they were submitted
    stamp = "import time; open('{0}.t', 'w').write(str(time.time()))"
    root = _project(tmp_path, second_code=stamp.format("two"))
    _notebook(root / "ch" / "three.ipynb", stamp.format("three"))
    one = nbformat.read(root / "ch" / "one.ipynb", as_version=4)
    one.cells[1].source = stamp.format("one") + "  # the most code of the three"
    nbformat.write(one, root / "ch" / "one.ipynb")
    for name, minutes in (("two", 3.0), ("three", 1.0)):  # "one" has no hint: it goes last
        nb = nbformat.read(root / "ch" / f"{name}.ipynb", as_version=4)
        nb.metadata["rvt"] = {"minutes": minutes}
        nbformat.write(nb, root / "ch" / f"{name}.ipynb")
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                   "  - file: ch/one\n  - file: ch/two\n  - file: ch/three\n")
    env = {**os.environ, "RVT_BUDGET": "book"}
    result = subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), "--workers", "1"],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    started = {n: float((root / "ch" / f"{n}.t").read_text()) for n in ("one", "two", "three")}
    assert started["two"] < started["three"] < started["one"]
    # each ran in well under a minute: "two" (3 min) and "three" (1) are stale, "one" has none
    hints = [line for line in result.stdout.splitlines() if line.startswith("hint")]
    assert len(hints) == 3, result.stdout
    assert any("ch/one.ipynb: no rvt.minutes" in h for h in hints)
    assert any("ch/two.ipynb: rvt.minutes is 3 " in h for h in hints)
