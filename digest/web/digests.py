"""Every digest on the web: its web copy (``/d/TOKEN``, the token naming one subscriber
and one of their digests), rendered on request from what the outbox row and the store
keep, with the mail's own cards and then every paper that matched and did not fit; and
the subscriber's private Atom feed (``/feed/TOKEN.atom``) of the papers their digests
held, each with the reason it was there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest import defaults
from digest.model import Delivered, Digest, FeedPaper, Item, Paper, PastDigest, Reason, Section
from digest.render import cards
from digest.render.atom import Entry, atom
from digest.render.reference import render_reference
from digest.store import Record
from digest.text import plural
from digest.vocab import (
    CARD_ACTIONS,
    CITE_SPEC,
    CITE_SPECS,
    DIGEST_PATH,
    FEED_PATH,
    FEED_SUFFIX,
    MORE_ANCHOR,
    READER_PATH,
    Action,
    CiteFormat,
    CiteSpec,
    SectionName,
)
from digest.web.cards import card_action
from digest.web.papers import citations as papers_cited
from digest.web.security import HEADERS
from digest.web.site import Site, path

ATOM_TYPE = "application/atom+xml; charset=utf-8"
# The web copy shows the mail as it is, inline styles and all, and its thumbnails when
# the mail has them: no script either way.
_IMAGES_CSP = HEADERS["Content-Security-Policy"] + "; img-src https:"


# The web copy shares its path with the "less like this" card link (``/d/TOKEN?t=ID``),
# which always names its target in ``?t=``, as a web copy's link never does.
_SHARED = next((spec for spec in CARD_ACTIONS if spec.path == DIGEST_PATH), None)


async def web_copy(site: Site, request: Request) -> Response:
    """The web copy of one digest; the bad-link page (404) for any token that names none
    (forged, another action's, or a digest not sent). A card link on the same path
    goes to its own page."""
    if _SHARED is not None and ("t" in request.query_params or request.method == "POST"):
        return await card_action(site, request, _SHARED)
    found = await site.call(_delivered, site, request.path_params["token"])
    if found is None:
        return site.bad_link(404)
    html = await site.call(render_copy, site, *found)
    response = HTMLResponse(html)
    if site.mail.images:
        response.headers["Content-Security-Policy"] = _IMAGES_CSP
    return response


def _delivered(site: Site, token: str) -> tuple[Delivered, dict[int, Paper]] | None:
    """The digest a web copy's token names, and its papers, from the store."""
    value = site.tokens.read_view(token)
    found = None if value is None else site.store.delivered(*value)
    if found is None:
        return None
    e = found.entry
    ids = {*e.paper_ids, *(pid for pid, _ in e.more)}
    return found, site.store.papers_by_id(ids)


def copy_digest(found: Delivered, papers: dict[int, Paper]) -> Digest:
    """The digest as its mail showed it: the papers of its sections the mail showed (a
    long one was cut to fit), and after them, as not fitting, the rest of its sections
    and what matched past ``max_papers``."""
    e = found.entry
    # (a digest whose papers were recorded without it, by older code: all of them)
    held = found.shown or frozenset(e.paper_ids)

    def items(pairs: tuple[tuple[int, tuple[Reason, ...]], ...], shown: bool) -> list[Item]:
        return [Item(papers[pid], reasons) for pid, reasons in pairs
                if pid in papers and (pid in held) == shown]

    sections = tuple(Section(name, tuple(items(pairs, True))) for name, pairs in e.sections)
    cut = [it for _, pairs in e.sections for it in items(pairs, False)]
    more = cut + [Item(papers[pid], reasons) for pid, reasons in e.more if pid in papers]
    return Digest(e.subscriber, e.period_start, e.period_end, sections, more=tuple(more))


def render_copy(site: Site, found: Delivered, papers: dict[int, Paper]) -> str:
    """The page: the mail's HTML as the reference renderer makes it (with the links of
    the subscriber's mail, but none to this page itself), then the list of the papers
    that did not fit and the digest's citations."""
    digest = copy_digest(found, papers)
    e = found.entry
    links = replace(site.mail.links(site.tokens, e.subscriber, e.period), view="",
                    more=f"#{MORE_ANCHOR}")
    mail = render_reference(digest, links, site.name, e.kind,
                            len(digest.items) if site.mail.images else 0)
    token = site.tokens.make_view(e.subscriber.ref, e.period)
    possibly = {pid for name, pairs in e.sections if name == SectionName.POSSIBLY
                for pid, _ in pairs}
    card = site.tokens.make_card(e.subscriber.ref)
    more = site.env.get_template("web/_more.html").render(
        anchor=MORE_ANCHOR, more=[_listed(it, digest, it.paper.id in possibly, card)
                                  for it in digest.more],
        bib=f"/{DIGEST_PATH}/{token}{CITE_SPEC[CiteFormat.BIBTEX].suffix}",
        ris=f"/{DIGEST_PATH}/{token}{CITE_SPEC[CiteFormat.RIS].suffix}",
        count=len(digest.items))
    html = _to_paper_pages(mail.html, digest, card)
    return _before_footer(html, f"<tr><td>{more}</td></tr>\n")


def _before_footer(html: str, rows: str) -> str:
    """The mail's HTML with ``rows`` added before its notes and footer (after its last
    card), where the end of the page would leave them after "You get this mail because"."""
    for mark in ('<tr><td class="notes"', '<tr><td class="footer"'):
        at = html.find(mark)
        if at >= 0:
            return html[:at] + rows + html[at:]
    at = html.rfind("</body>")
    return html[:at] + rows + html[at:]


def _to_paper_pages(html: str, digest: Digest, card: str) -> str:
    """The page's card titles linking to each paper's own page for this reader
    (``/p/CARD_TOKEN/ARXIV_ID``: abstract, TL;DR, links, a Follow button per author), where
    the mail's go to arXiv."""
    for item in digest.items:
        arxiv_id = item.paper.arxiv_id
        if arxiv_id:
            html = html.replace(
                f'<a class="title" href="https://arxiv.org/abs/{arxiv_id}"',
                f'<a class="title" href="/{READER_PATH}/{card}/{arxiv_id}"')
    return html


def _citations(spec: CiteSpec) -> Callable[[Site, Request], Awaitable[Response]]:
    """The handler of a digest's citations in ``spec``'s format (``/d/TOKEN.bib``): its
    cards' papers, one entry each, as a file to save; 404 as the web copy."""
    async def citations(site: Site, request: Request) -> Response:
        found = await site.call(_delivered, site, request.path_params["token"])
        if found is None:
            return site.bad_link(404)
        digest = copy_digest(*found)
        return await site.call(papers_cited, spec, [it.paper for it in digest.items],
                               f"digest-{digest.end:%Y-%m-%d}", "attachment")

    citations.__name__ = f"citations_{spec.format}"
    return citations


def _listed(item: Item, digest: Digest, possibly: bool, card: str) -> dict[str, object]:
    """A paper that did not fit, as the list shows it: title, link (its own page for this
    reader, as the cards' titles), authors, why (as its card says it; ``possibly``: it was
    a "Possibly by" card)."""
    c = cards.card(item, digest.subscriber, possibly=possibly)
    names = [a.name for a in c.authors]
    arxiv_id = item.paper.arxiv_id
    url = f"/{READER_PATH}/{card}/{arxiv_id}" if arxiv_id else c.url
    return {"title": c.title, "url": url, "reasons": c.reasons,
            "authors": ", ".join(names) + (" and others" if c.more_authors or c.et_al else "")}


async def feed(site: Site, request: Request) -> Response:
    """The subscriber's private Atom feed; the bad-link page (404) for a token that
    names nobody."""
    value = site.tokens.read(Action.FEED, request.path_params["token"])
    record = None if value is None or len(value) != 1 else await site.call(
        site.store.record, ref=value[0])
    if record is None:
        return site.bad_link(404)
    data = await site.call(build_feed, site, record)
    return Response(data, media_type=ATOM_TYPE)


def build_feed(site: Site, record: Record) -> bytes:
    """The feed's document: the last ``defaults.FEED_ENTRIES`` papers the subscriber's
    digests held, newest first, each entry's summary saying why it was there."""
    sub = record.subscriber
    held = site.store.feed_papers(sub.ref, defaults.FEED_ENTRIES)
    papers = site.store.papers_by_id({f.paper_id for f in held})
    host = urlsplit(site.mail.base_url).hostname or "localhost"
    entries = [_entry(f, papers[f.paper_id], record, host) for f in held
               if f.paper_id in papers]
    url = site.mail.feed_url(site.tokens, sub.ref)
    updated = entries[0].updated if entries else site.clock()
    return atom(url, f"{site.name}: papers for {sub.name or sub.email.split('@')[0]}",
                f"{site.mail.base_url}/", url, updated, entries)


def _entry(held: FeedPaper, paper: Paper, record: Record, host: str) -> Entry:
    """One paper of the feed, with the card's reasons and the abstract's opening; its id
    the paper's arXiv URL, else a tag URI of this site's (RFC 4151) naming the paper."""
    item = Item(paper, held.reasons)
    c = cards.card(item, record.subscriber, possibly=held.section == SectionName.POSSIBLY)
    why = ". ".join(c.reasons)
    summary = "\n\n".join(x for x in (why + "." if why else "", c.plain_snippet) if x)
    ident = f"https://arxiv.org/abs/{paper.arxiv_id}" if paper.arxiv_id else \
        f"tag:{host},2026:paper-{paper.id}"
    return Entry(ident, c.title, c.url, held.at, tuple(a.name for a in c.authors), summary)


def past_digests(site: Site, record: Record) -> list[dict[str, object]]:
    """The subscriber's last ``defaults.PAST_DIGESTS`` digests as their preferences page
    lists them: when, how many papers, whether mailed, and the web copy's path."""
    sub = record.subscriber
    zone = ZoneInfo(sub.timezone)
    return [{"when": _when(p, zone), "papers": plural(p.papers, "paper"),
             "mailed": p.mailed, "kind": p.kind,
             "url": path(site.mail.digest_url(site.tokens, sub.ref, p.period))}
            for p in site.store.past_digests(sub.ref, defaults.PAST_DIGESTS)]


def _when(past: PastDigest, zone: ZoneInfo) -> str:
    at: datetime = past.period.astimezone(zone)
    return f"{at:%a} {at.day} {at:%b %Y}, {at:%H:%M}"


def feed_path(site: Site, record: Record) -> str:
    """The path of the subscriber's private feed."""
    return path(site.mail.feed_url(site.tokens, record.ref))


def routes(site: Site) -> list[Route]:
    """The web copy of a digest (its citations first: its path would take theirs), and
    the private feed; GET (and HEAD) only, but for the card link that shares the path."""
    return [*(site.route(f"/{DIGEST_PATH}/{{token}}{spec.suffix}", _citations(spec), ["GET"])
              for spec in CITE_SPECS),
            site.route(f"/{DIGEST_PATH}/{{token}}", web_copy, ["GET", "POST"]),
            site.route(f"/{FEED_PATH}/{{token}}{FEED_SUFFIX}", feed, ["GET"])]
