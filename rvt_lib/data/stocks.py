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

Any price table, yours included, goes through one cleaner before a model sees it:

* ``clean_prices(prices)``: validates the dates and the values, drops the days on which no
  ticker has a price, then the tickers with gaps, fills nothing, and returns the clean table
  with a ``PriceReport`` saying what was dropped and which period is left.
* ``load_price_csv(path)``: reads a CSV with a ``Date`` column and one column per ticker, or
  a ``yfinance`` export (``yf.download(...).to_csv(path)``, two header rows), then cleans it.
"""
from __future__ import annotations

import hashlib
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
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



# ----------------------------------------------------------------------------- cleaning any price table

@dataclass(frozen=True)
class PriceReport:
    """What ``clean_prices`` did to a table: what came in, what was dropped, what is left.

    ``empty_days``: dates on which no ticker had a price (dropped first);
    ``dropped_tickers``: ticker -> number of missing days (after the empty days were dropped);
    ``gap_days``: dates dropped because a ticker kept under ``max_gap_frac`` had no price there.
    """
    n_days_in: int
    n_tickers_in: int
    empty_days: tuple[str, ...]
    dropped_tickers: dict[str, int]
    gap_days: tuple[str, ...]
    start: str
    end: str
    n_days: int
    n_tickers: int
    source: str = "a DataFrame"
    price_field: str | None = None  # e.g. 'Adj Close' when read from a yfinance export
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """One paragraph for a reader: the period covered and everything that was dropped."""
        def dates(ds):
            return ", ".join(ds[:3]) + (f" and {len(ds) - 3} more" if len(ds) > 3 else "")
        parts = [f"{self.n_tickers} tickers x {self.n_days} trading days, {self.start} to {self.end}, "
                 f"from {self.source}" + (f" (column '{self.price_field}')" if self.price_field else "")]
        if self.empty_days:
            parts.append(f"dropped {len(self.empty_days)} day(s) without any price ({dates(self.empty_days)})")
        if self.dropped_tickers:
            items = sorted(self.dropped_tickers.items(), key=lambda kv: (-kv[1], kv[0]))
            shown = ", ".join(f"{t} ({n} missing)" for t, n in items[:5])
            more = f" and {len(items) - 5} more" if len(items) > 5 else ""
            parts.append(f"dropped {len(items)} ticker(s) with gaps: {shown}{more}")
        if self.gap_days:
            parts.append(f"dropped {len(self.gap_days)} day(s) where a kept ticker had a gap ({dates(self.gap_days)})")
        if len(parts) == 1:
            parts.append("nothing dropped")
        return "; ".join(parts + list(self.notes)) + "."


def _as_day(value) -> pd.Timestamp:
    """One date: local calendar day, no time zone (``NaT`` if it is not a date)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return pd.NaT
    if pd.isna(ts):
        return pd.NaT
    return (ts.tz_localize(None) if ts.tzinfo is not None else ts).normalize()


def _date_index(prices: pd.DataFrame) -> pd.DataFrame:
    """``prices`` indexed by parsed, sorted trading days; clear errors for bad or repeated dates.

    Dates keep their local calendar day: ``2023-01-03 00:00-05:00`` becomes ``2023-01-03``
    (converting to UTC first would move days of markets east of Greenwich to the day before).
    """
    if not isinstance(prices.index, pd.DatetimeIndex):
        date_cols = [c for c in prices.columns if isinstance(c, str) and c.strip().lower() == "date"]
        if date_cols:
            prices = prices.set_index(date_cols[0])
        raw = prices.index
        if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
            raise ValueError(f"clean_prices: no dates: give a DatetimeIndex or a 'Date' column "
                             f"(the index holds numbers like {list(raw[:2])!r}; columns: {list(prices.columns)[:4]})")
        days = [_as_day(v) for v in raw]
        bad = [v for v, d in zip(raw, days) if pd.isna(d)]
        if bad:
            raise ValueError(f"clean_prices: {len(bad)} value(s) of the Date index are not dates, "
                             f"e.g. {bad[:3]!r}; use ISO dates like '2023-01-31'")
        index = pd.DatetimeIndex(days)
    else:
        index = prices.index
        if index.hasnans:
            raise ValueError("clean_prices: the Date index has missing dates (NaT)")
        index = (index.tz_localize(None) if index.tz is not None else index).normalize()
    dup = index[index.duplicated()].unique()
    if len(dup):
        raise ValueError(f"clean_prices: {len(dup)} date(s) appear more than once, e.g. "
                         f"{[str(d.date()) for d in dup[:3]]} (one row per trading day; intraday data "
                         f"must be resampled to days first)")
    prices = prices.set_axis(index.rename("Date"), axis=0)
    return prices.sort_index()


