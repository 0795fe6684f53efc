"""The feedback path: online sessions, their checkpoints, processed trades, input positions,
drift watches, drift history and rejected-outcome counters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "online_sessions",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("model_type", sa.String(40), nullable=False),
        sa.Column("config", _JSON, nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("ended_at", _TIMESTAMP),
    )
    active = sa.column("active").is_(True)
    # One active session per symbol, enforced by the database across every process.
    op.create_index(
        "ux_online_sessions_active_symbol",
        "online_sessions",
        ["symbol"],
        unique=True,
        postgresql_where=active,
        sqlite_where=active,
    )
    op.create_table(
        "session_checkpoints",
        sa.Column(
            "session_id",
            sa.String(64),
            sa.ForeignKey("online_sessions.session_id"),
            primary_key=True,
        ),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("input_positions", _JSON, nullable=False),
        sa.Column("samples_seen", sa.BigInteger, nullable=False),
        sa.Column("metrics", _JSON, nullable=False),
        sa.Column("checkpointed_at", _TIMESTAMP, nullable=False),
    )
    op.create_index("ix_session_checkpoints_symbol", "session_checkpoints", ["symbol"])
    op.create_table(
        "processed_trades",
        sa.Column("trade_id", sa.String(200), primary_key=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("model_id", sa.String(100)),
        sa.Column("session_id", sa.String(64)),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("processed_at", _TIMESTAMP, nullable=False),
    )
    op.create_index("ix_processed_trades_processed_at", "processed_trades", ["processed_at"])
    op.create_table(
        "input_positions",
        sa.Column("consumer_group", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.Column("owner", sa.String(200)),
        sa.Column("owner_epoch", sa.Integer, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("consumer_group", "topic", "partition"),
    )
    op.create_table(
        "drift_watches",
        sa.Column("model_id", sa.String(100), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("n_outcomes", sa.BigInteger, nullable=False),
        sa.Column("outcomes_since_detection", sa.BigInteger, nullable=False),
        sa.Column("last_detection_at", _TIMESTAMP),
        sa.Column("last_reason", sa.String(40)),
        sa.Column("detectors", _JSON, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "symbol"),
    )
    op.create_table(
        "drift_history",
        sa.Column("drift_id", sa.String(64), primary_key=True),
        sa.Column("model_id", sa.String(100), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("detectors", _JSON, nullable=False),
        sa.Column("statistics", _JSON, nullable=False),
        sa.Column("n_outcomes", sa.BigInteger, nullable=False),
        sa.Column("detected_at", _TIMESTAMP, nullable=False),
        sa.Column("adaptation_requested", sa.Boolean, nullable=False),
        sa.Column("prefect_status", sa.String(20), nullable=False),
        sa.Column("prefect_attempts", sa.Integer, nullable=False),
        sa.Column("prefect_last_error", sa.Text),
        sa.Column("prefect_next_attempt_at", _TIMESTAMP),
        sa.Column("prefect_sent_at", _TIMESTAMP),
    )
    op.create_index("ix_drift_history_model_detected", "drift_history", ["model_id", "detected_at"])
    pending = sa.column("prefect_status") == "pending"
    op.create_index(
        "ix_drift_history_prefect_pending",
        "drift_history",
        ["detected_at"],
        postgresql_where=pending,
        sqlite_where=pending,
    )
    op.create_table(
        "outcome_rejections",
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("last_detail", sa.Text),
        sa.Column("last_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("source", "reason"),
    )


def downgrade() -> None:
    for table in (
        "outcome_rejections",
        "drift_history",
        "drift_watches",
        "input_positions",
        "processed_trades",
        "session_checkpoints",
        "online_sessions",
    ):
        op.drop_table(table)
