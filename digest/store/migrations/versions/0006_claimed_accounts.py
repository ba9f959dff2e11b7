"""Each listed author's account that claimed the paper at the source (a Hugging Face
username), null for the authors who did not and for every row stored before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("paper_authors", recreate="never") as batch:
        batch.add_column(sa.Column("user", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("paper_authors", recreate="never") as batch:
        batch.drop_column("user")
