"""Where an update ran: ``worker``, the host and process (``host:pid``) of each attempt.

Updates run in the flow's process, on Dask workers or on other machines; the column says
which. Rows recorded before have none (NULL).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("update_history") as batch:
        batch.add_column(sa.Column("worker", sa.String(300)))


def downgrade() -> None:
    with op.batch_alter_table("update_history") as batch:
        batch.drop_column("worker")
