"""Trending that fits the period: a weekly digest compares papers at the same age (by
their own appearance day), a daily one keeps today's gravity."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from digest.model import History, Paper, Subscriber
from digest.rank import appeared, plan_digests
from digest.vocab import Cadence, SectionName
from tests.test_rank import hf_day

NOW = datetime(2026, 4, 17, 8, tzinfo=UTC)


def trending(cadence: Cadence, papers: list[Paper], now: datetime = NOW,
             history: History | None = None, **settings: object) -> list[Paper]:
    sub = Subscriber("a@example.org", cadence=cadence, **{  # type: ignore[arg-type]
        "trending": 5, "rising": 0, "max_age_days": 14, **settings})
    (digest,) = plan_digests([sub], papers, {"a@example.org": history or History()}, now)
    return [it.paper for s in digest.sections if s.name == SectionName.TRENDING
            for it in s.items]


def test_a_weekly_trending_section_is_not_all_from_the_last_day() -> None:
    papers = hf_day("2026-04-10", "2026-04-14", "2026-04-15", "2026-04-16")
    daily = trending(Cadence.DAILY, papers)
    weekly = trending(Cadence.WEEKLY, papers)
    assert [appeared(p) for p in daily].count(date(2026, 4, 16)) == 4  # gravity: the last day
    days = [appeared(p) for p in weekly]
    assert len(weekly) == 5 and len(set(days)) >= 3, days
    assert days.count(date(2026, 4, 16)) <= 2
    # The week's most voted papers of other days are in: 112 (Apr 15), 108 (Apr 10).
    assert {p.upvotes for p in weekly} >= {112, 108}
    assert [p.upvotes for p in weekly] == [112, 108, 77, 88, 64]


def _paper(i: int, title: str, day: date, upvotes: int) -> Paper:
    seen = datetime(day.year, day.month, day.day, 20, tzinfo=UTC)
    return Paper(title, published=day, featured=day, upvotes=upvotes, first_seen=seen, id=i)


MONDAY = date(2025, 9, 22)
WEEK = [  # as in the week that made VCRL (25 on Friday) outrank RPG and LIMI (40 on Monday)
    _paper(1, "RPG: A Repository Planning Graph", MONDAY, 40),
    _paper(2, "LIMI: Less is More for Agency", MONDAY, 40),
    _paper(3, "Monday's third", MONDAY, 12),
    _paper(4, "Wednesday's top", MONDAY + timedelta(days=2), 31),
    _paper(5, "Wednesday's second", MONDAY + timedelta(days=2), 9),
    _paper(6, "VCRL: Variance-based Curriculum Reinforcement Learning", MONDAY + timedelta(days=4),
           25),
    _paper(7, "Friday's second", MONDAY + timedelta(days=4), 11),
    _paper(8, "Friday's third", MONDAY + timedelta(days=4), 10),
]


def test_a_monday_paper_with_40_beats_a_friday_paper_with_25_in_a_weekly_digest() -> None:
    saturday = datetime(2025, 9, 27, 8, tzinfo=UTC)
    weekly = [p.title.split(":")[0] for p in trending(Cadence.WEEKLY, WEEK, saturday)]
    assert weekly[:2] == ["LIMI", "RPG"]  # equal votes: by title
    assert weekly.index("RPG") < weekly.index("VCRL")
    assert weekly == ["LIMI", "RPG", "Wednesday's top", "VCRL", "Friday's second"]
    # A daily digest keeps today's gravity: the youngest day's papers first.
    daily = [p.title.split(":")[0] for p in trending(Cadence.DAILY, WEEK, saturday)]
    assert daily[0] == "VCRL"


def test_a_daily_digest_after_a_gap_of_several_days_compares_by_day_too() -> None:
    saturday = datetime(2025, 9, 27, 8, tzinfo=UTC)
    gap = History(last_digest_at=datetime(2025, 9, 21, 8, tzinfo=UTC))
    after_gap = trending(Cadence.DAILY, WEEK, saturday, gap)
    assert after_gap == trending(Cadence.WEEKLY, WEEK, saturday)
    yesterday = History(last_digest_at=saturday - timedelta(days=1))
    assert [p.title.split(":")[0] for p in trending(Cadence.DAILY, WEEK, saturday, yesterday)
            ] == ["VCRL", "Friday's second", "Friday's third"]  # new since yesterday only
