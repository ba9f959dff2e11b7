"""Bounces, complaints and unsubscribe requests read back by mail: why and since when a
subscriber is suppressed, temporary failures per digest, and every mail read (by hash).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from digest.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", recreate="never") as batch:
        batch.add_column(sa.Column("suppressed_kind", sa.String(16), nullable=True))
        batch.add_column(sa.Column("suppressed_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("suppressed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("complained_at", UTCDateTime(), nullable=True))
    op.create_table(
        "soft_bounces",
        sa.Column("subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id"),
                  primary_key=True),
        sa.Column("period", UTCDateTime(), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_table(
        "mail_messages",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id"),
                  nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("sender", sa.String(512), nullable=False),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("date", sa.String(128), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_mail_messages_kind", "mail_messages", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_mail_messages_kind", table_name="mail_messages")
    op.drop_table("mail_messages")
    op.drop_table("soft_bounces")
    with op.batch_alter_table("subscribers", recreate="never") as batch:
        batch.drop_column("complained_at")
        batch.drop_column("suppressed_at")
        batch.drop_column("suppressed_reason")
        batch.drop_column("suppressed_kind")
