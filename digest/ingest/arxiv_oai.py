"""Parser for arXiv's OAI-PMH ``ListRecords`` pages (``metadataPrefix=arXivRaw`` or
``arXiv``), the whole archive a day at a time.

Read with defusedxml, which refuses a DTD, entities and external references, so an XML
bomb is an InputError, not gigabytes of memory. A page gives its records (a deleted one,
``<header status="deleted">``, is counted and skipped), its resumption token (empty on
the last page) and the latest datestamp in it, which the next harvest starts from. An
OAI-PMH error is an InputError naming its code, except ``noRecordsMatch``: an empty day.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import date
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from digest.ingest.common import ParseContext
from digest.model import Paper
from digest.text import latex_to_text, squash

_OAI = "{http://www.openarchives.org/OAI/2.0/}"
_RAW = "{http://arxiv.org/OAI/arXivRaw/}"
_ARXIV = "{http://arxiv.org/OAI/arXiv/}"
_AUTHOR_SPLIT = re.compile(r",\s*(?:and\s+)?|\s+and\s+")
_EMPTY_DAY = "noRecordsMatch"


@dataclass(frozen=True)
class OaiPage:
    """One ListRecords answer: its papers, the token of the next page (None on the last),
    the latest datestamp of its records, and how many were deleted."""

    papers: list[Paper]
    token: str | None
    datestamp: date | None
    deleted: int = 0


def parse_arxiv_oai(text: str, ctx: ParseContext) -> list[Paper]:
    """The papers of one ListRecords page (``digest ingest --format oai-pmh``)."""
    return read_page(text, ctx).papers


def read_page(text: str, ctx: ParseContext) -> OaiPage:
    """Read a ListRecords page; raises InputError when it is not one, or an error."""
    root = _root(text, ctx)
    error = root.find(f"{_OAI}error")
    if error is not None:
        code = error.get("code", "")
        if code == _EMPTY_DAY:
            return OaiPage([], None, None)
        raise ctx.error(f"the OAI-PMH server answered {code or 'an error'}: "
                        f"{squash(error.text or '')}")
    listing = root.find(f"{_OAI}ListRecords")
    if listing is None:
        raise ctx.error("an OAI-PMH answer without ListRecords")
    papers: list[Paper] = []
    stamps: list[date] = []
    deleted = 0
    for n, record in enumerate(listing.iter(f"{_OAI}record"), 1):
        header = record.find(f"{_OAI}header")
        stamp = _day(_text(header, f"{_OAI}datestamp"))
        if stamp is not None:
            stamps.append(stamp)
        if header is not None and header.get("status") == "deleted":
            deleted += 1
            continue
        papers.append(_paper(record, n, ctx))
    token = squash(listing.findtext(f"{_OAI}resumptionToken") or "") or None
    return OaiPage(papers, token, max(stamps, default=None), deleted)


def _root(text: str, ctx: ParseContext) -> Element:
    try:
        root = fromstring(text, forbid_dtd=True)
    except DefusedXmlException as e:
        raise ctx.error("refused: the XML has a document type declaration (DTD), which an "
                        "XML bomb or an external entity needs and an OAI-PMH answer never "
                        "has") from e
    except ParseError as e:
        raise ctx.error(f"not well-formed XML ({e}); is the answer cut off?") from e
    if root.tag != f"{_OAI}OAI-PMH":
        raise ctx.error("not an OAI-PMH answer (its root is not OAI-PMH)")
    return root


def _paper(record: Element, n: int, ctx: ParseContext) -> Paper:
    raw = record.find(f"{_OAI}metadata/{_RAW}arXivRaw")
    if raw is not None:
        return _raw_paper(raw, n, ctx)
    meta = record.find(f"{_OAI}metadata/{_ARXIV}arXiv")
    if meta is not None:
        return _arxiv_paper(meta, n, ctx)
    raise ctx.error(f"record {n} has neither arXivRaw nor arXiv metadata; harvest with "
                    "metadataPrefix=arXivRaw")


def _raw_paper(raw: Element, n: int, ctx: ParseContext) -> Paper:
    """arXivRaw: authors as one line, each version with its date (v1's is the paper's)."""
    authors = _names(_text(raw, f"{_RAW}authors"))
    versions = raw.findall(f"{_RAW}version")
    first = _text(versions[0], f"{_RAW}date") if versions else ""
    return _record(raw, _RAW, n, ctx, authors, _rfc_day(first),
                   "new" if len(versions) <= 1 else "replace")


def _arxiv_paper(meta: Element, n: int, ctx: ParseContext) -> Paper:
    """arXiv: authors as keyname and forenames, the first version's day as created."""
    authors = tuple(
        squash(latex_to_text(f"{_text(a, f'{_ARXIV}forenames')} {_text(a, f'{_ARXIV}keyname')}"))
        for a in meta.iter(f"{_ARXIV}author"))
    updated = meta.find(f"{_ARXIV}updated") is not None
    return _record(meta, _ARXIV, n, ctx, tuple(a for a in authors if a),
                   _day(_text(meta, f"{_ARXIV}created")), "replace" if updated else "new")


def _record(meta: Element, ns: str, n: int, ctx: ParseContext, authors: tuple[str, ...],
            published: date | None, kind: str) -> Paper:
    title = squash(_text(meta, f"{ns}title"))
    arxiv_id = squash(_text(meta, f"{ns}id"))
    if not title or not arxiv_id:
        raise ctx.error(f"record {n} has no {'title' if not title else 'id'}")
    categories = _text(meta, f"{ns}categories").split()
    return Paper(
        title=title, authors=authors, author_count=len(authors), arxiv_id=arxiv_id,
        abstract=_text(meta, f"{ns}abstract").strip(),
        category=categories[0] if categories else None,
        published=published, announce_type=kind, sources=(ctx.source,),
    )


def _names(line: str) -> tuple[str, ...]:
    return tuple(name for part in _AUTHOR_SPLIT.split(squash(line))
                 if (name := squash(latex_to_text(part))))


def _text(parent: Element | None, path: str) -> str:
    if parent is None:
        return ""
    return parent.findtext(path) or ""


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def _rfc_day(text: str) -> date | None:
    """``Tue, 3 Apr 2007 22:04:11 GMT`` as a day (UTC), None when it is not one."""
    try:
        return email.utils.parsedate_to_datetime(text.strip()).date()
    except (TypeError, ValueError, IndexError):
        return None
