"""The bot's schedule, driven through the real AsyncIOScheduler with a controlled clock
(time-machine): each case asserts exactly which mails a real SMTP server received, when.

Subscribers ask for "nothing new" mails, so every scheduled digest becomes a mail whose
Date header is the moment it was sent. Expected instants are written out by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED

from digest.bot import Bot
from digest.settings import Settings
from digest.store import Store
from tests.smtpserver import SmtpServer

PEOPLE = {
    "ber": ("daily", "08:00", "Europe/Berlin"),
    "ber-early": ("daily", "02:30", "Europe/Berlin"),
    "ber-monday": ("weekly", "08:00", "Europe/Berlin", "monday"),
    "ny": ("daily", "08:00", "America/New_York"),
    "ny-early": ("daily", "02:30", "America/New_York"),
    "ny-late-night": ("daily", "01:30", "America/New_York"),
    "kol": ("daily", "08:00", "Asia/Kolkata"),
    "ber-thursday": ("weekly", "08:00", "Europe/Berlin", "thursday"),
    "ber-wednesday": ("weekly", "08:00", "Europe/Berlin", "wednesday"),
}


def config_for(path: Path, *who: str) -> Path:
    lines = ["defaults:\n  send_empty: true\n  trending: 0\nsubscribers:\n"]
    for name in who:
        cadence, at, zone, *day = PEOPLE[name]
        lines.append(f"  - email: {name}@example.org\n    cadence: {cadence}\n"
                     f"    send_at: \"{at}\"\n    timezone: {zone}\n")
        lines += [f"    day: {day[0]}\n"] if day else []
    path.write_text("".join(lines))
    return path


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Driver:
    """Runs bots on the real scheduler, jumping the clock from one job run to the next."""

    def __init__(self, traveller: Any, config: Path, db_url: str) -> None:
        self.traveller, self.config, self.db_url = traveller, config, db_url
        self.outstanding = 0

    def bot(self) -> Bot:
        return Bot(Settings(db_url=self.db_url, config_path=self.config), watch_seconds=None)

    async def run(self, until: datetime, catch_up: bool = False) -> None:
        """Start a bot now (optionally with its start-up catch-up), run it until ``until``."""
        bot = self.bot()
        scheduler = bot.start()
        scheduler.add_listener(self._count, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED
                               | EVENT_JOB_ERROR)
        if catch_up:
            await bot.run_job("catch-up", bot.catch_up)
        while True:
            upcoming = min(job.next_run_time for job in scheduler.get_jobs())
            if upcoming > until:
                break
            self.traveller.move_to(upcoming)
            scheduler.wakeup()
            await self._settle(scheduler, upcoming)
        self.traveller.move_to(until)
        await bot.finish()

    def _count(self, event: Any) -> None:
        self.outstanding += 1 if event.code == EVENT_JOB_SUBMITTED else -1

    async def _settle(self, scheduler: Any, now: datetime) -> None:
        for _ in range(2000):
            await asyncio.sleep(0.005)
            if self.outstanding == 0 and all(j.next_run_time > now for j in
                                             scheduler.get_jobs()):
                return
        raise AssertionError("the scheduler did not settle")


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        monkeypatch.setenv("DIGEST_SMTP_URL", server.url)
        monkeypatch.setenv("DIGEST_FROM", "Digest <digest@example.org>")
        monkeypatch.setenv("DIGEST_SECRET", "s3cret")
        yield server


def sent(server: SmtpServer) -> set[tuple[str, datetime]]:
    return {(r.recipients[0].split("@")[0], parsedate_to_datetime(r.message["Date"]))
            for r in server.received}


def drive(tmp_path: Path, db_url: str, who: tuple[str, ...], start: str,
          runs: list[tuple[str, str, bool]]) -> None:
    """Run the bot over ``runs``: (start, until, catch up at start) each, from ``start``."""
    config = config_for(tmp_path / "subscriptions.yaml", *who)
    with time_machine.travel(utc(start), tick=False) as traveller:
        driver = Driver(traveller, config, db_url)
        for begin, until, catch_up in runs:
            traveller.move_to(utc(begin))
            asyncio.run(driver.run(utc(until), catch_up))


def test_week_with_spring_forward_in_berlin(tmp_path: Path, db_url: str,
                                            smtp: SmtpServer) -> None:
    drive(tmp_path, db_url, ("ber", "ber-early", "ber-monday", "kol", "ny"),
          "2026-03-24T12:30", [("2026-03-24T12:30", "2026-03-31T23:00", False)])
    days = ["25", "26", "27", "28", "29", "30", "31"]
    expected = {("ber", utc(f"2026-03-{d}T{'07' if d < '29' else '06'}:00")) for d in days}
    expected |= {("ber-early", utc(t)) for t in (
        "2026-03-25T01:30", "2026-03-26T01:30", "2026-03-27T01:30", "2026-03-28T01:30",
        "2026-03-29T01:00",  # 02:30 does not exist that night: 03:00 CEST
        "2026-03-30T00:30", "2026-03-31T00:30")}
    expected |= {("ber-monday", utc("2026-03-30T06:00"))}
    expected |= {("kol", utc(f"2026-03-{d}T02:30")) for d in days}
    expected |= {("ny", utc(f"2026-03-{d}T12:00")) for d in days}  # EDT since March 8
    assert sent(smtp) == expected


def test_spring_forward_in_new_york(tmp_path: Path, db_url: str, smtp: SmtpServer) -> None:
    drive(tmp_path, db_url, ("ny", "ny-early"), "2026-03-06T12:00",
          [("2026-03-06T12:00", "2026-03-10T12:00", False)])
    assert sent(smtp) == {
        ("ny-early", utc("2026-03-07T07:30")), ("ny-early", utc("2026-03-08T07:00")),
        ("ny-early", utc("2026-03-09T06:30")), ("ny-early", utc("2026-03-10T06:30")),
        ("ny", utc("2026-03-06T13:00")),  # 08:00 EST, an hour after the start
        ("ny", utc("2026-03-07T13:00")), ("ny", utc("2026-03-08T12:00")),
        ("ny", utc("2026-03-09T12:00")), ("ny", utc("2026-03-10T12:00"))}


def test_fall_back_sends_once(tmp_path: Path, db_url: str, smtp: SmtpServer) -> None:
    drive(tmp_path, db_url, ("ber", "ber-early"), "2026-10-24T12:00",
          [("2026-10-24T12:00", "2026-10-26T12:00", False)])
    assert sent(smtp) == {
        ("ber-early", utc("2026-10-25T00:30")),  # 02:30 CEST, the first of two 02:30s
        ("ber-early", utc("2026-10-26T01:30")),
        ("ber", utc("2026-10-25T07:00")), ("ber", utc("2026-10-26T07:00"))}


def test_fall_back_in_new_york(tmp_path: Path, db_url: str, smtp: SmtpServer) -> None:
    drive(tmp_path, db_url, ("ny", "ny-late-night"), "2026-10-31T12:00",
          [("2026-10-31T12:00", "2026-11-02T13:00", False)])
    assert sent(smtp) == {
        ("ny-late-night", utc("2026-11-01T05:30")),  # 01:30 EDT; 01:30 EST is not sent
        ("ny-late-night", utc("2026-11-02T06:30")),
        ("ny", utc("2026-10-31T12:00")),  # 08:00 EDT: exactly the start
        ("ny", utc("2026-11-01T13:00")), ("ny", utc("2026-11-02T13:00"))}


def test_weekly_digest_when_the_year_and_the_month_change(tmp_path: Path, db_url: str,
                                                          smtp: SmtpServer) -> None:
    drive(tmp_path, db_url, ("ber-thursday", "ber-wednesday"), "2026-06-29T00:00",
          [("2026-06-29T00:00", "2026-07-02T12:00", False),
           ("2026-12-28T00:00", "2027-01-02T12:00", False)])
    assert sent(smtp) == {
        ("ber-wednesday", utc("2026-07-01T06:00")),  # Wednesday 1 July
        ("ber-thursday", utc("2026-07-02T06:00")),
        ("ber-wednesday", utc("2026-12-30T07:00")),
        ("ber-thursday", utc("2026-12-31T07:00"))}  # Thursday 31 December


def test_restart_across_a_send_time(tmp_path: Path, db_url: str, smtp: SmtpServer) -> None:
    drive(tmp_path, db_url, ("ber",), "2026-05-04T12:00",
          [("2026-05-04T12:00", "2026-05-05T05:50", False),  # stopped at 07:50 local
           ("2026-05-05T06:10", "2026-05-06T06:30", True)])  # back at 08:10
    assert sent(smtp) == {("ber", utc("2026-05-05T06:10")),  # the 08:00 digest, once, late
                          ("ber", utc("2026-05-06T06:00"))}


def test_down_for_three_days(tmp_path: Path, db_url: str, smtp: SmtpServer) -> None:
    drive(tmp_path, db_url, ("ber",), "2026-05-11T05:00",
          [("2026-05-11T05:00", "2026-05-11T07:00", False),
           ("2026-05-14T09:00", "2026-05-15T07:00", True)])
    assert sent(smtp) == {("ber", utc("2026-05-11T06:00")),
                          ("ber", utc("2026-05-14T09:00")),  # the latest period, once
                          ("ber", utc("2026-05-15T06:00"))}
    missed = sorted(row.period for row in Store(db_url).outbox() if row.state == "missed")
    assert missed == [utc("2026-05-12T06:00"), utc("2026-05-13T06:00")]


def test_someone_who_subscribes_online_gets_a_job_and_their_digest(
        tmp_path: Path, db_url: str, smtp: SmtpServer) -> None:
    """A running bot sees a new database subscriber (through its watcher) and sends their
    digest at their own time, in a send group nobody in the file has."""
    config = config_for(tmp_path / "subscriptions.yaml", "ber")
    with time_machine.travel(utc("2026-03-02T05:00:00"), tick=False) as traveller:

        async def scenario() -> None:
            bot = Bot(Settings(db_url=db_url, config_path=config), watch_seconds=10)
            scheduler = bot.start()
            assert [j.id for j in scheduler.get_jobs() if j.id.startswith("digest:")] == [
                "digest:daily:-:08:00:Europe/Berlin"]
            Store(db_url).put_subscriber({"email": "web@example.org", "cadence": "daily",
                                          "send_at": "09:15", "timezone": "Asia/Tokyo"},
                                         utc("2026-03-02T05:00:00"))
            await bot.watch()
            job = scheduler.get_job("digest:daily:-:09:15:Asia/Tokyo")
            assert job is not None
            traveller.move_to(job.next_run_time)
            await bot.send_group(bot_group(job.id))
            await bot.finish()

        asyncio.run(scenario())
    assert ("web", utc("2026-03-03T00:15:00")) in sent(smtp)


def bot_group(job_id: str) -> Any:
    from digest.bot.triggers import Group

    _, cadence, day, at_hour, at_minute, zone = job_id.split(":")
    return Group(cadence, None if day == "-" else day, f"{at_hour}:{at_minute}", zone)
