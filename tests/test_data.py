"""The data layer: pinned files, offline errors, and the loaders. No test touches the network."""
from __future__ import annotations

import logging
import os
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pooch
import pytest
import requests
import torch

import rvt_lib.data.ecg as ecg
import rvt_lib.data.registry as registry
import rvt_lib.data.stocks as stocks
import rvt_lib.data.text as text
from rvt_lib.data.registry import REGISTRY, DataCorruptError, DataUnavailableError, fetch

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data"


def _mirror() -> Path:
    """The offline mirror: $RVT_DATA_DIR if it holds the files, else ../shared/data."""
    env = os.environ.get("RVT_DATA_DIR")
    for folder in ([Path(env)] if env else []) + [MIRROR]:
        if all((folder / f).is_file() for f in REGISTRY):
            return folder.resolve()
    pytest.skip("the data mirror is not available (set RVT_DATA_DIR)")


@pytest.fixture
def mirror(monkeypatch, tmp_path):
    """RVT_DATA_DIR -> the mirror; the cache -> an empty tmp folder; any download fails loudly."""
    folder = _mirror()
    monkeypatch.setenv("RVT_DATA_DIR", str(folder))
    monkeypatch.setenv("RVT_CACHE_DIR", str(tmp_path / "cache"))

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to download")
    monkeypatch.setattr(pooch, "retrieve", no_network)
    return folder


def _offline(*args, **kwargs):
    raise requests.exceptions.ConnectionError("Failed to resolve 'raw.githubusercontent.com'")


# ----------------------------------------------------------------------------- registry

def test_registry_urls_and_hashes_are_pinned():
    assert set(REGISTRY) == {"tinyshakespeare.txt", "sp500_adjclose_2022-08-01_2023-07-31.csv",
                             "ECG200_TRAIN.tsv", "ECG200_TEST.tsv"}
    for name, entry in REGISTRY.items():
        assert entry.fname == name
        assert entry.url.startswith("https://raw.githubusercontent.com/")
        assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_fetch_from_data_dir(mirror, name):
    path = fetch(name)
    assert path.is_absolute() and path.resolve() == mirror / name
    assert registry.sha256(path) == REGISTRY[name].sha256


def test_relative_data_dir_falls_back_to_the_project_root(monkeypatch, tmp_path):
    """`RVT_DATA_DIR=../shared/data` set at the root still works from a notebook's subfolder."""
    folder = _mirror()
    relative = os.path.relpath(folder, registry.PROJECT_ROOT)
    monkeypatch.setenv("RVT_DATA_DIR", relative)
    monkeypatch.chdir(tmp_path)  # a folder where the relative path does not exist
    monkeypatch.setattr(pooch, "retrieve", _offline)
    assert fetch("ECG200_TEST.tsv").resolve() == (folder / "ECG200_TEST.tsv").resolve()


def test_unknown_name_lists_known_names():
    with pytest.raises(KeyError, match="tinyshakespeare.txt"):
        fetch("shakespeare")


