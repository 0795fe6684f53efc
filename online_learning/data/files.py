"""Daily prices from a user's CSV or Parquet file.

Two layouts are accepted; column names are matched case-insensitively after stripping
surrounding whitespace:

* **long**: ``date, symbol, close`` and optionally ``open, high, low, volume``; other columns
  are ignored. Open, high and low must be > 0 and volume >= 0 where given; blank cells in those
  optional columns become NaN.
* **wide**: a ``date`` column and one close-price column per symbol, named after the symbol
  (its case is kept). A file is wide exactly when it has no ``symbol`` column. A blank cell
  means the symbol has no price that day (for example it was not listed yet) and is dropped.

Nothing is guessed. Dates must be ISO 8601 (``2024-01-31``, optionally ``00:00:00``; a time of
day is an error) because day-first and month-first dates cannot be told apart. Prices must be
plain numbers (no thousands separators) and > 0. Any other problem raises
:class:`~online_learning.errors.DataFormatError` naming the file, the first bad row and the
column. Rows are numbered as a user sees them: for a CSV, the line number in the file (the
header is line 1, records are assumed to fit on one line each); for Parquet, the 1-based data
row. Lines whose cells are all blank are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from online_learning.data.base import (
    CLOSE,
    DATE,
    HIGH,
    LOW,
    OPEN,
    OPTIONAL_COLUMNS,
    SYMBOL,
    VOLUME,
    conform_prices,
    slice_dates,
)
from online_learning.errors import DataFormatError

__all__ = ["SUPPORTED_SUFFIXES", "FileSource"]

#: File suffix (lower case) -> format.
SUPPORTED_SUFFIXES: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

_RESERVED = (DATE, SYMBOL, OPEN, HIGH, LOW, CLOSE, VOLUME)
_ISO_HINT = "expected an ISO 8601 date such as 2024-01-31"


class FileSource:
    """Prices read from a CSV (``.csv``) or Parquet (``.parquet``, ``.pq``) file.

    Parameters
    ----------
    path : str or os.PathLike
        The file. It is read once, on the first ``fetch``, and cached on the instance.

    Raises
    ------
    DataFormatError
        If the suffix is not supported (at construction), or when ``fetch`` finds the file
        missing or malformed; see the module documentation for the accepted layouts.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "prices.csv")
    >>> with open(path, "w") as handle:
    ...     _ = handle.write("Date,AAA,BBB\\n2024-01-02,10.0,\\n2024-01-03,10.5,20.0\\n")
    >>> FileSource(path).fetch().astype({"date": str}).values.tolist()
    [['2024-01-02', 'AAA', 10.0], ['2024-01-03', 'AAA', 10.5], ['2024-01-03', 'BBB', 20.0]]
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        self._path = Path(path)
        suffix = self._path.suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise DataFormatError(
                str(path),
                f"unsupported file type {suffix or '(no suffix)'!r}; "
                f"use one of {', '.join(SUPPORTED_SUFFIXES)}",
            )
        self.name = f"file:{self._path.name}"
        self._prices: pd.DataFrame | None = None

    def fetch(self, start: date | str | None = None, end: date | str | None = None) -> pd.DataFrame:
        """Prices of the file between ``start`` and ``end`` inclusive.

        Raises
        ------
        DataFormatError
            If the file is missing or malformed.
        DataError
            If the range holds no rows.
        """
        if self._prices is None:
            self._prices = self._load()
        return slice_dates(self._prices, start, end, origin=str(self.path))

    def __repr__(self) -> str:
        return f"FileSource({str(self.path)!r})"

    def _load(self) -> pd.DataFrame:
        where = str(self.path)
        if not self._path.exists():
            raise DataFormatError(where, "file does not exist")
        if not self._path.is_file():
            raise DataFormatError(where, "is not a regular file")
        if self._path.stat().st_size == 0:
            raise DataFormatError(where, "file is empty")
        if SUPPORTED_SUFFIXES[self._path.suffix.lower()] == "csv":
            raw = _read_csv(self._path, where)
        else:
            raw = _read_parquet(self._path, where)
        raw = _normalise_columns(raw, where)
        blank = raw.isna().all(axis=1)
        raw = raw.loc[~blank.to_numpy()]
        if raw.empty:
            raise DataFormatError(where, "has a header but no data rows")
        if DATE not in raw.columns:
            raise DataFormatError(
                where, f"no 'date' column (columns: {list(raw.columns)})", column=DATE
            )
        frame = _parse_long(raw, where) if SYMBOL in raw.columns else _parse_wide(raw, where)
        return conform_prices(frame, origin=where)


