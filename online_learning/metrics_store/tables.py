"""The tables of the metrics store at the head revision, for building queries.

The schema itself is created and changed by the Alembic revisions in ``migrations/versions``;
those do not import this module (a migration describes the schema as it was when written).
``tests/online_learning/test_metrics_store.py`` checks that the two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData()


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC on every backend.

    SQLite keeps timestamps as text without an offset, so values are converted to UTC before
    they are written (which also keeps their text order chronological) and read back as UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamps must be timezone-aware, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONDocument = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

daily_performance = sa.Table(
    "daily_performance",
    metadata,
    sa.Column("model_id", sa.String(100), primary_key=True),
    sa.Column("symbol", sa.String(64), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("position", sa.Float, nullable=False),
    sa.Column("strategy_return", sa.Float, nullable=False),
    sa.Column("market_return", sa.Float, nullable=False),
    sa.Column("hit", sa.Boolean, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)

update_history = sa.Table(
    "update_history",
    metadata,
    sa.Column("job_id", sa.String(200), primary_key=True),
    sa.Column("model_id", sa.String(100), nullable=False),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("sharpe_pre", sa.Float),
    sa.Column("sharpe_post", sa.Float),
    sa.Column("degradation_pct", sa.Float),
    sa.Column("duration_s", sa.Float, nullable=False),
    sa.Column("version", sa.String(100)),
    sa.Column("previous_version", sa.String(100)),
    sa.Column("window_start", sa.String(40)),
    sa.Column("window_end", sa.String(40)),
    sa.Column("judged_start", sa.String(40)),
    sa.Column("judged_end", sa.String(40)),
    sa.Column("config", JSONDocument, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=False),
    sa.Column("worker", sa.String(300)),
    sa.Column("challenger_version", sa.String(100)),
    sa.Column("challenger_days", sa.Integer),
    sa.Column("challenger_low", sa.Float),
    sa.Column("challenger_high", sa.Float),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("topic", sa.String(200), nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("published_at", UTCDateTime),
    sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("last_error", sa.Text),
)

sa.Index("ix_daily_performance_model_date", daily_performance.c.model_id, daily_performance.c.date)
sa.Index("ix_update_history_model_started", update_history.c.model_id, update_history.c.started_at)
# Partial index: the relay's query touches only the (few) unpublished rows, oldest first.
sa.Index(
    "ix_outbox_unpublished",
    outbox.c.created_at,
    postgresql_where=outbox.c.published_at.is_(None),
    sqlite_where=outbox.c.published_at.is_(None),
)

# -- the feedback path (revision 0003) ----------------------------------------------------------
online_sessions = sa.Table(
    "online_sessions",
    metadata,
    sa.Column("session_id", sa.String(64), primary_key=True),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("model_type", sa.String(40), nullable=False),
    sa.Column("config", JSONDocument, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("ended_at", UTCDateTime),
)

session_checkpoints = sa.Table(
    "session_checkpoints",
    metadata,
    sa.Column(
        "session_id", sa.String(64), sa.ForeignKey("online_sessions.session_id"), primary_key=True
    ),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("state", sa.LargeBinary, nullable=False),
    sa.Column("input_positions", JSONDocument, nullable=False),
    sa.Column("samples_seen", sa.BigInteger, nullable=False),
    sa.Column("metrics", JSONDocument, nullable=False),
    sa.Column("checkpointed_at", UTCDateTime, nullable=False),
)

processed_trades = sa.Table(
    "processed_trades",
    metadata,
    sa.Column("trade_id", sa.String(200), primary_key=True),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("model_id", sa.String(100)),
    sa.Column("session_id", sa.String(64)),
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("processed_at", UTCDateTime, nullable=False),
)

input_positions = sa.Table(
    "input_positions",
    metadata,
    sa.Column("consumer_group", sa.String(200), primary_key=True),
    sa.Column("topic", sa.String(200), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("next_offset", sa.BigInteger, nullable=False),
    sa.Column("owner", sa.String(200)),
    sa.Column("owner_epoch", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

drift_watches = sa.Table(
    "drift_watches",
    metadata,
    sa.Column("model_id", sa.String(100), primary_key=True),
    sa.Column("symbol", sa.String(64), primary_key=True),
    sa.Column("state", sa.LargeBinary, nullable=False),
    sa.Column("n_outcomes", sa.BigInteger, nullable=False),
    sa.Column("outcomes_since_detection", sa.BigInteger, nullable=False),
    sa.Column("last_detection_at", UTCDateTime),
    sa.Column("last_reason", sa.String(40)),
    sa.Column("detectors", JSONDocument, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

drift_history = sa.Table(
    "drift_history",
    metadata,
    sa.Column("drift_id", sa.String(64), primary_key=True),
    sa.Column("model_id", sa.String(100), nullable=False),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("detectors", JSONDocument, nullable=False),
    sa.Column("statistics", JSONDocument, nullable=False),
    sa.Column("n_outcomes", sa.BigInteger, nullable=False),
    sa.Column("detected_at", UTCDateTime, nullable=False),
    sa.Column("adaptation_requested", sa.Boolean, nullable=False),
    sa.Column("prefect_status", sa.String(20), nullable=False),
    sa.Column("prefect_attempts", sa.Integer, nullable=False),
    sa.Column("prefect_last_error", sa.Text),
    sa.Column("prefect_next_attempt_at", UTCDateTime),
    sa.Column("prefect_sent_at", UTCDateTime),
)

outcome_rejections = sa.Table(
    "outcome_rejections",
    metadata,
    sa.Column("source", sa.String(40), primary_key=True),
    sa.Column("reason", sa.String(40), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("last_detail", sa.Text),
    sa.Column("last_at", UTCDateTime, nullable=False),
)

# -- champion/challenger shadow ledger (revision 0004) ---------------------------------------
shadow_predictions = sa.Table(
    "shadow_predictions",
    metadata,
    sa.Column("prediction_id", sa.String(64), primary_key=True),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("served_kind", sa.String(10), nullable=False),
    sa.Column("served_p_up", sa.Float, nullable=False),
    sa.Column("shadow_kind", sa.String(10), nullable=False),
    sa.Column("shadow_p_up", sa.Float, nullable=False),
    sa.Column("batch_versions", JSONDocument, nullable=False),
    sa.Column("session_id", sa.String(64)),
    sa.Column("served_at", UTCDateTime, nullable=False),
    sa.Column("realized_return", sa.Float),
    sa.Column("outcome_at", UTCDateTime),
)

sa.Index(
    "ux_online_sessions_active_symbol",
    online_sessions.c.symbol,
    unique=True,
    postgresql_where=online_sessions.c.active.is_(True),
    sqlite_where=online_sessions.c.active.is_(True),
)
sa.Index("ix_session_checkpoints_symbol", session_checkpoints.c.symbol)
sa.Index("ix_drift_history_model_detected", drift_history.c.model_id, drift_history.c.detected_at)
sa.Index(
    "ix_drift_history_prefect_pending",
    drift_history.c.detected_at,
    postgresql_where=drift_history.c.prefect_status == "pending",
    sqlite_where=drift_history.c.prefect_status == "pending",
)
sa.Index("ix_shadow_predictions_served_at", shadow_predictions.c.served_at)

# -- the trade ledger of the success metrics (revision 0008) ----------------------------------
trade_ledger = sa.Table(
    "trade_ledger",
    metadata,
    # No key: the trade's id is unique in processed_trades, written in the same transaction,
    # and an index the summary never reads would cost every write.
    sa.Column("trade_id", sa.String(200), nullable=False),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("model_id", sa.String(100)),
    sa.Column("traded_at", UTCDateTime, nullable=False),
    sa.Column("prediction_id", sa.String(200)),
    sa.Column("realized_return", sa.Float, nullable=False),
    sa.Column("position", sa.Float),
    sa.Column("pnl", sa.Float, nullable=False),
    sa.Column("p_up", sa.Float),
    sa.Column("rule_position", sa.Float),
    sa.Column("ml_contribution", sa.Float),
    sa.Column("components", JSONDocument),
    sa.Column("known_regime", sa.String(40)),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)
# Only the time: a summary reads a window of time, and every index costs the feedback path's
# writes (tens of thousands of rows a second).
sa.Index("ix_trade_ledger_traded_at", trade_ledger.c.traded_at)
