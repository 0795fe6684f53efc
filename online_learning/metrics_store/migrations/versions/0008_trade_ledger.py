"""The trade ledger: what each learned trade earned, what the rule alone would have, and what
each component of the prediction behind it said (the success metrics read it).

One row per trade learned (written in the transaction that records its ``trade_id``): the
outcome's time, realised return, position and P&L, the ``p_up`` served, the agent's rule-only
position and the ML view's weight when its SDK recorded them, each component's ``p_up``
(``{name: {"kind", "p_up", "weight"}}``) and the true regime a simulator labels it with.
Trades learned before this revision have no row.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "trade_ledger",
        # Unique in processed_trades, written in the same transaction: no key here.
        sa.Column("trade_id", sa.String(200), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("model_id", sa.String(100)),
        sa.Column("traded_at", _TIMESTAMP, nullable=False),
        sa.Column("prediction_id", sa.String(200)),
        sa.Column("realized_return", sa.Float, nullable=False),
        sa.Column("position", sa.Float),
        sa.Column("pnl", sa.Float, nullable=False),
        sa.Column("p_up", sa.Float),
        sa.Column("rule_position", sa.Float),
        sa.Column("ml_contribution", sa.Float),
        sa.Column("components", _JSON),
        sa.Column("known_regime", sa.String(40)),
        sa.Column("recorded_at", _TIMESTAMP, nullable=False),
    )
    op.create_index("ix_trade_ledger_traded_at", "trade_ledger", ["traded_at"])


def downgrade() -> None:
    op.drop_index("ix_trade_ledger_traded_at", table_name="trade_ledger")
    op.drop_table("trade_ledger")
