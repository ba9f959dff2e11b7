"""The class of the server's last reply to each digest (2xx, 4xx, 5xx, invalid, none,
unsupported, compose), for the delivery metrics.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digests", recreate="never") as batch:
        batch.add_column(sa.Column("reply_class", sa.String(16), nullable=True))
    # What the digests already sent or failed got, as far as it can be told.
    op.execute("UPDATE digests SET reply_class = '2xx' WHERE state = 'sent'")


def downgrade() -> None:
    with op.batch_alter_table("digests", recreate="never") as batch:
        batch.drop_column("reply_class")
