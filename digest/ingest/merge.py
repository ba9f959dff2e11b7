"""Merging two records of one paper into one, and telling when two records are one paper.

Pure functions: no database, clock or network. The rules (issue 2): match by arXiv id,
else by normalised title; a merge keeps the most complete author list, the highest upvotes
and score, every source and credited owner, and the earliest dates and first-seen time.
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
    return a.arxiv_id is None or b.arxiv_id is None or a.arxiv_id == b.arxiv_id


def merge(a: Paper, b: Paper) -> Paper:
    """One record holding what ``a`` (the one known first) and ``b`` know of a paper."""
    authors_from = a if _completeness(a) >= _completeness(b) else b
    counts = [p.author_count for p in (a, b) if p.author_count is not None]
    return Paper(
        title=a.title or b.title,
        authors=authors_from.authors,
        truncated=authors_from.truncated,
        author_count=(len(authors_from.authors) if not authors_from.truncated
                      else max(counts, default=None)),
        credited=_union(a.credited, b.credited, key=name_key),
        arxiv_id=a.arxiv_id or b.arxiv_id,
        abstract=max(a.abstract, b.abstract, key=len),
        organization=a.organization or b.organization,
        category=a.category or b.category,
        published=_pick(min, a.published, b.published),
        featured=_pick(min, a.featured, b.featured),
        upvotes=_pick(max, a.upvotes, b.upvotes),
        score=_pick(max, a.score, b.score),
        has_code=a.has_code or b.has_code,
        github_repo=a.github_repo or b.github_repo,
        github_stars=_pick(max, a.github_stars, b.github_stars),
        project_page=a.project_page or b.project_page,
        ai_summary=a.ai_summary or b.ai_summary,
        keywords=a.keywords or b.keywords,
        announce_type=a.announce_type or b.announce_type,
        sources=_union(a.sources, b.sources),
        first_seen=_pick(min, a.first_seen, b.first_seen),
        id=a.id if a.id is not None else b.id,
    )


def _completeness(p: Paper) -> tuple[bool, int]:
    return (not p.truncated, len(p.authors))


def _pick(choose: Callable[[T, T], T], x: T | None, y: T | None) -> T | None:
    if x is None:
        return y
    if y is None:
        return x
    return choose(x, y)


def _union(
    x: tuple[str, ...], y: tuple[str, ...], key: Callable[[str], str] = str
) -> tuple[str, ...]:
    """``x`` followed by the values of ``y`` whose key is not in it yet."""
    out, seen = list(x), {key(v) for v in x}
    for value in y:
        if key(value) not in seen:
            seen.add(key(value))
            out.append(value)
    return tuple(out)