def test_corrupt_file_in_data_dir_is_an_error(monkeypatch, tmp_path):
    name = "ECG200_TRAIN.tsv"
    good = _mirror() / name
    (tmp_path / name).write_bytes(good.read_bytes()[:1000])  # truncated
    monkeypatch.setenv("RVT_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(pooch, "retrieve", _offline)  # must not fall back to downloading
    with pytest.raises(DataCorruptError) as info:
        fetch(name)
    msg = str(info.value)
    assert name in msg and "corrupt or truncated" in msg
    assert REGISTRY[name].sha256 in msg and registry.sha256(tmp_path / name) in msg


def test_offline_without_file_raises_one_clear_error(monkeypatch, tmp_path):
    name = "tinyshakespeare.txt"
    monkeypatch.delenv("RVT_DATA_DIR", raising=False)
    monkeypatch.setenv("RVT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(pooch, "retrieve", _offline)
    with pytest.raises(DataUnavailableError) as info:
        fetch(name)
    msg = str(info.value)
    assert name in msg and REGISTRY[name].url in msg and "RVT_DATA_DIR" in msg
    assert isinstance(info.value, RuntimeError)


def _real_pooch_with(downloader, monkeypatch, cache_dir):
    """No data folder, the cache in ``cache_dir``, and the genuine ``pooch.retrieve`` using ``downloader``."""
    real_retrieve = pooch.retrieve
    monkeypatch.delenv("RVT_DATA_DIR", raising=False)
    monkeypatch.setenv("RVT_CACHE_DIR", str(cache_dir))
    monkeypatch.setattr(pooch, "retrieve", lambda *a, **k: real_retrieve(*a, downloader=downloader, **k))


def test_offline_error_through_real_pooch(monkeypatch, tmp_path):
    """The genuine pooch code path, with a downloader that fails like a machine without network."""
    _real_pooch_with(_offline, monkeypatch, tmp_path)
    with pytest.raises(DataUnavailableError, match="ECG200_TEST.tsv"):
        fetch("ECG200_TEST.tsv")


def test_corrupt_cached_file_is_downloaded_again(monkeypatch, tmp_path):
    """pooch notices a cached file with the wrong hash and replaces it (here from the mirror)."""
    name = "ECG200_TEST.tsv"
    source = _mirror() / name
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / name).write_text("garbage")
    calls = []

    def fake_download(url, output_file, pooch_obj):
        calls.append(url)
        shutil.copyfile(source, output_file)

    _real_pooch_with(fake_download, monkeypatch, cache)
    path = fetch(name)
    assert calls == [REGISTRY[name].url]
    assert path == cache / name and registry.sha256(path) == REGISTRY[name].sha256
    fetch(name)  # now cached and valid: no second download
    assert len(calls) == 1


def test_download_with_wrong_bytes_is_retried_then_reported(monkeypatch, tmp_path):
    calls = []

    def bad_download(url, output_file, pooch_obj):
        calls.append(url)
        Path(output_file).write_text("not the file")

    _real_pooch_with(bad_download, monkeypatch, tmp_path)
    with pytest.raises(DataCorruptError, match="ECG200_TEST.tsv"):
        fetch("ECG200_TEST.tsv")
    assert len(calls) == 2
    assert not (tmp_path / "ECG200_TEST.tsv").exists()


# ----------------------------------------------------------------------------- text

@pytest.fixture
def shakespeare(mirror):
    return text.load_shakespeare()


def test_shakespeare_vocabulary_and_split(shakespeare):
    ds = shakespeare
    assert len(ds.text) == 1_115_394
    assert ds.vocab_size == 65 and ds.chars == sorted(set(ds.text))
    assert ds.chars[0] == "\n" and ds.chars[1] == " "
    assert len(ds.train) == 1_003_854 and len(ds.val) == 111_540
    assert ds.train.dtype == torch.long
    assert ds.decode(ds.val[:5]) == ds.text[1_003_854:1_003_859]  # val is the last 10%


def test_encode_decode_round_trip(shakespeare):
    s = "First Citizen:\nBefore we proceed any further, hear me speak."
    ids = shakespeare.encode(s)
    assert shakespeare.decode(ids) == s
    assert shakespeare.decode(torch.tensor(ids)) == s
    assert ids[:5] == [shakespeare.stoi[c] for c in "First"]
    with pytest.raises(ValueError, match=r"'é' \(at index 5\)"):
        shakespeare.encode("a café")
    with pytest.raises(ValueError, match="'5'"):  # the only digit in the corpus is 3
        shakespeare.encode("Act 5")
    with pytest.raises(ValueError, match="out of range"):
        shakespeare.decode([65])


def test_get_batch_shapes_shift_and_determinism(shakespeare):
    g = torch.Generator().manual_seed(0)
    x, y = shakespeare.get_batch("train", batch_size=4, block_size=16, generator=g)
    assert x.shape == y.shape == (4, 16) and x.dtype == torch.long
    assert torch.equal(x[:, 1:], y[:, :-1])
    # every window is a genuine piece of the text
    for row_x, row_y in zip(x, y):
        window = shakespeare.decode(row_x) + shakespeare.decode(row_y[-1:])
        assert window in shakespeare.text
    x2, _ = shakespeare.get_batch("train", 4, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)
    xv, _ = shakespeare.get_batch("val", 2, 8, generator=g)
    assert shakespeare.decode(xv[0]) in shakespeare.text[1_003_854:]


def test_get_batch_rejects_bad_arguments():
    ds = text.CharDataset("abcdefghij" * 2)  # 18 train ids, 2 val ids
    with pytest.raises(ValueError, match="split"):
        ds.get_batch("test", 2, 4)
    with pytest.raises(ValueError, match="block_size"):
        ds.get_batch("val", 2, 2)
    with pytest.raises(ValueError, match="batch_size"):
        ds.get_batch("train", 0, 4)


# ----------------------------------------------------------------------------- stocks

def test_sp500_snapshot(mirror):
    df = stocks.load_sp500_snapshot()
    assert df.shape == (251, 503)
    assert isinstance(df.index, pd.DatetimeIndex) and df.index.name == "Date"
    assert df.index[0] == pd.Timestamp("2022-08-01") and df.index[-1] == pd.Timestamp("2023-07-31")
    assert df.index.is_monotonic_increasing and list(df.columns) == sorted(df.columns)
    assert (df.dtypes == "float64").all()
    missing = df.isna().sum()
    assert missing[missing > 0].to_dict() == {"GEHC": 96}
    assert df["GEHC"].first_valid_index() == pd.Timestamp("2022-12-15")
    assert (df.drop(columns="GEHC") > 0).all().all()


def _yf_frame(closes: dict, dates, auto_adjust=True) -> pd.DataFrame:
    """A frame shaped exactly like yfinance 1.x ``download([...])``: MultiIndex columns
    ('Price', 'Ticker'), level 0 sorted (Close, High, Low, Open, Volume; plus Adj Close when
    auto_adjust=False), tz-naive 'Date' index; a failed ticker appears as all-NaN columns."""
    fields = ["Close", "High", "Low", "Open", "Volume"] + ([] if auto_adjust else ["Adj Close"])
    per_ticker = {}
    for t, c in closes.items():
        c = np.asarray(c, dtype=float)
        per_ticker[t] = pd.DataFrame({f: (c if f in ("Close", "Adj Close") else c * 1.01) for f in fields},
                                     index=pd.DatetimeIndex(dates, name="Date"))
    df = pd.concat(per_ticker.values(), axis=1, keys=per_ticker.keys(), names=["Ticker", "Price"])
    df.columns = df.columns.swaplevel(0, 1)
    return df.sort_index(axis=1, level=0)


DATES = pd.bdate_range("2023-01-03", periods=5)


@pytest.fixture
def fake_yf(monkeypatch):
    yf = pytest.importorskip("yfinance")
    monkeypatch.setattr(stocks, "RETRY_WAIT_S", 0.0)
    calls = []

    def install(fn):
        def fake(tickers, **kwargs):
            calls.append((list(tickers), kwargs))
            return fn(tickers, **kwargs)
        monkeypatch.setattr(yf, "download", fake)
        return calls
    return install


def test_download_prices_flattens_and_caches(fake_yf, tmp_path):
    calls = fake_yf(lambda tickers, **kw: _yf_frame({"AAPL": [1, 2, 3, 4, 5], "MSFT": [5, 6, 7, 8, 9]}, DATES))
    df = stocks.download_prices(["msft", "AAPL"], "2023-01-01", "2023-01-10", cache_dir=tmp_path)
    assert list(df.columns) == ["MSFT", "AAPL"] and df.index.name == "Date"
    assert df["AAPL"].tolist() == [1, 2, 3, 4, 5] and df["MSFT"].iloc[-1] == 9
    assert calls[0][1]["auto_adjust"] is True and calls[0][1]["start"] == "2023-01-01"
    again = stocks.download_prices(["MSFT", "AAPL"], "2023-01-01", "2023-01-10", cache_dir=tmp_path)
    assert len(calls) == 1  # served from the CSV cache
    pd.testing.assert_frame_equal(df, again, check_freq=False)
    stocks.download_prices(["MSFT", "AAPL"], "2023-01-01", "2023-01-10", cache_dir=tmp_path, auto_adjust=False)
    assert len(calls) == 2 and calls[1][1]["auto_adjust"] is False  # a different cache key


def test_download_prices_corrupt_cache_is_downloaded_again(fake_yf, tmp_path):
    calls = fake_yf(lambda tickers, **kw: _yf_frame({"AAPL": [1, 2, 3, 4, 5]}, DATES))
    stocks.download_prices(["AAPL"], "2023-01-01", "2023-01-10", cache_dir=tmp_path)
    (cache_file,) = tmp_path.glob("*.csv")
    cache_file.write_text("Date,AAPL\n2023-01-03,1.0\nnot a date,")
    with pytest.warns(UserWarning, match="corrupt"):
        df = stocks.download_prices(["AAPL"], "2023-01-01", "2023-01-10", cache_dir=tmp_path)
    assert len(calls) == 2 and len(df) == 5


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # yfinance's own pandas deprecations
def test_download_prices_real_yfinance_shape(monkeypatch, tmp_path):
    """Run the genuine ``yfinance.download`` offline (Ticker.history faked) to pin its shape."""
    yf = pytest.importorskip("yfinance")

    def history(self, *args, **kwargs):
        if self.ticker == "NOPE":
            return yf.utils.empty_df()
        if self.ticker == "OFFLINE":
            raise requests.exceptions.ConnectionError("Failed to resolve 'query2.finance.yahoo.com'")
        idx = pd.DatetimeIndex(DATES, name="Date").tz_localize("America/New_York")
        return pd.DataFrame({"Open": 1.0, "High": 2.0, "Low": 0.5, "Close": np.arange(5.0) + 10,
                             "Volume": 100}, index=idx)
    monkeypatch.setattr(yf.Ticker, "history", history)
    df = stocks.download_prices(["AAA", "BBB"], "2023-01-01", "2023-01-10", cache_dir=tmp_path)
    assert df.shape == (5, 2) and df["BBB"].tolist() == [10, 11, 12, 13, 14]
    with pytest.raises(ValueError, match="NOPE"):
        stocks.download_prices(["AAA", "NOPE"], "2023-01-01", "2023-01-10", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="OFFLINE.*ConnectionError"):  # yfinance only logs it
        stocks.download_prices(["OFFLINE"], "2023-01-01", "2023-01-10", cache_dir=tmp_path)


def test_download_prices_names_tickers_without_data(fake_yf, tmp_path):
    fake_yf(lambda tickers, **kw: _yf_frame({"AAPL": [1, 2, 3, 4, 5], "XXXX": [np.nan] * 5}, DATES))
    with pytest.raises(ValueError, match="XXXX") as info:
        stocks.download_prices(["AAPL", "XXXX"], "2023-01-01", "2023-01-10", cache_dir=tmp_path)
    assert "AAPL" not in str(info.value).split("between")[0]
    assert not list(tmp_path.glob("*.csv"))  # nothing cached


def test_download_prices_empty_frame(fake_yf, tmp_path):
    fake_yf(lambda tickers, **kw: pd.DataFrame())
    with pytest.raises(ValueError, match="ZZZZ"):
        stocks.download_prices(["ZZZZ"], "2023-01-01", "2023-01-10", cache_dir=tmp_path)


def test_download_prices_rate_limit(fake_yf, tmp_path):
    from yfinance.exceptions import YFRateLimitError

    def raise_rate_limit(tickers, **kw):
        raise YFRateLimitError()
    calls = fake_yf(raise_rate_limit)
    with pytest.raises(RuntimeError, match="rate-limited"):
        stocks.download_prices(["AAPL"], "2023-01-01", "2023-01-10", cache_dir=tmp_path, max_retries=2)
    assert len(calls) == 3


def test_download_prices_rate_limit_logged_then_recovers(fake_yf, tmp_path):
    """yfinance 1.x catches per-ticker errors and only logs them; a logged rate limit is retried."""
    def flaky(tickers, **kw):
        if len(calls) == 1:
            logging.getLogger("yfinance").error(
                "['AAPL']: YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')")
            return _yf_frame({"AAPL": [np.nan] * 5}, DATES)
        return _yf_frame({"AAPL": [1, 2, 3, 4, 5]}, DATES)
    calls = fake_yf(flaky)
    df = stocks.download_prices(["AAPL"], "2023-01-01", "2023-01-10", cache_dir=tmp_path)
    assert len(calls) == 2 and df["AAPL"].iloc[0] == 1


@pytest.mark.parametrize("tickers,start,end,match", [
    ([], "2023-01-01", "2023-02-01", "non-empty list"),
    ("AAPL", "2023-01-01", "2023-02-01", "list of strings"),
    (["AAPL", 3], "2023-01-01", "2023-02-01", "non-empty string"),
    (["AAPL"], "yesterday-ish", "2023-02-01", "yesterday-ish"),
    (["AAPL"], "2023-02-01", "2023-01-01", "before end"),
    (["AAPL"], "2023-01-01", "2999-01-01", "future"),
])
def test_download_prices_validates_arguments(fake_yf, tmp_path, tickers, start, end, match):
    calls = fake_yf(lambda tickers, **kw: pytest.fail("must not download"))
    with pytest.raises(ValueError, match=match):
        stocks.download_prices(tickers, start, end, cache_dir=tmp_path)
    assert calls == []


# ----------------------------------------------------------------------------- ECG

def test_ecg200_shapes_and_label_mapping(mirror):
    X_train, y_train, X_test, y_test = ecg.load_ecg200()
    assert X_train.shape == X_test.shape == (100, 96) and X_train.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    assert np.bincount(y_train).tolist() == [69, 31]  # 69 normal (0), 31 MI (1)
    assert np.bincount(y_test).tolist() == [64, 36]
    raw = np.loadtxt(mirror / "ECG200_TRAIN.tsv", delimiter="\t")
    np.testing.assert_array_equal(y_train == 1, raw[:, 0] == -1)  # MI (-1 in the file) is 1
    np.testing.assert_allclose(X_train, raw[:, 1:], rtol=1e-6)


def _write_ptb(folder: Path, n_normal=3, n_abnormal=4, seed=0):
    """Small files in the genuine Kaggle format: 188 '%.18e' floats, zero-padded beats, no header."""
    rng = np.random.default_rng(seed)
    for fname, n, label in (("ptbdb_normal.csv", n_normal, 0), ("ptbdb_abnormal.csv", n_abnormal, 1)):
        beats = np.zeros((n, 188))
        beats[:, :120] = rng.uniform(0, 1, size=(n, 120))
        beats[:, 0] = 1.0
        beats[:, -1] = label
        np.savetxt(folder / fname, beats, fmt="%.18e", delimiter=",")


def test_load_ptb_from_folder_and_env(monkeypatch, tmp_path):
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "no_kagglehub_cache"))
    monkeypatch.delenv("RVT_DATA_DIR", raising=False)
    assert not ecg.ptb_available()
    _write_ptb(tmp_path)
    assert ecg.ptb_available(tmp_path)
    X, y = ecg.load_ptb(tmp_path)
    assert X.shape == (7, 187) and X.dtype == np.float32 and y.dtype == np.int64
    assert y.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert (X[:, 0] == 1).all() and (X[:, 120:] == 0).all()
    monkeypatch.setenv("RVT_DATA_DIR", str(tmp_path))
    assert ecg.ptb_available()
    X2, _ = ecg.load_ptb()
    np.testing.assert_array_equal(X, X2)


