"""The ``digest`` group and what its commands share: the options every command takes,
the ``App`` they are handed, the error handling and the console.

The command modules import this one; ``digest.cli`` imports them and registers their
commands on the group, so imports point one way. A ``DigestError`` becomes ``Error: ...``
on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, TypeVar, overload

import click
from click.core import ParameterSource
from rich.console import Console

from digest import __version__, defaults
from digest.app import App, check_settings
from digest.errors import DigestError
from digest.passes.workers import CHANNEL
from digest.settings import Environment, parse_day
from digest.text import one_line
from digest.vocab import ChannelState, OutboxState

F = TypeVar("F", bound=Callable[..., Any])
# Exit code of a send (or run --once) that finished, but not every digest went out.
EXIT_NOT_ALL_SENT = 3


def channel_line(counts: Mapping[str, int]) -> str:
    """``Channels: sent 3, retry 1, suppressed 1`` (the states there are, in order)."""
    return "Channels: " + ", ".join(f"{state} {counts[state]}" for state in ChannelState
                                    if counts.get(state))


def not_all_sent(counts: Mapping[str, int]) -> bool:
    """Whether a pass left digests, or their team channels' messages (counted under
    ``CHANNEL``), failed or waiting for a retry."""
    return any(counts.get(f"{prefix}{state}") for prefix in ("", CHANNEL)
               for state in (OutboxState.FAILED, OutboxState.RETRY))


class _Group(click.Group):
    """A group whose commands turn DigestError into a clean ``Error: ...``, exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigestError as e:
            raise click.ClickException(printable(str(e))) from e


def printable(message: str) -> str:
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


def _db_option(**extra: Any) -> Callable[[F], F]:
    return click.option("--db", metavar="URL", help="Database URL (env DIGEST_DB; default "
                        f"{defaults.DB_URL}).", **extra)


def _config_option(**extra: Any) -> Callable[[F], F]:
    return click.option("--config", type=click.Path(path_type=Path), help="Subscriptions "
                        f"file (env DIGEST_CONFIG; default {defaults.CONFIG_PATH}).", **extra)


def _now_option(**extra: Any) -> Callable[[F], F]:
    return click.option("--now", metavar="ISO-TIME", help="Run as if it were this moment "
                        "(env DIGEST_NOW); default: the clock.", **extra)


def force_clock_option() -> Callable[[F], F]:
    """--force-clock, for the commands that refuse a --now far ahead of the clock."""
    return click.option("--force-clock", is_flag=True, help="Run even at a --now/DIGEST_NOW "
                        f"more than {defaults.CLOCK_AHEAD_MINUTES} minutes ahead of this "
                        "machine's clock (refused otherwise: such a pass records periods "
                        "that no pass plans again before then).")


def new_db_option() -> Callable[[F], F]:
    """--new-db, for the commands that send: go on where a new database would be made
    while one sits beside the subscriptions file (``App.refuse_new_database``)."""
    return click.option("--new-db", is_flag=True, help="Start a new database even though "
                        "one sits beside the subscriptions file (refused otherwise: its "
                        "subscribers would all be mailed again).")


class Day(click.ParamType[date]):
    """A day written YYYY-MM-DD, within the years digest handles."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> date:
        if isinstance(value, date):
            return value
        try:
            return parse_day(str(value), "day")
        except DigestError as e:
            self.fail(str(e), param, ctx)


_QUIET = "digest.quiet"  # the context's meta key of -q


def _quiet_option() -> Callable[[F], F]:
    return click.option("-q", "--quiet", is_flag=True,
                        help="Only warnings and errors on stderr.")


@overload
def settings_options(command: F) -> F: ...


@overload
def settings_options(*, reads_config: bool = True, create: bool = True, check: bool = True,
                     now_first: bool = True) -> Callable[[F], F]: ...


def settings_options(command: F | None = None, *, reads_config: bool = True,
                     create: bool = True, check: bool = True, now_first: bool = True
                     ) -> F | Callable[[F], F]:
    """Add --db, --config (when the command reads the subscriptions file), --now and -q
    to a command, and hand it the ``App`` they make as ``app``. Each may come before the
    command name too (``digest --db URL papers``); after it, it wins. The environment
    variables and defaults are the main command's. A command that does not read the
    subscriptions file refuses --config. ``create`` and ``check``: how the command opens
    the database (``App``). ``now_first``: a bad --now stops the command before it
    starts; without it, when the command first reads the clock (after its own checks)."""
    def wrap(f: F) -> F:
        @functools.wraps(f)
        def run(*args: Any, db: str | None = None, config: Path | None = None,
                now: str | None = None, quiet: bool = False, **kwargs: Any) -> Any:
            ctx = click.get_current_context()
            root = ctx.find_root()
            if quiet:
                _setup_logging(True)
            ctx.meta[_QUIET] = quiet or bool(root.params.get("quiet"))
            if not reads_config and root.get_parameter_source("config") in (
                    ParameterSource.COMMANDLINE, ParameterSource.PROMPT):
                raise click.UsageError(f"{ctx.command_path} does not read the subscriptions "
                                       "file; leave out --config")
            env = root.obj if isinstance(root.obj, Environment) else Environment.read()
            app = App(db or root.params["db"], config or root.params["config"],
                      now or root.params["now"], env, create=create, check=check)
            if now_first and ctx.invoked_subcommand is None:  # else its command does
                app.now()
            return f(*args, app=app, **kwargs)

        options = [_db_option(), *([_config_option()] if reads_config else []),
                   _now_option(), _quiet_option()]
        wrapped: Any = run
        for option in reversed(options):
            wrapped = option(wrapped)
        return wrapped  # type: ignore[no-any-return]

    return wrap(command) if command is not None else wrap


def quiet() -> bool:
    """Whether -q was given, before or after the command's name: the command then prints
    only warnings and errors, no table or summary."""
    return bool(click.get_current_context().meta.get(_QUIET))


def database_for_sending(app: App, new_db: bool) -> None:
    """Before a send: refuse to make a new database where one beside the subscriptions
    file holds what its subscribers were sent (``--new-db`` goes ahead), and say when a
    new one is made, and where."""
    app.refuse_new_database(new_db)
    app.config  # noqa: B018  (a broken subscriptions file stops the send before a database is made)
    if (path := app.database_to_create()) and not quiet():
        click.echo(f"digest: no database at {path} yet; creating it", err=True)


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else 160, highlight=False)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@_db_option(envvar="DIGEST_DB", default=defaults.DB_URL)
@_config_option(envvar="DIGEST_CONFIG", default=defaults.CONFIG_PATH)
@_now_option(envvar="DIGEST_NOW")
@_quiet_option()
@click.version_option(__version__, prog_name="digest")
def cli(db: str, config: Path, now: str | None, quiet: bool) -> None:
    """digest: follow authors and keywords, get new papers by email.

    --db, --config, --now and -q go before or after the command's name.

    \b
    Exit codes: 0 done; 1 failed (Error: says why); 2 a usage mistake; 3 done, but some
    digests failed or wait for a retry (send, run --once).

    \b
    Examples:
        digest ingest seeds/
        digest --db sqlite:///lab.db papers --json
    """
    _setup_logging(quiet)
    ctx = click.get_current_context()
    ctx.obj = Environment.read()  # the settings, read once for the whole run
    if ctx.invoked_subcommand != "bounces":
        check_settings(ctx.obj)  # `digest bounces` checks them itself, to answer an MTA's pipe
