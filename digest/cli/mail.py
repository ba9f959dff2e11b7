"""Commands that deliver: send, test-mail, serve, subscribers, resubscribe."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.utils import make_msgid

import click
from rich import box
from rich.progress import Progress
from rich.table import Table

from digest import defaults
from digest.app import App
from digest.cli.base import (
    EXIT_NOT_ALL_SENT,
    channel_line,
    console,
    database_for_sending,
    force_clock_option,
    new_db_option,
    not_all_sent,
    settings_options,
)
from digest.cli.subscribers import suppressed_line
from digest.deliver import MailSettings, PassReport
from digest.deliver.message import build_message
from digest.deliver.transport import Message, Transport
from digest.errors import DigestError, UnknownSubscriber
from digest.model import TRENDING, Digest, Item, Paper, Rendered, Section, Subscriber
from digest.passes import send_pass
from digest.passes.workers import CHANNEL, send_in_processes, work, worker_count
from digest.plan import plan_due
from digest.render import Renderer, render_digest
from digest.settings import refuse_clock_ahead
from digest.vocab import Cadence, OutboxState, SectionName

# The summary's columns; "already": planned by an earlier pass.
_COLUMNS = ((OutboxState.PLANNED, "Planned"), (OutboxState.SENT, "Sent"),
            (OutboxState.SKIPPED, "Skipped (empty)"), (OutboxState.RETRY, "Retry later"),
            (OutboxState.FAILED, "Failed"), ("already", "Already planned"),
            (OutboxState.MISSED, "Missed"), (OutboxState.RECORDED, "Recorded (feed-only)"))


@click.command()
@click.option("--dry-run", is_flag=True, help="Plan and render, but send and record nothing "
              "(with the history as it was at --now).")
@click.option("--only", metavar="EMAIL", help="Only this subscriber.")
@click.option("--workers", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default="the number of cores",
              help="Processes that share the pass (fewer for a small one).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the summary as one JSON object (counts, seconds per stage).")
@new_db_option()
@force_clock_option()
@settings_options
def send(dry_run: bool, only: str | None, workers: int, as_json: bool, new_db: bool,
         force_clock: bool, app: App) -> None:
    """Plan every digest that is due and deliver it, each exactly once.

    Mail goes through DIGEST_SMTP_URL (smtp://user@host:587, smtps://user@host:465),
    else into the Maildir DIGEST_MAILDIR (./outbox). Running it again at the same --now
    sends nothing new, nor does running it at an earlier --now: a paper sent once is
    never sent again (a dry run, which records nothing, sees the history as of --now).
    A large pass runs in several processes (--workers, one per core by default, at most
    one per 1,000 subscribers) that plan a share each and then deliver from the one
    outbox.

    \b
    Examples:
        digest send
        digest send --dry-run
        DIGEST_SMTP_URL=smtp://me@mail.example.org:587 DIGEST_SMTP_PASSWORD=... digest send
    """
    if not dry_run:
        refuse_clock_ahead(app.settings, force_clock)
        database_for_sending(app, new_db)
    loaded, store, mail, transport = app.config, app.store, app.mail, app.transport
    if not dry_run:
        app.refuse_localhost()
    app.synced()
    if only and store.record(email=only) is None:
        raise UnknownSubscriber(f"no subscriber {only} in {loaded.path} or the database; "
                                "digest subscribers lists everyone")
    if dry_run:
        _summary(_dry_run(app, only), f"dry run: nothing sent; mail would go to "
                 f"{transport.description}", as_json, {})
        return
    processes = 1 if only else worker_count(workers, store)
    report = _deliver(app, only, processes)
    _summary(report.counts, f"mail went to {transport.description}", as_json,
             report.seconds, processes, report.error, report.bouncing, store.suppressed(),
             report.channels)
    if report.bouncing and not as_json:
        click.echo(f"Marked bouncing (refused {mail.bounce_limit} times in a row, skipped "
                   f"until `digest subscribers reset`): {', '.join(report.bouncing)}")
    if report.error:
        raise DigestError(report.error)
    if not_all_sent(report.counts) or not_all_sent(report.channels):
        raise click.exceptions.Exit(EXIT_NOT_ALL_SENT)


def _dry_run(app: App, only: str | None) -> Counter[str]:
    """Plan and render what a pass would send, recording nothing."""
    mail = app.mail
    plans, counts = plan_due(app.store, app.now(), only=only, record=False)
    renderer = Renderer(mail.envelope.list_name, images=mail.images)  # one per pass
    for p in plans:  # rendering is part of the check
        renderer.render(p.digest, mail.placeholders(p.digest.subscriber), p.kind)
    return counts


def _deliver(app: App, only: str | None, processes: int) -> PassReport:
    """One pass, in ``processes`` processes, or in this one with a progress bar."""
    if processes > 1:
        return send_in_processes(app, processes)
    with _progress() as progress:
        return asyncio.run(send_pass(app.store, app.transport, app.mail, app.tokens, app.now,
                                     only=only, progress=progress, http=app.http))


@click.command()
@click.option("--once", is_flag=True, help="Exit when the outbox has nothing left to send.")
@click.option("--poll", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="Seconds between looks at the outbox when it is empty.")
@force_clock_option()
@settings_options(reads_config=False)
def worker(once: bool, poll: float, force_clock: bool, app: App) -> None:
    """Deliver what the outbox holds, beside other workers and bots on the same database.

    Planning is left to `digest send` or `digest run`; any number of workers, on any
    number of machines that share one PostgreSQL database, take batches of due digests
    (each exactly once) until SIGTERM, finishing the mail in flight. A worker that dies
    leaves its claimed digests to the others once the lease (DIGEST_LEASE_SECONDS,
    default 600) runs out. --config is not read.

    \b
    Example:
        DIGEST_DB=postgresql://digest@db/digest DIGEST_SMTP_URL=smtp://mx:25 digest worker
    """
    refuse_clock_ahead(app.settings, force_clock)
    counts = asyncio.run(work(app, once, poll))
    _print_counts(counts, "worker stopped")
    channels = {key.removeprefix(CHANNEL): n for key, n in counts.items()
                if key.startswith(CHANNEL)}
    if channels:
        click.echo(channel_line(channels))


def _summary(counts: Counter[str], where: str, as_json: bool, seconds: dict[str, float],
             processes: int = 1, error: str | None = None,
             bouncing: list[str] | None = None,
             suppressed: dict[str, int] | None = None,
             channels: Counter[str] | None = None) -> None:
    if not as_json:
        _print_counts(counts, where)
        if suppressed and sum(suppressed.values()):
            click.echo(suppressed_line(suppressed) + ", skipped")
        if channels:
            click.echo(channel_line(channels))
        return
    click.echo(json.dumps({"counts": {key: counts.get(key, 0) for key, _ in _COLUMNS},
                           "seconds": {k: round(v, 3) for k, v in seconds.items()},
                           "workers": processes, "where": where, "error": error,
                           "bouncing": bouncing or [], "suppressed": suppressed or {},
                           "channels": dict(channels or {})}))


@contextmanager
def _progress() -> Iterator[Callable[[int], None]]:
    """A callback that drives a progress bar on a terminal: n > 0 sets the total, -1 steps."""
    err = console(stderr=True)
    if not err.is_terminal:
        yield lambda n: None
        return
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("Sending", total=None)

        def advance(n: int) -> None:
            if n > 0:
                bar.update(task, total=n)
            else:
                bar.advance(task)

        yield advance


def _print_counts(counts: Counter[str], where: str) -> None:
    table = Table(box=box.SIMPLE_HEAD)
    for _, label in _COLUMNS:
        table.add_column(label, justify="right")
    table.add_row(*(str(counts.get(key, 0)) for key, _ in _COLUMNS))
    out = console()
    out.print(table)
    out.print(where)


@click.command("test-mail")
@click.argument("email")
@settings_options(reads_config=False)
def test_mail(email: str, app: App) -> None:
    """Send a sample digest to EMAIL now, to check the mail set-up in one command.

    It holds the newest stored papers (or a made-up one) and is not recorded anywhere.

    \b
    Example:
        DIGEST_SMTP_URL=smtp://me@mail.example.org:587 digest test-mail me@example.org
    """
    store, mail, transport = app.store, app.mail, app.transport
    moment = app.now()
    message = _sample_mail(store.newest_papers(_SAMPLE), mail, email, moment)
    asyncio.run(_send_one(transport, message, mail.envelope.sender.addr_spec, email))
    click.echo(f"Sent a sample digest to {email} through {transport.description}")


_SAMPLE = 5  # papers in a test mail


def _sample_mail(papers: list[Paper], mail: MailSettings, email: str, moment: datetime
                 ) -> bytes:
    """A digest of ``papers`` (the newest stored; or a made-up one) to ``email``, signed."""
    sample = papers or [Paper(title="A sample paper from digest", first_seen=moment,
                              abstract="If you can read this, your mail set-up works.")]
    items = tuple(Item(p, (TRENDING,)) for p in sample)
    digest = Digest(Subscriber(email, name="", cadence=Cadence.DAILY),
                    moment - timedelta(days=1), moment, (Section(SectionName.TRENDING, items),))
    links = mail.placeholders(digest.subscriber)
    rendered = render_digest(digest, links, mail.envelope.list_name, images=mail.images)
    return mail.signed(build_message(
        Rendered("Test mail: " + rendered.subject, rendered.text, rendered.html),
        envelope=mail.envelope, to_name="", to_email=email, date=moment,
        unsubscribe_url=links.unsubscribe,
        message_id=make_msgid("digest-test", domain=mail.envelope.domain)))


async def _send_one(transport: Transport, message: Message, sender: str, to: str) -> None:
    connection = transport.connection()
    try:
        await connection.send(message, sender, to)
    finally:
        await connection.close()


_SERVE_HELP = f"""Serve the subscriber's pages: subscribe, confirm, preferences, unsubscribe,
and the follow/unfollow/mute links of the mails (put it behind DIGEST_BASE_URL); and the
public Daily Papers page: /papers (each day, week and month of stored papers, ranked as
the digest ranks trending papers, with search), /papers/ARXIV_ID and /papers.atom.

It is bounded on its own, with no proxy in front: a request's headers must arrive within
DIGEST_SERVE_HEADER_SECONDS (default {defaults.SERVE_HEADER_SECONDS:g}) of the connection or
of the last response and hold at most {defaults.SERVE_MAX_HEADER_BYTES // 1024} kB; an idle
kept-alive connection closes after {defaults.SERVE_KEEP_ALIVE_SECONDS} s; a body may hold
{defaults.SERVE_MAX_BODY_BYTES // 1024} kB (413 beyond) and must arrive within
{defaults.SERVE_BODY_SECONDS:g} s (408); a form holds at most 30 fields, empty ones counted
(400 beyond); past {defaults.SERVE_MAX_CONNECTIONS} connections at once, requests get 503.

\b
Example:
    DIGEST_BASE_URL=https://digest.example.org digest serve --port 8000
"""


@click.command(help=_SERVE_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@settings_options
def serve(host: str, port: int, app: App) -> None:
    """The subscriber's pages over HTTP (the help is _SERVE_HELP: it quotes the bounds)."""
    import uvicorn

    from digest.web import access_log_config, create_app
    from digest.web.limits import uvicorn_options

    store, mail = app.store, app.mail
    app.synced_if_any()  # the file's defaults apply to those who subscribe here
    pages = create_app(store, app.tokens, app.now, mail, app.transport)
    header_seconds = app.env.number("DIGEST_SERVE_HEADER_SECONDS")
    uvicorn.run(pages, host=host, port=port, log_level="info", log_config=access_log_config(),
                **uvicorn_options(header_seconds))


@click.command()
@click.argument("email")
@settings_options(reads_config=False, create=False)
def unsubscribe(email: str, app: App) -> None:
    """Unsubscribe EMAIL by hand (say, after a mail to the List-Unsubscribe address).

    \b
    Example:
        digest unsubscribe ada@example.org
    """
    if not app.store.set_unsubscribed(email, app.now()):
        raise UnknownSubscriber(f"no subscriber {email} in the database; digest subscribers "
                                "lists everyone")
    click.echo(f"{email} is unsubscribed; digest resubscribe undoes it")


@click.command()
@click.argument("email")
@settings_options(reads_config=False, create=False)
def resubscribe(email: str, app: App) -> None:
    """Undo an unsubscribe: EMAIL gets digests again (if subscriptions.yaml lists it).

    \b
    Example:
        digest resubscribe ada@example.org
    """
    if not app.store.set_unsubscribed(email, None):
        raise UnknownSubscriber(f"no subscriber {email} in the database; digest subscribers "
                                "lists everyone")
    click.echo(f"{email} is subscribed again")
