"""Heartbeats (electrocardiograms) for sequence classification: ECG200 and PTB.

Labels everywhere in this module: **1 = abnormal (the positive class), 0 = normal**, as int64.

* ``load_ecg200()``: the UCR archive's ECG200 (Olszewski 2001), 100 training and 100 test
  heartbeats of 96 samples each. The files label normal beats ``1`` and myocardial
  infarction (MI) ``-1``; we map them to the convention above::

      file label  1  (normal)                 -> 0
      file label -1  (myocardial infarction)  -> 1   (positive class)

  so precision and recall refer to detecting MI. Training set: 69 normal, 31 MI.
* ``load_ptb()``: the PTB Diagnostic ECG heartbeats as prepared for Kaggle's "ECG Heartbeat
  Categorization" dataset (``shayanfazeli/heartbeat``): ``ptbdb_normal.csv`` (4,046 beats)
  and ``ptbdb_abnormal.csv`` (10,506 beats). Each row is 188 comma-separated floats without
  a header: 187 samples of one beat (zero-padded at the end) and the label (0 normal,
  1 abnormal) in the last column. These files are not pinned in the registry (they are
  too large to mirror); ``ptb_available()`` tells a chapter whether it can use them.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from rvt_lib.data.registry import DataUnavailableError, data_dir, fetch

PTB_FILES = {"ptbdb_normal.csv": 0, "ptbdb_abnormal.csv": 1}  # file -> the label all its rows carry
PTB_COLUMNS = 188  # 187 samples + 1 label
KAGGLE_DATASET = "shayanfazeli/heartbeat"


# ----------------------------------------------------------------------------- ECG200

def _read_ucr(name: str) -> tuple[np.ndarray, np.ndarray]:
    """One UCR .tsv file -> (X float32 (N, 96), y int64 (N,)) with MI = 1, normal = 0."""
    table = np.loadtxt(fetch(name), delimiter="\t", dtype=np.float64)  # (N, 1 + 96)
    raw = table[:, 0]
    if not np.isin(raw, (-1.0, 1.0)).all():
        raise ValueError(f"{name}: expected labels -1 (MI) and 1 (normal), got {np.unique(raw)}")
    X = table[:, 1:].astype(np.float32)   # (N, 96)
    y = (raw == -1).astype(np.int64)      # (N,)  1 = myocardial infarction
    return X, y


def load_ecg200():
    """ECG200 as ``(X_train, y_train, X_test, y_test)``.

    ``X_*`` are float32 arrays of shape (100, 96), one heartbeat per row (each already
    z-normalised by the UCR archive); ``y_*`` are int64 with 1 = myocardial infarction
    (the file's -1, the positive class) and 0 = normal (the file's 1).
    """
    X_train, y_train = _read_ucr("ECG200_TRAIN.tsv")
    X_test, y_test = _read_ucr("ECG200_TEST.tsv")
    return X_train, y_train, X_test, y_test


# ----------------------------------------------------------------------------- PTB

def _has_ptb(folder) -> bool:
    return folder is not None and all((Path(folder) / f).is_file() for f in PTB_FILES)


def _kagglehub_cached() -> Path | None:
    """A PTB folder already in kagglehub's cache, found without importing or calling kagglehub."""
    root = Path(os.environ.get("KAGGLEHUB_CACHE", "~/.cache/kagglehub")).expanduser()
    versions = root / "datasets" / KAGGLE_DATASET / "versions"
    if versions.is_dir():
        newest_first = sorted(versions.iterdir(), reverse=True,
                              key=lambda v: int(v.name) if v.name.isdigit() else -1)
        for v in newest_first:
            if _has_ptb(v):
                return v
    return None


def _local_ptb_folder(folder=None) -> Path | None:
    if folder is not None:
        return Path(folder) if _has_ptb(folder) else None
    env = data_dir()
    if _has_ptb(env):
        return env
    return _kagglehub_cached()


def ptb_available(folder=None) -> bool:
    """True if both PTB files can be loaded without any download (``folder``, RVT_DATA_DIR
    or kagglehub's cache). A chapter uses this to skip its PTB section gracefully."""
    return _local_ptb_folder(folder) is not None


