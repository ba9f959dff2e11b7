"""Time zones as people write them: every suggestion is a zone that exists and keeps the
offset the person meant."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from digest import zones

SUGGESTED = re.compile(r"'([^']+)'")
WINTER = datetime(2026, 1, 15, 12, tzinfo=UTC)


@pytest.mark.parametrize(("written", "hours"), [
    ("GMT+2", 2), ("UTC-5", -5), ("utc +8", 8), ("GMT+05:00", 5), ("UTC-12", -12),
    ("GMT+14", 14)])
def test_an_offset_gives_the_etc_zone_of_that_offset(written: str, hours: int) -> None:
    hint = zones.suggest(written)
    zone = SUGGESTED.search(hint)
    assert zone is not None and zone[1] in zones.names(), hint
    offset = ZoneInfo(zone[1]).utcoffset(WINTER)
    assert offset is not None and offset.total_seconds() == hours * 3600, hint


@pytest.mark.parametrize(("written", "meant"), [
    ("Asia/Beijing", "Asia/Shanghai"), ("Beijing", "Asia/Shanghai"),
    ("America/San_Francisco", "America/Los_Angeles"), ("Munich", "Europe/Berlin"),
    ("Europe/Munich", "Europe/Berlin"), ("Tübingen", "Europe/Berlin"), ("IST", "Asia/Kolkata"),
    ("pdt", "America/Los_Angeles"), ("GMT+0", "UTC"), ("Europe/Berln", "Europe/Berlin")])
def test_a_city_or_abbreviation_gives_its_zone(written: str, meant: str) -> None:
    assert zones.suggest(written) == f"did you mean {meant!r}?"


def test_every_named_zone_exists() -> None:
    named = set(zones._ABBREVIATIONS.values()) | set(zones._CITIES.values())
    assert named <= zones.names(), named - zones.names()


def test_no_place_is_fifteen_hours_away() -> None:
    assert "no place" in zones.suggest("GMT+15")
