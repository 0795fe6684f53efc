"""The price-frame contract shared by every data source.

Every source returns a *long-format* frame, one row per (date, symbol):

========  ==================  ==============================================
column    dtype               meaning
========  ==================  ==============================================
date      datetime64[ns]      trading day at midnight, no time zone
symbol    str                 instrument identifier
close     float64             closing price (adjusted where the source has it), > 0
open      float64, optional   opening price
high      float64, optional   session high
low       float64, optional   session low
volume    float64, optional   traded volume
regime    str, optional       true regime of a simulated market, for evaluation only
========  ==================  ==============================================

Rows are sorted by (symbol, date), the index is a fresh ``RangeIndex`` and no (date, symbol) pair
appears twice. :func:`validate_prices` checks all of this.
"""

from __future__ import annotations

from datetime import date as _date
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from online_learning.errors import DataError

__all__ = [
    "CLOSE",
    "DATE",
    "HIGH",
    "LOW",
    "OPEN",
    "OPTIONAL_COLUMNS",
    "PRICE_COLUMNS",
    "REGIME",
    "REGIMES",
    "REQUIRED_COLUMNS",
    "SYMBOL",
    "VOLUME",
    "DataSource",
    "coerce_bound",
    "coerce_range",
    "conform_prices",
    "slice_dates",
    "validate_prices",
]

DATE = "date"
SYMBOL = "symbol"
OPEN = "open"
HIGH = "high"
LOW = "low"
CLOSE = "close"
VOLUME = "volume"
REGIME = "regime"

REQUIRED_COLUMNS: tuple[str, ...] = (DATE, SYMBOL, CLOSE)
OPTIONAL_COLUMNS: tuple[str, ...] = (OPEN, HIGH, LOW, VOLUME)
#: Canonical column order of a price frame; extra columns follow these.
PRICE_COLUMNS: tuple[str, ...] = (DATE, SYMBOL, OPEN, HIGH, LOW, CLOSE, VOLUME, REGIME)
#: Values the ``regime`` column (and regime labels downstream) may take.
REGIMES: tuple[str, ...] = ("bull", "bear", "sideways")

_NS = np.dtype("datetime64[ns]")


@runtime_checkable
class DataSource(Protocol):
    """Anything that serves daily prices in the contract format.

    Attributes
    ----------
    name : str
        Short identifier used in logs and run metadata (``"synthetic"``, ``"sp500"``, ...).
    """

    name: str

    def fetch(
        self,
        start: _date | str | None = None,
        end: _date | str | None = None,
    ) -> pd.DataFrame:
        """Return prices between ``start`` and ``end`` inclusive (``None`` means unbounded).

        Raises
        ------
        DataError
            If the range holds no rows.
        """
        ...


def coerce_bound(value: _date | str | None, *, argument: str) -> pd.Timestamp | None:
    """Turn a ``start``/``end`` argument into a midnight timestamp.

    Parameters
    ----------
    value : datetime.date, str or None
        A date, a datetime, or an ISO 8601 string; ``None`` means unbounded.
    argument : str
        Name of the argument, used in the error message.

    Returns
    -------
    pandas.Timestamp or None
        The day at midnight, without time zone.

    Raises
    ------
    DataError
        If the value is not a date.

    Examples
    --------
    >>> coerce_bound("2020-03-02", argument="start")
    Timestamp('2020-03-02 00:00:00')
    >>> coerce_bound(None, argument="end") is None
    True
    """
    if value is None:
        return None
    if not isinstance(value, str | _date | np.datetime64):
        raise DataError(f"{argument} must be a date or an ISO 8601 string, got {value!r}")
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{argument}={value!r} is not a valid date") from exc
    if stamp is pd.NaT:
        raise DataError(f"{argument}={value!r} is not a valid date")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp.normalize().as_unit("ns")


