"""The days an update's gate judged, beside its window: ``judged_start`` and ``judged_end``.

Rows recorded before have none (NULL): their validation days are not known.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("update_history") as batch:
        batch.add_column(sa.Column("judged_start", sa.String(40)))
        batch.add_column(sa.Column("judged_end", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("update_history") as batch:
        batch.drop_column("judged_end")
        batch.drop_column("judged_start")
