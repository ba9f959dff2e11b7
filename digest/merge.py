"""Merging two records of one paper into one, and telling when two records are one paper.

Pure functions: no database, clock or network. It sits beside the model, below both the
readers of sources and the store that merges what they read. The rules: match by arXiv id,
else by normalised title; a merge keeps the most complete author list, the highest upvotes
and score, every source, credited owner and claimed account, and the earliest dates and
first-seen time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar

from digest.model import Paper
from digest.text import name_key

T = TypeVar("T", int, float, date, datetime)


def same_paper(a: Paper, b: Paper) -> bool:
    """Whether ``a`` and ``b`` describe one paper (callers have matched the title key)."""
    return ((a.arxiv_id is None or b.arxiv_id is None or a.arxiv_id == b.arxiv_id)
            and (a.doi is None or b.doi is None or a.doi == b.doi))


def merge(a: Paper, b: Paper) -> Paper:
    """One record holding what ``a`` and ``b`` know of a paper. The same whichever comes
    first (and merging more records gives the same in any grouping), so reading sources
    in another order, or again, stores the same paper: where both know a value, the more
    complete one wins (the longer text, the fuller author list), and ties go to the
    greater value, never to whichever came first."""
    authors_from = max(a, b, key=lambda p: (_completeness(p), p.authors))
    counts = [p.author_count for p in (a, b) if p.author_count is not None]
    return Paper(
        title=_either(a.title, b.title) or "",
        authors=authors_from.authors,
        truncated=authors_from.truncated,
        author_count=(len(authors_from.authors) if not authors_from.truncated
                      else max(counts, default=None)),
        credited=_union(a.credited, b.credited, key=name_key),
        claimed=_claims(authors_from.authors, a.claimed, b.claimed),
        arxiv_id=_either(a.arxiv_id, b.arxiv_id),
        abstract=_either(a.abstract, b.abstract) or "",
        organization=_either(a.organization, b.organization),
        category=_either(a.category, b.category),
        published=_pick(min, a.published, b.published),
        featured=_pick(min, a.featured, b.featured),
        upvotes=_pick(max, a.upvotes, b.upvotes),
        score=_pick(max, a.score, b.score),
        has_code=a.has_code or b.has_code,
        github_repo=_either(a.github_repo, b.github_repo),
        github_stars=_pick(max, a.github_stars, b.github_stars),
        project_page=_either(a.project_page, b.project_page),
        ai_summary=_either(a.ai_summary, b.ai_summary),
        keywords=max(a.keywords, b.keywords, key=lambda k: (len(k), k)),
        announce_type=_either(a.announce_type, b.announce_type),
        doi=_either(a.doi, b.doi),
        thumbnail=_either(a.thumbnail, b.thumbnail),
        comments=_pick(max, a.comments, b.comments),
        sources=_union(a.sources, b.sources),
        first_seen=_pick(min, a.first_seen, b.first_seen),
        id=_pick(min, a.id, b.id),
    )


def _completeness(p: Paper) -> tuple[bool, int]:
    return (not p.truncated, len(p.authors))


def _pick(choose: Callable[[T, T], T], x: T | None, y: T | None) -> T | None:
    if x is None:
        return y
    if y is None:
        return x
    return choose(x, y)


def _either(x: str | None, y: str | None) -> str | None:
    """The value known, or of two the longer (then the greater): never the first one."""
    if not x or not y:
        return x or y
    return max(x, y, key=lambda v: (len(v), v))


def _claims(authors: tuple[str, ...], *claims: tuple[tuple[str, str], ...]
            ) -> tuple[tuple[str, str], ...]:
    """Every author's claim, one per author (folded name; of two accounts, the greater),
    named and ordered as ``authors`` lists them, then those of authors it does not list."""
    best: dict[str, tuple[str, str]] = {}
    for name, account in (c for each in claims for c in each):
        key = name_key(name)
        best[key] = max(best.get(key, (account, name)), (account, name))
    place: dict[str, tuple[int, str]] = {}
    for i, author in enumerate(authors):
        place.setdefault(name_key(author), (i, author))
    order = sorted(best, key=lambda k: (place.get(k, (len(authors), ""))[0], k))
    return tuple((place.get(k, (0, best[k][1]))[1], best[k][0]) for k in order)


def _union(x: tuple[str, ...], y: tuple[str, ...], key: Callable[[str], str] = str
           ) -> tuple[str, ...]:
    """The values of both, one per ``key`` (the greatest spelling of it), in key order."""
    best: dict[str, str] = {}
    for value in (*x, *y):
        k = key(value)
        best[k] = max(best.get(k, value), value)
    return tuple(best[k] for k in sorted(best))
