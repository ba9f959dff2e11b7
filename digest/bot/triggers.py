"""APScheduler triggers for digest jobs: one job per send group, not per subscriber.

A group is everyone who shares (cadence, day, send_at, timezone). ``SlotTrigger`` fires
at the group's send instants with the DST rules of ``digest.schedule``:
APScheduler's own CronTrigger would fire a nonexistent 02:30 at 03:30, not 03:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

from digest.model import Subscriber
from digest.prefs import WEEKDAYS
from digest.schedule import wall_clock


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

    @property
    def key(self) -> str:
        """``Subscriber.group_key`` of the group's members."""
        return f"{self.cadence}|{self.day or '-'}|{self.send_at}|{self.timezone}"

    @classmethod
    def from_key(cls, key: str) -> Group | None:
        """The group of a ``Subscriber.group_key``; None for instant alerts."""
        parts = key.split("|")
        if len(parts) != 4:
            return None
        cadence, day, send_at, timezone = parts
        return cls(cadence, None if day == "-" else day, send_at, timezone)


def group_of(sub: Subscriber) -> Group | None:
    """The send group of a subscriber; None for instant alerts (sent after ingests)."""
    return Group.from_key(sub.group_key)


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
