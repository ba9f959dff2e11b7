"""What a digest matched and did not fit (past max_papers): (paper id, reasons) pairs,
best first, listed on its web copy; null for every row stored before.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digests", recreate="never") as batch:
        batch.add_column(sa.Column("more", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digests", recreate="never") as batch:
        batch.drop_column("more")
