"""Team channels: each digest's message to each of its subscriber's channels (planned,
claimed, sent and retried like the digest's mail), and the channels that answered 404 or
410 (gone: nothing goes there until the subscriber changes them).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_sends",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("digest_id", sa.Integer(), sa.ForeignKey("digests.id"), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime()),
        sa.Column("claimed_at", sa.DateTime()),
        sa.Column("last_error", sa.Text()),
        sa.Column("status", sa.Integer()),
        sa.Column("planned_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime()),
        sa.UniqueConstraint("digest_id", "channel"),
    )
    op.create_index("ix_channel_sends_state_id", "channel_sends", ["state", "id"])
    op.create_table(
        "channel_blocks",
        sa.Column("subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id"),
                  primary_key=True),
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("channel_blocks")
    op.drop_index("ix_channel_sends_state_id", table_name="channel_sends")
    op.drop_table("channel_sends")
