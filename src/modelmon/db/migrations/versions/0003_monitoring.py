"""monitoring: data-quality job definitions, schedules, executions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitoring_job_definitions",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("arn", sa.String(length=256), nullable=False),
        sa.Column("monitoring_type", sa.String(length=32), nullable=False),
        sa.Column("endpoint_name", sa.String(length=63), nullable=True),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "monitoring_schedules",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("arn", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("monitoring_type", sa.String(length=32), nullable=False),
        sa.Column("schedule_expression", sa.String(length=256), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("job_definition_name", sa.String(length=63), nullable=True),
        sa.Column("endpoint_name", sa.String(length=63), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("since_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_scheduled_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "monitoring_executions",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("arn", sa.String(length=256), nullable=False),
        sa.Column("schedule_name", sa.String(length=63), nullable=False),
        sa.Column("scheduled_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("monitoring_type", sa.String(length=32), nullable=False),
        sa.Column("endpoint_name", sa.String(length=63), nullable=True),
        sa.Column("job_definition_name", sa.String(length=63), nullable=True),
        sa.Column("job_definition", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("exit_message", sa.Text(), nullable=True),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("report_uri", sa.Text(), nullable=True),
        sa.Column("log_path", sa.Text(), nullable=True),
        sa.Column("metrics_uri", sa.Text(), nullable=True),
        sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("schedule_name", "scheduled_time", name="uq_monitoring_executions_run"),
    )
    op.create_index(
        "ix_monitoring_executions_schedule_name", "monitoring_executions", ["schedule_name"]
    )
    op.create_index("ix_monitoring_executions_status", "monitoring_executions", ["status"])


def downgrade() -> None:
    op.drop_index("ix_monitoring_executions_status", table_name="monitoring_executions")
    op.drop_index("ix_monitoring_executions_schedule_name", table_name="monitoring_executions")
    op.drop_table("monitoring_executions")
    op.drop_table("monitoring_schedules")
    op.drop_table("monitoring_job_definitions")
