"""Every data file the course uses, pinned by URL and SHA-256, and one way to get it: ``fetch``.

A chapter never opens a URL itself. It asks for a file by name::

    from rvt_lib.data.registry import fetch
    path = fetch("tinyshakespeare.txt")        # a pathlib.Path to a verified file

``fetch`` looks in three places, in this order:

1. ``$RVT_DATA_DIR``: a folder you filled yourself (an offline machine, CI). If the file is
   there, its SHA-256 must match the pinned one; a corrupt or truncated copy is an error,
   never used silently.
2. The download cache (``$RVT_CACHE_DIR``, else ``pooch.os_cache("rvt_lib")``). ``pooch``
   downloads the file, checks the hash, and replaces a cached copy whose hash no longer
   matches. Every file has more than one pinned source (``DataFile.urls``: the primary URL,
   then mirrors); they are tried in order, and the hash decides whether a download is the
   file. A source that is gone, unreachable or serving other bytes just moves us on to the next.
3. Nothing worked (offline, no copy): one ``DataUnavailableError`` that says which file is
   missing, every URL it was tried from, and how to provide it by hand (``RVT_DATA_DIR``).

Why pin a hash? The URLs point at fixed git commits, so the bytes should never change; the
hash turns "should" into a check, and it is what makes a mirror trustworthy: any host that
serves bytes with this SHA-256 serves exactly the file the book was computed from.

Mirroring the files yourself: download each file once (``fetch`` does it, or any URL in
``REGISTRY[name].urls``), check ``sha256(path) == REGISTRY[name].sha256``, and put the files in
one folder (a shared drive, a web server, a USB stick); readers then set ``RVT_DATA_DIR`` to it.

Licences and terms (``DataFile.licence`` says it per file; the chapters cite the sources):

* Tiny Shakespeare: text from the works of William Shakespeare (public domain), as prepared by
  Andrej Karpathy for char-rnn (repository under the MIT licence).
* S&P 500 adjusted closes: prices from Yahoo Finance, collected with yfinance and published by
  the repository jmaslek/daily_sp_500 (code under MIT). The prices themselves are Yahoo's:
  Yahoo's terms of use apply and allow personal, non-commercial use; the course uses them for
  education only. Live downloads (``rvt_lib.data.stocks.download_prices``) fall under the
  same terms.
* ECG200: the UCR Time Series Classification Archive (2018 release), freely available for
  research and teaching; cite the archive (Dau et al. 2019, "The UCR Time Series Archive",
  IEEE/CAA J. Autom. Sinica 6(6)) and the data donor (R. T. Olszewski 2001, PhD thesis,
  Carnegie Mellon University).
* PTB heartbeats (optional, not in this registry: ``rvt_lib.data.ecg.load_ptb``): segments of
  the PhysioNet PTB Diagnostic ECG Database (Open Data Commons Attribution licence v1.0; cite
  Bousseljot et al. 1995 and Goldberger et al. 2000) as prepared for the Kaggle dataset
  ``shayanfazeli/heartbeat`` (Kachuee et al. 2018); Kaggle's terms apply to that download.

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
    """One pinned file: where it comes from, what its bytes must hash to, and its terms."""

    fname: str        # the file name on disk (also the key in REGISTRY)
    url: str          # the primary source, a URL pinned to a fixed commit
    sha256: str       # hex digest of the expected bytes
    description: str  # one line for humans
    mirrors: tuple[str, ...] = ()  # further sources of the same bytes, tried in order after url
    licence: str = ""              # the licence or terms of use of the data, one line

    def __post_init__(self):
        if not isinstance(self.mirrors, tuple):
            raise TypeError(f"{self.fname}: mirrors must be a tuple of URLs, got {type(self.mirrors).__name__}")
        for u in (self.url, *self.mirrors):
            if not (isinstance(u, str) and u.startswith("https://")):
                raise ValueError(f"{self.fname}: every source must be an https:// URL, got {u!r}")
        if len(set(self.urls)) != len(self.urls):
            raise ValueError(f"{self.fname}: a source is listed twice: {self.urls}")

    @property
    def urls(self) -> tuple[str, ...]:
        """Every source, in the order ``fetch`` tries them: the primary URL, then the mirrors."""
        return (self.url, *self.mirrors)


_GITHUB = "https://raw.githubusercontent.com"
_JSDELIVR = "https://cdn.jsdelivr.net/gh"  # serves a GitHub repository's files at a commit; caches them
_CHAR_RNN = "karpathy/char-rnn@6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e"
_SP500 = "jmaslek/daily_sp_500@0464222be50648a7104b0af789770c51882a1165"
_OS_CNN = "Wensi-Tang/OS-CNN@f70626d3c4aad70a76ba7b4745f556df01044279"
_ECG200_PATH = "Example_Datasets/UCRArchive_2018/ECG200"


def _raw(repo_at_commit: str, path: str) -> str:
    """raw.githubusercontent.com URL of ``path`` in ``owner/name@commit``."""
    repo, commit = repo_at_commit.split("@")
    return f"{_GITHUB}/{repo}/{commit}/{path}"


def _cdn(repo_at_commit: str, path: str) -> str:
    """The same file through jsDelivr's GitHub CDN (a second host, same commit, same bytes)."""
    return f"{_JSDELIVR}/{repo_at_commit}/{path}"


_LICENCE_SHAKESPEARE = ("Shakespeare's text is in the public domain; prepared by A. Karpathy for char-rnn "
                        "(MIT licence)")
_LICENCE_SP500 = ("Yahoo Finance data (via yfinance, published by jmaslek/daily_sp_500): Yahoo's terms of "
                  "use, personal and educational use only")
_LICENCE_UCR = ("UCR Time Series Classification Archive: free for research and teaching; cite Dau et al. "
                "2019 and Olszewski 2001")

