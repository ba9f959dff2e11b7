"""Ranking: what is due to each subscriber, in which section, in what order.

Pure: takes ``now`` and the subscribers' history as arguments; no database or clock.

A paper is due to a subscriber when it matches, was never sent to them, was first seen
after their previous digest (and not after ``now``), and appeared (featured or announced
date, else published date, else the day it was first seen) at most ``max_age_days``
before now. Sections, in order: papers by followed authors, papers matching keywords,
then up to ``trending`` due papers that matched nothing, by trending score. A paper
appears once, in its first section; within a section higher upvotes come first, then
higher score, then newer, then title. The digest holds at most ``max_papers``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from digest.match import Hits, Matcher
from digest.model import Digest, History, Item, Paper, Section, Subscriber

__all__ = ["Digest", "History", "Item", "Section", "plan_digests"]

SECTIONS = ("authors", "keywords", "trending")
# Trending score: votes per day of age, with gravity so that a day-old paper with some
# upvotes beats a week-old one with a few more. Sources without upvotes lend their score
# (a profile's 0-100 score counts as a tenth as many votes); no signal at all scores 0.
_GRAVITY = 1.5


def appeared(paper: Paper) -> date:
    """The day a paper appeared: featured or announced, else published, else first seen."""
    day = paper.featured or paper.published
    if day is not None:
        return day
    return paper.first_seen.date() if paper.first_seen else date.min


def trending_score(paper: Paper, today: date) -> float:
    """How much a paper is trending on ``today``: votes / (age in days + 2) ** 1.5."""
    votes = paper.upvotes if paper.upvotes is not None else (paper.score or 0.0) / 10
    age = max(0, (today - appeared(paper)).days)
    return float(votes / (age + 2.0) ** _GRAVITY)


def section_order(item: Item) -> tuple[int, float, int, str]:
    """Sort key within a section: upvotes, score, newer, title."""
    p = item.paper
    return (-(p.upvotes if p.upvotes is not None else -1),
            -(p.score if p.score is not None else -1.0),
            -appeared(p).toordinal(), p.title.casefold())


def is_due(paper: Paper, sub: Subscriber, history: History, now: datetime) -> bool:
    """Whether ``paper`` may go to ``sub`` in a digest built at ``now``."""
    if paper.id in history.sent or paper.first_seen is None or paper.first_seen > now:
        return False
    if history.last_digest_at is not None and paper.first_seen <= history.last_digest_at:
        return False
    return appeared(paper) >= now.date() - timedelta(days=sub.age_limit_days)


def plan_digests(
    subscribers: Sequence[Subscriber], papers: Sequence[Paper],
    histories: Mapping[str, History], now: datetime,
) -> list[Digest]:
    """The digest every subscriber would get at ``now`` (histories keyed by folded email)."""
    matcher = Matcher(subscribers)
    matched: list[dict[str, list[Item]]] = [{"authors": [], "keywords": []} for _ in subscribers]
    excluded: dict[int, set[int]] = {}
    for paper in papers:
        hits = matcher.scan(paper)
        excluded[id(paper)] = hits.excluded
        for i, section, reasons in _matches(hits):
            if matcher.allows(i, paper, hits.excluded):
                matched[i][section].append(Item(paper, reasons))
    pool = sorted(papers, key=lambda p: (-trending_score(p, now.date()),
                                         section_order(Item(p, ()))))
    digests = []
    for i, sub in enumerate(subscribers):
        history = histories.get(sub.email.casefold(), History())
        sections = [Section(name, tuple(sorted(
            (it for it in matched[i][name] if is_due(it.paper, sub, history, now)),
            key=section_order))) for name in ("authors", "keywords")]
        seen = {id(it.paper) for name in ("authors", "keywords") for it in matched[i][name]}
        trending: list[Item] = []
        for paper in pool:
            if len(trending) >= sub.trending:
                break
            if (id(paper) not in seen and is_due(paper, sub, history, now)
                    and matcher.allows(i, paper, excluded[id(paper)])):
                trending.append(Item(paper, ("trending",)))
        sections.append(Section("trending", tuple(trending)))
        start = history.last_digest_at or now - timedelta(days=sub.period_days)
        digests.append(Digest(sub, start, now, _capped(sections, sub.max_papers)))
    return digests


def _matches(hits: Hits) -> list[tuple[int, str, tuple[str, ...]]]:
    """(subscriber, section, reasons) for each subscriber a paper matches."""
    found = []
    for i in hits.authors.keys() | hits.keywords.keys():
        reasons = tuple(f"author: {a}" for a in hits.authors.get(i, ())) + tuple(
            f"keyword: {k}" for k in hits.keywords.get(i, ()))
        found.append((i, "authors" if hits.authors.get(i) else "keywords", reasons))
    return found


def _capped(sections: list[Section], limit: int) -> tuple[Section, ...]:
    capped = []
    for section in sections:
        capped.append(Section(section.name, section.items[:max(0, limit)]))
        limit -= len(capped[-1].items)
    return tuple(capped)
