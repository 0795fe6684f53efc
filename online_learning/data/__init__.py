"""Market data sources, all serving the long price frame described in :mod:`.base`."""

from __future__ import annotations

import re
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
from online_learning.data.custom import CustomSource
from online_learning.data.files import SUPPORTED_SUFFIXES, FileSource
from online_learning.data.sp500 import SP500_SYMBOL, SP500Source
from online_learning.data.sp500_stocks import SP500_STOCKS, SP500StocksSource
from online_learning.data.sql import SqlSource
from online_learning.data.synthetic import REGIME_PARAMS, RegimeParams, SyntheticMarket
from online_learning.entry_points import is_entry_point
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
    "CustomSource",
    "DataSource",
    "FileSource",
    "RegimeParams",
    "SP500Source",
    "SP500StocksSource",
    "SqlSource",
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
        One of, tried in this order:

        * a built-in name, matched case-insensitively: ``"synthetic"`` (a
          :class:`SyntheticMarket` with default parameters), ``"sp500"`` (:class:`SP500Source`)
          or ``"sp500-stocks"`` (:class:`SP500StocksSource`, 20 stocks 1990-2022);
        * a database URL with ``?table=`` or ``?query=`` (:class:`SqlSource`):
          ``postgresql://user@host:5432/db?table=daily_bars`` (``table=schema.name`` works;
          a TimescaleDB hypertable is a table), ``postgresql://user@host/db?query=SELECT...``
          (URL-encoded), or any SQLAlchemy URL whose driver is installed, such as
          ``sqlite:////path/prices.db?table=bars``. A password in it is shown as ``***``;
        * the path of an existing CSV or Parquet file (:class:`FileSource`); a built-in name
          wins over a file of the same name;
        * a team's own source, ``"package.module:Class"`` or ``"package.module:factory"``
          (:class:`CustomSource`): imported, called with no arguments (or ``seed=seed`` when
          it takes a ``seed``), checked against :class:`DataSource`, its frames checked on
          every fetch.
    seed : int
        Seed of the synthetic market, and of a team's source that takes one; ignored by the
        other sources.

    Returns
    -------
    DataSource

    Raises
    ------
    DataError
        If ``spec`` matches no form (the message lists them), a database URL cannot be used
        (malformed, unknown database, driver not installed) or lacks ``?table=``/``?query=``.
    DataFormatError
        If the file's suffix is not supported.
    ConfigError
        If a team's entry point cannot be imported or called, or does not give a data source.

    Examples
    --------
    >>> resolve_source("synthetic", seed=7)
    SyntheticMarket(seed=7, ...)
    >>> resolve_source("SP500").name
    'sp500'

    A SQLite file (a PostgreSQL URL reads the same way):

    >>> import os, sqlite3, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "market.db")
    >>> prices = SyntheticMarket(seed=7, n_symbols=2, n_days=30).fetch().drop(columns="regime")
    >>> db = sqlite3.connect(path)
    >>> prices.to_sql("daily_bars", db, index=False)
    60
    >>> db.close()
    >>> source = resolve_source(f"sqlite:///{path}?table=daily_bars")
    >>> source.fetch("2015-01-05", "2015-01-09").groupby("symbol").size().to_dict()
    {'SYN00': 5, 'SYN01': 5}
    >>> query = "SELECT+date,+symbol,+close+FROM+daily_bars+WHERE+symbol+=+'SYN01'"
    >>> bars = resolve_source(f"sqlite:///{path}?query={query}").fetch(end="2015-01-06")
    >>> bars.astype({"date": str})[["date", "symbol"]].values.tolist()
    [['2015-01-02', 'SYN01'], ['2015-01-05', 'SYN01'], ['2015-01-06', 'SYN01']]
    >>> resolve_source("postgresql://trader:s3cret@db/market?table=daily_bars")
    SqlSource('postgresql://trader:***@db/market?table=daily_bars')

    A team's class (here a built-in one, named as a team would name theirs):

    >>> resolve_source("online_learning.data.synthetic:SyntheticMarket", seed=7).name
    'synthetic'
    >>> resolve_source("no-such-source")
    Traceback (most recent call last):
    ...
    online_learning.errors.DataError: unknown data source 'no-such-source': ...
    """
    if not isinstance(spec, str):
        raise DataError(f"data source must be given as a string, got {spec!r}")
    text = spec.strip()
    key = text.lower()
    if key == "synthetic":
        return SyntheticMarket(seed=seed)
    if key == "sp500":
        return SP500Source()
    if key == "sp500-stocks":
        return SP500StocksSource()
    if _URL.match(text):
        return SqlSource.from_url(text)
    path = Path(text).expanduser()
    if text and path.is_file():
        return FileSource(path)
    if is_entry_point(text):
        return CustomSource(text, seed=seed)
    raise DataError(
        f"unknown data source {spec!r}: expected 'synthetic', 'sp500', 'sp500-stocks', the "
        f"path of an existing {', '.join(SUPPORTED_SUFFIXES)} file, a database URL with "
        "?table= or ?query= (postgresql://user@host/db?table=daily_bars), or a source class "
        "'package.module:Class'"
    )


# A URL scheme ("postgresql://", "sqlite:///", "mysql+pymysql://"), as opposed to a path.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
