"""``digest db``: the database's schema revision, and upgrading it."""

from __future__ import annotations

import click

from digest.app import App
from digest.cli.base import settings_options


@click.group("db")
def db_group() -> None:
    """The database's schema: which revision it is at, and upgrading it.

    Every other command refuses a database whose schema is behind (or ahead of) this
    digest; an empty database is created at the newest revision on first use.

    \b
    Examples:
        digest db current
        digest db upgrade
    """


@db_group.command()
@settings_options(reads_config=False, create=False, check=False)
def current(app: App) -> None:
    """Show the database's schema revision and the newest this digest knows.

    \b
    Example:
        digest db current --db sqlite:///digest.db
    """
    at, head = app.store.revision()
    state = "current" if at == head else "behind: run digest db upgrade" if at is None or \
        at < head else "ahead: made by a newer digest"
    click.echo(f"{at or 'none (from before revisions)'} ({state}; newest known: {head})")


@db_group.command()
@settings_options(reads_config=False, check=False)
def upgrade(app: App) -> None:
    """Apply the schema revisions the database lacks, in one transaction (back it up
    first); a database at the newest revision is left alone, and one that does not exist
    yet is created at it (so a service may run this before it starts).

    \b
    Example:
        cp digest.db digest.db.bak && digest db upgrade
    """
    before, after = app.store.upgrade()  # first use creates it
    if before == after:
        click.echo(f"at {after}, the newest revision")
    else:
        click.echo(f"upgraded from {before or 'before revisions'} to {after}")
