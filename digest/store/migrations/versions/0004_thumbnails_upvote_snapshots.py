"""Papers keep the source's thumbnail and comment count; ``upvote_snapshots`` keeps each
paper's upvote count as ingests saw it over time (only changes), for momentum.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from digest.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("papers", recreate="never") as batch:
        batch.add_column(sa.Column("thumbnail", sa.String(1024), nullable=True))
        batch.add_column(sa.Column("comments", sa.Integer(), nullable=True))
    op.create_table(
        "upvote_snapshots",
        sa.Column("paper_id", sa.Integer(), sa.ForeignKey("papers.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("seen_at", UTCDateTime(), primary_key=True),
        sa.Column("upvotes", sa.Integer(), nullable=False),
    )
    op.create_index("ix_upvote_snapshots_seen_at", "upvote_snapshots", ["seen_at"])
    # What is known already: each paper's count when it was last written.
    op.execute("INSERT INTO upvote_snapshots (paper_id, seen_at, upvotes) "
               "SELECT id, updated_at, upvotes FROM papers WHERE upvotes IS NOT NULL")


def downgrade() -> None:
    op.drop_index("ix_upvote_snapshots_seen_at", table_name="upvote_snapshots")
    op.drop_table("upvote_snapshots")
    with op.batch_alter_table("papers", recreate="never") as batch:
        batch.drop_column("comments")
        batch.drop_column("thumbnail")
