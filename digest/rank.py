"""Ranking: what is due to each subscriber, in which section, in what order.

Pure: takes ``now`` and the subscribers' history as arguments; no database or clock.

A paper is due to a subscriber when it matches, was never sent to them, is new to them
(``new_since``: first seen after their previous digest, or, before their first, on or
after the oldest day young enough; never more than ``REACH_DAYS`` before ``now``) or was
in one of theirs that never went out (and not first seen after ``now``), and appeared
(featured or announced date, else published date, else the day it was first seen) at most
``max_age_days`` before now.

Sections, in order: papers by followed authors (a paper carrying a followed name in any
of its spellings, ``text.spelled_alike``, that is the person's: for a pinned name as
``pins.why`` says, for an unpinned one as ``pins.resolve`` says; the card names the
spelling when it differs); papers about their keywords
(``match.evidence`` of ``match.STRONG`` or more: a phrase only in passing, late in the
abstract or only among the source's keywords, makes no card and no reason); then up to
``trending`` due papers that matched nothing, by trending score (only papers with some
signal: upvotes, or a listing's score): today's gravity for a daily digest, votes against
the top of the paper's own day for a digest of several days (``digest.trending``), and of
the first ``TRENDING_WINDOW``, those close to the reader's interests (``trending.Affinity``)
with their score counting ``trending.NEAR_BOOST`` times, noted "in your area"; then
up to ``rising`` papers gaining upvotes fastest lately (``digest.rising``, worked out once
per pass). A rising paper need not be new since the last digest (rising is news about a
paper seen before): it must only never have been sent, be young enough, and pass the
subscriber's categories and exclusions.
Last, up to ``recommended`` papers like those the subscriber liked (``digest.recommend``,
over the pass's TF-IDF index), for someone with at least ``RECOMMEND_MIN_LIKES`` liked
papers in the index: never sent, never disliked, young enough, allowed, as rising papers
are. A paper appears once, in its first section; within a section higher upvotes come
first, then higher score, then newer, then title (keywords: papers holding a keyword as
strongly as a title does first; rising: fastest first; recommended: best first). The
digest holds at most ``max_papers``; the papers by followed authors and about keywords
past that (up to ``defaults.MAX_MORE``) are its ``more``, listed on its web copy, and
stay due. Last, in what room is left, up to
``defaults.POSSIBLY`` due papers that carry a followed name but are only possibly the
person's (an ambiguous name not pinned yet, another spelling nothing ties to them, a
pinned name's paper with no tie): the "Possibly by" list, which asks the reader.
"""

from __future__ import annotations

import heapq
from collections.abc import (
    Callable,
    Collection,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    Sequence,
)
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

import numpy as np

from digest import defaults
from digest.match import STRONG, TITLE_POINTS, PaperIndex, Spot, category_key
from digest.model import TRENDING, Digest, History, Item, Paper, Pin, Reason, Section, Subscriber
from digest.pins import Person, PersonKey, Resolution, ident, person_key, refused, resolve, why
from digest.rising import Momentum
from digest.text import arxiv_key, by_initials, name_keys, name_parts, spelled_alike
from digest.trending import NEAR, SEVERAL_DAYS, Affinity, boosted, day_scores, votes
from digest.vocab import Note, SectionName

if TYPE_CHECKING:  # scikit-learn loads only for passes that recommend
    from numpy.typing import NDArray

    from digest.recommend import TasteIndex

__all__ = ["NameKey", "Ranking", "name_key_of", "period_start", "plan_digests", "trend_scores",
           "trending_order"]

NameKey = tuple[str, ...]  # a followed name's spelling, as ``text.name_parts`` gives it


def name_key_of(name: str) -> NameKey:
    """The key a followed name's resolution is kept under (its spelling's parts)."""
    return name_parts(name)

