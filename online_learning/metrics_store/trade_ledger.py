"""The trade ledger (migration 0008): one row per learned trade, for the success metrics.

Rows are written by :func:`insert_trades` inside the feedback path's commit (the transaction
that records the trades' ids, so a trade is in the ledger exactly when it was learned) and
read back as :class:`~.ledger_records.LedgerTrade` by :class:`TradeLedger`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson
import sqlalchemy as sa

from online_learning.metrics_store.ledger_records import LedgerTrade
from online_learning.metrics_store.tables import online_sessions, session_checkpoints, trade_ledger

if TYPE_CHECKING:
    from online_learning.metrics_store.store import MetricsStore

__all__ = ["TradeLedger", "insert_trades"]

#: Most rows one read returns (the newest): a summary over more would be slow to serve.
MAX_ROWS = 200_000


#: The columns written: a LedgerTrade's fields (named as the columns), then ``recorded_at``.
_COLUMNS = (*LedgerTrade._fields, "recorded_at")
_TRADED_AT = LedgerTrade._fields.index("traded_at")
_COMPONENTS = LedgerTrade._fields.index("components")


def insert_trades(connection: sa.Connection, trades: Sequence[LedgerTrade], now: datetime) -> None:
    """Write ``trades`` (new trade ids only: the caller checked them) in ``connection``.

    As the trade ids beside them, plain tuples go to the driver's ``executemany``: the
    feedback path writes tens of thousands a second, and SQLAlchemy's per-row parameter
    handling would take a good part of its time.
    """
    if not trades:
        return
    dialect = connection.dialect
    stamp = trade_ledger.c.traded_at.type.process_bind_param
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    marks = [mark] * len(_COLUMNS)
    if dialect.name == "postgresql":
        marks[_COLUMNS.index("components")] = f"CAST({mark} AS JSONB)"
    statement = f"INSERT INTO trade_ledger ({', '.join(_COLUMNS)}) VALUES ({', '.join(marks)})"
    recorded = stamp(now, dialect)
    rows = []
    for t in trades:
        row = list(t)
        row[_TRADED_AT] = stamp(t.traded_at, dialect)
        components = t.components_document()
        row[_COMPONENTS] = None if components is None else orjson.dumps(components).decode()
        row.append(recorded)
        rows.append(tuple(row))
    connection.exec_driver_sql(statement, rows)


class TradeLedger:
    """Reads the ledger of a metrics store migrated to revision 0008 or later.

    Examples
    --------
    >>> from online_learning.metrics_store import MetricsStore
    >>> store = MetricsStore("sqlite://")
    >>> store.migrate()
    >>> t = datetime(2026, 1, 5, 21, tzinfo=UTC)
    >>> with store.writing("example") as connection:
    ...     insert_trades(connection, [LedgerTrade("t-1", "AAA", "bull", t, 0.01, 0.004,
    ...                                            rule_position=0.2)], t)
    >>> [(x.trade_id, x.rule_pnl) for x in TradeLedger(store).trades()]
    [('t-1', 0.002)]
    >>> store.dispose()
    """

    def __init__(self, store: MetricsStore) -> None:
        self.store = store

    def session_stamps(self) -> list[tuple[str, str, int, datetime | None]]:
        """``(symbol, session_id, samples_seen, checkpointed_at)`` of every active online
        session (``checkpointed_at`` None before its first checkpoint), by symbol."""
        sessions, checkpoints = online_sessions.c, session_checkpoints.c
        query = (
            sa.select(sessions.symbol, sessions.session_id, checkpoints.samples_seen,
                      checkpoints.checkpointed_at)
            .join_from(online_sessions, session_checkpoints,
                       checkpoints.session_id == sessions.session_id, isouter=True)
            .where(sessions.active.is_(True))
            .order_by(sessions.symbol)
        )  # fmt: skip
        with self.store.reading("reading the sessions' checkpoints") as connection:
            rows = connection.execute(query).all()
        return [(symbol, sid, int(seen or 0), at) for symbol, sid, seen, at in rows]

    def trades(self, *, since: datetime | None = None, limit: int = MAX_ROWS) -> list[LedgerTrade]:
        """The newest ``limit`` trades traded at or after ``since``, oldest first."""
        table = trade_ledger.c
        query = sa.select(trade_ledger).order_by(table.traded_at.desc(), table.trade_id.desc())
        if since is not None:
            query = query.where(table.traded_at >= since)
        with self.store.reading("reading the trade ledger") as connection:
            rows = connection.execute(query.limit(limit)).mappings().all()
        return [
            LedgerTrade(
                trade_id=row["trade_id"], symbol=row["symbol"], model_id=row["model_id"],
                traded_at=row["traded_at"].astimezone(UTC),
                realized_return=row["realized_return"], pnl=row["pnl"],
                position=row["position"], prediction_id=row["prediction_id"], p_up=row["p_up"],
                rule_position=row["rule_position"], ml_contribution=row["ml_contribution"],
                components=LedgerTrade.components_from(row["components"]),
                known_regime=row["known_regime"],
            )
            for row in reversed(rows)
        ]  # fmt: skip
