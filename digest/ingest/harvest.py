"""Whole-archive sources: arXiv through OAI-PMH and bioRxiv/medRxiv through their API,
harvested incrementally.

Each harvest resumes from where the last one got to, kept in the store's ``meta`` table
(arXiv: the latest datestamp seen; bioRxiv: the last day asked for), and asks again from
that day, inclusive: what comes twice merges into the paper already stored, so a second
harvest adds nothing and a missed one loses nothing. A first harvest reaches back
``days`` days, or from the day given. Pages are stored as they arrive (memory holds one
page), with a pause between requests as arXiv asks; the mark moves only when the whole
harvest succeeded, so a failed one is asked again next time. Every failure is one
report naming the URL; nothing raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from digest import defaults
from digest.errors import FetchError, InputError
from digest.ingest import decode
from digest.ingest.arxiv_oai import read_page
from digest.ingest.biorxiv import read_details
from digest.ingest.bounds import bound_papers
from digest.ingest.common import ParseContext
from digest.ingest.fetch import Fetcher
from digest.ingest.runner import Report, _fail, _save, _unforeseen
from digest.model import Paper
from digest.store import Store
from digest.vocab import WHOLE_ARCHIVE, SourceKind

log = logging.getLogger("digest.ingest")

OAI_FORMAT = "oai-pmh"
DETAILS_FORMAT = "biorxiv-json"
# arXivRaw carries every version with its date, and the authors as arXiv lists them.
METADATA_PREFIX = "arXivRaw"

# One page read: its papers and what comes next (a URL, or None after the last page).
Page = tuple[list[Paper], str | None]


def oai_url(base: str, since: date, set_: str) -> str:
    """The first ListRecords request of a harvest from ``since`` (one set, or all)."""
    query = {"verb": "ListRecords", "metadataPrefix": METADATA_PREFIX,
             "from": since.isoformat()}
    if set_ != WHOLE_ARCHIVE:
        query["set"] = set_
    return f"{base}?{urlencode(query)}"


def oai_resume_url(base: str, token: str) -> str:
    """The next ListRecords request: the resumption token alone, as OAI-PMH wants."""
    return f"{base}?{urlencode({'verb': 'ListRecords', 'resumptionToken': token})}"


def details_url(base: str, server: str, since: date, until: date, cursor: int) -> str:
    """One page of the bioRxiv/medRxiv details of the days ``since``..``until``."""
    return f"{base}/details/{server}/{since.isoformat()}/{until.isoformat()}/{cursor}"


def ingest_arxiv_oai(store: Store, fetcher: Fetcher, set_: str, now: datetime,
                     start: date | None = None, days: int = defaults.HARVEST_DAYS
                     ) -> list[Report]:
    """Harvest arXiv (``set_``, or all of it) from the last datestamp seen, or from
    ``start``, or ``days`` back on a first harvest; one report per page."""
    key = f"harvest:{SourceKind.ARXIV_OAI}:{set_}"
    since = start or _mark(store.meta(key)) or now.date() - timedelta(days=days)
    latest: list[date] = []

    def page(url: str, ctx: ParseContext) -> Page:
        got = read_page(decode(fetcher.get(url), url), ctx)
        if got.datestamp is not None:
            latest.append(got.datestamp)
        if got.deleted:
            log.info("%s: %d deleted records skipped", url, got.deleted)
        base = fetcher.settings.oai_base
        return got.papers, None if got.token is None else oai_resume_url(base, got.token)

    reports = _harvest(store, fetcher, oai_url(fetcher.settings.oai_base, since, set_),
                       OAI_FORMAT, page, now)
    if latest and not any(r.error for r in reports):
        store.set_meta(key, max(latest).isoformat())
    return reports


def ingest_biorxiv(store: Store, fetcher: Fetcher, server: str, now: datetime,
                   start: date | None = None, days: int = defaults.HARVEST_DAYS
                   ) -> list[Report]:
    """Harvest bioRxiv or medRxiv (``server``) from the last day asked for, or from
    ``start``, or ``days`` back on a first harvest, to today; one report per page."""
    key = f"harvest:{SourceKind.BIORXIV}:{server}"
    until = now.date()
    since = min(until, start or _mark(store.meta(key)) or until - timedelta(days=days))
    base = fetcher.settings.biorxiv_base

    def page(url: str, ctx: ParseContext) -> Page:
        got = read_details(decode(fetcher.get(url), url), ctx)
        cursor = got.cursor + got.count
        more = got.count > 0 and cursor < got.total
        return got.papers, details_url(base, server, since, until, cursor) if more else None

    reports = _harvest(store, fetcher, details_url(base, server, since, until, 0),
                       DETAILS_FORMAT, page, now)
    if not any(r.error for r in reports):
        store.set_meta(key, until.isoformat())
    return reports


def _harvest(store: Store, fetcher: Fetcher, first: str, fmt: str,
             page: Callable[[str, ParseContext], Page], now: datetime) -> list[Report]:
    """Read and store page after page from ``first``, pausing between requests; a failed
    page ends the harvest with its report (the pages before it stay stored), and so does
    a server still paging past DIGEST_HTTP_MAX_PAGES."""
    reports: list[Report] = []
    url: str | None = first
    for n in range(fetcher.settings.max_pages):
        if url is None:
            return reports
        if n:
            time.sleep(min(fetcher.settings.pause, defaults.HARVEST_PAUSE_MAX))
        try:
            papers, after = page(url, ParseContext(url, now.date()))
        except InputError as e:
            return [*reports, _fail(store, Report(url, fmt, error=str(e)), now)]
        except Exception as e:  # a hostile response must not stop the other sources
            return [*reports, _fail(store, Report(url, fmt, error=f"{url}: "
                                                  f"{_unforeseen(e, url)}"), now)]
        reports.append(_save(store, url, fmt, _bounded(papers, url), now))
        if reports[-1].error:
            return reports
        url = after
    if url is not None:
        reports.append(_fail(store, Report(url, fmt, error=str(FetchError(
            first, f"still more pages after {fetcher.settings.max_pages} "
            "(DIGEST_HTTP_MAX_PAGES); what was read is stored, and the next harvest asks "
            "again from the same day; raise the setting for a long backfill"))), now))
    return reports


def _bounded(papers: list[Paper], source: str) -> list[Paper]:
    """``papers`` with what they hold bounded (``digest.ingest.bounds``), each fix logged."""
    bounded, warnings = bound_papers(papers, source)
    for warning in warnings:
        log.warning("%s", warning)
    return bounded


def _mark(stored: str | None) -> date | None:
    """The day a harvest resumes from, as the store keeps it (None when never)."""
    try:
        return date.fromisoformat(stored) if stored else None
    except ValueError:
        return None
