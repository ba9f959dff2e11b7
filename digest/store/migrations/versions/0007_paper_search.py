"""Full-text search over the papers' titles, authors and keywords (the Daily Papers
page's search box): a SQLite FTS5 table, or on PostgreSQL a tsvector per paper with a GIN
index, filled from the papers stored before. ``digest.store.search`` keeps it in step.
And an index on the day a paper appeared (featured, else published), which the page's
views select by.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_SQLITE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS paper_search USING fts5(title, authors, keywords, "
    "tokenize = 'unicode61 remove_diacritics 2')",
    "INSERT INTO paper_search (rowid, title, authors, keywords) SELECT p.id, p.title, "
    "coalesce((SELECT group_concat(a.name, ' ') FROM paper_authors a "
    "WHERE a.paper_id = p.id), ''), coalesce(p.keywords, '') FROM papers p",
)
_POSTGRESQL = (
    "CREATE TABLE IF NOT EXISTS paper_search (paper_id INTEGER PRIMARY KEY "
    "REFERENCES papers (id) ON DELETE CASCADE, document TSVECTOR NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_paper_search_document ON paper_search USING GIN (document)",
    "INSERT INTO paper_search (paper_id, document) SELECT p.id, "
    "setweight(to_tsvector('simple', p.title), 'A') || "
    "setweight(to_tsvector('simple', coalesce((SELECT string_agg(a.name, ' ' "
    "ORDER BY a.position) FROM paper_authors a WHERE a.paper_id = p.id), '')), 'B') || "
    "setweight(to_tsvector('simple', coalesce(p.keywords::text, '')), 'C') FROM papers p",
)


def upgrade() -> None:
    op.create_index("ix_papers_day", "papers", [sa.text("coalesce(featured, published)")])
    for statement in _SQLITE if op.get_bind().dialect.name == "sqlite" else _POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS paper_search")
    op.drop_index("ix_papers_day", "papers")
