"""Bounce counts: refusals of a subscriber's address in a row, and since when they are
marked bouncing (skipped until `digest subscribers reset`).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


# Plain ALTER TABLE (SQLite 3.35+ drops columns too): recreating the table, as batch mode
# may, would trip the foreign keys that point at subscribers.
def upgrade() -> None:
    with op.batch_alter_table("subscribers", recreate="never") as batch:
        batch.add_column(sa.Column("bounces", sa.Integer(), server_default="0",
                                   nullable=False))
        batch.add_column(sa.Column("bouncing_since", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscribers", recreate="never") as batch:
        batch.drop_column("bouncing_since")
        batch.drop_column("bounces")