def test_load_ptb_missing_files_explains_how(monkeypatch, tmp_path):
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "none"))
    monkeypatch.setenv("RVT_DATA_DIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "kagglehub", None)  # as if kagglehub were not installed
    with pytest.raises(DataUnavailableError) as info:
        ecg.load_ptb()
    msg = str(info.value)
    assert "ptbdb_normal.csv" in msg and "RVT_DATA_DIR" in msg and "kagglehub" in msg and "folder" in msg
    with pytest.raises(DataUnavailableError, match="ptbdb_abnormal.csv"):
        ecg.load_ptb(tmp_path)


def test_load_ptb_through_kagglehub(monkeypatch, tmp_path):
    """With kagglehub importable, load_ptb asks it for the dataset; its failure is explained."""
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "none"))
    monkeypatch.delenv("RVT_DATA_DIR", raising=False)
    downloaded = tmp_path / "kaggle"
    downloaded.mkdir()
    _write_ptb(downloaded, n_normal=2, n_abnormal=1)
    fake = types.ModuleType("kagglehub")
    fake.dataset_download = lambda handle: str(downloaded) if handle == "shayanfazeli/heartbeat" else None
    monkeypatch.setitem(sys.modules, "kagglehub", fake)
    X, y = ecg.load_ptb()
    assert X.shape == (3, 187) and y.tolist() == [0, 0, 1]

    def offline(handle):
        raise ConnectionError("no network")
    fake.dataset_download = offline
    with pytest.raises(DataUnavailableError, match="kagglehub could not download.*no network"):
        ecg.load_ptb()


