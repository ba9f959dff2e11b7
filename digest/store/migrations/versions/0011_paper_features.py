"""Each paper's terms for recommendations (``paper_features``: the hashed words and word
pairs of its title and abstract, packed; ``digest.terms``). Empty at first: a paper
stored before gets its terms when a pass first needs them, so upgrading reads no paper.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_features",
        sa.Column("paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("terms", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("paper_features")
