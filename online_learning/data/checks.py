"""Checks of a long price frame that came from a database or a team's code.

A file has line numbers; a table and a team's frame do not. Each bad value is therefore named
by its column, its symbol and its date (``column 'close': symbol 'AAA' on 2024-01-03: inf is
not a finite number``), and raised as :class:`~online_learning.errors.DataFormatError` with
the source's description as its location. The checks are those :class:`FileSource` applies to
a long file: ISO 8601 or date-typed days without a time of day, a symbol on every row, a
finite ``close`` > 0, ``open``/``high``/``low`` > 0 and ``volume`` >= 0 where given (a
missing value there is allowed), and one row per (date, symbol).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import numpy as np
import pandas as pd

from online_learning.data.base import (
    CLOSE,
    DATE,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    SYMBOL,
    VOLUME,
    conform_prices,
)
from online_learning.errors import DataFormatError

__all__ = ["check_long_frame"]

_ISO_HINT = "expected a date such as 2024-01-31 (a DATE or TIMESTAMP column, or ISO 8601 text)"


def check_long_frame(frame: pd.DataFrame, *, where: str) -> pd.DataFrame:
    """Parse and check the values of a long frame, then conform it to the contract.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``date``, ``symbol``, ``close`` and optionally ``open``, ``high``, ``low``,
        ``volume`` (lower-case names), as a driver or a team's code delivered them: dates as
        ``datetime.date``/``datetime`` objects, timestamps or text, prices as any numbers.
        Other columns are kept as they are.
    where : str
        The source, quoted at the start of every message.

    Returns
    -------
    pandas.DataFrame
        The frame in the contract of :mod:`online_learning.data.base`.

    Raises
    ------
    DataFormatError
        On the first bad value, naming its column, symbol and date.

    Examples
    --------
    >>> from datetime import date
    >>> raw = pd.DataFrame({"date": [date(2024, 1, 3), date(2024, 1, 2)],
    ...                     "symbol": ["AAA", "AAA"], "close": [10.5, 10.0]})
    >>> check_long_frame(raw, where="demo")["close"].tolist()
    [10.0, 10.5]
    >>> check_long_frame(raw.assign(close=[10.5, float("inf")]), where="demo")
    Traceback (most recent call last):
    ...
    online_learning.errors.DataFormatError: demo, column 'close': symbol 'AAA' on 2024-01-02: inf is not a finite number
    """  # noqa: E501
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataFormatError(
            where, f"missing required column(s) {missing} (columns: {list(frame.columns)})"
        )
    out = frame.reset_index(drop=True)
    symbols = out[SYMBOL]
    _raise_first(where, SYMBOL, symbols.isna(), lambda i: f"missing symbol (date {out[DATE][i]})")
    out[SYMBOL] = symbols.astype(str)
    out[DATE] = _parse_dates(out[DATE], out[SYMBOL], where)

    def key(i: int) -> str:
        return f"symbol {out[SYMBOL][i]!r} on {out[DATE][i].date()}"

    for column in (CLOSE, *OPTIONAL_COLUMNS):
        if column in out.columns:
            out[column] = _parse_numbers(
                out[column],
                where,
                column,
                key,
                allow_missing=column != CLOSE,
                allow_zero=column == VOLUME,
            )
    duplicated = out.duplicated([DATE, SYMBOL]).to_numpy()
    _raise_first(where, DATE, duplicated, lambda i: f"{key(i)} appears more than once")
    return conform_prices(out, origin=where)


def _parse_dates(values: pd.Series, symbols: pd.Series, where: str) -> pd.Series:
    def named(i: int, problem: str) -> str:
        return f"symbol {symbols[i]!r}: {problem}"

    _raise_first(where, DATE, values.isna(), lambda i: named(i, "missing date"))
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        kinds = values.map(_kind_of_date).to_numpy()
        if (kinds == "aware").any():
            # Keep the wall-clock day (a TIMESTAMPTZ arrives in the session's time zone).
            values = values.map(lambda v: v.replace(tzinfo=None) if _is_aware(v) else v)
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
        text, dated = kinds == "text", (kinds == "date") | (kinds == "aware")
        try:
            if text.any():
                parsed[text] = pd.to_datetime(values[text], errors="coerce", format="ISO8601")
            if dated.any():
                parsed[dated] = pd.to_datetime(values[dated], errors="coerce")
        except (TypeError, ValueError, OverflowError) as exc:
            raise DataFormatError(where, f"dates cannot be read: {exc}", column=DATE) from exc
        # A number is no date: read as nanoseconds since 1970 it would pass for one.
        unreadable = parsed.isna()
        _raise_first(
            where,
            DATE,
            unreadable,
            lambda i: named(i, f"cannot read {_show(values[i])}; {_ISO_HINT}"),
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    _raise_first(
        where,
        DATE,
        parsed != parsed.dt.normalize(),
        lambda i: named(i, f"{values[i]!s} has a time of day; daily data needs dates only"),
    )
    return parsed.astype("datetime64[ns]")


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _kind_of_date(value: object) -> str:
    if isinstance(value, str):
        return "text"
    if _is_aware(value):
        return "aware"
    if isinstance(value, date | np.datetime64):
        return "date"
    return "other"


def _is_aware(value: object) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def _parse_numbers(
    values: pd.Series,
    where: str,
    column: str,
    key: Callable[[int], str],
    *,
    allow_missing: bool,
    allow_zero: bool,
) -> np.ndarray:
    missing = values.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        parsed = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        # Decimal (a NUMERIC column) and numeric text convert; anything else becomes NaN.
        parsed = pd.to_numeric(values.astype(object), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    with np.errstate(invalid="ignore"):
        too_small = parsed < 0 if allow_zero else parsed <= 0
    problems = np.where(missing, not allow_missing, ~np.isfinite(parsed) | too_small)

    def describe(i: int) -> str:
        value, number = values[i], float(parsed[i])
        if value is None or value is pd.NA:
            problem = "missing value"
        elif np.isnan(number) and not missing[i]:
            problem = f"{value!r} is not a number"
        elif not np.isfinite(number):
            problem = f"{number!r} is not a finite number"
        else:
            problem = f"{number!r} must be {'>= 0' if allow_zero else '> 0'}"
        return f"{key(i)}: {problem}"

    _raise_first(where, column, problems, describe)
    return parsed


def _raise_first(
    where: str, column: str, bad: pd.Series | np.ndarray, describe: Callable[[int], str]
) -> None:
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        raise DataFormatError(where, describe(int(np.flatnonzero(bad)[0])), column=column)