@pytest.mark.parametrize("corruption,match", [
    ("extra_column", "188"),
    ("short_rows", "188"),
    ("bad_label", "0 or 1"),
    ("nan", "NaN"),
    ("swapped", "label 0"),
])
def test_load_ptb_rejects_malformed_files(tmp_path, corruption, match):
    _write_ptb(tmp_path)
    path = tmp_path / "ptbdb_normal.csv"
    rows = np.loadtxt(path, delimiter=",")
    if corruption == "extra_column":  # one row longer than the others
        lines = path.read_text().splitlines()
        lines[1] += ",0.0"
        path.write_text("\n".join(lines) + "\n")
    elif corruption == "short_rows":  # every row misses its label
        np.savetxt(path, rows[:, :187], fmt="%.18e", delimiter=",")
    elif corruption == "bad_label":
        rows[0, -1] = 2.0
        np.savetxt(path, rows, fmt="%.18e", delimiter=",")
    elif corruption == "nan":
        rows[1, 5] = np.nan
        np.savetxt(path, rows, fmt="%.18e", delimiter=",")
    elif corruption == "swapped":
        rows[:, -1] = 1.0
        np.savetxt(path, rows, fmt="%.18e", delimiter=",")
    with pytest.raises(ValueError, match=match):
        ecg.load_ptb(tmp_path)
