"""The day each paper appeared (featured, else published) on its author rows, and an
index on (author, day, paper): a followed name's newest papers are read from the index
(``store.papers.carrying``) however many papers the archive holds. Filled from the papers
for every row stored before. The index on the author alone goes: the new one starts with
the author, so it serves those lookups too, and each index costs every author row
written (a week's ingest at 800,000 papers spent a third of its time in them).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("paper_authors", recreate="never") as batch:
        batch.add_column(sa.Column("day", sa.Date, nullable=True))
    op.execute("UPDATE paper_authors SET day = (SELECT coalesce(papers.featured, "
               "papers.published) FROM papers WHERE papers.id = paper_authors.paper_id)")
    op.create_index("ix_paper_authors_author_day", "paper_authors",
                    ["author_id", "day", "paper_id"])
    op.drop_index("ix_paper_authors_author_id", table_name="paper_authors")


def downgrade() -> None:
    op.create_index("ix_paper_authors_author_id", "paper_authors", ["author_id"])
    op.drop_index("ix_paper_authors_author_day", table_name="paper_authors")
    with op.batch_alter_table("paper_authors", recreate="never") as batch:
        batch.drop_column("day")
