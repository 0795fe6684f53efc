"""Market data sources, all serving the long price frame described in :mod:`.base`."""

from __future__ import annotations

from pathlib import Path

from online_learning.data.base import (
    CLOSE,
    DATE,
    HIGH,
    LOW,
    OPEN,
    OPTIONAL_COLUMNS,
    PRICE_COLUMNS,
    REGIME,
    REGIMES,
    REQUIRED_COLUMNS,
    SYMBOL,
    VOLUME,
    DataSource,
    coerce_bound,
    coerce_range,
    conform_prices,
    slice_dates,
    validate_prices,
)
from online_learning.data.files import SUPPORTED_SUFFIXES, FileSource
from online_learning.data.sp500 import SP500_SYMBOL, SP500Source
from online_learning.data.sp500_stocks import SP500_STOCKS, SP500StocksSource
from online_learning.data.synthetic import REGIME_PARAMS, RegimeParams, SyntheticMarket
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
    "REGIME_PARAMS",
    "REQUIRED_COLUMNS",
    "SOURCE_NAMES",
    "SP500_STOCKS",
    "SP500_SYMBOL",
    "SUPPORTED_SUFFIXES",
    "SYMBOL",
    "VOLUME",
    "DataSource",
    "FileSource",
    "RegimeParams",
    "SP500Source",
    "SP500StocksSource",
    "SyntheticMarket",
    "coerce_bound",
    "coerce_range",
    "conform_prices",
    "resolve_source",
    "slice_dates",
    "validate_prices",
]

#: Built-in source names accepted by :func:`resolve_source`.
SOURCE_NAMES: tuple[str, ...] = ("synthetic", "sp500", "sp500-stocks")


def resolve_source(spec: str, *, seed: int = 0) -> DataSource:
    """Build the data source a user named on the command line or in settings.

    Parameters
    ----------
    spec : str
        ``"synthetic"`` (a :class:`SyntheticMarket` with default parameters), ``"sp500"``
        (:class:`SP500Source`), ``"sp500-stocks"`` (:class:`SP500StocksSource`, 20 stocks
        1990-2022) or the path of an existing CSV or Parquet file
        (:class:`FileSource`). The names are matched case-insensitively and win over a file of
        the same name.
    seed : int
        Seed of the synthetic market; ignored by the other sources.

    Returns
    -------
    DataSource

    Raises
    ------
    DataError
        If ``spec`` is neither a known name nor an existing file; the message lists the choices.
    DataFormatError
        If the file's suffix is not supported.

    Examples
    --------
    >>> resolve_source("synthetic", seed=7)
    SyntheticMarket(seed=7, ...)
    >>> resolve_source("SP500").name
    'sp500'
    >>> resolve_source("no-such-source")
    Traceback (most recent call last):
    ...
    online_learning.errors.DataError: unknown data source 'no-such-source': ...
    """
    if not isinstance(spec, str):
        raise DataError(f"data source must be given as a string, got {spec!r}")
    key = spec.strip().lower()
    if key == "synthetic":
        return SyntheticMarket(seed=seed)
    if key == "sp500":
        return SP500Source()
    if key == "sp500-stocks":
        return SP500StocksSource()
    path = Path(spec.strip()).expanduser()
    if spec.strip() and path.is_file():
        return FileSource(path)
    raise DataError(
        f"unknown data source {spec!r}: expected 'synthetic', 'sp500', 'sp500-stocks' or the "
        f"path of an existing {', '.join(SUPPORTED_SUFFIXES)} file"
    )
