"""APScheduler triggers for digest jobs: one job per send group, not per subscriber.

A group is everyone who shares (cadence, day, send_at, timezone). ``SlotTrigger`` fires
at the group's send instants with the DST rules of ``digest.deliver.schedule``:
APScheduler's own CronTrigger would fire a nonexistent 02:30 at 03:30, not 03:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

from digest.config import WEEKDAYS
from digest.deliver.schedule import wall_clock
from digest.model import Subscriber


@dataclass(frozen=True)
class Group:
    """Subscribers whose digests go out at the same instants."""

    cadence: str
    day: str | None  # weekly only
    send_at: str
    timezone: str

    @property
    def job_id(self) -> str:
        return f"digest:{self.cadence}:{self.day or '-'}:{self.send_at}:{self.timezone}"


def group_of(sub: Subscriber) -> Group | None:
    """The send group of a subscriber; None for instant alerts (sent after ingests)."""
    if sub.cadence == "instant":
        return None
    return Group(sub.cadence, sub.day if sub.cadence == "weekly" else None, sub.send_at,
                 sub.timezone)


class SlotTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires at every send instant of a group."""

    __slots__ = ("group",)

    def __init__(self, group: Group) -> None:
        self.group = group

    def get_next_fire_time(self, previous_fire_time: datetime | None,
                           now: datetime) -> datetime | None:
        after = previous_fire_time or now - timedelta(microseconds=1)
        zone = ZoneInfo(self.group.timezone)
        first = after.astimezone(zone).date()
        for offset in range(-1, 16):
            day = first + timedelta(days=offset)
            if self.group.day is not None and WEEKDAYS[day.weekday()] != self.group.day:
                continue
            slot = wall_clock(day, self.group.send_at, zone)
            if slot > after:
                return slot
        return None

    def __str__(self) -> str:
        g = self.group
        return f"{g.cadence} at {g.send_at}{' on ' + g.day if g.day else ''} {g.timezone}"
