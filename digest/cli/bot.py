"""Commands of the bot: run (the daemon, or --once for cron) and status."""

from __future__ import annotations

import asyncio
import json

import click
from rich import box
from rich.table import Table

from digest.app import App
from digest.bot import Bot, plan_jobs
from digest.cli.base import (
    EXIT_NOT_ALL_SENT,
    console,
    force_clock_option,
    not_all_sent,
    settings_options,
)
from digest.settings import refuse_clock_ahead
from digest.vocab import OutboxState

# The outbox totals, in the order status shows them.
_STATES = (OutboxState.SENT, OutboxState.PLANNED, OutboxState.SENDING, OutboxState.RETRY,
           OutboxState.FAILED, OutboxState.SKIPPED, OutboxState.MISSED, OutboxState.RECORDED)


@click.command()
@click.option("--once", is_flag=True, help="One ingest of every source and one send pass, "
              "then exit (for cron).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="One line per job run on stderr, as text or JSON.")
@force_clock_option()
@settings_options
def run(once: bool, log_format: str, force_clock: bool, app: App) -> None:
    """Run the bot: ingest on schedule, send each digest at its local time.

    Sources and subscribers come from subscriptions.yaml; SIGHUP or an edit of the file
    reloads it, SIGTERM/SIGINT stop after the mails in flight.

    \b
    Examples:
        digest run
        digest run --once
        digest run --log-format json 2>> /var/log/digest.jsonl
    """
    refuse_clock_ahead(app.settings, force_clock)
    bot = Bot(app, log_format=log_format, watch_seconds=app.env.number("DIGEST_WATCH_SECONDS"))
    if not once:
        asyncio.run(bot.run_forever())
    elif not_all_sent(asyncio.run(bot.once())):
        raise click.exceptions.Exit(EXIT_NOT_ALL_SENT)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document: jobs and outbox.")
@settings_options(create=False)
def status(as_json: bool, app: App) -> None:
    """Show every job's next and last run, and the outbox totals.

    --json prints {"jobs": [{"id", "next_run", "last_run", "last_error", "counts"}],
    "outbox": {state: count}} (times in ISO 8601 UTC, null when there is none).

    \b
    Example:
        digest status
    """
    moment = app.now()
    store = app.store
    last = store.last_job_runs()
    jobs = [(job.id, job.trigger.get_next_fire_time(None, moment), last.get(job.id))
            for job in plan_jobs(app.config, store.group_keys(), watch_seconds=None)]
    totals = store.outbox_counts()
    if as_json:
        click.echo(json.dumps({"jobs": [{
            "id": job_id, "next_run": upcoming.isoformat() if upcoming else None,
            "last_run": ran.finished_at.isoformat() if ran else None,
            "last_error": ran.error if ran else None,
            "counts": dict(ran.counts) if ran else {}} for job_id, upcoming, ran in jobs],
            "outbox": {state: totals.get(state, 0) for state in _STATES}}))
        return
    table = Table(box=box.SIMPLE_HEAD)
    for name in ("Job", "Next run (UTC)", "Last run (UTC)", "Result"):
        table.add_column(name)
    for job_id, upcoming, ran in jobs:
        result = "" if ran is None else (f"error: {ran.error}" if ran.error else " ".join(
            f"{k}={v}" for k, v in ran.counts.items()) or "nothing to do")
        table.add_row(job_id, f"{upcoming:%Y-%m-%d %H:%M}" if upcoming else "-",
                      f"{ran.finished_at:%Y-%m-%d %H:%M}" if ran else "never", result)
    out = console()
    out.print(table)
    out.print("Outbox: " + ", ".join(f"{state} {totals.get(state, 0)}" for state in _STATES))
