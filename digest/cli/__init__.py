"""The ``digest`` command line: thin commands over the library.

Every command parses its options, calls the library and prints. A ``DigestError`` becomes
``Error: ...`` on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from digest import __version__, defaults
from digest.errors import DigestError
from digest.settings import Settings, check_environment, parse_now
from digest.text import one_line

F = TypeVar("F", bound=Callable[..., Any])


class _Group(click.Group):
    """A group whose commands turn DigestError into a clean ``Error: ...``, exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigestError as e:
            raise click.ClickException(_printable(str(e))) from e


def _printable(message: str) -> str:
    """An error for the terminal: one problem per line, each without the control
    characters (escapes, CR, NUL) that an input or a server's reply may carry."""
    return "\n".join(one_line(line) for line in message.split("\n"))


class _EchoHandler(logging.Handler):
    """Log lines to whatever stderr click sees now (so test runners capture them)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"digest: {self.format(record)}", err=True)


def _setup_logging(quiet: bool) -> None:
    logger = logging.getLogger("digest")
    if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
        logger.addHandler(_EchoHandler())
    logger.propagate = False
    # On a terminal the progress bar tells the story; elsewhere, one plain line per step.
    chatty = not quiet and not sys.stderr.isatty()
    logger.setLevel(logging.INFO if chatty else logging.WARNING)


def settings_options(command: F) -> F:
    """Add --db, --config and --now (and their environment variables) to a command."""
    options = [
        click.option("--db", envvar="DIGEST_DB", default=defaults.DB_URL, show_default=True,
                     metavar="URL", help="Database URL (env DIGEST_DB)."),
        click.option("--config", envvar="DIGEST_CONFIG", default=defaults.CONFIG_PATH,
                     show_default=True, type=click.Path(path_type=Path),
                     help="Subscriptions file (env DIGEST_CONFIG)."),
        click.option("--now", envvar="DIGEST_NOW", metavar="ISO-TIME",
                     help="Run as if it were this moment (env DIGEST_NOW); default: the clock."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _settings(db: str, config: Path, now: str | None) -> Settings:
    return Settings(db_url=db, config_path=config, fixed_now=parse_now(now) if now else None)


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else 160, highlight=False)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.version_option(__version__, prog_name="digest")
def cli(quiet: bool) -> None:
    """digest: follow authors and keywords, get new papers by email.

    \b
    Example:
        digest ingest seeds/
        digest papers --json
    """
    _setup_logging(quiet)
    check_environment()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="digest")


# The commands register themselves on `cli` when their modules are imported.
from digest.cli import bot, database, digests, mail, papers, subscribers  # noqa: E402, F401
