"""transform jobs: progress counters

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COUNTERS = ("files_total", "files_done", "records_done")


def upgrade() -> None:
    with op.batch_alter_table("transform_jobs") as batch:
        for name in COUNTERS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("transform_jobs") as batch:
        for name in reversed(COUNTERS):
            batch.drop_column(name)
