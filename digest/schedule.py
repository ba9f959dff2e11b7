"""When digests are due: each subscriber's send instants in their own time zone. Pure.

Digests go out at the subscriber's wall-clock ``send_at``. On a spring-forward day a time
that does not exist sends at the first valid minute after it (02:30 in Berlin on the last
Sunday of March is 03:00 CEST); on a fall-back day a time that occurs twice sends once,
at its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.model import Subscriber
from digest.prefs import WEEKDAYS
from digest.vocab import Cadence

_MINUTE = timedelta(minutes=1)


def wall_clock(day: date, at: str, zone: ZoneInfo) -> datetime:
    """The UTC instant of local ``day`` at ``HH:MM`` in ``zone`` (see the DST rules above)."""
    hour, minute = (int(x) for x in at.split(":"))
    local = datetime.combine(day, time(hour, minute))
    for _ in range(24 * 60):  # a gap is at most a few hours long
        candidate = local.replace(tzinfo=zone, fold=0)
        if candidate.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local:
            return candidate.astimezone(UTC)
        local += _MINUTE
    raise ValueError(f"no valid local time after {day} {at} in {zone}")


def latest_slot(sub: Subscriber, now: datetime) -> datetime:
    """The subscriber's latest scheduled send instant not after ``now`` (UTC).

    Daily and instant subscribers have one a day; weekly ones one a week on their ``day``.
    """
    zone = ZoneInfo(sub.timezone)
    today = now.astimezone(zone).date()
    for back in range(15):
        day = today - timedelta(days=back)
        if sub.cadence == Cadence.WEEKLY and WEEKDAYS[day.weekday()] != sub.day:
            continue
        slot = wall_clock(day, sub.send_at, zone)
        if slot <= now:
            return slot
    raise AssertionError("a slot exists within two weeks")


def slots_between(sub: Subscriber, start: datetime, end: datetime) -> list[datetime]:
    """Every send instant of ``sub`` in (start, end], oldest first."""
    found: list[datetime] = []
    moment = end
    while True:
        slot = latest_slot(sub, moment)
        if slot <= start:
            return sorted(found)
        found.append(slot)
        moment = slot - _MINUTE
