"""Running an ingest: which files to read with which settings, and reading each into the
store. One bad file is reported, counted and recorded, whatever went wrong with it (an
error no check foresaw included); the others are still read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from digest import defaults
from digest.errors import ConfigError, FetchError, InputError, StoreError
from digest.ingest import PARSERS, parse
from digest.ingest.common import ParseContext
from digest.ingest.fetch import Fetcher, arxiv_feed_url, hf_daily_url
from digest.ingest.manifest import FileSettings, load_manifest
from digest.model import Paper
from digest.store import Store

log = logging.getLogger("digest.ingest")


@dataclass(frozen=True)
class Report:
    """What happened to one file or URL."""

    source: str
    format: str | None = None
    read: int = 0
    new: int = 0
    merged: int = 0
    error: str | None = None


@dataclass(frozen=True)
class Job:
    """One file to read and the settings to read it with."""

    path: Path
    settings: FileSettings


def plan(paths: Sequence[Path], given: FileSettings) -> tuple[list[Job], list[Report]]:
    """The files named by ``paths`` (folders expanded, manifests applied).

    Settings given on the command line win over a manifest's. Paths that do not exist and
    manifests that cannot be read come back as failed reports.
    """
    jobs: list[Job] = []
    failures: list[Report] = []
    for path in paths:
        if path.is_dir():
            try:
                jobs.extend(_folder_jobs(path, given))
            except ConfigError as e:
                failures.append(Report(str(path / defaults.MANIFEST_NAME), error=str(e)))
        elif path.is_file():
            jobs.append(Job(path, given))
        else:
            failures.append(Report(str(path), error=f"{path}: no such file or folder"))
    return jobs, failures


def _folder_jobs(folder: Path, given: FileSettings) -> Iterator[Job]:
    manifest_path = folder / defaults.MANIFEST_NAME
    manifest = load_manifest(manifest_path, tuple(PARSERS)) if manifest_path.is_file() else {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path == manifest_path:
            continue
        if path.is_dir():
            yield from _folder_jobs(path, given)
        elif path.is_file():
            listed = manifest.get(path.name, FileSettings())
            yield Job(path, FileSettings(
                given.format or listed.format,
                given.captured or listed.captured,
                given.owner or listed.owner,
            ))


def ingest_file(store: Store, job: Job, now: datetime) -> Report:
    """Read one file into the store, all or nothing."""
    source = job.path.name
    ctx = ParseContext(source, job.settings.captured or now.date(), job.settings.owner)
    try:
        size = job.path.stat().st_size
        if size > defaults.MAX_INPUT_BYTES:
            raise InputError(str(job.path), f"file is {size} bytes, more than digest reads "
                             f"({defaults.MAX_INPUT_BYTES}); split it")
        data = job.path.read_bytes()
    except OSError as e:
        return _fail(store, Report(source, job.settings.format, error=f"{job.path}: {e.strerror}"),
                     now)
    except InputError as e:
        return _fail(store, Report(source, job.settings.format, error=str(e)), now)
    return _store(store, data, ctx, job.settings.format, now, display=str(job.path))


def ingest_hf_day(
    store: Store, fetcher: Fetcher, day: date, now: datetime,
    limit: int = defaults.HF_PAGE_LIMIT,
) -> list[Report]:
    """Fetch every page of the Hugging Face daily papers of ``day`` and store them.

    Pages are asked for from p=0 until one holds fewer than ``limit`` items; a page with
    more than ``limit``, or pages still full after DIGEST_HTTP_MAX_PAGES, are an error
    (so a day holds at most their product of papers in memory). All pages are
    fetched and parsed before any is stored, so a failure stores nothing of the day.
    """
    pages: list[tuple[str, list[Paper]]] = []
    url = hf_daily_url(fetcher.settings.hf_base, day, 0, limit)
    try:
        for page in range(fetcher.settings.max_pages):
            url = hf_daily_url(fetcher.settings.hf_base, day, page, limit)
            _, papers = parse(fetcher.get(url), ParseContext(url, day), "hf-json")
            if len(papers) > limit:  # what the day may hold is pages times limit, no more
                raise FetchError(url, f"the page holds {len(papers)} papers, more than the "
                                 f"{limit} asked for; nothing of the day was stored")
            pages.append((url, papers))
            if len(papers) < limit:
                break
        else:
            raise FetchError(url, f"page {fetcher.settings.max_pages} is still full, and a "
                             f"day has at most {fetcher.settings.max_pages} pages "
                             "(DIGEST_HTTP_MAX_PAGES); nothing of the day was stored")
    except InputError as e:
        return [_fail(store, Report(e.source, "hf-json", error=str(e)), now)]
    except Exception as e:  # a hostile response must not stop the other sources
        return [_fail(store, Report(url, "hf-json", error=f"{url}: {_unforeseen(e, url)}"),
                      now)]
    return [_save(store, url, "hf-json", papers, now) for url, papers in pages]


def ingest_arxiv(store: Store, fetcher: Fetcher, category: str, now: datetime) -> Report:
    """Fetch arXiv's Atom feed of ``category`` and store its entries."""
    url = arxiv_feed_url(fetcher.settings.arxiv_base, category)
    try:
        data = fetcher.get(url)
    except InputError as e:
        return _fail(store, Report(url, "arxiv-atom", error=str(e)), now)
    return _store(store, data, ParseContext(url, now.date()), "arxiv-atom", now, display=url)


