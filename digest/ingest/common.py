"""What every parser shares: its context, dates without a year, author-list lines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from digest.errors import InputError

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTH_RE = "|".join(MONTHS)
# How far back a date without a year may lie (Feb 29 needs up to eight years).
_YEARS_BACK = 8
# More digits than this are not read as they are: Python refuses past 4,300, and no number
# digest keeps has 19 digits (see MAX_COUNT).
_MAX_DIGITS = 18
TOO_LARGE: int = 10**_MAX_DIGITS


@dataclass(frozen=True)
class ParseContext:
    """What a parser knows beyond the text: the source's name, when it was captured
    (dates without a year resolve against it) and the profile owner, if one is named."""

    source: str
    captured: date
    owner: str | None = None

    def error(self, reason: str, line: int | None = None) -> InputError:
        """An InputError for this source, naming the line when one is given."""
        where = f"line {line}: " if line is not None else ""
        return InputError(self.source, where + reason)


def resolve_date(month: str, day: int, year: int | None, captured: date) -> date:
    """The date ``month day[, year]``; without a year, the latest one not after ``captured``.

    Raises ValueError when no such date exists (``Feb 30``).
    """
    number = MONTHS.index(month) + 1
    if year is not None:
        return date(year, number, day)
    for candidate_year in range(captured.year, captured.year - _YEARS_BACK, -1):
        try:
            candidate = date(candidate_year, number, day)
        except ValueError:
            continue
        if candidate <= captured:
            return candidate
    raise ValueError(f"{month} {day} is not a date")


def whole_number(digits: str) -> int:
    """``digits`` (0-9, an optional sign first) as an int; one of more than 18 digits reads
    as plus or minus 10**18, outside every bound, instead of raising ValueError."""
    if len(digits.lstrip("+-")) <= _MAX_DIGITS:
        return int(digits)
    return -TOO_LARGE if digits.startswith("-") else TOO_LARGE


@dataclass(frozen=True)
class AuthorLine:
    """A parsed author line: names in order, whether "et al." cut it, and an affiliation."""

    names: tuple[str, ...]
    truncated: bool
    affiliation: str | None


_ET_AL = re.compile(r",?\s*et al\.?$")


def split_author_suffixes(line: str) -> tuple[str, bool, str | None]:
    """Split ``"A, B et al. · deepmind"`` into ``("A, B", True, "deepmind")``."""
    head, sep, tail = line.rpartition(" · ")
    names_part, affiliation = (head, tail.strip()) if sep and tail.strip() else (line, None)
    truncated = bool(_ET_AL.search(names_part.strip()))
    return _ET_AL.sub("", names_part.strip()).strip(), truncated, affiliation


def parse_author_line(line: str) -> AuthorLine:
    """Parse ``"A, B, C et al. · affiliation"`` (every part but the first name optional)."""
    names_part, truncated, affiliation = split_author_suffixes(line)
    names = tuple(n.strip() for n in names_part.split(",") if n.strip())
    return AuthorLine(names, truncated, affiliation)
