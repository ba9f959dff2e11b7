"""Trending that fits the period and the reader. Pure.

The period: a daily digest ranks trending papers by today's gravity
(``rank.trending_score``); a digest covering several days (weekly, or a daily one after a
gap) compares papers at the same age instead, each against the top of its own appearance
day (``day_score``): gravity would hand the whole section to the last day, whose papers
are the youngest, not the most voted for.

The reader: ``Affinity`` says how close a paper is to what a reader follows (the words of
their keywords, the topical words of the papers they follow or liked, their categories),
each word by its rarity in the pass. A close paper's trending score counts ``NEAR_BOOST``
times (``boosted``): interest reorders papers that are trending, it never lifts a paper
above one trending more than ``NEAR_BOOST`` times as much.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import date, timedelta

from digest.match import PaperIndex, category_key, lead_words, plural_forms, words
from digest.model import Paper

__all__ = ["CATEGORY_FIT", "NEAR", "NEAR_BOOST", "SEVERAL_DAYS", "TOPICAL", "Affinity",
           "boosted", "day_score", "day_scores", "votes"]

SEVERAL_DAYS = timedelta(days=2)  # a period this long or longer compares papers by day


def votes(paper: Paper) -> float:
    """A paper's upvotes, or a tenth of its listing's score for a source without them."""
    return float(paper.upvotes if paper.upvotes is not None else (paper.score or 0.0) / 10)


def day_score(paper_votes: float, day_top: float, usual_top: float) -> float:
    """How much a paper is trending among the papers of its own appearance day: its votes
    against the day's top plus a usual day's top (``day_scores``: a median), which
    keeps a quiet day's second (40 of 43) from beating a busy day's (88 of 108) while a
    day's top still beats an older day's lesser paper with more votes; 0 without votes."""
    scale = day_top + usual_top
    return paper_votes / scale if scale > 0 else 0.0


def day_scores(paper_votes: Sequence[float], days: Sequence[date]) -> list[float]:
    """``day_score`` of each paper, given each one's votes and appearance day; a usual
    day's top is the median of the tops of the days with votes (a feed without votes,
    such as arXiv's, adds days whose top is 0)."""
    tops: dict[date, float] = {}
    for n, day in zip(paper_votes, days, strict=True):
        tops[day] = max(tops.get(day, 0.0), n)
    voted = [top for top in tops.values() if top > 0]
    usual = statistics.median(voted) if voted else 0.0
    return [day_score(n, tops[day], usual) for n, day in zip(paper_votes, days, strict=True)]


# A word in at most this share of a pass's papers tells a topic ("diffusion", "robot");
# commoner ones ("model", "results") tell little of a reader's interests.
TOPICAL_SHARE = 0.05
TOPICAL = math.log(1 / TOPICAL_SHARE)  # the weight of such a word
NEAR = 2 * TOPICAL  # two topical words shared make a paper close to a reader
CATEGORY_FIT = TOPICAL  # one of the reader's categories counts as one topical word
NEAR_BOOST = 3.0  # a close paper's trending score counts three times


def boosted(scores: Sequence[float], close: Sequence[bool]) -> list[int]:
    """The order (indexes) of papers given in trending order, by their ``scores`` with a
    close paper's counting ``NEAR_BOOST`` times; ties keep the given order."""
    if not any(close):
        return list(range(len(scores)))
    keys = [-score * NEAR_BOOST if near else -score
            for score, near in zip(scores, close, strict=True)]
    return sorted(range(len(scores)), key=keys.__getitem__)


