"""An index on when each paper was first seen: a pass reads the papers new since its
subscribers' last digests through it, however big the archive.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_papers_first_seen", "papers", ["first_seen"])


def downgrade() -> None:
    op.drop_index("ix_papers_first_seen", table_name="papers")
