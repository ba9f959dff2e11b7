"""Parser for the bioRxiv/medRxiv API's ``details`` pages
(``api.biorxiv.org/details/{server}/{from}/{to}/{cursor}``), JSON.

A page is ``{"messages": [{"status", "cursor", "count", "total", ...}], "collection":
[...]}``; each item is one version of a preprint, named by its DOI (the same DOI comes
once per version, and the store keeps one paper per DOI). Authors come as one line,
``"Smith, J.; Doe, A."``. A page whose status is not ``ok`` holds nothing (the API says
``no posts found`` for an empty interval).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from digest.ingest.common import ParseContext, whole_number
from digest.model import Paper
from digest.text import squash

_OK = "ok"


@dataclass(frozen=True)
class DetailsPage:
    """One details answer: its papers, and where it stands in the interval's list."""

    papers: list[Paper]
    cursor: int
    count: int
    total: int


def parse_biorxiv(text: str, ctx: ParseContext) -> list[Paper]:
    """The papers of one details page (``digest ingest --format biorxiv``)."""
    return read_details(text, ctx).papers


def read_details(text: str, ctx: ParseContext) -> DetailsPage:
    """Read a details page; raises InputError when it is not one."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise ctx.error(f"not JSON ({e})") from e
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list) \
            or not data["messages"] or not isinstance(data["messages"][0], dict):
        raise ctx.error("not a bioRxiv details answer (no messages)")
    message = data["messages"][0]
    if message.get("status") != _OK:
        return DetailsPage([], 0, 0, 0)
    items = data.get("collection")
    if not isinstance(items, list):
        raise ctx.error("a bioRxiv details answer without a collection list")
    papers = [_paper(item, n, ctx) for n, item in enumerate(items, 1)]
    return DetailsPage(papers, _number(message.get("cursor")), len(items),
                       _number(message.get("total")))


def _paper(item: Any, n: int, ctx: ParseContext) -> Paper:
    if not isinstance(item, dict):
        raise ctx.error(f"item {n} is not an object")
    title, doi = _string(item, "title"), _string(item, "doi").lower()
    if not title or not doi:
        raise ctx.error(f"item {n} has no {'title' if not title else 'doi'}")
    line = _string(item, "authors")  # not vocab: the API's key
    authors = tuple(a for a in (squash(x) for x in line.split(";")) if a)
    return Paper(
        title=title, authors=authors, author_count=len(authors), doi=doi,
        abstract=_string(item, "abstract"),
        category=_string(item, "category").lower() or None,
        published=_day(_string(item, "date")), sources=(ctx.source,),
    )


def _string(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    return squash(value) if isinstance(value, str) else ""


def _number(value: Any) -> int:
    """A count the API gives as a number or as digits in a string; 0 when neither."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, str) and value.strip().isdigit():
        return max(0, whole_number(value.strip()))
    return 0


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
