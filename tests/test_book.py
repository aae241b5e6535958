import numpy as np
import torch

from rvt_lib.book import glue, plain


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


def test_interact_calls_once_with_initial_values_under_smoke(monkeypatch):
    import ipywidgets as widgets
    from rvt_lib.book import interact
    monkeypatch.setenv("RVT_BUDGET", "smoke")
    seen = {}
    interact(lambda a, b, c, d, e: seen.update(a=a, b=b, c=c, d=d, e=e),
             a=widgets.IntSlider(value=3, min=0, max=9), b=["x", "y"], c=(0, 10), d=(0.0, 1.0),
             e=widgets.fixed(7))
    assert seen == {"a": 3, "b": "x", "c": 5, "d": 0.5, "e": 7}
