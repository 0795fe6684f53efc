"""What a SQL source reads: the table or query, its columns and how its dates compare.

:func:`read_layout` asks the database once per source (a table lookup, a query that returns no
row, one date): the exact name of the table, the column behind each contract column, and the
type of the dates, which decides how the bounds of a fetch are bound so that the comparison
happens in the database, where an index on the date column serves it.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from online_learning.data.base import DATE, OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from online_learning.errors import DataFormatError

__all__ = ["Layout", "read_layout"]

_CONTRACT = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
# A bind parameter as sa.text() recognises one; a ':name' the user wrote is escaped so that it
# reaches the database as written (a '::date' cast is not such a parameter).
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
_LISTED_TABLES = 20


@dataclass(frozen=True)
class Layout:
    """The relation a source reads and where the contract's columns are in it.

    Attributes
    ----------
    schema, table : str or None
        The table or view as the database names it (``table`` is None for a query).
    query : str or None
        The query, when the source reads one.
    names : tuple of str
        Every column of the relation, as the database names them.
    columns : dict
        Contract column (``date``, ``symbol``, ``close``, ...) -> the relation's column.
    date_kind : str or None
        ``"date"``, ``"timestamp"``, ``"timestamptz"`` or ``"text"`` (ISO 8601); None when
        the relation has no dated row to tell (nothing can then be read).
    """

    schema: str | None
    table: str | None
    query: str | None
    names: tuple[str, ...]
    columns: dict[str, str]
    date_kind: str | None

    def relation(self) -> sa.FromClause:
        """The table, or the query as the subquery ``q``, with its columns declared."""
        return _relation(self.schema, self.table, self.query, self.names)

    def bound(self, day: pd.Timestamp, name: str) -> sa.BindParameter[Any]:
        """``day`` as a parameter of the date column's own type."""
        if self.date_kind == "date":
            return sa.bindparam(name, day.date(), type_=sa.Date())
        if self.date_kind == "timestamp":
            return sa.bindparam(name, day.to_pydatetime(), type_=sa.DateTime())
        if self.date_kind == "timestamptz":
            value = day.to_pydatetime().replace(tzinfo=UTC)
            return sa.bindparam(name, value, type_=sa.DateTime(timezone=True))
        return sa.bindparam(name, day.strftime("%Y-%m-%d"), type_=sa.String())


def read_layout(
    connection: Connection, *, table: str | None, query: str | None, where: str
) -> Layout:
    """Find the relation, match its columns to the contract and learn the dates' type.

    Raises
    ------
    DataFormatError
        If the table does not exist (the message lists those that do), a required column is
        missing, two columns differ only in case, or the dates are neither dates, timestamps
        nor ISO 8601 text.
    """
    schema = None
    if query is not None:
        query = query.strip().rstrip(";").rstrip()
    else:
        schema, table = _find_table(connection, table or "", where)
    bare = _relation(schema, table, query, ())
    probe = sa.select(sa.literal_column("*")).select_from(bare).where(sa.false())
    names = tuple(map(str, connection.execute(probe).keys()))
    columns: dict[str, str] = {}
    for name in names:
        key = name.lower()
        if key in columns:
            raise DataFormatError(
                where, f"columns {columns[key]!r} and {name!r} differ only in case", column=name
            )
        columns[key] = name
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise DataFormatError(
            where,
            f"missing required column(s) {missing} (its columns: {', '.join(names) or 'none'}; "
            "names are matched ignoring case)",
        )
    columns = {c: columns[c] for c in _CONTRACT if c in columns}
    relation = _relation(schema, table, query, names)
    day = relation.c[columns[DATE]]
    sample = connection.execute(sa.select(day).where(day.is_not(None)).limit(1)).scalar()
    return Layout(schema, table, query, names, columns, _date_kind(sample, columns[DATE], where))


def _find_table(connection: Connection, spec: str, where: str) -> tuple[str | None, str]:
    schema, dot, name = spec.strip().partition(".")
    if not dot:
        schema, name = "", schema
    if not name or (dot and not schema):
        raise DataFormatError(where, f"{spec!r} is not a table name (name or schema.name)")
    inspector = sa.inspect(connection)
    if inspector.has_table(name, schema=schema or None):
        return schema or None, name
    known = _relations(inspector, schema or None)
    matches = [n for n in known if n.lower() == name.lower()]
    if len(matches) == 1:
        return schema or None, matches[0]
    listed = sorted(known)[:_LISTED_TABLES]
    more = ", ..." if len(known) > _LISTED_TABLES else ""
    return _raise(
        where,
        f"no table or view {spec!r} in the database "
        f"(it has: {', '.join(listed) + more if listed else 'none'})",
    )


def _relations(inspector: sa.Inspector, schema: str | None) -> list[str]:
    names = [*inspector.get_table_names(schema=schema), *inspector.get_view_names(schema=schema)]
    with suppress(NotImplementedError):  # TimescaleDB's continuous aggregates among others
        names += inspector.get_materialized_view_names(schema=schema)
    return names


def _relation(
    schema: str | None, table: str | None, query: str | None, names: tuple[str, ...]
) -> sa.FromClause:
    columns = [sa.column(name) for name in names]
    if table is not None:
        return sa.table(table, *columns, schema=schema)
    return sa.text(_BIND.sub(r"\\:\1", query or "")).columns(*columns).subquery("q")


def _date_kind(sample: Any, column: str, where: str) -> str | None:
    if sample is None:
        return None
    if isinstance(sample, datetime):
        return "timestamptz" if sample.tzinfo is not None else "timestamp"
    if isinstance(sample, date):
        return "date"
    if isinstance(sample, str):
        if pd.isna(pd.to_datetime(sample, errors="coerce", format="ISO8601")):
            _raise(
                where,
                f"holds text such as {sample!r}, which is not an ISO 8601 date (2024-01-31): "
                "text dates are compared as text, so only ISO 8601 sorts by day",
                column=column,
            )
        return "text"
    return _raise(
        where,
        f"holds {type(sample).__name__} values such as {sample!r}; expected a DATE, a "
        "TIMESTAMP or ISO 8601 text (convert it in a query: ?query=SELECT ... AS date ...)",
        column=column,
    )


def _raise(where: str, message: str, *, column: str | None = None) -> Any:
    raise DataFormatError(where, message, column=column)