REGISTRY: dict[str, DataFile] = {
    f.fname: f
    for f in [
        DataFile(
            "tinyshakespeare.txt",
            _raw(_CHAR_RNN, "data/tinyshakespeare/input.txt"),
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            "Tiny Shakespeare: 1,115,394 characters, 65 distinct (char-rnn / nanoGPT corpus)",
            mirrors=(_cdn(_CHAR_RNN, "data/tinyshakespeare/input.txt"),
                     # TensorFlow's copy of the same corpus (its text-generation tutorial)
                     "https://storage.googleapis.com/download.tensorflow.org/data/shakespeare.txt"),
            licence=_LICENCE_SHAKESPEARE,
        ),
        DataFile(
            "sp500_adjclose_2022-08-01_2023-07-31.csv",
            _raw(_SP500, "SP500_prices_1yr.csv"),
            "0d4a784c46ecb184378b5cfb91e05cf48321ce062ef2d80b8c291062184fded5",
            "Adjusted daily closes of 503 S&P 500 constituents, 251 trading days (yfinance snapshot)",
            mirrors=(_cdn(_SP500, "SP500_prices_1yr.csv"),),
            licence=_LICENCE_SP500,
        ),
        DataFile(
            "ECG200_TRAIN.tsv",
            _raw(_OS_CNN, f"{_ECG200_PATH}/ECG200_TRAIN.tsv"),
            "bd08b37147ebf205231ad43e02c42dd5c14bc348f4ccc7614f85634c8916bf21",
            "UCR ECG200 training split: 100 heartbeats x 96 samples, label in column 0",
            mirrors=(_cdn(_OS_CNN, f"{_ECG200_PATH}/ECG200_TRAIN.tsv"),),
            licence=_LICENCE_UCR,
        ),
        DataFile(
            "ECG200_TEST.tsv",
            _raw(_OS_CNN, f"{_ECG200_PATH}/ECG200_TEST.tsv"),
            "c8ac02caf98be23c47c044fde026219301ceaf0b2f97bc107bd0cd96330b867c",
            "UCR ECG200 test split: 100 heartbeats x 96 samples, label in column 0",
            mirrors=(_cdn(_OS_CNN, f"{_ECG200_PATH}/ECG200_TEST.tsv"),),
            licence=_LICENCE_UCR,
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
            f"Delete it and download it again from one of {', '.join(entry.urls)}"
        )
    return path


def _how_to_provide(entry: DataFile) -> str:
    sources = "\n".join(f"    {u}" for u in entry.urls)
    return (
        f"To work offline, download {entry.fname} on a machine with internet from any of\n"
        f"{sources}\n"
        f"(its SHA-256 must be {entry.sha256}), put it in a folder, and point the environment\n"
        f"variable RVT_DATA_DIR at that folder (e.g. `export RVT_DATA_DIR=/path/to/data`, or\n"
        f"os.environ['RVT_DATA_DIR'] = ... in Python)."
    )


def _sources(entry: DataFile) -> tuple[str, ...]:
    """The download attempts, in order: every source once, and at least two attempts in all
    (a download cut short is then retried even for a file with a single source)."""
    return entry.urls if len(entry.urls) > 1 else entry.urls * 2


def fetch(name: str) -> Path:
    """Return the local path of the registered file ``name``, verified against its SHA-256.

    Looks in ``$RVT_DATA_DIR`` first, then downloads into the cache from each pinned source in
    turn (see the module docstring). Raises ``KeyError`` for an unknown name,
    ``DataCorruptError`` for a file whose hash does not match (in ``RVT_DATA_DIR``, or from every
    source that answered), and ``DataUnavailableError`` when there is no copy and no source
    could be reached.
    """
    entry = lookup(name)

    # 1. the user's folder: if the file is there it must be right; we never fall back silently
    folder = data_dir()
    if folder is not None and (folder / entry.fname).is_file():
        return verify(folder / entry.fname, entry)

    # 2. the download cache: pooch re-downloads a cached copy whose hash does not match
    cache = cache_dir()
    cached = cache / entry.fname
    failures: list[str] = []   # one line per failed attempt: the URL and what went wrong
    mismatched = False         # did any source answer with the wrong bytes?
    for url in _sources(entry):
        try:
            path = pooch.retrieve(url, known_hash=f"sha256:{entry.sha256}",
                                  fname=entry.fname, path=cache)
            return verify(path, entry)  # cheap insurance: pooch already checked, we check again
        except ValueError as err:  # pooch (or verify): the downloaded bytes are not the file
            mismatched = True
            if cached.exists():
                cached.unlink()
            failures.append(f"    {url}: wrong bytes ({err})")
        except OSError as err:  # no network or no file there: requests' errors are OSErrors
            failures.append(f"    {url}: {type(err).__name__}: {err}")
    tried = "\n".join(failures)

    if mismatched:
        raise DataCorruptError(
            f"{entry.fname}: no source gave bytes with the pinned SHA-256 {entry.sha256}. A source "
            f"may have changed, or the connection is cutting downloads short. Tried:\n{tried}\n"
            + _how_to_provide(entry)
        )
    # 3. offline and no copy: one clear error that says how to fix it
    where = f"RVT_DATA_DIR={folder}" if folder is not None else "RVT_DATA_DIR is not set"
    stale = (f" A cached copy at {cached} exists but does not match the pinned hash."
             if cached.exists() else "")
    raise DataUnavailableError(
        f"{entry.fname} is not available: it is not in the data folder ({where}), not in the "
        f"cache {cache}, and downloading it failed from every source:\n{tried}{stale}\n"
        + _how_to_provide(entry)
    )  # raised outside the except blocks: one error, not a chain of three
