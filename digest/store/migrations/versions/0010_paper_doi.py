"""A paper's DOI, the identity of one without an arXiv id (a bioRxiv or medRxiv
preprint): null for every row stored before, unique where given.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("papers", recreate="never") as batch:
        batch.add_column(sa.Column("doi", sa.String(255), nullable=True))
    op.create_index("ix_papers_doi", "papers", ["doi"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_papers_doi", table_name="papers")
    with op.batch_alter_table("papers", recreate="never") as batch:
        batch.drop_column("doi")
