"""Matching: which stored papers concern which subscribers, and why.

Pure: no database, clock or network. ``Matcher`` indexes every subscriber's followed
authors (by folded name key) and keyword phrases (by their word tuples, plural forms of the
final word included), so one pass over a paper's authors and words finds every subscriber
it concerns. Cost grows with the papers' text plus the matches, not subscribers x papers.

Rules: an author matches when both names fold to the same key (accents, LaTeX, case,
hyphens, dots, spacing ignored; a profile owner credited behind "et al." counts); a
keyword matches whole words in the title, abstract (LaTeX stripped) or the source's own
keywords, hyphen and space alike, a final plural alike, with at most one extra word inside
the phrase ("diffusion language model" in "diffusion large language models": papers name
one thing with an adjective more), unless that word joins two things ("diffusion and
language models"). Never one word less: "diffusion language model" less a word is
"diffusion model", another topic. ``exclude`` phrases remove a paper,
``categories`` restrict (cs.LG = LG; papers whose source gives no category pass).

A keyword match also has a strength (``evidence``), by where it stands: a paper that only
mentions a phrase in passing is not about it, and a reader's card should be.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, islice

from anyascii import anyascii

from digest.model import Paper, Subscriber
from digest.text import latex_to_text, name_key
from digest.vocab import Area

_WORD = re.compile(r"[a-z0-9]+")
# Where a sentence ends: ". " before a capital or digit, not after "e.g", "i.e", "et al", "vs".
_SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)(?<! al)(?<! vs)[.!?]\s+(?=[A-Z0-9])")
LEAD_SENTENCES = 2  # an abstract's opening, which says what the paper is about
# Where an abstract says what kind of work the paper is: "We present S2D2, a training-free
# self-speculative decoding framework", "this paper introduces X, the first ...": a phrase
# starting within ``NAMED_WORDS`` words after the article counts as the opening does.
_NAMES_ITSELF = re.compile(r"(?:\bwe|\bthis (?:paper|work))\s+(?:propose|present|introduce)s?"
                           r"\s+[^,.;]{1,60},\s+(?:a|an|the)\s", re.IGNORECASE)
NAMED_WORDS = 5
# One place a keyword stands: (area rank, word position, loose: not word for word); area
# ranks are 0 for the title, 1 for the abstract, 2 and on for the source's keywords.
Place = tuple[int, int, bool]
# Words that, inside a phrase, join two things rather than qualify one: never slop.
_JOINERS = frozenset({"and", "or", "nor", "but", "vs", "versus", "than", "not"})


@lru_cache(maxsize=1 << 16)
def words(text: str) -> tuple[str, ...]:
    """The lower-case ASCII words of ``text`` after LaTeX markup is stripped."""
    return tuple(_WORD.findall(anyascii(latex_to_text(text)).lower()))


def plural_forms(word: str) -> set[str]:
    """``word`` with its plural or singular forms ("model" <-> "models", "study" <-> "studies")."""
    forms = {word, word + "s", word + "es"}
    if word.endswith("y") and len(word) > 2:
        forms.add(word[:-1] + "ies")
    if word.endswith("ies") and len(word) > 4:
        forms.add(word[:-3] + "y")
    elif word.endswith("es") and len(word) > 3:
        forms.update({word[:-1], word[:-2]})
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        forms.add(word[:-1])
    return forms


def loose(window: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """``window`` without one of its inner words (never the first or last, never a joiner):
    the phrases it holds with one extra word."""
    for gap in range(1, len(window) - 1):
        if window[gap] not in _JOINERS:
            yield window[:gap] + window[gap + 1:]


def sentence_starts(text: str) -> list[int]:
    """Where each sentence of ``text`` starts (the first at 0), by character."""
    return [0] + [m.end() for m in _SENTENCE_END.finditer(text)]


def lead_words(abstract: str) -> int:
    """How many words the abstract's first ``LEAD_SENTENCES`` sentences hold."""
    ends = [m.end() for m in islice(_SENTENCE_END.finditer(abstract), LEAD_SENTENCES)]
    if len(ends) < LEAD_SENTENCES:
        return len(words(abstract))
    return len(words(abstract[: ends[LEAD_SENTENCES - 1]]))


def named_words(abstract: str) -> tuple[int, ...]:
    """Where (by word) each of the abstract's sentences saying what the paper is ("We
    present S2D2, a ...") goes on after its article; a phrase there names the paper."""
    return tuple(len(words(abstract[: m.end()])) for m in _NAMES_ITSELF.finditer(abstract))


