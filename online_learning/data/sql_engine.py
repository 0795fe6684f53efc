"""The database behind a SQL source: its URL, its driver and an engine for it.

``postgres://`` is read as ``postgresql://``; a URL that names no PostgreSQL driver gets the
first of :data:`POSTGRES_DRIVERS` that is installed. The driver is imported when the source is
built, so a missing one is reported before anything runs, with the package to install
(:data:`DRIVER_PACKAGES`). Engines keep no pool, time out connecting after
:data:`CONNECT_TIMEOUT_S` and, on PostgreSQL, run their sessions in UTC.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from online_learning.errors import DataError, DataFormatError
from online_learning.urls import redact

__all__ = [
    "CONNECT_TIMEOUT_S",
    "DRIVER_PACKAGES",
    "POSTGRES_DRIVERS",
    "choose_driver",
    "create_engine",
    "parse_url",
]

#: Python module of a database driver -> the package that installs it.
DRIVER_PACKAGES: dict[str, str] = {
    "psycopg": "psycopg[binary]",
    "psycopg2": "psycopg2-binary",
    "pg8000": "pg8000",
    "pymysql": "PyMySQL",
    "MySQLdb": "mysqlclient",
    "pyodbc": "pyodbc",
    "oracledb": "oracledb",
}
CONNECT_TIMEOUT_S = 10
#: Drivers tried, in this order, for a URL that names none (``postgresql://``).
POSTGRES_DRIVERS: tuple[str, ...] = ("psycopg", "psycopg2")


def parse_url(url: str | URL) -> URL:
    """Parse a database URL; a malformed one raises :class:`DataError` with the password hidden.

    Examples
    --------
    >>> parse_url("postgres://trader:s3cret@db/market")
    postgresql://trader:***@db/market
    >>> parse_url("postgresql://trader:s3cret@db:port/market")
    Traceback (most recent call last):
    ...
    online_learning.errors.DataError: not a database URL: 'postgresql://trader:***@db:port/market'
    """
    if isinstance(url, URL):
        parsed = url
    else:
        try:
            parsed = sa.make_url(url.strip())
        except (ArgumentError, ValueError):
            # The parser's own message quotes the URL, password included.
            raise DataError(f"not a database URL: {redact(url)!r}") from None
    backend, plus, driver = parsed.drivername.partition("+")
    if backend == "postgres":  # the libpq spelling; SQLAlchemy only knows "postgresql"
        parsed = parsed.set(drivername=f"postgresql{plus}{driver}")
    return parsed


def choose_driver(url: URL, where: str) -> URL:
    """The URL with its driver named, after checking that the driver can be imported.

    Raises
    ------
    DataError
        If SQLAlchemy knows no such database, the driver is asynchronous or not installed;
        the message starts with ``where`` and names the package to install.

    Examples
    --------
    >>> choose_driver(parse_url("sqlite:////tmp/prices.db"), "demo").drivername
    'sqlite'
    """
    backend, _, driver = url.drivername.partition("+")
    if backend == "postgresql" and not driver:
        driver = next((d for d in POSTGRES_DRIVERS if _importable(d)), POSTGRES_DRIVERS[0])
        url = url.set(drivername=f"postgresql+{driver}")
    try:
        dialect = url.get_dialect()
    except NoSuchModuleError:
        raise DataError(
            f"{where}: {url.drivername!r} is not a database SQLAlchemy knows "
            "(postgresql://, sqlite:///<file>, ... with ?table= or ?query=)"
        ) from None
    if getattr(dialect, "is_async", False):
        raise DataError(f"{where}: the driver {url.drivername!r} is asynchronous; use a sync one")
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        module = (exc.name or driver or backend).split(".")[0]
        package = DRIVER_PACKAGES.get(module, module)
        raise DataError(
            f"{where}: the database driver of {url.drivername!r} is not installed: "
            f"install the Python package {package!r} (pip install '{package}')"
        ) from None
    return url


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def create_engine(url: URL, where: str) -> Engine:
    """An engine for a URL from :func:`choose_driver`; does not connect.

    Raises
    ------
    DataError
        For an in-memory SQLite database, or a SQLite file that does not exist (sqlite3 would
        create an empty one).
    """
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:"):
            raise DataError(f"{where}: an in-memory SQLite database holds no prices; name a file")
        if not url.query.get("uri") and not Path(database).expanduser().is_file():
            # sqlite3 would create an empty file and then find no table in it.
            raise DataFormatError(where, f"the database file {database} does not exist")
    if backend == "postgresql" and "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    # No pool: a fetch is rare (an update, a day), and an idle pooled connection goes stale.
    engine = sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)
    if backend == "postgresql":
        sa.event.listen(engine, "connect", _session_in_utc)
    return engine


def _session_in_utc(dbapi_connection: Any, _record: Any) -> None:
    # TIMESTAMPTZ values and bounds are then read and compared in UTC, whatever the server's
    # TimeZone setting (SQLAlchemy's recipe for per-connection settings).
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    cursor.execute("SET TIME ZONE 'UTC'")
    cursor.close()
    dbapi_connection.autocommit = autocommit