# Trending score: votes per day of age, with gravity so that a day-old paper with some
# upvotes beats a week-old one with a few more. Sources without upvotes lend their score
# (a profile's 0-100 score counts as a tenth as many votes); no signal at all scores 0.
_GRAVITY = 1.5
# How many of a reader's first trending papers are reordered by their interests, and how
# many of their latest followed papers tell those interests.
TRENDING_WINDOW = 30
INTEREST_PAPERS = 20
NEAR_YOU = Reason.trending(Note.NEAR)
_INSTANT = timedelta(microseconds=1)  # "first seen after" a day's start includes it


def appeared(paper: Paper) -> date:
    """The day a paper appeared: featured or announced, else published, else first seen."""
    day = paper.featured or paper.published
    if day is not None:
        return day
    return paper.first_seen.date() if paper.first_seen else date.min


def trending_score(paper: Paper, today: date) -> float:
    """How much a paper is trending on ``today``: votes / (age in days + 2) ** 1.5."""
    age = max(0, (today - appeared(paper)).days)
    return float(votes(paper) / (age + 2.0) ** _GRAVITY)


def trend_scores(papers: Sequence[Paper], days: Sequence[date], today: date, several: bool
                 ) -> list[float]:
    """Each paper's trending score as a digest's trending section ranks it: by its votes
    against its own appearance day's (``days``) top if the period covers ``several``
    days (``trending.day_scores``), else by ``today``'s gravity (``trending_score``)."""
    if several:
        return day_scores([votes(p) for p in papers], days)
    return [trending_score(p, today) for p in papers]


def trending_order(papers: Sequence[Paper], today: date, several: bool) -> list[int]:
    """The positions of ``papers`` in the order a digest's trending section would show
    them (``trend_scores``; ties by ``section_order``), then those not trending at all
    (no votes, no score) in ``section_order``: a page of a period's papers shows them
    all, as the digest ranks them."""
    scores = trend_scores(papers, [appeared(p) for p in papers], today, several)
    return sorted(range(len(papers)), key=lambda i: (
        scores[i] <= 0, -scores[i], section_order(Item(papers[i], ()))))


def squash_name(name: str) -> str:
    """A name as written, but for spacing and case."""
    return " ".join(name.split()).casefold()


def _author_reasons(hits: Mapping[int, list[tuple[int, int, str, str]]]
                    ) -> dict[int, tuple[Reason, ...]]:
    """Each paper's author reasons from its (place, follow order, name, area) hits, in
    the order the paper lists the authors, each once."""
    return {pos: tuple(Reason.author(name, area) for name, area in dict.fromkeys(
        (name, area) for _, _, name, area in sorted(found))) for pos, found in hits.items()}


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
    if paper.first_seen <= new_since(sub, history.last_digest_at, now) \
            and paper.id not in history.owed:
        return False
    return appeared(paper) >= now.date() - timedelta(days=sub.age_limit_days)


def new_since(sub: Subscriber, cut: datetime | None, now: datetime) -> datetime:
    """After when a paper must have been first seen to be new to ``sub`` at ``now``:
    their previous digest's cut-off ``cut``, else ``max_age_days`` back; never further
    back than ``REACH_DAYS`` (what a pass reads: ``plan``)."""
    floor = now - timedelta(days=defaults.REACH_DAYS)
    if cut is None:  # from the first day young enough, as ``appeared`` counts days
        oldest = now.date() - timedelta(days=sub.age_limit_days)
        return max(floor, datetime.combine(oldest, time(), now.tzinfo) - _INSTANT)
    return max(floor, cut)


def period_start(sub: Subscriber, history: History, now: datetime) -> datetime:
    """Where a digest built at ``now`` starts: the previous digest's cut-off, else one
    cadence period back; never after ``now`` (a cut-off later than ``now`` comes from a
    digest planned at a later moment, as when a real send replays a past ``now``)."""
    start = history.last_digest_at or now - timedelta(days=sub.period_days)
    return min(start, now)


