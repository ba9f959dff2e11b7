"""The Daily Papers page: the stored papers of a day, an ISO week or a month, ranked as a
digest's trending section ranks them (``rank.trending_order``), in the mail's cards, with
the Subscribe banner, a search box (the database's full-text search), a page per paper
and a public Atom feed of the newest days.

Public pages: nothing on them is anyone's, so they may be cached a few minutes. A paper's
page opened from a mail (``/p/CARD_TOKEN/ARXIV_ID``, the mail's card token in the path,
where the access log blanks it) adds a "Follow" button per author, each a POST to the
mail's own follow link; that page is the reader's and is not cached. A date, week, month,
page number or arXiv id that does not read is a 404, a query of any bytes a page."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest import defaults
from digest.cite import write
from digest.model import Item, Paper, Subscriber, author_name
from digest.rank import appeared, trending_order
from digest.render import cards
from digest.render.atom import Entry, atom
from digest.render.templates import CardTemplate, stylesheet
from digest.store import Record
from digest.store.search import terms
from digest.text import arxiv_key, latex_to_text, name_key, one_line
from digest.vocab import (
    AI_SUMMARY_LABEL,
    CARD_ACTION,
    CITE_SPECS,
    HTML_PARTS,
    PAPERS_FEED,
    PAPERS_PATH,
    READER_PATH,
    SUBSCRIBE_BANNER,
    SUBSCRIBE_BUTTON,
    Action,
    CiteFormat,
    CiteSpec,
    Managed,
    Span,
)
from digest.web.site import Site

PUBLIC = "public, max-age=300"  # a page anyone may see: caches may keep it five minutes
_NOBODY = Subscriber(email="")  # the cards of a public page: nobody's follows or words
_ARXIV = re.compile(r"[\w./-]{1,32}")
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_YEARS = range(defaults.EARLIEST_YEAR, defaults.LATEST_YEAR)
# A paper's citation links, by suffix: /papers/ARXIV_ID.bib and .ris (Zotero imports both).
CITATIONS = {spec.suffix.lstrip("."): spec for spec in CITE_SPECS}
_CITE_LABELS = {CiteFormat.BIBTEX: "BibTeX", CiteFormat.RIS: "RIS (Zotero, EndNote)"}


@dataclass(frozen=True)
class View:
    """The days one view of the page holds: from ``start`` up to (not including) ``end``."""

    span: Span
    start: date
    end: date

    @classmethod
    def of(cls, span: Span, day: date) -> View:
        """The view of ``span`` holding ``day``."""
        if span == Span.DAY:
            return cls(span, day, day + timedelta(days=1))
        if span == Span.WEEK:
            monday = day - timedelta(days=day.weekday())
            return cls(span, monday, monday + timedelta(days=7))
        first = day.replace(day=1)
        return cls(span, first, (first + timedelta(days=32)).replace(day=1))

    @property
    def key(self) -> str:
        """``2026-03-13``, ``2026-W11``, ``2026-03``: how its path names it."""
        if self.span == Span.DAY:
            return self.start.isoformat()
        if self.span == Span.WEEK:
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start:%Y-%m}"

    @property
    def path(self) -> str:
        middle = "" if self.span == Span.DAY else f"{self.span}/"
        return f"/{PAPERS_PATH}/{middle}{self.key}"

    @property
    def title(self) -> str:
        """``13 Mar 2026``, ``Week 11 of 2026: 9 – 15 Mar``, ``March 2026``."""
        if self.span == Span.DAY:
            return f"{self.start.day} {self.start:%b %Y}"
        if self.span == Span.WEEK:
            last = self.end - timedelta(days=1)
            year, week, _ = self.start.isocalendar()
            return (f"Week {week} of {year}: {self.start.day} {self.start:%b} – "
                    f"{last.day} {last:%b}")
        return f"{self.start:%B %Y}"


def read_view(span: Span, key: str) -> View | None:
    """The view a path names, or None for one that does not read (a 404)."""
    try:
        if span == Span.DAY and (m := _DAY.fullmatch(key)):
            day = date(int(m[1]), int(m[2]), int(m[3]))
        elif span == Span.WEEK and (m := _WEEK.fullmatch(key)):
            day = date.fromisocalendar(int(m[1]), int(m[2]), 1)
        elif span == Span.MONTH and (m := _MONTH.fullmatch(key)):
            day = date(int(m[1]), int(m[2]), 1)
        else:
            return None
    except ValueError:  # 2026-02-30, week 54, month 13
        return None
    return View.of(span, day) if day.year in _YEARS else None


def page_number(request: Request) -> int | None:
    """``?page=`` (1 when absent), or None when it is not a page number."""
    given = request.query_params.get("page", "1")
    if not given.isascii() or not given.isdigit() or len(given) > 4:
        return None
    number = int(given)
    return number if 1 <= number <= defaults.MAX_PAGES else None


@cache
def _card_template(env: jinja2.Environment) -> CardTemplate:
    """The mail's card template, with its classes (the page carries the stylesheet)."""
    return CardTemplate(env.get_template("_card.html"), HTML_PARTS)


