"""The Daily Papers page over HTTP against ``digest serve`` in a subprocess, on SQLite and
on a throwaway PostgreSQL cluster, with real Hugging Face days stored: the day, week and
month views ranked as the mail ranks trending papers, paged; the search (the database's
full-text search) with what a visitor types, hostile or not; a paper's page, with Follow
buttons only for a mail's reader, which follow; the public Atom feed, read back with
feedparser; 404s, headers and caching."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import feedparser
import httpx
import pytest
import rispy
from click.testing import CliRunner
from pybtex.database import parse_string

from digest.cli import cli
from digest.deliver.tokens import Tokens
from digest.rank import trending_order
from digest.render.atom import Entry, atom
from digest.store import Store, revisions
from digest.web import HEADERS
from tests.conftest import DATA
from tests.pgserver import wipe
from tests.serving import free_base, serving

SECRET = "papers-s3cret"
NOW = "2026-04-16T12:00:00+00:00"  # the newest stored day on or before it: 16 Apr 2026
EMAIL = "eve@example.org"
_TITLE = re.compile(r'class="title" href="/papers/([^"]+)"')


@dataclass
class Site:
    base: str
    db_url: str

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(self.base + path, params=params, timeout=30)

    def ids(self, path: str, **params: str) -> list[str]:
        """The arXiv ids of the cards a page shows, in order."""
        response = self.get(path, **params)
        assert response.status_code == 200, (path, response.status_code)
        return _TITLE.findall(response.text)


def _invoke(url: str, *args: str) -> None:
    result = CliRunner().invoke(cli, list(args), env={"DIGEST_DB": url, "DIGEST_SECRET": SECRET},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    """Eight real days stored, a database subscriber, and the pages served."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('papers') / 'digest.db'}"
    else:
        url = request.getfixturevalue("cluster").url
        wipe(url)
    _invoke(url, "ingest", str(DATA / "hf-daily"), "--now", NOW)
    _invoke(url, "subscribers", "add", EMAIL, "--author", "Someone Else")
    port, base = free_base()
    env = {"DIGEST_DB": url, "DIGEST_SECRET": SECRET, "DIGEST_NOW": NOW,
           "DIGEST_BASE_URL": base}
    with serving(env, port):
        yield Site(base, url)
    if request.param == "postgresql":
        wipe(url)


def test_today_is_the_newest_day_with_papers_ranked_by_votes(site: Site) -> None:
    page = site.get("/papers")
    assert page.status_code == 200 and "16 Apr 2026" in page.text
    votes = [int(v) for v in re.findall(r'class="votebox">&#9650;<br>(\d+)<', page.text)]
    assert len(votes) == len(_TITLE.findall(page.text)) > 10
    assert votes == sorted(votes, reverse=True)
    assert page.headers["cache-control"] == "public, max-age=300"
    for name, value in HEADERS.items():
        if name != "Cache-Control":
            assert page.headers[name] == value
    assert '<script' not in page.text


def test_head_answers_as_get_without_a_body(site: Site) -> None:
    head = httpx.head(site.base + "/papers/2026-04-15", timeout=30)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["cache-control"] == "public, max-age=300"


def test_the_banner_links_to_the_subscribe_form_and_the_feed_is_announced(site: Site) -> None:
    page = site.get("/papers/2026-04-15").text
    assert re.search(r'<a class="banner" href="/subscribe">Get trending papers in your email '
                     r'inbox! <span class="button">Subscribe</span></a>', page)
    assert '<link rel="alternate" type="application/atom+xml"' in page
    assert site.get("/subscribe").status_code == 200


def test_a_week_ranks_as_a_weekly_digests_trending_section(site: Site) -> None:
    store = Store(site.db_url)
    light = store.papers_appeared(date(2026, 4, 13), date(2026, 4, 20))
    ranked = store.papers_in_order([light[i].id for i in  # type: ignore[misc]
                                    trending_order(light, date(2026, 4, 13), True)])
    store.engine.dispose()
    shown = site.ids("/papers/week/2026-W16") + site.ids("/papers/week/2026-W16", page="2") \
        + site.ids("/papers/week/2026-W16", page="3")
    assert shown == [p.arxiv_id for p in ranked]
    days = {p.featured for p in ranked}
    assert days == {date(2026, 4, 14), date(2026, 4, 15), date(2026, 4, 16)}
    # by day, not by the last day's gravity: older days' papers are among the first
    assert {p.featured for p in ranked[:5]} != {date(2026, 4, 16)}


