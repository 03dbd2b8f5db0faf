"""metrics, alarms and notification topics

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "metric_series",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("metric_name", sa.String(length=255), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("last_timestamp", TZ, nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("creation_time", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_metric_series_key"),
    )
    op.create_index("ix_metric_series_namespace", "metric_series", ["namespace"])
    op.create_index("ix_metric_series_metric_name", "metric_series", ["metric_name"])
    op.create_table(
        "metric_datapoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("series_id", sa.Integer(), sa.ForeignKey("metric_series.id"), nullable=False),
        sa.Column("timestamp", TZ, nullable=False),
        sa.Column("sample_count", sa.Float(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
        sa.Column("minimum", sa.Float(), nullable=False),
        sa.Column("maximum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_metric_datapoints_series_time", "metric_datapoints", ["series_id", "timestamp"]
    )
    op.create_table(
        "alerting_alarms",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("arn", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("schedule_name", sa.String(length=63), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("series_key", sa.String(length=1024), nullable=False),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("metric_name", sa.String(length=255), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("statistic", sa.String(length=16), nullable=False),
        sa.Column("comparison_operator", sa.String(length=48), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("evaluation_periods", sa.Integer(), nullable=False),
        sa.Column("datapoints_to_alarm", sa.Integer(), nullable=False),
        sa.Column("treat_missing_data", sa.String(length=16), nullable=False),
        sa.Column("actions_enabled", sa.Boolean(), nullable=False),
        sa.Column("alarm_actions", sa.JSON(), nullable=False),
        sa.Column("ok_actions", sa.JSON(), nullable=False),
        sa.Column("insufficient_data_actions", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=False),
        sa.Column("state_reason_data", sa.JSON(), nullable=True),
        sa.Column("state_updated_time", TZ, nullable=False),
        sa.Column("creation_time", TZ, nullable=False),
        sa.Column("last_modified_time", TZ, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_alerting_alarms_series_key", "alerting_alarms", ["series_key"])
    op.create_index("ix_alerting_alarms_schedule_name", "alerting_alarms", ["schedule_name"])
    op.create_table(
        "alerting_alarm_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alarm_name", sa.String(length=255), nullable=False),
        sa.Column("timestamp", TZ, nullable=False),
        sa.Column("item_type", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("old_state", sa.String(length=24), nullable=True),
        sa.Column("new_state", sa.String(length=24), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_alerting_alarm_history_alarm_name", "alerting_alarm_history", ["alarm_name"]
    )
    op.create_table(
        "alerting_topics",
        sa.Column("arn", sa.String(length=512), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("creation_time", TZ, nullable=False),
        sa.PrimaryKeyConstraint("arn"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "alerting_subscriptions",
        sa.Column("arn", sa.String(length=600), nullable=False),
        sa.Column("topic_arn", sa.String(length=512), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("creation_time", TZ, nullable=False),
        sa.PrimaryKeyConstraint("arn"),
    )
    op.create_index("ix_alerting_subscriptions_topic_arn", "alerting_subscriptions", ["topic_arn"])
    op.create_table(
        "alerting_messages",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("topic_arn", sa.String(length=512), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=512), nullable=True),
        sa.Column("published_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("topic_arn", "dedupe_key", name="uq_alerting_messages_dedupe"),
    )
    op.create_index("ix_alerting_messages_topic_arn", "alerting_messages", ["topic_arn"])
    op.create_table(
        "alerting_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("subscription_arn", sa.String(length=600), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.Column("creation_time", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alerting_deliveries_message_id", "alerting_deliveries", ["message_id"])
    op.create_index(
        "ix_alerting_deliveries_due", "alerting_deliveries", ["status", "next_attempt_at"]
    )
    op.create_table(
        "alerting_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alerting_attempts_delivery_id", "alerting_attempts", ["delivery_id"])


def downgrade() -> None:
    for table in (
        "alerting_attempts",
        "alerting_deliveries",
        "alerting_messages",
        "alerting_subscriptions",
        "alerting_topics",
        "alerting_alarm_history",
        "alerting_alarms",
        "metric_datapoints",
        "metric_series",
    ):
        op.drop_table(table)