def _read_csv(path: Path, where: str) -> pd.DataFrame:
    try:
        # header=None keeps repeated column names visible (pandas would rename them), and
        # keeping blank lines keeps the row index equal to the line number minus one.
        table = pd.read_csv(
            path, header=None, dtype=str, skip_blank_lines=False, encoding="utf-8-sig"
        )
    except pd.errors.EmptyDataError as exc:
        raise DataFormatError(where, "file is empty") from exc
    except pd.errors.ParserError as exc:
        raise DataFormatError(where, f"is not a well-formed CSV file: {str(exc).strip()}") from exc
    except UnicodeDecodeError as exc:
        raise DataFormatError(where, f"is not UTF-8 text: {exc}") from exc
    header = table.iloc[0].tolist()
    body = table.iloc[1:]
    body.columns = header
    body.index = pd.RangeIndex(2, len(table) + 1)  # CSV line numbers; the header is line 1
    return body


def _read_parquet(path: Path, where: str) -> pd.DataFrame:
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DataFormatError(where, f"is not a readable Parquet file: {exc}") from exc
    table = table.reset_index(drop=isinstance(table.index, pd.RangeIndex))
    table.index = pd.RangeIndex(1, len(table) + 1)
    return table


def _normalise_columns(raw: pd.DataFrame, where: str) -> pd.DataFrame:
    names: list[str] = []
    for position, name in enumerate(raw.columns, start=1):
        if not isinstance(name, str) or not name.strip():
            raise DataFormatError(where, f"column {position} of the header has no name")
        stripped = name.strip()
        names.append(stripped.lower() if stripped.lower() in _RESERVED else stripped)
    seen: set[str] = set()
    for name in names:
        key = name.lower() if name.lower() in _RESERVED else name
        if key in seen:
            raise DataFormatError(where, "column appears more than once", column=name)
        seen.add(key)
    out = raw.copy()
    out.columns = names
    for column in out.columns:
        if not pd.api.types.is_string_dtype(out[column]):
            continue
        text = out[column].str.strip()
        out[column] = text.where(text != "")
    return out


def _parse_long(raw: pd.DataFrame, where: str) -> pd.DataFrame:
    if CLOSE not in raw.columns:
        raise DataFormatError(
            where, "long format (it has a 'symbol' column) needs a 'close' column", column=CLOSE
        )
    symbols = raw[SYMBOL]
    _raise_first(where, SYMBOL, symbols.isna(), raw.index, lambda _: "missing symbol")
    frame = pd.DataFrame(
        {
            DATE: _parse_dates(raw[DATE], where),
            SYMBOL: symbols.astype(str).to_numpy(),
            CLOSE: _parse_numbers(raw[CLOSE], where, CLOSE, allow_missing=False),
        },
        index=raw.index,
    )
    for column in OPTIONAL_COLUMNS:
        if column in raw.columns:
            frame[column] = _parse_numbers(
                raw[column], where, column, allow_missing=True, allow_zero=column == VOLUME
            )

    def duplicate(row: int) -> str:
        return (
            f"duplicate (date, symbol) pair ({frame.at[row, DATE].date()}, {frame.at[row, SYMBOL]})"
        )

    _raise_first(where, DATE, frame.duplicated([DATE, SYMBOL]), raw.index, duplicate)
    return frame.reset_index(drop=True)


