"""Commands that read sources and show what is stored: ingest, papers."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time
from functools import partial
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.progress import Progress
from rich.table import Table

from digest import cite, defaults
from digest.app import App
from digest.cli.base import Day, console, quiet, settings_options
from digest.config_sources import check_oai_set
from digest.ingest import PARSERS
from digest.ingest.fetch import Fetcher
from digest.ingest.harvest import ingest_arxiv_oai, ingest_biorxiv
from digest.ingest.manifest import FileSettings
from digest.ingest.runner import Job, Report, ingest_arxiv, ingest_file, ingest_hf_day, plan
from digest.model import Paper
from digest.plan import momentum
from digest.store import Store
from digest.text import plural
from digest.vocab import WHOLE_ARCHIVE, CiteFormat, PreprintServer

Clock = Callable[[], datetime]


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(list(PARSERS)),
              help="Read every file as this format instead of detecting it.")
@click.option("--captured", type=Day(), metavar="YYYY-MM-DD",
              help="Day the pages were saved; dates without a year resolve against it.")
@click.option("--owner", metavar="NAME", help="Profile owner to credit with every paper read.")
@click.option("--hf-date", "hf_dates", multiple=True, type=Day(),
              metavar="YYYY-MM-DD", help="Fetch the Hugging Face daily papers of this day.")
@click.option("--arxiv", "categories", multiple=True, metavar="CATEGORY",
              help="Fetch arXiv's Atom feed of this category (e.g. cs.LG).")
@click.option("--arxiv-oai", "oai_sets", multiple=True, metavar="SET",
              help="Harvest all of arXiv through OAI-PMH, one set of it (cs, math, "
              f"physics:hep-th, ...) or {WHOLE_ARCHIVE}, from the last datestamp seen.")
@click.option("--biorxiv", "servers", multiple=True,
              type=click.Choice([str(s) for s in PreprintServer]),
              help="Harvest all of bioRxiv or medRxiv from the last day harvested.")
@click.option("--from", "start", type=Day(), metavar="YYYY-MM-DD",
              help="Harvest --arxiv-oai / --biorxiv from this day instead.")
@click.option("--days", type=click.IntRange(1, defaults.HARVEST_MAX_DAYS),
              default=defaults.HARVEST_DAYS, show_default=True,
              help="Days a first --arxiv-oai / --biorxiv harvest reaches back.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document: {\"sources\": "
              "[{source, format, read, new, merged, error}], \"papers\": stored}.")
@settings_options(reads_config=False, now_first=False)
def ingest(
    as_json: bool, paths: tuple[Path, ...], fmt: str | None, captured: date | None,
    owner: str | None, hf_dates: tuple[date, ...], categories: tuple[str, ...],
    oai_sets: tuple[str, ...], servers: tuple[str, ...], start: date | None, days: int,
    app: App,
) -> None:
    """Read papers from files, folders and live feeds into the database.

    Each file's format is detected (profile, daily-page, hf-json, arxiv-atom, oai-pmh,
    biorxiv-json); a folder
    with a sources.yaml manifest is read by it. A paper is stored once, however many
    sources list it. Files that cannot be read are reported; the rest are still stored,
    and the command exits 1. --arxiv-oai and --biorxiv harvest a whole archive from
    where the last harvest got to (or --from, or --days back the first time), storing each
    paper once. Text past its bound (a title over 300 characters, ...) is
    cut and a number out of range (upvotes over 10^9, ...) stored as unknown, each with a
    warning naming the file.

    \b
    Examples:
        digest ingest seeds/
        digest ingest page.txt --format profile --captured 2026-05-28 --owner "Ada Lovelace"
        digest ingest --hf-date 2026-08-21 --arxiv cs.LG
        digest ingest --arxiv-oai cs --days 7 --biorxiv medrxiv
    """
    if not (paths or hf_dates or categories or oai_sets or servers):
        raise click.UsageError("name files or folders to read, or --hf-date / --arxiv / "
                               "--arxiv-oai / --biorxiv")
    for set_ in oai_sets:
        try:
            check_oai_set(set_)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--arxiv-oai") from e
    harvest = Harvest(start, days)
    clock = app.now
    store = app.store
    given = FileSettings(fmt, captured, owner)
    jobs, reports = plan(paths, given)
    steps: list[Callable[[], list[Report]]] = [
        partial(_file_step, store, job, clock) for job in jobs]
    with Fetcher(app.http) as fetcher:
        steps += [partial(_hf_step, store, fetcher, d, clock) for d in hf_dates]
        steps += [partial(_arxiv_step, store, fetcher, c, clock) for c in categories]
        steps += [partial(_oai_step, store, fetcher, s, clock, harvest) for s in oai_sets]
        steps += [partial(_biorxiv_step, store, fetcher, s, clock, harvest) for s in servers]
        for step_reports in _with_progress(steps, "Ingesting"):
            reports.extend(step_reports)
    if as_json:
        click.echo(json.dumps({"sources": [dataclasses.asdict(r) for r in reports],
                               "papers": store.count_papers()}))
    elif not quiet():
        _print_ingest_table(reports, store.count_papers(), app.db_url)
    errors = [r.error for r in reports if r.error]
    for error in errors:
        click.echo(f"Error: {error}", err=True)
    if errors:
        sys.exit(1)


# One step per source, each reading the clock when it runs.
def _file_step(store: Store, job: Job, clock: Clock) -> list[Report]:
    return [ingest_file(store, job, clock())]


def _hf_step(store: Store, fetcher: Fetcher, day: date, clock: Clock) -> list[Report]:
    return ingest_hf_day(store, fetcher, day, clock())


def _arxiv_step(store: Store, fetcher: Fetcher, category: str, clock: Clock) -> list[Report]:
    return [ingest_arxiv(store, fetcher, category, clock())]


@dataclasses.dataclass(frozen=True)
class Harvest:
    """Where a whole-archive harvest of this command starts: --from, else --days back
    the first time (later ones resume where the last got to)."""

    start: date | None
    days: int


def _oai_step(store: Store, fetcher: Fetcher, set_: str, clock: Clock, harvest: Harvest
              ) -> list[Report]:
    return ingest_arxiv_oai(store, fetcher, set_, clock(), harvest.start, harvest.days)


def _biorxiv_step(store: Store, fetcher: Fetcher, server: str, clock: Clock,
                  harvest: Harvest) -> list[Report]:
    return ingest_biorxiv(store, fetcher, server, clock(), harvest.start, harvest.days)


def _with_progress(
    steps: Sequence[Callable[[], list[Report]]], label: str
) -> Iterator[list[Report]]:
    """Run the steps, with a progress bar when stderr is a terminal and there are many."""
    err = console(stderr=True)
    if not err.is_terminal or len(steps) < defaults.PROGRESS_MIN_FILES:
        yield from (step() for step in steps)
        return
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task(label, total=len(steps))
        for step in steps:
            yield step()
            progress.advance(task)


def _print_ingest_table(reports: list[Report], total: int, db_url: str) -> None:
    table = Table(box=box.SIMPLE_HEAD, show_footer=True)
    sums = [sum(getattr(r, col) for r in reports) for col in ("read", "new", "merged")]
    failed = sum(1 for r in reports if r.error)
    table.add_column("File", footer=plural(len(reports), "source"))
    table.add_column("Format")
    for name, value in zip(("Read", "New", "Merged"), sums, strict=True):
        table.add_column(name, justify="right", footer=str(value))
    table.add_column("Errors", justify="right", footer=str(failed))
    for r in reports:
        table.add_row(r.source, r.format or "?", str(r.read), str(r.new), str(r.merged),
                      "1" if r.error else "0")
    out = console()
    out.print(table)
    out.print(f"{plural(total, 'distinct paper')} stored in {db_url}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--format", "fmt", type=click.Choice([f.value for f in CiteFormat]),
              help="Every stored paper as a citation, one entry each: BibTeX (@misc with "
              "the arXiv eprint, as arXiv exports it) or RIS, for Zotero, JabRef, EndNote.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Write to FILE (replaced whole, never left half-written) "
              "instead of standard output.")
@click.option("--since", type=Day(), metavar="YYYY-MM-DD",
              help="Only papers that appeared on or after this day (featured on Hugging "
              "Face, else published; a paper with neither: first seen by digest).")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="Only the N papers stored last (of those --since), still oldest first: "
              "the end of the full listing.")
@click.option("--rising", is_flag=True, help="The papers gaining upvotes fastest at --now "
              f"(over the last {defaults.RISING_WINDOW_HOURS} hours), fastest first.")
@settings_options(reads_config=False, create=False)
def papers(as_json: bool, fmt: str | None, output: Path | None, since: date | None,
           limit: int | None, rising: bool, app: App) -> None:
    """List the papers stored, oldest first (in the order first stored); or, with
    --rising, the momentum ranking; or, with --format, export them as BibTeX or RIS.
    Papers are read and written a thousand at a time, so any number of them takes
    little memory.

    \b
    Examples:
        digest papers --limit 20
        digest papers --since 2026-04-01 --json | jq -r .title
        digest papers --rising --now 2026-04-17T12:00:00Z
        digest papers --format bibtex --output papers.bib
    """
    _check_papers_options(as_json, fmt, output, rising, since is not None or limit is not None)
    store = app.store
    if rising:
        _print_rising(store, app.now(), as_json)
        return
    start = datetime.combine(since, time(), UTC) if since else None
    chunks = store.paper_chunks(since=start, last=limit)
    if fmt:
        _emit(cite.stream(CiteFormat(fmt), (p for chunk in chunks for p in chunk)), output)
    elif as_json:
        _emit(("".join(json.dumps(paper_json(p), ensure_ascii=False) + "\n" for p in chunk)
               for chunk in chunks), output)
    else:
        _print_papers(chunks)


def _print_papers(chunks: Iterable[list[Paper]]) -> None:
    """The papers as a table, printed a chunk at a time (the header with the first): a
    column is as wide as its longest cell so far, the title takes what is left."""
    out = console()
    names = ("ID", "arXiv", "Published", "Upvotes", "Authors")
    widths = [len(name) for name in names]
    count = 0
    for chunk in chunks:
        rows = [(str(p.id), p.arxiv_id or "", _iso(p.published),
                 "" if p.upvotes is None else str(p.upvotes),
                 str(p.author_count or len(p.all_authors)), p.title) for p in chunk]
        widths = [max(w, *(len(row[i]) for row in rows)) for i, w in enumerate(widths)]
        table = Table(box=box.SIMPLE_HEAD, show_header=count == 0, show_edge=False)
        for name, width in zip(names, widths, strict=True):
            table.add_column(name, no_wrap=True, width=width)
        # a space each side of each column and one between: the title gets the rest
        title = max(len("Title"), out.width - sum(widths) - 3 * (len(widths) + 1) + 1)
        table.add_column("Title", overflow="ellipsis", no_wrap=True, width=title)
        for row in rows:
            table.add_row(*row)
        out.print(table)
        count += len(rows)
    if count == 0:
        table = Table(box=box.SIMPLE_HEAD)
        for name in (*names, "Title"):
            table.add_column(name)
        out.print(table)
    click.echo(f"{count} papers")


def _check_papers_options(as_json: bool, fmt: str | None, output: Path | None,
                          rising: bool, some: bool) -> None:
    """One output at a time: a table, JSON lines, a citation format, or the rising list;
    --since and --limit choose papers for the first three."""
    if fmt and (as_json or rising):
        raise click.UsageError("--format exports every stored paper; it goes with neither "
                               "--json nor --rising")
    if output and (rising or not (fmt or as_json)):
        raise click.UsageError("--output writes --format or --json output to a file")
    if rising and some:
        raise click.UsageError("--since and --limit choose stored papers to list or export; "
                               "--rising ranks those of the last "
                               f"{defaults.RISING_WINDOW_HOURS} hours")


def _emit(pieces: Iterable[str], output: Path | None) -> None:
    """The text ``pieces`` make, as they come, to standard output, or into ``output``
    through a temporary file beside it that replaces it whole: a reader never sees half
    a file, nor a failed run's."""
    if output is None:
        for piece in pieces:
            click.echo(piece, nl=False)
        return
    target = output.expanduser()
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as e:
        raise click.ClickException(f"cannot write {output}: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(pieces)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode(target))
        os.replace(tmp, target)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {output}: {e.strerror or e}") from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode(target: Path) -> int:
    """The file's permissions: those it had, or what the umask gives a new file (a
    temporary file is private, 0600, which an export should not stay)."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _print_rising(store: Store, moment: datetime, as_json: bool) -> None:
    """``papers --rising``: paper, gain, since, gain per hour and current upvotes."""
    ranking = momentum(store, moment)
    found = store.papers_by_id(m.paper_id for m in ranking)
    rows = [(found[m.paper_id], m) for m in ranking if m.paper_id in found]
    if as_json:
        for p, m in rows:
            click.echo(json.dumps({
                "id": p.id, "arxiv_id": p.arxiv_id, "title": p.title, "gain": m.gain,
                "since": m.since.isoformat(), "per_hour": round(m.per_hour, 4),
                "upvotes": m.upvotes}, ensure_ascii=False))
        return
    cells = [(str(p.id), p.arxiv_id or "", f"+{m.gain}", f"{m.since:%Y-%m-%d %H:%M}",
              f"{m.per_hour:.2f}", str(m.upvotes), p.title) for p, m in rows]
    table = Table(box=box.SIMPLE_HEAD)
    for i, name in enumerate(("ID", "arXiv", "Gain", "Since", "Per hour", "Upvotes")):
        table.add_column(name, no_wrap=True, justify="right" if i in (2, 4, 5) else "left",
                         min_width=max([len(name)] + [len(c[i]) for c in cells]))
    table.add_column("Title", overflow="ellipsis", no_wrap=True)  # only the title is cut
    for row in cells:
        table.add_row(*row)
    console().print(table)
    noun = "paper" if len(rows) == 1 else "papers"
    click.echo(f"{len(rows)} rising {noun} at {moment:%Y-%m-%d %H:%M} UTC")


def paper_json(p: Paper) -> dict[str, Any]:
    """The JSON object ``digest papers --json`` prints for a paper."""
    return {
        "id": p.id, "arxiv_id": p.arxiv_id, "doi": p.doi, "title": p.title,
        "authors": list(p.all_authors),
        "author_count": p.author_count, "truncated": p.truncated,
        "credited": list(p.credited), "organization": p.organization, "category": p.category,
        "published": _iso(p.published) or None, "featured": _iso(p.featured) or None,
        "upvotes": p.upvotes, "score": p.score, "has_code": p.has_code,
        "github_repo": p.github_repo, "github_stars": p.github_stars,
        "project_page": p.project_page, "announce_type": p.announce_type,
        "keywords": list(p.keywords), "ai_summary": p.ai_summary, "abstract": p.abstract,
        "sources": list(p.sources),
        "first_seen": p.first_seen.isoformat() if p.first_seen else None,
    }


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""
