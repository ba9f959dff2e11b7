"""Trending that fits the period: how a paper's votes compare with its own day's.

Pure. A daily digest ranks trending papers by today's gravity (``rank.trending_score``);
a digest covering several days (weekly, or a daily one after a gap) compares papers at
the same age instead, each against the top of its own appearance day (``day_score``):
gravity would hand the whole section to the last day, whose papers are the youngest, not
the most voted for.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import date, timedelta

from digest.model import Paper

__all__ = ["SEVERAL_DAYS", "day_score", "day_scores", "votes"]

SEVERAL_DAYS = timedelta(days=2)  # a period this long or longer compares papers by day


def votes(paper: Paper) -> float:
    """A paper's upvotes, or a tenth of its listing's score for a source without them."""
    return float(paper.upvotes if paper.upvotes is not None else (paper.score or 0.0) / 10)


def day_score(paper_votes: float, day_top: float, usual_top: float) -> float:
    """How much a paper is trending among the papers of its own appearance day: its votes
    against the day's top plus a usual day's top (the median of the days' tops), which
    keeps a quiet day's second (40 of 43) from beating a busy day's (88 of 108) while a
    day's top still beats an older day's lesser paper with more votes; 0 without votes."""
    scale = day_top + usual_top
    return paper_votes / scale if scale > 0 else 0.0


def day_scores(paper_votes: Sequence[float], days: Sequence[date]) -> list[float]:
    """``day_score`` of each paper, given each one's votes and appearance day."""
    tops: dict[date, float] = {}
    for n, day in zip(paper_votes, days, strict=True):
        tops[day] = max(tops.get(day, 0.0), n)
    usual = statistics.median(tops.values()) if tops else 0.0
    return [day_score(n, tops[day], usual) for n, day in zip(paper_votes, days, strict=True)]