# Evidence points, by where a keyword stands. A title match alone is enough; in the
# abstract, one word-for-word match in its opening sentences is (or where the paper says
# what it is: ``named_words``), or two later on, or a loose one in the opening with
# another. A single late mention (a baseline, a contrast, a component), a loose match
# alone outside the title, or only the source's generated keywords (which name a paper's
# every tool) are passing evidence: under ``STRONG``.
TITLE_POINTS = 8
LEAD_POINTS = 4  # word for word in the abstract's opening; half for a loose match
LATER_POINTS = 2  # word for word later in the abstract; half for a loose match
STRONG = 4


def evidence(places: Iterable[Place], lead: int, named: Collection[int] = ()) -> int:
    """The points of a keyword's ``places`` in a paper whose abstract opens with ``lead``
    words and says what the paper is at the ``named`` words (``named_words``): ``STRONG``
    or more for a paper about the phrase."""
    points = 0
    for rank, at, slop in places:
        if rank == 0:
            points += TITLE_POINTS
        elif rank == 1:
            opening = at < lead or any(0 <= at - n < NAMED_WORDS for n in named)
            points += (LEAD_POINTS if opening else LATER_POINTS) // (2 if slop else 1)
    return points


def category_key(category: str) -> str:
    """``cs.LG`` and ``LG`` alike: the part after the last dot, upper case."""
    return category.strip().rsplit(".", 1)[-1].upper()


@dataclass
class Hits:
    """What one paper means to the subscribers it concerns (keyed by subscriber index)."""

    authors: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    # "phrase (area)" for each keyword the paper is about (``STRONG`` evidence or more)
    keywords: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    excluded: set[int] = field(default_factory=set)
    # (subscriber, phrase) -> ``evidence`` points, for each keyword found at all, the
    # papers that only mention it in passing included
    evidence: dict[tuple[int, str], int] = field(default_factory=dict)


class Matcher:
    """Indexes of every subscriber's authors, keywords and exclusions."""

    def __init__(self, subscribers: Sequence[Subscriber]) -> None:
        self.subscribers = subscribers
        self._authors: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self._phrases: dict[tuple[str, ...], list[tuple[int, str, bool]]] = defaultdict(list)
        for i, sub in enumerate(subscribers):
            for author in sub.authors:
                self._authors[name_key(author)].append((i, author))
            for keyword in sub.keywords:
                self._index_phrase(i, keyword, exclude=False)
            for phrase in sub.exclude:
                self._index_phrase(i, phrase, exclude=True)
        # Phrase lengths by first word: most words start no phrase and cost one lookup.
        self._lengths: dict[str, set[int]] = defaultdict(set)
        for indexed in self._phrases:
            self._lengths[indexed[0]].add(len(indexed))
        # (first word, last word, length) of the phrases of two words or more: a loose
        # match starts and ends as one does, with one word more.
        self._spans = {(p[0], p[-1], len(p)) for p in self._phrases if len(p) > 1}

    def _index_phrase(self, i: int, phrase: str, exclude: bool) -> None:
        tokens = words(phrase)
        if not tokens:
            return
        for last in plural_forms(tokens[-1]):
            entry = (i, phrase, exclude)
            bucket = self._phrases[(*tokens[:-1], last)]
            if entry not in bucket:
                bucket.append(entry)

    def scan(self, paper: Paper) -> Hits:
        """Every subscriber ``paper`` concerns, with the reasons, and who excludes it."""
        hits = Hits()
        for author in paper.all_authors:
            for i, followed in self._authors.get(name_key(author), ()):
                if followed not in hits.authors[i]:
                    hits.authors[i].append(followed)
        places: dict[tuple[int, str], list[Place]] = defaultdict(list)
        first: dict[tuple[int, str], str] = {}  # the area each phrase was first found in
        for rank, (area, text) in enumerate(_texts(paper)):
            for i, phrase, exclude, at, slop in self._phrases_in(text):
                if exclude:
                    hits.excluded.add(i)
                    continue
                first.setdefault((i, phrase), area)
                places[i, phrase].append((rank, at, slop))
        lead, named = (lead_words(paper.abstract), named_words(paper.abstract)) if places \
            else (0, ())  # most papers match no phrase
        hits.evidence = {key: evidence(set(held), lead, named) for key, held in places.items()}
        for (i, phrase), area in first.items():
            if hits.evidence[i, phrase] >= STRONG:
                hits.keywords[i].append(f"{phrase} ({area})")
        return hits

    def _phrases_in(self, text: str) -> Iterator[tuple[int, str, bool, int, bool]]:
        """The phrases in ``text``, with where they start and whether loosely (with one
        extra word inside)."""
        tokens = words(text)
        for start, token in enumerate(tokens):
            for length in self._lengths.get(token, ()):
                for i, phrase, exclude in self._phrases.get(tokens[start : start + length], ()):
                    yield i, phrase, exclude, start, False
                if start + length < len(tokens) \
                        and (token, tokens[start + length], length) in self._spans:
                    for inner in loose(tokens[start : start + length + 1]):
                        for i, phrase, exclude in self._phrases.get(inner, ()):
                            yield i, phrase, exclude, start, True

    def allows(self, i: int, paper: Paper, excluded: Collection[int]) -> bool:
        """Whether subscriber ``i`` may get ``paper`` at all (exclusions and categories)."""
        if i in excluded:
            return False
        wanted = self.subscribers[i].categories
        if not wanted or not paper.category:
            return True
        return category_key(paper.category) in {category_key(c) for c in wanted}