def _parse_wide(raw: pd.DataFrame, where: str) -> pd.DataFrame:
    reserved = [c for c in raw.columns if c in (CLOSE, OPEN, HIGH, LOW, VOLUME)]
    if reserved:
        raise DataFormatError(
            where,
            "has price columns but no 'symbol' column: a long file needs 'date', 'symbol' and "
            "'close'; a wide file names each price column after its symbol",
            column=reserved[0],
        )
    symbols = [c for c in raw.columns if c != DATE]
    if not symbols:
        raise DataFormatError(
            where, "wide format (no 'symbol' column) needs price columns besides 'date'"
        )
    dates = _parse_dates(raw[DATE], where)
    _raise_first(
        where,
        DATE,
        dates.duplicated(),
        raw.index,
        lambda row: f"duplicate date {dates.at[row].date()}",
    )
    pieces = []
    for symbol in symbols:
        close = _parse_numbers(raw[symbol], where, symbol, allow_missing=True)
        keep = ~np.isnan(close)  # blank cell: the symbol has no price that day
        pieces.append(
            pd.DataFrame({DATE: dates.to_numpy()[keep], SYMBOL: symbol, CLOSE: close[keep]})
        )
    frame = pd.concat(pieces, ignore_index=True)
    if frame.empty:
        raise DataFormatError(where, "no prices: every price cell is blank")
    return frame


def _parse_dates(values: pd.Series, where: str) -> pd.Series:
    _raise_first(where, DATE, values.isna(), values.index, lambda _: "missing date")
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        try:
            parsed = pd.to_datetime(values.astype(str), errors="coerce", format="ISO8601")
        except (TypeError, ValueError) as exc:  # e.g. mixed time-zone offsets
            raise DataFormatError(where, f"dates cannot be read: {exc}", column=DATE) from exc
        _raise_first(
            where,
            DATE,
            parsed.isna(),
            values.index,
            lambda row: f"cannot parse {values.at[row]!r}; {_ISO_HINT}",
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)  # keep the wall-clock date the user wrote
    _raise_first(
        where,
        DATE,
        parsed != parsed.dt.normalize(),
        values.index,
        lambda row: f"{values.at[row]!r} has a time of day; daily data needs dates only",
    )
    out_of_range = (parsed < pd.Timestamp.min) | (parsed > pd.Timestamp.max)
    _raise_first(
        where, DATE, out_of_range, values.index, lambda row: f"{values.at[row]!r} is out of range"
    )
    return parsed.astype("datetime64[ns]")


def _parse_numbers(
    values: pd.Series,
    where: str,
    column: str,
    *,
    allow_missing: bool,
    allow_zero: bool = False,
) -> np.ndarray:
    missing = values.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        parsed = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        parsed = pd.to_numeric(values.astype(object), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    with np.errstate(invalid="ignore"):
        too_small = parsed < 0 if allow_zero else parsed <= 0
    problems = np.where(missing, not allow_missing, ~np.isfinite(parsed) | too_small)

    def describe(row: int) -> str:
        text = values.at[row]
        if pd.isna(text):
            return "missing value"
        number = float(parsed[values.index.get_loc(row)])
        if np.isnan(number):
            return f"{text!r} is not a number"
        if not np.isfinite(number):
            return f"{text!r} is not a finite number"
        return f"{text!r} must be {'>= 0' if allow_zero else '> 0'}"

    _raise_first(where, column, problems, values.index, describe)
    return parsed


def _raise_first(
    where: str,
    column: str,
    bad: pd.Series | np.ndarray,
    rows: pd.Index,
    describe: Callable[[int], str],
) -> None:
    """Raise about the first flagged row; ``rows`` holds the user-facing row numbers."""
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        row = int(rows[int(np.flatnonzero(bad)[0])])
        raise DataFormatError(where, describe(row), row=row, column=column)
