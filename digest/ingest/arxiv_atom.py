"""Parser for arXiv's RSS/Atom announcement feeds (``rss.arxiv.org/atom/CATEGORY``).

Read with feedparser. Each entry gives the arXiv id (version stripped), title, abstract
(after the "arXiv:... Announce Type: new Abstract:" preamble), announce type, categories
(primary first) and authors, comma-separated in ``dc:creator`` with LaTeX accents as arXiv
sends them (``Andr\\'e``), which are decoded here.
"""

from __future__ import annotations

import io
import re
import xml.sax
from datetime import date, datetime
from typing import Any

import feedparser

from digest.ingest.common import ParseContext
from digest.model import Paper
from digest.text import latex_to_text, squash

_ARXIV_ID = re.compile(r"(\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})(?:v\d+)?$", re.IGNORECASE)
_PREAMBLE = re.compile(
    r"^\s*arXiv:\S+\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?", re.DOTALL
)
_AUTHOR_SPLIT = re.compile(r",\s*|\s+and\s+")


def parse_arxiv_atom(text: str, ctx: ParseContext) -> list[Paper]:
    """Read every entry of an arXiv Atom/RSS feed; raises InputError when it is not one."""
    feed = feedparser.parse(io.BytesIO(text.encode("utf-8")))
    problem = feed.get("bozo_exception")
    if feed.get("bozo") and isinstance(problem, xml.sax.SAXException):
        raise ctx.error(f"not well-formed XML ({problem}); is the file cut off?")
    if not feed.get("version"):
        raise ctx.error("not an Atom or RSS feed")
    return [_paper(entry, n, ctx) for n, entry in enumerate(feed.entries, 1)]


def _paper(entry: Any, n: int, ctx: ParseContext) -> Paper:
    title = squash(entry.get("title", ""))
    if not title:
        raise ctx.error(f"entry {n} has no title")
    summary = entry.get("summary", "")
    preamble = _PREAMBLE.match(summary)
    announced = _day(entry.get("published") or entry.get("updated"))
    authors = _authors(entry)
    return Paper(
        title=title,
        authors=authors,
        truncated=False,
        author_count=len(authors),
        arxiv_id=_arxiv_id(entry),
        abstract=summary[preamble.end():].strip() if preamble else summary.strip(),
        category=(entry.get("tags") or [{}])[0].get("term"),
        published=announced,
        featured=announced,
        announce_type=entry.get("arxiv_announce_type") or (preamble["type"] if preamble else None),
        sources=(ctx.source,),
    )


def _authors(entry: Any) -> tuple[str, ...]:
    raw = entry.get("author") or ", ".join(a.get("name", "") for a in entry.get("authors", []))
    return tuple(squash(latex_to_text(a)) for a in _AUTHOR_SPLIT.split(raw) if a.strip())


def _arxiv_id(entry: Any) -> str | None:
    for candidate in (entry.get("id", ""), entry.get("link", "")):
        m = _ARXIV_ID.search(candidate)
        if m:
            return m.group(1)
    return None


def _day(stamp: str | None) -> date | None:
    """The announcement day, in the feed's own time zone (arXiv's, US Eastern)."""
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp).date()
    except ValueError:
        return None
