"""Every data file the course uses, pinned by URL and SHA-256, and one way to get it: ``fetch``.

A chapter never opens a URL itself. It asks for a file by name::

    from rvt_lib.data.registry import fetch
    path = fetch("tinyshakespeare.txt")        # a pathlib.Path to a verified file

``fetch`` looks in three places, in this order:

1. ``$RVT_DATA_DIR``: a folder you filled yourself (an offline machine, CI). If the file is
   there, its SHA-256 must match the pinned one; a corrupt or truncated copy is an error,
   never used silently.
2. The download cache (``$RVT_CACHE_DIR``, else ``pooch.os_cache("rvt_lib")``). ``pooch``
   downloads the file from its pinned URL, checks the hash, and replaces a cached copy whose
   hash no longer matches.
3. Nothing worked (offline, no copy): one ``DataUnavailableError`` that says which file is
   missing, where it comes from, and how to provide it by hand.

Why pin a hash? The URLs point at fixed git commits, so the bytes should never change; the
hash turns "should" into a check. Every number in the book is computed from exactly these
bytes.

Nothing here touches the network at import time: only a call to ``fetch`` can download.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pooch


class DataUnavailableError(RuntimeError):
    """A data file could not be found locally and could not be downloaded."""


class DataCorruptError(ValueError):
    """A data file exists but its SHA-256 does not match the pinned hash."""


@dataclass(frozen=True)
class DataFile:
    """One pinned file: where it comes from and what its bytes must hash to."""

    fname: str        # the file name on disk (also the key in REGISTRY)
    url: str          # a URL pinned to a fixed commit, so the bytes never change
    sha256: str       # hex digest of the expected bytes
    description: str  # one line for humans


_GITHUB = "https://raw.githubusercontent.com"
_ECG200 = f"{_GITHUB}/Wensi-Tang/OS-CNN/f70626d3c4aad70a76ba7b4745f556df01044279/Example_Datasets/UCRArchive_2018/ECG200"

REGISTRY: dict[str, DataFile] = {
    f.fname: f
    for f in [
        DataFile(
            "tinyshakespeare.txt",
            f"{_GITHUB}/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/input.txt",
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            "Tiny Shakespeare: 1,115,394 characters, 65 distinct (char-rnn / nanoGPT corpus)",
        ),
        DataFile(
            "sp500_adjclose_2022-08-01_2023-07-31.csv",
            f"{_GITHUB}/jmaslek/daily_sp_500/0464222be50648a7104b0af789770c51882a1165/SP500_prices_1yr.csv",
            "0d4a784c46ecb184378b5cfb91e05cf48321ce062ef2d80b8c291062184fded5",
            "Adjusted daily closes of 503 S&P 500 constituents, 251 trading days (yfinance snapshot)",
        ),
        DataFile(
            "ECG200_TRAIN.tsv",
            f"{_ECG200}/ECG200_TRAIN.tsv",
            "bd08b37147ebf205231ad43e02c42dd5c14bc348f4ccc7614f85634c8916bf21",
            "UCR ECG200 training split: 100 heartbeats x 96 samples, label in column 0",
        ),
        DataFile(
            "ECG200_TEST.tsv",
            f"{_ECG200}/ECG200_TEST.tsv",
            "c8ac02caf98be23c47c044fde026219301ceaf0b2f97bc107bd0cd96330b867c",
            "UCR ECG200 test split: 100 heartbeats x 96 samples, label in column 0",
        ),
    ]
}


def sha256(path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (so large files need little memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir() -> Path:
    """The download cache: ``$RVT_CACHE_DIR`` if set, else pooch's per-user cache for rvt_lib."""
    env = os.environ.get("RVT_CACHE_DIR", "").strip()
    return Path(env).expanduser() if env else Path(pooch.os_cache("rvt_lib"))


PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds rvt_lib/


