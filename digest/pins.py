"""Pinned authors: whether a paper carrying a pinned name is by the person meant, and
which followed names the papers show to be several people.

Pure: takes papers and returns verdicts; no database, clock or network. The store gives
the person's known papers (those their profile credits them with).

A pinned name matches a paper that carries it (folded, as ``match`` folds names) when,
in this order: (a) the paper is on their profile (credited to them from the pinned
profile); (b) another of its authors co-wrote one of their known papers, or is named in
``with:``; (c) its organisation holds the ``org:`` words (folded, whole words, e.g.
"Tencent" in "Tencent AI Lab"). Co-authors of co-authors never count.

A followed name is *ambiguous* when its papers fall into at least two groups of two or
more papers each, two papers being in one group when they share a co-author other than
the name itself (directly or through other papers of the group).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from digest.match import words
from digest.model import Paper, Pin
from digest.text import name_key

ON_PROFILE = "on their profile"
MAX_CANDIDATES = 5  # groups offered for an ambiguous name
GROUP_PAPERS = 2  # papers a group of co-authors needs to be offered as a person
AMBIGUOUS_PAPERS = 2 * GROUP_PAPERS  # the fewest a name of two such people is on
TOP_COAUTHORS = 3  # co-authors shown for each group
RECENT_TITLES = 2  # titles shown for each group, the latest first

PersonKey = tuple[str, str | None]


def person_key(pin: Pin) -> PersonKey:
    """Which known papers a pin needs: its folded name and its profile's source name."""
    return name_key(pin.name), pin.profile


@dataclass(frozen=True)
class Person:
    """The co-authors of a pinned person's known papers: folded name -> (the name as
    listed, how many of the known papers they are on)."""

    coauthors: Mapping[str, tuple[str, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, known: Iterable[Paper]) -> Person:
        """From the papers known to be ``name``'s person's."""
        counts, shown = _coauthors(known, name_key(name))
        return cls({key: (shown[key], n) for key, n in counts.items()})


def why(pin: Pin, person: Person, paper: Paper) -> str | None:
    """How ``paper`` (which carries the pinned name) is by the person ``pin`` means, in
    words for the reason's ``area``; None when nothing says it is."""
    if pin.profile is not None and pin.profile in paper.sources and name_key(pin.name) in {
            name_key(c) for c in paper.credited}:
        return ON_PROFILE
    shared = _shared_coauthor(pin, person, paper)
    if shared is not None:
        return shared
    if pin.org and paper.organization and _holds(words(paper.organization), words(pin.org)):
        return f"at {paper.organization}"
    return None


def _shared_coauthor(pin: Pin, person: Person, paper: Paper) -> str | None:
    """"with X, a co-author on N of their papers" for the co-author of ``paper`` on the
    most known papers, else "with X, a co-author you named" for one in ``with:``."""
    named = {name_key(n) for n in pin.with_}
    best: tuple[int, str] | None = None
    for key, listed in _others(paper, name_key(pin.name)).items():
        together = person.coauthors.get(key, ("", 0))[1]
        if (together or key in named) and (best is None or together > best[0]):
            best = (together, listed)
    if best is None:
        return None
    together, listed = best
    if together == 0:
        return f"with {listed}, a co-author you named"
    return f"with {listed}, a co-author on {together} of their papers"


def _coauthors(papers: Iterable[Paper], key: str) -> tuple[Counter[str], dict[str, str]]:
    """How many of ``papers`` each author other than ``key`` is on (by folded name), and
    each one's name as first listed."""
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for paper in papers:
        for other, listed in _others(paper, key).items():
            counts[other] += 1
            shown.setdefault(other, listed)
    return counts, shown


def _others(paper: Paper, key: str) -> dict[str, str]:
    """The authors of ``paper`` other than ``key``: folded name -> name as listed."""
    found: dict[str, str] = {}
    for author in paper.all_authors:
        other = name_key(author)
        if other and other != key:
            found.setdefault(other, author)
    return found


def _holds(text: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return n > 0 and any(text[i : i + n] == phrase for i in range(len(text) - n + 1))


@dataclass(frozen=True)
class Candidate:
    """One of the people a name may stand for: how many papers, their most frequent
    co-authors (most papers first), organisation and latest titles."""

    papers: int
    coauthors: tuple[str, ...]
    org: str | None
    matched: int  # of the papers, those with one of these co-authors: what the pin gets
    titles: tuple[str, ...] = ()  # of their latest RECENT_TITLES papers, the latest first

    def pin(self, name: str) -> Pin:
        """The pin that means this person: ``name`` with these co-authors."""
        return Pin(name, with_=self.coauthors)

    def describe(self) -> str:
        """``3 papers with Zhenguo Li, Tianyang Hu (Huawei)``, or ``18 papers, 9 with
        Cheng Yu, … (LongCat)`` when the co-authors named are on only some of them (a
        group chained through large teams)."""
        org = f" ({self.org})" if self.org else ""
        noun = "paper" if self.papers == 1 else "papers"
        some = f", {self.matched}" if self.matched < self.papers else ""
        return f"{self.papers} {noun}{some} with {', '.join(self.coauthors)}{org}"


def candidates(name: str, papers: Sequence[Paper]) -> list[Candidate]:
    """The groups of ``name``'s papers (among ``papers``) that share co-authors, of two or
    more papers each, biggest first (at most MAX_CANDIDATES)."""
    key = name_key(name)
    mine = [p for p in papers if key in {name_key(a) for a in p.all_authors}]
    groups = _groups(mine, key)
    big = sorted((g for g in groups if len(g) >= GROUP_PAPERS), key=lambda g: (-len(g), g[0]))
    return [_candidate([mine[i] for i in g], key) for g in big[:MAX_CANDIDATES]]


def ambiguous(found: Sequence[Candidate]) -> bool:
    """Whether these groups are several people (two or more groups)."""
    return len(found) >= 2


def note(name: str) -> str:
    """The note shown for an ambiguous, unpinned followed name."""
    return f"several people publish as {name}; pin the one you mean"


_OWNER = "\0profile"  # what the papers a profile credits to the name share


def _groups(papers: Sequence[Paper], key: str) -> list[list[int]]:
    """Paper positions in connected groups: joined when they share a co-author, or when a
    profile credits them to the name (a profile's owner is one person, whoever their
    co-authors were: two namesakes with profiles both read are taken as one)."""
    parent = list(range(len(papers)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, paper in enumerate(papers):
        owned = [_OWNER] if key in {name_key(c) for c in paper.credited} else []
        for other in [*_others(paper, key), *owned]:
            j = first.setdefault(other, i)
            parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(papers)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _candidate(papers: Sequence[Paper], key: str) -> Candidate:
    counts, shown = _coauthors(papers, key)
    orgs = Counter(p.organization for p in papers if p.organization)
    top = sorted(counts, key=lambda k: (-counts[k], shown[k]))[:TOP_COAUTHORS]
    named = set(top)
    latest = sorted(papers, key=lambda p: (p.featured or p.published or date.min, p.id or 0),
                    reverse=True)
    return Candidate(len(papers), tuple(shown[k] for k in top),
                     orgs.most_common(1)[0][0] if orgs else None,
                     sum(1 for p in papers if named & _others(p, key).keys()),
                     tuple(p.title for p in latest[:RECENT_TITLES]))
