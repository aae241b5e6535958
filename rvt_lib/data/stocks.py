"""Daily stock prices: a pinned offline snapshot of the S&P 500, and a careful live download.

Two ways in:

* ``load_sp500_snapshot()``: adjusted closes of 503 S&P 500 constituents over 251 trading
  days (2022-08-01 .. 2023-07-31), downloaded once with yfinance and pinned by SHA-256.
  The book uses this, so its numbers never depend on Yahoo's servers.
* ``download_prices(tickers, start, end)``: the same kind of table for any tickers and
  dates, through ``yfinance`` (optional dependency: ``pip install yfinance``). Results are
  cached as CSV, so a notebook re-run does not hit the network again.

Both return a ``pandas.DataFrame`` with a ``DatetimeIndex`` named ``Date`` (trading days
only, ascending) and one float column per ticker.
"""
from __future__ import annotations

import hashlib
import logging
import time
import warnings
from pathlib import Path

import pandas as pd

from rvt_lib.data.registry import cache_dir as _default_cache_dir
from rvt_lib.data.registry import fetch

SP500_FILE = "sp500_adjclose_2022-08-01_2023-07-31.csv"
RETRY_WAIT_S = 10.0  # seconds before retrying after a rate limit (doubled each retry)


def load_sp500_snapshot() -> pd.DataFrame:
    """Adjusted daily closes of 503 S&P 500 stocks, 251 rows from 2022-08-01 to 2023-07-31.

    Columns are tickers, sorted alphabetically (the file itself is in no useful order).
    Missing values are kept, not filled: GE HealthCare (``GEHC``) was spun off from GE and
    its shares only started trading in December 2022 (first price 2022-12-15, when-issued),
    so its first 96 rows are NaN. Drop or handle such
    columns explicitly, e.g. ``df.dropna(axis=1)`` keeps the 502 complete tickers.
    """
    df = pd.read_csv(fetch(SP500_FILE), index_col="Date", parse_dates=["Date"])
    df = df.sort_index().astype("float64")
    return df[sorted(df.columns)]


# ----------------------------------------------------------------------------- live download

def _parse_date(value, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name}={value!r} is not a date (use e.g. '2023-01-31')") from err
    if pd.isna(ts):
        raise ValueError(f"{name}={value!r} is not a date (use e.g. '2023-01-31')")
    if ts.tzinfo is not None:
        ts = ts.tz_convert(None)
    return ts.normalize()


def _check_request(tickers, start, end) -> tuple[list[str], pd.Timestamp, pd.Timestamp]:
    if isinstance(tickers, str) or not isinstance(tickers, (list, tuple)):
        raise ValueError(f"tickers must be a non-empty list of strings like ['AAPL', 'MSFT'], got {tickers!r}")
    if len(tickers) == 0:
        raise ValueError("tickers must be a non-empty list of strings like ['AAPL', 'MSFT'], got []")
    bad = [t for t in tickers if not isinstance(t, str) or not t.strip()]
    if bad:
        raise ValueError(f"every ticker must be a non-empty string, got {bad!r}")
    # Yahoo symbols are upper case, and yfinance upper-cases them too; duplicates are dropped
    tickers = list(dict.fromkeys(t.strip().upper() for t in tickers))

    start, end = _parse_date(start, "start"), _parse_date(end, "end")
    today = pd.Timestamp.now().normalize()
    if start >= end:
        raise ValueError(f"start ({start.date()}) must be before end ({end.date()})")
    if start > today:
        raise ValueError(f"start ({start.date()}) is in the future (today is {today.date()})")
    # yfinance's end is exclusive: end = tomorrow is the latest that makes sense
    if end > today + pd.Timedelta(days=1):
        raise ValueError(f"end ({end.date()}) is in the future (today is {today.date()}; "
                         f"end is exclusive, so the latest useful end is tomorrow)")
    return tickers, start, end


def _cache_file(folder: Path, tickers, start, end, auto_adjust: bool) -> Path:
    """One CSV per request: the key is the sorted tickers, both dates and auto_adjust."""
    key = f"{','.join(sorted(tickers))}|{start.date()}|{end.date()}|auto_adjust={auto_adjust}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return folder / f"prices_{start.date()}_{end.date()}_{'adj' if auto_adjust else 'raw'}_{digest}.csv"


def _read_cache(path: Path, tickers) -> pd.DataFrame | None:
    """The cached table, or None if it is missing or unreadable (then we download again)."""
    if not path.is_file():
        return None
    try:
        df = pd.read_csv(path, index_col="Date", parse_dates=["Date"])
        if (sorted(df.columns) != sorted(tickers) or len(df) == 0
                or not isinstance(df.index, pd.DatetimeIndex) or df.index.hasnans):
            raise ValueError("unexpected columns, rows or dates")
        return df.astype("float64")[list(tickers)]
    except Exception as err:  # a half-written or edited file: say so, then download again
        warnings.warn(f"ignoring the corrupt price cache {path} ({err}); downloading again", stacklevel=3)
        return None


