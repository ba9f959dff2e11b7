"""Schema revisions under Alembic: ``versions/`` holds one file per revision, the first
being the schema as it was when revisions began. ``digest db upgrade`` applies them."""
