"""slack app tables: channel and DM subscriptions, learned channel ids

Revision ID: 0005_slack
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.models

revision = "0005_slack"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_subscription",
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("team", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("min_severity", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("working_hours", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "team"),
    )
    op.create_table(
        "slack_user_subscription",
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "slack_channel",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("is_private", sa.Boolean(), nullable=True),
        sa.Column("updated_at", store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("slack_channel", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slack_channel_channel_id"), ["channel_id"])
    # Deliveries are looked up by message (channel, ts) when a button re-renders it.
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_channel_ts", ["channel", "ts"])


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_channel_ts")
    with op.batch_alter_table("slack_channel", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_channel_channel_id"))
    op.drop_table("slack_channel")
    op.drop_table("slack_user_subscription")
    op.drop_table("slack_subscription")
