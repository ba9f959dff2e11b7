"""Time zones as people write them, and what they mean.

People write "GMT+2", "Asia/Beijing", "PST" or "Munich" where the IANA database wants
"Etc/GMT-2", "Asia/Shanghai", "America/Los_Angeles" or "Europe/Berlin". A suggestion by
spelling alone is wrong for these ("GMT+0", two hours off; "Asia/Brunei"), so ``suggest``
reads them by meaning first: a UTC offset, a common abbreviation, a city the database
names by another city of the same zone; and only then by spelling.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from functools import cache

# "GMT+2", "UTC-05", "UTC +5", "GMT+02:00" (a whole number of hours, up to 14).
_OFFSET = re.compile(r"(?:GMT|UTC)\s*([+-])\s*(\d{1,2})(?::?00)?", re.IGNORECASE)
# Abbreviations people write for the zone they live in (those the database lacks, or has
# with another meaning: its "EST" is a fixed offset that never keeps summer time).
_ABBREVIATIONS = {
    "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles", "PT": "America/Los_Angeles",
    "MST": "America/Denver", "MDT": "America/Denver", "CST": "America/Chicago",
    "CDT": "America/Chicago", "EST": "America/New_York", "EDT": "America/New_York",
    "ET": "America/New_York", "BST": "Europe/London", "CET": "Europe/Berlin",
    "CEST": "Europe/Berlin", "EET": "Europe/Athens", "EEST": "Europe/Athens",
    "IST": "Asia/Kolkata", "JST": "Asia/Tokyo", "KST": "Asia/Seoul",
    "AEST": "Australia/Sydney", "AEDT": "Australia/Sydney", "SGT": "Asia/Singapore",
    "HKT": "Asia/Hong_Kong",
}
# Cities the database does not name, by the zone's city (only a zone's largest city, or
# its first, is a name in the database).
_CITIES = {
    "beijing": "Asia/Shanghai", "hangzhou": "Asia/Shanghai", "shenzhen": "Asia/Shanghai",
    "guangzhou": "Asia/Shanghai", "nanjing": "Asia/Shanghai", "wuhan": "Asia/Shanghai",
    "chengdu": "Asia/Shanghai", "hefei": "Asia/Shanghai", "xian": "Asia/Shanghai",
    "mumbai": "Asia/Kolkata", "bombay": "Asia/Kolkata", "delhi": "Asia/Kolkata",
    "new delhi": "Asia/Kolkata", "bangalore": "Asia/Kolkata", "bengaluru": "Asia/Kolkata",
    "hyderabad": "Asia/Kolkata", "chennai": "Asia/Kolkata", "osaka": "Asia/Tokyo",
    "kyoto": "Asia/Tokyo", "daejeon": "Asia/Seoul", "washington": "America/New_York",
    "boston": "America/New_York", "pittsburgh": "America/New_York",
    "philadelphia": "America/New_York", "atlanta": "America/New_York",
    "san francisco": "America/Los_Angeles", "seattle": "America/Los_Angeles",
    "palo alto": "America/Los_Angeles", "berkeley": "America/Los_Angeles",
    "stanford": "America/Los_Angeles", "san diego": "America/Los_Angeles",
    "austin": "America/Chicago", "houston": "America/Chicago", "montreal":
    "America/Toronto", "munich": "Europe/Berlin", "frankfurt": "Europe/Berlin",
    "hamburg": "Europe/Berlin", "tubingen": "Europe/Berlin", "heidelberg": "Europe/Berlin",
    "geneva": "Europe/Zurich", "lausanne": "Europe/Zurich", "cambridge": "Europe/London",
    "oxford": "Europe/London", "edinburgh": "Europe/London", "barcelona": "Europe/Madrid",
    "milan": "Europe/Rome", "tel aviv": "Asia/Jerusalem", "abu dhabi": "Asia/Dubai",
    "melbourne": "Australia/Melbourne", "canberra": "Australia/Sydney",
}


def suggest(value: str) -> str:
    """What to write instead of ``value``, an unknown zone: a hint that ends the sentence
    "unknown time zone 'X'; ..."."""
    offset = _OFFSET.fullmatch(value.strip())
    if offset:
        return _by_offset(offset[1], int(offset[2]))
    meant = _ABBREVIATIONS.get(value.strip().upper()) or _CITIES.get(_city(value))
    if meant:
        return f"did you mean {meant!r}?"
    close = difflib.get_close_matches(value, sorted(names()), n=1)
    return f"did you mean {close[0]!r}?" if close else "use an IANA name like Europe/Berlin"


def _by_offset(sign: str, hours: int) -> str:
    """The Etc zone of a fixed offset, whose sign is the reverse of what people write."""
    if hours == 0:
        return "did you mean 'UTC'?"
    if hours > (12 if sign == "-" else 14):
        return "no place is that far from UTC; use an IANA name like Europe/Berlin"
    etc = f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"
    ahead = "ahead of" if sign == "+" else "behind"
    return (f"for a fixed {hours} h {ahead} UTC write {etc!r} (the Etc names' signs are "
            f"reversed), or better your city's zone, e.g. 'Europe/Berlin', which keeps "
            f"summer time")


def _city(value: str) -> str:
    """The city part of ``value`` ("Asia/Beijing", "Munich"), lower-cased, spaced."""
    city = value.strip().rsplit("/", 1)[-1]
    return " ".join(city.replace("_", " ").replace("-", " ").split()).casefold().replace(
        "ü", "u")


@cache
def names() -> frozenset[str]:
    """Every IANA zone name this machine knows."""
    return frozenset(zoneinfo.available_timezones())
