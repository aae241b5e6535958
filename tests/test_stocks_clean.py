"""clean_prices and load_price_csv: any price table, including yfinance's awkward exports."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rvt_lib.data.stocks import PriceReport, clean_prices, load_price_csv

DATES = pd.bdate_range("2023-01-02", periods=30, name="Date")


def _prices(n_tickers=4, dates=DATES, seed=0) -> pd.DataFrame:
    """A random-walk price table (days, tickers), strictly positive."""
    rng = np.random.default_rng(seed)
    walk = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (len(dates), n_tickers)), axis=0))
    return pd.DataFrame(walk, index=dates, columns=[f"T{i}" for i in range(n_tickers)])


def _yfinance_export(prices: pd.DataFrame, fields=("Close", "High", "Low", "Open", "Volume")) -> pd.DataFrame:
    """The frame ``yf.download([...])`` returns: columns ('Price', 'Ticker'), index 'Date'."""
    parts = {f: prices * (1.0 if f in ("Close", "Adj Close") else 1.01 + 0.1 * i) for i, f in enumerate(fields)}
    df = pd.concat(parts, axis=1, names=["Price", "Ticker"])
    df.index.name = "Date"
    return df


def test_complete_table_passes_unchanged():
    prices = _prices()
    clean, report = clean_prices(prices)
    pd.testing.assert_frame_equal(clean, prices, check_freq=False)
    assert isinstance(report, PriceReport)
    assert report.empty_days == () and report.dropped_tickers == {} and report.gap_days == ()
    assert (report.start, report.end) == ("2023-01-02", str(DATES[-1].date()))
    assert (report.n_days, report.n_tickers) == (30, 4)
    assert "nothing dropped" in report.summary()


def test_empty_first_row_is_dropped_not_every_ticker():
    """The bug this function fixes: dropna(axis=1) on such a table dropped every ticker."""
    prices = _prices()
    prices.iloc[0] = np.nan
    assert prices.dropna(axis=1).shape[1] == 0  # the old recipe
    clean, report = clean_prices(prices)
    assert clean.shape == (29, 4) and not clean.isna().any().any()
    assert report.empty_days == ("2023-01-02",) and report.dropped_tickers == {}
    assert "2023-01-02" in report.summary()


def test_ticker_with_gap_is_dropped_and_reported():
    prices = _prices()
    prices.iloc[5:8, 2] = np.nan  # T2 misses three days
    prices.iloc[:2, 3] = np.nan   # T3 starts late (a listing during the period)
    clean, report = clean_prices(prices)
    assert list(clean.columns) == ["T0", "T1"] and len(clean) == 30
    assert report.dropped_tickers == {"T2": 3, "T3": 2}
    assert "T2 (3 missing)" in report.summary()


def test_max_gap_frac_keeps_a_ticker_and_drops_its_gap_days_without_filling():
    prices = _prices()
    prices.iloc[5, 2] = np.nan  # 1 of 30 days
    prices.iloc[:10, 3] = np.nan  # 10 of 30 days
    clean, report = clean_prices(prices, max_gap_frac=0.1)
    assert list(clean.columns) == ["T0", "T1", "T2"] and report.dropped_tickers == {"T3": 10}
    assert report.gap_days == (str(DATES[5].date()),) and len(clean) == 29
    assert DATES[5] not in clean.index and not clean.isna().any().any()
    pd.testing.assert_frame_equal(clean, prices.drop(index=DATES[5], columns="T3"), check_freq=False)


def test_all_nan_table_is_a_clear_error():
    prices = _prices() * np.nan
    with pytest.raises(ValueError, match="no ticker .* has a single price"):
        clean_prices(prices)


def test_too_few_tickers_left_names_what_was_left():
    prices = _prices(n_tickers=3)
    prices.iloc[3, 1] = np.nan
    prices.iloc[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"1 ticker\(s\) \['T0'\].*need at least 2 tickers.*T1 \(1 missing\)"):
        clean_prices(prices)
    with pytest.raises(ValueError, match="need at least 2 tickers and 40 days"):
        clean_prices(_prices(), min_days=40)
    clean, _ = clean_prices(prices, min_tickers=1)
    assert list(clean.columns) == ["T0"]


def test_duplicate_dates_are_an_error():
    prices = _prices()
    prices = pd.concat([prices, prices.iloc[[3]]])
    with pytest.raises(ValueError, match=r"appear more than once.*2023-01-05"):
        clean_prices(prices)


def test_bad_dates_are_an_error_and_unsorted_dates_are_sorted():
    prices = _prices().reset_index()
    prices["Date"] = prices["Date"].astype(str)
    prices.loc[4, "Date"] = "not a date"
    with pytest.raises(ValueError, match="not dates.*'not a date'"):
        clean_prices(prices)
    with pytest.raises(ValueError, match="no dates"):
        clean_prices(_prices().reset_index(drop=True))
    shuffled = _prices().sample(frac=1.0, random_state=0)
    clean, _ = clean_prices(shuffled)
    assert clean.index.is_monotonic_increasing and clean.index.name == "Date"


def test_non_numeric_and_non_positive_values_are_errors():
    prices = _prices().astype(object)
    prices.iloc[7, 1] = "12,5"
    with pytest.raises(ValueError, match="'T1' has 1 non-numeric value.*'12,5'"):
        clean_prices(prices)
    prices = _prices()
    prices.iloc[2, 0] = -1.0
    with pytest.raises(ValueError, match="'T0'.*not positive finite"):
        clean_prices(prices)
    prices.iloc[2, 0] = np.inf
    with pytest.raises(ValueError, match="not positive finite"):
        clean_prices(prices)


@pytest.mark.parametrize("kwargs", [{"max_gap_frac": 1.0}, {"max_gap_frac": -0.1}, {"min_tickers": 0},
                                    {"min_days": 2.5}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        clean_prices(_prices(), **kwargs)
    with pytest.raises(TypeError):
        clean_prices(_prices().to_numpy())


def test_load_flat_csv(tmp_path):
    prices = _prices()
    prices.iloc[0, :] = np.nan
    prices.iloc[10, 1] = np.nan
    path = tmp_path / "mine.csv"
    prices.to_csv(path)
    clean, report = load_price_csv(path)
    assert list(clean.columns) == ["T0", "T2", "T3"] and len(clean) == 29
    assert report.source == "mine.csv" and report.price_field is None
    np.testing.assert_allclose(clean.to_numpy(), prices.iloc[1:].drop(columns="T1").to_numpy())


def test_load_yfinance_export_with_empty_first_row(tmp_path):
    """The file that used to fail in the stocks chapter (split_tickers: ... got 0)."""
    prices = _prices()
    frame = _yfinance_export(prices)
    frame.iloc[0] = np.nan  # yfinance's all-NaN first row
    path = tmp_path / "yf.csv"
    frame.to_csv(path)
    assert open(path).read().splitlines()[:3][0].startswith("Price,Close")  # two header rows + 'Date,,,'
    clean, report = load_price_csv(path)
    assert report.price_field == "Close" and report.empty_days == ("2023-01-02",)
    np.testing.assert_allclose(clean.to_numpy(), prices.iloc[1:].to_numpy())
    assert list(clean.columns) == list(prices.columns)


def test_load_yfinance_export_prefers_adjusted_closes(tmp_path):
    prices = _prices()
    frame = _yfinance_export(prices, fields=("Adj Close", "Close", "High"))
    frame[("Close", "T0")] *= 2  # raw closes differ from the adjusted ones
    path = tmp_path / "yf.csv"
    frame.to_csv(path)
    clean, report = load_price_csv(path)
    assert report.price_field == "Adj Close"
    np.testing.assert_allclose(clean["T0"].to_numpy(), prices["T0"].to_numpy())
    raw, report = load_price_csv(path, price_field="Close")
    np.testing.assert_allclose(raw["T0"].to_numpy(), 2 * prices["T0"].to_numpy())
    with pytest.raises(ValueError, match="'Volume' not in"):
        load_price_csv(path, price_field="Volume")


@pytest.mark.filterwarnings("ignore")
def test_load_genuine_yfinance_download_export(monkeypatch, tmp_path):
    """yfinance's own download() (network faked) -> to_csv -> load_price_csv."""
    yf = pytest.importorskip("yfinance")
    walk = _prices(n_tickers=2)

    def history(self, *args, **kwargs):
        idx = walk.index.tz_localize("America/New_York")
        close = walk["T0" if self.ticker == "AAA" else "T1"].to_numpy()
        return pd.DataFrame({"Open": close, "High": close, "Low": close, "Close": close, "Volume": 100},
                            index=idx)
    monkeypatch.setattr(yf.Ticker, "history", history)
    raw = yf.download(["AAA", "BBB"], start="2023-01-01", end="2023-03-01", progress=False,
                      auto_adjust=True, threads=False)
    path = tmp_path / "yf.csv"
    raw.to_csv(path)
    clean, report = load_price_csv(path)
    assert sorted(clean.columns) == ["AAA", "BBB"] and report.n_days == len(walk)
    np.testing.assert_allclose(clean["BBB"].to_numpy(), walk["T1"].to_numpy())