class _CollectLog(logging.Handler):
    """Collects yfinance's log messages: yfinance 1.x logs per-ticker failures instead of raising."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _close_prices(raw: pd.DataFrame, tickers) -> pd.DataFrame:
    """yfinance's table -> one 'Close' column per ticker.

    ``yf.download([...])`` returns MultiIndex columns with levels ``('Price', 'Ticker')``,
    e.g. ``('Close', 'AAPL'), ('High', 'AAPL'), ...``; we keep the ``Close`` level.
    """
    if isinstance(raw.columns, pd.MultiIndex):
        if "Close" not in raw.columns.get_level_values(0):
            raise ValueError(f"yfinance returned no 'Close' prices (columns: {list(raw.columns)[:6]} ...)")
        close = raw["Close"]  # (days, tickers)
    else:  # a single ticker without the ticker level
        close = raw[["Close"]].set_axis(tickers[:1], axis=1) if "Close" in raw.columns else raw.iloc[:, :0]
    close = close.reindex(columns=tickers)  # a ticker yfinance dropped entirely becomes all-NaN
    close.columns.name = None
    index = pd.DatetimeIndex(close.index)
    close.index = index.tz_localize(None) if index.tz is not None else index  # daily data: no time zone
    close.index.name = "Date"
    return close.sort_index().astype("float64")


def download_prices(tickers, start, end, *, cache_dir=None, auto_adjust: bool = True,
                    max_retries: int = 2) -> pd.DataFrame:
    """Daily closing prices of ``tickers`` from ``start`` (inclusive) to ``end`` (exclusive).

    ``auto_adjust=True`` gives prices adjusted for splits and dividends (what returns should
    be computed from); ``False`` gives the raw traded closes. It is passed to yfinance
    explicitly, because yfinance's default changed between versions.

    The result is cached as CSV in ``cache_dir`` (default: ``<rvt_lib cache>/prices``), keyed by
    tickers, dates and ``auto_adjust``; a corrupt cache file is ignored and downloaded again.

    Raises ``ValueError`` for bad tickers or dates, and when some tickers return no data at
    all (unknown or delisted symbols: they are named, so you can remove them; yfinance's own
    log messages, e.g. a network error, are quoted in the message). Raises
    ``RuntimeError`` when Yahoo keeps rate-limiting after ``max_retries`` retries.
    """
    tickers, start, end = _check_request(tickers, start, end)
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be a non-negative int, got {max_retries!r}")
    folder = Path(cache_dir).expanduser() if cache_dir is not None else _default_cache_dir() / "prices"
    path = _cache_file(folder, tickers, start, end, bool(auto_adjust))
    cached = _read_cache(path, tickers)
    if cached is not None:
        return cached

    import yfinance  # optional dependency, imported only when a download is asked for
    from yfinance.exceptions import YFRateLimitError

    log = logging.getLogger("yfinance")
    for attempt in range(max_retries + 1):
        collector = _CollectLog()
        log.addHandler(collector)
        try:
            raw = yfinance.download(tickers, start=start.strftime("%Y-%m-%d"), end=end.strftime("%Y-%m-%d"),
                                    auto_adjust=bool(auto_adjust), progress=False,
                                    group_by="column", multi_level_index=True)
            rate_limited = any("RateLimit" in m or "Too Many Requests" in m for m in collector.messages)
        except YFRateLimitError:
            raw, rate_limited = None, True
        finally:
            log.removeHandler(collector)
        if not rate_limited:
            break
        if attempt < max_retries:
            time.sleep(RETRY_WAIT_S * 2 ** attempt)
    else:
        raise RuntimeError(
            f"Yahoo Finance rate-limited the download of {tickers} ({max_retries + 1} attempts). "
            f"Wait a few minutes and try again, or use load_sp500_snapshot() for the offline data."
        )

    # yfinance 1.x logs per-ticker failures (no network, unknown symbol, ...) instead of raising
    reported = ("; yfinance reported: " + " | ".join(m.strip() for m in collector.messages)
                if collector.messages else "")
    if raw is None or len(raw) == 0:
        raise ValueError(f"yfinance returned no data for {tickers} between {start.date()} and "
                         f"{end.date()}: unknown or delisted tickers, no trading days in that range, "
                         f"or no network{reported}")
    close = _close_prices(raw, tickers)
    missing = [t for t in tickers if close[t].isna().all()]
    if missing:
        raise ValueError(f"no prices for {missing} between {start.date()} and {end.date()} "
                         f"(unknown or delisted tickers?); remove them and try again{reported}")
    close = close.dropna(how="all")  # rows where no ticker traded
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    close.to_csv(tmp)
    tmp.replace(path)  # atomic: a crash never leaves a half-written cache file behind
    return close

