"""Ingest: turn source files and responses into ``Paper`` records.

Parsers are plain functions ``(text, ParseContext) -> list[Paper]`` found through
``PARSERS``, keyed by format name; ``detect_format`` beside it tells the formats apart.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from digest.errors import InputError
from digest.ingest.arxiv_atom import parse_arxiv_atom
from digest.ingest.arxiv_oai import parse_arxiv_oai
from digest.ingest.biorxiv import parse_biorxiv
from digest.ingest.bounds import bound_papers
from digest.ingest.common import ParseContext
from digest.ingest.daily_page import AUTHOR_COUNT, parse_daily_page
from digest.ingest.hf_json import parse_hf_json
from digest.ingest.profile import ENTRY_LINE, parse_profile
from digest.model import Paper

Parser = Callable[[str, ParseContext], list[Paper]]
log = logging.getLogger("digest.ingest")

PARSERS: dict[str, Parser] = {
    "profile": parse_profile,
    "daily-page": parse_daily_page,
    "hf-json": parse_hf_json,
    "arxiv-atom": parse_arxiv_atom,
    "oai-pmh": parse_arxiv_oai,
    "biorxiv-json": parse_biorxiv,
}

_HTML = re.compile(r"<!doctype\s+html|<html[\s>]|<body[\s>]", re.IGNORECASE)
_FEED = re.compile(r"<(feed|rss|rdf:RDF)[\s>]")
_OAI = re.compile(r"<OAI-PMH[\s>]")
_DETAILS = re.compile(r'^\{\s*"messages"\s*:')


def decode(data: bytes, source: str) -> str:
    """The text of a source file; raises InputError for empty, binary or non-UTF-8 data."""
    if not data.strip():
        raise InputError(source, "file is empty")
    if b"\x00" in data[:65536]:
        raise InputError(source, "binary file, not text; expected a page's text, JSON or Atom")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(source, f"not UTF-8 text (bad byte at offset {e.start})") from e


def detect_format(text: str, source: str) -> str:
    """Name of the format ``text`` is in; raises InputError when it is none of them."""
    head = text.lstrip()[:4096]
    if _DETAILS.match(head):
        return "biorxiv-json"
    if head.startswith(("[", "{")):
        return "hf-json"
    if head.startswith("<"):
        if _HTML.search(head):
            raise InputError(source, "an HTML page; save the page's visible text instead "
                             "(select all, copy, paste into a .txt file) or use the API JSON")
        if _FEED.search(head):
            return "arxiv-atom"
        if _OAI.search(head):
            return "oai-pmh"
        raise InputError(source, "XML, but not an Atom or RSS feed nor an OAI-PMH answer")
    lines = [line.strip() for line in text.splitlines()]
    if any(ENTRY_LINE.match(line) for line in lines):
        return "profile"
    if "Daily Papers" in lines or any(AUTHOR_COUNT.match(line) for line in lines):
        return "daily-page"
    raise InputError(source, "unrecognised format; expected a profile listing, a Daily Papers "
                     f"page, daily_papers JSON, an arXiv feed, an arXiv OAI-PMH page or bioRxiv "
                     f"details JSON (or pass --format: "
                     f"{', '.join(PARSERS)})")


def parse(data: bytes, ctx: ParseContext, fmt: str | None = None) -> tuple[str, list[Paper]]:
    """Decode, detect (unless ``fmt`` is given) and parse one source, and bound what its
    papers hold (``digest.ingest.bounds``; each fix is logged as a warning).

    Returns the format used and the papers read. Raises InputError.
    """
    text = decode(data, ctx.source)
    fmt = fmt or detect_format(text, ctx.source)
    if fmt not in PARSERS:
        raise InputError(ctx.source, f"unknown format {fmt!r}; use one of {', '.join(PARSERS)}")
    papers, warnings = bound_papers(PARSERS[fmt](text, ctx), ctx.source)
    for warning in warnings:
        log.warning("%s", warning)
    return fmt, papers