def test_load_price_csv_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_price_csv(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("when,AAPL\n2023-01-02,1.0\n")
    with pytest.raises(ValueError, match="'Date' column"):
        load_price_csv(bad)
    text = tmp_path / "text.csv"
    text.write_text("Date,AAPL,MSFT\n2023-01-02,1.0,2.0\n2023-01-03,n/a?,2.1\n2023-01-04,1.1,2.2\n")
    with pytest.raises(ValueError, match="'AAPL' has 1 non-numeric"):
        load_price_csv(text)


def test_time_zones_and_date_columns_are_accepted():
    prices = _prices()
    aware = prices.set_axis(prices.index.tz_localize("America/New_York"), axis=0)
    clean, _ = clean_prices(aware)
    assert clean.index.tz is None and clean.index[0] == pd.Timestamp("2023-01-02")
    as_column = prices.reset_index()  # a 'Date' column of timestamps
    clean, _ = clean_prices(as_column)
    pd.testing.assert_frame_equal(clean, prices, check_freq=False)


def test_summary_names_the_worst_gaps_first_and_counts_the_rest():
    prices = _prices(n_tickers=9)
    for i in range(7):
        prices.iloc[: i + 1, i + 2] = np.nan  # T2 misses 1 day, ..., T8 misses 7
    _, report = clean_prices(prices)
    text = report.summary()
    assert text.index("T8 (7 missing)") < text.index("T7 (6 missing)") and "and 2 more" in text
    assert len(report.dropped_tickers) == 7 and report.n_tickers == 2


def test_offsets_keep_the_local_day():
    """An old yfinance export writes '2023-01-03 00:00:00-05:00'; Tokyo's midnight is +09:00."""
    frame = pd.DataFrame({"Date": ["2023-01-03 00:00:00-05:00", "2023-07-03 00:00:00-04:00",
                                   "2023-07-04 00:00:00+09:00"], "A": [1.0, 2.0, 3.0], "B": [2.0, 3.0, 4.0]})
    clean, report = clean_prices(frame)
    assert [str(d.date()) for d in clean.index] == ["2023-01-03", "2023-07-03", "2023-07-04"]
    assert (report.start, report.end) == ("2023-01-03", "2023-07-04")


def test_the_stocks_chapter_runs_on_a_yfinance_export_of_another_period(tmp_path, monkeypatch):
    """The failure issue 12 reports, end to end: a yfinance-style export (two header rows,
    an all-NaN first day, a ticker with a gap) of a period other than the snapshot's,
    given to the chapter through RVT_PRICES, under the smoke budget."""
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    root = Path(__file__).resolve().parents[1]
    dates = pd.bdate_range("2021-03-01", periods=150, name="Date")    # not the snapshot's year
    prices = _prices(n_tickers=45, dates=dates, seed=3)
    prices.iloc[10:13, 2] = np.nan                                     # T2 has a gap
    frame = _yfinance_export(prices, fields=("Close", "High", "Volume"))
    frame.iloc[0] = np.nan                                             # yfinance's empty first row
    path = tmp_path / "yf_2021.csv"
    frame.to_csv(path)
    monkeypatch.setenv("RVT_PRICES", str(path))
    monkeypatch.setenv("RVT_BUDGET", "smoke")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    chapter = root / "book" / "part3_experiments" / "stocks.ipynb"
    nb = nbformat.read(chapter, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(chapter.parent)}}).execute()
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "44 tickers x 149 trading days, 2021-03-02 to 2021-09-24, from yf_2021.csv" in printed
    assert "dropped 1 ticker(s) with gaps: T2" in printed
