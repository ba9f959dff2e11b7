"""Pinned authors: whether a paper carrying a pinned name is by the person meant, and
which followed names the papers show to be several people.

Pure: takes papers and returns verdicts; no database, clock or network. The store gives
the person's known papers (those their profile credits them with).

A paper *carries* a followed name when one of its authors is spelt like it
(``text.spelled_alike``): the same but for a middle initial one of them leaves out
("Ryan Rossi", "Ryan A. Rossi"), or, as another spelling, only joined or split
differently ("Yi-Fan Zhang", "Yifan Zhang"), which may be another person.

A pinned name is on a paper that carries it when, in this order: (a) the reader said the
paper is not theirs (``not:``): never; (b) the reader said it is (``papers:``); (c) the
paper is on their profile (credited to them from the pinned profile), or the name on it
was claimed with an account (``Paper.claimed``, Hugging Face's) that claimed it on one of
their known papers; (d) another of its
authors co-wrote one of their known papers (on the profile, or said to be theirs), or is
named in ``with:``; (e) its organisation holds the ``org:`` words (folded, whole words,
e.g. "Tencent" in "Tencent AI Lab"), or is one of their known papers' organisations.
Co-authors of co-authors never count.

An unpinned name is *resolved* against the stored papers that carry it (``resolve``):
they fall into groups, two papers being in one group when they share a co-author other
than the name (on papers of at most ``BIG_TEAM`` authors: a report of hundreds links
everyone), an organisation, an account that claimed the name on both, or a profile that
credits them to the name. The groups with
a paper spelt like the name are the people it may be. The biggest is the person meant
when no other is somebody else: a group is somebody else when it has two or more papers
(a co-author circle of its own) or an organisation the biggest group's papers never
name. A lone paper with no organisation, no co-author in common and no way to tell is
taken as the person's (a rare name's survey with new co-authors). When somebody else is
there, or two groups are as big, the name is *ambiguous*: the reader is asked which one
they mean (``Candidate``), and until they say, its papers are only *possibly* theirs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from digest.match import words
from digest.model import Paper, Pin
from digest.text import (
    arxiv_key,
    fold,
    name_key,
    name_keys,
    name_parts,
    plural,
    spelled_alike,
    title_key,
)

ON_PROFILE = "on their profile"
PINNED_BY = "a paper you pinned them by"
MAX_CANDIDATES = 5  # groups offered for an ambiguous name
GROUP_PAPERS = 2  # papers a group of co-authors needs to be somebody of their own
TOP_COAUTHORS = 3  # co-authors shown for each group
RECENT_TITLES = 2  # titles shown for each group, the latest first
PIN_PAPERS = 5  # the most recent papers of a group its pin names
BIG_TEAM = 40  # a paper with more authors links people only by its organisation

PersonKey = tuple[str, str | None, tuple[str, ...]]


def person_key(pin: Pin) -> PersonKey:
    """Which known papers a pin needs: its folded name, its profile's source name, and
    the papers the reader said are theirs."""
    return (*profile_key(pin), tuple(sorted(arxiv_key(a) for a in pin.papers)))


def profile_key(pin: Pin) -> tuple[str, str | None]:
    """What ``Store.known_papers`` takes for a pin: its folded name and profile."""
    return name_key(pin.name), pin.profile


@dataclass(frozen=True)
class Person:
    """What the known papers of a pinned person say: their co-authors (folded name ->
    (the name as listed, how many of the known papers they are on)), organisations
    (folded) and the accounts that claimed the name on them."""

    coauthors: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    orgs: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()

    @classmethod
    def of(cls, name: str, known: Iterable[Paper]) -> Person:
        """From the papers known to be ``name``'s person's."""
        known = list(known)
        counts, shown = _coauthors(known, name)
        return cls({key: (shown[key], n) for key, n in counts.items()},
                   frozenset(fold(p.organization) for p in known if p.organization),
                   frozenset(a for p in known if (a := _account(p, name))))


def why(pin: Pin, person: Person, paper: Paper) -> str | None:
    """How ``paper`` (which carries the pinned name) is by the person ``pin`` means, in
    words for the reason's ``area``; None when nothing says it is."""
    if refused(pin, paper):
        return None
    if paper.arxiv_id and arxiv_key(paper.arxiv_id) in {arxiv_key(a) for a in pin.papers}:
        return PINNED_BY
    if pin.profile is not None and pin.profile in paper.sources and name_key(pin.name) in {
            name_key(c) for c in paper.credited}:
        return ON_PROFILE
    account = _account(paper, pin.name)
    if account is not None and account in person.accounts:
        return f"claimed by {account} on Hugging Face"
    shared = _shared_coauthor(pin, person, paper)
    if shared is not None:
        return shared
    org = paper.organization
    if org and (fold(org) in person.orgs or (pin.org and _holds(words(org), words(pin.org)))):
        return f"at {org}"
    return None


