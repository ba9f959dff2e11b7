"""Alembic's entry point: run the revisions on the connection ``digest.store.revisions``
hands over (never a URL from alembic.ini: there is none)."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from digest.store.schema import UTCDateTime, metadata


def _render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Revisions spell the column types plainly (a UTC time is a DateTime column)."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_item=_render_item, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