def _store(
    store: Store, data: bytes, ctx: ParseContext, fmt: str | None, now: datetime, display: str
) -> Report:
    try:
        fmt, papers = parse(data, ctx, fmt)
    except InputError as e:
        return _fail(store, Report(ctx.source, fmt, error=f"{display}: {e.reason}"), now)
    except Exception as e:  # a hostile file must not stop the others: it is its own error
        return _fail(store, Report(ctx.source, fmt, error=f"{display}: "
                                   f"{_unforeseen(e, display)}"), now)
    return _save(store, ctx.source, fmt, papers, now, display)


def _save(store: Store, source: str, fmt: str, papers: list[Paper], now: datetime,
          display: str | None = None) -> Report:
    try:
        result = store.save_papers(papers, source=source, fmt=fmt, now=now)
    except StoreError as e:
        return Report(source, fmt, len(papers), error=str(e))
    except Exception as e:  # what the database could not take (the transaction is undone)
        return _fail(store, Report(source, fmt, error=f"{display or source}: "
                                   f"{_unforeseen(e, display or source)}"), now)
    report = Report(source, fmt, result.read, result.new, result.merged)
    log.info("%s (%s): %d read, %d new, %d merged", source, fmt, report.read, report.new,
             report.merged)
    return report


def unforeseen(e: Exception, limit: int = 200) -> str:
    """An error no check foresaw, in one short line: its kind and its message, cut at
    ``limit`` characters (it may quote a whole file)."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text if len(text) <= limit else text[:limit] + '…'}"


def _unforeseen(e: Exception, display: str) -> str:
    log.debug("reading %s", display, exc_info=e)  # for a bug report; the user needs none
    return f"cannot be read ({unforeseen(e)}); the other files are still read"


def _fail(store: Store, report: Report, now: datetime) -> Report:
    log.warning("%s", report.error)
    store.record_failure(report.source, report.format, report.error or "", now)
    return report


def profile_owner(path: Path) -> tuple[str, str | None]:
    """The source name a profile listing is stored under (its file name) and its owner (the
    folder's sources.yaml ``owner:``, else the page's header). Raises InputError when the
    file cannot be read or is not a profile listing, ConfigError for a bad manifest."""
    manifest_path = path.parent / defaults.MANIFEST_NAME
    manifest = load_manifest(manifest_path, tuple(PARSERS)) if manifest_path.is_file() else {}
    listed = manifest.get(path.name, FileSettings())
    try:
        data = path.read_bytes()
        captured = listed.captured or date.fromtimestamp(path.stat().st_mtime)
    except OSError as e:
        raise InputError(str(path), f"cannot read: {e.strerror}") from e
    fmt, papers = parse(data, ParseContext(path.name, captured, listed.owner), listed.format)
    if fmt != "profile":
        raise InputError(str(path), f"not a profile listing (it reads as {fmt})")
    owners = {c for p in papers for c in p.credited}
    return path.name, next(iter(owners), None)
