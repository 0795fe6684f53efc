"""Daily prices from a SQL table or query, through SQLAlchemy.

The source is a database URL with one extra query parameter that says what to read:

* ``postgresql://trader@db:5432/market?table=daily_bars`` reads a table or a view
  (``table=schema.name`` for another schema). A TimescaleDB hypertable, or a continuous
  aggregate, is a plain table or view to SQLAlchemy and is read the same way.
* ``postgresql://trader@db:5432/market?query=SELECT...`` reads the result of a query
  (URL-encoded: ``%20`` or ``+`` for a space). The query is wrapped as a subquery,
  ``SELECT date, symbol, ... FROM (<query>) AS q WHERE q.date >= :start AND q.date < :end + 1 day``,
  so that only the range asked for is read; PostgreSQL pushes that filter into the query, so an
  index on the date column (or a hypertable's chunks) still serves it. Rename columns in the
  query (``SELECT trade_day AS date, ticker AS symbol, px AS close FROM ...``).

Any SQLAlchemy URL whose driver is installed works: ``sqlite:////path/prices.db?table=bars``
for a file. ``postgresql://`` and ``postgres://`` use psycopg 3, else psycopg2, whichever is
installed (name one with ``postgresql+psycopg2://``). Other query parameters go to the driver
(``sslmode=require``, ``options=-csearch_path=market``).

The rows are the long price frame: ``date, symbol, close`` and optionally ``open, high, low,
volume``, column names matched case-insensitively; other columns are ignored. The date column
is a ``DATE``, a ``TIMESTAMP`` at midnight or ISO 8601 text (``2024-01-31``); a
``TIMESTAMP WITH TIME ZONE`` is read in UTC (PostgreSQL sessions are set to UTC), so daily bars
stored at midnight UTC are read as that day. A row whose date is NULL lies in no range and is
never read. The values are checked as a long CSV file's are; a bad one raises
:class:`~online_learning.errors.DataFormatError` naming the source, the column, the symbol and
the date. Every fetch queries the database; nothing is cached but the column layout.

Passwords never appear in a message, :attr:`SqlSource.name` or ``repr``: they are shown as
``***``. Better still, keep them out of the URL: psycopg reads ``PGPASSWORD`` and
``~/.pgpass`` when the URL has none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from online_learning.data.base import (
    DATE,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    SYMBOL,
    coerce_range,
)
from online_learning.data.checks import check_long_frame
from online_learning.data.sql_engine import choose_driver, create_engine, parse_url
from online_learning.data.sql_layout import Layout, read_layout
from online_learning.errors import DataError
from online_learning.urls import redact_url, scrub

__all__ = ["SqlSource"]

_SHOWN_QUERY_CHARS = 120


class SqlSource:
    """Prices read from a table or a query of a SQL database.

    Parameters
    ----------
    url : str or sqlalchemy.engine.URL
        The database, as a SQLAlchemy URL without ``table``/``query`` parameters.
    table : str, optional
        A table or view, ``name`` or ``schema.name``; matched case-insensitively when no
        relation has exactly this name.
    query : str, optional
        A ``SELECT`` returning the long price frame. Give ``table`` or ``query``, not both.

    Raises
    ------
    DataError
        If the URL cannot be parsed, names an unknown database, or its driver is not installed
        (the message names the package to install).

    Examples
    --------
    >>> import sqlite3, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "prices.db")
    >>> with sqlite3.connect(path) as db:
    ...     _ = db.execute("CREATE TABLE bars (Date TEXT, Symbol TEXT, Close REAL, note TEXT)")
    ...     _ = db.executemany("INSERT INTO bars VALUES (?, ?, ?, ?)", [
    ...         ("2024-01-02", "AAA", 10.0, "x"), ("2024-01-03", "AAA", 10.5, "y")])
    >>> source = SqlSource.from_url(f"sqlite:///{path}?table=bars")
    >>> source.fetch(start="2024-01-03").astype({"date": str}).values.tolist()
    [['2024-01-03', 'AAA', 10.5]]
    >>> SqlSource("postgresql://trader:s3cret@db/market", table="bars").name
    'sql:postgresql://trader:***@db/market?table=bars'
    """

    def __init__(
        self, url: str | URL, *, table: str | None = None, query: str | None = None
    ) -> None:
        self.url = parse_url(url)
        self.table = table
        self.query = query
        shown = redact_url(self.url)
        if table is not None and query is None:
            self.name = f"sql:{redact_url(self.url.update_query_dict({'table': table}))}"
            self._where = f"{shown}, table {table!r}"
        elif query is not None and table is None:
            digest = hashlib.sha256(query.strip().encode()).hexdigest()[:16]
            self.name = f"sql:{redact_url(self.url.update_query_dict({'query_sha256': digest}))}"
            self._where = f"{shown}, query {_shorten(query)!r}"
        else:
            self.name = self._where = shown
        # The database and its driver first: "install psycopg" is the first thing to fix.
        self._driver_url = choose_driver(self.url, self._where)
        if (table is None) == (query is None):
            raise DataError(f"{shown}: give the table or the query to read (?table= or ?query=)")
        if not (table or query or "").strip():
            raise DataError(
                f"{shown}: the {'table name' if table is not None else 'query'} is empty"
            )
        self._engine: Engine | None = None
        self._layout: Layout | None = None

    @classmethod
    def from_url(cls, spec: str) -> SqlSource:
        """A source from one URL carrying ``?table=...`` or ``?query=...``.

        Examples
        --------
        >>> SqlSource.from_url("postgresql://trader@db/market?query=SELECT+*+FROM+bars").query
        'SELECT * FROM bars'
        """
        url = parse_url(spec)
        chosen: dict[str, str | None] = {"table": None, "query": None}
        for key in chosen:
            value = url.query.get(key)
            if isinstance(value, tuple):
                raise DataError(f"{redact_url(url)}: give {key}= once, not {len(value)} times")
            chosen[key] = value
        return cls(url.difference_update_query(chosen), **chosen)

    def fetch(self, start: date | str | None = None, end: date | str | None = None) -> pd.DataFrame:
        """Prices between ``start`` and ``end`` inclusive; only that range is queried.

        Raises
        ------
        DataFormatError
            If a column is missing or a value is bad (naming the column, symbol and date).
        DataError
            If the database cannot be reached or read, or the range holds no rows.
        """
        lo, hi = coerce_range(start, end)
        with self._translate_errors(), self._connect() as connection:
            layout = self._layout or read_layout(
                connection, table=self.table, query=self.query, where=self._where
            )
            if layout.date_kind is None:  # not kept: the next fetch looks again
                raise DataError(_empty(None, layout, lo, hi, self._where))
            self._layout = layout
            rows, names = _read(connection, layout, lo, hi)
            if not rows:
                raise DataError(_empty(connection, layout, lo, hi, self._where))
        return check_long_frame(pd.DataFrame.from_records(rows, columns=names), where=self._where)

    def __repr__(self) -> str:
        return f"SqlSource({self.name[len('sql:') :]!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_engine"] = None  # engines do not pickle; the next fetch makes another
        return state

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        if self._engine is None:
            self._engine = create_engine(self._driver_url, self._where)
        with self._engine.connect() as connection:
            yield connection

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            original = getattr(exc, "orig", None) or exc
            message = scrub(" ".join(str(original).split()), self.url) or type(original).__name__
            # ``from None``: a driver's own exception might quote the connection string.
            raise DataError(f"{self._where}: {message}") from None


def _read(
    connection: Connection,
    layout: Layout,
    lo: pd.Timestamp | None,
    hi: pd.Timestamp | None,
) -> tuple[list[Any], list[str]]:
    relation = layout.relation()
    names = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in layout.columns]
    selected = [relation.c[layout.columns[c]].label(c) for c in names]
    statement = sa.select(*selected).where(_in_range(relation, layout, lo, hi))
    day, symbol = relation.c[layout.columns[DATE]], relation.c[layout.columns[SYMBOL]]
    rows = connection.execute(statement.order_by(symbol, day)).all()
    return [tuple(row) for row in rows], names


def _in_range(
    relation: sa.FromClause, layout: Layout, lo: pd.Timestamp | None, hi: pd.Timestamp | None
) -> sa.ColumnElement[bool]:
    day = relation.c[layout.columns[DATE]]
    conditions = [day.is_not(None)]
    if lo is not None:
        conditions.append(day >= layout.bound(lo, "start"))
    if hi is not None:
        # "< the next day" rather than "<= end": a midnight timestamp stored as text
        # ('2024-01-31 00:00:00') sorts after '2024-01-31'.
        conditions.append(day < layout.bound(hi + pd.Timedelta(days=1), "end"))
    return sa.and_(*conditions)


def _empty(
    connection: Connection | None,
    layout: Layout,
    lo: pd.Timestamp | None,
    hi: pd.Timestamp | None,
    where: str,
) -> str:
    """The message of an empty fetch, with the dates the relation covers when it has any."""
    span, first = "no dated rows at all", None
    if connection is not None:
        day = layout.relation().c[layout.columns[DATE]]
        first, last = connection.execute(sa.select(sa.func.min(day), sa.func.max(day))).one()
    if first is not None:
        span = f"it covers {_day(first)} to {_day(last)}"
    low = lo.date() if lo is not None else "-inf"
    high = hi.date() if hi is not None else "+inf"
    return f"{where}: no prices between {low} and {high} ({span})"


def _day(value: Any) -> str:
    if isinstance(value, datetime | date):
        return str(value)[:10]
    return str(value)


def _shorten(query: str) -> str:
    flat = " ".join(query.split())
    if len(flat) <= _SHOWN_QUERY_CHARS:
        return flat
    return flat[: _SHOWN_QUERY_CHARS - 3] + "..."