def plan_digests(
    subscribers: Sequence[Subscriber], papers: Sequence[Paper] | Ranking,
    histories: Mapping[str, History], now: datetime, rising: Sequence[Momentum] = (),
    people: Mapping[PersonKey, Person] | None = None, taste: TasteIndex | None = None,
    names: Mapping[NameKey, Resolution] | None = None,
) -> list[Digest]:
    """The digest every subscriber would get at ``now`` (histories keyed by folded email),
    with ``rising`` the momentum ranking at ``now``, ``people`` what is known of their
    pinned persons and ``taste`` the TF-IDF index of recommendations.

    ``papers`` may be a ``Ranking`` built once for many batches of subscribers."""
    ranking = papers if isinstance(papers, Ranking) else Ranking(
        papers, now, rising, people=people, taste=taste, names=names)
    return [ranking.digest(sub, histories.get(sub.email.casefold(), History()))
            for sub in subscribers]


class Ranking:
    """The papers of a pass, indexed and ordered once, and each subscriber's digest from
    them: a subscriber costs what their own authors and keywords match, plus the few
    trending and rising papers taken, never a walk over every paper."""

    def __init__(self, papers: Sequence[Paper], now: datetime,
                 rising: Sequence[Momentum] = (),
                 people: Mapping[PersonKey, Person] | None = None,
                 taste: TasteIndex | None = None,
                 names: Mapping[NameKey, Resolution] | None = None) -> None:
        """``rising``: the momentum ranking at ``now`` (``digest.rising.momentum``);
        ``people``: what is known of the persons subscribers pin; ``taste``: the TF-IDF
        index recommendations come from (none without it); ``names``: who unpinned
        followed names stand for in the stored papers (``pins.resolve``; a name not
        there is resolved against the pass's papers)."""
        self.now = now
        self.names: dict[NameKey, Resolution] = dict(names or {})
        self._carriers: dict[str, list[tuple[int, int, str, bool]]] = {}
        # What is known of each pinned person (``pins.person_key``); add before ranking
        # a subscriber with pins, or their pinned names match nothing but their profile.
        self.people: dict[PersonKey, Person] = dict(people or {})
        self.papers = [p for p in papers if p.first_seen is not None and p.first_seen <= now]
        self.index = PaperIndex(self.papers)
        today = now.date()
        self._appeared = [appeared(p) for p in self.papers]
        by_order = sorted(range(len(self.papers)),
                          key=lambda i: section_order(Item(self.papers[i], ())))
        self._order = [0] * len(self.papers)
        for rank, pos in enumerate(by_order):
            self._order[pos] = rank
        # The trending orders: by today's gravity (False), and by day (True) for periods
        # of several days; each with every paper's place in it.
        self._trending = {several: self._trend_order(today, several)
                          for several in (False, True)}
        self._pos = {p.id: pos for pos, p in enumerate(self.papers) if p.id is not None}
        self._rising = [(at, Reason.rising(m.gain, m.since.date())) for m in rising
                        if (at := self._pos.get(m.paper_id)) is not None]
        self._pools: dict[tuple[datetime | None, int, bool], list[int]] = {}
        self._strong_hits: dict[str, dict[int, tuple[Spot, int]]] = {}
        self.affinity = Affinity(self.index)
        self._arxiv: dict[str, int] | None = None
        self.taste: TasteIndex | None = None
        self._taste_rows: list[int | None] = []
        self._at_row: dict[int, int] = {}
        self._taste_pools: dict[int, NDArray[np.int64]] = {}  # rows, by age limit
        if taste is not None:
            self.use_taste(taste)

    def carries(self, name: str) -> bool:
        """Whether a paper of the pass carries ``name`` (in any of its spellings)."""
        return bool(self._carrying(name))

    def ids(self) -> KeysView[int]:
        """The store ids of the papers ranked."""
        return self._pos.keys()

    def use_taste(self, taste: TasteIndex) -> None:
        """Recommend from ``taste`` (the TF-IDF index of the pass) from now on."""
        self.taste = taste
        self._taste_rows = [taste.row_of(p.id) for p in self.papers]
        self._at_row = {row: pos for pos, row in enumerate(self._taste_rows) if row is not None}
        self._taste_pools = {}

    def digest(self, sub: Subscriber, history: History) -> Digest:
        """``sub``'s digest at ``now``, given what they were sent already."""
        allowed = self._allowed(sub)
        due = self._due(sub, history)
        keyword_hits = [(k, self._strong(k)) for k in dict.fromkeys(sub.keywords)]
        by_author, possibly = self._by_author(sub, allowed)
        authors = sorted((pos for pos in by_author if due(pos)), key=self._order.__getitem__)
        room = max(0, sub.max_papers)
        # Those past ``room`` are the papers that matched and did not fit, up to MAX_MORE.
        mine = [Item(self.papers[pos], by_author[pos] + self._keyword_reasons(pos, keyword_hits))
                for pos in authors[:room + defaults.MAX_MORE]]
        sections = [Section(SectionName.AUTHORS, tuple(mine[:room]))]
        more = mine[room:]
        room -= len(sections[0].items)
        matched = set().union(*(hits.keys() for _, hits in keyword_hits))
        keywords: list[Item] = []
        tiers = self._tiers(matched - by_author.keys(), keyword_hits)
        wanted = room + defaults.MAX_MORE - len(more)
        for pos in sorted(tiers, key=lambda pos: (-tiers[pos], self._order[pos])):
            if len(keywords) >= wanted:
                break
            if allowed(pos) and due(pos):
                keywords.append(Item(self.papers[pos], self._keyword_reasons(pos, keyword_hits)))
        more += keywords[room:]
        sections.append(Section(SectionName.KEYWORDS, tuple(keywords[:room])))
        room -= len(sections[-1].items)
        sections += self._unmatched(sub, history, allowed, matched | by_author.keys(), room,
                                    by_author.keys())
        shown = {id(it.paper) for section in sections for it in section.items}
        maybe = sorted((pos for pos in possibly if due(pos) and id(self.papers[pos]) not in shown),
                       key=self._order.__getitem__)
        room = max(0, sub.max_papers - len(shown))
        sections.append(Section(SectionName.POSSIBLY, tuple(
            Item(self.papers[pos], possibly[pos]) for pos in maybe[:min(room, defaults.POSSIBLY)])))
        return Digest(sub, period_start(sub, history, self.now), self.now, tuple(sections),
                      more=tuple(more))

    def _unmatched(self, sub: Subscriber, history: History, allowed: Callable[[int], bool],
                   seen: set[int], room: int, followed: Collection[int]) -> list[Section]:
        """The trending and rising sections: papers that matched nothing, in ``room``
        (``followed``: the papers of the pass by the authors ``sub`` follows)."""
        trending = self._trending_for(sub, history, allowed, seen, min(room, sub.trending),
                                      followed)
        oldest = self.now.date() - timedelta(days=sub.age_limit_days)
        young = ((pos, reason) for pos, reason in self._rising
                 if self._appeared[pos] >= oldest)
        rising = self._take(young, min(room - len(trending), sub.rising),
                            seen | {pos for pos, _ in trending}, history, allowed)
        taken = seen | {pos for pos, _ in (*trending, *rising)}
        liked = self._recommended(sub, history, allowed, taken,
                                  min(room - len(trending) - len(rising), sub.recommended))
        return [Section(SectionName.TRENDING, tuple(self._items(trending))),
                Section(SectionName.RISING, tuple(self._items(rising))),
                Section(SectionName.RECOMMENDED, tuple(self._items(liked)))]

    def _recommended(self, sub: Subscriber, history: History, allowed: Callable[[int], bool],
                     seen: set[int], limit: int) -> list[tuple[int, Reason]]:
        """Up to ``limit`` papers like those ``sub`` liked, best first; none for someone
        with too few liked papers in the index (they cost nothing)."""
        taste = self.taste
        if taste is None or limit <= 0 or len(sub.likes) < defaults.RECOMMEND_MIN_LIKES:
            return []
        liked = taste.rows(sub.likes)
        if len(liked) < defaults.RECOMMEND_MIN_LIKES:
            return []
        from digest.recommend import recommend

        disliked = taste.rows(sub.dislikes)
        blocked = seen | {self._at_row[r] for r in disliked if r in self._at_row}
        free = not sub.exclude and not sub.categories  # everything is allowed

        def wanted(row: int) -> bool:
            pos = self._at_row[row]
            return pos not in blocked and self.papers[pos].id not in history.sent and (
                free or allowed(pos))
        return [(self._at_row[pick.row], Reason.recommended(taste.titles[pick.like],
                                                            taste.keys[pick.like]))
                for pick in recommend(taste, liked, disliked,
                                      self._taste_pool(sub.age_limit_days), limit,
                                      wanted=wanted)]

    def _trending_for(self, sub: Subscriber, history: History, allowed: Callable[[int], bool],
                      seen: set[int], limit: int, followed: Collection[int]
                      ) -> list[tuple[int, Reason]]:
        """Up to ``limit`` trending papers for ``sub``: of the first ``TRENDING_WINDOW``
        the pool gives them, those close to their interests (``trending.Affinity``) with
        their score counting ``NEAR_BOOST`` times and noted "in your area". Only a window
        is read: a reader costs a few dozen set lookups, and their trending papers stay
        papers that trend."""
        several = self._several_days(sub, history)
        candidates = ((pos, TRENDING) for pos in self._candidates(sub, history, several))
        if limit <= 0 or not (sub.keywords or followed or sub.likes or sub.categories):
            return self._take(candidates, limit, seen, history, allowed)
        window = [pos for pos, _ in self._take(
            candidates, max(limit, TRENDING_WINDOW), seen, history, allowed)]
        close = [fit >= NEAR for fit in self.affinity.closeness(
            window, sub.keywords, self._interest_papers(sub, followed), sub.categories)]
        scores = self._trending[several][2]
        return [(window[i], NEAR_YOU if close[i] else TRENDING) for i in
                boosted([scores[pos] for pos in window], close)[:limit]]

    def _interest_papers(self, sub: Subscriber, followed: Collection[int]) -> set[int]:
        """The papers that tell ``sub``'s interests: their latest ``INTEREST_PAPERS``
        followed ones (newest first, then by position) and the ones they liked."""
        if self._arxiv is None:
            self._arxiv = {arxiv_key(p.arxiv_id): pos for pos, p in enumerate(self.papers)
                           if p.arxiv_id}
        latest = followed if len(followed) <= INTEREST_PAPERS else heapq.nsmallest(
            INTEREST_PAPERS, followed, key=lambda pos: (-self._appeared[pos].toordinal(), pos))
        return {*latest, *(pos for a in sub.likes
                           if (pos := self._arxiv.get(arxiv_key(a))) is not None)}

    def _take(self, candidates: Iterable[tuple[int, Reason]], limit: int, seen: set[int],
              history: History, allowed: Callable[[int], bool]) -> list[tuple[int, Reason]]:
        """The first ``limit`` candidates not in an earlier section, never sent, and
        allowed (trending and rising papers)."""
        taken: list[tuple[int, Reason]] = []
        for pos, reason in candidates:
            if len(taken) >= limit:
                break
            if pos not in seen and self.papers[pos].id not in history.sent and allowed(pos):
                taken.append((pos, reason))
        return taken

    def _items(self, taken: Iterable[tuple[int, Reason]]) -> Iterator[Item]:
        return (Item(self.papers[pos], (reason,)) for pos, reason in taken)

    def _taste_pool(self, age_limit_days: int) -> NDArray[np.int64]:
        """The index rows of the pass's papers young enough, once per age limit."""
        pool = self._taste_pools.get(age_limit_days)
        if pool is None:
            oldest = self.now.date() - timedelta(days=age_limit_days)
            pool = self._taste_pools[age_limit_days] = np.asarray(
                [row for pos, row in enumerate(self._taste_rows)
                 if row is not None and self._appeared[pos] >= oldest], dtype=np.int64)
        return pool

    def _by_author(self, sub: Subscriber, allowed: Callable[[int], bool]
                   ) -> tuple[dict[int, tuple[Reason, ...]], dict[int, tuple[Reason, ...]]]:
        """Papers by followed authors, with the authors in the order the paper lists them;
        and apart, papers only possibly theirs (``pins``: carrying the name, but nothing
        ties them to the person meant)."""
        found: dict[int, list[tuple[int, int, str, str]]] = {}
        maybe: dict[int, list[tuple[int, int, str, str]]] = {}
        for j, name in enumerate(sub.authors):
            pin = sub.pin(name)
            verdict = self._verdict(name, pin)
            for pos, at, listed, alike in self._carrying(name):
                paper = self.papers[pos]
                if not allowed(pos) or refused(pin, paper):
                    continue
                spelt = "" if alike and squash_name(listed) == squash_name(name) \
                    else f"as {listed}"
                because = verdict(paper)
                if because is None:
                    if not by_initials(name, listed):  # "Y. Zhang" is too many people
                        maybe.setdefault(pos, []).append((at, j, name, spelt))
                else:
                    area = "; ".join(x for x in (spelt, because) if x)
                    found.setdefault(pos, []).append((at, j, name, area))
        return _author_reasons(found), _author_reasons(
            {pos: hits for pos, hits in maybe.items() if pos not in found})

    def _verdict(self, name: str, pin: Pin | None) -> Callable[[Paper], str | None]:
        """How a paper carrying ``name`` is by the person meant ("" when it simply is),
        None when it is only possibly theirs."""
        if pin is not None and pin.pinned:
            person = self.people.get(person_key(pin), Person())
            return lambda paper: why(pin, person, paper)
        theirs = self._resolution(name).theirs
        return lambda paper: "" if ident(paper) in theirs else None

    def _resolution(self, name: str) -> Resolution:
        key = name_key_of(name)
        found = self.names.get(key)
        if found is None:
            found = self.names[key] = resolve(
                name, [self.papers[pos] for pos, _, _, _ in self._carrying(name)])
        return found

    def _carrying(self, name: str) -> list[tuple[int, int, str, bool]]:
        """(position, place in the author list, the spelling there, spelt alike) of the
        pass's papers carrying ``name``; once per name, since subscribers share them."""
        found = self._carriers.get(name)
        if found is None:
            found = self._carriers[name] = []
            for key in name_keys(name):
                for pos, at in self.index.authored(key):
                    listed = self.papers[pos].all_authors[at]
                    alike = spelled_alike(name, listed)
                    if alike is not None:
                        found.append((pos, at, listed, alike))
        return found

    def _strong(self, phrase: str) -> dict[int, tuple[Spot, int]]:
        """The papers about ``phrase`` (not only mentioning it in passing), with its first
        spot and its evidence points; once per phrase, since subscribers share them."""
        found = self._strong_hits.get(phrase)
        if found is None:
            points = self.index.evidence(phrase)
            found = self._strong_hits[phrase] = {
                pos: (spot, points[pos]) for pos, spot in self.index.phrase(phrase).items()
                if points[pos] >= STRONG}
        return found

    @staticmethod
    def _tiers(matched: Iterable[int], keyword_hits: list[tuple[str, dict[int, tuple[Spot, int]]]]
               ) -> dict[int, int]:
        """How strongly each paper holds the best of the keywords: 2 as strongly as a
        title match, 1 from the abstract alone."""
        return {pos: max(min(hits[pos][1], TITLE_POINTS) // STRONG
                         for _, hits in keyword_hits if pos in hits) for pos in matched}

    @staticmethod
    def _keyword_reasons(pos: int, keyword_hits: list[tuple[str, dict[int, tuple[Spot, int]]]]
                         ) -> tuple[Reason, ...]:
        spots = sorted((hits[pos][0], j, k) for j, (k, hits) in enumerate(keyword_hits)
                       if pos in hits)
        return tuple(Reason.keyword(k, spot[2]) for spot, _, k in spots)

    def _allowed(self, sub: Subscriber) -> Callable[[int], bool]:
        """Whether ``sub`` may get a paper at all (exclusions and categories)."""
        excluded = set().union(*(self.index.phrase(x).keys() for x in sub.exclude))
        wanted = {category_key(c) for c in sub.categories}

        def allowed(pos: int) -> bool:
            if pos in excluded:
                return False
            category = self.papers[pos].category
            return not wanted or not category or category_key(category) in wanted
        return allowed

    def _due(self, sub: Subscriber, history: History) -> Callable[[int], bool]:
        oldest = self.now.date() - timedelta(days=sub.age_limit_days)
        cut = new_since(sub, history.last_digest_at, self.now)

        def due(pos: int) -> bool:
            p = self.papers[pos]
            return (p.id not in history.sent and self._appeared[pos] >= oldest and (
                p.first_seen > cut or p.id in history.owed))  # type: ignore[operator]
        return due

    def _trend_order(self, today: date, several: bool
                     ) -> tuple[list[int], dict[int, int], list[float]]:
        """The papers by trending score (``trending.day_scores`` if ``several``, else
        today's ``trending_score``), each one's place, and every paper's score. Only a
        paper with votes or a score is trending: one with neither never is."""
        scores = trend_scores(self.papers, self._appeared, today, several)
        order = sorted((i for i, score in enumerate(scores) if score > 0),
                       key=lambda i: (-scores[i], self._order[i]))
        return order, {pos: rank for rank, pos in enumerate(order)}, scores

    def _several_days(self, sub: Subscriber, history: History) -> bool:
        """Whether ``sub``'s digest at ``now`` covers several days (weekly, or a daily one
        after a gap): its trending papers are then compared by day."""
        return self.now - period_start(sub, history, self.now) >= SEVERAL_DAYS

    def _candidates(self, sub: Subscriber, history: History, several: bool) -> Iterable[int]:
        """The trending pool (by day if ``several``), with the papers owed to ``sub`` (in
        digests that never went out) in their places by trending score."""
        pool = self._pool(sub, history, several)
        if not history.owed:
            return pool
        trend_rank = self._trending[several][1]
        oldest = self.now.date() - timedelta(days=sub.age_limit_days)
        cut = new_since(sub, history.last_digest_at, self.now)
        owed = sorted((pos for pid in history.owed if (pos := self._pos.get(pid)) is not None
                       and pos in trend_rank  # trending at all
                       and self._appeared[pos] >= oldest  # and not in the pool already:
                       and self.papers[pos].first_seen <= cut),  # type: ignore[operator]
                      key=trend_rank.__getitem__)
        return heapq.merge(pool, owed, key=trend_rank.__getitem__)

    def _pool(self, sub: Subscriber, history: History, several: bool) -> list[int]:
        """Papers by trending score (by day if ``several``) that are new since ``sub``'s
        last digest and young enough; worked out once for everyone with the same cut-off,
        age limit and kind of period."""
        cut = new_since(sub, history.last_digest_at, self.now)
        key = (cut, sub.age_limit_days, several)
        pool = self._pools.get(key)
        if pool is None:
            oldest = self.now.date() - timedelta(days=sub.age_limit_days)
            pool = self._pools[key] = [
                pos for pos in self._trending[several][0] if self._appeared[pos] >= oldest
                and self.papers[pos].first_seen > cut]  # type: ignore[operator]
        return pool
