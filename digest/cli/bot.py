"""Commands of the bot: run (the daemon, or --once for cron) and status."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import click
from rich import box
from rich.table import Table

from digest import defaults
from digest.app import App
from digest.bot import Bot, plan_jobs
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
from digest.settings import refuse_clock_ahead
from digest.store import Store
from digest.store.channels import ChannelRow
from digest.vocab import ChannelState, OutboxState

PROBLEMS_SHOWN = 20  # channel messages that failed or wait, that `digest status` lists

# The outbox totals, in the order status shows them.
_STATES = (OutboxState.SENT, OutboxState.PLANNED, OutboxState.SENDING, OutboxState.RETRY,
           OutboxState.FAILED, OutboxState.SKIPPED, OutboxState.MISSED, OutboxState.RECORDED)


@click.command()
@click.option("--once", is_flag=True, help="One ingest of every source and one send pass, "
              "then exit (for cron).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="One line per job run on stderr, as text or JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Log every job run, also those that "
              "found nothing to do (the file watcher's idle tick every 10 s).")
@new_db_option()
@force_clock_option()
@settings_options
def run(once: bool, log_format: str, verbose: bool, new_db: bool, force_clock: bool,
        app: App) -> None:
    """Run the bot: ingest on schedule, send each digest at its local time.

    Sources and subscribers come from subscriptions.yaml; SIGHUP or an edit of the file
    reloads it, SIGTERM/SIGINT stop after the mails in flight. --now stops the clock at
    that moment for the whole run: use it with --once, to replay one moment.

    \b
    Examples:
        digest run
        digest run --once
        digest run --log-format json 2>> /var/log/digest.jsonl
    """
    refuse_clock_ahead(app.settings, force_clock)
    database_for_sending(app, new_db)
    if app.now_given and not once:
        click.echo(f"Warning: --now/DIGEST_NOW stops the clock at {app.now():%Y-%m-%d %H:%M} "
                   "UTC for the whole run, so no scheduled job comes due; it is for "
                   "replaying one moment with `digest run --once`", err=True)
    bot = Bot(app, log_format=log_format, watch_seconds=app.env.number("DIGEST_WATCH_SECONDS"),
              verbose=verbose)
    if not once:
        asyncio.run(bot.run_forever())
    elif not_all_sent(asyncio.run(bot.once())):
        raise click.exceptions.Exit(EXIT_NOT_ALL_SENT)


def _bot_running(watch: Any, seconds: float, moment: datetime) -> bool | None:
    """Whether a bot runs on this database, told by the file watcher's latest tick (every
    ``seconds``, its idle ticks recorded too): None when the watcher is off (no sign to go
    by)."""
    if seconds <= 0:
        return None
    if watch is None:
        return False
    return bool(moment - watch.finished_at <= timedelta(
        seconds=max(3 * seconds, defaults.BOT_SILENT_SECONDS)))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document: jobs and outbox.")
@settings_options(create=False)
def status(as_json: bool, app: App) -> None:
    """Show every job's next and last run, the outbox totals, and the team channel
    messages by state with those that failed or wait for a retry.

    --json prints {"bot": {"running", "last_seen"}, "jobs": [{"id", "next_run",
    "last_run", "last_error", "counts"}], "outbox": {state: count}, "channels": {state:
    count}, "channel_problems": [{"email", "where", "period", "state", "attempts", "status",
    "last_error"}]} (times in ISO 8601 UTC, null when there is none).

    \b
    Example:
        digest status
    """
    moment = app.now()
    store = app.store
    last = store.last_job_runs()
    running = _bot_running(last.get("watch"), app.env.number("DIGEST_WATCH_SECONDS"), moment)
    jobs = [(job.id, job.trigger.get_next_fire_time(None, moment), last.get(job.id))
            for job in plan_jobs(app.config, store.group_keys(), watch_seconds=None)]
    totals = store.outbox_counts()
    channels, problems = store.channel_counts(), _channel_problems(store)
    if as_json:
        watch = last.get("watch")
        click.echo(json.dumps({"bot": {
            "running": running, "last_seen": watch.finished_at.isoformat() if watch else None},
            "jobs": [{
            "id": job_id, "next_run": upcoming.isoformat() if upcoming else None,
            "last_run": ran.finished_at.isoformat() if ran else None,
            "last_error": ran.error if ran else None,
            "counts": dict(ran.counts) if ran else {}} for job_id, upcoming, ran in jobs],
            "outbox": {state: totals.get(state, 0) for state in _STATES},
            "channels": {state: channels.get(state, 0) for state in ChannelState},
            "channel_problems": [{
                "email": r.email, "where": r.where, "period": r.period.isoformat(),
                "state": r.state, "attempts": r.attempts, "status": r.status,
                "last_error": r.last_error} for r in problems]}))
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
    if running is False:
        watch = last.get("watch")
        seen = (f"its last sign of life was at {watch.finished_at:%Y-%m-%d %H:%M} UTC"
                if watch else "none has run on this database")
        out.print(f"No bot is running ({seen}): the times below are when each job is due; "
                  "none runs until `digest run` (or cron's `digest run --once`) does.")
    out.print(table)
    out.print("Outbox: " + ", ".join(f"{state} {totals.get(state, 0)}" for state in _STATES))
    if channels:
        out.print(channel_line(channels), markup=False)
        for r in problems:
            out.print(f"  {r.email} ({r.where}), {r.period:%Y-%m-%d %H:%M}: {r.state} after "
                      f"{r.attempts} tries: {r.last_error}", markup=False)


def _channel_problems(store: Store) -> list[ChannelRow]:
    """The channel messages that failed, were suppressed or wait for a retry: the last
    PROBLEMS_SHOWN."""
    bad = (ChannelState.FAILED, ChannelState.SUPPRESSED, ChannelState.RETRY)
    return [r for r in store.channel_sends() if r.state in bad][-PROBLEMS_SHOWN:]
