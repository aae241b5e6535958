"""Datasets: a pinned registry (URLs + SHA-256 + licence, pooch cache, ``RVT_DATA_DIR``) and loaders.

Nothing here touches the network at import time; files are fetched on first use.
"""
from rvt_lib.data.registry import (REGISTRY, DataCorruptError, DataFile, DataUnavailableError,
                                   fetch, sha256)
from rvt_lib.data.text import CharDataset, load_shakespeare
from rvt_lib.data.stocks import download_prices, load_sp500_snapshot
from rvt_lib.data.ecg import load_ecg200, load_ptb, ptb_available
from rvt_lib.data.automata import TaskSpec, identity_symbol, label_inputs, make_task, task_spec

__all__ = [
    "REGISTRY", "DataCorruptError", "DataFile", "DataUnavailableError", "fetch", "sha256",
    "CharDataset", "load_shakespeare", "download_prices", "load_sp500_snapshot",
    "load_ecg200", "load_ptb", "ptb_available", "TaskSpec", "make_task", "task_spec",
    "identity_symbol", "label_inputs",
]