def test_a_month_is_paged_with_every_paper_once(site: Site) -> None:
    first = site.get("/papers/month/2026-04")
    assert "page 1 of 4" in first.text and 'href="/papers/month/2026-04?page=2"' in first.text
    pages = [site.ids("/papers/month/2026-04", page=str(n)) for n in range(1, 5)]
    assert all(len(p) == 30 for p in pages[:3]) and 0 < len(pages[3]) <= 30
    ids = [i for p in pages for i in p]
    assert len(ids) == len(set(ids))
    assert site.get("/papers/month/2026-04", page="5").status_code == 404


def test_views_link_each_other_and_their_neighbours(site: Site) -> None:
    day = site.get("/papers/2026-04-14").text
    assert 'href="/papers/week/2026-W16">Week</a>' in day
    assert 'href="/papers/month/2026-04">Month</a>' in day
    assert 'href="/papers/2026-04-10">&larr; 10 Apr 2026</a>' in day  # the weekend skipped
    assert 'href="/papers/2026-04-15">15 Apr 2026 &rarr;</a>' in day
    week = site.get("/papers/week/2026-W16").text  # its newest day with papers: Thursday
    assert 'href="/papers/2026-04-16">Day</a>' in week
    month = site.get("/papers/month/2026-04").text
    assert 'href="/papers/2026-04-16">Day</a>' in month
    assert 'href="/papers/week/2026-W16">Week</a>' in month
    assert 'href="/papers/month/2026-03">&larr; March 2026</a>' in month
    assert 'href="/papers/month/2026-08">August 2026 &rarr;</a>' in month
    empty = site.get("/papers/2026-04-11")
    assert empty.status_code == 200 and "No papers for 11 Apr 2026" in empty.text


@pytest.mark.parametrize("path", [
    "/papers/2026-02-30", "/papers/2026-4-1", "/papers/week/2026-W54", "/papers/week/2026-53",
    "/papers/month/2026-13", "/papers/month/0000-01", "/papers/month/99999-01",
    "/papers/9999.99999", "/papers/not%20an%20id", "/papers/" + "1" * 40,
    "/papers/2026-04-15?page=0", "/papers/2026-04-15?page=x", "/papers/2026-04-15?page=2",
    "/papers?page=-1", "/papers?q=x&page=99999", "/papers?q=ClawGUI&page=2", "/papers/week/",
    "/p/bad-token/2604.11784"])
def test_what_does_not_read_is_a_404(site: Site, path: str) -> None:
    response = httpx.get(site.base + path, timeout=30)
    assert response.status_code in (400, 404), path
    assert "Traceback" not in response.text and response.headers["cache-control"] == "no-store"


def test_search_finds_titles_authors_and_keywords(site: Site) -> None:
    assert site.ids("/papers", q="ClawGUI")[0] == "2604.11784"
    assert "2604.11784" in site.ids("/papers", q="Zhiqiong Lu")  # an author
    assert "2604.11784" in site.ids("/papers", q="environment instability")  # a keyword
    assert "2604.11784" in site.ids("/papers", q="clawg")  # a word's start
    assert site.ids("/papers", q="ClawGUI nosuchwordanywhere") == []
    assert "2604.11290" in site.ids("/papers", q="Ivan Vulić")
    if site.db_url.startswith("sqlite"):  # FTS5 folds accents; PostgreSQL's 'simple' does not
        assert "2604.11290" in site.ids("/papers", q="Ivan Vulic")
    found = site.get("/papers", q="reinforcement learning")
    assert "found" in found.text and 'value="reinforcement learning"' in found.text
    assert len(_TITLE.findall(found.text)) == 30 and "page 1 of" in found.text


