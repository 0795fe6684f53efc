"""Drift watches, drift history and the Prefect delivery state of adaptation requests.

The functions taking a connection write inside a caller's transaction (the learner's commit);
:class:`DriftStore` reads, and updates the delivery state from the notifier's thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from online_learning.metrics_store.feedback_records import DriftRecord, WatchState
from online_learning.metrics_store.tables import (
    drift_history,
    drift_watches,
    outbox,
    outcome_rejections,
)

if TYPE_CHECKING:
    from online_learning.metrics_store.store import MetricsStore

__all__ = ["DriftStore", "insert_drifts", "upsert"]

_MAX_ERROR_CHARS = 4000


def upsert(connection: sa.Connection, table: sa.Table, rows: list[dict], keys: Sequence[str]):
    """Insert ``rows`` or replace the columns of the ones whose ``keys`` exist."""
    if not rows:
        return
    if connection.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    statement = insert(table)
    replaced = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=replaced), rows)


def write_watches(connection: sa.Connection, watches: Sequence[WatchState]) -> None:
    rows = [
        {
            "model_id": w.model_id,
            "symbol": w.symbol,
            "state": w.state,
            "n_outcomes": w.n_outcomes,
            "outcomes_since_detection": w.outcomes_since_detection,
            "last_detection_at": w.last_detection_at,
            "last_reason": w.last_reason,
            "detectors": dict(w.detectors),
            "updated_at": w.updated_at,
        }
        for w in watches
    ]
    upsert(connection, drift_watches, rows, ("model_id", "symbol"))


def _last_request(connection: sa.Connection, model_id: str) -> datetime | None:
    query = sa.select(sa.func.max(drift_history.c.detected_at)).where(
        drift_history.c.model_id == model_id, drift_history.c.adaptation_requested.is_(True)
    )
    value = connection.execute(query).scalar_one_or_none()
    if isinstance(value, str):  # in case an aggregate loses the column type on SQLite
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def insert_drifts(
    connection: sa.Connection,
    drifts: Sequence[DriftRecord],
    *,
    cooldown: timedelta,
    topic: str,
) -> list[DriftRecord]:
    """Store drifts with their ``model_drift`` events; decide each adaptation request.

    A drift requests an adaptation unless the caller says none applies or the model had a
    request less than ``cooldown`` before it (checked here, in the transaction, so several
    workers share one cool-down per model). Returns the records as stored.
    """
    from online_learning.metrics_store.store import _outbox_row

    stored: list[DriftRecord] = []
    for drift in drifts:
        if connection.dialect.name == "postgresql":
            # Serialise the cool-down decision of one model between concurrent writers.
            key = sa.func.hashtext(f"online_learning.drift:{drift.model_id}")
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        if not drift.request_adaptation:
            requested, status = False, "skipped"
        else:
            last = _last_request(connection, drift.model_id)
            requested = last is None or drift.detected_at - last >= cooldown
            status = "pending" if requested else "suppressed"
        record = replace(drift, adaptation_requested=requested, prefect_status=status)
        connection.execute(
            sa.insert(drift_history),
            {
                "drift_id": record.drift_id,
                "model_id": record.model_id,
                "symbol": record.symbol,
                "reason": record.reason,
                "detectors": list(record.detectors),
                "statistics": dict(record.statistics),
                "n_outcomes": record.n_outcomes,
                "detected_at": record.detected_at,
                "adaptation_requested": requested,
                "prefect_status": status,
                "prefect_attempts": 0,
            },
        )
        connection.execute(sa.insert(outbox), _outbox_row(record.to_event().to_outbox(topic)))
        stored.append(record)
    return stored


def count_rejections(connection: sa.Connection, counted: dict, now: datetime) -> None:
    table = outcome_rejections
    for (source, reason), (count, detail) in counted.items():
        where = (table.c.source == source, table.c.reason == reason)
        updated = connection.execute(
            sa.update(table)
            .where(*where)
            .values(count=table.c.count + count, last_detail=detail[:_MAX_ERROR_CHARS], last_at=now)
        ).rowcount
        if not updated:
            connection.execute(
                sa.insert(table),
                {
                    "source": source,
                    "reason": reason,
                    "count": count,
                    "last_detail": detail[:_MAX_ERROR_CHARS],
                    "last_at": now,
                },
            )


def _drift_from_row(row: Any) -> DriftRecord:
    return DriftRecord(
        drift_id=row["drift_id"],
        model_id=row["model_id"],
        symbol=row["symbol"],
        reason=row["reason"],
        detectors=tuple(row["detectors"]),
        statistics=row["statistics"],
        n_outcomes=row["n_outcomes"],
        detected_at=row["detected_at"],
        request_adaptation=row["prefect_status"] != "skipped",
        adaptation_requested=row["adaptation_requested"],
        prefect_status=row["prefect_status"],
        prefect_attempts=row["prefect_attempts"],
        prefect_last_error=row["prefect_last_error"],
        prefect_sent_at=row["prefect_sent_at"],
    )


class DriftStore:
    """Reads of drift watches and history; the Prefect delivery marks.

    Parameters
    ----------
    metrics : MetricsStore
        The store whose database (migrated to revision ``0003`` or later) holds the tables.
    """

    def __init__(self, metrics: MetricsStore) -> None:
        self.metrics = metrics

    def record(
        self, drifts: Sequence[DriftRecord], *, cooldown: timedelta, topic: str
    ) -> list[DriftRecord]:
        """Store drifts on their own (the adaptive manager's requests), as :func:`insert_drifts`."""
        with self.metrics.writing("recording drifts") as connection:
            return insert_drifts(connection, drifts, cooldown=cooldown, topic=topic)

    def count_rejections(self, rejections: Sequence[tuple[str, str, str]]) -> None:
        """Count ``(source, reason, detail)`` triples of invalid outcomes on their own."""
        from online_learning.metrics_store.feedback_records import rejection_rows

        if rejections:
            with self.metrics.writing("counting rejected outcomes") as connection:
                count_rejections(connection, rejection_rows(rejections), datetime.now(UTC))

    def last_request(self, model_id: str) -> datetime | None:
        """When the model's newest adaptation request was detected, None if it had none."""
        with self.metrics.reading("reading the last adaptation request") as connection:
            return _last_request(connection, model_id)

    def watch_state(self, model_id: str, symbol: str) -> bytes | None:
        query = sa.select(drift_watches.c.state).where(
            drift_watches.c.model_id == model_id, drift_watches.c.symbol == symbol
        )
        with self.metrics.reading("reading a drift watch") as connection:
            return connection.execute(query).scalar_one_or_none()

    def watches(self) -> list[WatchState]:
        """Every watch's summary (``state`` left empty), by model and symbol."""
        columns = [c for c in drift_watches.columns if c.name != "state"]
        query = sa.select(*columns).order_by(drift_watches.c.model_id, drift_watches.c.symbol)
        with self.metrics.reading("reading the drift watches") as connection:
            rows = connection.execute(query).mappings().all()
        return [WatchState(state=b"", **dict(row)) for row in rows]

    def history(
        self,
        *,
        model_id: str | None = None,
        symbol: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[DriftRecord]:
        """The latest ``limit`` drift records (detected at or after ``since``), newest first."""
        query = sa.select(drift_history).order_by(
            drift_history.c.detected_at.desc(), drift_history.c.drift_id
        )
        if model_id is not None:
            query = query.where(drift_history.c.model_id == model_id)
        if symbol is not None:
            query = query.where(drift_history.c.symbol == symbol)
        if since is not None:
            query = query.where(drift_history.c.detected_at >= since)
        with self.metrics.reading("reading the drift history") as connection:
            rows = connection.execute(query.limit(limit)).mappings().all()
        return [_drift_from_row(row) for row in rows]

    def latest_per_watch(self) -> dict[tuple[str, str], DriftRecord]:
        """The newest drift record of each (model, symbol)."""
        newest = (
            sa.select(
                drift_history.c.model_id,
                drift_history.c.symbol,
                sa.func.max(drift_history.c.detected_at).label("at"),
            )
            .group_by(drift_history.c.model_id, drift_history.c.symbol)
            .subquery()
        )
        query = sa.select(drift_history).join(
            newest,
            sa.and_(
                drift_history.c.model_id == newest.c.model_id,
                drift_history.c.symbol == newest.c.symbol,
                drift_history.c.detected_at == newest.c.at,
            ),
        )
        with self.metrics.reading("reading the latest drifts") as connection:
            rows = connection.execute(query).mappings().all()
        return {(row["model_id"], row["symbol"]): _drift_from_row(row) for row in rows}

    def latest_requests(self) -> dict[str, DriftRecord]:
        """The newest adaptation request (``adaptation_requested``) of each model."""
        table = drift_history.c
        newest = (
            sa.select(table.model_id, sa.func.max(table.detected_at).label("at"))
            .where(table.adaptation_requested.is_(True))
            .group_by(table.model_id)
            .subquery()
        )
        query = (
            sa.select(drift_history)
            .join(
                newest,
                sa.and_(table.model_id == newest.c.model_id, table.detected_at == newest.c.at),
            )
            .where(table.adaptation_requested.is_(True))
        )
        with self.metrics.reading("reading the latest adaptation requests") as connection:
            rows = connection.execute(query).mappings().all()
        return {row["model_id"]: _drift_from_row(row) for row in rows}

    def pending_prefect(self, *, now: datetime | None = None, limit: int = 50) -> list[DriftRecord]:
        """Adaptation requests whose Prefect event is due, oldest first."""
        now = now or datetime.now(UTC)
        table = drift_history.c
        query = (
            sa.select(drift_history)
            .where(
                table.prefect_status == "pending",
                sa.or_(
                    table.prefect_next_attempt_at.is_(None), table.prefect_next_attempt_at <= now
                ),
            )
            .order_by(table.detected_at)
            .limit(limit)
        )
        with self.metrics.reading("reading pending adaptation requests") as connection:
            return [_drift_from_row(r) for r in connection.execute(query).mappings().all()]

    def mark_prefect_sent(self, drift_id: str, *, at: datetime | None = None) -> None:
        statement = (
            sa.update(drift_history)
            .where(drift_history.c.drift_id == drift_id)
            .values(prefect_status="sent", prefect_sent_at=at or datetime.now(UTC))
        )
        with self.metrics.writing("marking an adaptation request sent") as connection:
            connection.execute(statement)

    def mark_prefect_failed(self, drift_id: str, error: str, *, retry_at: datetime | None) -> None:
        """Count a failed send; retry at ``retry_at``, or give up (``failed``) when None."""
        values: dict[str, Any] = {
            "prefect_attempts": drift_history.c.prefect_attempts + 1,
            "prefect_last_error": str(error)[:_MAX_ERROR_CHARS],
            "prefect_next_attempt_at": retry_at,
        }
        if retry_at is None:
            values["prefect_status"] = "failed"
        statement = (
            sa.update(drift_history).where(drift_history.c.drift_id == drift_id).values(**values)
        )
        with self.metrics.writing("marking an adaptation request failed") as connection:
            connection.execute(statement)

    def rejection_counts(self) -> dict[tuple[str, str], int]:
        """Invalid outcomes counted per (source, reason)."""
        query = sa.select(outcome_rejections.c.source, outcome_rejections.c.reason,
                          outcome_rejections.c.count)  # fmt: skip
        with self.metrics.reading("reading the rejection counters") as connection:
            return {(s, r): int(c) for s, r, c in connection.execute(query).all()}
