import shutil
import subprocess
import sys
from pathlib import Path

import ipywidgets as widgets
import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rvt_lib import book  # noqa: E402
from rvt_lib.book import glue, plain  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_plain_converts_numpy_and_torch_scalars():
    assert type(plain(np.float64(0.5))) is float and plain(np.float64(0.5)) == 0.5
    assert type(plain(np.int64(3))) is int
    assert type(plain(np.array(2.5))) is float
    assert type(plain(torch.tensor(1.5))) is float
    assert plain("text") == "text" and plain([1, 2]) == [1, 2]
    arr = np.arange(3)
    assert plain(arr) is arr  # arrays are left alone


def test_glue_stores_a_plain_number(capsys):
    assert glue("x", np.float64(0.25)) is None  # runs outside a kernel too, prints nothing


def test_control_values_for_every_kind_of_control():
    values, labels, start = book.control_values(widgets.IntSlider(value=3, min=0, max=9))
    assert values == list(range(10)) and values[start] == 3
    values, _, start = book.control_values(widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.25))
    assert values == [0.0, 0.25, 0.5, 0.75, 1.0] and start == 2
    values, labels, start = book.control_values(widgets.Dropdown(options=[("LSTM", "lstm"), ("GPT", "gpt")],
                                                                 value="gpt"))
    assert values == ["lstm", "gpt"] and labels == ["LSTM", "GPT"] and start == 1
    assert book.control_values(["x", "y"]) == (["x", "y"], ["x", "y"], 0)
    assert book.control_values(widgets.fixed(7))[0] == [7]
    values, _, start = book.control_values((0, 10))
    assert values == list(range(11)) and values[start] == 5
    with pytest.raises(TypeError, match="no static rendering"):
        book.control_values(widgets.Text("a"))


def test_static_grid_fits_the_budget_and_keeps_initial_values():
    controls = dict(z=widgets.FloatSlider(value=0.1, min=0.0, max=1.0, step=0.01),
                    step=widgets.IntSlider(value=45, min=0, max=95), model=["a", "b", "c"])
    grid = book.static_grid(controls, 60)
    assert np.prod([len(v) for v, _, _ in grid.values()]) <= 60
    assert grid["model"][0] == ["a", "b", "c"]                 # options kept whole
    assert grid["z"][0][grid["z"][2]] == 0.1 and grid["step"][0][grid["step"][2]] == 45
    assert len(grid["z"][0]) > 1 and len(grid["step"][0]) > 1  # both still move
    tiny = book.static_grid(controls, 1)
    assert all(len(v) == 1 for v, _, _ in tiny.values())
    with pytest.raises(ValueError, match="max_outputs"):
        book.static_grid(controls, 0)


def _plot(a, b):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, a])
    ax.set_title(b)
    print(f"a = {a}, b = {b}")


def test_static_widget_precomputes_every_grid_point():
    plt.close("all")  # figures other tests left open are not this test's
    html = book.static_widget_html(_plot, dict(a=(1, 3), b=["x", "y"]), max_outputs=8)
    assert html.count("data-rvt-output=") == 6           # 3 values of a x 2 of b
    assert html.count("data:image/png;base64,") == 6      # one figure each
    assert "a = 1, b = y" in html and "a = 3, b = x" in html
    assert "<script>" in html and "http" not in html.split("<script>")[1]  # no CDN
    assert plt.get_fignums() == []                         # figures closed


def test_interact_is_static_under_smoke_and_live_on_request(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    monkeypatch.setenv("RVT_BUDGET", "smoke")
    monkeypatch.delenv("RVT_WIDGETS", raising=False)
    assert book.widget_mode() == "static"
    book.interact(_plot, a=(1, 3), b=["x", "y"])
    assert len(shown) == 1 and shown[0].data.count("data-rvt-output=") <= book.max_static_outputs()
    monkeypatch.setenv("RVT_WIDGETS", "live")
    assert book.widget_mode() == "live"
    monkeypatch.setenv("RVT_WIDGETS", "sometimes")
    with pytest.raises(ValueError, match="RVT_WIDGETS"):
        book.widget_mode()


@pytest.mark.skipif(shutil.which("chromedriver") is None, reason="needs chromium + chromium-driver")
def test_static_widget_works_in_headless_chromium(tmp_path):
    pytest.importorskip("selenium")
    page = tmp_path / "page.html"
    page.write_text("<html><body>"
                    + book.static_widget_html(_plot, dict(a=(1, 3), b=["x", "y"]), max_outputs=8)
                    + "</body></html>")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_widgets.py"), str(page)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok")


@pytest.mark.skipif(shutil.which("chromedriver") is None, reason="needs chromium + chromium-driver")
def test_widget_check_catches_a_dead_control(tmp_path):
    pytest.importorskip("selenium")
    html = book.static_widget_html(_plot, dict(a=(1, 3), b=widgets.fixed("x")), max_outputs=8)
    dead = html.replace('el.addEventListener("input", update);', "")
    dead = dead.replace('el.addEventListener("change", update);', "")
    page = tmp_path / "dead.html"
    page.write_text("<html><body>" + dead + "</body></html>")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_widgets.py"), str(page)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "changed nothing" in result.stdout


@pytest.mark.skipif(shutil.which("chromedriver") is None, reason="needs chromium + chromium-driver")
def test_widget_check_catches_a_script_error(tmp_path):
    pytest.importorskip("selenium")
    html = book.static_widget_html(_plot, dict(a=(1, 3), b=widgets.fixed("x")), max_outputs=8)
    page = tmp_path / "broken.html"
    page.write_text("<html><body>" + html.replace("update();\n})();", "undefinedFunction();\n})();")
                    + "</body></html>")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_widgets.py"), str(page)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "console error" in result.stdout


def test_which_of_reads_right_for_every_count():
    from rvt_lib.book import which_of

    names = ["LSTM", "GRU", "GPT"]
    assert which_of([], names) == "none of the 3"
    assert which_of(["GPT", "LSTM"], names) == "2 of the 3 (LSTM, GPT)"  # order of among
    assert which_of(names[::-1], names) == "all 3"
    assert which_of(["GRU"], ["GRU"]) == "GRU"
    assert which_of([], ["GRU"]) == "none"
    with pytest.raises(ValueError, match="not among"):
        which_of(["minGRU"], names)