def _texts(paper: Paper) -> Iterator[tuple[str, str]]:
    """(area, text) pairs; each source keyword on its own, so no phrase spans two."""
    yield Area.TITLE, paper.title
    yield Area.ABSTRACT, paper.abstract
    for keyword in paper.keywords:
        yield Area.KEYWORDS, keyword


# Where a keyword matched, as (area rank, word position, area): the title first, then the
# abstract, then each of the source's keywords in order.
Spot = tuple[int, int, str]


def fits(text: tuple[str, ...], start: int, head: tuple[str, ...], lasts: Collection[str]
         ) -> bool | None:
    """Whether the phrase ``head`` + one of ``lasts`` stands in ``text`` at ``start``:
    None if not, False exactly, True with one extra word inside (``loose``)."""
    end = start + len(head)
    if end < len(text) and text[end] in lasts and text[start:end] == head:
        return False
    window = text[start : end + 2]
    if len(window) == len(head) + 2 and window[-1] in lasts \
            and any(inner[:-1] == head for inner in loose(window)):
        return True
    return None


class PaperIndex:
    """The papers of a pass, indexed by author and by word: each subscriber's authors and
    keywords are looked up here instead of every paper being scanned for every subscriber.

    A keyword's matches are worked out once and kept, since subscribers share keywords.
    Same rules as ``Matcher`` (which indexes subscribers instead, for one paper at a time).
    """

    def __init__(self, papers: Sequence[Paper]) -> None:
        self.papers = papers
        self._by_author: dict[str, list[tuple[int, int]]] = defaultdict(list)
        # word -> the positions of the papers holding it, ascending; where in each paper
        # it stands is read from the papers' words the first time a phrase needs it, and
        # kept for the words of the phrases looked up (``_places_of``)
        self._holders: dict[str, list[int]] = defaultdict(list)
        self._places: dict[str, list[tuple[int, int, int]]] = {}  # (pos, area rank, word)
        self._areas: list[list[tuple[str, tuple[str, ...]]]] = []
        # each paper's words end to end, and where each area starts among them
        self._flat: list[tuple[tuple[str, ...], list[int]]] = []
        self._phrases: dict[str, tuple[dict[int, Spot], dict[int, int]]] = {}
        # words in each abstract's opening sentences, and where each abstract says what
        # the paper is: found for the papers holding a phrase
        self._lead: dict[int, int] = {}
        self._named: dict[int, tuple[int, ...]] = {}
        self._papers_of: dict[str, set[int]] = {}  # word -> the papers holding it
        for pos, paper in enumerate(papers):
            for at, name in enumerate(paper.all_authors):
                key = name_key(name)
                if not any(p == pos for p, _ in self._by_author[key][-1:]):
                    self._by_author[key].append((pos, at))
            areas = [(area, words(text)) for area, text in _texts(paper)]
            self._areas.append(areas)
            flat = tuple(token for _, tokens in areas for token in tokens)
            self._flat.append((flat, list(accumulate((len(t) for _, t in areas[:-1]),
                                                      initial=0))))
            for token in set(flat):
                self._holders[token].append(pos)

    def holding(self, word: str) -> int:
        """How many of the papers hold ``word`` (in the title, abstract or keywords)."""
        return len(self._holders.get(word, ()))

    def authored(self, name: str) -> list[tuple[int, int]]:
        """(paper position, where the name stands in its author list) for ``name``."""
        return self._by_author.get(name_key(name), [])

    def phrase(self, phrase: str) -> dict[int, Spot]:
        """The papers (by position) whose text holds ``phrase``, with its first spot."""
        return self._lookup(phrase)[0]

    def evidence(self, phrase: str) -> dict[int, int]:
        """The papers (by position) whose text holds ``phrase``, with how strongly
        (``evidence`` points)."""
        return self._lookup(phrase)[1]

    def _lookup(self, phrase: str) -> tuple[dict[int, Spot], dict[int, int]]:
        found = self._phrases.get(phrase)
        if found is None:
            places = self._find(words(phrase))
            found = self._phrases[phrase] = (self._spots(places), {
                pos: evidence(held, self._lead_at(pos), self._named_at(pos))
                for pos, held in places.items()})
        return found

    def _lead_at(self, pos: int) -> int:
        """``lead_words`` of the paper at ``pos``, kept."""
        lead = self._lead.get(pos)
        if lead is None:
            lead = self._lead[pos] = lead_words(self.papers[pos].abstract)
        return lead

    def _places_of(self, word: str) -> list[tuple[int, int, int]]:
        """Every place ``word`` stands: (paper position, area rank, word position), in
        order; worked out once per word, for the words of the phrases looked up."""
        found = self._places.get(word)
        if found is None:
            found = self._places[word] = [(pos, rank, at) for pos in self._holders.get(word, ())
                                          for rank, at in self._places_in(pos, word)]
        return found

    def _places_in(self, pos: int, word: str) -> list[tuple[int, int]]:
        """Where ``word`` stands in the paper at ``pos``: (area rank, word position)."""
        flat, starts = self._flat[pos]
        found = []
        at = -1
        for _ in range(flat.count(word)):  # (scans in C, and raises nothing)
            at = flat.index(word, at + 1)
            rank = bisect_right(starts, at) - 1
            found.append((rank, at - starts[rank]))
        return found

    def _named_at(self, pos: int) -> tuple[int, ...]:
        """``named_words`` of the paper at ``pos``, kept."""
        named = self._named.get(pos)
        if named is None:
            named = self._named[pos] = named_words(self.papers[pos].abstract)
        return named

    def _find(self, tokens: tuple[str, ...]) -> dict[int, set[Place]]:
        places: dict[int, set[Place]] = defaultdict(set)
        if tokens:
            self._search(tokens, places)
        return places

    def _search(self, tokens: tuple[str, ...], found: dict[int, set[Place]]) -> None:
        """Add to ``found`` every place ``tokens`` stands, with an extra word or not."""
        lasts = plural_forms(tokens[-1])
        head, n = tokens[:-1], len(tokens)
        if not head:  # one word: each place of any of its forms is a match
            for word in lasts:
                for pos, rank, at in self._places_of(word):
                    found[pos].add((rank, at, False))
            return
        # Only papers that hold every word of the phrase can hold the phrase: found by
        # intersecting sets of papers (in C); then, in each of them, the places of the
        # phrase's rarest word (the last word in any form counts as one), each giving
        # where the phrase would start: ``offset`` words before, or one more with an extra
        # word before it.
        options = [((t,), j) for j, t in enumerate(head)] + [(tuple(lasts), n - 1)]
        papers = sorted((self._holding(words_at) for words_at, _ in options), key=len)
        candidates = sorted(papers[0].intersection(*papers[1:]))
        words_at, offset = min(options, key=lambda o: sum(len(self._holders.get(w, ()))
                                                          for w in o[0]))
        starts = (0, 1) if offset else (0,)
        for word in words_at:
            places = self._places_of(word)
            for pos in candidates:
                i = bisect_left(places, (pos,))
                while i < len(places) and places[i][0] == pos:
                    _, rank, at = places[i]
                    i += 1
                    text = self._areas[pos][rank][1]
                    for start in (at - offset - back for back in starts):
                        extra = fits(text, start, head, lasts) if start >= 0 else None
                        if extra is not None:
                            found[pos].add((rank, start, extra))

    def _holding(self, forms: tuple[str, ...]) -> set[int]:
        """The papers (by position) holding any of these words; kept per word, for the
        words of the phrases looked up."""
        sets = []
        for word in forms:
            papers = self._papers_of.get(word)
            if papers is None:
                papers = self._papers_of[word] = set(self._holders.get(word, ()))
            sets.append(papers)
        return sets[0] if len(sets) == 1 else set().union(*sets)

    def _spots(self, found: dict[int, set[Place]]) -> dict[int, Spot]:
        return {pos: (rank, at, self._areas[pos][rank][0])
                for pos, (rank, at, _) in sorted((pos, min(places))
                                                 for pos, places in found.items())}
