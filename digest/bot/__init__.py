"""The bot: ``digest run`` ingests on schedule and sends every digest at its local time.

Jobs come from the configuration (explicit ids, ``replace_existing``; no pickled job
store: what was sent lives in the outbox, so a restart is safe): one ingest job per
source, one digest job per send group (not per subscriber), and a watcher that reloads a
changed subscriptions.yaml (once it stops changing: never half-written; an invalid one
keeps the previous configuration) and notices when the machine slept. After every ingest,
instant subscribers get their alerts. A job that fails, in part (a file of a folder) or
whole, whatever the error, is recorded with the reason for ``digest status``; the bot
goes on. On start and on wake-up a catch-up pass sends each missed period once (within
the grace) through the same code as ``digest send``. SIGHUP reloads at once; SIGTERM and
SIGINT stop taking work, let SMTP transactions in flight finish, and exit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest import defaults
from digest.app import App
from digest.bot.triggers import Group, SlotTrigger
from digest.bounces.reading import read_source
from digest.config import Config, load_config, sync_config
from digest.deliver import Owed
from digest.deliver.transport import Transport
from digest.errors import ConfigError, DigestError
from digest.ingest.fetch import Fetcher
from digest.ingest.harvest import ingest_arxiv_oai, ingest_biorxiv
from digest.ingest.manifest import FileSettings
from digest.ingest.runner import (
    Report,
    ingest_arxiv,
    ingest_file,
    ingest_hf_day,
    plan,
    unforeseen,
)
from digest.model import Source
from digest.passes import send_pass
from digest.passes.workers import CHANNEL
from digest.settings import Settings
from digest.store import Store
from digest.vocab import Cadence, SourceKind

log = logging.getLogger("digest.bot")


@dataclass(frozen=True)
class JobPlan:
    """A job the configuration calls for: its id, trigger, and what it works on."""

    id: str
    trigger: BaseTrigger
    grace_seconds: int
    source: Source | None = None
    group: Group | None = None


def plan_jobs(config: Config, group_keys: Iterable[str],
              watch_seconds: float | None = defaults.WATCH_SECONDS, bounces: bool = False
              ) -> list[JobPlan]:
    """Every job: ingest per source of ``config``, digest per send group of the stored
    subscribers (``Store.group_keys``), the watcher, and with ``bounces`` the reading of
    DIGEST_BOUNCES_URL."""
    jobs = [JobPlan(f"ingest:{s.name}", CronTrigger.from_crontab(
        s.schedule, timezone=ZoneInfo(s.timezone)), 3600, source=s) for s in config.sources]
    # How late a job may still start; each subscriber's own grace_hours is applied when
    # planning, so this is the longest one can ask for.
    grace = 30 * 24 * 3600
    groups = {g for key in group_keys if (g := Group.from_key(key)) is not None}
    jobs += [JobPlan(g.job_id, SlotTrigger(g), grace, group=g)
             for g in sorted(groups, key=lambda g: g.job_id)]
    if watch_seconds:
        jobs.append(JobPlan("watch", IntervalTrigger(seconds=watch_seconds), 60))
    if bounces:
        jobs.append(JobPlan("bounces", IntervalTrigger(minutes=defaults.BOUNCES_MINUTES), 300))
    return jobs


class JobLog:
    """One line per job run on stderr (text or JSON), and a row for ``digest status``."""

    def __init__(self, store: Store, fmt: str, verbose: bool = False) -> None:
        self.store, self.fmt, self.verbose = store, fmt, verbose

    def run(self, job_id: str, started: datetime, finished: datetime, counts: Counter[str],
            error: str | None) -> None:
        clean = {k: v for k, v in sorted(counts.items()) if v}
        self.store.record_job_run(job_id, started, finished, clean, error)
        if error is None and not logging.getLogger("digest").isEnabledFor(logging.INFO):
            return  # -q: only what went wrong
        if error is None and not clean and not self.verbose:
            return  # nothing happened: said only with -v (the watcher idles every 10 s)
        if self.fmt == "json":
            self.line(job_id, finished, counts=clean, error=error)
        else:
            text = " ".join(f"{k}={v}" for k, v in clean.items()) or "nothing to do"
            self.line(job_id, finished, text + (f"; error: {error}" if error else ""))

    def line(self, what: str, at: datetime, text: str = "", **fields: object) -> None:
        if self.fmt == "json":
            click.echo(json.dumps({"time": at.isoformat(), "job": what, **fields,
                                   **({"message": text} if text else {})}), err=True)
        else:
            click.echo(f"{at:%Y-%m-%dT%H:%M:%SZ} {what}: {text}", err=True)


class JobFailed(DigestError):
    """A job that did part of its work: ``counts`` says what it did, ``str()`` why not all."""

    def __init__(self, reason: str, counts: Counter[str]) -> None:
        super().__init__(reason)
        self.counts = counts


class Bot:
    """The running bot, on what ``app`` holds (given ``Settings`` alone, the rest comes
    from the process's environment). A broken configuration at start raises
    ConfigError."""

    def __init__(self, app: App | Settings, log_format: str = "text",
                 watch_seconds: float | None = defaults.WATCH_SECONDS,
                 verbose: bool = False) -> None:
        self.app = app if isinstance(app, App) else App.from_settings(app)
        self.settings = settings = self.app.settings
        self.store = self.app.store
        self.config = self.app.config
        # The file as last read, and as the watcher last saw it: a change is read once the
        # file stays the same for a whole tick, not while an editor is still writing it.
        self._stamp = self._seen = _stamp(settings.config_path)
        self.mail = self.app.mail
        self.owed = Owed()  # what a pass could not record: the next one records it first
        self.transport: Transport = self.app.transport
        self.app.refuse_localhost()
        self.http = self.app.http
        self.tokens = self.app.tokens
        # Where bounces, complaints and unsubscribe requests arrive (`digest bounces`).
        self.bounces_url = self.app.env.get("DIGEST_BOUNCES_URL") or None
        self.log = JobLog(self.store, log_format, verbose)
        self.watch_seconds = watch_seconds
        self.stop = asyncio.Event()
        self.scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._sending = asyncio.Lock()
        self.last_counts: dict[str, Counter[str]] = {}  # of each job's latest run
        self._last_watch: datetime | None = None
        # Who holds a job's lease: this process, on this machine.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        sync_config(self.store, self.config, self.now())
        self._members = self.store.subscribers_stamp()

    def now(self) -> datetime:
        return self.settings.now()

    # ---- what the jobs do -----------------------------------------------------------

    async def ingest(self, source: Source) -> Counter[str]:
        """Read one source (a path only when it changed), then send instant alerts.

        Raises JobFailed, after the alerts, when a file or response could not be read."""
        reports = await asyncio.to_thread(self._ingest, source)
        counts: Counter[str] = Counter()
        for r in reports:
            counts.update(read=r.read, new=r.new, merged=r.merged, errors=int(bool(r.error)))
        if counts["new"] or counts["merged"]:
            counts.update(await self.send([Cadence.INSTANT]))
        failed = [r.error for r in reports if r.error]
        if failed:
            more = f" (and {len(failed) - 1} more; digest ingest shows each)" \
                if len(failed) > 1 else ""
            raise JobFailed(f"{len(failed)} of {len(reports)} sources failed: {failed[0]}"
                            f"{more}", counts)
        return counts

    def _ingest(self, source: Source) -> list[Report]:
        now = self.now()
        if source.kind == SourceKind.PATH:
            key, stamp = f"source:{source.name}", _fingerprint(Path(source.target))
            if self.store.meta(key) == stamp:
                return []
            jobs, failures = plan([Path(source.target)], FileSettings())
            reports = failures + [ingest_file(self.store, job, now) for job in jobs]
            self.store.set_meta(key, stamp)
            return reports
        with Fetcher(self.http) as fetcher:
            if source.kind == SourceKind.ARXIV:
                return [ingest_arxiv(self.store, fetcher, source.target, now)]
            if source.kind == SourceKind.ARXIV_OAI:
                return ingest_arxiv_oai(self.store, fetcher, source.target, now,
                                        days=source.days)
            if source.kind == SourceKind.BIORXIV:
                return ingest_biorxiv(self.store, fetcher, source.target, now,
                                      days=source.days)
            day = now.astimezone(ZoneInfo(source.timezone)).date()
            return ingest_hf_day(self.store, fetcher, day, now)

    async def send(self, groups: list[str] | None) -> Counter[str]:
        """Plan what is due for these send groups (None: everyone), then deliver
        everything due."""
        async with self._sending:  # one pass at a time in this bot: they share the outbox
            report = await send_pass(self.store, self.transport, self.mail, self.tokens,
                                     self.now, groups=groups, stop=self.stop,
                                     owed=self.owed, http=self.http)
        if report.error:
            raise DigestError(report.error)
        return report.counts + Counter({CHANNEL + state: n
                                        for state, n in report.channels.items()})

    async def read_bounces(self) -> Counter[str]:
        """Read DIGEST_BOUNCES_URL and act on each mail once (``digest bounces``)."""
        assert self.bounces_url is not None
        report = await asyncio.to_thread(read_source, self.bounces_url, self.store,
                                         self.tokens, self.now, self.app.env)
        return report.counts

    async def send_group(self, group: Group) -> Counter[str]:
        return await self.send([group.key])

    async def catch_up(self) -> Counter[str]:
        """Send every subscriber's latest missed period (and pending retries) once."""
        return await self.send(None)

    async def once(self) -> Counter[str]:
        """One ingest of every source, then one send pass: for cron and the README.

        Every job runs whatever the others did; raises DigestError after them all when
        one failed. Returns what the send pass did."""
        jobs: list[tuple[str, Callable[[], Awaitable[Counter[str]]]]] = [
            (f"ingest:{s.name}", partial(self.ingest, s)) for s in self.config.sources]
        if self.bounces_url:  # before the send: a complaint stops the next digest
            jobs.append(("bounces", self.read_bounces))
        errors = [await self.run_job(job_id, work)
                  for job_id, work in (*jobs, ("send", self.catch_up))]
        failed = sum(e is not None for e in errors)
        if failed:
            raise DigestError(f"{failed} of {len(errors)} jobs failed; the lines above and "
                              "digest status say why")
        return self.last_counts.get("send", Counter())

    async def watch(self) -> Counter[str]:
        """Reload a changed configuration once it stopped changing (unchanged since the
        last tick: not half-written); after a sleep or a stall, catch up."""
        now, last = self.now(), self._last_watch
        self._last_watch = now
        stamp, seen = _stamp(self.settings.config_path), self._seen
        self._seen = stamp
        if stamp != self._stamp:
            if stamp == seen:
                self.reload()
        elif self.store.subscribers_stamp() != self._members:  # joined or changed online
            self._members = self.store.subscribers_stamp()
            if self.scheduler is not None:
                self.install(self.scheduler)
        interval = timedelta(seconds=self.watch_seconds or 0)
        if last is not None and now - last > 2 * interval + timedelta(minutes=1):
            self.log.line("wake-up", now, f"the clock jumped {now - last}; catching up")
            return await self.catch_up()
        return Counter()

    # ---- running ------------------------------------------------------------------

    async def run_job(self, job_id: str, work: Callable[[], Awaitable[Counter[str]]]
                      ) -> str | None:
        """Run one job, log and record it, and keep running whatever it raised.

        Returns why it failed, or None."""
        if self.stop.is_set():
            return None
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        started, error, counts = self.now(), None, Counter[str]()
        try:
            counts = await (work() if job_id == "watch" else self._leased(job_id, work))
        except JobFailed as e:
            counts, error = e.counts, str(e)
        except DigestError as e:
            error = str(e)
        except Exception as e:  # a bug: recorded like any failure, the bot goes on
            log.debug("job %s failed", job_id, exc_info=e)  # the traceback, for a bug report
            error = f"unexpected {unforeseen(e)}"
        finally:
            if task is not None:
                self._running.discard(task)
        self.log.run(job_id, started, self.now(), counts, error)
        self.last_counts[job_id] = counts
        return error

    async def _leased(self, job_id: str, work: Callable[[], Awaitable[Counter[str]]]
                      ) -> Counter[str]:
        """Run a job while holding its lease, so that of several bots on one database
        one at a time runs it: the others wait for it to finish (then run it too, which
        finds the work done), or for the lease to run out if its holder died."""
        name, ttl = f"job:{job_id}", timedelta(seconds=defaults.JOB_LEASE_SECONDS)
        waited = time.monotonic()
        while not await asyncio.to_thread(self.store.take_lease, name, self.holder,
                                          self.now(), ttl):
            if self.stop.is_set() or time.monotonic() - waited > ttl.total_seconds():
                break
            await asyncio.sleep(1)
        renew = asyncio.create_task(self._renew(name, ttl))
        try:
            return await work()
        finally:
            renew.cancel()
            await asyncio.to_thread(self.store.drop_lease, name, self.holder)

    async def _renew(self, name: str, ttl: timedelta) -> None:
        while True:
            await asyncio.sleep(ttl.total_seconds() / 3)
            await asyncio.to_thread(self.store.take_lease, name, self.holder, self.now(), ttl)

    def install(self, scheduler: AsyncIOScheduler) -> None:
        """(Re)create the jobs of the current configuration; drop jobs it no longer has."""
        wanted = plan_jobs(self.config, self.store.group_keys(), self.watch_seconds,
                           bounces=self.bounces_url is not None)
        for job in wanted:
            scheduler.add_job(self.run_job, job.trigger, args=[job.id, self._work(job)],
                              id=job.id, name=job.id, replace_existing=True, coalesce=True,
                              max_instances=1, misfire_grace_time=job.grace_seconds)
        ids = {job.id for job in wanted}
        for job in scheduler.get_jobs():
            if job.id not in ids:
                job.remove()

    def _work(self, job: JobPlan) -> Callable[[], Awaitable[Counter[str]]]:
        if job.source is not None:
            return partial(self.ingest, job.source)
        if job.group is not None:
            return partial(self.send_group, job.group)
        if job.id == "bounces":
            return self.read_bounces
        return self.watch

    def reload(self) -> None:
        """Load subscriptions.yaml again; keep the old one (and say why) if it cannot be
        read, whatever the reason."""
        self._stamp = self._seen = _stamp(self.settings.config_path)
        try:
            config = load_config(self.settings.config_path)
        except Exception as e:  # a file no check foresaw must not stop the bot either
            log.debug("reload failed", exc_info=e)
            why = str(e) if isinstance(e, ConfigError) else f"unexpected {unforeseen(e)}"
            self.log.line("reload", self.now(), "configuration not reloaded, keeping the "
                          f"previous one: {why}")
            return
        self.config = config
        sync_config(self.store, config, self.now())
        self._members = self.store.subscribers_stamp()
        if self.scheduler is not None:
            self.install(self.scheduler)
        members = [m.subscriber for m in self.store.members()]
        self.log.line("reload", self.now(), f"configuration reloaded: {config.summary(members)}")

    def start(self) -> AsyncIOScheduler:
        """Start the scheduler on the running loop, with this configuration's jobs."""
        self.scheduler = AsyncIOScheduler(timezone=UTC, event_loop=asyncio.get_running_loop())
        self.install(self.scheduler)
        self.scheduler.start()
        return self.scheduler

    async def finish(self) -> None:
        """Stop taking work and wait for the jobs in flight (their SMTP transactions)."""
        self.stop.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await asyncio.gather(*self._running, return_exceptions=True)

    async def run_forever(self) -> None:
        """Run until SIGTERM or SIGINT; SIGHUP reloads the configuration."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        scheduler = self.start()
        members = [m.subscriber for m in self.store.members()]
        self.log.line("start", self.now(), f"{len(scheduler.get_jobs())} jobs; "
                      f"{self.config.summary(members)}; mail to {self.transport.description}")
        await self.run_job("catch-up", self.catch_up)
        await self.stop.wait()
        await self.finish()
        self.log.line("stop", self.now(), "stopped cleanly")


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


def _fingerprint(path: Path) -> str:
    """Changes when any file under ``path`` is added, removed, resized or touched."""
    files = sorted(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
    return json.dumps([[str(p), p.stat().st_mtime_ns, p.stat().st_size] for p in files])