def coerce_range(
    start: _date | str | None, end: _date | str | None
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Coerce both bounds of a ``fetch`` call and check that ``start <= end``.

    Examples
    --------
    >>> coerce_range("2020-01-01", None)
    (Timestamp('2020-01-01 00:00:00'), None)
    """
    lo = coerce_bound(start, argument="start")
    hi = coerce_bound(end, argument="end")
    if lo is not None and hi is not None and lo > hi:
        raise DataError(f"start {lo.date()} is after end {hi.date()}")
    return lo, hi


def slice_dates(
    frame: pd.DataFrame,
    start: _date | str | None,
    end: _date | str | None,
    *,
    origin: str,
) -> pd.DataFrame:
    """Rows of a contract frame whose date lies in ``[start, end]``, as a new frame.

    Raises
    ------
    DataError
        If no row falls in the range; the message names ``origin`` and the data's own range.

    Examples
    --------
    >>> prices = pd.DataFrame({
    ...     "date": pd.to_datetime(["2020-01-01", "2020-01-02"]).as_unit("ns"),
    ...     "symbol": ["A", "A"],
    ...     "close": [1.0, 2.0],
    ... })
    >>> slice_dates(prices, "2020-01-02", None, origin="demo")["close"].tolist()
    [2.0]
    """
    lo, hi = coerce_range(start, end)
    mask = np.ones(len(frame), dtype=bool)
    if lo is not None:
        mask &= (frame[DATE] >= lo).to_numpy()
    if hi is not None:
        mask &= (frame[DATE] <= hi).to_numpy()
    if not mask.any():
        span = "no data at all"
        if len(frame):
            span = f"data covers {frame[DATE].min().date()} to {frame[DATE].max().date()}"
        low = lo.date() if lo is not None else "-inf"
        high = hi.date() if hi is not None else "+inf"
        raise DataError(f"{origin}: no prices between {low} and {high} ({span})")
    return frame.loc[mask].reset_index(drop=True)


def conform_prices(frame: pd.DataFrame, *, origin: str) -> pd.DataFrame:
    """Cast, order and sort a long frame into the contract, then validate it.

    Dates become ``datetime64[ns]``, symbols ``str``, price and volume columns ``float64``;
    columns follow :data:`PRICE_COLUMNS` with any extra columns after them. No value is
    invented: anything that does not fit raises :class:`DataError` through
    :func:`validate_prices`.

    Examples
    --------
    >>> raw = pd.DataFrame({"symbol": ["B", "A"], "date": ["2020-01-02", "2020-01-02"],
    ...                     "close": [2, 1]})
    >>> conform_prices(raw, origin="demo")
            date symbol  close
    0 2020-01-02      A    1.0
    1 2020-01-02      B    2.0
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{origin}: missing required column(s) {missing}")
    out = frame.copy()
    try:
        out[DATE] = pd.to_datetime(out[DATE]).astype(_NS)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{origin}: column 'date' does not hold dates ({exc})") from exc
    if out[SYMBOL].isna().any():
        raise DataError(f"{origin}: column 'symbol' has missing values")
    out[SYMBOL] = out[SYMBOL].astype(str)
    for column in (CLOSE, *OPTIONAL_COLUMNS):
        if column in out.columns:
            try:
                out[column] = out[column].astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise DataError(f"{origin}: column {column!r} is not numeric ({exc})") from exc
    if REGIME in out.columns:
        out[REGIME] = out[REGIME].astype(str)
    ordered = [c for c in PRICE_COLUMNS if c in out.columns]
    ordered += [c for c in out.columns if c not in ordered]
    out = out[ordered].sort_values([SYMBOL, DATE], kind="mergesort").reset_index(drop=True)
    return validate_prices(out, origin=origin)


def validate_prices(frame: pd.DataFrame, *, origin: str) -> pd.DataFrame:
    """Check that ``frame`` follows the price-frame contract.

    Parameters
    ----------
    frame : pandas.DataFrame
        The frame to check; it is not modified.
    origin : str
        Where the frame comes from (a source name or file path), quoted in error messages.

    Returns
    -------
    pandas.DataFrame
        ``frame`` itself, so the call can be chained.

    Raises
    ------
    DataError
        On the first violation found, with a message naming ``origin``.

    Examples
    --------
    >>> prices = pd.DataFrame({
    ...     "date": pd.to_datetime(["2020-01-01", "2020-01-02"]).as_unit("ns"),
    ...     "symbol": ["A", "A"],
    ...     "close": [10.0, 10.5],
    ... })
    >>> validate_prices(prices, origin="demo") is prices
    True
    >>> validate_prices(prices.assign(close=[10.0, -1.0]), origin="demo")
    Traceback (most recent call last):
    ...
    online_learning.errors.DataError: demo: column 'close' must be > 0 (first bad row 1)
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{origin}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{origin}: missing required column(s) {missing}")
    if frame.columns.duplicated().any():
        raise DataError(f"{origin}: duplicate column names {list(frame.columns)}")
    if len(frame) == 0:
        raise DataError(f"{origin}: the price frame has no rows")
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        raise DataError(f"{origin}: the index must be a RangeIndex starting at 0 (reset it)")

    dates = frame[DATE]
    if dates.dtype != _NS:
        raise DataError(
            f"{origin}: column 'date' must be datetime64[ns] without tz, got {dates.dtype}"
        )
    _first_bad(origin, DATE, dates.isna(), "has missing dates")
    _first_bad(origin, DATE, dates != dates.dt.normalize(), "must hold midnight timestamps")

    symbols = frame[SYMBOL]
    _first_bad(origin, SYMBOL, symbols.isna(), "has missing symbols")
    if not pd.api.types.is_string_dtype(symbols):
        raise DataError(f"{origin}: column 'symbol' must hold strings, got {symbols.dtype}")

    for column in (CLOSE, *OPTIONAL_COLUMNS):
        if column in frame.columns and frame[column].dtype != np.float64:
            raise DataError(
                f"{origin}: column {column!r} must be float64, got {frame[column].dtype}"
            )
    close = frame[CLOSE].to_numpy()
    _first_bad(origin, CLOSE, ~np.isfinite(close), "must be finite")
    _first_bad(origin, CLOSE, close <= 0, "must be > 0")

    if REGIME in frame.columns:
        _first_bad(origin, REGIME, ~frame[REGIME].isin(REGIMES), f"must be one of {REGIMES}")

    keys = frame[[SYMBOL, DATE]]
    _first_bad(origin, DATE, keys.duplicated(), "has a duplicate (date, symbol) pair")
    ordered = keys.sort_values([SYMBOL, DATE], kind="mergesort").index
    if not ordered.equals(frame.index):
        raise DataError(f"{origin}: rows must be sorted by (symbol, date)")
    return frame


def _first_bad(origin: str, column: str, bad: pd.Series | np.ndarray, problem: str) -> None:
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{origin}: column {column!r} {problem} (first bad row {row})")
