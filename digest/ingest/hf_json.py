"""Parser for Hugging Face ``/api/daily_papers`` responses: a JSON list of items.

Each item holds a ``paper`` object (arXiv id, full author list, upvotes, GitHub repo and
stars, project page, organisation, AI summary and keywords where present). Fields come and
go across the years, so each is read when present and of the expected type; an item that
is itself a paper object (no ``paper`` key) is read the same way. An author who claimed
the paper carries their account (``authors[].user.user``, a Hugging Face username): kept
when it is a short string of letters, digits, ``-``, ``_`` and ``.``, else ignored.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

from digest import defaults
from digest.ingest.common import ParseContext, whole_number
from digest.model import Paper
from digest.text import name_key, squash

_ACCOUNT = re.compile(rf"[A-Za-z0-9._-]{{1,{defaults.MAX_ACCOUNT_CHARS}}}")


def parse_hf_json(text: str, ctx: ParseContext) -> list[Paper]:
    """Read every item of a daily_papers response; raises InputError naming the item."""
    try:
        data = json.loads(text, parse_int=whole_number)
    except json.JSONDecodeError as e:
        raise ctx.error(f"not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}); "
                        "is the file cut off?") from e
    except RecursionError as e:  # the decoder stops at the interpreter's recursion limit
        raise ctx.error("nested too deep (arrays or objects inside each other); "
                        "daily_papers JSON is four levels deep") from e
    if not isinstance(data, list):
        raise ctx.error(f"expected a JSON list of daily_papers items, found a "
                        f"{type(data).__name__}")
    return [_paper(item, n, ctx) for n, item in enumerate(data, 1)]


def _paper(item: Any, n: int, ctx: ParseContext) -> Paper:
    if not isinstance(item, dict):
        raise ctx.error(f"item {n} is a {type(item).__name__}, not an object")
    paper = item.get("paper", item)
    if not isinstance(paper, dict):
        raise ctx.error(f"item {n}: 'paper' is not an object")
    title = _text(paper, "title") or _text(item, "title")
    if not title:
        raise ctx.error(f"item {n} has no paper title")
    listed = _authors(paper.get("authors"))
    authors = tuple(name for name, _ in listed)
    github = _text(paper, "githubRepo")
    keywords = paper.get("ai_keywords")
    return Paper(
        title=squash(title),
        authors=authors,
        truncated=False,
        author_count=len(authors),
        claimed=_claims(listed),
        arxiv_id=_text(paper, "id"),
        abstract=(_text(paper, "summary") or _text(item, "summary") or "").strip(),
        organization=_organization(paper.get("organization") or item.get("organization")),
        published=_day(paper.get("publishedAt") or item.get("publishedAt")),
        featured=_day(paper.get("submittedOnDailyAt")),
        upvotes=_int(paper.get("upvotes")),
        has_code=bool(github),
        github_repo=github,
        github_stars=_int(paper.get("githubStars")),
        project_page=_text(paper, "projectPage"),
        ai_summary=_text(paper, "ai_summary"),
        keywords=tuple(k.strip() for k in keywords if isinstance(k, str) and k.strip())
        if isinstance(keywords, list) else (),
        thumbnail=_text(item, "thumbnail") or _text(paper, "thumbnail"),
        comments=_int(item.get("numComments")),
        sources=(ctx.source,),
    )


def _authors(listed: Any) -> list[tuple[str, dict[str, Any]]]:
    """Each named author entry as (the name, the entry): anything but a list of {name}
    objects names nobody."""
    return [(squash(a["name"]), a) for a in (listed if isinstance(listed, list) else ())
            if isinstance(a, dict) and isinstance(a.get("name"), str) and a["name"].strip()]


def _claims(listed: list[tuple[str, dict[str, Any]]]) -> tuple[tuple[str, str], ...]:
    """(name, account) for the authors who claimed the paper; a name listed twice is
    claimed or not as its first entry is."""
    seen: set[str] = set()
    found = []
    for name, entry in listed:
        key = name_key(name)
        if key in seen:
            continue
        seen.add(key)
        user = entry.get("user")
        account = user.get("user") if isinstance(user, dict) else None
        if isinstance(account, str) and _ACCOUNT.fullmatch(account):
            found.append((name, account))
    return tuple(found)


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value.strip() or None if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _organization(org: Any) -> str | None:
    if isinstance(org, dict):
        return _text(org, "fullname") or _text(org, "name")
    return org.strip() or None if isinstance(org, str) else None


def _day(stamp: Any) -> date | None:
    """The UTC calendar day of an ISO timestamp such as ``2025-12-31T04:25:11.000Z``."""
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp).date()
    except ValueError:
        return None