class Affinity:
    """How close the papers of a pass are to a reader's interests, a word counting by its
    rarity in the pass (the log of how many times fewer papers hold it than there are),
    so a paper sharing "model" and "results" with them is not close and one sharing
    "diffusion" and "protein" is.

    Only what the papers asked about say they are about is read (``read``: the first
    papers of the trending pools, which readers share), and only a reader's words that
    one of them holds count: a reader costs a few lookups per interest word."""

    def __init__(self, index: PaperIndex) -> None:
        self.index = index
        self._words_read: dict[str, set[int]] = {}  # word -> the papers read that hold it
        self._read: set[int] = set()
        self._weights: dict[str, float] = {}
        self._any_weights: dict[tuple[str, ...], float] = {}  # by a word's plural forms
        self._about: dict[int, tuple[tuple[str, float], ...]] = {}
        # (papers read, those of ``about`` that one of them holds), by paper
        self._about_read: dict[int, tuple[int, tuple[tuple[str, float], ...]]] = {}
        self._phrases: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {}
        self._plurals: dict[str, tuple[str, ...]] = {}

    def closeness(self, papers: Sequence[int], keywords: Iterable[str],
                  followed: Collection[int], categories: Iterable[str]) -> list[float]:
        """How close each of ``papers`` (positions) is to a reader: the weights of the
        words of what it says it is about (``about_words``; each once, in any form) that
        are words of the reader's ``keywords`` or of the topics of the papers they follow
        or liked (``followed``, positions: ``topical``), ``NEAR`` more if it holds every
        word of one of their keywords there (close to the topic, if not about the phrase),
        ``CATEGORY_FIT`` more in one of their ``categories``; ``NEAR`` or more is close."""
        self.read(papers)
        inside = set(papers)
        held: dict[str, tuple[set[int], float]] = {}  # interest word -> (papers, weight)
        for w, weight in self.topical(followed):
            if found := inside & self._words_read[w]:
                held[w] = (found, weight)
        phrases = [self._phrase(keyword) for keyword in keywords]
        for phrase in phrases:
            for w, forms in phrase:  # in any form, the topic's word among them: its papers
                if found := self._in_any(inside, forms):
                    weight = self._any_weight(forms)
                    held[w] = (found, max(weight, held[w][1]) if w in held else weight)
        points = dict.fromkeys(papers, 0.0)
        for found, weight in held.values():
            for pos in found:
                points[pos] += weight
        for phrase in phrases:
            if phrase and all(w in held for w, _ in phrase):
                for pos in set.intersection(*(held[w][0] for w, _ in phrase)):
                    points[pos] += NEAR
        if wanted := frozenset(category_key(c) for c in categories):
            for pos in papers:
                points[pos] += CATEGORY_FIT * self._in(pos, wanted)
        return [points[pos] for pos in papers]

    def topical(self, papers: Collection[int]) -> list[tuple[str, float]]:
        """The topical words of ``papers`` (``about``) that a paper read holds, each
        weighed by the share of ``papers`` holding it and kept from half a topical word's
        weight up, so a recurring topic counts and a prolific author's many varied words
        do not."""
        shared: dict[str, float] = defaultdict(float)
        for pos in papers:
            kept = self._about_read.get(pos)
            if kept is None or kept[0] != len(self._read):  # papers were read since
                kept = self._about_read[pos] = (len(self._read), tuple(
                    (w, weight) for w, weight in self.about(pos) if w in self._words_read))
            for w, weight in kept[1]:
                shared[w] += weight
        return [(w, total / len(papers)) for w, total in shared.items()
                if total / len(papers) >= TOPICAL / 2]

    def about(self, pos: int) -> tuple[tuple[str, float], ...]:
        """The topical words of what a paper says it is about (``about_words``), weighed."""
        found = self._about.get(pos)
        if found is None:
            found = self._about[pos] = tuple(
                (w, weight) for w in self.about_words(pos)
                if (weight := self._weight(w)) >= TOPICAL)
        return found

    def about_words(self, pos: int) -> tuple[str, ...]:
        """The words of what a paper says it is about, each once: its title and its
        source's keywords, else its title and its abstract's opening sentences."""
        p = self.index.papers[pos]
        about = [w for k in p.keywords for w in words(k)] or list(
            words(p.abstract)[:lead_words(p.abstract)])
        return tuple(dict.fromkeys((*words(p.title), *about)))

    def read(self, papers: Iterable[int]) -> None:
        """Index what ``papers`` say they are about (``about_words``), for those not read
        yet."""
        for pos in papers:
            if pos not in self._read:
                self._read.add(pos)
                for w in self.about_words(pos):
                    self._words_read.setdefault(w, set()).add(pos)

    def _phrase(self, keyword: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """A keyword's words, each with its plural forms; kept, since readers share them."""
        found = self._phrases.get(keyword)
        if found is None:
            found = self._phrases[keyword] = tuple(
                (w, self._forms(w)) for w in dict.fromkeys(words(keyword)))
        return found

    def _forms(self, word: str) -> tuple[str, ...]:
        """``word``'s plural forms; kept, since keywords share words."""
        found = self._plurals.get(word)
        if found is None:
            found = self._plurals[word] = tuple(sorted(plural_forms(word)))
        return found

    def _in_any(self, inside: set[int], forms: tuple[str, ...]) -> set[int]:
        """Those of ``inside`` (papers read) holding a word in any of ``forms``."""
        found: set[int] = set()
        for form in forms:
            if (read := self._words_read.get(form)) is not None:
                found |= inside & read
        return found

    def _weight(self, word: str) -> float:
        """The rarity in the pass (inverse document frequency) of ``word``; 0 for a word
        in no paper."""
        found = self._weights.get(word)
        if found is None:
            held = self.index.holding(word)
            found = self._weights[word] = (
                math.log(len(self.index.papers) / held) if held else 0.0)
        return found

    def _any_weight(self, forms: tuple[str, ...]) -> float:
        """The rarity in the pass of a word in any of its plural ``forms``: its commonest
        form's (a paper holding one form mostly holds that one)."""
        found = self._any_weights.get(forms)
        if found is None:
            found = self._any_weights[forms] = min(
                (w for f in forms if (w := self._weight(f)) > 0), default=0.0)
        return found

    def _in(self, pos: int, categories: frozenset[str]) -> bool:
        category = self.index.papers[pos].category
        return bool(categories and category and category_key(category) in categories)
