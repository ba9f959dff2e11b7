"""Bounds on what one paper may hold, applied to every paper a parser reads.

A hostile or broken source must not put a number past what the database holds, or one that
would top every ranking, into the store. Each fix is counted per file and reported as one
warning naming the file, how many papers it touched and the first of them; the papers are
still stored. The bounds live in ``digest.defaults``. Pure: no store, clock or network.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from digest import defaults
from digest.model import Paper

Note = Callable[[str], None]
_COUNT_RANGE = f"outside 0 to {defaults.MAX_COUNT:,}, stored as unknown"
_SCORE_RANGE = f"outside 0 to {defaults.MAX_SCORE:,.0f}, stored as unknown"


@dataclass
class _Fixes:
    """What was fixed in one file: per kind of fix, how many papers and the first one."""

    source: str
    found: dict[str, tuple[int, str]] = field(default_factory=dict)

    def noter(self, title: str) -> Note:
        def note(what: str) -> None:
            count, first = self.found.get(what, (0, title))
            self.found[what] = (count + 1, first)

        return note

    def warnings(self) -> list[str]:
        return [f"{self.source}: {what} in {count} paper{'' if count == 1 else 's'} "
                f"(first: {first[:60]!r})" for what, (count, first) in self.found.items()]


def bound_papers(papers: Sequence[Paper], source: str) -> tuple[list[Paper], list[str]]:
    """``papers`` with every field within bounds, and one warning per kind of fix."""
    fixes = _Fixes(source)
    bounded = [_paper(p, fixes.noter(p.title)) for p in papers]
    return bounded, fixes.warnings()


def _paper(p: Paper, note: Note) -> Paper:
    return replace(
        p,
        author_count=_count(p.author_count, "author counts", note),
        upvotes=_count(p.upvotes, "upvotes", note),
        github_stars=_count(p.github_stars, "GitHub stars", note),
        score=_score(p.score, note),
    )


def _count(value: int | None, what: str, note: Note) -> int | None:
    if value is None or 0 <= value <= defaults.MAX_COUNT:
        return value
    note(f"{what} {_COUNT_RANGE}")
    return None


def _score(value: float | None, note: Note) -> float | None:
    if value is None or (math.isfinite(value) and 0 <= value <= defaults.MAX_SCORE):
        return value
    note(f"scores {_SCORE_RANGE}")
    return None