def paper_path(paper: Paper) -> str | None:
    """The path of a paper's own page (one with an arXiv id has one)."""
    if not paper.arxiv_id or not _ARXIV.fullmatch(paper.arxiv_id):
        return None
    return f"/{PAPERS_PATH}/{quote(paper.arxiv_id, safe='/')}"


def card_html(site: Site, paper: Paper) -> Markup:
    """A paper's card as the mail shows it to nobody in particular, its title opening the
    paper's page here."""
    shown = cards.card(Item(paper, ()), _NOBODY)
    own = paper_path(paper)
    if own is not None:
        shown = shown._replace(url=own)
    return Markup(_card_template(site.env).whole(shown))


def stylesheets(site: Site) -> Markup:
    """The mail's stylesheets (the cards' look, dark mode included), for a <style>."""
    return Markup(stylesheet(site.env) + stylesheet(site.env, "_head.css"))


def public(response: Response) -> Response:
    """``response`` marked cacheable: it holds nothing of anyone's (the security headers
    say ``no-store`` to every other answer)."""
    response.headers["Cache-Control"] = PUBLIC
    return response


def not_found(site: Site) -> Response:
    """The answer to a date, page or id that does not read or does not exist."""
    return site.message("Not found", "There is no such page.", 404)


def list_page(site: Site, request: Request, heading: str, papers: Sequence[Paper],
              total: int, page: int, **context: Any) -> Response:
    """A page of cards: the banner, the search box, ``papers`` (page ``page`` of
    ``total``), and what ``context`` adds (the view and its neighbours, the query)."""
    pages = max(1, -(-total // defaults.PAPERS_PER_PAGE))
    values: dict[str, Any] = {"view": None, "views": [], "previous": None, "next": None,
                              "query": "", "query_words": 0, **context}
    return public(site.page(
        "papers", heading=heading, cards=[card_html(site, p) for p in papers], total=total,
        page=page, pages=pages, styles=stylesheets(site), banner=SUBSCRIBE_BANNER,
        button=SUBSCRIBE_BUTTON, subscribe="/subscribe", feed=f"/{PAPERS_FEED}",
        paging=_paging(request, page, pages), **values))


def _paging(request: Request, page: int, pages: int) -> dict[str, str]:
    """The links to the page before and after this one, of the same view or search."""
    def link(number: int) -> str:
        query = {k: v for k, v in request.query_params.items() if k != "page"}
        if number > 1:
            query["page"] = str(number)
        return request.url.path + (f"?{urlencode(query)}" if query else "")
    found = {}
    if page > 1:
        found["previous"] = link(page - 1)
    if page < pages:
        found["next"] = link(page + 1)
    return found


async def view_page(site: Site, request: Request, view: View) -> Response:
    """One day, week or month of papers, ranked, a page at a time."""
    page = page_number(request)
    if page is None:
        return not_found(site)
    light = await site.call(site.store.papers_appeared, view.start, view.end)
    order = trending_order(light, view.start, view.span != Span.DAY)
    size = defaults.PAPERS_PER_PAGE
    if light and (page - 1) * size >= len(light):
        return not_found(site)
    shown = [light[i].id for i in order[(page - 1) * size:page * size]]
    papers = await site.call(site.store.papers_in_order, [i for i in shown if i is not None])
    before = await site.call(site.store.days_before, view.start)
    after = await site.call(site.store.days_from, view.end)
    # the other views of its newest day with papers (a week's Monday may have none)
    anchor = max((appeared(p) for p in light), default=view.start)
    return list_page(site, request, view.title, papers, len(light), page, view=view,
                     views=[View.of(span, anchor) for span in Span],
                     previous=View.of(view.span, before[0]) if before else None,
                     next=View.of(view.span, after[0]) if after else None)


def today(site: Site) -> date:
    """The site's day (UTC), by its clock: tests and demos serve as of another day."""
    return site.clock().astimezone(UTC).date()


async def papers_today(site: Site, request: Request) -> Response:
    """``/papers``: the newest day that has papers (by the site's clock), or with ``?q=``
    the search."""
    if "q" in request.query_params:
        return await search_page(site, request, request.query_params["q"])
    newest = await site.call(site.store.days_before, today(site) + timedelta(days=1))
    return await view_page(site, request, View.of(Span.DAY, newest[0] if newest
                                                  else today(site)))


async def search_page(site: Site, request: Request, query: str) -> Response:
    """The papers whose title, authors or keywords hold every word of ``query``."""
    page = page_number(request)
    if page is None:
        return not_found(site)
    size = defaults.PAPERS_PER_PAGE
    papers, total = await site.call(site.store.search_papers, query, size, (page - 1) * size)
    if page > 1 and not papers:
        return not_found(site)
    shown = one_line(query)[:200]
    heading = f"Search: {shown}" if shown else "Search"
    return list_page(site, request, heading, papers, total, page, query=shown,
                     query_words=len(terms(query)))


def _span_handler(span: Span) -> Callable[[Site, Request], Awaitable[Response]]:
    """The handler of the week's or the month's views, named after it."""
    async def handler(site: Site, request: Request) -> Response:
        view = read_view(span, request.path_params["key"])
        return not_found(site) if view is None else await view_page(site, request, view)

    handler.__name__ = f"papers_{span}"
    return handler


async def paper_or_day(site: Site, request: Request) -> Response:
    """``/papers/2026-03-13`` (a day), ``/papers/ARXIV_ID`` (a paper), or its citation
    ``/papers/ARXIV_ID.bib`` (BibTeX) or ``.ris``."""
    key = request.path_params["key"]
    if _DAY.fullmatch(key):
        view = read_view(Span.DAY, key)
        return not_found(site) if view is None else await view_page(site, request, view)
    stem, dot, suffix = key.rpartition(".")
    if dot and suffix in CITATIONS:
        return await citation(site, stem, suffix)
    return await paper_page(site, key, None)


async def citation(site: Site, key: str, suffix: str) -> Response:
    """A paper's citation (``cite.bibtex`` or ``cite.ris``), to save or import."""
    paper = await _paper(site, key)
    if paper is None:
        return not_found(site)
    name = re.sub(r"[^\w.-]", "_", paper.arxiv_id or "paper")
    return public(citations(CITATIONS[suffix], [paper], name, "inline"))


def citations(spec: CiteSpec, papers: list[Paper], name: str, disposition: str) -> Response:
    """``papers`` in ``spec``'s format, as a file ``name`` + its suffix: shown
    (``inline``) or saved (``attachment``)."""
    return Response(write(spec.format, papers), media_type=f"{spec.media_type}; charset=utf-8",
                    headers={"Content-Disposition":
                             f'{disposition}; filename="{name}{spec.suffix}"'})


async def _paper(site: Site, key: str) -> Paper | None:
    """The stored paper of an arXiv id in a path (any version), or None."""
    if not _ARXIV.fullmatch(key):
        return None
    found = await site.call(site.store.papers_by_arxiv, [arxiv_key(key)])
    return found[0] if found else None


async def reader_paper(site: Site, request: Request) -> Response:
    """A paper's page opened from a mail: its authors can be followed."""
    token = request.path_params["token"]
    value = site.tokens.read(Action.CARD, token)
    record = None if value is None or len(value) != 1 else \
        await site.call(site.store.record, ref=value[0])
    if record is None:
        return site.bad_link()
    return await paper_page(site, request.path_params["key"], (record, token))


async def paper_page(site: Site, key: str, reader: tuple[Record, str] | None) -> Response:
    """A paper's page: title, authors, abstract, the source's TL;DR, links; with a
    ``reader`` (their record and card token), a Follow button per author."""
    paper = await _paper(site, key)
    if paper is None:
        return not_found(site)
    shown = cards.card(Item(paper, ()), _NOBODY)
    response = site.page(
        "paper", paper=paper, card=shown, title=one_line(latex_to_text(paper.title)),
        abstract=one_line(latex_to_text(paper.abstract)), summary_label=AI_SUMMARY_LABEL,
        summary=one_line(paper.ai_summary or ""), authors=_authors(paper, reader),
        reader=reader is not None, managed=reader is not None
        and reader[0].managed != Managed.DB, styles=stylesheets(site),
        banner=SUBSCRIBE_BANNER, button=SUBSCRIBE_BUTTON, subscribe="/subscribe",
        feed=f"/{PAPERS_FEED}", day=View.of(Span.DAY, appeared(paper)),
        citations=[(f"{paper_path(paper)}{spec.suffix}", _CITE_LABELS[spec.format])
                   for spec in CITE_SPECS]
        if paper_path(paper) else [])
    return response if reader is not None else public(response)


def _authors(paper: Paper, reader: tuple[Record, str] | None
             ) -> list[tuple[str, str | None, bool]]:
    """Each author: (name, the follow link's path or None, already followed)."""
    if reader is None:
        return [(one_line(n), None, False) for n in paper.all_authors]
    record, token = reader
    followed = {name_key(author_name(a)) for a in record.prefs.get("authors", [])}
    path = CARD_ACTION[Action.FOLLOW].path
    return [(one_line(n), f"/{path}/{token}?t={quote_plus(one_line(n))}",
             name_key(n) in followed) for n in paper.all_authors]


async def papers_feed(site: Site, request: Request) -> Response:
    """The public Atom feed: the papers of the newest ``FEED_DAYS`` days with papers,
    newest day first, each day's ranked as its page ranks them."""
    days = await site.call(site.store.days_before, today(site) + timedelta(days=1),
                           defaults.FEED_DAYS)
    ids: list[int] = []
    for day in days:
        light = await site.call(site.store.papers_appeared, day, day + timedelta(days=1))
        ids += [i for pos in trending_order(light, day, False)
                if (i := light[pos].id) is not None]
    papers = await site.call(site.store.papers_in_order, ids[:defaults.FEED_ENTRIES])
    base = site.mail.base_url
    entries = [_entry(base, p) for p in papers]
    updated = max((e.updated for e in entries), default=datetime(2000, 1, 1, tzinfo=UTC))
    body = atom(f"{base}/{PAPERS_PATH}", f"{site.name}: Daily Papers", f"{base}/{PAPERS_PATH}",
                f"{base}/{PAPERS_FEED}", updated, entries)
    return public(Response(body, media_type="application/atom+xml"))


def _entry(base: str, paper: Paper) -> Entry:
    """A paper as a feed entry: its page here (or its first link), when it appeared."""
    shown = cards.card(Item(paper, ()), _NOBODY)
    own = paper_path(paper)
    link = f"{base}{own}" if own else shown.url
    when = datetime.combine(appeared(paper), time(), UTC)
    summary = paper.ai_summary or cards.snippet_text(latex_to_text(paper.abstract))
    return Entry(id=link, title=shown.title, link=link, updated=when,
                 authors=tuple(one_line(a) for a in paper.authors), summary=one_line(summary))


def routes(site: Site) -> list[Route]:
    """The Daily Papers page, its views, its feed, and each paper's page."""
    return [site.route(f"/{PAPERS_PATH}", papers_today, ["GET"]),
            site.route(f"/{PAPERS_FEED}", papers_feed, ["GET"]),
            site.route(f"/{PAPERS_PATH}/{Span.WEEK}/{{key}}", _span_handler(Span.WEEK), ["GET"]),
            site.route(f"/{PAPERS_PATH}/{Span.MONTH}/{{key}}", _span_handler(Span.MONTH),
                       ["GET"]),
            site.route(f"/{READER_PATH}/{{token}}/{{key:path}}", reader_paper, ["GET"]),
            site.route(f"/{PAPERS_PATH}/{{key:path}}", paper_or_day, ["GET"])]
