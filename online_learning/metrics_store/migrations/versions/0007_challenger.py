"""A challenger's period on each update: ``challenger_version``, ``challenger_days``,
``challenger_low`` and ``challenger_high`` (see :mod:`online_learning.update.challenger`).

Rows recorded before have none (NULL): no update named or judged a challenger then.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = (
    ("challenger_version", sa.String(100)),
    ("challenger_days", sa.Integer),
    ("challenger_low", sa.Float),
    ("challenger_high", sa.Float),
)


def upgrade() -> None:
    with op.batch_alter_table("update_history") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind))


def downgrade() -> None:
    with op.batch_alter_table("update_history") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