def data_dir() -> Path | None:
    """The user's own data folder, ``$RVT_DATA_DIR``, or None when it is not set.

    A relative path is looked up from the current directory first, then from the project
    root: notebooks run inside book/ subfolders, yet ``RVT_DATA_DIR=../shared/data`` set at
    the root must still point at the same folder.
    """
    env = os.environ.get("RVT_DATA_DIR", "").strip()
    if not env:
        return None
    path = Path(env).expanduser()
    if not path.is_absolute() and not path.is_dir() and (PROJECT_ROOT / path).is_dir():
        path = PROJECT_ROOT / path
    return path.absolute()  # so returned file paths survive a later os.chdir


def lookup(name: str) -> DataFile:
    """The registry entry for ``name``; a KeyError listing the known names otherwise."""
    if name not in REGISTRY:
        raise KeyError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def verify(path, entry: DataFile) -> Path:
    """Return ``path`` if its SHA-256 is the pinned one, else raise DataCorruptError."""
    path = Path(path)
    actual = sha256(path)
    if actual != entry.sha256:
        raise DataCorruptError(
            f"{entry.fname}: the file at {path} is corrupt or truncated "
            f"(SHA-256 {actual}, expected {entry.sha256}, size {path.stat().st_size} bytes). "
            f"Delete it and download it again from {entry.url}"
        )
    return path


def _how_to_provide(entry: DataFile) -> str:
    return (
        f"To work offline, download {entry.fname} on a machine with internet from\n"
        f"    {entry.url}\n"
        f"put it in a folder, and point the environment variable RVT_DATA_DIR at that folder\n"
        f"(e.g. `export RVT_DATA_DIR=/path/to/data`, or os.environ['RVT_DATA_DIR'] = ... in Python)."
    )


def fetch(name: str) -> Path:
    """Return the local path of the registered file ``name``, verified against its SHA-256.

    Looks in ``$RVT_DATA_DIR`` first, then downloads into the cache (see the module docstring).
    Raises ``KeyError`` for an unknown name, ``DataCorruptError`` for a file whose hash does not
    match, and ``DataUnavailableError`` when there is no copy and the download fails.
    """
    entry = lookup(name)

    # 1. the user's folder: if the file is there it must be right; we never fall back silently
    folder = data_dir()
    if folder is not None and (folder / entry.fname).is_file():
        return verify(folder / entry.fname, entry)

    # 2. the download cache: pooch re-downloads a cached copy whose hash does not match
    cache = cache_dir()
    cached = cache / entry.fname
    attempts = 2  # a download whose hash mismatches (e.g. cut short) is retried once
    for attempt in range(attempts):
        try:
            path = pooch.retrieve(entry.url, known_hash=f"sha256:{entry.sha256}",
                                  fname=entry.fname, path=cache)
            return verify(path, entry)  # cheap insurance: pooch already checked, we check again
        except ValueError as err:  # pooch: the downloaded bytes do not have the pinned hash
            if cached.exists():
                cached.unlink()
            if attempt == attempts - 1:
                raise DataCorruptError(
                    f"{entry.fname}: downloaded twice from {entry.url}, and the bytes do not match "
                    f"the pinned SHA-256 {entry.sha256} ({err}). The source may have changed or "
                    f"the connection is cutting downloads short.\n" + _how_to_provide(entry)
                ) from err
        except OSError as err:  # no network: requests' errors and socket errors are OSErrors
            # 3. offline and no copy: one clear error that says how to fix it
            where = f"RVT_DATA_DIR={folder}" if folder is not None else "RVT_DATA_DIR is not set"
            stale = (f" A cached copy at {cached} exists but does not match the pinned hash."
                     if cached.exists() else "")
            raise DataUnavailableError(
                f"{entry.fname} is not available: it is not in the data folder ({where}), "
                f"not in the cache {cache}, and downloading it from {entry.url} failed "
                f"({type(err).__name__}: {err}).{stale}\n" + _how_to_provide(entry)
            ) from None  # the message already names the cause; one error, not a chain of three
    raise AssertionError("unreachable")  # pragma: no cover
