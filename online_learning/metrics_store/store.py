"""The metrics store: realised daily performance, update history and the event outbox."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from online_learning.events.schema import OutboxEvent
from online_learning.metrics_store import migration, performance
from online_learning.metrics_store.engine import (
    begin_write,
    create_store_engine,
    normalise_url,
    translate_errors,
)
from online_learning.metrics_store.errors import StoreError
from online_learning.metrics_store.records import (
    PerformanceRow,
    UpdateRecord,
    as_performance_rows,
)
from online_learning.metrics_store.tables import daily_performance, outbox, update_history
from online_learning.stats import sharpe_ratio

if TYPE_CHECKING:
    from online_learning.settings import Settings

_CHUNK = 500  # ids per IN (...) list
_MAX_ERROR_CHARS = 4000
_UPDATE_FIELDS = tuple(c.name for c in update_history.columns)


class MetricsStore:
    """Performance metrics, update history and outbox of the platform, in one database.

    The constructor only checks the URL; the database is first touched by a method. Call
    :meth:`migrate` once at start-up. Errors of the database raise :class:`StoreError`.

    Parameters
    ----------
    url : str
        ``sqlite:///<file>`` (the embedded default; the folder is created on first use),
        ``sqlite://`` (in memory, one connection: examples and tests) or
        ``postgresql://user@host/db`` (also ``postgres://``; psycopg 3 is used).

    Examples
    --------
    >>> from datetime import date
    >>> store = MetricsStore("sqlite://")
    >>> store.migrate()
    >>> rows = [PerformanceRow("bull", "SPY", date(2025, 1, d), 1.0, r, r)
    ...         for d, r in [(6, 0.01), (7, -0.02), (8, 0.015)]]
    >>> store.record_daily_performance(rows)
    3
    >>> summary = store.performance_summary("bull")
    >>> summary["n_days"], round(summary["hit_rate"], 3), round(summary["max_drawdown"], 3)
    (3, 0.667, 0.02)
    >>> store.dispose()
    """

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> MetricsStore:
        """The store at ``settings.metrics_database_url`` (``metrics.db`` in the data folder
        unless ``ONLINE_LEARNING_DATABASE_URL`` is set)."""
        return cls(settings.metrics_database_url)

    def __repr__(self) -> str:
        return f"MetricsStore({self.url.render_as_string()!r})"

    def __enter__(self) -> MetricsStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.dispose()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created on first use."""
        with self._engine_lock:
            if self._engine is None:
                self._engine = create_store_engine(self.url)
            return self._engine

    def dispose(self) -> None:
        """Close the pooled connections; the store reconnects if used again."""
        with self._engine_lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def ping(self) -> None:
        """Ask the database for ``SELECT 1``: :class:`StoreUnavailableError` (a
        :class:`StoreError`) when it cannot be reached."""
        with translate_errors("reaching the metrics database", self.engine.url), \
                self.engine.connect() as connection:  # fmt: skip
            connection.exec_driver_sql("SELECT 1")

    # -- schema ---------------------------------------------------------------------------
    def migrate(self, *, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` (the newest by default).

        Idempotent and safe to call at every start, from several processes at once: they
        take turns, and the later ones find nothing to do.
        """
        migration.upgrade(self.engine, revision)

    def revision(self) -> str | None:
        """The schema revision of the database, None when it was never migrated."""
        return migration.current_revision(self.engine)

    # -- update history and outbox ----------------------------------------------------------
    def record_update(self, record: UpdateRecord, events: Sequence[OutboxEvent] = ()) -> None:
        """Store an update attempt and the events announcing it, in one transaction.

        Either the ``update_history`` row and every outbox row are written, or none is: a
        relay can never publish an event of an update that was not recorded, and a recorded
        update never lacks its events. A ``job_id`` or ``event_id`` stored before raises
        :class:`StoreError`.

        Examples
        --------
        >>> from datetime import UTC, datetime
        >>> t = datetime(2025, 1, 6, 18, 0, tzinfo=UTC)
        >>> store = MetricsStore("sqlite://")
        >>> store.migrate()
        >>> record = UpdateRecord(job_id="job-1", model_id="bull", decision="promoted",
        ...     reason="passed", sharpe_pre=1.0, sharpe_post=1.1, degradation_pct=-10.0,
        ...     duration_s=3.0, started_at=t, finished_at=t, version="2")
        >>> event = OutboxEvent("model-updates", "bull", {"version": "2"}, event_id="e1")
        >>> store.record_update(record, [event])
        >>> [e.event_id for e in store.pending_events()]
        ['e1']
        >>> store.mark_published(["e1"])
        >>> store.pending_events(), store.consecutive_failures("bull")
        ([], 0)
        """
        outbox_rows = [_outbox_row(event) for event in events]
        with self.writing(f"recording update {record.job_id!r}") as connection:
            connection.execute(sa.insert(update_history), _update_row(record))
            if outbox_rows:
                connection.execute(sa.insert(outbox), outbox_rows)

    def pending_events(self, *, limit: int = 100) -> list[OutboxEvent]:
        """Up to ``limit`` events not yet published, oldest first."""
        _positive("limit", limit)
        query = (
            sa.select(outbox)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.created_at, outbox.c.event_id)
            .limit(limit)
        )
        with self.reading("reading pending events") as connection:
            rows = connection.execute(query).mappings().all()
        return [
            OutboxEvent(
                topic=row["topic"],
                key=row["key"],
                payload=json.loads(row["payload"]),
                event_id=row["event_id"],
                created_at=row["created_at"],
                published_at=row["published_at"],
                attempts=row["attempts"],
            )
            for row in rows
        ]

    def mark_published(self, event_ids: Sequence[str]) -> None:
        """Record that the broker acknowledged these events.

        Idempotent: an event published before keeps its first ``published_at``; unknown ids
        are ignored.
        """
        ids = list(dict.fromkeys(event_ids))
        now = datetime.now(UTC)
        with self.writing("marking events published") as connection:
            for start in range(0, len(ids), _CHUNK):
                connection.execute(
                    sa.update(outbox)
                    .where(
                        outbox.c.event_id.in_(ids[start : start + _CHUNK]),
                        outbox.c.published_at.is_(None),
                    )
                    .values(published_at=now)
                )

    def mark_failed(self, event_id: str, error: str) -> None:
        """Count a failed delivery of ``event_id`` and keep its error; it stays pending."""
        statement = (
            sa.update(outbox)
            .where(outbox.c.event_id == event_id)
            .values(attempts=outbox.c.attempts + 1, last_error=str(error)[:_MAX_ERROR_CHARS])
        )
        with self.writing(f"marking event {event_id!r} failed") as connection:
            if connection.execute(statement).rowcount == 0:
                raise StoreError(f"no outbox event {event_id!r}")

    def update_history(
        self, *, model_id: str | None = None, since: datetime | None = None, limit: int = 50
    ) -> list[UpdateRecord]:
        """The latest ``limit`` update attempts (started at or after ``since``), newest
        first, of one model or all."""
        _positive("limit", limit)
        query = sa.select(update_history).order_by(
            update_history.c.started_at.desc(), update_history.c.job_id.desc()
        )
        if model_id is not None:
            query = query.where(update_history.c.model_id == model_id)
        if since is not None:
            query = query.where(update_history.c.started_at >= since)
        with self.reading("reading the update history") as connection:
            rows = connection.execute(query.limit(limit)).mappings().all()
        return [UpdateRecord(**{name: row[name] for name in _UPDATE_FIELDS}) for row in rows]

    def consecutive_failures(self, model_id: str) -> int:
        """Updates of ``model_id`` rolled back or failed since its last promotion (or ever).

        Deferred updates (they waited for new validation days) decided nothing and do not
        count. A scheduler can stop retrying, or alert, when this reaches a limit.
        """
        history = update_history.c
        last_promotion = (
            sa.select(sa.func.max(history.started_at))
            .where(history.model_id == model_id, history.decision == "promoted")
            .scalar_subquery()
        )
        query = sa.select(sa.func.count()).where(
            history.model_id == model_id,
            history.decision.in_(("rolled_back", "failed")),
            sa.or_(last_promotion.is_(None), history.started_at > last_promotion),
        )
        with self.reading("counting failed updates") as connection:
            return int(connection.execute(query).scalar_one())

    # -- daily performance ----------------------------------------------------------------
    def record_daily_performance(self, rows: pd.DataFrame | Sequence[PerformanceRow]) -> int:
        """Insert or replace realised days; returns the number of rows written.

        ``rows`` are :class:`PerformanceRow` or a frame with their columns. A (model, symbol,
        date) recorded before is overwritten, so recording a day again changes nothing.
        """
        records = as_performance_rows(rows)
        if not records:
            return 0
        now = datetime.now(UTC)
        values = [
            {
                "model_id": r.model_id,
                "symbol": r.symbol,
                "date": r.date,
                "position": r.position,
                "strategy_return": r.strategy_return,
                "market_return": r.market_return,
                "hit": r.hit,
                "recorded_at": now,
            }
            for r in records
        ]
        with self.writing("recording daily performance") as connection:
            dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
            statement = dialect.insert(daily_performance)
            replaced = ("position", "strategy_return", "market_return", "hit", "recorded_at")
            statement = statement.on_conflict_do_update(
                index_elements=["model_id", "symbol", "date"],
                set_={name: statement.excluded[name] for name in replaced},
            )
            connection.execute(statement, values)
        return len(values)

    def recent_performance(
        self, model_id: str, *, days: int = 30, end: date | None = None
    ) -> pd.DataFrame:
        """Rows of the model's last ``days`` trading days up to ``end`` (inclusive).

        Trading days are the dates the model has rows for, not calendar days. Columns:
        ``model_id, symbol, date`` (``datetime.date``), ``position, strategy_return,
        market_return, hit, recorded_at`` (UTC); sorted by date, then symbol.
        """
        _positive("days", days)
        table = daily_performance.c
        dates = sa.select(table.date).where(table.model_id == model_id).distinct()
        if end is not None:
            dates = dates.where(table.date <= end)
        last_days = dates.order_by(table.date.desc()).limit(days).subquery()
        query = (
            sa.select(*(table[name] for name in performance.PERFORMANCE_COLUMNS))
            .where(table.model_id == model_id, table.date.in_(sa.select(last_days.c.date)))
            .order_by(table.date, table.symbol)
        )
        with self.reading(f"reading the performance of {model_id!r}") as connection:
            rows = connection.execute(query).all()
        frame = pd.DataFrame(rows, columns=list(performance.PERFORMANCE_COLUMNS))
        return frame.astype({"hit": bool}) if len(frame) else frame

    def calculate_recent_sharpe(
        self, model_id: str, days: int = 7, *, end: date | None = None
    ) -> float:
        """Annualised Sharpe ratio of the model's last ``days`` trading days up to ``end``.

        The daily return is the mean over the symbols traded that day; the ratio is
        ``mean / std(ddof=1) * sqrt(252)`` as in the stability gate. NaN with fewer than two
        trading days, 0.0 when the daily returns do not vary.

        Examples
        --------
        >>> from datetime import date
        >>> store = MetricsStore("sqlite://")
        >>> store.migrate()
        >>> returns = {"SPY": [0.01, -0.005, 0.02, 0.0], "QQQ": [0.01, -0.005, 0.02, 0.0]}
        >>> store.record_daily_performance([
        ...     PerformanceRow("bull", symbol, date(2025, 1, 6 + i), 1.0, r, r)
        ...     for symbol, series in returns.items() for i, r in enumerate(series)])
        8
        >>> round(store.calculate_recent_sharpe("bull", days=4), 3)
        8.949
        >>> store.calculate_recent_sharpe("bull", days=1)
        nan
        """
        frame = self.recent_performance(model_id, days=days, end=end)
        return sharpe_ratio(performance.daily_returns(frame).to_numpy())

    def performance_summary(
        self, model_id: str, *, days: int = 30, end: date | None = None
    ) -> dict[str, float | int]:
        """``sharpe``, ``hit_rate``, ``max_drawdown``, ``n_days`` of the last ``days`` trading
        days (see :func:`~online_learning.metrics_store.performance.summarise`)."""
        return performance.summarise(self.recent_performance(model_id, days=days, end=end))

    # -- plumbing (shared by the stores built on this database) ------------------------------
    @contextmanager
    def reading(self, action: str) -> Iterator[sa.Connection]:
        """A connection for reading; a database error becomes a :class:`StoreError` that
        names ``action``."""
        with translate_errors(action, self.url), self.engine.connect() as connection:
            yield connection

    @contextmanager
    def writing(self, action: str) -> Iterator[sa.Connection]:
        """A write transaction (committed on exit, rolled back on error); a database error
        becomes a :class:`StoreError` that names ``action``."""
        with translate_errors(action, self.url), begin_write(self.engine) as connection:
            yield connection


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _update_row(record: UpdateRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _UPDATE_FIELDS}


def _outbox_row(event: OutboxEvent) -> dict[str, Any]:
    try:
        # The bytes the relay will publish (OutboxEvent.value()), refusing NaN, which is
        # not JSON.
        payload = json.dumps(event.payload, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"event {event.event_id} has a payload that is not JSON: {exc}") from exc
    return {
        "event_id": event.event_id,
        "topic": event.topic,
        "key": event.key,
        "payload": payload,
        "created_at": event.created_at,
        "published_at": event.published_at,
        "attempts": event.attempts,
    }
