"""The shadow ledger of champion/challenger serving: what the component not served predicted.

One row per prediction served by the ``champion_challenger`` strategy with both components
available: which one served (``batch`` or ``online``) and both ``p_up``, the versions behind
them, and, once an outcome naming the ``prediction_id`` arrives, its realised return.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "shadow_predictions",
        sa.Column("prediction_id", sa.String(64), primary_key=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("served_kind", sa.String(10), nullable=False),
        sa.Column("served_p_up", sa.Float, nullable=False),
        sa.Column("shadow_kind", sa.String(10), nullable=False),
        sa.Column("shadow_p_up", sa.Float, nullable=False),
        sa.Column("batch_versions", _JSON, nullable=False),
        sa.Column("session_id", sa.String(64)),
        sa.Column("served_at", _TIMESTAMP, nullable=False),
        sa.Column("realized_return", sa.Float),
        sa.Column("outcome_at", _TIMESTAMP),
    )
    op.create_index("ix_shadow_predictions_served_at", "shadow_predictions", ["served_at"])


def downgrade() -> None:
    op.drop_index("ix_shadow_predictions_served_at", table_name="shadow_predictions")
    op.drop_table("shadow_predictions")