def _how_to_get_ptb() -> str:
    files = " and ".join(PTB_FILES)
    return (
        f"The PTB heartbeat files {files} (Kaggle dataset '{KAGGLE_DATASET}', "
        f"https://www.kaggle.com/datasets/{KAGGLE_DATASET}) were not found. Three ways to get them:\n"
        f"  1. download and unzip them, then call load_ptb(folder='/path/to/folder');\n"
        f"  2. put them in a folder and point the environment variable RVT_DATA_DIR at it;\n"
        f"  3. `pip install kagglehub` (with Kaggle credentials), and load_ptb() downloads them."
    )


def _read_ptb_file(path: Path, label: int) -> tuple[np.ndarray, np.ndarray]:
    """One PTB csv -> (X float32 (N, 187), y int64 (N,)), checking the format strictly."""
    try:
        table = pd.read_csv(path, header=None, dtype=np.float64).to_numpy()  # (N, 188)
    except (ValueError, pd.errors.ParserError) as err:  # ragged rows or text in a number column
        raise ValueError(f"{path}: not a PTB heartbeat file ({PTB_COLUMNS} comma-separated "
                         f"numbers per row): {err}") from err
    if table.ndim != 2 or table.shape[1] != PTB_COLUMNS or len(table) == 0:
        raise ValueError(f"{path}: expected rows of {PTB_COLUMNS} comma-separated numbers "
                         f"(187 samples + label), got a table of shape {table.shape}")
    if not np.isfinite(table).all():
        bad_row = int(np.nonzero(~np.isfinite(table).all(axis=1))[0][0])
        raise ValueError(f"{path}: row {bad_row} contains NaN/inf or is missing values")
    labels = table[:, -1]
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError(f"{path}: labels (last column) must be 0 or 1, got {np.unique(labels)[:10]}")
    if not (labels == label).all():
        raise ValueError(f"{path}: every row of {path.name} should have label {label}, "
                         f"found {np.unique(labels)}; are the files swapped or renamed?")
    return table[:, :-1].astype(np.float32), labels.astype(np.int64)


def load_ptb(folder=None):
    """PTB heartbeats as ``(X, y)``: X float32 (N, 187), y int64 (N,), 0 normal / 1 abnormal.

    Rows are all normal beats first, then all abnormal ones (in file order): shuffle or use a
    stratified split before training. Where the files are looked for, in order:

    1. ``folder``, if given (then nowhere else);
    2. the folder ``$RVT_DATA_DIR``, then kagglehub's cache;
    3. ``kagglehub.dataset_download("shayanfazeli/heartbeat")``, if kagglehub is installed.

    Raises ``DataUnavailableError`` (explaining the three ways to get the files) when none
    works, and ``ValueError`` when a file is not in the expected format.
    """
    path = _local_ptb_folder(folder)
    if path is None and folder is not None:
        missing = [f for f in PTB_FILES if not (Path(folder) / f).is_file()]
        raise DataUnavailableError(f"{missing} not found in {folder}.\n" + _how_to_get_ptb())
    if path is None:
        try:
            import kagglehub
        except ImportError:
            raise DataUnavailableError(_how_to_get_ptb()) from None
        try:
            path = Path(kagglehub.dataset_download(KAGGLE_DATASET))
        except Exception as err:  # offline, no credentials, ...: one clear error
            raise DataUnavailableError(f"kagglehub could not download '{KAGGLE_DATASET}' "
                                       f"({type(err).__name__}: {err}).\n" + _how_to_get_ptb()) from err
        if not _has_ptb(path):
            raise DataUnavailableError(f"kagglehub's download at {path} lacks the PTB files.\n"
                                       + _how_to_get_ptb())
    parts = [_read_ptb_file(path / f, label) for f, label in PTB_FILES.items()]
    X = np.concatenate([p[0] for p in parts])  # (N, 187)
    y = np.concatenate([p[1] for p in parts])  # (N,)
    return X, y