def _numeric(prices: pd.DataFrame) -> pd.DataFrame:
    """Every column as float64; a value that is not a positive finite number is an error."""
    if prices.columns.has_duplicates:
        raise ValueError(f"clean_prices: repeated ticker columns {sorted(set(prices.columns[prices.columns.duplicated()]))}")
    out = {}
    for col in prices.columns:
        values = pd.to_numeric(prices[col], errors="coerce")
        bad = prices[col][values.isna() & prices[col].notna()]
        if len(bad):
            raise ValueError(f"clean_prices: ticker {col!r} has {len(bad)} non-numeric value(s), e.g. "
                             f"{bad.iloc[0]!r} on {bad.index[0].date()}")
        values = values.astype("float64")
        nonpos = values[(values <= 0) | ~np.isfinite(values.fillna(1.0))]
        if len(nonpos):
            raise ValueError(f"clean_prices: ticker {col!r} has {len(nonpos)} price(s) that are not positive "
                             f"finite numbers, e.g. {nonpos.iloc[0]!r} on {nonpos.index[0].date()}")
        out[str(col)] = values
    return pd.DataFrame(out, index=prices.index)


def clean_prices(prices: pd.DataFrame, *, max_gap_frac: float = 0.0, min_tickers: int = 2,
                 min_days: int = 2, source: str = "a DataFrame",
                 price_field: str | None = None) -> tuple[pd.DataFrame, PriceReport]:
    """A complete price table (no missing values, nothing filled) and a report of what was dropped.

    ``prices``: (days, tickers), dates as a ``DatetimeIndex`` or a ``Date`` column/index of
    strings. In order:

    1. the dates are parsed and sorted; unparseable or repeated dates raise ``ValueError``;
       values must be positive finite numbers or missing (anything else raises);
    2. days on which *every* ticker is missing are dropped (yfinance often writes such a
       first row);
    3. tickers missing on more than ``max_gap_frac`` of the remaining days are dropped
       (default 0: any gap drops the ticker);
    4. with ``max_gap_frac > 0``, the days on which a kept ticker is still missing are
       dropped too, so the result is complete without filling anything in.

    Raises ``ValueError``, naming what was left, when fewer than ``min_tickers`` tickers or
    ``min_days`` days remain.
    """
    if not isinstance(prices, pd.DataFrame):
        raise TypeError(f"clean_prices: expected a pandas DataFrame (days, tickers), got {type(prices).__name__}")
    if not (isinstance(max_gap_frac, (int, float)) and 0.0 <= max_gap_frac < 1.0):
        raise ValueError(f"clean_prices: max_gap_frac must be in [0, 1), got {max_gap_frac!r}")
    for name, v in (("min_tickers", min_tickers), ("min_days", min_days)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"clean_prices: {name} must be a positive int, got {v!r}")
    table = _numeric(_date_index(prices))
    n_days_in, n_tickers_in = table.shape
    if n_tickers_in == 0 or n_days_in == 0:
        raise ValueError(f"clean_prices: the table from {source} is empty ({n_days_in} days x {n_tickers_in} tickers)")

    def day_strings(index):
        return tuple(str(d.date()) for d in index)

    empty = table.isna().all(axis=1)  # (days,)
    empty_days = day_strings(table.index[empty])
    table = table.loc[~empty]
    if len(table) == 0:
        raise ValueError(f"clean_prices: no ticker in the table from {source} has a single price "
                         f"({n_days_in} days x {n_tickers_in} tickers, all missing)")
    gaps = table.isna().sum()  # (tickers,) missing days per ticker
    drop = gaps[gaps > max_gap_frac * len(table)]
    table = table.drop(columns=drop.index)
    holes = table.isna().any(axis=1)
    gap_days = day_strings(table.index[holes])
    table = table.loc[~holes]

    dropped = {str(t): int(n) for t, n in drop.items()}
    if table.shape[1] < min_tickers or len(table) < min_days:
        worst = ", ".join(f"{t} ({n} missing)" for t, n in sorted(dropped.items(), key=lambda kv: -kv[1])[:5])
        raise ValueError(
            f"clean_prices: too little data left in the table from {source}: {table.shape[1]} ticker(s) "
            f"{list(table.columns)[:10]} x {len(table)} day(s), need at least {min_tickers} tickers and "
            f"{min_days} days. Of {n_tickers_in} tickers x {n_days_in} days, dropped {len(empty_days)} empty "
            f"day(s), {len(dropped)} ticker(s) with gaps ({worst or 'none'}) and {len(gap_days)} day(s) with "
            f"gaps in kept tickers; try a larger max_gap_frac or fewer, longer-listed tickers")
    report = PriceReport(n_days_in=n_days_in, n_tickers_in=n_tickers_in, empty_days=empty_days,
                         dropped_tickers=dropped, gap_days=gap_days,
                         start=str(table.index[0].date()), end=str(table.index[-1].date()),
                         n_days=len(table), n_tickers=table.shape[1], source=source, price_field=price_field)
    return table, report


