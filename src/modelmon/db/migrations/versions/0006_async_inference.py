"""asynchronous inference queue (InvokeEndpointAsync requests)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "async_invocations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("endpoint_name", sa.String(length=63), nullable=False),
        sa.Column("inference_id", sa.String(length=64), nullable=False),
        sa.Column("input_location", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=1024), nullable=True),
        sa.Column("accept", sa.String(length=1024), nullable=True),
        sa.Column("custom_attributes", sa.String(length=1024), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("output_location", sa.Text(), nullable=False),
        sa.Column("failure_location", sa.Text(), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("received_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_content_type", sa.String(length=1024), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint_name", "inference_id", name="uq_async_invocations_inference"),
    )
    op.create_index(
        "ix_async_invocations_work",
        "async_invocations",
        ["status", "endpoint_name", "received_time"],
    )


def downgrade() -> None:
    op.drop_index("ix_async_invocations_work", table_name="async_invocations")
    op.drop_table("async_invocations")