def test_a_name_finds_its_own_papers_first(site: Site) -> None:
    """A word's start is enough, so "Hao Li" also finds "Haoran ... Lin Li" and "Hao
    Liao": the papers with the name itself, the words together, come first."""
    store = Store(site.db_url)
    papers = store.papers()
    store.engine.dispose()
    names = Counter(a for p in papers for a in p.all_authors
                    if re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", a))
    checked = 0
    for name, _ in names.most_common(40):
        theirs = {p.arxiv_id for p in papers if name in p.all_authors}
        shown = site.ids("/papers", q=name)
        if len(shown) <= len(theirs):
            continue  # nobody else matches: nothing to order
        assert set(shown[:len(theirs)]) == theirs, (name, shown)
        checked += 1
    assert checked >= 3


def test_pages_say_what_they_show(site: Site) -> None:
    """A day without papers says so once (not "0 papers, by trending" first); a search says
    how it orders what it found; an empty search asks for words."""
    empty = site.get("/papers/2026-04-12").text  # a Sunday: no Daily Papers
    assert "No papers for" in empty and "0 papers" not in empty
    found = site.get("/papers", q="reinforcement learning").text
    assert "papers found, the name or words together first" in found
    blank = site.get("/papers", q="  ").text
    assert "Type words of a title" in blank and "0 papers" not in blank


HOSTILE = ['"', "'", '"unterminated', "AND", "OR OR", "NOT", "NEAR(a b)", "*", "a*", "^x",
           "title:ClawGUI", "{title}: x", "col:", "-x", "x -y", "(((", ")", "\\", "%", "_",
           "\x00", "Claw\x00GUI", "a" * 10_000, "é" * 3000, "中文", "🙂", "'; DROP TABLE papers;--",
           "<script>alert(1)</script>", "a & b | !c", "x:*", "''", "\t\n\r", " "]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_give_a_page(site: Site, query: str) -> None:
    response = site.get("/papers", q=query)
    assert response.status_code == 200, query
    assert "Traceback" not in response.text and "<script>alert" not in response.text


def test_a_paper_page_shows_it_whole_with_no_buttons_for_a_stranger(site: Site) -> None:
    page = site.get("/papers/2604.11784")
    assert page.status_code == 200 and page.headers["cache-control"] == "public, max-age=300"
    text = page.text
    assert "ClawGUI: A Unified Framework" in text and "Zhiqiong Lu" in text
    assert "TL;DR (Hugging Face AI summary):</b> ClawGUI presents an open-source framework" in text
    assert "GUI agents drive applications" in text  # the abstract
    for link in ("https://arxiv.org/abs/2604.11784", "https://arxiv.org/pdf/2604.11784",
                 "https://huggingface.co/papers/2604.11784"):
        assert f'href="{link}"' in text
    assert "<form" not in text.split('class="people"')[1].split("</ul>")[0]
    assert '<a href="/subscribe">Subscribe</a> to follow these authors' in text
    assert 'href="/papers/2026-04-15">&larr; Daily Papers of 15 Apr 2026' in text
    assert site.get("/papers/2604.11784v2").status_code == 200  # a version is the paper


def test_a_mails_reader_can_follow_an_author_from_the_paper_page(site: Site) -> None:
    store = Store(site.db_url)
    record = store.record(email=EMAIL)
    assert record is not None
    token = Tokens(SECRET).make_card(record.ref)
    page = site.get(f"/p/{token}/2604.11784")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    action = f"/f/{token}?t=Zhiqiong+Lu"
    assert f'<form method="post" action="{action}"><button type="submit">Follow' in page.text
    assert httpx.get(site.base + action, timeout=30).status_code == 200  # asks only
    assert "Zhiqiong Lu" not in str(store.record(email=EMAIL).prefs)  # type: ignore[union-attr]
    done = httpx.post(site.base + action, timeout=30)
    assert done.status_code == 200 and "You now follow Zhiqiong Lu" in done.text
    after = store.record(email=EMAIL)
    store.engine.dispose()
    assert after is not None and "Zhiqiong Lu" in str(after.prefs["authors"])
    again = site.get(f"/p/{token}/2604.11784").text
    assert re.search(r"Zhiqiong Lu</span><span class=\"following\">Following", again)
    forged = Tokens("another secret").make_card(record.ref)
    assert site.get(f"/p/{forged}/2604.11784").status_code == 400


def test_the_feed_reads_back_with_feedparser(site: Site) -> None:
    response = site.get("/papers.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.id == f"{site.base}/papers"
    assert {link.rel for link in feed.feed.links} == {"alternate", "self"}
    days = {e.updated[:10] for e in feed.entries}
    assert days == {"2026-04-14", "2026-04-15", "2026-04-16"}  # the newest three days
    first = next(e for e in feed.entries if e.id.endswith("/papers/2604.11784"))
    assert first.link == f"{site.base}/papers/2604.11784"
    assert first.updated == "2026-04-15T00:00:00+00:00"
    assert [a.name for a in first.authors][:3] == ["Fei Tang", "Zhiqiong Lu", "Boxuan Zhang"]
    assert first.summary.startswith("ClawGUI presents")
    assert feed.feed.updated == "2026-04-16T00:00:00+00:00"
    ids = [e.id for e in feed.entries]
    assert len(ids) == len(set(ids)) and ids[0].endswith(site.ids("/papers")[0])


def test_atom_keeps_the_order_and_drops_what_xml_cannot_hold() -> None:
    when = datetime.fromisoformat("2026-04-15T00:00:00+00:00")
    entries = [Entry(f"https://x.example/papers/{n}", f"Title {n} \x01<&>", f"https://x.example/{n}",
                     when, ("Ada \x0bLovelace",), "sum\x00mary") for n in range(3)]
    feed = feedparser.parse(atom("https://x.example/papers", "Feed", "https://x.example/papers",
                                 "https://x.example/papers.atom", when, entries))
    assert not feed.bozo
    assert [e.id for e in feed.entries] == [e.id for e in entries]
    assert feed.entries[0].title == "Title 0 <&>" and feed.entries[0].summary == "summary"
    assert feed.entries[0].authors[0].name == "Ada Lovelace"


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_the_search_index_follows_upgrades_and_ingests(db: str, tmp_path: Path,
                                                      request: pytest.FixtureRequest) -> None:
    """Migration 0007 fills the index from the papers stored before; each ingest after
    keeps it in step."""
    url = f"sqlite:///{tmp_path / 'd.db'}" if db == "sqlite" else \
        request.getfixturevalue("cluster").url
    if db == "postgresql":
        wipe(url)
    _invoke(url, "ingest", str(DATA / "hf-daily" / "2026-04-15.json"), "--now", NOW)
    store = Store(url)
    with store.engine.begin() as conn:
        revisions.downgrade(conn, "0006")
    store.engine.dispose()
    old = Store(url, check=False)
    old.upgrade()
    papers, total = old.search_papers("ClawGUI Fei Tang", 5)
    assert total == 1 and papers[0].arxiv_id == "2604.11784"
    assert old.search_papers("", 5) == ([], 0)
    _invoke(url, "ingest", str(DATA / "hf-daily" / "2026-04-16.json"), "--now", NOW)
    new = old.papers_in_order([p.id for p in old.papers_appeared(  # type: ignore[misc]
        date(2026, 4, 16), date(2026, 4, 17))])
    assert new
    for paper in new[:5]:
        word = max(re.findall(r"[A-Za-z]{4,}", paper.title), key=len)
        found, _ = old.search_papers(f"{word} {paper.authors[0]}", 50)
        assert paper.arxiv_id in [p.arxiv_id for p in found], (word, paper.title)
    old.engine.dispose()
    if db == "postgresql":
        wipe(url)


def test_an_escaped_path_names_no_other_page(site: Site) -> None:
    assert site.get("/papers/" + quote("2604.11784/../../subscribe", safe="")).status_code \
        == 404


def test_a_papers_citations_read_back(site: Site) -> None:
    page = site.get("/papers/2604.11784").text
    assert 'href="/papers/2604.11784.bib">BibTeX</a>' in page
    assert 'href="/papers/2604.11784.ris">RIS (Zotero, EndNote)</a>' in page
    bib = site.get("/papers/2604.11784.bib")
    assert bib.status_code == 200 and bib.headers["content-type"].startswith(
        "application/x-bibtex")
    entry = next(iter(parse_string(bib.text, "bibtex").entries.values()))
    assert entry.fields["eprint"] == "2604.11784"
    assert "ClawGUI" in entry.fields["title"]
    assert [str(p) for p in entry.persons["author"]][:2] == ["Tang, Fei", "Lu, Zhiqiong"]
    ris = site.get("/papers/2604.11784.ris")
    assert ris.status_code == 200
    record = rispy.loads(ris.text)[0]
    assert record["authors"][:2] == ["Tang, Fei", "Lu, Zhiqiong"]
    assert record["title"].startswith("ClawGUI")
    assert site.get("/papers/9999.99999.bib").status_code == 404
    assert site.get("/papers/2604.11784.pdf").status_code == 404