def refused(pin: Pin | None, paper: Paper) -> bool:
    """Whether the reader said ``paper`` is by someone else of the pinned name."""
    return pin is not None and paper.arxiv_id is not None and arxiv_key(
        paper.arxiv_id) in {arxiv_key(a) for a in pin.not_}


def _account(paper: Paper, name: str) -> str | None:
    """The account that claimed ``name`` (a spelling of it, ``spelled_alike``) on
    ``paper``, if one did."""
    return next((account for listed, account in paper.claimed
                 if spelled_alike(name, listed) is not None), None)


def _shared_coauthor(pin: Pin, person: Person, paper: Paper) -> str | None:
    """"with X, a co-author on N of their papers" for the co-author of ``paper`` on the
    most known papers, else "with X, a co-author you named" for one in ``with:``."""
    named = {name_key(n) for n in pin.with_}
    best: tuple[int, str] | None = None
    for key, listed in _links(paper, pin.name).items():
        together = person.coauthors.get(key, ("", 0))[1]
        if (together or key in named) and (best is None or together > best[0]):
            best = (together, listed)
    if best is None:
        return None
    together, listed = best
    if together == 0:
        return f"with {listed}, a co-author you named"
    return f"with {listed}, a co-author on {together} of their papers"


def _coauthors(papers: Iterable[Paper], name: str) -> tuple[Counter[str], dict[str, str]]:
    """How many of ``papers`` each author other than ``name`` is on (by folded name, on
    papers of at most ``BIG_TEAM`` authors), and each one's name as first listed."""
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for paper in papers:
        for other, listed in _links(paper, name).items():
            counts[other] += 1
            shown.setdefault(other, listed)
    return counts, shown


def _links(paper: Paper, name: str) -> dict[str, str]:
    """The authors of ``paper`` who tie it to other papers: all but ``name`` (in any of
    its spellings), folded name -> name as listed; none on a paper of more than
    ``BIG_TEAM`` authors."""
    authors = paper.all_authors
    if len(authors) > BIG_TEAM:
        return {}
    keys = _keys(name)
    found: dict[str, str] = {}
    for author, other in zip(authors, _author_keys(authors), strict=True):
        if other and (other not in keys or spelled_alike(name, author) is None):
            found.setdefault(other, author)
    return found


@lru_cache(maxsize=1 << 16)  # the same papers come back for every name they carry
def _author_keys(authors: tuple[str, ...]) -> tuple[str, ...]:
    """The folded key of each of ``authors``."""
    return tuple(name_key(a) for a in authors)


def _holds(text: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return n > 0 and any(text[i : i + n] == phrase for i in range(len(text) - n + 1))


@dataclass(frozen=True)
class Carried:
    """A paper carrying a followed name: the spelling on it (``listed``), and whether
    that is the name's spelling (``alike``) or only joined or split alike."""

    paper: Paper
    listed: str
    alike: bool


def carried(name: str, papers: Iterable[Paper]) -> list[Carried]:
    """The papers of ``papers`` that carry ``name`` (``text.spelled_alike``)."""
    keys = _keys(name)
    found = []
    for paper in papers:
        authors = paper.all_authors
        for author, key in zip(authors, _author_keys(authors), strict=True):
            alike = spelled_alike(name, author) if key in keys else None
            if alike is not None:
                found.append(Carried(paper, author, alike))
                break
    return found


@lru_cache(maxsize=1024)  # a resolution's papers ask again and again; a pass, once a name
def _keys(name: str) -> frozenset[str]:
    """The folded keys ``name``'s spellings may have (``text.name_keys``), as a set."""
    return frozenset(name_keys(name))


@dataclass(frozen=True)
class Candidate:
    """One of the people a name may stand for: how many papers, their most frequent
    co-authors (most papers first), organisation, most recent titles and arXiv ids."""

    papers: int
    coauthors: tuple[str, ...]
    org: str | None
    matched: int  # of the papers, those with one of these co-authors
    titles: tuple[str, ...] = ()  # the most recent first
    arxiv_ids: tuple[str, ...] = ()  # of the papers, the most recent first
    # Which person this is, as a page's choice names it: their earliest paper's
    # ``ident`` (stable while new papers join them; another person never has it).
    key: str = ""

    def pin(self, name: str) -> Pin:
        """The pin that means this person: ``name`` with these co-authors and papers."""
        return Pin(name, with_=self.coauthors, papers=self.arxiv_ids[:PIN_PAPERS])

    def describe(self) -> str:
        """``3 papers with Zhenguo Li, Tianyang Hu (Huawei)``, or ``18 papers, 9 with
        Cheng Yu, … (LongCat)`` when the co-authors named are on only some of them (a
        group chained through large teams)."""
        org = f" ({self.org})" if self.org else ""
        some = f", {self.matched}" if self.matched < self.papers else ""
        who = f" with {', '.join(self.coauthors)}" if self.coauthors else ""
        return f"{plural(self.papers, 'paper')}{some}{who}{org}"


@dataclass(frozen=True)
class Resolution:
    """Who an unpinned followed name stands for in the stored papers: the ids of the
    papers of the person meant (none when it is ambiguous or nobody spelt so), and the
    people to choose from when it is ambiguous (two or more)."""

    theirs: frozenset[str] = frozenset()  # ``ident`` of each
    candidates: tuple[Candidate, ...] = ()
    mine: tuple[Paper, ...] = ()  # the papers of the one person meant, when there is one

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) >= 2

    def person(self, name: str) -> Candidate | None:
        """The one person ``name`` is, as a page would offer them (None when it is
        several people or nobody)."""
        return _candidate(self.mine, name) if self.mine else None


