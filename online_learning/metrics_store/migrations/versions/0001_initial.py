"""Daily performance, update history and the outbox; a hypertable with TimescaleDB.

On PostgreSQL with the ``timescaledb`` extension available, ``daily_performance`` becomes a
hypertable partitioned on ``date`` (its primary key contains ``date``, as TimescaleDB requires
of every unique index). Without it, or on SQLite, it is a plain table with the same indexes.

Revision ID: 0001
Revises:
Create Date: 2025-01-06
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

logger = logging.getLogger(__name__)

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "daily_performance",
        sa.Column("model_id", sa.String(100), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("position", sa.Float, nullable=False),
        sa.Column("strategy_return", sa.Float, nullable=False),
        sa.Column("market_return", sa.Float, nullable=False),
        sa.Column("hit", sa.Boolean, nullable=False),
        sa.Column("recorded_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "symbol", "date"),
    )
    op.create_index("ix_daily_performance_model_date", "daily_performance", ["model_id", "date"])
    op.create_table(
        "update_history",
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
        sa.Column("config", _JSON, nullable=False),
        sa.Column("started_at", _TIMESTAMP, nullable=False),
        sa.Column("finished_at", _TIMESTAMP, nullable=False),
    )
    op.create_index("ix_update_history_model_started", "update_history", ["model_id", "started_at"])
    op.create_table(
        "outbox",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("published_at", _TIMESTAMP),
    )
    unpublished = sa.column("published_at").is_(None)
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["created_at"],
        postgresql_where=unpublished,
        sqlite_where=unpublished,
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and timescaledb_available(bind):
        make_hypertable(bind)


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("update_history")
    op.drop_table("daily_performance")


def timescaledb_available(bind: sa.Connection) -> bool:
    query = sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    return bind.execute(query).first() is not None


def make_hypertable(bind: sa.Connection) -> bool:
    """Turn ``daily_performance`` into a hypertable; keep the plain table if that fails.

    The extension can be installed yet unusable (not in ``shared_preload_libraries``, or the
    role may not create it). A savepoint keeps the migration's transaction alive then.
    """
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS timescaledb"))
            # Daily rows are few: yearly chunks instead of the default weekly ones.
            bind.execute(
                sa.text(
                    "SELECT create_hypertable('daily_performance', 'date', "
                    "chunk_time_interval => INTERVAL '1 year', if_not_exists => TRUE)"
                )
            )
    except DBAPIError as exc:
        logger.warning("daily_performance stays a plain table: TimescaleDB failed: %s", exc.orig)
        return False
    return True