def _read_yfinance_export(path: Path, price_field: str | None) -> tuple[pd.DataFrame, str]:
    """A ``yf.download(...).to_csv()`` file (two header rows: price field, ticker) -> (days, tickers)."""
    raw = pd.read_csv(path, header=[0, 1], index_col=0)
    fields_level = next((lvl for lvl in range(2) if {"Close", "Adj Close"} & set(raw.columns.get_level_values(lvl))),
                        None)
    if fields_level is None:
        raise ValueError(f"load_price_csv: {path} has two header rows but no 'Close' or 'Adj Close' field "
                         f"(first columns: {list(raw.columns)[:4]})")
    available = list(dict.fromkeys(raw.columns.get_level_values(fields_level)))
    if price_field is None:  # adjusted closes when the file has them (auto_adjust=False exports)
        price_field = "Adj Close" if "Adj Close" in available else "Close"
    if price_field not in available:
        raise ValueError(f"load_price_csv: field {price_field!r} not in {path}; it has {available}")
    table = raw.xs(price_field, axis=1, level=fields_level)
    table.columns = [str(c) for c in table.columns]
    table.index.name = "Date"
    return table, price_field


def load_price_csv(path, *, price_field: str | None = None, **clean_kwargs) -> tuple[pd.DataFrame, PriceReport]:
    """Read a price table from CSV and clean it with ``clean_prices`` (same keyword arguments).

    Two layouts are understood:

    * a ``Date`` column and one column per ticker (what ``DataFrame.to_csv`` writes for a
      table like ``load_sp500_snapshot()``);
    * a ``yfinance`` export, ``yf.download(tickers, ...).to_csv(path)``: header rows
      ``Price,Close,Close,...`` and ``Ticker,AAPL,MSFT,...``, then a ``Date,,,`` row. The
      ``price_field`` (default ``'Adj Close'`` if present, else ``'Close'``, which yfinance
      adjusts for splits and dividends when ``auto_adjust=True``, its default since 0.2.51)
      is kept.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"load_price_csv: no file at {path}")
    head = pd.read_csv(path, header=None, nrows=3, dtype=str, keep_default_na=False)
    if head.empty:
        raise ValueError(f"load_price_csv: {path} is empty")
    first = [str(v).strip() for v in head.iloc[:, 0]]
    if len(first) >= 3 and first[2].lower() == "date" and (head.iloc[2, 1:] == "").all():
        table, price_field = _read_yfinance_export(path, price_field)
    elif first[0].lower() == "date":
        table = pd.read_csv(path, dtype=object).rename(columns=lambda c: str(c).strip())
        table = table.set_index(table.columns[0])
    else:
        raise ValueError(f"load_price_csv: {path} must have a 'Date' column first and one column per ticker "
                         f"(or be a yfinance export); its first header cell is {first[0]!r}")
    return clean_prices(table, source=path.name, price_field=price_field, **clean_kwargs)