def resolve(name: str, papers: Sequence[Paper]) -> Resolution:
    """Who ``name`` stands for among ``papers`` (see the module's notes)."""
    found = carried(name, papers)
    groups = [g for g in _groups(found, name) if any(found[i].alike for i in g)]
    groups.sort(key=lambda g: (-len(g), -max(_newest(found[i].paper) for i in g)))
    if not groups:
        return Resolution()
    main, rest = groups[0], groups[1:]
    orgs = _orgs(found, main)
    others = [g for g in rest if len(g) >= GROUP_PAPERS or len(g) == len(main) > 1
              or (orgs and _orgs(found, g) - orgs)]
    if len(main) == 1 and len(rest) >= GROUP_PAPERS:
        others = rest  # three or more papers and no co-author twice: nobody's circle
    if not orgs and not others and len(set().union(*(_orgs(found, g) for g in rest))) >= 2:
        # the biggest group names no organisation, lone papers name two or more: they
        # are several people, and which of them the biggest group is, nothing says
        others = [g for g in rest if _orgs(found, g)]
    if others:
        people = [main, *others][:MAX_CANDIDATES]
        return Resolution(candidates=tuple(
            _candidate([found[i].paper for i in g], name) for g in people))
    theirs = tuple(found[i].paper for g in groups for i in g)
    return Resolution(frozenset(ident(p) for p in theirs), mine=theirs)


def _orgs(found: Sequence[Carried], group: Sequence[int]) -> set[str]:
    """The organisations (folded) a group's papers name, but for papers of more than
    ``BIG_TEAM`` authors (whose organisation may be nobody's in particular)."""
    return {fold(o) for i in group if (o := found[i].paper.organization)
            and len(found[i].paper.all_authors) <= BIG_TEAM}


def ident(paper: Paper) -> str:
    """What tells a paper apart in a resolution: its id, or (not stored) its title."""
    return f"#{paper.id}" if paper.id is not None else "title:" + title_key(paper.title)


def note(name: str) -> str:
    """The note shown for an ambiguous, unpinned followed name."""
    return f"several people publish as {name}; pin the one you mean"


_OWNER = "\0profile"  # what the papers a profile credits to the name share
_ORG = "\0org:"  # what papers of one organisation share
_SPELT = "\0spelt:"  # what papers listing one name with the same middle initial share
_CLAIMED = "\0claimed:"  # what papers whose name one account claimed share


def _initialled(listed: str) -> bool:
    """Whether a listed name has a middle initial ("Philip S. Yu")."""
    parts = name_parts(listed)
    return len(parts) >= 3 and any(len(p) == 1 for p in parts[1:-1])


def _newest(paper: Paper) -> int:
    day = paper.featured or paper.published
    return day.toordinal() if day else 0


def _groups(found: Sequence[Carried], name: str) -> list[list[int]]:
    """Positions of ``found`` in connected groups: joined when they share a co-author
    (``_links``), an organisation, an account that claimed the name on them, or a
    profile that credits them to the name (a profile's owner, or an account's, is one
    person, whoever their co-authors were). A paper spelt only
    alike joins nothing but through these."""
    parent = list(range(len(found)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, one in enumerate(found):
        ties = [*_links(one.paper, name)]
        if name_key(one.listed) in {name_key(c) for c in one.paper.credited}:
            ties.append(_OWNER)
        if one.paper.organization:
            ties.append(_ORG + fold(one.paper.organization))
        if (account := _account(one.paper, one.listed)) is not None:
            ties.append(_CLAIMED + account)
        if _initialled(one.listed):  # "Philip S. Yu" tells people apart as no org does
            ties.append(_SPELT + name_key(one.listed))
        for tie in ties:
            j = first.setdefault(tie, i)
            parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(found)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _candidate(papers: Sequence[Paper], name: str) -> Candidate:
    counts, shown = _coauthors(papers, name)
    orgs = Counter(p.organization for p in papers if p.organization)
    top = sorted(counts, key=lambda k: (-counts[k], shown[k]))[:TOP_COAUTHORS]
    named = set(top)
    recent = sorted(papers, key=lambda p: (_newest(p), p.id or 0), reverse=True)
    return Candidate(len(papers), tuple(shown[k] for k in top),
                     orgs.most_common(1)[0][0] if orgs else None,
                     sum(1 for p in papers if named & _links(p, name).keys()),
                     tuple(p.title for p in recent[:RECENT_TITLES]),
                     tuple(arxiv_key(p.arxiv_id) for p in recent if p.arxiv_id),
                     ident(recent[-1]))
