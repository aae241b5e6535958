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
    assert glue("x", np.float64(0.25)) == 0.25  # runs outside a kernel too
