"""Commands of the bot: run (the daemon, or --once for cron) and status."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click
from rich import box
from rich.table import Table

from digest.bot import Bot, plan_jobs
from digest.cli import _console, _settings, cli, settings_options
from digest.config import load_config
from digest.settings import number_setting
from digest.store import Store


@cli.command()
@click.option("--once", is_flag=True, help="One ingest of every source and one send pass, "
              "then exit (for cron).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="One line per job run on stderr, as text or JSON.")
@settings_options
def run(once: bool, log_format: str, db: str, config: Path, now: str | None) -> None:
    """Run the bot: ingest on schedule, send each digest at its local time.

    Sources and subscribers come from subscriptions.yaml; SIGHUP or an edit of the file
    reloads it, SIGTERM/SIGINT stop after the mails in flight.

    \b
    Examples:
        digest run
        digest run --once
        digest run --log-format json 2>> /var/log/digest.jsonl
    """
    watch = number_setting(os.environ, "DIGEST_WATCH_SECONDS")
    bot = Bot(_settings(db, config, now), log_format=log_format, watch_seconds=watch)
    asyncio.run(bot.once() if once else bot.run_forever())


@cli.command()
@settings_options
def status(db: str, config: Path, now: str | None) -> None:
    """Show every job's next and last run, and the outbox totals.

    \b
    Example:
        digest status
    """
    settings = _settings(db, config, now)
    store = Store(settings.db_url, create=False)
    last = store.last_job_runs()
    moment = settings.now()
    table = Table(box=box.SIMPLE_HEAD)
    for name in ("Job", "Next run (UTC)", "Last run (UTC)", "Result"):
        table.add_column(name)
    for job in plan_jobs(load_config(settings.config_path), store.group_keys(),
                         watch_seconds=None):
        upcoming = job.trigger.get_next_fire_time(None, moment)
        ran = last.get(job.id)
        result = "" if ran is None else (f"error: {ran.error}" if ran.error else " ".join(
            f"{k}={v}" for k, v in ran.counts.items()) or "nothing to do")
        table.add_row(job.id, f"{upcoming:%Y-%m-%d %H:%M}" if upcoming else "-",
                      f"{ran.finished_at:%Y-%m-%d %H:%M}" if ran else "never", result)
    console = _console()
    console.print(table)
    totals = store.outbox_counts()
    console.print("Outbox: " + ", ".join(f"{state} {totals.get(state, 0)}" for state in (
        "sent", "planned", "sending", "retry", "failed", "skipped", "missed")))
