"""Schema revisions (Alembic): which one a database is at, and bringing it to the code's.

The revisions are in ``digest/store/migrations/versions``; the first is the schema as it
was when revisions began. An empty database is created at the newest revision directly;
any other database must be at it (``digest db upgrade`` takes it there) before a command
uses it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from digest.errors import StoreError
from digest.store import migrations

FOLDER = Path(migrations.__file__).parent


@cache
def _script(folder: Path = FOLDER) -> ScriptDirectory:
    return ScriptDirectory.from_config(_config(folder))


def _config(folder: Path, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(folder))
    config.attributes["connection"] = connection
    return config


def head(folder: Path = FOLDER) -> str:
    """The newest revision the code knows."""
    found = _script(folder).get_current_head()
    assert found is not None, "no schema revisions"
    return found


def known(revision: str, folder: Path = FOLDER) -> bool:
    return any(r.revision == revision for r in _script(folder).walk_revisions())


def newer(at: str, where: str, folder: Path = FOLDER) -> StoreError:
    """The error for a database at a revision this code does not know."""
    return StoreError(f"{where} has schema revision {at}, newer than this digest knows (up "
                      f"to {head(folder)}): a newer digest upgraded it; use that")


def current(conn: Connection) -> str | None:
    """The revision the database is at (None: not versioned, or empty)."""
    return MigrationContext.configure(conn).get_current_revision()


def is_empty(conn: Connection) -> bool:
    return not [t for t in inspect(conn).get_table_names() if not t.startswith("sqlite_")]


def stamp(conn: Connection, revision: str, folder: Path = FOLDER) -> None:
    """Record that the database is at ``revision`` without changing it."""
    command.stamp(_config(folder, conn), revision)


def upgrade(conn: Connection, folder: Path = FOLDER) -> tuple[str | None, str]:
    """Apply the revisions the database lacks; returns (from, to). A database made before
    revisions began is first recognised as the revision its tables match."""
    before = current(conn)
    if before is not None and not known(before, folder):
        raise newer(before, "the database", folder)
    if before is None and not is_empty(conn):
        stamp(conn, _matching(conn), folder)
    command.upgrade(_config(folder, conn), "head")
    return before, head(folder)


def _matching(conn: Connection) -> str:
    """The revision whose tables an unversioned database has (one made before revisions
    began, or by this code before its revision was recorded)."""
    schema = inspect(conn)
    if "ix_papers_first_seen" in {i["name"] for i in schema.get_indexes("papers")}:
        return "0013"
    if "day" in {c["name"] for c in schema.get_columns("paper_authors")}:
        return "0012"
    if "paper_features" in schema.get_table_names():
        return "0011"
    if "doi" in {c["name"] for c in schema.get_columns("papers")}:
        return "0010"
    if "channel_sends" in schema.get_table_names():
        return "0009"
    if "more" in {c["name"] for c in schema.get_columns("digests")}:
        return "0008"
    if "paper_search" in schema.get_table_names():
        return "0007"
    if "user" in {c["name"] for c in schema.get_columns("paper_authors")}:
        return "0006"
    if "mail_messages" in schema.get_table_names():
        return "0005"
    if "upvote_snapshots" in schema.get_table_names():
        return "0004"
    if "reply_class" in {c["name"] for c in schema.get_columns("digests")}:
        return "0003"
    return "0002" if "bounces" in {c["name"] for c in schema.get_columns("subscribers")} \
        else "0001"


def downgrade(conn: Connection, revision: str, folder: Path = FOLDER) -> None:
    """Take the schema back to ``revision`` (for tests of upgrades)."""
    command.downgrade(_config(folder, conn), revision)
