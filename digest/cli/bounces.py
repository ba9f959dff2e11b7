"""``digest bounces``: read the mails that came back (bounces, complaints, unsubscribe
requests) and act on each once."""

from __future__ import annotations

import sys

import click

from digest.app import App, check_settings
from digest.bounces.reading import ReadReport, read_source
from digest.cli.base import printable, settings_options
from digest.errors import ConfigError, StoreError
from digest.store import Store
from digest.vocab import BounceKind

# What an MTA that pipes a mail into `digest bounces -` understands (sysexits.h): try
# again later (the database is unavailable), or a local configuration error (a bad
# setting), which Postfix also defers (4.3.5) rather than bouncing the mail.
EX_TEMPFAIL = 75
EX_CONFIG = 78
# The totals line, in this order; "already": read and recorded before (nothing done).
_KINDS: dict[str, str] = {**{kind: kind for kind in BounceKind}, "already": "already read"}


@click.command()
@click.argument("source", required=False)
@click.option("--report", is_flag=True, help="List the mails kept (not acted on): sender, "
              "subject, date and why.")
@settings_options(reads_config=False, create=False, now_first=False)
def bounces(source: str | None, report: bool, app: App) -> None:
    """Read the mails that came back from SOURCE and act on each once: a hard bounce
    marks its subscriber bouncing, temporary failures in DIGEST_SOFT_BOUNCE_LIMIT (3)
    different digests do too, a spam complaint or a mail to the unsubscribe address
    unsubscribes. Anything else (auto-replies, unknown formats) is kept, untouched.

    SOURCE is a Maildir folder (mails acted on move to its .processed folder), an mbox
    file (left as it is), '-' for one mail on standard input (for an MTA's pipe: exit 75
    when the database is unavailable, 78 for a bad setting, so it retries), or
    imaps://user@host/folder
    (password in DIGEST_IMAP_PASSWORD). Set DIGEST_BOUNCE_ADDRESS when sending, so each
    bounce names its subscriber and digest.

    \b
    Examples:
        digest bounces /var/mail/bounces/Maildir
        digest bounces --report
        DIGEST_IMAP_PASSWORD=... digest bounces imaps://bounces@mail.example.org/INBOX
        # /etc/aliases: bounces: "|/srv/digest/.venv/bin/digest bounces -"
    """
    if source is None and not report:
        raise click.UsageError("give a SOURCE to read, or --report")
    try:
        check_settings(app.env)
        clock = app.now
        store = app.store
        if source is not None:
            _echo(read_source(source, store, app.tokens, clock, app.env,
                              sys.stdin.buffer if source == "-" else None))
    except (StoreError, ConfigError) as e:
        if source != "-":
            raise
        # An MTA's pipe: it keeps the mail and tries again later (Postfix defers both).
        click.echo(f"Error: {printable(str(e))}", err=True)
        raise click.exceptions.Exit(EX_TEMPFAIL if isinstance(e, StoreError) else EX_CONFIG
                                    ) from e
    if report:
        _report(store)


def _echo(done: ReadReport) -> None:
    """One line per mail acted on, then the totals."""
    for outcome in done.outcomes:
        if outcome.new and outcome.kind != BounceKind.KEPT:
            click.echo(f"{outcome.kind}: {outcome.email}: {outcome.detail}")
    total = sum(done.counts.values())
    click.echo(f"read {total} mail{'' if total == 1 else 's'}: " + (", ".join(
        f"{done.counts[k]} {label}" for k, label in _KINDS.items() if done.counts[k])
        or "none"))
    if done.counts[BounceKind.KEPT]:
        click.echo("digest bounces --report lists the mails kept")


def _report(store: Store) -> None:
    """Each kept mail on two lines (read, sender, subject, date; why), so that long
    subjects and reasons stay whole."""
    kept = store.kept_mails()
    for mail in kept:
        click.echo(f"{mail.read_at:%Y-%m-%d %H:%M}  from {mail.sender or '(no sender)'}  "
                   f"subject {mail.subject or '(none)'!r}  dated {mail.date or '(no date)'}")
        click.echo(f"    kept: {mail.detail}")
    click.echo(f"{len(kept)} mail{'' if len(kept) == 1 else 's'} kept, not acted on")
